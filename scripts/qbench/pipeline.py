"""The benchmark pipeline: matrix -> builds -> ELF sizes and symbols -> emulated
runs and traces -> result rows.

Every cell ends as exactly one row with a status; a cell that fails (missing
tool, compile error, unreadable ELF, fault, timeout...) says why, keeps what
was measured before the failure, and the other cells carry on. An interrupted
run (Ctrl-C, SIGTERM) stops its children and returns what finished, the rest
marked incomplete; the cache lets the next run pick up from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

from . import processes
from .build import BuildSpec, Image, build, plan
from .cache import Cache
from .elfsize import Category, ImageSizes
from .emulate import CellRun, Emulated, count_instructions, run_baseline, run_workload
from .matrix import Cell, Matrix, Variant
from .measure import Measured, measure
from .paths import shown
from .progress import Progress
from .protocol import StackUse
from .provenance import Revision
from .results import ImageKey, InstructionRow, ResultRow, Status, SymbolRow, TrainingLog
from .runners import RunnerUnavailable, runner_for
from .runners.qemu import EMULATOR
from .symbols import TEST_DATA_GROUP
from .timing import TimingModel, load_timing_models
from .toolchain import ToolNotFound, require, version
from .workloads import HostFigures, WorkloadSettings


@dataclass(frozen=True)
class RunOptions:
    build_root: Path
    jobs: int
    cache: Cache
    emulate: bool = True
    timeout: float = 60.0  # seconds per emulator run
    settings: WorkloadSettings = WorkloadSettings()


@dataclass(frozen=True)
class RunOutput:
    rows: list[ResultRow]
    symbols: list[SymbolRow]
    instructions: list[InstructionRow]
    training: list[TrainingLog]
    tools: dict[str, str]  # tool -> version, for the environment block
    interrupted: bool = False


Outcome = tuple[str, str, bool]  # label, detail, failed


def check_tools(tools: Iterable[str], progress: Progress) -> tuple[dict[str, str], dict[str, str]]:
    """(version of each tool found, message for each one missing)."""
    found: dict[str, str] = {}
    missing: dict[str, str] = {}
    for tool in sorted(set(tools)):
        try:
            require(tool)
            found[tool] = version(tool)
        except ToolNotFound as error:
            missing[tool] = str(error)
            progress.note(f"error: {error}")
    return found, missing


def baseline_specs(cells: list[Cell]) -> dict[tuple[str, str], BuildSpec]:
    """One empty baseline per (core, -O level) among the cells."""
    return {(cell.target.name, cell.opt): BuildSpec.baseline(cell.target, cell.opt) for cell in cells}


def parallel(
    work: Callable, items: list, jobs: int, stage: str, describe: Callable, progress: Progress
) -> tuple[dict, bool]:
    """work(item) for every item on jobs threads, reporting each as it finishes.
    Returns the results and whether the run was interrupted (Ctrl-C or SIGTERM): then
    the children are killed, unfinished items are dropped and nothing more starts."""
    results: dict = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    pending = {pool.submit(work, item): item for item in items}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                results[item] = future.result()
                progress.done(stage, *describe(item, results[item]))
    except KeyboardInterrupt:
        processes.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        return results, True
    pool.shutdown()
    return results, False


def build_all(
    specs: list[BuildSpec], root: Path, jobs: int, cache: Cache, progress: Progress
) -> tuple[dict[BuildSpec, Measured], bool]:
    def work(spec: BuildSpec) -> Measured:
        try:
            planned = plan(spec, root)
        except ValueError as error:  # the workload could not prepare its sources (host training, a data set...)
            message = f"preparing the sources: {error}"
            return Measured(Image(spec, None, "", message), None, (), message)
        key = cache.build_key(planned, version(spec.target.compiler))
        cached = cache.fetch_build(key, planned)
        if cached is not None:
            return cached
        result = measure(build(planned))
        if not processes.stopping():
            cache.store_build(key, result)
        return result

    def describe(spec: BuildSpec, result: Measured) -> Outcome:
        return spec.label, result.error or "", result.error is not None

    progress.begin("build", len(specs))
    return parallel(work, specs, jobs, "build", describe, progress)


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


def _row(cell: Cell, status: Status, message: str, common: dict, **columns) -> ResultRow:
    return ResultRow(
        core=cell.target.name, board=cell.target.board, qformat=cell.fmt.name, variant=str(cell.variant),
        opt=cell.opt, workload=cell.workload.name, library=cell.library.name, network=cell.shape.name,
        status=str(status), message=message,
        **common, **columns,
    )  # fmt: skip


def _footprint_row(cell: Cell, built: Measured, baseline: Measured, common: dict) -> ResultRow:
    image = built.image
    paths = {"elf": shown(image.path) if image.path else "", "flags": image.flags}
    if not image.ok:
        return _row(cell, Status.BUILD_FAILED, image.error or "", common, flags=image.flags)
    if built.sizes is None:
        return _row(cell, Status.MEASURE_FAILED, built.error or "", common, **paths)
    if baseline.sizes is None:
        return _row(cell, Status.BASELINE_FAILED, f"empty baseline: {baseline.error}", common, **paths,
                    **_image_columns(built.sizes))  # fmt: skip
    test_data = sum(symbol.size for symbol in built.symbols if symbol.group == TEST_DATA_GROUP) or None
    return _row(cell, Status.OK, "", common, **paths, **_image_columns(built.sizes),
                **_difference(built.sizes, baseline.sizes), test_data_bytes=test_data)  # fmt: skip


def _run_cell(cell: Cell, elf: Path, trace_elf: Path, timing: TimingModel | None, options: RunOptions) -> CellRun:
    runner = runner_for(cell.target)
    emulated = run_workload(runner, elf, cell.target, options.timeout)
    if emulated.status != Status.OK:
        return CellRun(emulated)
    regions, message = count_instructions(runner, trace_elf, cell.target, options.timeout, timing)
    return CellRun(replace(emulated, regions=regions), trace_elf, message)


def _scale(raw: int, fractional_bits: int) -> float:
    return raw / float(1 << fractional_bits)


def _with_host_figures(row: ResultRow, figures: HostFigures) -> ResultRow:
    """What the host knows of the cell's image: its size in connections, saturation, float accuracy."""
    return replace(
        row, connections=figures.connections, weights_saturated=figures.weights_saturated,
        inputs_saturated=figures.inputs_saturated, accuracy_float_host=figures.accuracy_float_host,
    )  # fmt: skip


