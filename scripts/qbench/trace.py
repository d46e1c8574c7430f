"""Instruction counts per region from a runner's trace.

A region is everything executed from the entry of qbench_region_begin to the
entry of qbench_region_end: the measured code with all it calls, plus the
markers' own few instructions. Every image runs one empty region (begin, then
end at once); its count is subtracted from the others, so the figures are net
of the markers. Counts are exact; cycles are an estimate (qbench.timing).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .elfsize import open_elf
from .runners import Trace
from .symbols import demangle, short_name
from .timing import CodeImage, TimingModel

REGION_NAMES = {0: "empty", 1: "forward", 2: "train_step"}
BEGIN_MARKER, END_MARKER = "qbench_region_begin", "qbench_region_end"


class TraceError(ValueError):
    """A trace that does not bracket its regions as the markers promise."""


@dataclass(frozen=True)
class RegionStats:
    name: str
    occurrences: int
    instructions: float  # mean per occurrence, net of the markers
    cycles: float | None  # estimated, mean per occurrence, net of the markers; None without a timing model
    functions: dict[str, float]  # mean instructions per occurrence by function, markers excluded


class FunctionMap:
    """Program counter -> function, from the ELF symbol table."""

    def __init__(self, elf: Path) -> None:
        with elf.open("rb") as stream:
            symbols = open_elf(stream).get_section_by_name(".symtab")
            functions = sorted(
                ((symbol["st_value"] & ~1, symbol["st_size"], symbol.name)
                 for symbol in (symbols.iter_symbols() if symbols is not None else ())
                 if symbol["st_info"]["type"] == "STT_FUNC" and symbol["st_size"] > 0),
            )  # fmt: skip
        # Aliases share an address (__aeabi_lmul and __muldi3): keep the first name, __aeabi_ names sorting first.
        functions = [
            entry for index, entry in enumerate(functions) if index == 0 or entry[0] != functions[index - 1][0]
        ]
        names = demangle([name for _, _, name in functions])
        self.starts = [start for start, _, _ in functions]
        self.ends = [start + size for start, size, _ in functions]
        self.names = [short_name(name) for name in names]
        self.raw_names = [name for _, _, name in functions]

    def address_of(self, name: str) -> int:
        try:
            return self.starts[self.raw_names.index(name)]
        except ValueError:
            raise TraceError(f"the image has no function {name}") from None

    def name_at(self, address: int) -> str:
        index = bisect.bisect_right(self.starts, address) - 1
        if index >= 0 and address < self.ends[index]:
            return self.names[index]
        return f"{address:#x}"


def analyse(trace: Trace, elf: Path, timing: TimingModel | None) -> dict[str, RegionStats]:
    functions = FunctionMap(elf)
    begin, end = functions.address_of(BEGIN_MARKER), functions.address_of(END_MARKER)
    counters = trace.program_counters
    ids = iter(trace.region_ids)
    segments: dict[int, list[tuple[int, int]]] = {}
    start: int | None = None
    region = 0
    for index, address in enumerate(counters):
        if address == begin:
            if start is not None:
                raise TraceError(f"region {REGION_NAMES.get(region, region)} began again before it ended")
            region = next(ids, None)
            if region is None:
                raise TraceError("more region entries than recorded region numbers")
            start = index
        elif address == end:
            if start is None:
                raise TraceError("a region ended that had not begun")
            segments.setdefault(region, []).append((start, index))
            start = None
    if start is not None:
        raise TraceError(f"region {REGION_NAMES.get(region, region)} never ended")
    unknown = sorted(set(segments) - set(REGION_NAMES))
    if unknown:
        raise TraceError(f"unknown region numbers {unknown}")
    if 0 not in segments:
        raise TraceError("the image ran no empty region to measure the markers' cost")

    code = CodeImage(elf) if timing is not None else None

    def mean_cycles(spans: list[tuple[int, int]]) -> float | None:
        if code is None:
            return None
        total = sum(timing.estimate(code, counters[a:b], counters[b]) for a, b in spans)
        return total / len(spans)

    empty = segments[0]
    empty_instructions = sum(b - a for a, b in empty) / len(empty)
    empty_cycles = mean_cycles(empty)
    markers = {functions.name_at(begin), functions.name_at(end)}
    stats = {}
    for number, spans in sorted(segments.items()):
        if number == 0:
            continue
        by_function: Counter[str] = Counter()
        for a, b in spans:
            by_function.update(functions.name_at(address) for address in counters[a:b])
        for marker in markers:
            by_function.pop(marker, None)
        cycles = mean_cycles(spans)
        stats[REGION_NAMES[number]] = RegionStats(
            name=REGION_NAMES[number],
            occurrences=len(spans),
            instructions=sum(b - a for a, b in spans) / len(spans) - empty_instructions,
            cycles=None if cycles is None or empty_cycles is None else cycles - empty_cycles,
            functions={name: count / len(spans) for name, count in by_function.most_common()},
        )
    return stats
