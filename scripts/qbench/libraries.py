"""The neural-network libraries a workload can be built against: qnn, and any
other library with qnn's API, named on the command line (--library NAME=PATH)
so its rows stand beside qnn's in every table.

PATH is the library's include directory. A `qbench-library.toml` there may
say more: `header` (default "qnn/qnn.hpp"), `namespace` (default "qnn"),
`include_dirs` (relative to PATH, default ["."]) and `defines` (a table;
"{I}" and "{F}" in a value become the Q format's integer and fractional bits,
for libraries that select lookup tables by macro).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from .paths import shown
from .qformat import FloatFormat, NumberFormat
from .results import QNN_LIBRARY
from .schemas import Schema, read_toml, validate
from .workloads import QNN_INCLUDE

DESCRIPTOR = "qbench-library.toml"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_NAMESPACE = re.compile(r"^[A-Za-z_]\w*(::[A-Za-z_]\w*)*$")


class LibraryError(ValueError):
    """A --library that cannot be used; the message says why."""


@dataclass(frozen=True)
class Library:
    name: str
    include_dirs: tuple[Path, ...]
    header: str
    namespace: str
    defines: tuple[tuple[str, str], ...] = ()
    external: bool = False  # outside this repository: its files are hashed into cache keys

    def compile_defines(self, fmt: NumberFormat) -> dict[str, str]:
        """What selects this library in a workload's build (nothing for qnn itself). A define
        naming {I} or {F} selects something by Q format and is left out of float builds."""
        if not self.external:
            return {}
        if isinstance(fmt, FloatFormat):
            chosen = {name: value for name, value in self.defines if "{" not in name + value}
        else:
            bits = {"I": str(fmt.integer_bits), "F": str(fmt.fractional_bits)}
            chosen = {name.format(**bits): value.format(**bits) for name, value in self.defines}
        return {"QBENCH_NN_HEADER": f'"{self.header}"', "QBENCH_NN": self.namespace, **chosen}

    def fingerprint(self) -> str:
        """The contents of the library's files; qnn's own are in the input fingerprint already."""
        if not self.external:
            return ""
        digest = hashlib.sha256()
        for directory in self.include_dirs:
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()


QNN = Library(QNN_LIBRARY, (QNN_INCLUDE,), "qnn/qnn.hpp", "qnn")


def _namespace(name: str) -> str:
    if not _NAMESPACE.match(name):
        raise PydanticCustomError("namespace", "a C++ namespace, such as qnn or vendor::nn")
    return name


def _macro_text(value: object) -> str:
    """A macro's value as the compiler takes it: a whole number (not true or false) stands for its digits."""
    if type(value) is int:
        return str(value)
    if not isinstance(value, str):
        raise PydanticCustomError("macro_value", "a string or a whole number")
    return value


class LibraryDescriptor(Schema):
    """A library's qbench-library.toml; every key has qnn's layout as its default."""

    header: str = Field(QNN.header, min_length=1)
    namespace: Annotated[str, AfterValidator(_namespace)] = QNN.namespace
    include_dirs: list[Annotated[str, Field(min_length=1)]] = Field(["."], min_length=1)
    defines: dict[str, Annotated[str, BeforeValidator(_macro_text)]] = {}


def parse_library(text: str) -> Library:
    name, separator, location = text.partition("=")
    if not separator or not name or not location:
        raise LibraryError(f"{text!r}: give --library NAME=PATH, e.g. --library tinymind=../tinymind/cpp")
    if not _NAME.match(name):
        raise LibraryError(f"{name!r} is not a library name (letters, digits, '_', '.', '-')")
    if name == QNN.name:
        raise LibraryError("'qnn' names the built-in library; give the other library another name")
    root = Path(location).expanduser().resolve()
    if not root.is_dir():
        raise LibraryError(f"{name}: {location} is not a directory")
    descriptor = root / DESCRIPTOR
    document = read_toml(descriptor, LibraryError) if descriptor.exists() else {}
    settings: LibraryDescriptor = validate(LibraryDescriptor, document, LibraryError, lambda loc: shown(descriptor))
    include_dirs = tuple(root / directory for directory in settings.include_dirs)
    if not any((directory / settings.header).is_file() for directory in include_dirs):
        raise LibraryError(
            f"{name}: no {settings.header} under {', '.join(map(str, include_dirs))} "
            f"(a {DESCRIPTOR} there can name the library's header and namespace)"
        )
    defines = tuple(sorted(settings.defines.items()))
    return Library(name, include_dirs, settings.header, settings.namespace, defines, external=True)