def _mismatch(device: tuple[int, ...], model: tuple[int, ...]) -> str | None:
    """Where the device's predictions leave the bit-exact model's, or None when they agree."""
    differing = [index for index, (a, b) in enumerate(zip(device, model, strict=True)) if a != b]
    if not differing:
        return None
    first = differing[0]
    return (f"{len(differing)} of {len(model)} predictions differ from qnn's bit-exact model, first test sample "
            f"{first}: device class {device[first]}, model class {model[first]}")  # fmt: skip


def _with_run(
    row: ResultRow, cell: Cell, run: CellRun, baseline_stack: StackUse | None, emulator: str,
    expected: tuple[int, ...] | None,
) -> ResultRow:  # fmt: skip
    emulated = run.emulated
    status, message = emulated.status, emulated.message
    columns: dict = {"qemu": emulator}
    report = emulated.report
    if report is not None and report.classification is not None:
        classified = report.classification
        columns |= {"accuracy_device": classified.correct / classified.total, "test_samples": classified.total}
        if expected is not None:
            difference = _mismatch(classified.predictions, expected)
            columns["matches_reference"] = difference is None
            if difference is not None and status == Status.OK:
                status, message = Status.REFERENCE_MISMATCH, difference
    elif report is not None:
        bits = cell.fmt.report_fractional_bits
        columns |= {
            "learned": report.learned,
            "iterations": report.iterations if cell.variant == Variant.TRAINABLE else None,
            "final_error": _scale(report.final_error, bits),
            "outputs": ";".join(f"{_scale(value, bits):.6g}" for value in report.outputs),
        }  # fmt: skip
    if report is not None and report.stack is not None:
        columns |= {
            "stack_peak": report.stack.peak_bytes,
            "ram_total": row.img_data + row.img_bss + report.stack.peak_bytes,
        }
        if baseline_stack is not None:
            columns["lib_ram_total"] = row.lib_ram_static + report.stack.peak_bytes - baseline_stack.peak_bytes
    if status == Status.OK:
        if emulated.regions is None:
            status, message = Status.TRACE_FAILED, run.trace_message
        else:
            columns["trace_elf"] = shown(run.trace_elf)
            clock = cell.target.clock_hz
            for region in ("forward", "train_step"):
                stats = emulated.regions.get(region)
                if stats is None:
                    continue
                columns[f"instr_{region}"] = stats.instructions
                if stats.cycles is not None:
                    columns[f"est_cycles_{region}"] = stats.cycles
                    columns[f"est_us_{region}"] = stats.cycles / clock * 1e6
    return replace(row, status=str(status), message=message, **columns)


