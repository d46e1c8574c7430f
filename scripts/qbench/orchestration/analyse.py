"""The analyse stage: a cell's row from its stage records (the image and its baseline as measured, what the
host knows, the run and its priced regions), and what a run adds beside the row (the per-function
instruction split, the training log). Pure functions on the client: nothing here runs a tool."""

from __future__ import annotations

from dataclasses import dataclass, replace

from qbench.common.paths import shown
from qbench.execution.emulate import CellRun
from qbench.execution.figures import RegionFigures
from qbench.execution.timing import CycleRange
from qbench.images.matrix import Cell, Variant
from qbench.images.workloads import HostFigures
from qbench.models.classification import errors
from qbench.models.learning import (
    ExactVerdict,
    exact_xor_verdict,
    final_raw_weights,
    learned_only_through_overflow,
    overflow_message,
)
from qbench.orchestration.tasks import Priced
from qbench.records.keys import CellKey
from qbench.records.results import (
    InstructionRow,
    Provenance,
    RegionRow,
    ResultRow,
    Status,
    SymbolRow,
    TrainingLog,
    deployed_flash_bytes,
)
from qbench.sizes.elfsize import Category, ImageSizes
from qbench.sizes.measure import Measured
from qbench.sizes.symbols import TEST_DATA_GROUP


@dataclass(frozen=True)
class CellOutcome:
    """Everything a cell adds to the results: its row, its image's symbols, its run's instruction split and
    training log."""

    row: ResultRow
    symbols: tuple[SymbolRow, ...] = ()
    instructions: tuple[InstructionRow, ...] = ()
    training: TrainingLog | None = None


@dataclass(frozen=True)
class Sizes:
    """The six size columns of an image, or of what the library adds to the empty baseline (bytes)."""

    code: int
    rodata: int
    data: int
    bss: int
    flash: int
    ram_static: int


def image_sizes(sizes: ImageSizes) -> Sizes:
    return Sizes(sizes.code, sizes.rodata, sizes.data, sizes.bss, sizes.flash, sizes.ram_static)


def library_sizes(image: ImageSizes, baseline: ImageSizes) -> Sizes:
    """What the library adds to the empty baseline image."""
    lib = {category: image.total(category) - baseline.total(category) for category in Category}
    return Sizes(
        code=lib[Category.CODE],
        rodata=lib[Category.RODATA],
        data=lib[Category.DATA],
        bss=lib[Category.BSS],
        flash=image.flash - baseline.flash,
        ram_static=image.ram_static - baseline.ram_static,
    )


def _with_image_sizes(row: ResultRow, sizes: Sizes) -> ResultRow:
    return replace(
        row,
        img_code=sizes.code,
        img_rodata=sizes.rodata,
        img_data=sizes.data,
        img_bss=sizes.bss,
        img_flash=sizes.flash,
        img_ram_static=sizes.ram_static,
    )


def _with_library_sizes(row: ResultRow, sizes: Sizes, test_data: int | None) -> ResultRow:
    return replace(
        row,
        lib_code=sizes.code,
        lib_rodata=sizes.rodata,
        lib_data=sizes.data,
        lib_bss=sizes.bss,
        lib_flash=sizes.flash,
        lib_ram_static=sizes.ram_static,
        test_data_bytes=test_data,
        deployed_flash=deployed_flash_bytes(sizes.flash, test_data),
    )


def cell_row(cell: Cell, status: Status, message: str, provenance: Provenance) -> ResultRow:
    """A cell's row with nothing measured yet."""
    return ResultRow(
        core=cell.target.name,
        board=cell.target.board,
        qformat=cell.fmt.name,
        variant=str(cell.variant),
        opt=cell.opt,
        workload=cell.workload.name,
        library=cell.library.name,
        network=cell.shape.name,
        status=status,
        message=message,
        git_sha=provenance.git_sha,
        git_dirty=provenance.git_dirty,
    )


def footprint_row(cell: Cell, built: Measured, baseline: Measured, provenance: Provenance) -> ResultRow:
    image = built.image
    if not image.ok:
        return replace(cell_row(cell, Status.BUILD_FAILED, image.error or "", provenance), flags=image.flags)
    located = replace(
        cell_row(cell, Status.OK, "", provenance), elf=shown(image.path) if image.path else "", flags=image.flags
    )
    if built.sizes is None:
        return replace(located, status=Status.MEASURE_FAILED, message=built.error or "")
    measured = _with_image_sizes(located, image_sizes(built.sizes))
    if baseline.sizes is None:
        return replace(measured, status=Status.BASELINE_FAILED, message=f"empty baseline: {baseline.error}")
    test_data = sum(symbol.size for symbol in built.symbols if symbol.group == TEST_DATA_GROUP) or None
    return _with_library_sizes(measured, library_sizes(built.sizes, baseline.sizes), test_data)


