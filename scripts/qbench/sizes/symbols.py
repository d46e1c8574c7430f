"""Where an image's bytes go: symbols from the ELF symbol table, attributed to
groups, with an '(unattributed)' remainder so each category sums exactly to
its section total."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qbench.hardware.toolchain import require
from qbench.sizes.elfsize import Category, ImageSizes, open_elf

UNATTRIBUTED = "(unattributed)"
TEST_DATA_GROUP = "test data"

LIBRARY_GROUP = "{library}"  # the library's own code and its adapter: named after it, found by its symbol prefixes

# Symbol groups by demangled name (parameters removed; a template function's
# return type may come first); the first pattern that matches wins.
SYMBOL_GROUPS: tuple[tuple[str, str], ...] = (
    ("activation tables", r"(^|::)TanhTable<.*>::entries$"),  # qnn's, or a renamed copy's
    ("deployed weights", r"(^|::)deployed(Weights|Raw|Stored)\b"),
    (TEST_DATA_GROUP, r"(^|::)test(Inputs|Labels|Stored)\b"),
    ("network object", r"(^|::)network$"),
    (LIBRARY_GROUP, r"{prefixes}"),
    ("reporting", r"(^|[\s&*])qbench::|^qbench_write$"),
    ("start-up", r"^qbench_(vectors|reset|hardfault|report_fault|exit)$|::unexpectedException$"
                 r"|^__dso_handle$|^__cxa_atexit$"),
    ("static constructors", r"^_GLOBAL__sub_I_"),
    # libgcc: integer helpers, and soft-float (__addsf3, __gesf2, __fixsfsi, __floatsidf, ...).
    ("compiler run-time", r"^__(aeabi_|gnu_|[a-z]*(div|mod|mul|neg|ash|lsh|clz|ctz|cmp)[a-z]*\d$)"
                          r"|^__[a-z]+[sd]f[a-z0-9]*$"),
    # newlib: string functions, libm's float maths (expf, tanhf, __ieee754_logf, __math_oflowf, ...), errno.
    ("C library", r"^(mem|str)[a-z]+$|^_?impure|^__libc_|^(exp|expm1|log|tanh|fabs|finite|sqrt|scalbn)f?$"
                  r"|^__ieee754_|^__math_|^__errno$|^__kernel_"),
    ("workload harness", r""),
)


def prefix_pattern(prefixes: tuple[str, ...]) -> str:
    """A library's symbols: a namespace ("qnn::") anywhere a declared name may start, a C prefix ("eml_") at
    the start; QbenchAdapter's members are the library's too (its adapter)."""
    alternatives = [rf"(^|[\s&*]){re.escape(prefix)}" if prefix.endswith("::") else f"^{re.escape(prefix)}"
                    for prefix in (*prefixes, "QbenchAdapter::")]  # fmt: skip
    return "|".join(alternatives)


@cache
def _group_patterns(library: str, prefixes: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    """The groups with the library's own filled in: its name, and its symbol prefixes as the pattern."""
    return tuple(
        (group.format(library=library), re.compile(pattern.format(prefixes=prefix_pattern(prefixes))))
        if group == LIBRARY_GROUP else (group, re.compile(pattern))
        for group, pattern in SYMBOL_GROUPS
    )


@dataclass(frozen=True)
class SymbolSize:
    name: str  # demangled; UNATTRIBUTED for the remainder of a category
    group: str
    category: Category
    size: int


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


def _sized_symbols(path: Path) -> list[tuple[int, int, int, str]]:
    """(section index, start, end, mangled name) of every sized symbol in an allocated section."""
    with path.open("rb") as stream:
        elf = open_elf(stream)
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


def attribute(
    path: Path, sizes: ImageSizes, library: str = "qnn", prefixes: tuple[str, ...] = ("qnn::",)
) -> list[SymbolSize]:
    """Every byte of every classified section, given to one symbol or to
    UNATTRIBUTED; aliases and overlaps count once (lowest address, then name).
    The network library's code is grouped under its name, found by its symbol prefixes."""
    by_section: dict[int, list[tuple[int, int, str]]] = {}
    for index, start, end, name in _sized_symbols(path):
        by_section.setdefault(index, []).append((start, end, name))
    mangled = sorted({name for entries in by_section.values() for _, _, name in entries})
    readable = dict(zip(mangled, demangle(mangled), strict=True))

    totals: dict[tuple[str, Category], int] = {}
    attributed: dict[Category, int] = {}
    for section in sizes.sections:
        if section.category is None:
            continue
        covered = 0  # bytes of this section before `covered` are attributed
        for start, end, name in sorted(by_section.get(section.index, []), key=lambda s: (s[0], -s[1], s[2])):
            start, end = max(start, covered), min(end, section.size)
            if end <= start:
                continue
            key = (readable[name], section.category)
            totals[key] = totals.get(key, 0) + end - start
            attributed[section.category] = attributed.get(section.category, 0) + end - start
            covered = end
    result = [SymbolSize(name, group_of(name, library, prefixes), category, size)
              for (name, category), size in totals.items()]  # fmt: skip
    for category in Category:
        remainder = sizes.total(category) - attributed.get(category, 0)
        if remainder:
            result.append(SymbolSize(UNATTRIBUTED, UNATTRIBUTED, category, remainder))
    return sorted(result, key=lambda s: (-s.size, s.name, s.category))


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
