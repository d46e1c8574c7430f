"""The benchmark pipeline: the run's cell graph (qbench.orchestration.graph) walked on the client, its tasks run
by an executor (qbench.orchestration.executors).

Each task of the graph is a stage, a function of its named inputs with one typed record out, named by its verb:
prepare_sources (the spec's workload, target, format, variant, level, network, settings and library -> sources,
host training, the host's figures; stored), build_image (the build plan, made once, here or by a cluster's build
task: flags, sources, generated files; compiler version -> ELF, sizes, symbols; stored), measure_footprint (the
image less its baseline's), execute_image (the ELF's bytes, the machine, the emulator and its plugin -> the
firmware's report and every region occurrence, from one run to the exit; stored), price_run (the run's key and the
core's model -> region figures; stored per core, so two cores sharing one image and one run are each priced from
their own model) and analyse_cell (the row, on the client, from the deployed weights prepare made). The stored
stages run as tasks (qbench.orchestration.tasks).

The client walks each cell's part of the graph on a thread of its own, a bounded number of cells at a time: a
task takes its inputs as it needs them; a stored stage makes its cache key from its inputs, looks it up, asks the
executor for the task only when the cache has nothing, and stores what comes back. On a cluster, an image whose
prepare is not in the cache goes to the executor with its build as one graph (Executor.run_graph): one round trip
for both; a run that is not in the cache goes with its pricing the same way. Identical work asked for at once is
done once; the baselines' tasks (one per core and -O level) are shared by their cells and done once per run. Each
finished cell goes to the spool at once (qbench.orchestration.spool), so memory stays flat; the results come out
in matrix order whatever order cells finish in.

Every cell ends as exactly one row with a status; a cell that fails (missing tool, compile error, unreadable
ELF, fault, timeout, a task that failed on a worker...) says why, keeps what was measured before the failure,
and the other cells carry on. An interrupted run (Ctrl-C, SIGTERM) stops its children and its tasks and
returns what finished, the rest marked incomplete; the cache lets the next run pick up from there.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import version as package_version
from pathlib import Path
from queue import SimpleQueue
from typing import Any, TypeVar

from qbench.common import processes
from qbench.common.entries import written_anew
from qbench.common.paths import SUITE, shown
from qbench.common.single_flight import SingleFlight
from qbench.execution.cycle_models import model_digest
from qbench.execution.emulate import CellRun, Emulated
from qbench.execution.runners.plugin import source_digest
from qbench.execution.runners.qemu import EMULATOR
from qbench.hardware.targets import Target
from qbench.hardware.toolchain import ToolNotFound, require, version
from qbench.images.article import COMPILER as ARTICLE_COMPILER
from qbench.images.article import ArticleError, ArticleFigure, measure_article, not_measurable
from qbench.images.build import BuildPlan, BuildSpec, Image, plan
from qbench.images.libraries import Library
from qbench.images.matrix import Cell, Matrix
from qbench.images.workloads import HostFigures, Workload, WorkloadSettings
from qbench.orchestration.analyse import (
    CellOutcome,
    RunRecords,
    baseline_symbols,
    cell_row,
    describe_run,
    footprint_row,
    image_symbols,
    incomplete,
    run_tables,
    stack_peak,
    with_host_figures,
    with_run,
)
from qbench.orchestration.cache import Cache
from qbench.orchestration.executors import NO_EVENTS, Call, ClusterEvents, Executor, Outputs, Ref, TaskFailed
from qbench.orchestration.graph import CellGraph, Task, Verb, cell_graph, image_graph
from qbench.orchestration.progress import Progress
from qbench.orchestration.provenance import Revision
from qbench.orchestration.spool import Spool
from qbench.orchestration.tasks import (
    IMAGE_PLACE,
    Compiled,
    ImageFile,
    PlannedBuild,
    Prepared,
    Pricing,
    build_prepared,
    compile_image,
    execute,
    prepare,
    price,
)
from qbench.records.results import InstructionRow, Provenance, ResultRow, Status, SymbolRow, SymbolTable
from qbench.sizes.measure import Measured

T = TypeVar("T")
R = TypeVar("R")
# The Python packages host training and the built-in data sets come from: part of the prepare stage's key.
HOST_PACKAGES = ("numpy", "scikit-learn")


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
    symbols: SymbolTable  # read from the spool a few cells at a time
    instructions: list[InstructionRow]
    training: Path  # the folder holding the training logs, as the results will (qbench.spool)
    tools: dict[str, str]  # tool -> version, for the environment block
    interrupted: bool = False
    article: list[ArticleFigure] = field(default_factory=list)  # the article's own host configuration
    problems: list[str] = field(default_factory=list)  # what failed outside the cells
    cluster: ClusterEvents = NO_EVENTS  # workers lost, tasks retried, workers refused (a dask run's)


class Stopping(Exception):
    """The run was interrupted while this cell's graph was at a stage: what a task returns now is not trusted."""


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


