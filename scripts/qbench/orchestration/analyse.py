"""The analyse stage: a cell's row from its stage records (the image and its baseline as measured, what the
host knows, the run and its priced regions), and what a run adds beside the row (the per-function
instruction split, the training log). Pure functions on the client: nothing here runs a tool."""

from __future__ import annotations

from dataclasses import dataclass, replace

from qbench.common.paths import shown
from qbench.execution.emulate import CellRun
from qbench.execution.figures import RegionFigures
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
from qbench.records.results import (
    ImageKey,
    InstructionRow,
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


def _difference(image: ImageSizes, baseline: ImageSizes) -> dict[str, int]:
    lib = {category: image.total(category) - baseline.total(category) for category in Category}
    return {
        "lib_code": lib[Category.CODE], "lib_rodata": lib[Category.RODATA], "lib_data": lib[Category.DATA],
        "lib_bss": lib[Category.BSS], "lib_flash": image.flash - baseline.flash,
        "lib_ram_static": image.ram_static - baseline.ram_static,
    }  # fmt: skip


def _image_columns(sizes: ImageSizes) -> dict[str, int]:
    return {
        "img_code": sizes.code, "img_rodata": sizes.rodata, "img_data": sizes.data, "img_bss": sizes.bss,
        "img_flash": sizes.flash, "img_ram_static": sizes.ram_static,
    }  # fmt: skip


def cell_row(cell: Cell, status: Status, message: str, common: dict, **columns) -> ResultRow:
    return ResultRow(
        core=cell.target.name, board=cell.target.board, qformat=cell.fmt.name, variant=str(cell.variant),
        opt=cell.opt, workload=cell.workload.name, library=cell.library.name, network=cell.shape.name,
        status=str(status), message=message,
        **common, **columns,
    )  # fmt: skip


def footprint_row(cell: Cell, built: Measured, baseline: Measured, common: dict) -> ResultRow:
    image = built.image
    paths = {"elf": shown(image.path) if image.path else "", "flags": image.flags}
    if not image.ok:
        return cell_row(cell, Status.BUILD_FAILED, image.error or "", common, flags=image.flags)
    if built.sizes is None:
        return cell_row(cell, Status.MEASURE_FAILED, built.error or "", common, **paths)
    if baseline.sizes is None:
        return cell_row(cell, Status.BASELINE_FAILED, f"empty baseline: {baseline.error}", common, **paths,
                        **_image_columns(built.sizes))  # fmt: skip
    test_data = sum(symbol.size for symbol in built.symbols if symbol.group == TEST_DATA_GROUP) or None
    library = _difference(built.sizes, baseline.sizes)
    return cell_row(cell, Status.OK, "", common, **paths, **_image_columns(built.sizes), **library,
                    test_data_bytes=test_data,
                    deployed_flash=deployed_flash_bytes(library["lib_flash"], test_data))  # fmt: skip


def _scale(raw: int, fractional_bits: int) -> float:
    return raw / float(1 << fractional_bits)


def with_host_figures(row: ResultRow, figures: HostFigures) -> ResultRow:
    """What the host knows of the cell's image: its size in connections, saturation, float accuracy."""
    return replace(
        row, connections=figures.connections, weights_saturated=figures.weights_saturated,
        inputs_saturated=figures.inputs_saturated, accuracy_float_host=figures.accuracy_float_host,
        test_set=figures.test_set or "", input_scaling=figures.input_scaling or "",
        quantization_error=figures.quantization_error,
        mae_float_host=figures.mae_float_host, rmse_float_host=figures.rmse_float_host,
        max_error_float_host=figures.max_error_float_host, initial_weights=figures.initial_weights or "",
    )  # fmt: skip


def _mismatch(device: tuple[int, ...], model: tuple[int, ...]) -> str | None:
    """Where the device's predictions leave the bit-exact model's, or None when they agree."""
    differing = [index for index, (a, b) in enumerate(zip(device, model, strict=True)) if a != b]
    if not differing:
        return None
    first = differing[0]
    return (f"{len(differing)} of {len(model)} predictions differ from qnn's bit-exact model, first test sample "
            f"{first}: device class {device[first]}, model class {model[first]}")  # fmt: skip


Weights = tuple[int | float, ...]


def _report_columns(cell: Cell, report, expected: tuple[int, ...] | None, deployed_weights: Weights | None = None,
                    host: HostFigures | None = None) -> tuple[dict, str | None, str]:  # fmt: skip
    """The firmware's own figures as columns, why its predictions fail the bit-exact model (or None), and a
    note for an ok row's message (an XOR run learned only through overflow), else ""."""
    if report.classification is not None and report.classification.regression:
        regressed = report.classification
        columns: dict = {"test_samples": regressed.total}
        if host is not None and host.test_targets is not None and len(host.test_targets) == regressed.total:
            bits = cell.fmt.report_fractional_bits
            units = [_scale(raw, bits) * host.target_scale + host.target_offset for raw in regressed.predictions]
            mae, rmse, largest = errors(units, host.test_targets)
            columns |= {"mae_device": mae, "rmse_device": rmse, "max_error_device": largest}
        if expected is None:
            return columns, None, ""
        difference = _mismatch(regressed.predictions, expected)
        return columns | {"matches_reference": difference is None}, difference, ""
    if report.classification is not None:
        classified = report.classification
        columns = {"accuracy_device": classified.correct / classified.total, "test_samples": classified.total}
        if expected is None:
            return columns, None, ""
        difference = _mismatch(classified.predictions, expected)
        return columns | {"matches_reference": difference is None}, difference, ""
    bits = cell.fmt.report_fractional_bits
    columns = {
        "learned": report.learned,
        "iterations": report.iterations if cell.variant == Variant.TRAINABLE else None,
        "final_error": _scale(report.final_error, bits),
        "outputs": ";".join(f"{_scale(value, bits):.6g}" for value in report.outputs),
    }  # fmt: skip
    exact = _exact_verdict(cell, report, deployed_weights)
    if exact is None:
        return columns, None, ""
    note = overflow_message(exact.outputs) if learned_only_through_overflow(report.learned, exact.learned) else ""
    return columns | {"learned_exact": exact.learned}, None, note


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


def _region_columns(cell: Cell, priced: Priced) -> dict:
    columns: dict = {"cycle_model": priced.cycle_model}
    for name, cycles in priced.comparison.items():
        columns[f"est_cycles_{name}_llvm"] = cycles.central
    for name, figures in priced.regions.items():
        columns |= {f"instr_{name}": figures.instructions, f"instr_{name}_min": figures.minimum,
                    f"instr_{name}_max": figures.maximum, f"instr_{name}_occurrences": figures.occurrences,
                    "instr_markers": figures.markers}  # fmt: skip
        if figures.cycles is not None:
            columns |= _cycle_columns(cell, figures)
    return columns


def _cycle_columns(cell: Cell, figures: RegionFigures) -> dict:
    name, cycles, worst = figures.name, figures.cycles, figures.worst
    return {
        f"est_cycles_{name}": cycles.central, f"est_cycles_{name}_min": cycles.minimum,
        f"est_cycles_{name}_max": cycles.maximum,
        f"est_cycles_{name}_worst_min": worst.cycles.minimum, f"est_cycles_{name}_worst_central": worst.cycles.central,
        f"est_cycles_{name}_worst_max": worst.cycles.maximum, f"est_cycles_{name}_worst_occurrence": worst.occurrence,
        f"instr_{name}_worst": worst.instructions, f"nonseq_fetches_{name}_worst": worst.nonsequential,
        f"est_us_{name}": cycles.central / cell.target.clock_hz * 1e6,
        f"est_us_{name}_worst": worst.cycles.maximum / cell.target.clock_hz * 1e6,
        f"est_cycles_{name}_unpriced": figures.unpriced, f"nonseq_fetches_{name}": figures.nonsequential,
    }  # fmt: skip


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


def with_run(row: ResultRow, cell: Cell, records: RunRecords) -> ResultRow:
    emulated = records.run.emulated
    status, message = emulated.status, emulated.message
    columns: dict = {"qemu": records.emulator, "emulated_cpu": cell.target.emulated_cpu or ""}
    if emulated.report is not None:
        figures, mismatch, note = _report_columns(cell, emulated.report, records.expected, records.deployed_weights,
                                                  records.host)  # fmt: skip
        columns |= figures
        if mismatch is not None and status == Status.OK:
            status, message = Status.REFERENCE_MISMATCH, mismatch
        elif note and status == Status.OK:
            message = note
    peak = stack_peak(records.run, records.priced)
    if peak is not None:
        columns |= _stack_columns(row, cell, records, peak)
        size = emulated.report.stack.size_bytes
        if peak > size and status == Status.OK:
            status, message = Status.STACK_OVERFLOW, (
                f"the stack pointer went {peak} bytes deep, past the bottom of its {size}-byte region")
    if status == Status.OK and records.priced is None:
        status, message = Status.TRACE_FAILED, records.run.count_message or records.pricing_error
    elif records.priced is not None:
        columns |= _region_columns(cell, records.priced)
        message = "; ".join(part for part in (message, records.priced.note) if part)
    if status != Status.OK:
        columns.pop("learned_exact", None)  # a failed run has no learning verdict
    return replace(row, status=str(status), message=message, **columns)


def _stack_columns(row: ResultRow, cell: Cell, records: RunRecords, peak: int) -> dict:
    priced = records.priced
    columns = {"stack_peak": peak, "ram_total": row.img_data + row.img_bss + peak,
               "exception_frame": cell.target.exception_frame_bytes,
               "stack_painted": records.run.emulated.report.stack.peak_bytes,
               "stack_sp_depth": priced.stack_sp_depth if priced is not None else None}  # fmt: skip
    if records.baseline_peak is not None:
        columns["lib_ram_total"] = row.lib_ram_static + peak - records.baseline_peak
    return columns


def incomplete(row: ResultRow, stage: str) -> ResultRow:
    return replace(row, status=str(Status.INCOMPLETE), message=f"the run was interrupted before this cell's {stage}")


def image_key(cell: Cell) -> dict[str, str]:
    return vars(ImageKey(cell.target.name, cell.fmt.name, str(cell.variant), cell.opt, cell.workload.name,
                         cell.library.name, cell.shape.name))  # fmt: skip


def run_tables(
    cell: Cell, run: CellRun, priced: Priced | None
) -> tuple[tuple[InstructionRow, ...], TrainingLog | None]:
    """A run's per-function instruction split and training log, for instructions.csv and training/."""
    key = image_key(cell)
    instructions = tuple(
        InstructionRow(**key, region=region.name, function=function, instructions=count)
        for region in (priced.regions if priced is not None else {}).values()
        for function, count in region.functions.items()
    )  # fmt: skip
    report = run.emulated.report
    if report is None or not report.log:
        return instructions, None
    return instructions, TrainingLog(**key, fractional_bits=cell.fmt.report_fractional_bits, entries=report.log)


def image_symbols(cell: Cell, built: Measured) -> tuple[SymbolRow, ...]:
    return tuple(
        SymbolRow(cell.target.name, cell.fmt.name, str(cell.variant), cell.opt, cell.workload.name, cell.library.name,
                  cell.shape.name, s.name, s.group, str(s.category), s.size, s.prefix_group)
        for s in built.symbols
    )  # fmt: skip


def baseline_symbols(core: str, opt: str, built: Measured) -> tuple[SymbolRow, ...]:
    workload = built.image.spec.workload.name
    image = (core, "", "baseline", opt, workload, "", "")
    return tuple(SymbolRow(*image, s.name, s.group, str(s.category), s.size, s.prefix_group) for s in built.symbols)


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
