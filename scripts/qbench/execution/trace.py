"""Regions of a counted run: every occurrence of every region, from the blocks the run executed in order.

A region occurrence is everything executed from the entry of qbench_region_begin (inclusive) to the entry
of qbench_region_end (exclusive): the measured code with all it calls, plus the markers' own few
instructions. qbench_region_begin stores to its region's byte of qbench_region_marks, which numbers it.
The counted run is the row's own image from reset to its exit: every occurrence of every region is counted.

An occurrence is kept as the visits it made (a visit: one pass through a block, with the instruction executed
just before and just after it, which load pipelining and taken branches need) and how many times it made each;
occurrences that made the same visits the same number of times share one path. That is enough to count each
occurrence's instructions, price it with any core's model, split the run by function, and small enough to cache.
Every image runs one empty region (begin, then end at once); its mean is subtracted from the others, so the
figures are net of the markers. Counts are exact; cycles are estimates (qbench.execution.timing).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qbench.execution.runners import MARK_WORD, BlockTrace, Watch
from qbench.execution.timing import BlockVisit
from qbench.sizes.elfsize import open_elf
from qbench.sizes.symbols import demangle, short_name

REGION_NAMES = {0: "empty", 1: "forward", 2: "train_step"}
MEASURED_REGIONS = ("forward", "train_step")
BEGIN_MARKER, END_MARKER, MARKS = "qbench_region_begin", "qbench_region_end", "qbench_region_marks"
STACK_TOP, STACK_GUARD = "__stack_top", "__stack_guard"


class TraceError(ValueError):
    """A run that does not bracket its regions as the markers promise."""


@dataclass(frozen=True)
class RegionPaths:
    """Every occurrence of one region: the distinct paths taken, and the path of each occurrence in order."""

    paths: tuple[tuple[tuple[int, int], ...], ...]  # per path: (visit index, times made), by visit index
    taken: tuple[int, ...]  # per occurrence: the index of its path

    @property
    def occurrences(self) -> int:
        return len(self.taken)


@dataclass(frozen=True)
class CountedRun:
    """What a counted run of one image recorded."""

    visits: tuple[BlockVisit, ...]
    regions: dict[str, RegionPaths]
    lowest_stack_pointer: int | None
    instructions: int  # everything executed, reset to exit


class FunctionMap:
    """Program counter -> function, from the ELF symbol table; and the addresses a counted run watches."""

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
        self.symbols = {symbol.name: (symbol["st_value"], symbol["st_size"]) for symbol in symbols}
        self.stack_top = self.symbols.get(STACK_TOP, (None, 0))[0]

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

    def watch(self) -> Watch:
        """What a counted run of this image watches; TraceError when the image has no region marks."""
        if MARKS not in self.symbols:
            raise TraceError(f"the image has no {MARKS} (built from an older regions.hpp?)")
        marks, size = self.symbols[MARKS]
        top = self.stack_top or 0
        return Watch(self.address_of(BEGIN_MARKER), marks, size, self.symbols.get(STACK_GUARD, (top, 0))[0], top)


@dataclass(frozen=True)
class _Blocks:
    """The run's distinct blocks (the same instructions translated twice are one block), indexed."""

    pcs: list[tuple[int, ...]]
    index_of_translation: np.ndarray  # translation number -> block index

    @classmethod
    def of(cls, table: dict[int, tuple[int, ...]]) -> _Blocks:
        index: dict[tuple[int, ...], int] = {}
        lookup = np.zeros(max(table, default=0) + 1, dtype=np.int64)
        for number, pcs in table.items():
            lookup[number] = index.setdefault(pcs, len(index))
        return cls(list(index), lookup)