def _incomplete(row: ResultRow, stage: str) -> ResultRow:
    return replace(row, status=str(Status.INCOMPLETE), message=f"the run was interrupted before this cell's {stage}")


def run_matrix(matrix: Matrix, options: RunOptions, revision: Revision, progress: Progress) -> RunOutput:
    tools, missing = check_tools({cell.target.compiler for cell in matrix.cells}, progress)
    emulated_cells = [cell for cell in matrix.cells if options.emulate and cell.target.emulated]
    if emulated_cells:
        found, emulator_missing = check_tools([EMULATOR], progress)
        tools |= found
        missing |= emulator_missing
    buildable = [cell for cell in matrix.cells if cell.target.compiler not in missing]
    baselines = baseline_specs(buildable)
    images = {cell: BuildSpec.for_cell(cell, options.settings) for cell in buildable}
    can_run = EMULATOR not in missing
    traces = {
        cell: BuildSpec.for_cell(cell, options.settings, trace=True)
        for cell in buildable
        if can_run and cell in emulated_cells and cell.workload.needs_trace_image(cell.variant == Variant.TRAINABLE)
    }
    built, interrupted = build_all(
        [*baselines.values(), *images.values(), *traces.values()], options.build_root, options.jobs, options.cache,
        progress,
    )  # fmt: skip

    common = {"git_sha": revision.sha, "git_dirty": revision.dirty}
    rows: dict[Cell, ResultRow] = {}
    for rejected in matrix.rejected:
        rows[rejected.cell] = _row(rejected.cell, Status.INVALID, rejected.reason, common)
    for cell in matrix.cells:
        baseline = baselines.get((cell.target.name, cell.opt))
        if cell.target.compiler in missing:
            rows[cell] = _row(cell, Status.TOOL_MISSING, missing[cell.target.compiler], common)
        elif images[cell] not in built or baseline not in built:
            rows[cell] = _incomplete(_row(cell, Status.INCOMPLETE, "", common), "build")
        else:
            row = _footprint_row(cell, built[images[cell]], built[baseline], common)
            rows[cell] = replace(row, toolchain=tools[cell.target.compiler])
    host: dict[Cell, HostFigures] = {}  # each cell's, computed once: the rows and the runs' checks use them
    for cell, row in rows.items():
        if row.status == Status.INVALID:
            continue
        try:
            host[cell] = cell.workload.host_figures(cell.fmt, cell.variant == Variant.TRAINABLE, options.settings,
                                                    cell.shape)  # fmt: skip
        except ValueError as error:
            rows[cell] = replace(row, status=str(Status.BUILD_FAILED), message=f"preparing the sources: {error}")
            continue
        rows[cell] = _with_host_figures(row, host[cell])

    instructions: list[InstructionRow] = []
    training: list[TrainingLog] = []
    if emulated_cells and not can_run:
        for cell in emulated_cells:
            if rows[cell].status == Status.OK:
                rows[cell] = replace(rows[cell], status=str(Status.TOOL_MISSING), message=missing[EMULATOR])
    elif emulated_cells and not interrupted:
        emulator = tools[EMULATOR]
        timing = load_timing_models()
        runnable = [cell for cell in emulated_cells if rows[cell].status == Status.OK]

        def run_base(key: tuple[str, str]) -> tuple[StackUse | None, str]:
            image = built[baselines[key]].image
            cache_key = options.cache.run_key("baseline", emulator, image.spec.target.qemu_machine, image.path)
            cached = options.cache.fetch_baseline(cache_key)
            if cached is not None:
                return cached
            target = image.spec.target
            result = run_baseline(runner_for(target), image.path, target, options.timeout)
            if not processes.stopping():
                options.cache.store_baseline(cache_key, result)
            return result

        def describe_baseline(key: tuple[str, str], result: tuple[StackUse | None, str]) -> Outcome:
            return f"{key[0]} baseline -{key[1]}", result[1], result[0] is None

        def run_one(cell: Cell) -> CellRun:
            elf = built[images[cell]].image.path
            trace_spec = traces.get(cell)
            if trace_spec is not None and not built[trace_spec].image.ok:
                return CellRun(Emulated(Status.BUILD_FAILED, f"trace image: {built[trace_spec].image.error}"))
            trace_elf = built[trace_spec].image.path if trace_spec is not None else elf
            cache_key = options.cache.run_key("cell", emulator, cell.target.qemu_machine, elf, trace_elf)
            cached = options.cache.fetch_run(cache_key)
            if cached is not None:
                return replace(cached, trace_elf=trace_elf if cached.trace_elf else None)
            try:
                result = _run_cell(cell, elf, trace_elf, timing.get(cell.target.name), options)
            except RunnerUnavailable as error:
                return CellRun(Emulated(Status.TOOL_MISSING, str(error)))
            if not processes.stopping():
                options.cache.store_run(cache_key, result)
            return result

        def describe(cell: Cell, run: CellRun) -> Outcome:
            emulated = run.emulated
            if emulated.status != Status.OK:
                return cell.label, f"{emulated.status} {emulated.message}", True
            report = emulated.report
            if report.classification is not None:
                right = report.classification
                return cell.label, f"{right.correct} of {right.total} classified right", False
            if report.variant != Variant.TRAINABLE:
                return cell.label, "outputs right" if report.learned else "outputs wrong", False
            learned = f"learned after {report.iterations} iterations" if report.learned else "did not learn"
            return cell.label, learned, False

        baseline_keys = sorted({(cell.target.name, cell.opt) for cell in runnable})
        progress.begin("run", len(baseline_keys) + len(runnable))
        baseline_runs, interrupted = parallel(run_base, baseline_keys, options.jobs, "run", describe_baseline, progress)
        runs: dict[Cell, CellRun] = {}
        if not interrupted:
            runs, interrupted = parallel(run_one, runnable, options.jobs, "run", describe, progress)
        for cell in runnable:  # matrix order, whatever order the runs finished in
            run = runs.get(cell)
            if run is None:
                rows[cell] = _incomplete(rows[cell], "emulated run")
                continue
            baseline_stack, _ = baseline_runs[(cell.target.name, cell.opt)]
            rows[cell] = _with_run(rows[cell], cell, run, baseline_stack, emulator, host[cell].expected_predictions)
            key = vars(ImageKey(cell.target.name, cell.fmt.name, str(cell.variant), cell.opt, cell.workload.name,
                                cell.library.name, cell.shape.name))  # fmt: skip
            for region in (run.emulated.regions or {}).values():
                instructions += [
                    InstructionRow(**key, region=region.name, function=function, instructions=count)
                    for function, count in region.functions.items()
                ]
            if run.emulated.report is not None and run.emulated.report.log:
                training.append(TrainingLog(**key, fractional_bits=cell.fmt.report_fractional_bits,
                                            entries=run.emulated.report.log))  # fmt: skip
    elif emulated_cells:
        for cell in emulated_cells:
            if rows[cell].status == Status.OK:
                rows[cell] = _incomplete(rows[cell], "emulated run")

    symbols: list[SymbolRow] = []
    for (core, opt), spec in baselines.items():
        symbols += [
            SymbolRow(core, "", "baseline", opt, spec.workload.name, "", "", s.name, s.group, str(s.category), s.size)
            for s in (built[spec].symbols if spec in built else ())
        ]
    for cell, spec in images.items():
        if rows[cell].lib_flash is not None:
            symbols += [
                SymbolRow(cell.target.name, cell.fmt.name, str(cell.variant), cell.opt, cell.workload.name,
                          cell.library.name, cell.shape.name, s.name, s.group, str(s.category), s.size)
                for s in built[spec].symbols
            ]  # fmt: skip
    ordered = [rows[rejected.cell] for rejected in matrix.rejected] + [rows[cell] for cell in matrix.cells]
    return RunOutput(ordered, symbols, instructions, training, tools, interrupted)
