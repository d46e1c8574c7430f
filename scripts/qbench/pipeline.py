"""The benchmark pipeline, stage by stage, each a function of its declared inputs with one typed record
out: build (sources, flags, toolchain -> ELF) and measure (ELF -> sizes, symbols), stored together;
execute (ELF, machine, emulator -> the firmware's report and the regions of a traced run of the same
ELF), stored; price (a traced run and the row's own core's timing table -> region figures), never
stored, so two cores sharing one image and one run are each priced from their own table; analyse (all of
it -> the cell's row).

Every cell ends as exactly one row with a status; a cell that fails (missing
tool, compile error, unreadable ELF, fault, timeout...) says why, keeps what
was measured before the failure, and the other cells carry on. An interrupted
run (Ctrl-C, SIGTERM) stops its children and returns what finished, the rest
marked incomplete; the cache lets the next run pick up from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from . import processes
from .article import COMPILER as ARTICLE_COMPILER
from .article import ArticleError, ArticleFigure, measure_article, not_measurable
from .build import BuildSpec, Image, build, plan
from .cache import Cache, file_digest
from .elfsize import Category, ImageSizes
from .emulate import CellRun, Emulated, run_workload, trace_regions
from .learning import (
    ExactVerdict,
    exact_xor_verdict,
    final_raw_weights,
    learned_only_through_overflow,
    overflow_message,
)
from .libraries import Library
from .matrix import Cell, Matrix, Variant
from .measure import Measured, measure
from .paths import shown
from .progress import Progress
from .provenance import Revision
from .results import ImageKey, InstructionRow, ResultRow, Status, SymbolRow, TrainingLog
from .runners import RunnerUnavailable, runner_for
from .runners.qemu import EMULATOR
from .symbols import TEST_DATA_GROUP
from .targets import Target
from .timing import CodeImage, TimingError, TimingModel, load_timing_models
from .toolchain import ToolNotFound, require, version
from .trace import FunctionMap, RegionFigures, TraceError, region_figures
from .workloads import HostFigures, WorkloadSettings, trained_xor_weights


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
    article: list[ArticleFigure] = field(default_factory=list)  # the article's own host configuration
    problems: list[str] = field(default_factory=list)  # what failed outside the cells


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


def build_stage(spec: BuildSpec, root: Path, cache: Cache) -> Measured:
    """Build and measure one image: inputs are its plan (flags, sources, generated files) and the compiler."""
    try:
        planned = plan(spec, root)
    except ValueError as error:  # the workload could not prepare its sources (host training, a data set...)
        message = f"preparing the sources: {error}"
        return Measured(Image(spec, None, "", message), None, (), message)
    key = cache.key("build", compiler=version(spec.target.compiler), plan=planned.identity())

    def compute() -> Measured:
        stored = cache.fetch_build(key, planned)
        if stored is not None:
            return stored
        result = measure(build(planned))
        if not processes.stopping():
            cache.store_build(key, result)
        return result

    result, computed_here = cache.once(key, compute)
    if computed_here:
        return result
    # The same build for another spec (equal flags and sources): its own copy in its own directory.
    copied = cache.fetch_build(key, planned, fresh=True)
    return copied if copied is not None else replace(result, image=replace(result.image, spec=spec))


def build_all(
    specs: list[BuildSpec], root: Path, jobs: int, cache: Cache, progress: Progress
) -> tuple[dict[BuildSpec, Measured], bool]:
    def describe(spec: BuildSpec, result: Measured) -> Outcome:
        return spec.label, result.error or "", result.error is not None

    progress.begin("build", len(specs))
    return parallel(lambda spec: build_stage(spec, root, cache), specs, jobs, "build", describe, progress)


def execute_stage(
    elf: Path, target: Target, cut: dict[str, int], timeout: float, emulator: str, cache: Cache
) -> CellRun:
    """Run one image from reset and trace the same image until cut: inputs are the ELF's bytes, the
    machine, the emulator and the cut. Images equal byte for byte (cortex-m0 and m0plus) share one run."""
    key = cache.key("execute", elf=file_digest(elf), machine=target.qemu_machine, emulator=emulator, cut=cut)

    def compute() -> CellRun:
        stored = cache.fetch_run(key)
        if stored is not None:
            return stored
        try:
            runner = runner_for(target)
            emulated = run_workload(runner, elf, target, timeout)
            traced, message = (None, "") if emulated.status != Status.OK else trace_regions(
                runner, elf, target, timeout, cut)  # fmt: skip
        except RunnerUnavailable as error:
            return CellRun(Emulated(Status.TOOL_MISSING, str(error)))
        result = CellRun(emulated, traced, message)
        if not processes.stopping():
            cache.store_run(key, result)
        return result

    return cache.once(key, compute)[0]


def article_stage(library: Library, root: Path, cache: Cache) -> list[ArticleFigure]:
    """The article's own host configuration for one library (g++ -O3, GNU size): inputs are the library's
    files and the host compiler; ArticleError when it does not build."""
    key = cache.key("article", compiler=version(ARTICLE_COMPILER), library=library.name,
                    files=library.fingerprint)  # fmt: skip

    def compute() -> list[ArticleFigure]:
        stored = cache.fetch_document(key, lambda figures: [ArticleFigure(**figure) for figure in figures])
        if stored is not None:
            return stored
        figures = measure_article(library, root / "article")
        if not processes.stopping():
            cache.store_document(key, [asdict(figure) for figure in figures])
        return figures

    return cache.once(key, compute)[0]


def _article(matrix: Matrix, options: RunOptions, progress: Progress) -> tuple[list[ArticleFigure], list[str], bool]:
    """The article's host figures for every library of an XOR run (the article's workload): the figures,
    what failed, and whether the run was interrupted meanwhile."""
    libraries = {cell.library.name: cell.library for cell in matrix.cells if cell.workload.name == "xor"}
    figures, problems = [], []
    try:
        for library in libraries.values():
            if not_measurable(library) is not None:
                progress.note(f"note: the article's host configuration: {not_measurable(library)}")
                continue
            try:
                figures += article_stage(library, options.build_root, options.cache)
            except (ArticleError, ToolNotFound) as error:
                problems.append(f"the article's host configuration: {error}")
                progress.note(f"error: {problems[-1]}")
    except KeyboardInterrupt:
        processes.stop()
        return figures, problems, True
    return figures, problems, processes.stopping()


@dataclass(frozen=True)
class Priced:
    """A run's regions priced for one core, and the stack its trace saw."""

    regions: dict[str, RegionFigures]
    stack_sp_depth: int | None


