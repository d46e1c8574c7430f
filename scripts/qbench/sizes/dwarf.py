"""Where an image's bytes come from, read from its DWARF (every image is built with -g, which changes no loaded
byte): each byte of code and each data object is given to the source file that holds it, and the file to its
owner, so code the compiler inlined into another function still counts as its own file's.

Code (bloaty's `-d compileunits,inlines` is the model), from the weakest rule to the strongest: the function
(DW_TAG_subprogram) it is in, then the line table's file for it, then the innermost DW_TAG_inlined_subroutine
around it, each by the file that declares the function (its abstract origin's DW_AT_decl_file, not the
DW_AT_call_file it was inlined at); a rule only counts where its file is in a known place (the checkout, the
library's folders, the image's own directory), so a libstdc++ helper inlined into the library stays the
library's. Data: each DW_TAG_variable at a fixed address (DW_AT_location DW_OP_addr), by its declaring file.

Files to owners: the library's folders (its root, include_dirs and sources' folders: Library) are the library;
targets/startup is the start-up; the rest of the checkout and the image's directory (generated workload
sources) are the workload harness; anything else (newlib, libgcc, libstdc++, a file with no line info) is the
C and compiler run-time. Relocatable objects (the host's) have no addresses to attribute: None.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from elftools.dwarf.compileunit import CompileUnit
from elftools.dwarf.die import DIE
from elftools.dwarf.dwarfinfo import DWARFInfo
from elftools.dwarf.ranges import BaseAddressEntry

from qbench.common.paths import REPO, TARGETS
from qbench.images.libraries import Library

STARTUP = TARGETS / "startup"
DW_OP_ADDR = 0x03
_ORIGINS = ("DW_AT_abstract_origin", "DW_AT_specification")


class Owner(StrEnum):
    LIBRARY = "library"
    HARNESS = "harness"
    STARTUP = "start-up"
    RUNTIME = "run-time"


@dataclass(frozen=True)
class Places:
    """Which folders belong to whom, for one image."""

    library: tuple[Path, ...]
    harness: tuple[Path, ...]

    @classmethod
    def of(cls, library: Library, image_directory: Path) -> Places:
        folders = {library.root, *library.include_dirs, *(source.parent for source in library.sources)}
        return cls(tuple(sorted(_real(folder) for folder in folders)), (_real(image_directory), REPO))

    def owner(self, file: str) -> Owner:
        path = Path(file)
        if any(path.is_relative_to(folder) for folder in self.library):
            return Owner.LIBRARY
        if path.is_relative_to(STARTUP):
            return Owner.STARTUP
        if any(path.is_relative_to(folder) for folder in self.harness):
            return Owner.HARNESS
        return Owner.RUNTIME


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


@dataclass
class _Painted:
    """One code section's bytes, each given to an owner (None: no rule reached it yet)."""

    start: int
    owners: list[Owner | None]

    def paint(self, low: int, high: int, owner: Owner) -> None:
        low, high = max(low, self.start), min(high, self.start + len(self.owners))
        if low < high:
            self.owners[low - self.start : high - self.start] = [owner] * (high - low)


@dataclass(frozen=True)
class Origins:
    """An image's code bytes by owner, its functions' own owners and its data objects' owners."""

    sections: tuple[tuple[int, tuple[Owner, ...]], ...]  # (start address, each byte's owner), by address
    functions: dict[int, Owner]  # a concrete function's start address -> the owner of the file declaring it
    objects: dict[int, Owner]  # a variable's address -> the owner of the file declaring it

    def code(self, low: int, high: int) -> Counter[Owner]:
        """The bytes of [low, high) by owner; bytes outside every code section or reached by no rule: run-time."""
        found: Counter[Owner] = Counter()
        starts = [start for start, _ in self.sections]
        position = max(bisect_right(starts, low) - 1, 0)
        covered = 0
        for start, owners in self.sections[position:]:
            part = owners[max(low - start, 0) : max(high - start, 0)]
            found.update(part)
            covered += len(part)
        found[Owner.RUNTIME] += high - low - covered
        return +found

    def home(self, low: int, high: int) -> Owner:
        """Who the bytes of the function at [low, high) belong to: the file declaring it, else whoever has most of
        its bytes."""
        return self.functions.get(low) or self.code(low, high).most_common(1)[0][0]


class _Unit:
    """One compile unit: its file table and the owner of each of its files."""

    def __init__(self, info: DWARFInfo, unit: CompileUnit, places: Places) -> None:
        top = unit.get_top_DIE()
        program = info.line_program_for_CU(unit)
        self.unit, self.program = unit, program
        self.version = program.header["version"] if program is not None else unit["version"]
        directory = _text(top.attributes.get("DW_AT_comp_dir")) or "/"
        entries = program.header["file_entry"] if program is not None else []
        self.owners = [places.owner(_file_path(program, entry, directory)) for entry in entries]

    def file_owner(self, index: int) -> Owner:
        """The owner of the file a DW_AT_decl_file or the line table's file register names (DWARF 5 counts from
        0, earlier versions from 1)."""
        position = index if self.version >= 5 else index - 1
        return self.owners[position] if 0 <= position < len(self.owners) else Owner.RUNTIME


def _text(attribute) -> str:
    if attribute is None:
        return ""
    value = attribute.value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _file_path(program, entry, directory: str) -> str:
    directories = program.header["include_directory"]
    index = entry.dir_index if program.header["version"] >= 5 else entry.dir_index - 1
    folder = directories[index].decode("utf-8", "replace") if 0 <= index < len(directories) else directory
    name = entry.name.decode("utf-8", "replace")
    return os.path.normpath(os.path.join(directory, folder, name))


