"""Regions of a traced run: what executing an image recorded, and the figures priced from it.

A region occurrence is everything executed from the entry of qbench_region_begin (inclusive) to the entry
of qbench_region_end (exclusive): the measured code with all it calls, plus the markers' own few
instructions. r0 at the begin entry numbers the region. The traced run is the row's own image from reset;
it stops at the first region entry after every region the workload names in its trace cut has completed
its count (the first N training steps, the first N test samples), or at the program's end.

Recording (RegionRecorder) keeps, per region, how many times each instruction ran right after its
predecessor and right before its successor: enough to count instructions, split them by function and price
them with any core's timing table (load pipelining and taken branches need the neighbours), and small
enough to cache. Every image runs one empty region (begin, then end at once); its mean is subtracted from
the others, so the figures are net of the markers. Counts are exact; cycles are estimates (qbench.timing).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qbench.sizes.elfsize import open_elf
from qbench.sizes.symbols import demangle, short_name

if TYPE_CHECKING:
    from qbench.execution.timing import CodeImage, CycleRange, TimingModel

REGION_NAMES = {0: "empty", 1: "forward", 2: "train_step"}
MEASURED_REGIONS = ("forward", "train_step")
BEGIN_MARKER, END_MARKER = "qbench_region_begin", "qbench_region_end"
STACK_TOP = "__stack_top"

Step = tuple[int | None, int, int]  # previous pc (None at the very start), pc, next pc


class TraceError(ValueError):
    """A trace that does not bracket its regions as the markers promise."""


@dataclass(frozen=True)
class RegionSteps:
    """One region's executed instructions, summed over its occurrences."""

    occurrences: int
    steps: dict[Step, int]  # how many times each instruction ran between those neighbours

    @property
    def instructions(self) -> int:
        return sum(self.steps.values())


@dataclass(frozen=True)
class TracedRun:
    """What a traced run of one image recorded."""

    regions: dict[str, RegionSteps]
    lowest_stack_pointer: int
    instructions: int  # everything executed until the trace stopped


class FunctionMap:
    """Program counter -> function, from the ELF symbol table."""

    def __init__(self, elf: Path) -> None:
        with elf.open("rb") as stream:
            table = open_elf(stream).get_section_by_name(".symtab")
            symbols = list(table.iter_symbols()) if table is not None else []
        functions = sorted(
            (symbol["st_value"] & ~1, symbol["st_size"], symbol.name)
            for symbol in symbols
            if symbol["st_info"]["type"] == "STT_FUNC" and symbol["st_size"] > 0
        )
        # Aliases share an address (__aeabi_lmul and __muldi3): keep the first name, __aeabi_ names sorting first.
        functions = [
            entry for index, entry in enumerate(functions) if index == 0 or entry[0] != functions[index - 1][0]
        ]
        names = demangle([name for _, _, name in functions])
        self.starts = [start for start, _, _ in functions]
        self.ends = [start + size for start, size, _ in functions]
        self.names = [short_name(name) for name in names]
        self.raw_names = [name for _, _, name in functions]
        self.stack_top = next((symbol["st_value"] for symbol in symbols if symbol.name == STACK_TOP), None)

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