def price_stage(run: CellRun, elf: Path, timing: TimingModel | None) -> Priced:
    """Figures per region from a traced run, cycles from the row's own core's table (cheap: never stored)."""
    functions = FunctionMap(elf)
    pricing = None if timing is None else (timing, CodeImage(elf))
    depth = None if functions.stack_top is None else functions.stack_top - run.traced.lowest_stack_pointer
    return Priced(region_figures(run.traced, functions, pricing), depth)


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


def _report_columns(cell: Cell, report, expected: tuple[int, ...] | None) -> tuple[dict, str | None, str]:
    """The firmware's own figures as columns, why its predictions fail the bit-exact model (or None), and a
    note for an ok row's message (an XOR run learned only through overflow), else ""."""
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
    exact = _exact_verdict(cell, report)
    if exact is None:
        return columns, None, ""
    note = overflow_message(exact.outputs) if learned_only_through_overflow(report.learned, exact.learned) else ""
    return columns | {"learned_exact": exact.learned}, None, note


def _exact_verdict(cell: Cell, report) -> ExactVerdict | None:
    """The device's final XOR weights in exact arithmetic: a trainable run's last logged weights (when logged
    at its last iteration), an inference image's deployed ones (in its weight format); None for float formats."""
    if cell.fmt.floating:
        return None
    if cell.variant == Variant.TRAINABLE:
        weights = final_raw_weights([(entry.iteration, entry.weights) for entry in report.log], report.iterations)
    else:
        weights = trained_xor_weights(cell.fmt, cell.shape)
    if weights is None:
        return None
    return exact_xor_verdict(cell.shape, weights, cell.fmt.weight_format.fractional_bits)