def _recording(work: Callable[[T], R], item: T, token: object, outcomes: dict[object, Any], done: SimpleQueue) -> None:
    """work(item) on a worker thread, its result (or exception) recorded under token, then token said done. The
    main thread never touches a Future: an interrupt landing inside a lock's Python-level __enter__ there would
    leave the lock held, and a worker setting that future's result would wait for it for ever. The outcome stays
    recorded until its item is finished, so an interrupt between reading `done` and finishing loses nothing."""
    try:
        outcomes[token] = work(item)
    except Exception as error:  # raised again on the main thread
        outcomes[token] = error
    finally:
        done.put(token)


def parallel(
    items: Iterable[T], work: Callable[[T], R], flows: int, finished: Callable[[T, R], None], stop: Callable[[], None]
) -> list[T]:
    """work(item) on `flows` threads, at most `flows` items in flight; finished(item, result) on this thread as
    each completes. On an interrupt (Ctrl-C or SIGTERM): stop(), wait for the items in flight to end (their
    work sees processes.stopping()), and return the items whose work never ran; else []."""
    queue = iter(items)
    pool = ThreadPoolExecutor(max_workers=max(1, flows))
    outcomes: dict[object, Any] = {}
    done: SimpleQueue = SimpleQueue()  # its get() is C code: an interrupt there holds no lock

    def submit(item: T) -> object:
        token = object()
        pool.submit(_recording, work, item, token, outcomes, done)
        return token

    pending: dict[object, T] = {submit(item): item for item in itertools.islice(queue, flows)}
    try:
        while pending:
            token = done.get()
            outcome = outcomes[token]
            if isinstance(outcome, Exception):
                raise outcome
            finished(pending[token], outcome)
            del pending[token]  # only now: an interrupt inside finished() leaves the item to finish again
            del outcomes[token]
            pending |= {submit(item): item for item in itertools.islice(queue, 1)}
    except KeyboardInterrupt:
        stop()
        pool.shutdown(wait=True, cancel_futures=True)  # every item that ran has its outcome recorded after it
        return _after_interrupt(pending, outcomes, finished) + list(queue)
    except Exception:
        stop()  # the run itself failed (its rows cannot be written): no cell goes on working unseen
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return []


def _after_interrupt(
    pending: dict[object, T], outcomes: dict[object, Any], finished: Callable[[T, R], None]
) -> list[T]:
    """The items in flight at an interrupt, once the pool has shut down: the finished ones finished here, those
    the shutdown cancelled returned (their work never ran)."""
    never_ran = []
    for token, item in pending.items():
        if token not in outcomes:
            never_ran.append(item)
        elif isinstance(outcomes[token], Exception):
            raise outcomes[token]
        else:
            finished(item, outcomes[token])
    return never_ran


@dataclass(frozen=True)
class TaskRunner:
    """Runs a run's stage tasks: its options, the executor the tasks run on, the progress display."""

    options: RunOptions
    executor: Executor
    progress: Progress

    def run(self, label: str, task: Callable[..., T], *arguments: Any) -> T:
        """A stage task for the image `label` names, on the executor; Stopping once the run is interrupted."""
        try:
            result = self.executor.run(label, task, *arguments)
        except processes.Stopped:
            raise Stopping from None
        except TaskFailed:
            if processes.stopping():
                raise Stopping from None
            raise
        if processes.stopping():
            raise Stopping
        return result

    def run_graph(self, label: str, calls: dict[str, Call]) -> Outputs:
        """A graph of stage tasks for the image `label` names, on the executor, handed over whole; Stopping once
        the run is interrupted."""
        try:
            outputs = self.executor.run_graph(label, calls)
        except processes.Stopped:
            raise Stopping from None
        if processes.stopping():
            raise Stopping
        return outputs