def _scale(raw: int, fractional_bits: int) -> float:
    return raw / float(1 << fractional_bits)


def with_host_figures(row: ResultRow, figures: HostFigures) -> ResultRow:
    """What the host knows of the cell's image: its size in connections, saturation, float accuracy."""
    return replace(
        row,
        connections=figures.connections,
        weights_saturated=figures.weights_saturated,
        inputs_saturated=figures.inputs_saturated,
        accuracy_float_host=figures.accuracy_float_host,
        test_set=figures.test_set or "",
        input_scaling=figures.input_scaling or "",
        quantization_error=figures.quantization_error,
        mae_float_host=figures.mae_float_host,
        rmse_float_host=figures.rmse_float_host,
        max_error_float_host=figures.max_error_float_host,
        initial_weights=figures.initial_weights or "",
    )


def _mismatch(device: tuple[int, ...], model: tuple[int, ...]) -> str | None:
    """Where the device's predictions leave the bit-exact model's, or None when they agree."""
    differing = [index for index, (a, b) in enumerate(zip(device, model, strict=True)) if a != b]
    if not differing:
        return None
    first = differing[0]
    return (
        f"{len(differing)} of {len(model)} predictions differ from qnn's bit-exact model, first test sample "
        f"{first}: device class {device[first]}, model class {model[first]}"
    )


Weights = tuple[int | float, ...]


@dataclass(frozen=True)
class DeviceFigures:
    """What the firmware reported of its run, as the row's columns (None or "": not reported by this workload)."""

    test_samples: int | None = None
    accuracy_device: float | None = None  # a classifier's
    mae_device: float | None = None  # a regression's, in the target's units
    rmse_device: float | None = None
    max_error_device: float | None = None
    matches_reference: bool | None = None  # None: not compared with the bit-exact model
    learned: bool | None = None  # XOR's
    iterations: int | None = None
    final_error: float | None = None
    outputs: str = ""
    learned_exact: bool | None = None


def _with_device(row: ResultRow, figures: DeviceFigures) -> ResultRow:
    return replace(
        row,
        test_samples=figures.test_samples,
        accuracy_device=figures.accuracy_device,
        mae_device=figures.mae_device,
        rmse_device=figures.rmse_device,
        max_error_device=figures.max_error_device,
        matches_reference=figures.matches_reference,
        learned=figures.learned,
        iterations=figures.iterations,
        final_error=figures.final_error,
        outputs=figures.outputs,
        learned_exact=figures.learned_exact,
    )


def _compared(
    figures: DeviceFigures, predictions: tuple[int, ...], expected: tuple[int, ...] | None
) -> tuple[DeviceFigures, str | None]:
    """The figures with whether the predictions match the bit-exact model's, and where they do not (or None)."""
    if expected is None:
        return figures, None
    difference = _mismatch(predictions, expected)
    return replace(figures, matches_reference=difference is None), difference


def _regression_figures(
    cell: Cell, regressed, expected: tuple[int, ...] | None, host: HostFigures | None
) -> tuple[DeviceFigures, str | None]:
    figures = DeviceFigures(test_samples=regressed.total)
    if host is not None and host.test_targets is not None and len(host.test_targets) == regressed.total:
        bits = cell.fmt.report_fractional_bits
        units = [_scale(raw, bits) * host.target_scale + host.target_offset for raw in regressed.predictions]
        mae, rmse, largest = errors(units, host.test_targets)
        figures = replace(figures, mae_device=mae, rmse_device=rmse, max_error_device=largest)
    return _compared(figures, regressed.predictions, expected)


def _classification_figures(classified, expected: tuple[int, ...] | None) -> tuple[DeviceFigures, str | None]:
    figures = DeviceFigures(test_samples=classified.total, accuracy_device=classified.correct / classified.total)
    return _compared(figures, classified.predictions, expected)


def _xor_figures(cell: Cell, report, deployed_weights: Weights | None) -> tuple[DeviceFigures, str]:
    """XOR's figures, and a note for an ok row's message when it learned only through overflow (else "")."""
    bits = cell.fmt.report_fractional_bits
    figures = DeviceFigures(
        learned=report.learned,
        iterations=report.iterations if cell.variant == Variant.TRAINABLE else None,
        final_error=_scale(report.final_error, bits),
        outputs=";".join(f"{_scale(value, bits):.6g}" for value in report.outputs),
    )
    exact = _exact_verdict(cell, report, deployed_weights)
    if exact is None:
        return figures, ""
    note = overflow_message(exact.outputs) if learned_only_through_overflow(report.learned, exact.learned) else ""
    return replace(figures, learned_exact=exact.learned), note


