"""The neural-network libraries a workload can be built against, each through an adapter header that meets
qbench's library contract (docs/libraries.md): qnn (the default), the built-in peers under suite/libraries/
(`--library emlearn`), and a user's own library (`--library NAME=PATH`).

A library is described by the `qbench-library.toml` in its folder: `adapter` (the header defining
QbenchAdapter), `include_dirs` (relative to the folder, which is always on the include path too), `package` (a
Python package whose installed folder joins the include path: a registry library's headers), `sources` (.c/.cpp
files compiled per core and flags into an archive), `symbols` (name prefixes that are the library's code),
`weight_order`, `[supports]` and `[defines]` ("{I}" and "{F}" become the Q format's integer and fractional bits;
`[defines.fixed_point]` and `[defines.float32]` hold macros for one kind of format only).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from qbench.common.nearest import nearest_hint
from qbench.common.paths import SUITE, checkout_problem, in_checkout, shown
from qbench.common.schemas import Schema, read_toml, validate
from qbench.models.qformat import FloatFormat, NumberFormat
from qbench.records.results import QNN_LIBRARY

DESCRIPTOR = "qbench-library.toml"
BUILTIN = SUITE / "libraries"
CONTRACT_DOCS = "docs/libraries.md"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_SYMBOL_PREFIX = re.compile(r"^([A-Za-z_]\w*::)+$|^[A-Za-z_]\w*$")
WeightOrder = Literal["neuron", "input-major"]


class LibraryError(ValueError):
    """A --library that cannot be used; the message says why."""


def _symbol_prefix(text: str) -> str:
    if not _SYMBOL_PREFIX.match(text):
        raise PydanticCustomError("symbol_prefix", "a C++ namespace ending in '::' (qnn::) or a C name prefix (eml_)")
    return text


def _macro_text(value: object) -> str:
    """A macro's value as the compiler takes it: a whole number (not true or false) stands for its digits."""
    if type(value) is int:
        return str(value)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "macro_value",
            "a string or a whole number ([defines.fixed_point] and [defines.float32] are the only tables)",
        )
    return value


# Relative to the descriptor's folder (an adapter kept beside a checkout may name ../checkout/include).
RelativePath = Annotated[str, Field(min_length=1)]


class Supports(Schema):
    """What the library can compute: Q formats, float32, training on the device, and weights stored in their own
    narrower Q format (q8.8w2.6)."""

    fixed_point: bool = True
    float32: bool = True
    training: bool = True
    narrow_weights: bool = False


MacroText = Annotated[str, BeforeValidator(_macro_text)]
Macros = dict[str, MacroText]
KINDS = ("fixed_point", "float32")  # the kinds of format a [defines.KIND] table serves alone