@dataclass(frozen=True)
class BuiltImage:
    """An image as built and measured, with the host's figures of a cell's image."""

    measured: Measured
    host: HostFigures | None
    deployed_weights: tuple[int | float, ...] | None = None  # an inference image's, in qbench's order


@dataclass(frozen=True)
class Footprint:
    """A cell's image less its baseline's: its row so far (sizes, the host's figures) and its image's symbols."""

    row: ResultRow
    symbols: tuple[SymbolRow, ...]


@dataclass(frozen=True)
class Executed:
    """An image's run, the image by value, and the run's cache key (what its pricing is keyed by); on a cluster,
    a run that was not in the cache comes with its pricing for the core its execute task's cell names (`priced`,
    or the TaskFailed of the price task; None: not priced with it)."""

    run: CellRun
    elf: ImageFile
    key: str
    priced: Pricing | TaskFailed | None = None
    priced_for: str | None = None  # the core `priced` is for (None: a baseline's stack depth alone)


# A stage: a task of the graph, a way to take its named inputs (each made when first taken), the walk it is part of.
Stage = Callable[[Task, Callable[[str], Any], "GraphWalk"], Any]


@dataclass(frozen=True)
class GraphWalk:
    """A run's walk of its cell graph on the client: who runs the tasks, the tools found and missing, the columns
    every row carries, and the shared tasks' outputs (the baselines'), made once and kept for the run."""

    runner: TaskRunner
    graph: CellGraph
    tools: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    shared: SingleFlight = field(default_factory=lambda: SingleFlight(keep=True))
    # What the stages' cache keys read that stays as it is through a run (the host packages' versions, a
    # workload's files, a core's models): read once per run, not once per cell.
    constants: SingleFlight = field(default_factory=lambda: SingleFlight(keep=True))

    def constant(self, name: Hashable, read: Callable[[], T]) -> T:
        return self.constants.run(name, read)[0]

    def output(self, key: str, own: dict[str, Any] | None = None) -> Any:
        """The output of the task `key`, each input made as the task takes it: a shared task's once per run, any
        other once per walk of one cell (own holds them, and goes with the cell: memory stays flat)."""
        own = {} if own is None else own
        task = self.graph.tasks[key]

        def compute() -> Any:
            return STAGES[task.verb](task, lambda name: self.output(task.source(name), own), self)

        if task.shared:
            return self.shared.run(key, compute)[0]
        if key not in own:
            own[key] = compute()
        return own[key]


def workload_files(workload: Workload) -> str:
    """The digest of a workload's own folder (its workload.toml, data and sources: suite/workloads/NAME, or the
    folder --workload PATH names), "" when it has none."""
    folder = Path(workload.folder) if workload.folder is not None else SUITE / "workloads" / workload.name
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Sources:
    """An image's prepare stage: its prepared sources and, when a cluster was handed the image's prepare and build
    as one graph (the prepare was not in the cache), the build made from them or why it failed."""

    prepared: Prepared
    built: PlannedBuild | TaskFailed | None = None


def prepare_sources(task: Task, take: Callable[[str], Any], walk: GraphWalk) -> Sources:
    """The image's sources and host figures (from the cache, else a prepare task: host training is the costly
    part of a warm run). Inputs: everything of the spec that configures the sources, the workload's own files
    (its folder, and the data files it names), the library's files and the packages host training and the
    built-in data sets come from. On a cluster, a prepare that is not in the cache goes with its image's build as
    one graph: one round trip for both (the build cache is not consulted between them)."""
    spec, cache = task.spec, walk.runner.options.cache
    workload = spec.workload.name if not spec.workload.fingerprint else [spec.workload.name, spec.workload.fingerprint]
    key = cache.key(
        "prepare",
        workload=workload,
        target=spec.target.name,
        fmt=repr(spec.fmt),
        variant=str(spec.variant),
        opt=spec.opt,
        shape=repr(spec.shape),
        settings=repr(spec.settings),
        library=[spec.library.name, spec.library.fingerprint],
        files=walk.constant(("files", spec.workload.name, spec.workload.folder), lambda: workload_files(spec.workload)),
        packages=walk.constant("packages", lambda: {name: package_version(name) for name in HOST_PACKAGES}),
    )

    def compute() -> Sources:
        stored = cache.fetch_prepared(key)
        if stored is not None:
            return Sources(stored)
        if walk.runner.executor.whole_graphs and spec.target.compiler not in walk.missing:
            result = _prepared_and_built(spec, walk.runner)
        else:
            result = Sources(walk.runner.run(spec.label, prepare, spec))
        cache.store_prepared(key, result.prepared)
        return result

    try:
        return cache.once(key, compute)[0]
    except TaskFailed as error:
        return Sources(Prepared(None, None, f"the prepare task failed: {error}"))


