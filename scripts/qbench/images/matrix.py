"""The benchmark matrix: cores x Q formats x variants x optimisation levels.

Names the user gives are checked here. A bad name (format, core, variant, level,
workload, size) becomes a problem message naming the nearest valid value, and the
command refuses to start on any; a valid combination the target or workload cannot
build becomes a rejected cell, reported as a row with status 'invalid'.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import product

from qbench.common.nearest import nearest_hint
from qbench.hardware.targets import Target, TargetError, select
from qbench.images.libraries import QNN, Library
from qbench.images.workloads import DEFAULT_SETTINGS, Workload, WorkloadError, WorkloadSettings
from qbench.models.network import NetworkError, NetworkShape
from qbench.models.qformat import (
    FLOAT32,
    NARROW_WEIGHTS_TRAINING,
    NumberFormat,
    QFormatError,
    parse_format,
    usual_format_names,
)


class Variant(StrEnum):
    TRAINABLE = "trainable"
    INFERENCE = "inference"


OPT_LEVELS = ("O0", "O1", "O2", "O3", "Os", "Oz")
DEFAULT_FORMATS = ("q16.16", "q8.8")
DEFAULT_VARIANTS = (Variant.TRAINABLE.value, Variant.INFERENCE.value)  # xor's; each workload names its own
DEFAULT_OPT = ("Os",)


@dataclass(frozen=True)
class Cell:
    target: Target
    workload: Workload
    fmt: NumberFormat
    variant: Variant
    opt: str
    shape: NetworkShape
    library: Library = QNN
    scaled: bool = False  # one of several network sizes (--hidden-layers / --hidden-neurons): the label names it

    @property
    def label(self) -> str:
        library = "" if self.library == QNN else f" [{self.library.name}]"
        network = f" {'-'.join(map(str, self.shape.layer_sizes))}" if self.scaled else ""
        return f"{self.target.name} {self.workload.name}{network} {self.fmt.name} {self.variant} -{self.opt}{library}"


@dataclass(frozen=True)
class RejectedCell:
    cell: Cell
    reason: str


@dataclass(frozen=True)
class Matrix:
    cells: tuple[Cell, ...]
    rejected: tuple[RejectedCell, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what a library cannot compute, left out of the matrix


def core_order(target: Target) -> tuple:
    """Cortex-M cores by number (m0, m0plus, m3, m4, m4f, m7, m33, m55), the host last."""
    number = re.search(r"\d+", target.name)
    return (target.object_only, int(number.group()) if number else 0, target.name)


def _split(values: str | list[str] | tuple[str, ...]) -> list[str]:
    items = values.split(",") if isinstance(values, str) else list(values)
    return [item.strip() for item in items]


def expand(
    targets: dict[str, Target],
    workloads: Mapping[str, Workload],
    *,
    cores: str | None = None,
    formats: str | tuple[str, ...] = DEFAULT_FORMATS,
    variants: str | tuple[str, ...] | None = None,
    opt: str | tuple[str, ...] = DEFAULT_OPT,
    workload: str = "xor",
    settings: WorkloadSettings = DEFAULT_SETTINGS,
    libraries: tuple[Library, ...] = (QNN,),
    hidden_layers: str | None = None,
    hidden_neurons: str | None = None,
) -> Matrix:
    problems: list[str] = []
    chosen_targets = _chosen_targets(targets, cores, problems)
    chosen_formats = _chosen_formats(formats, problems)
    given_variants = _variants(variants, problems) if variants is not None else []
    chosen_opt = _chosen_opt(opt, problems)
    try:
        chosen_workload = workloads.get(workload)
    except WorkloadError as error:  # its workload.toml is malformed; other workloads are unaffected
        return Matrix((), (), (*problems, str(error)))
    if chosen_workload is None:
        problems.append(f"--workload: unknown workload {workload!r} (known: {', '.join(sorted(workloads))})"
                        f"{nearest_hint(workload, workloads)}")  # fmt: skip
        return Matrix((), (), tuple(problems))
    # Not given: the workload's own (inference alone for a workload trained on the host).
    chosen_variants = _variants(chosen_workload.default_variants, problems) if variants is None else given_variants
    shapes = _shapes(chosen_workload, settings, hidden_layers, hidden_neurons, problems)
    cells, rejected, notes = [], [], []
    for library in libraries:
        formats_computed, variants_computed = library_choices(library, chosen_formats, chosen_variants, notes)
        for target, shape, fmt, variant, level in product(chosen_targets, shapes, formats_computed, variants_computed,
                                                          chosen_opt):  # fmt: skip
            cell = Cell(target, chosen_workload, fmt, variant, level, shape, library, len(shapes) > 1)
            reason = rejection(cell, settings)
            if reason is None:
                cells.append(cell)
            else:
                rejected.append(RejectedCell(cell, reason))
    return Matrix(tuple(cells), tuple(rejected), tuple(problems), tuple(notes))


def _chosen_targets(targets: dict[str, Target], cores: str | None, problems: list[str]) -> list[Target]:
    chosen: list[Target] = list(targets.values()) if cores is None else []
    for name in _split(cores) if cores is not None else ():
        try:
            chosen += select([name], targets, "core")
        except TargetError as error:
            problems.append(f"--cores: {error}")
    # One canonical order, so the results do not depend on how --cores was typed.
    return sorted({target.name: target for target in chosen}.values(), key=core_order)


def _chosen_formats(formats: str | tuple[str, ...], problems: list[str]) -> list[NumberFormat]:
    chosen: list[NumberFormat] = []
    for text in _split(formats):
        try:
            chosen.append(parse_format(text))
        except QFormatError as error:
            problems.append(f"--formats: {error}{nearest_hint(text, usual_format_names())}")
    return chosen


def _chosen_opt(opt: str | tuple[str, ...], problems: list[str]) -> list[str]:
    chosen: list[str] = []
    for text in _split(opt):
        level = text.removeprefix("-")
        if level in OPT_LEVELS:
            chosen.append(level)
        else:
            problems.append(f"--opt: unknown optimisation level {text!r} (known: {', '.join(OPT_LEVELS)})"
                            f"{nearest_hint(level, OPT_LEVELS)}")  # fmt: skip
    return chosen


def _shapes(workload: Workload, settings: WorkloadSettings, hidden_layers: str | None, hidden_neurons: str | None,
            problems: list[str]) -> list[NetworkShape]:  # fmt: skip
    shapes: list[NetworkShape] = []
    layer_counts = _sizes("--hidden-layers", hidden_layers, problems)
    widths = _sizes("--hidden-neurons", hidden_neurons, problems)
    for layers in layer_counts:
        for width in widths:
            try:
                shapes.append(workload.shape(settings, layers, width))
            except NetworkError as error:
                problems.append(f"{workload.name}: {error}")
                break
    return shapes


def _variants(text: str | tuple[str, ...], problems: list[str]) -> list[Variant]:
    chosen: list[Variant] = []
    for name in _split(text):
        if name in Variant.__members__.values():
            chosen.append(Variant(name))
        else:
            known = list(Variant)
            problems.append(f"--variants: unknown variant {name!r} (known: {', '.join(known)})"
                            f"{nearest_hint(name, known)}")  # fmt: skip
    return chosen


def library_choices(
    library: Library, formats: list[NumberFormat], variants: list[Variant], notes: list[str]
) -> tuple[list[NumberFormat], list[Variant]]:
    """The chosen formats the library computes in (if none, its own: float32 for a float-only library) and the
    chosen variants it has; what it leaves out becomes a note, not a failure: the library cannot do it."""
    supports = library.supports
    computed = [fmt for fmt in formats if library.computes_in(fmt)]
    if not computed and formats and supports.float32 and not supports.fixed_point:
        computed = [FLOAT32]
    # A library of Q formats whose weights are always stored as values.
    narrow = [fmt.name for fmt in formats if fmt.weights is not None and supports.fixed_point
              and not supports.narrow_weights]  # fmt: skip
    if narrow:
        notes.append(f"{library.name} stores weights as values: no {', '.join(narrow)} cells ({library.name}'s "
                     f"qbench-library.toml [supports] narrow_weights = false)")  # fmt: skip
    left = [fmt.name for fmt in formats if fmt not in computed and fmt.name not in narrow]
    if left:
        notes.append(f"{library.name} computes in {', '.join(f.name for f in computed) or 'none of them'}; "
                     f"not in {', '.join(left)} ({library.name}'s qbench-library.toml [supports])")  # fmt: skip
    kept = [variant for variant in variants if variant != Variant.TRAINABLE or supports.training]
    if kept != variants:
        notes.append(f"{library.name} is inference-only: no trainable cells ({library.name}'s qbench-library.toml "
                     f"[supports] training = false)")  # fmt: skip
    return computed, kept


def _sizes(option: str, text: str | None, problems: list[str]) -> list[int | None]:
    """The whole numbers >= 1 of a comma-separated option; [None] (the workload's own) when not given."""
    if text is None:
        return [None]
    sizes = []
    for item in _split(text):
        if item.isdigit() and int(item) >= 1:
            sizes.append(int(item))
        else:
            digits = "".join(character for character in item if character.isdigit()).lstrip("0")
            hint = f"; did you mean {digits}?" if digits else ""
            problems.append(f"{option}: {item!r} is not a whole number >= 1{hint}")
    return sizes


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 1 <= I <= N."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count):
        raise ValueError(f"{text!r} is not a shard: give I/N with 1 <= I <= N, e.g. 2/4")
    return int(index), int(count)


def shard(matrix: Matrix, index: int, count: int) -> Matrix:
    """The deterministic index-th of count shares: every count-th cell, in an order that
    does not depend on how the matrix was typed. The shares cover the matrix exactly once."""

    def key(cell: Cell) -> tuple:
        return (cell.target.name, cell.workload.name, cell.shape.layer_sizes, cell.fmt.name, str(cell.variant),
                cell.opt, cell.library.name)  # fmt: skip

    everything = sorted([*matrix.cells, *(rejected.cell for rejected in matrix.rejected)], key=key)
    mine = {key(cell) for position, cell in enumerate(everything) if position % count == index - 1}
    return Matrix(
        tuple(cell for cell in matrix.cells if key(cell) in mine),
        tuple(rejected for rejected in matrix.rejected if key(rejected.cell) in mine),
        matrix.problems,
        matrix.notes,
    )


def rejection(cell: Cell, settings: WorkloadSettings) -> str | None:
    """Why this target or workload cannot build the cell, or None."""
    if cell.fmt.total_bits > cell.target.max_format_bits:
        return (
            f"{cell.fmt.name} is {cell.fmt.total_bits} bits wide; {cell.target.name} builds take formats up to "
            f"{cell.target.max_format_bits} bits (wider products need 128-bit integers)"
        )
    if cell.fmt.weights is not None and cell.variant == Variant.TRAINABLE:
        return f"{cell.fmt.name} has weights in their own format; {NARROW_WEIGHTS_TRAINING}"
    return cell.workload.rejection(cell.fmt, cell.variant == Variant.TRAINABLE, settings, cell.shape)