def _exact_verdict(cell: Cell, report, deployed: tuple[int | float, ...] | None) -> ExactVerdict | None:
    """The device's final XOR weights in exact arithmetic: a trainable run's last logged weights (when logged
    at its last iteration), an inference image's deployed ones (in its weight format); None for float formats."""
    if cell.fmt.floating:
        return None
    if cell.variant == Variant.TRAINABLE:
        weights = final_raw_weights([(entry.iteration, entry.weights) for entry in report.log], report.iterations)
    else:
        weights = deployed
    if weights is None:
        return None
    return exact_xor_verdict(cell.shape, weights, cell.fmt.weight_format.fractional_bits)


def stack_peak(run: CellRun, priced: Priced | None) -> int | None:
    """The deeper of what the whole run wrote on the painted stack and where its stack pointer went (reserved
    but unwritten words count too)."""
    report = run.emulated.report
    if report is None or report.stack is None:
        return None
    traced = priced.stack_sp_depth if priced is not None and priced.stack_sp_depth is not None else 0
    return max(report.stack.peak_bytes, traced)


def region_row(figures: RegionFigures, clock_hz: float, llvm: CycleRange | None = None) -> RegionRow:
    """A region's figures as the row holds them: microseconds at the core's clock; llvm: LLVM's model's mean
    beside a TRM table's (None: no second model)."""
    counted = RegionRow(
        name=figures.name,
        instructions=figures.instructions,
        minimum=figures.minimum,
        maximum=figures.maximum,
        occurrences=figures.occurrences,
        markers=figures.markers,
        llvm=None if llvm is None else llvm.central,
    )
    if figures.cycles is None:
        return counted
    cycles, worst = figures.cycles, figures.worst
    return replace(
        counted,
        cycles=cycles.central,
        cycles_min=cycles.minimum,
        cycles_max=cycles.maximum,
        worst_min=worst.cycles.minimum,
        worst_central=worst.cycles.central,
        worst_max=worst.cycles.maximum,
        worst_occurrence=worst.occurrence,
        worst_instructions=worst.instructions,
        worst_nonsequential=worst.nonsequential,
        us=cycles.central / clock_hz * 1e6,
        us_worst=worst.cycles.maximum / clock_hz * 1e6,
        unpriced=figures.unpriced,
        nonsequential=figures.nonsequential,
    )


@dataclass(frozen=True)
class RunRecords:
    """A cell's run as the analyse stage takes it: the run, its priced regions (or why there are none), the
    baseline's stack peak, the emulator, and the predictions the bit-exact model makes (None: not compared)."""

    run: CellRun
    priced: Priced | None
    pricing_error: str
    baseline_peak: int | None
    emulator: str
    expected: tuple[int, ...] | None
    deployed_weights: tuple[int | float, ...] | None = None  # an inference image's, in qbench's order
    host: HostFigures | None = None  # what the host knows of the image (a regression's targets)


def _failed(row: ResultRow, status: Status, message: str) -> ResultRow:
    """The row failed with status, unless it failed already (the first failure is the one a row names)."""
    return replace(row, status=status, message=message) if row.status == Status.OK else row


def _with_report(row: ResultRow, cell: Cell, records: RunRecords) -> ResultRow:
    """The firmware's own figures, and the row failed when its predictions leave the bit-exact model's."""
    report = records.run.emulated.report
    mismatch, note = None, ""
    if report.classification is not None and report.classification.regression:
        figures, mismatch = _regression_figures(cell, report.classification, records.expected, records.host)
    elif report.classification is not None:
        figures, mismatch = _classification_figures(report.classification, records.expected)
    else:
        figures, note = _xor_figures(cell, report, records.deployed_weights)
    row = _with_device(row, figures)
    if mismatch is not None:
        return _failed(row, Status.REFERENCE_MISMATCH, mismatch)
    return replace(row, message=note) if note and row.status == Status.OK else row


@dataclass(frozen=True)
class StackFigures:
    """How deep the run's stack went and the RAM that makes (bytes)."""

    peak: int  # stack_peak
    painted: int
    sp_depth: int | None
    ram_total: int
    exception_frame: int
    lib_ram_total: int | None  # None: the baseline's peak is unknown


def _stack_figures(row: ResultRow, cell: Cell, records: RunRecords, peak: int) -> StackFigures:
    priced = records.priced
    return StackFigures(
        peak=peak,
        painted=records.run.emulated.report.stack.peak_bytes,
        sp_depth=priced.stack_sp_depth if priced is not None else None,
        ram_total=row.img_data + row.img_bss + peak,
        exception_frame=cell.target.exception_frame_bytes,
        lib_ram_total=None if records.baseline_peak is None else row.lib_ram_static + peak - records.baseline_peak,
    )