def _prepared_and_built(spec: BuildSpec, runner: TaskRunner) -> Sources:
    """An image's prepare task and its build task, handed to the executor as one graph and gathered at once."""
    workspace = runner.executor.workspace
    graph = {
        "sources": Call(prepare, (spec,)),
        "image": Call(build_prepared, (Ref("sources"), spec, workspace, compile_image)),
    }
    outputs = runner.run_graph(spec.label, graph)
    if isinstance(outputs["sources"], TaskFailed):
        raise outputs["sources"]
    return Sources(outputs["sources"], outputs["image"])


def build_image(task: Task, take: Callable[[str], Any], walk: GraphWalk) -> BuiltImage:
    """The prepared image built and measured: as its prepare's graph built it, else from the plan made here, once
    (from the cache, else a build task)."""
    spec, sources = task.spec, take("sources")
    prepared, root = sources.prepared, walk.runner.options.build_root
    if prepared.sources is None:
        measured = _not_built(spec, "", prepared.error)
    elif isinstance(sources.built, TaskFailed):
        flags = " ".join(plan(spec, root, prepared.sources).flags)
        measured = _not_built(spec, flags, f"the build task failed: {sources.built}")
    elif sources.built is not None:
        measured = _received_build(sources.built, walk.runner)
    else:
        measured = _measured(plan(spec, root, prepared.sources), walk.runner)
    walk.runner.progress.done("build", spec.label, measured.error or "", measured.error is not None)
    return BuiltImage(measured, prepared.host, prepared.sources.weights if prepared.sources is not None else None)


def _not_built(spec: BuildSpec, flags: str, message: str) -> Measured:
    return Measured(Image(spec, None, flags, message), None, (), message)


def _build_key(planned: BuildPlan, cache: Cache) -> str:
    # The files the compiler reads are not in the key: the entry lists them, and a fetch checks them.
    return cache.key("build", compiler=version(planned.spec.target.compiler), plan=planned.identity())


def _received_build(built: PlannedBuild, runner: TaskRunner) -> Measured:
    """A build its prepare's graph made: its plan moved into the build folder, its files kept there, stored."""
    planned, cache = built.plan.under(runner.options.build_root), runner.options.cache
    result = _received(built.compiled, planned)
    cache.store_build(_build_key(planned, cache), result, built.compiled.dependencies)
    return result


def _measured(planned: BuildPlan, runner: TaskRunner) -> Measured:
    spec, cache = planned.spec, runner.options.cache
    key = _build_key(planned, cache)

    def compute() -> Measured:
        stored = cache.fetch_build(key, planned)
        if stored is not None:
            return stored
        compiled = runner.run(spec.label, compile_image, planned, runner.executor.workspace)
        result = _received(compiled, planned)
        cache.store_build(key, result, compiled.dependencies)
        return result

    try:
        result, computed_here = cache.once(key, compute)
    except TaskFailed as error:
        return _not_built(spec, " ".join(planned.flags), f"the build task failed: {error}")
    if computed_here:
        return result
    # The same build for another spec (equal flags and sources): its own copy in its own directory.
    copied = cache.fetch_build(key, planned)
    return copied if copied is not None else replace(result, image=replace(result.image, spec=spec))


