"""The benchmark pipeline: matrix -> builds -> ELF sizes and symbols -> emulated
runs and traces -> result rows.

Every cell ends as exactly one row with a status; a cell that fails (missing
tool, compile error, unreadable ELF, fault, timeout...) says why, keeps what
was measured before the failure, and the other cells carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from .build import BuildSpec, Image, build
from .elfsize import Category, ElfReadError, ImageSizes, read_sizes
from .emulate import Emulated, count_instructions, run_baseline, run_workload
from .matrix import Cell, Matrix, Variant
from .paths import shown
from .progress import Progress
from .protocol import StackUse
from .provenance import Revision
from .results import InstructionRow, ResultRow, Status, SymbolRow, TrainingLog
from .runners import RunnerUnavailable, runner_for
from .runners.qemu import EMULATOR
from .symbols import SymbolSize, attribute
from .timing import TimingModel, load_timing_models
from .toolchain import ToolNotFound, require, version
from .workloads import WorkloadSettings


@dataclass(frozen=True)
class RunOptions:
    build_root: Path
    jobs: int
    emulate: bool = True
    timeout: float = 60.0  # seconds per emulator run
    settings: WorkloadSettings = WorkloadSettings()


@dataclass(frozen=True)
class Measured:
    """A built image read back: its sizes and its symbols."""

    image: Image
    sizes: ImageSizes | None
    symbols: tuple[SymbolSize, ...]
    error: str | None


@dataclass(frozen=True)
class RunOutput:
    rows: list[ResultRow]
    symbols: list[SymbolRow]
    instructions: list[InstructionRow]
    training: list[TrainingLog]
    tools: dict[str, str]  # tool -> version, for the environment block


def measure(image: Image) -> Measured:
    if not image.ok or image.path is None:
        return Measured(image, None, (), image.error)
    try:
        sizes = read_sizes(image.path)
        return Measured(image, sizes, tuple(attribute(image.path, sizes)), None)
    except (ElfReadError, ToolNotFound) as error:
        return Measured(image, None, (), str(error))


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


Outcome = tuple[str, str, bool]  # label, detail, failed


def parallel(work: Callable, items: list, jobs: int, stage: str, describe: Callable, progress: Progress) -> dict:
    """work(item) for every item on jobs threads, reporting each as it finishes."""
    results = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(work, item): item for item in items}
        for future in as_completed(futures):
            item = futures[future]
            results[item] = future.result()
            progress.done(stage, *describe(item, results[item]))
    return results


def build_all(specs: list[BuildSpec], root: Path, jobs: int, progress: Progress) -> dict[BuildSpec, Measured]:
    def describe(spec: BuildSpec, result: Measured) -> Outcome:
        return spec.label, result.error or "", result.error is not None

    progress.begin("build", len(specs))
    return parallel(lambda spec: measure(build(spec, root)), specs, jobs, "build", describe, progress)


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
        opt=cell.opt, workload=cell.workload.name, status=str(status), message=message, **common, **columns,
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
    return _row(cell, Status.OK, "", common, **paths, **_image_columns(built.sizes),
                **_difference(built.sizes, baseline.sizes))  # fmt: skip


@dataclass(frozen=True)
class CellRun:
    """What running (and tracing) one cell's image found."""

    emulated: Emulated
    trace_elf: Path | None = None
    trace_message: str = ""


def _run_cell(cell: Cell, elf: Path, trace_elf: Path, timing: TimingModel | None, options: RunOptions) -> CellRun:
    runner = runner_for(cell.target)
    emulated = run_workload(runner, elf, cell.target, options.timeout)
    if emulated.status != Status.OK:
        return CellRun(emulated)
    regions, message = count_instructions(runner, trace_elf, cell.target, options.timeout, timing)
    return CellRun(replace(emulated, regions=regions), trace_elf, message)


def _scale(raw: int, fractional_bits: int) -> float:
    return raw / float(1 << fractional_bits)


def _with_run(row: ResultRow, cell: Cell, run: CellRun, baseline_stack: StackUse | None, emulator: str) -> ResultRow:
    emulated = run.emulated
    status, message = emulated.status, emulated.message
    columns: dict = {"qemu": emulator}
    report = emulated.report
    if report is not None:
        bits = cell.fmt.fractional_bits
        columns |= {
            "learned": report.learned,
            "iterations": report.iterations if cell.variant == Variant.TRAINABLE else None,
            "final_error": _scale(report.final_error, bits),
            "outputs": ";".join(f"{_scale(value, bits):.6g}" for value in report.outputs),
        }  # fmt: skip
        if report.stack is not None:
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
            for region, suffix in (("forward", "forward"), ("train_step", "train_step")):
                stats = emulated.regions.get(region)
                if stats is None:
                    continue
                columns[f"instr_{suffix}"] = stats.instructions
                if stats.cycles is not None:
                    columns[f"est_cycles_{suffix}"] = stats.cycles
                    columns[f"est_us_{suffix}"] = stats.cycles / clock * 1e6
    return replace(row, status=str(status), message=message, **columns)