class RegionRecorder:
    """An observer of a traced run (qbench.runners): numbers the regions, records their steps and the
    lowest stack pointer, and says stop at the first region entry once the cut is reached."""

    def __init__(self, begin: int, end: int, cut: Mapping[str, int]) -> None:
        self.begin, self.end, self.cut = begin, end, dict(cut)
        self.steps: dict[int, Counter[Step]] = {}
        self.completed: Counter[int] = Counter()
        self.open: int | None = None  # the region being executed
        self.before_last: int | None = None
        self.last: int | None = None  # the previous instruction, whose successor is the current one
        self.last_in_region = False
        self.lowest_stack_pointer: int | None = None
        self.instructions = 0
        self.error: str | None = None

    def cut_reached(self) -> bool:
        done = {REGION_NAMES.get(number): count for number, count in self.completed.items()}
        return bool(self.cut) and all(done.get(name, 0) >= count for name, count in self.cut.items())

    def __call__(self, pc: int, sp: int, r0: int) -> bool:
        if self.last_in_region:
            self.steps[self.open][(self.before_last, self.last, pc)] += 1
        if pc == self.begin:
            if self.open is not None:
                return self._fail(f"region {REGION_NAMES.get(self.open, self.open)} began again before it ended")
            if self.cut_reached():
                return True
            if r0 not in REGION_NAMES:
                return self._fail(f"unknown region number {r0}")
            self.open = r0
            self.steps.setdefault(r0, Counter())
        elif pc == self.end:
            if self.open is None:
                return self._fail("a region ended that had not begun")
            self.completed[self.open] += 1
            self.open = None
        self.instructions += 1
        self.lowest_stack_pointer = sp if self.lowest_stack_pointer is None else min(self.lowest_stack_pointer, sp)
        self.before_last, self.last, self.last_in_region = self.last, pc, self.open is not None
        return False

    def _fail(self, message: str) -> bool:
        self.error = message
        return True

    def result(self) -> TracedRun:
        if self.error is not None:
            raise TraceError(self.error)
        if self.open is not None:
            raise TraceError(f"region {REGION_NAMES[self.open]} never ended")
        if not self.completed[0]:
            raise TraceError("the image ran no empty region to measure the markers' cost")
        regions = {
            REGION_NAMES[number]: RegionSteps(self.completed[number], dict(steps))
            for number, steps in sorted(self.steps.items())
            if self.completed[number]
        }
        return TracedRun(regions, self.lowest_stack_pointer or 0, self.instructions)


@dataclass(frozen=True)
class RegionFigures:
    """One region of one row: means per occurrence, net of the markers."""

    name: str
    occurrences: int
    instructions: float
    markers: float  # the empty region's mean, subtracted
    cycles: CycleRange | None  # None without a timing model
    functions: dict[str, float]  # instructions by function; adds up to `instructions` exactly
    nonsequential: float | None = None  # non-sequential fetches (taken branches, calls, returns); None untimed


def region_figures(traced: TracedRun, functions: FunctionMap, timing: tuple[TimingModel, CodeImage] | None) -> dict:
    """Each measured region's figures, priced with timing (a core's model and the image's code) when given."""
    empty = traced.regions["empty"]
    markers = empty.instructions / empty.occurrences
    marker_functions = {functions.name_at(functions.address_of(BEGIN_MARKER)),
                        functions.name_at(functions.address_of(END_MARKER))}  # fmt: skip

    def mean_cycles(region: RegionSteps) -> CycleRange | None:
        return None if timing is None else timing[0].price(timing[1], region.steps).scaled(1 / region.occurrences)

    def mean_jumps(region: RegionSteps) -> float:
        from qbench.execution.timing import nonsequential_fetches

        return nonsequential_fetches(timing[1], region.steps) / region.occurrences

    figures = {}
    for name in MEASURED_REGIONS:
        region = traced.regions.get(name)
        if region is None:
            continue
        instructions = region.instructions / region.occurrences - markers
        cycles = mean_cycles(region)
        figures[name] = RegionFigures(
            name, region.occurrences, instructions, markers,
            None if cycles is None else cycles - mean_cycles(empty),
            split_by_function(region, functions, marker_functions, instructions),
            None if timing is None else mean_jumps(region) - mean_jumps(empty),
        )  # fmt: skip
    return figures


def split_by_function(
    region: RegionSteps, functions: FunctionMap, markers: set[str], net: float
) -> dict[str, float]:
    """Mean instructions per occurrence by function, the markers' bodies left out and the markers' calls
    taken from the functions that make them, so the split adds up to net exactly."""
    by_function: Counter[str] = Counter()
    callers: Counter[str] = Counter()
    begin = functions.address_of(BEGIN_MARKER)
    for (previous, pc, _), count in region.steps.items():
        by_function[functions.name_at(pc)] += count
        if pc == begin and previous is not None:
            callers[functions.name_at(previous)] += count
    for marker in markers:
        by_function.pop(marker, None)
    split = {name: count / region.occurrences for name, count in by_function.items()}
    overhead = sum(split.values()) - net  # the marker calls' own instructions in the calling functions
    for caller, calls in callers.items():
        split[caller] = split.get(caller, 0.0) - overhead * calls / region.occurrences
    return dict(sorted(split.items(), key=lambda item: (-item[1], item[0])))