def _received(compiled: Compiled, planned: BuildPlan) -> Measured:
    """A compiled image as the client keeps it: its files in the plan's own folder (unless the task built it
    there), its messages naming that folder."""
    place = shown(planned.directory)
    log = planned.log
    if compiled.output != planned.output:
        planned.write_generated()
        if compiled.log is not None:
            written_anew(log, compiled.log.replace(IMAGE_PLACE, place))
        if compiled.elf is not None:
            written_anew(planned.output, compiled.elf)
    error = None if compiled.error is None else compiled.error.replace(IMAGE_PLACE, place)
    built = compiled.elf is not None
    kept_log = log if compiled.log is not None else None
    image = Image(
        planned.spec, planned.output if built else None, " ".join(planned.flags), None if built else error, kept_log
    )
    return Measured(image, compiled.sizes, compiled.symbols, error)


def measure_footprint(task: Task, take: Callable[[str], Any], walk: GraphWalk) -> Footprint:
    """The cell's image less its baseline's, with the toolchain that built it and the host's figures."""
    cell, image = task.cell, take("image")
    row = footprint_row(cell, image.measured, take("baseline image").measured, walk.provenance)
    row = replace(row, toolchain=walk.tools[cell.target.compiler])
    if image.host is not None:
        row = with_host_figures(row, image.host)
    return Footprint(row, image_symbols(cell, image.measured) if row.lib_flash is not None else ())


def execute_image(task: Task, take: Callable[[str], Any], walk: GraphWalk) -> Executed:
    """The image's counted run, told on the progress display."""
    core = None if task.cell is None else task.cell.target.name  # whose model its price task prices with
    executed = _executed(take("image").measured.image, task.spec.target, core, walk.tools[EMULATOR], walk.runner)
    run = executed.run
    if task.cell is not None:
        walk.runner.progress.done("run", *describe_run(task.cell, run))
    else:
        baseline = f"{task.spec.target.name} baseline -{task.spec.opt}"
        walk.runner.progress.done("run", baseline, run.emulated.message, run.emulated.status != Status.OK)
    return executed


def _executed(image: Image, target: Target, core: str | None, emulator: str, runner: TaskRunner) -> Executed:
    """The image's counted run (from the cache, else an execute task): inputs are the ELF's bytes, the machine,
    the emulator and its plugin. Images equal byte for byte (cortex-m0 and m0plus) share one run. On a cluster, a
    run not in the cache goes with its pricing for `core` as one graph: the run is priced where it ran, in the
    same round trip."""
    options = runner.options
    data = image.path.read_bytes()
    elf = ImageFile(str(image.path.relative_to(options.build_root.resolve())), data)
    digest = hashlib.sha256(data).hexdigest()
    key = options.cache.key(
        "execute", elf=digest, machine=target.qemu_machine, emulator=emulator, plugin=source_digest()
    )
    arguments = (elf, target, options.timeout, runner.executor.workspace)

    def compute() -> Executed:
        stored = options.cache.fetch_run(key)
        if stored is not None:
            return Executed(stored, elf, key)
        if runner.executor.whole_graphs:
            executed = _executed_and_priced(image.spec.label, arguments, core, key, runner)
        else:
            executed = Executed(runner.run(image.spec.label, execute, *arguments), elf, key)
        options.cache.store_run(key, executed.run)
        return executed

    try:
        # A run shared with an image equal byte for byte is priced from this image, as its row names it.
        return replace(options.cache.once(key, compute)[0], elf=elf)
    except TaskFailed as error:
        return Executed(CellRun(Emulated(Status.RUN_FAILED, f"the execute task failed: {error}")), elf, key)


def _executed_and_priced(label: str, arguments: tuple, core: str | None, key: str, runner: TaskRunner) -> Executed:
    """An image's execute task and its price task for `core`, handed to the executor as one graph."""
    elf, workspace = arguments[0], arguments[-1]
    graph = {"run": Call(execute, arguments), "priced": Call(price, (Ref("run"), elf, core, workspace))}
    outputs = runner.run_graph(label, graph)
    if isinstance(outputs["run"], TaskFailed):
        raise outputs["run"]
    return Executed(outputs["run"], elf, key, outputs["priced"], core)