def stack_peak(run: CellRun, priced: Priced | None) -> int | None:
    """The deeper of what the whole run wrote on the painted stack and where the traced run's stack
    pointer went (reserved but unwritten words count too)."""
    report = run.emulated.report
    if report is None or report.stack is None:
        return None
    traced = priced.stack_sp_depth if priced is not None and priced.stack_sp_depth is not None else 0
    return max(report.stack.peak_bytes, traced)


def _region_columns(cell: Cell, regions: dict[str, RegionFigures]) -> dict:
    columns: dict = {}
    for name, figures in regions.items():
        columns |= {f"instr_{name}": figures.instructions, f"instr_{name}_occurrences": figures.occurrences,
                    "instr_markers": figures.markers}  # fmt: skip
        if figures.cycles is not None:
            columns |= {
                f"est_cycles_{name}": figures.cycles.central, f"est_cycles_{name}_min": figures.cycles.minimum,
                f"est_cycles_{name}_max": figures.cycles.maximum,
                f"est_us_{name}": figures.cycles.central / cell.target.clock_hz * 1e6,
            }  # fmt: skip
    return columns


def _with_run(
    row: ResultRow, cell: Cell, run: CellRun, priced: Priced | None, pricing_error: str, baseline_peak: int | None,
    emulator: str, expected: tuple[int, ...] | None,
) -> ResultRow:  # fmt: skip
    emulated = run.emulated
    status, message = emulated.status, emulated.message
    columns: dict = {"qemu": emulator, "emulated_cpu": cell.target.emulated_cpu or ""}
    if emulated.report is not None:
        figures, mismatch, note = _report_columns(cell, emulated.report, expected)
        columns |= figures
        if mismatch is not None and status == Status.OK:
            status, message = Status.REFERENCE_MISMATCH, mismatch
        elif note and status == Status.OK:
            message = note
    peak = stack_peak(run, priced)
    if peak is not None:
        columns |= {"stack_peak": peak, "ram_total": row.img_data + row.img_bss + peak,
                    "exception_frame": cell.target.exception_frame_bytes,
                    "stack_painted": emulated.report.stack.peak_bytes,
                    "stack_sp_depth": priced.stack_sp_depth if priced is not None else None}  # fmt: skip
        if baseline_peak is not None:
            columns["lib_ram_total"] = row.lib_ram_static + peak - baseline_peak
        size = emulated.report.stack.size_bytes
        if peak > size and status == Status.OK:
            status, message = Status.STACK_OVERFLOW, (
                f"the stack pointer went {peak} bytes deep, past the bottom of its {size}-byte region")
    if status == Status.OK and priced is None:
        status, message = Status.TRACE_FAILED, run.trace_message or pricing_error
    elif priced is not None:
        columns |= _region_columns(cell, priced.regions)
    if status != Status.OK:
        columns.pop("learned_exact", None)  # a failed run has no learning verdict
    return replace(row, status=str(status), message=message, **columns)


def _priced(run: CellRun, elf: Path, timing: TimingModel | None) -> tuple[Priced | None, str]:
    if run.traced is None:
        return None, run.trace_message
    try:
        return price_stage(run, elf, timing), ""
    except (TimingError, TraceError) as error:
        return None, f"pricing the trace: {error}"


def _incomplete(row: ResultRow, stage: str) -> ResultRow:
    return replace(row, status=str(Status.INCOMPLETE), message=f"the run was interrupted before this cell's {stage}")


@dataclass(frozen=True)
class Planned:
    """What a run builds: the baseline per (core, -O level) and each cell's image."""

    baselines: dict[tuple[str, str], BuildSpec]
    images: dict[Cell, BuildSpec]