def _with_stack(row: ResultRow, stack: StackFigures, size: int) -> ResultRow:
    """The stack's figures, and the row failed when the stack went past the bottom of its size-byte region."""
    row = replace(
        row,
        stack_peak=stack.peak,
        stack_painted=stack.painted,
        stack_sp_depth=stack.sp_depth,
        ram_total=stack.ram_total,
        exception_frame=stack.exception_frame,
        lib_ram_total=stack.lib_ram_total,
    )
    if stack.peak <= size:
        return row
    overflow = f"the stack pointer went {stack.peak} bytes deep, past the bottom of its {size}-byte region"
    return _failed(row, Status.STACK_OVERFLOW, overflow)


def _with_priced(row: ResultRow, cell: Cell, priced: Priced) -> ResultRow:
    regions = [
        region_row(figures, cell.target.clock_hz, priced.comparison.get(name))
        for name, figures in priced.regions.items()
    ]
    message = "; ".join(part for part in (row.message, priced.note) if part)
    return replace(row.with_regions(regions), cycle_model=priced.cycle_model, message=message)


def with_run(row: ResultRow, cell: Cell, records: RunRecords) -> ResultRow:
    """The row with its run: the firmware's figures, the stack, the priced regions; the first failure named."""
    emulated = records.run.emulated
    row = replace(
        row,
        status=emulated.status,
        message=emulated.message,
        qemu=records.emulator,
        emulated_cpu=cell.target.emulated_cpu or "",
    )
    if emulated.report is not None:
        row = _with_report(row, cell, records)
    peak = stack_peak(records.run, records.priced)
    if peak is not None:
        row = _with_stack(row, _stack_figures(row, cell, records, peak), emulated.report.stack.size_bytes)
    if records.priced is None:
        row = _failed(row, Status.TRACE_FAILED, records.run.count_message or records.pricing_error)
    else:
        row = _with_priced(row, cell, records.priced)
    return row if row.status == Status.OK else replace(row, learned_exact=None)  # a failed run has no verdict


def incomplete(row: ResultRow, stage: str) -> ResultRow:
    return replace(row, status=Status.INCOMPLETE, message=f"the run was interrupted before this cell's {stage}")


def image_key(cell: Cell) -> dict[str, str]:
    return CellKey.of(cell).as_dict()


def run_tables(
    cell: Cell, run: CellRun, priced: Priced | None
) -> tuple[tuple[InstructionRow, ...], TrainingLog | None]:
    """A run's per-function instruction split and training log, for instructions.csv and training/."""
    key = image_key(cell)
    instructions = tuple(
        InstructionRow(**key, region=region.name, function=function, instructions=count)
        for region in (priced.regions if priced is not None else {}).values()
        for function, count in region.functions.items()
    )
    report = run.emulated.report
    if report is None or not report.log:
        return instructions, None
    return instructions, TrainingLog(**key, fractional_bits=cell.fmt.report_fractional_bits, entries=report.log)


def _symbol_rows(image: CellKey, built: Measured) -> tuple[SymbolRow, ...]:
    key = image.as_dict()
    return tuple(
        SymbolRow(
            **key,
            symbol=symbol.name,
            group=symbol.group,
            category=str(symbol.category),
            size=symbol.size,
            prefix_group=symbol.prefix_group,
        )
        for symbol in built.symbols
    )


def image_symbols(cell: Cell, built: Measured) -> tuple[SymbolRow, ...]:
    return _symbol_rows(CellKey.of(cell), built)


def baseline_symbols(core: str, opt: str, built: Measured) -> tuple[SymbolRow, ...]:
    return _symbol_rows(CellKey.baseline(core, opt, built.image.spec.workload.name), built)


def describe_run(cell: Cell, run: CellRun) -> tuple[str, str, bool]:
    """A cell's run for the progress display: label, detail, failed."""
    emulated = run.emulated
    if emulated.status != Status.OK:
        return cell.label, f"{emulated.status} {emulated.message}", True
    report = emulated.report
    if report.classification is not None:
        right = report.classification
        if right.regression:
            return cell.label, f"{right.total} outputs reported", False
        return cell.label, f"{right.correct} of {right.total} classified right", False
    if report.variant != Variant.TRAINABLE:
        return cell.label, "outputs right" if report.learned else "outputs wrong", False
    learned = f"learned after {report.iterations} iterations" if report.learned else "did not learn"
    return cell.label, learned, False
