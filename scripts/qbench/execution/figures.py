"""A counted run's figures per region: instructions per occurrence (mean, smallest, largest), cycles priced by a
core's model (the mean range and the worst occurrence's), non-sequential fetches, and the split by function.

Every figure is net of the markers: the empty region's mean is subtracted from each occurrence. The split by
function covers the whole run and adds up to the mean exactly. Instruction counts are exact; cycles are
estimates (qbench.execution.timing), with `unpriced` saying how many executed instructions had no price.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from qbench.execution.decode import CodeImage
from qbench.execution.timing import CycleModel, CycleRange, PricedVisit
from qbench.execution.trace import BEGIN_MARKER, END_MARKER, MEASURED_REGIONS, CountedRun, FunctionMap, RegionPaths

# Per visit, the quantities an occurrence sums: instructions, then (when priced) cycles at best, central and
# worst, non-sequential fetches, unpriced instructions.
_INSTRUCTIONS, _LOW, _CENTRAL, _HIGH, _JUMPS, _UNPRICED = range(6)


@dataclass(frozen=True)
class Worst:
    """The occurrence with the most cycles at worst (the first of equals), net of the markers."""

    occurrence: int  # its index among the region's occurrences, from 0, in the order they ran
    cycles: CycleRange
    instructions: int | float
    nonsequential: int | float


@dataclass(frozen=True)
class RegionFigures:
    """One region of one row, net of the markers."""

    name: str
    occurrences: int
    instructions: float  # mean per occurrence
    minimum: float  # the smallest occurrence
    maximum: float  # the largest occurrence
    markers: float  # the empty region's mean, subtracted
    functions: dict[str, float]  # mean instructions per occurrence by function; adds up to `instructions` exactly
    cycles: CycleRange | None = None  # mean per occurrence; None without a model
    worst: Worst | None = None
    nonsequential: float | None = None  # mean non-sequential fetches (taken branches, calls, returns)
    unpriced: int = 0  # instructions the model had no price for, over all occurrences (their cycles are missing)


def _per_visit(run: CountedRun, priced: list[PricedVisit] | None) -> np.ndarray:
    sizes = [len(visit.pcs) for visit in run.visits]
    if priced is None:
        return np.array([sizes], dtype=float).T
    return np.array(
        [
            [size, p.cycles.minimum, p.cycles.central, p.cycles.maximum, p.nonsequential, p.unpriced]
            for size, p in zip(sizes, priced, strict=True)
        ],
        dtype=float,
    )


def _per_occurrence(region: RegionPaths, per_visit: np.ndarray) -> np.ndarray:
    """Each occurrence's sums of the per-visit quantities (one row per occurrence)."""
    per_path = np.array([sum(times * per_visit[visit] for visit, times in path) for path in region.paths])
    return per_path[np.array(region.taken)]


def _range(row: np.ndarray) -> CycleRange:
    return CycleRange(float(row[_LOW]), float(row[_CENTRAL]), float(row[_HIGH]))


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def region_figures(run: CountedRun, functions: FunctionMap, pricing: tuple[CycleModel, CodeImage] | None) -> dict:
    """Each measured region's figures, priced with a core's model and the image's code when given."""
    priced = None if pricing is None else pricing[0].price_visits(pricing[1], run.visits)
    per_visit = _per_visit(run, priced)
    markers = _per_occurrence(run.regions["empty"], per_visit).mean(axis=0)
    figures = {}
    for name in MEASURED_REGIONS:
        region = run.regions.get(name)
        if region is not None:
            figures[name] = _figures(name, region, _per_occurrence(region, per_visit), markers, run, functions)
    return figures


def _figures(
    name: str,
    region: RegionPaths,
    occurrences: np.ndarray,
    markers: np.ndarray,
    run: CountedRun,
    functions: FunctionMap,
) -> RegionFigures:
    net = occurrences - markers
    instructions = net[:, _INSTRUCTIONS]
    figures = RegionFigures(
        name,
        region.occurrences,
        float(instructions.mean()),
        float(instructions.min()),
        float(instructions.max()),
        float(markers[_INSTRUCTIONS]),
        split_by_function(region, run, functions, float(instructions.mean())),
    )
    if net.shape[1] == 1:
        return figures
    worst = int(np.argmax(occurrences[:, _HIGH]))
    return replace(
        figures,
        cycles=_range(net.mean(axis=0)),
        worst=Worst(worst, _range(net[worst]), _whole(net[worst, _INSTRUCTIONS]), _whole(net[worst, _JUMPS])),
        nonsequential=float(net[:, _JUMPS].mean()),
        unpriced=int(occurrences[:, _UNPRICED].sum()),
    )


def visit_counts(region: RegionPaths) -> Counter[int]:
    """How many times each visit was made over all of the region's occurrences."""
    taken = Counter(region.taken)
    counts: Counter[int] = Counter()
    for index, path in enumerate(region.paths):
        for visit, times in path:
            counts[visit] += times * taken[index]
    return counts


def split_by_function(region: RegionPaths, run: CountedRun, functions: FunctionMap, net: float) -> dict[str, float]:
    """Mean instructions per occurrence by function, the markers' bodies left out and the markers' calls taken
    from the functions that make them, so the split adds up to net exactly."""
    by_function: Counter[str] = Counter()
    callers: Counter[str] = Counter()
    begin = functions.address_of(BEGIN_MARKER)
    for visit_index, count in visit_counts(region).items():
        visit = run.visits[visit_index]
        for pc in visit.pcs:
            by_function[functions.name_at(pc)] += count
        if visit.pcs[0] == begin and visit.previous is not None:
            callers[functions.name_at(visit.previous)] += count
    for marker in (BEGIN_MARKER, END_MARKER):
        by_function.pop(functions.name_at(functions.address_of(marker)), None)
    split = {name: count / region.occurrences for name, count in by_function.items()}
    overhead = sum(split.values()) - net  # the marker calls' own instructions in the calling functions
    for caller, calls in callers.items():
        split[caller] = split.get(caller, 0.0) - overhead * calls / region.occurrences
    return dict(sorted(split.items(), key=lambda item: (-item[1], item[0])))