def _declaring(die: DIE) -> DIE:
    """The DIE that holds a function's or variable's DW_AT_decl_file: itself, or its abstract origin or
    specification (followed through)."""
    for _ in range(4):
        if "DW_AT_decl_file" in die.attributes:
            return die
        origin = next((name for name in _ORIGINS if name in die.attributes), None)
        if origin is None:
            return die
        die = die.get_DIE_from_attribute(origin)
    return die


def _ranges(die: DIE, info: DWARFInfo) -> list[tuple[int, int]]:
    """A function's or inlined call's address ranges (DW_AT_low_pc/high_pc or DW_AT_ranges)."""
    attributes = die.attributes
    if "DW_AT_low_pc" in attributes and "DW_AT_high_pc" in attributes:
        low, high = attributes["DW_AT_low_pc"].value, attributes["DW_AT_high_pc"]
        return [(low, high.value if high.form == "DW_FORM_addr" else low + high.value)]
    if "DW_AT_ranges" in attributes:
        top = die.cu.get_top_DIE().attributes.get("DW_AT_low_pc")
        base, found = top.value if top is not None else 0, []
        for entry in info.range_lists().get_range_list_at_offset(attributes["DW_AT_ranges"].value, die.cu):
            if isinstance(entry, BaseAddressEntry):
                base = entry.base_address
            else:
                offset = 0 if entry.is_absolute else base
                found.append((entry.begin_offset + offset, entry.end_offset + offset))
        return found
    return []


def _address(die: DIE) -> int | None:
    """A variable's fixed address (DW_AT_location: DW_OP_addr alone), None for any other location."""
    location = die.attributes.get("DW_AT_location")
    if location is None or location.form != "DW_FORM_exprloc" or not location.value:
        return None
    value = location.value
    size = die.cu["address_size"]
    if value[0] != DW_OP_ADDR or len(value) != 1 + size:
        return None
    return int.from_bytes(bytes(value[1:]), "little")


def _line_ranges(unit: _Unit) -> Iterator[tuple[int, int, Owner]]:
    """The line table's rows as (low, high, owner of the row's file)."""
    if unit.program is None:
        return
    previous = None
    for entry in unit.program.get_entries():
        state = entry.state
        if state is None:
            continue
        if previous is not None and state.address > previous.address:
            yield previous.address, state.address, unit.file_owner(previous.file)
        previous = None if state.end_sequence else state


def read_origins(elf, code_sections: list[tuple[int, int]], places: Places) -> Origins | None:
    """The image's Origins (code_sections: each code section's address and size), None without DWARF or for a
    relocatable object."""
    if elf["e_type"] != "ET_EXEC" or not elf.has_dwarf_info():
        return None
    return _Reader(elf.get_dwarf_info(relocate_dwarf_sections=False), code_sections, places).origins()


class _Reader:
    """One image's DWARF read once: its DIEs, then its line tables, then its inlined calls paint the code bytes,
    each rule over the weaker ones before it."""

    def __init__(self, info: DWARFInfo, code_sections: list[tuple[int, int]], places: Places) -> None:
        self.info = info
        self.units = {unit.cu_offset: _Unit(info, unit, places) for unit in info.iter_CUs()}
        self.painted = [_Painted(start, [None] * size) for start, size in sorted(code_sections)]
        self.functions: dict[int, Owner] = {}
        self.objects: dict[int, Owner] = {}
        self.inlined: list[tuple[int, int, Owner]] = []

    def origins(self) -> Origins:
        for unit in self.units.values():
            for die in unit.unit.iter_DIEs():
                self.visit(die)
        for unit in self.units.values():
            for low, high, owner in _line_ranges(unit):
                if owner is not Owner.RUNTIME:
                    self.paint(low, high, owner)
        for low, high, owner in self.inlined:
            self.paint(low, high, owner)
        sections = tuple((part.start, tuple(owner or Owner.RUNTIME for owner in part.owners)) for part in self.painted)
        return Origins(sections, self.functions, self.objects)

    def paint(self, low: int, high: int, owner: Owner) -> None:
        for part in self.painted:
            part.paint(low, high, owner)

    def owner(self, die: DIE) -> Owner | None:
        """The owner of the file declaring a function or variable, None when no file is named."""
        declaring = _declaring(die)
        index = declaring.attributes.get("DW_AT_decl_file")
        return self.units[declaring.cu.cu_offset].file_owner(index.value) if index is not None else None

    def visit(self, die: DIE) -> None:
        """One DIE's part: a fixed variable's owner recorded; a concrete function's ranges painted with its
        declaring file's owner (the weakest rule); an inlined call's kept for last (DIEs come outermost first,
        so inner calls paint over outer ones)."""
        if die.tag == "DW_TAG_variable":
            address = _address(die)
            owner = self.owner(die) if address is not None else None
            if owner is not None:
                self.objects[address] = owner
            return
        if die.tag not in ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine"):
            return
        ranges = _ranges(die, self.info)
        if not ranges:
            return
        owner = self.owner(die)
        if owner is None:
            return
        if die.tag == "DW_TAG_subprogram":
            self.functions[ranges[0][0]] = owner
        if owner is Owner.RUNTIME:
            return
        if die.tag == "DW_TAG_inlined_subroutine":
            self.inlined.extend((low, high, owner) for low, high in ranges)
        else:
            for low, high in ranges:
                self.paint(low, high, owner)
