"""Where an image's bytes go: symbols from the ELF symbol table, attributed to
groups, with an '(unattributed)' remainder so each category sums exactly to
its section total.

A symbol's group comes from its source files (qbench.sizes.dwarf) where the image has DWARF: code the
compiler inlined into another owner's function is a row of its own, '<inlined into NAME>', in its owner's
group. The group by symbol name alone (SYMBOL_GROUPS, the library's prefixes) is kept beside it as a
cross-check (prefix_group), and is the group of a relocatable object (the host's) and of a data object
the DWARF does not place."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qbench.hardware.toolchain import require
from qbench.images.libraries import QNN, Library
from qbench.sizes.dwarf import Origins, Owner, Places, read_origins
from qbench.sizes.elfsize import Category, ImageSizes, Section, open_elf

UNATTRIBUTED = "(unattributed)"
TEST_DATA_GROUP = "test data"
TABLES_GROUP = "activation tables"  # read-only data defined in the library's own files
HARNESS_GROUP = "workload harness"

LIBRARY_GROUP = "{library}"  # the library's own code and its adapter: named after it, found by its symbol prefixes

# Symbol groups by demangled name (parameters removed; a template function's
# return type may come first); the first pattern that matches wins.
SYMBOL_GROUPS: tuple[tuple[str, str], ...] = (
    (TABLES_GROUP, r"(^|::)TanhTable<.*>::entries$"),  # qnn's, or a renamed copy's
    ("deployed weights", r"(^|::)deployed(Weights|Raw|Stored)\b"),
    (TEST_DATA_GROUP, r"(^|::)test(Inputs|Labels|Stored)\b"),
    ("network object", r"(^|::)network$"),
    (LIBRARY_GROUP, r"{prefixes}"),
    ("reporting", r"(^|[\s&*])qbench::|^qbench_write$"),
    (
        "start-up",
        r"^qbench_(vectors|reset|hardfault|report_fault|exit)$|::unexpectedException$"
        r"|^__dso_handle$|^__cxa_atexit$",
    ),
    ("static constructors", r"^_GLOBAL__sub_I_"),
    # libgcc: integer helpers, and soft-float (__addsf3, __gesf2, __fixsfsi, __floatsidf, ...).
    (
        "compiler run-time",
        r"^__(aeabi_|gnu_|[a-z]*(div|mod|mul|neg|ash|lsh|clz|ctz|cmp)[a-z]*\d$)"
        r"|^__[a-z]+[sd]f[a-z0-9]*$",
    ),
    # newlib: string functions, libm's float maths (expf, tanhf, __ieee754_logf, __math_oflowf, ...), errno.
    (
        "C library",
        r"^(mem|str)[a-z]+$|^_?impure|^__libc_|^(exp|expm1|log|tanh|fabs|finite|sqrt|scalbn)f?$"
        r"|^__ieee754_|^__math_|^__errno$|^__kernel_",
    ),
    (HARNESS_GROUP, r""),
)

# What the data is, whoever's file defines it (the harness defines the network object and the weights).
ROLE_GROUPS = ("deployed weights", TEST_DATA_GROUP, "network object")
# Where bytes go that the symbol names give to the library but its files do not.
OWNER_GROUPS = {Owner.HARNESS: HARNESS_GROUP, Owner.STARTUP: "start-up", Owner.RUNTIME: "C library"}


def prefix_pattern(prefixes: tuple[str, ...]) -> str:
    """A library's symbols: a namespace ("qnn::") anywhere a declared name may start, a C prefix ("eml_") at
    the start; QbenchAdapter's members are the library's too (its adapter)."""
    alternatives = [
        rf"(^|[\s&*]){re.escape(prefix)}" if prefix.endswith("::") else f"^{re.escape(prefix)}"
        for prefix in (*prefixes, "QbenchAdapter::")
    ]
    return "|".join(alternatives)


@cache
def _group_patterns(library: str, prefixes: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    """The groups with the library's own filled in: its name, and its symbol prefixes as the pattern."""
    return tuple(
        (group.format(library=library), re.compile(pattern.format(prefixes=prefix_pattern(prefixes))))
        if group == LIBRARY_GROUP
        else (group, re.compile(pattern))
        for group, pattern in SYMBOL_GROUPS
    )


@dataclass(frozen=True)
class SymbolSize:
    name: str  # demangled; UNATTRIBUTED for the remainder of a category; '<inlined into NAME>' (module doc)
    group: str  # by the DWARF's source files where the image has them, else prefix_group
    category: Category
    size: int
    prefix_group: str  # by the symbol's name alone (an inlined row: by its function's name)


def without_parameters(demangled: str) -> str:
    """A demangled name without its parameter list: 'void ns::f<int>(x)' -> 'void ns::f<int>'."""
    masked = demangled.replace("(anonymous namespace)", "{anonymous namespace}")
    depth = 0
    for position, character in enumerate(masked):
        if character == "<":
            depth += 1
        elif character == ">":
            depth -= 1
        elif character == "(" and depth == 0 and position > 0:
            return demangled[:position]
    return demangled


def group_of(name: str, library: str = "qnn", prefixes: tuple[str, ...] = ("qnn::",)) -> str:
    declared = without_parameters(name)
    return next(group for group, pattern in _group_patterns(library, prefixes) if pattern.search(declared))


def demangle(names: Sequence[str]) -> list[str]:
    """C++ names demangled by c++filt, one process for the lot."""
    if not names:
        return []
    completed = subprocess.run(
        [require("c++filt")], input="\n".join(names) + "\n", capture_output=True, text=True, check=True
    )
    demangled = completed.stdout.splitlines()
    if len(demangled) != len(names):
        raise RuntimeError(f"c++filt returned {len(demangled)} names for {len(names)}")
    return demangled


