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


@dataclass(frozen=True)
class MatrixRequest:
    """The matrix as the user names it, one tuple of names per dimension, each name checked when the matrix is
    expanded. None: every core, the workload's own variants, the workload's own network size."""

    cores: tuple[str, ...] | None = None
    formats: tuple[str, ...] = DEFAULT_FORMATS
    variants: tuple[str, ...] | None = None
    opt: tuple[str, ...] = DEFAULT_OPT
    workload: str = "xor"
    settings: WorkloadSettings = DEFAULT_SETTINGS
    libraries: tuple[Library, ...] = (QNN,)
    hidden_layers: tuple[str, ...] | None = None
    hidden_neurons: tuple[str, ...] | None = None


def expand(
    targets: dict[str, Target], workloads: Mapping[str, Workload], request: MatrixRequest = MatrixRequest()
) -> Matrix:
    problems: list[str] = []
    chosen_targets = _chosen_targets(targets, request.cores, problems)
    chosen_formats = _chosen_formats(request.formats, problems)
    given_variants = _variants(request.variants, problems) if request.variants is not None else []
    chosen_opt = _chosen_opt(request.opt, problems)
    try:
        workload = workloads.get(request.workload)
    except WorkloadError as error:  # its workload.toml is malformed; other workloads are unaffected
        return Matrix((), (), (*problems, str(error)))
    if workload is None:
        problems.append(
            f"--workload: unknown workload {request.workload!r} (known: {', '.join(sorted(workloads))})"
            f"{nearest_hint(request.workload, workloads)}"
        )
        return Matrix((), (), tuple(problems))
    # Not given: the workload's own (inference alone for a workload trained on the host).
    variants = _variants(workload.default_variants, problems) if request.variants is None else given_variants
    shapes = _shapes(workload, request, problems)
    cells, rejected, notes = [], [], []
    for library in request.libraries:
        formats_computed, variants_computed = library_choices(library, chosen_formats, variants, notes)
        dimensions = (chosen_targets, shapes, formats_computed, variants_computed, chosen_opt)
        for target, shape, fmt, variant, level in product(*dimensions):
            cell = Cell(target, workload, fmt, variant, level, shape, library, len(shapes) > 1)
            reason = rejection(cell, request.settings)
            if reason is None:
                cells.append(cell)
            else:
                rejected.append(RejectedCell(cell, reason))
    return Matrix(tuple(cells), tuple(rejected), tuple(problems), tuple(notes))


def _chosen_targets(targets: dict[str, Target], cores: tuple[str, ...] | None, problems: list[str]) -> list[Target]:
    chosen: list[Target] = list(targets.values()) if cores is None else []
    for name in cores or ():
        try:
            chosen += select([name], targets, "core")
        except TargetError as error:
            problems.append(f"--cores: {error}")
    # One canonical order, so the results do not depend on how --cores was typed.
    return sorted({target.name: target for target in chosen}.values(), key=core_order)


def _chosen_formats(formats: tuple[str, ...], problems: list[str]) -> list[NumberFormat]:
    chosen: list[NumberFormat] = []
    for text in formats:
        try:
            chosen.append(parse_format(text))
        except QFormatError as error:
            problems.append(f"--formats: {error}{nearest_hint(text, usual_format_names())}")
    return chosen


def _chosen_opt(opt: tuple[str, ...], problems: list[str]) -> list[str]:
    chosen: list[str] = []
    for text in opt:
        level = text.removeprefix("-")
        if level in OPT_LEVELS:
            chosen.append(level)
        else:
            problems.append(
                f"--opt: unknown optimisation level {text!r} (known: {', '.join(OPT_LEVELS)})"
                f"{nearest_hint(level, OPT_LEVELS)}"
            )
    return chosen


def _shapes(workload: Workload, request: MatrixRequest, problems: list[str]) -> list[NetworkShape]:
    shapes: list[NetworkShape] = []
    layer_counts = _sizes("--hidden-layers", request.hidden_layers, problems)
    widths = _sizes("--hidden-neurons", request.hidden_neurons, problems)
    for layers in layer_counts:
        for width in widths:
            try:
                shapes.append(workload.shape(request.settings, layers, width))
            except NetworkError as error:
                problems.append(f"{workload.name}: {error}")
                break
    return shapes


def _variants(names: tuple[str, ...], problems: list[str]) -> list[Variant]:
    chosen: list[Variant] = []
    for name in names:
        if name in Variant.__members__.values():
            chosen.append(Variant(name))
        else:
            known = list(Variant)
            problems.append(
                f"--variants: unknown variant {name!r} (known: {', '.join(known)}){nearest_hint(name, known)}"
            )
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
    narrow = [
        fmt.name for fmt in formats if fmt.weights is not None and supports.fixed_point and not supports.narrow_weights
    ]
    if narrow:
        notes.append(
            f"{library.name} stores weights as values: no {', '.join(narrow)} cells ({library.name}'s "
            f"qbench-library.toml [supports] narrow_weights = false)"
        )
    left = [fmt.name for fmt in formats if fmt not in computed and fmt.name not in narrow]
    if left:
        notes.append(
            f"{library.name} computes in {', '.join(f.name for f in computed) or 'none of them'}; "
            f"not in {', '.join(left)} ({library.name}'s qbench-library.toml [supports])"
        )
    kept = [variant for variant in variants if variant != Variant.TRAINABLE or supports.training]
    if kept != variants:
        notes.append(
            f"{library.name} is inference-only: no trainable cells ({library.name}'s qbench-library.toml "
            f"[supports] training = false)"
        )
    return computed, kept


def _sizes(option: str, items: tuple[str, ...] | None, problems: list[str]) -> list[int | None]:
    """The whole numbers >= 1 an option names; [None] (the workload's own) when not given."""
    if items is None:
        return [None]
    sizes = []
    for item in items:
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
        return (
            cell.target.name,
            cell.workload.name,
            cell.shape.layer_sizes,
            cell.fmt.name,
            str(cell.variant),
            cell.opt,
            cell.library.name,
        )

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