def _footprint_rows(
    matrix: Matrix, planned: Planned, built: dict[BuildSpec, Measured], tools: dict[str, str],
    missing: dict[str, str], common: dict,
) -> dict[Cell, ResultRow]:  # fmt: skip
    rows: dict[Cell, ResultRow] = {}
    for rejected in matrix.rejected:
        rows[rejected.cell] = _row(rejected.cell, Status.INVALID, rejected.reason, common)
    for cell in matrix.cells:
        baseline = planned.baselines.get((cell.target.name, cell.opt))
        if cell.target.compiler in missing:
            rows[cell] = _row(cell, Status.TOOL_MISSING, missing[cell.target.compiler], common)
        elif planned.images[cell] not in built or baseline not in built:
            rows[cell] = _incomplete(_row(cell, Status.INCOMPLETE, "", common), "build")
        else:
            row = _footprint_row(cell, built[planned.images[cell]], built[baseline], common)
            rows[cell] = replace(row, toolchain=tools[cell.target.compiler])
    return rows


def _host_rows(rows: dict[Cell, ResultRow], settings: WorkloadSettings) -> dict[Cell, HostFigures]:
    """Each cell's host figures, computed once (rows and the runs' checks use them); rows updated in place."""
    host: dict[Cell, HostFigures] = {}
    for cell, row in rows.items():
        if row.status in (Status.INVALID, Status.INCOMPLETE):
            continue
        try:
            host[cell] = cell.workload.host_figures(cell.fmt, cell.variant == Variant.TRAINABLE, settings, cell.shape)
        except ValueError as error:
            rows[cell] = replace(row, status=str(Status.BUILD_FAILED), message=f"preparing the sources: {error}")
            continue
        rows[cell] = _with_host_figures(row, host[cell])
    return host


def _describe_run(cell: Cell, run: CellRun) -> Outcome:
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


@dataclass
class Emulation:
    """The emulated part of a run: rows completed in place, and what the runs add beside them."""

    instructions: list[InstructionRow]
    training: list[TrainingLog]
    interrupted: bool = False


def _emulate(
    cells: list[Cell], planned: Planned, built: dict[BuildSpec, Measured], rows: dict[Cell, ResultRow],
    host: dict[Cell, HostFigures], emulator: str, options: RunOptions, progress: Progress,
) -> Emulation:  # fmt: skip
    runnable = [cell for cell in cells if rows[cell].status == Status.OK]
    baseline_keys = sorted({(cell.target.name, cell.opt) for cell in runnable})
    timing = load_timing_models()

    def execute(elf: Path, target: Target, cut: dict[str, int]) -> CellRun:
        return execute_stage(elf, target, cut, options.timeout, emulator, options.cache)

    def run_baseline_of(key: tuple[str, str]) -> CellRun:
        image = built[planned.baselines[key]].image
        return execute(image.path, image.spec.target, {})

    def describe_baseline(key: tuple[str, str], run: CellRun) -> Outcome:
        return f"{key[0]} baseline -{key[1]}", run.emulated.message, run.emulated.status != Status.OK

    def run_cell(cell: Cell) -> CellRun:
        cut = cell.workload.trace_cut(cell.variant == Variant.TRAINABLE, options.settings)
        return execute(built[planned.images[cell]].image.path, cell.target, cut)

    progress.begin("run", len(baseline_keys) + len(runnable))
    baselines, interrupted = parallel(run_baseline_of, baseline_keys, options.jobs, "run", describe_baseline,
                                      progress)  # fmt: skip
    runs: dict[Cell, CellRun] = {}
    if not interrupted:
        runs, interrupted = parallel(run_cell, runnable, options.jobs, "run", _describe_run, progress)
    # Each baseline's stack peak once (pricing reads its ELF's symbols), not once per cell that uses it.
    baseline_peaks = {
        key: stack_peak(run, _priced(run, built[planned.baselines[key]].image.path, None)[0])
        for key, run in baselines.items()
    }
    emulation = Emulation([], [], interrupted)
    for cell in runnable:  # matrix order, whatever order the runs finished in
        run = runs.get(cell)
        if run is None:
            rows[cell] = _incomplete(rows[cell], "emulated run")
            continue
        elf = built[planned.images[cell]].image.path
        priced, error = _priced(run, elf, timing.get(cell.target.name))
        rows[cell] = _with_run(rows[cell], cell, run, priced, error, baseline_peaks[(cell.target.name, cell.opt)],
                               emulator, host[cell].expected_predictions)  # fmt: skip
        _collect(cell, run, priced, emulation)
    return emulation