def _executed_and_marks(trace: BlockTrace, blocks: _Blocks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The executed blocks in order, and each mark's value with the position of the block that stored it."""
    words = np.frombuffer(trace.events, dtype="<u4")
    marked = words >= MARK_WORD
    if words.size and marked[0]:
        raise TraceError("a region mark came before any block ran")
    translations = words[~marked].astype(np.int64)
    if translations.size and translations.max() >= blocks.index_of_translation.size:
        raise TraceError("the run executed a block its table does not list")
    mark_positions = np.cumsum(~marked)[marked] - 1
    return blocks.index_of_translation[translations], (words[marked] - MARK_WORD).astype(np.int64), mark_positions


def _occurrence_bounds(starts: np.ndarray, begin: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """The executed positions where each occurrence begins and ends; TraceError when they do not alternate."""
    begins, ends = np.flatnonzero(starts == begin), np.flatnonzero(starts == end)
    if begins.size != ends.size or np.any(begins >= ends) or np.any(begins[1:] < ends[:-1]):
        raise TraceError(f"{BEGIN_MARKER} and {END_MARKER} do not alternate ({begins.size} begins, {ends.size} ends)")
    return begins, ends


def _region_numbers(begins: np.ndarray, marks: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The region each occurrence stored its mark for; TraceError when a begin stored none or several."""
    if positions.size != begins.size or np.any(positions != begins):
        raise TraceError(f"{begins.size} region begins stored {positions.size} region marks")
    unknown = sorted(set(marks.tolist()) - set(REGION_NAMES))
    if unknown:
        raise TraceError(f"unknown region number {unknown[0]}")
    return marks


def _visit_keys(executed: np.ndarray, count: int) -> np.ndarray:
    """One number per executed position for (previous block, block, next block); `count` stands for none."""
    previous = np.concatenate(([count], executed[:-1]))
    following = np.concatenate((executed[1:], [count]))
    return (previous * (count + 1) + executed) * (count + 1) + following


def _visit(key: int, blocks: _Blocks) -> BlockVisit:
    count = len(blocks.pcs)
    previous, rest = divmod(key, (count + 1) ** 2)
    block, following = divmod(rest, count + 1)
    return BlockVisit(
        None if previous == count else blocks.pcs[previous][-1],
        blocks.pcs[block],
        None if following == count else blocks.pcs[following][0],
    )


def _mixed(values: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of each value: well-spread 64-bit numbers whose sums tell sets of values apart."""
    mixed = values.astype(np.uint64) + np.uint64(seed)
    mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return mixed ^ (mixed >> np.uint64(31))


_SEEDS = (0x9E3779B97F4A7C15, 0x632BE59BD9B4E019)


def _hashed(keys: np.ndarray) -> list[np.ndarray]:
    """Each position's visit key mixed once per seed, with one element past the end (reduceat needs it)."""
    return [np.concatenate((_mixed(keys, seed), [np.uint64(0)])) for seed in _SEEDS]


def _fingerprints(hashed: list[np.ndarray], begins: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per occurrence, two 64-bit sums over the visits it made: equal for occurrences that made the same visits
    the same number of times, and for others equal with odds of 2^-128. No sort: one pass over the run."""
    bounds = np.stack([begins, ends], axis=1).ravel()
    return np.stack([np.add.reduceat(mixed, bounds)[0::2] for mixed in hashed], axis=1)


def _paths(
    keys: np.ndarray, hashed: list[np.ndarray], begins: np.ndarray, ends: np.ndarray, occurrences: np.ndarray
) -> tuple[list, tuple]:
    """Some occurrences' distinct paths ((visit key, times) pairs), in order of first use, and the path of each."""
    fingerprints = _fingerprints(hashed, begins[occurrences], ends[occurrences])
    _, first, taken = np.unique(fingerprints, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # number the paths as the occurrences first took them
    renumbered = np.empty_like(order)
    renumbered[order] = np.arange(order.size)
    paths = []
    for index in order:
        occurrence = occurrences[first[index]]
        made, times = np.unique(keys[begins[occurrence] : ends[occurrence]], return_counts=True)
        paths.append((made, times))
    return paths, tuple(renumbered[taken.ravel()].tolist())


def count_regions(trace: BlockTrace, functions: FunctionMap) -> CountedRun:
    """Every occurrence of every region of a counted run."""
    blocks = _Blocks.of(trace.blocks)
    executed, marks, mark_positions = _executed_and_marks(trace, blocks)
    starts = np.array([pcs[0] for pcs in blocks.pcs], dtype=np.int64)[executed]
    begins, ends = _occurrence_bounds(starts, functions.address_of(BEGIN_MARKER), functions.address_of(END_MARKER))
    numbers = _region_numbers(begins, marks, mark_positions)
    if not np.any(numbers == 0):
        raise TraceError("the image ran no empty region to measure the markers' cost")
    keys = _visit_keys(executed, len(blocks.pcs))
    hashed = _hashed(keys)
    found = {
        name: _paths(keys, hashed, begins, ends, np.flatnonzero(numbers == number))
        for number, name in REGION_NAMES.items()
        if np.any(numbers == number)
    }
    visit_keys = np.unique(np.concatenate([made for paths, _ in found.values() for made, _ in paths]))
    regions = {
        name: RegionPaths(
            tuple(
                tuple(zip(np.searchsorted(visit_keys, made).tolist(), times.tolist(), strict=True))
                for made, times in paths
            ),
            taken,
        )
        for name, (paths, taken) in found.items()
    }
    sizes = np.array([len(pcs) for pcs in blocks.pcs], dtype=np.int64)
    return CountedRun(
        tuple(_visit(int(key), blocks) for key in visit_keys),
        regions,
        trace.lowest_stack_pointer,
        int(sizes[executed].sum()),
    )
