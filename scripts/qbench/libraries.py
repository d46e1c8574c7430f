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
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .qformat import FloatFormat, NumberFormat
from .results import QNN_LIBRARY
from .workloads import QNN_INCLUDE

DESCRIPTOR = "qbench-library.toml"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_DESCRIPTOR_KEYS = {"header": str, "namespace": str, "include_dirs": list, "defines": dict}


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
    settings: dict = {}
    descriptor = root / DESCRIPTOR
    if descriptor.exists():
        try:
            settings = tomllib.loads(descriptor.read_text())
        except tomllib.TOMLDecodeError as error:
            raise LibraryError(f"{descriptor}: not valid TOML: {error}") from None
        for key, value in settings.items():
            if key not in _DESCRIPTOR_KEYS:
                raise LibraryError(f"{descriptor}: '{key}' is not a known key (known: {', '.join(_DESCRIPTOR_KEYS)})")
            if not isinstance(value, _DESCRIPTOR_KEYS[key]):
                raise LibraryError(f"{descriptor}: '{key}' must be {_DESCRIPTOR_KEYS[key].__name__}")
    include_dirs = tuple(root / directory for directory in settings.get("include_dirs", ["."]))
    header = settings.get("header", QNN.header)
    if not any((directory / header).is_file() for directory in include_dirs):
        raise LibraryError(
            f"{name}: no {header} under {', '.join(map(str, include_dirs))} "
            f"(a {DESCRIPTOR} there can name the library's header and namespace)"
        )
    defines = tuple(sorted((str(key), str(value)) for key, value in settings.get("defines", {}).items()))
    return Library(name, include_dirs, header, settings.get("namespace", QNN.namespace), defines, external=True)