def price_run(task: Task, take: Callable[[str], Any], walk: GraphWalk) -> Pricing:
    """The run priced with the task's core's timing table (None: the stack depth alone): from the cache, else a
    price task. Inputs: the run's own key (its ELF, machine, emulator, cut), the core and its timing table's
    file; the pricing code is in the key as every stage's code is."""
    executed, runner = take("run"), walk.runner
    run, cache = executed.run, runner.options.cache
    if run.counted is None:
        return Pricing(None, run.count_message)
    models = walk.constant(("models", task.core), lambda: model_digest(task.core))
    key = cache.key("price", run=executed.key, core=task.core, models=models)

    def compute() -> Pricing:
        stored = cache.fetch_priced(key)
        if stored is not None:
            return Pricing(stored)
        if executed.priced is not None and executed.priced_for == task.core:  # priced in the run's own graph
            result = executed.priced
            if isinstance(result, TaskFailed):
                raise result
        else:
            result = runner.run(task.spec.label, price, run, executed.elf, task.core, runner.executor.workspace)
        if result.priced is not None:
            cache.store_priced(key, result.priced)
        return result

    try:
        return cache.once(key, compute)[0]
    except TaskFailed as error:
        return Pricing(None, f"the price task failed: {error}")


def analyse_cell(task: Task, take: Callable[[str], Any], walk: GraphWalk) -> CellOutcome:
    """The cell's row, taking each input only once what came before allows it: a cell whose compiler is missing
    is prepared alone, one that did not build or is not run ends at its footprint."""
    cell = task.cell
    compiler = cell.target.compiler
    if compiler in walk.missing:
        return CellOutcome(
            _host_only(take, cell_row(cell, Status.TOOL_MISSING, walk.missing[compiler], walk.provenance))
        )
    try:
        footprint = take("footprint")
    except Stopping:
        return CellOutcome(incomplete(cell_row(cell, Status.INCOMPLETE, "", walk.provenance), "build"))
    row, symbols = footprint.row, footprint.symbols
    if row.status != Status.OK or not task.takes("run"):
        return CellOutcome(row, symbols)
    if EMULATOR in walk.missing:
        return CellOutcome(replace(row, status=Status.TOOL_MISSING, message=walk.missing[EMULATOR]), symbols)
    try:
        return replace(_emulated(cell, row, take, walk), symbols=symbols)
    except Stopping:
        return CellOutcome(incomplete(row, "emulated run"), symbols)


def _host_only(take: Callable[[str], Any], row: ResultRow) -> ResultRow:
    """A cell that cannot be built still gets the host's figures (or says why the host could not make them)."""
    try:
        prepared = take("sources").prepared
    except Stopping:
        return incomplete(row, "build")
    if prepared.host is None:
        return replace(row, status=Status.BUILD_FAILED, message=prepared.error)
    return with_host_figures(row, prepared.host)


def _emulated(cell: Cell, row: ResultRow, take: Callable[[str], Any], walk: GraphWalk) -> CellOutcome:
    baseline_peak = stack_peak(take("baseline run").run, take("baseline priced").priced)
    image, run, pricing = take("image"), take("run").run, take("priced")
    expected = image.host.expected_predictions if image.host is not None else None
    emulator = walk.tools[EMULATOR]
    records = RunRecords(
        run, pricing.priced, pricing.error, baseline_peak, emulator, expected, image.deployed_weights, image.host
    )
    instructions, training = run_tables(cell, run, pricing.priced)
    return CellOutcome(with_run(row, cell, records), (), instructions, training)


# Each verb's stage (qbench.orchestration.graph.Verb): what the walk does for a task of it.
STAGES: dict[Verb, Stage] = {
    Verb.PREPARE: prepare_sources,
    Verb.BUILD: build_image,
    Verb.MEASURE: measure_footprint,
    Verb.EXECUTE: execute_image,
    Verb.PRICE: price_run,
    Verb.ANALYSE: analyse_cell,
}


def article_stage(library: Library, root: Path, cache: Cache) -> list[ArticleFigure]:
    """The article's own host configuration for one library (g++ -O3, GNU size): inputs are the library's
    files and the host compiler; ArticleError when it does not build."""
    key = cache.key("article", compiler=version(ARTICLE_COMPILER), library=library.name, files=library.fingerprint)

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


def _tools(matrix: Matrix, options: RunOptions, progress: Progress) -> tuple[dict[str, str], dict[str, str]]:
    tools, missing = check_tools({cell.target.compiler for cell in matrix.cells}, progress)
    if any(options.emulate and cell.target.emulated for cell in matrix.cells):
        found, emulator_missing = check_tools([EMULATOR], progress)
        tools |= found
        missing |= emulator_missing
    return tools, missing