class Defines(Schema):
    """[defines]: its own keys are macros for every image; [defines.fixed_point] and [defines.float32] for Q-format
    or float32 images only."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, MacroText]
    fixed_point: Macros = {}
    float32: Macros = {}


class LibraryDescriptor(Schema):
    adapter: RelativePath
    include_dirs: list[RelativePath] = Field(["."], min_length=1)
    package: Annotated[str, Field(pattern=r"^[A-Za-z_]\w*$")] | None = None
    sources: list[RelativePath] = []
    symbols: list[Annotated[str, AfterValidator(_symbol_prefix)]] = Field(min_length=1)
    weight_order: WeightOrder = "neuron"
    supports: Supports = Supports()
    defines: Defines = Defines()


@dataclass(frozen=True)
class Library:
    name: str
    root: Path  # the folder holding its descriptor
    include_dirs: tuple[Path, ...]
    adapter: str
    symbols: tuple[str, ...]
    sources: tuple[Path, ...] = ()
    weight_order: WeightOrder = "neuron"
    supports: Supports = Supports()
    defines: tuple[tuple[str, str, str], ...] = ()  # (kind: "every" or one of KINDS, name, value)
    package: str | None = None
    fingerprint: str = ""  # its files' digest: part of its images' prepare key (and build key, with sources)

    def __reduce__(self) -> tuple:
        """A library travels to a worker by name and folder: the worker reads its descriptor from its own checkout
        (a folder outside the checkout must be at the same place on the worker)."""
        return _library_from, (self.name, shown(self.root))

    @property
    def builtin(self) -> bool:
        return self.root.parent == BUILTIN

    def compile_defines(self, fmt: NumberFormat) -> dict[str, str]:
        """What selects this library in a build. A define naming {I} or {F} selects something by Q format and is
        left out of float builds; [defines.fixed_point] and [defines.float32] serve their kind of format only."""
        if isinstance(fmt, FloatFormat):
            return self._chosen_defines("fixed_point", lambda text: None if "{" in text else text)
        bits = {"I": str(fmt.integer_bits), "F": str(fmt.fractional_bits)}
        return self._chosen_defines("float32", lambda text: text.format(**bits))

    def _chosen_defines(self, other_kind: str, fill: Callable[[str], str | None]) -> dict[str, str]:
        """The adapter and the defines not of other_kind, each name and value through fill (None: left out)."""
        pairs = [(fill(name), fill(value)) for kind, name, value in self.defines if kind != other_kind]
        chosen = {name: value for name, value in pairs if name is not None and value is not None}
        return {"QBENCH_ADAPTER": f'"{self.adapter}"', **chosen}

    def computes_in(self, fmt: NumberFormat) -> bool:
        if isinstance(fmt, FloatFormat):
            return self.supports.float32
        return self.supports.fixed_point and (fmt.weights is None or self.supports.narrow_weights)


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def package_folder(name: str, package: str) -> Path:
    """Where an installed Python package's files are (its headers among them), found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LibraryError(
            f"{name}: the Python package {package!r} is not installed; scripts/setup installs it "
            f"(or: .venv/bin/pip install -e '.[{package}]')"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def load_library(name: str, root: Path) -> Library:
    """The library described by root/qbench-library.toml; LibraryError names what is wrong."""
    descriptor = root / DESCRIPTOR
    if not descriptor.is_file():
        raise LibraryError(
            f"{name}: no {DESCRIPTOR} in {root}: write one naming the library's adapter header "
            f"({CONTRACT_DOCS}#descriptor)"
        )
    document = read_toml(descriptor, LibraryError)
    settings = validate(LibraryDescriptor, document, LibraryError, lambda _: shown(descriptor))
    include_dirs = _include_dirs(root, settings.include_dirs)
    if settings.package is not None:
        include_dirs.append(package_folder(name, settings.package))
    missing = [directory for directory in include_dirs if not directory.is_dir()]
    if missing:
        raise LibraryError(f"{name}: include_dirs {shown(missing[0])} is not a directory ({shown(descriptor)})")
    if not any((directory / settings.adapter).is_file() for directory in include_dirs):
        raise LibraryError(
            f"{name}: no adapter {settings.adapter} under {', '.join(map(shown, include_dirs))} "
            f"({CONTRACT_DOCS}#descriptor)"
        )
    sources = tuple(root / source for source in settings.sources)
    absent = [source for source in sources if not source.is_file()]
    if absent:
        raise LibraryError(f"{name}: source {shown(absent[0])} named in {shown(descriptor)} does not exist")
    return Library(
        name,
        root,
        tuple(include_dirs),
        settings.adapter,
        tuple(settings.symbols),
        sources,
        settings.weight_order,
        settings.supports,
        _defines(settings.defines),
        settings.package,
        _digest([*include_dirs, *sources]),
    )


def _include_dirs(root: Path, listed: list[str]) -> list[Path]:
    """The descriptor's include_dirs (`..` allowed), then its own folder unless they name it already."""
    directories = [root / directory for directory in listed]
    resolved = {directory.resolve() for directory in directories}
    return directories if root.resolve() in resolved else [*directories, root]


def _defines(defines: Defines) -> tuple[tuple[str, str, str], ...]:
    tables = {"every": defines.model_extra or {}, **{kind: getattr(defines, kind) for kind in KINDS}}
    return tuple((kind, name, value) for kind, table in tables.items() for name, value in sorted(table.items()))


@cache
def _library_from(name: str, root: str) -> Library:
    """A library as a worker reads it (Library.__reduce__), once per worker process."""
    return load_library(name, in_checkout(root))


def builtin_names() -> list[str]:
    return sorted(path.parent.name for path in BUILTIN.glob(f"*/{DESCRIPTOR}"))


# Read when qbench starts; a package installed without its checkout has no descriptor to read, and the
# command line says so (paths.checkout_problem) before anything uses the library.
QNN: Library = load_library(QNN_LIBRARY, BUILTIN / QNN_LIBRARY) if checkout_problem() is None else None  # type: ignore[assignment]


def parse_library(text: str) -> Library:
    """--library NAME (a built-in library) or NAME=PATH (a folder with a qbench-library.toml)."""
    name, separator, location = text.partition("=")
    if separator and (not name or not location):
        raise LibraryError(f"{text!r}: give --library NAME=PATH, e.g. --library tinymind=../tinymind")
    if not _NAME.match(name):
        raise LibraryError(f"{name!r} is not a library name (letters, digits, '_', '.', '-')")
    if name == QNN.name:
        raise LibraryError("'qnn' names the built-in library; give the other library another name")
    if not separator:
        if name not in builtin_names():
            others = [known for known in builtin_names() if known != QNN.name]
            raise LibraryError(
                f"{name!r} is not a built-in library (built in: {', '.join(others)}); give --library "
                f"NAME=PATH for your own{nearest_hint(name, others)}"
            )
        return load_library(name, BUILTIN / name)
    root = Path(location).expanduser().resolve()
    if not root.is_dir():
        raise LibraryError(f"{name}: {location} is not a directory")
    return load_library(name, root)