def owner_group(owner: Owner, prefix_group: str, category: Category, library: str) -> str:
    """The group of bytes whose source file belongs to owner, given their group by name: the files decide
    whether bytes are the library's (its code, or its tables when read-only data); the name groups keep their
    finer split of everything else."""
    if prefix_group in ROLE_GROUPS:
        return prefix_group
    if owner is Owner.LIBRARY:
        return TABLES_GROUP if category is Category.RODATA else library
    return OWNER_GROUPS[owner] if prefix_group in (library, TABLES_GROUP) else prefix_group


def inlined_name(name: str) -> str:
    """The row of the bytes of another owner inlined into a function: '<inlined into main>'."""
    return f"<inlined into {without_parameters(name)}>"


def _sized_symbols(elf) -> list[tuple[int, int, int, str]]:
    """(section index, start, end, mangled name) of every sized symbol in an allocated section."""
    thumb = elf["e_machine"] == "EM_ARM"
    bases = {index: section["sh_addr"] for index, section in enumerate(elf.iter_sections())}
    table = elf.get_section_by_name(".symtab")
    found = []
    for symbol in table.iter_symbols() if table is not None else ():
        index, size = symbol["st_shndx"], symbol["st_size"]
        if not isinstance(index, int) or size == 0 or symbol["st_info"]["type"] not in ("STT_FUNC", "STT_OBJECT"):
            continue
        value = symbol["st_value"]
        if thumb and symbol["st_info"]["type"] == "STT_FUNC":
            value &= ~1  # the Thumb bit is not part of the address
        start = value - bases[index] if elf["e_type"] == "ET_EXEC" else value
        found.append((index, start, start + size, symbol.name))
    return found


def _read(path: Path, sizes: ImageSizes, library: Library) -> tuple[list[tuple[int, int, int, str]], Origins | None]:
    """The image's sized symbols and, where it has DWARF, its bytes' origins."""
    code = [(section.address, section.size) for section in sizes.sections if section.category is Category.CODE]
    with path.open("rb") as stream:
        elf = open_elf(stream)
        return _sized_symbols(elf), read_origins(elf, code, Places.of(library, path.parent))


def _pieces(
    name: str, section: Section, start: int, end: int, origins: Origins | None, library: Library
) -> list[tuple[str, str, str, int]]:
    """(row name, group, prefix group, bytes) of a symbol's bytes [start, end) in section: code by the owner of
    each byte (bytes of another group than the function's own under inlined_name), a data object by the owner of
    its file."""
    prefix = group_of(name, library.name, library.symbols)
    category, low, high = section.category, section.address + start, section.address + end
    assert category is not None
    if origins is None:
        return [(name, prefix, prefix, end - start)]
    if category is not Category.CODE:
        owner = origins.objects.get(low)
        group = prefix if owner is None else owner_group(owner, prefix, category, library.name)
        return [(name, group, prefix, end - start)]
    home = owner_group(origins.home(low, high), prefix, category, library.name)
    groups = [(owner_group(owner, prefix, category, library.name), n) for owner, n in origins.code(low, high).items()]
    return [(name if group == home else inlined_name(name), group, prefix, n) for group, n in groups]


def attribute(path: Path, sizes: ImageSizes, library: Library | None = None) -> list[SymbolSize]:
    """Every byte of every classified section, given to one symbol (or an inlined part of one, qbench.sizes
    .dwarf) or to UNATTRIBUTED; aliases and overlaps count once (lowest address, then name). The network
    library's code is grouped under its name: by its files where the image has DWARF, else by its symbol
    prefixes."""
    library = library or QNN
    symbols, origins = _read(path, sizes, library)
    by_section: dict[int, list[tuple[int, int, str]]] = {}
    for index, start, end, name in symbols:
        by_section.setdefault(index, []).append((start, end, name))
    mangled = sorted({name for entries in by_section.values() for _, _, name in entries})
    readable = dict(zip(mangled, demangle(mangled), strict=True))

    totals: dict[tuple[str, str, str, Category], int] = {}
    attributed: dict[Category, int] = {}
    for section in sizes.sections:
        if section.category is None:
            continue
        covered = 0  # bytes of this section before `covered` are attributed
        for start, end, name in sorted(by_section.get(section.index, []), key=lambda s: (s[0], -s[1], s[2])):
            start, end = max(start, covered), min(end, section.size)
            if end <= start:
                continue
            for row, group, prefix, size in _pieces(readable[name], section, start, end, origins, library):
                key = (row, group, prefix, section.category)
                totals[key] = totals.get(key, 0) + size
            attributed[section.category] = attributed.get(section.category, 0) + end - start
            covered = end
    result = [
        SymbolSize(name, group, category, size, prefix) for (name, group, prefix, category), size in totals.items()
    ]
    for category in Category:
        remainder = sizes.total(category) - attributed.get(category, 0)
        if remainder:
            result.append(SymbolSize(UNATTRIBUTED, UNATTRIBUTED, category, remainder, UNATTRIBUTED))
    return sorted(result, key=lambda s: (-s.size, s.name, s.group, s.category))


def short_name(name: str) -> str:
    """A symbol name for a table: template arguments shown as <…>, parameters dropped
    ('void ns::A<int, B<c>>::f(x) const' -> 'void ns::A<…>::f')."""
    masked = name.replace("(anonymous namespace)", "\0")
    result, depth = [], 0
    for character in masked:
        if character == "(" and depth == 0:
            break
        if character == "<":
            if depth == 0:
                result.append("<…>")
            depth += 1
        elif character == ">":
            depth -= 1
        elif depth == 0:
            result.append(character)
    return "".join(result).replace("\0", "(anonymous namespace)").strip() or name