def _collect(cell: Cell, run: CellRun, priced: Priced | None, emulation: Emulation) -> None:
    """A run's per-function instruction split and training log, for instructions.csv and training/."""
    key = vars(ImageKey(cell.target.name, cell.fmt.name, str(cell.variant), cell.opt, cell.workload.name,
                        cell.library.name, cell.shape.name))  # fmt: skip
    for region in (priced.regions if priced is not None else {}).values():
        emulation.instructions += [
            InstructionRow(**key, region=region.name, function=function, instructions=count)
            for function, count in region.functions.items()
        ]
    if run.emulated.report is not None and run.emulated.report.log:
        emulation.training.append(TrainingLog(**key, fractional_bits=cell.fmt.report_fractional_bits,
                                              entries=run.emulated.report.log))  # fmt: skip


def _symbol_rows(planned: Planned, built: dict[BuildSpec, Measured], rows: dict[Cell, ResultRow]) -> list[SymbolRow]:
    symbols: list[SymbolRow] = []
    for (core, opt), spec in planned.baselines.items():
        symbols += [
            SymbolRow(core, "", "baseline", opt, spec.workload.name, "", "", s.name, s.group, str(s.category), s.size)
            for s in (built[spec].symbols if spec in built else ())
        ]
    for cell, spec in planned.images.items():
        if rows[cell].lib_flash is not None:
            symbols += [
                SymbolRow(cell.target.name, cell.fmt.name, str(cell.variant), cell.opt, cell.workload.name,
                          cell.library.name, cell.shape.name, s.name, s.group, str(s.category), s.size)
                for s in built[spec].symbols
            ]  # fmt: skip
    return symbols


def run_matrix(matrix: Matrix, options: RunOptions, revision: Revision, progress: Progress) -> RunOutput:
    tools, missing = check_tools({cell.target.compiler for cell in matrix.cells}, progress)
    emulated_cells = [cell for cell in matrix.cells if options.emulate and cell.target.emulated]
    if emulated_cells:
        found, emulator_missing = check_tools([EMULATOR], progress)
        tools |= found
        missing |= emulator_missing
    buildable = [cell for cell in matrix.cells if cell.target.compiler not in missing]
    images = {cell: BuildSpec.for_cell(cell, options.settings) for cell in buildable}
    planned = Planned(baseline_specs(buildable), images)
    built, interrupted = build_all([*planned.baselines.values(), *planned.images.values()], options.build_root,
                                   options.jobs, options.cache, progress)  # fmt: skip
    rows = _footprint_rows(matrix, planned, built, tools, missing, {"git_sha": revision.sha,
                                                                      "git_dirty": revision.dirty})  # fmt: skip
    host = _host_rows(rows, options.settings)
    emulation = Emulation([], [], interrupted)
    if emulated_cells and EMULATOR in missing:
        for cell in emulated_cells:
            if rows[cell].status == Status.OK:
                rows[cell] = replace(rows[cell], status=str(Status.TOOL_MISSING), message=missing[EMULATOR])
    elif emulated_cells and not interrupted:
        emulation = _emulate(emulated_cells, planned, built, rows, host, tools[EMULATOR], options, progress)
    elif emulated_cells:
        for cell in emulated_cells:
            if rows[cell].status == Status.OK:
                rows[cell] = _incomplete(rows[cell], "emulated run")
    article, problems, interrupted = ([], [], True) if emulation.interrupted else _article(matrix, options, progress)
    ordered = [rows[rejected.cell] for rejected in matrix.rejected] + [rows[cell] for cell in matrix.cells]
    return RunOutput(ordered, _symbol_rows(planned, built, rows), emulation.instructions, emulation.training,
                     tools, interrupted, article, problems)  # fmt: skip
