"""Reading a built image back: its section sizes and its symbols."""

from __future__ import annotations

from dataclasses import dataclass

from qbench.hardware.toolchain import ToolNotFound
from qbench.images.build import Image
from qbench.sizes.elfsize import ElfReadError, ImageSizes, read_sizes
from qbench.sizes.symbols import SymbolSize, attribute


@dataclass(frozen=True)
class Measured:
    image: Image
    sizes: ImageSizes | None
    symbols: tuple[SymbolSize, ...]
    error: str | None


def measure(image: Image) -> Measured:
    if not image.ok or image.path is None:
        return Measured(image, None, (), image.error)
    try:
        sizes = read_sizes(image.path)
        return Measured(image, sizes, tuple(attribute(image.path, sizes, image.spec.library)), None)
    except (ElfReadError, ToolNotFound) as error:
        return Measured(image, None, (), str(error))