def _begin(matrix: Matrix, walk: GraphWalk) -> None:
    """The progress display's totals: images to build, runs (at most), cells."""
    buildable = [cell for cell in matrix.cells if cell.target.compiler not in walk.missing]
    emulated = [cell for cell in buildable if walk.runner.options.emulate and cell.target.emulated]
    progress = walk.runner.progress
    progress.begin("build", len(baseline_specs(buildable)) + len(buildable))
    if emulated and EMULATOR not in walk.missing:
        progress.begin("run", len(baseline_specs(emulated)) + len(emulated))
    progress.begin("cells", len(matrix.rejected) + len(matrix.cells))


def _baselines_built(walk: GraphWalk, spool: Spool) -> None:
    """Each baseline built during the run gives the spool its symbols."""
    for key, built in walk.shared.finished().items():
        spec = walk.graph.tasks[key].spec
        if walk.graph.tasks[key].verb == Verb.BUILD:
            spool.add_baseline(spec.target.name, spec.opt, baseline_symbols(spec.target.name, spec.opt, built.measured))


def run_matrix(
    matrix: Matrix, options: RunOptions, revision: Revision, progress: Progress, executor: Executor, spool: Spool
) -> RunOutput:
    tools, missing = _tools(matrix, options, progress)
    executor.require(tools)
    executor.watch(progress.note)
    graph = cell_graph(matrix.cells, options.settings, options.emulate)
    provenance = Provenance(revision.sha, revision.dirty)
    walk = GraphWalk(TaskRunner(options, executor, progress), graph, tools, missing, provenance)
    _begin(matrix, walk)
    for index, rejected in enumerate(matrix.rejected):
        spool.add(index, CellOutcome(cell_row(rejected.cell, Status.INVALID, rejected.reason, provenance)))

    def finished(item: tuple[int, Cell, str], outcome: CellOutcome) -> None:
        spool.add(item[0], outcome)
        failed = outcome.row.status not in (Status.OK, Status.INVALID)
        progress.done("cells", item[1].label, "" if not failed else f"{outcome.row.status}", failed)

    numbered = list(zip(itertools.count(len(matrix.rejected)), matrix.cells, graph.ends))
    parallel(numbered, lambda item: walk.output(item[2]), executor.flows(), finished, executor.stop)
    # Every cell without an outcome, whether its work never ran or an interrupt came between its work and its row.
    held = spool.held()
    unfinished = [(index, cell) for index, cell, _ in numbered if index not in held]
    for index, cell in unfinished:
        spool.add(index, CellOutcome(incomplete(cell_row(cell, Status.INCOMPLETE, "", provenance), "build")))
    _baselines_built(walk, spool)
    interrupted = bool(unfinished) or processes.stopping()
    article, problems, interrupted = ([], [], True) if interrupted else _article(matrix, options, progress)
    baselines = list(baseline_specs([cell for cell in matrix.cells if cell.target.compiler not in missing]))
    rows = spool.rows()
    symbols, instructions = spool.symbols(baselines), spool.instructions()
    events = executor.events()
    return RunOutput(rows, symbols, instructions, spool.training, tools, interrupted, article, problems, events)


def build_images(
    specs: list[BuildSpec], options: RunOptions, executor: Executor, progress: Progress
) -> tuple[dict[BuildSpec, Measured], bool]:
    """Only the build stage (prepare, build and measure) of every spec: `qbench build`."""
    runner = TaskRunner(options, executor, progress)
    executor.watch(progress.note)
    built: dict[BuildSpec, Measured] = {}

    def work(spec: BuildSpec) -> Measured | None:
        graph = image_graph(spec)
        try:
            return GraphWalk(runner, graph).output(graph.ends[0]).measured
        except Stopping:
            return None

    def finished(spec: BuildSpec, measured: Measured | None) -> None:
        if measured is not None:
            built[spec] = measured

    progress.begin("build", len(specs))
    unfinished = parallel(specs, work, executor.flows(), finished, executor.stop)
    return built, bool(unfinished) or processes.stopping()