def run_matrix(
    matrix: Matrix, options: RunOptions, revision: Revision, progress: Progress
) -> RunOutput:
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
    built = build_all([*baselines.values(), *images.values(), *traces.values()], options.build_root, options.jobs,
                      progress)  # fmt: skip

    common = {"git_sha": revision.sha, "git_dirty": revision.dirty}
    rows: dict[Cell, ResultRow] = {}
    for rejected in matrix.rejected:
        rows[rejected.cell] = _row(rejected.cell, Status.INVALID, rejected.reason, common)
    for cell in matrix.cells:
        if cell.target.compiler in missing:
            rows[cell] = _row(cell, Status.TOOL_MISSING, missing[cell.target.compiler], common)
            continue
        row = _footprint_row(cell, built[images[cell]], built[baselines[(cell.target.name, cell.opt)]], common)
        rows[cell] = replace(row, toolchain=tools[cell.target.compiler])
    for cell, row in rows.items():
        rows[cell] = replace(row, network=cell.workload.network(options.settings))

    instructions: list[InstructionRow] = []
    training: list[TrainingLog] = []
    if emulated_cells and not can_run:
        for cell in emulated_cells:
            if rows[cell].status == Status.OK:
                rows[cell] = replace(rows[cell], status=str(Status.TOOL_MISSING), message=missing[EMULATOR])
    elif emulated_cells:
        emulator = tools[EMULATOR]
        timing = load_timing_models()
        runnable = [cell for cell in emulated_cells if rows[cell].status == Status.OK]

        def run_base(key: tuple[str, str]) -> tuple[StackUse | None, str]:
            image = built[baselines[key]].image
            target = image.spec.target
            return run_baseline(runner_for(target), image.path, target, options.timeout)

        baseline_keys = sorted({(cell.target.name, cell.opt) for cell in runnable})
        progress.begin("run", len(baseline_keys) + len(runnable))

        def describe_baseline(key: tuple[str, str], result: tuple[StackUse | None, str]) -> Outcome:
            return f"{key[0]} baseline -{key[1]}", result[1], result[0] is None

        baseline_runs = parallel(run_base, baseline_keys, options.jobs, "run", describe_baseline, progress)

        def run_one(cell: Cell) -> CellRun:
            elf = built[images[cell]].image.path
            trace_spec = traces.get(cell)
            if trace_spec is not None and not built[trace_spec].image.ok:
                return CellRun(Emulated(Status.BUILD_FAILED, f"trace image: {built[trace_spec].image.error}"))
            trace_elf = built[trace_spec].image.path if trace_spec is not None else elf
            try:
                return _run_cell(cell, elf, trace_elf, timing.get(cell.target.name), options)
            except RunnerUnavailable as error:
                return CellRun(Emulated(Status.TOOL_MISSING, str(error)))

        def describe(cell: Cell, run: CellRun) -> Outcome:
            emulated = run.emulated
            if emulated.status != Status.OK:
                return cell.label, f"{emulated.status} {emulated.message}", True
            report = emulated.report
            if report.variant != Variant.TRAINABLE:
                return cell.label, "outputs right" if report.learned else "outputs wrong", False
            learned = f"learned after {report.iterations} iterations" if report.learned else "did not learn"
            return cell.label, learned, False

        runs = parallel(run_one, runnable, options.jobs, "run", describe, progress)
        for cell in runnable:  # matrix order, whatever order the runs finished in
            run = runs[cell]
            baseline_stack, _ = baseline_runs[(cell.target.name, cell.opt)]
            rows[cell] = _with_run(rows[cell], cell, run, baseline_stack, emulator)
            key = dict(core=cell.target.name, qformat=cell.fmt.name, variant=str(cell.variant), opt=cell.opt,
                       workload=cell.workload.name)  # fmt: skip
            for region in (run.emulated.regions or {}).values():
                instructions += [
                    InstructionRow(**key, region=region.name, function=function, instructions=count)
                    for function, count in region.functions.items()
                ]
            if run.emulated.report is not None and run.emulated.report.log:
                training.append(TrainingLog(**key, fractional_bits=cell.fmt.fractional_bits,
                                            entries=run.emulated.report.log))  # fmt: skip

    symbols: list[SymbolRow] = []
    for (core, opt), spec in baselines.items():
        symbols += [
            SymbolRow(core, "", "baseline", opt, spec.workload.name, s.name, s.group, str(s.category), s.size)
            for s in built[spec].symbols
        ]
    for cell, spec in images.items():
        if rows[cell].lib_flash is not None:
            symbols += [
                SymbolRow(cell.target.name, cell.fmt.name, str(cell.variant), cell.opt, cell.workload.name,
                          s.name, s.group, str(s.category), s.size)
                for s in built[spec].symbols
            ]  # fmt: skip
    ordered = [rows[rejected.cell] for rejected in matrix.rejected] + [rows[cell] for cell in matrix.cells]
    return RunOutput(ordered, symbols, instructions, training, tools)
