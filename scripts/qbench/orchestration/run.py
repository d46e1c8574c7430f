"""A run from its request to its results folder: the request checked whole before anything starts (`plan`), the
cells run on the chosen executor with their rows streamed beside the folder, the rows stamped with the date and
qbench's version and written with the report (`run_into`); `build` does the build stage alone.

The command line only builds a `RunRequest` from its arguments and turns a `RunResult` (or `BuildResult`) into
its closing line and exit status.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from qbench import __version__
from qbench.common.errors import UsageError
from qbench.common.paths import shown
from qbench.hardware.targets import TargetError, load_parts, load_targets, select
from qbench.images.build import BuildSpec
from qbench.images.matrix import Matrix, MatrixRequest, expand, shard
from qbench.images.workloads import WORKLOADS, WorkloadSettings
from qbench.orchestration.cache import Cache
from qbench.orchestration.executors import Executor, LocalExecutor
from qbench.orchestration.graph import cell_graph, listing
from qbench.orchestration.progress import Progress
from qbench.orchestration.provenance import Revision, environment, git_revision, matrix_digest, now
from qbench.records.outputs import ResultsFolder, checked_folder, writable_folder
from qbench.records.results import ResultRow, SavedResults, Status, saved_results, write_results

SHOWN_CELLS = 4  # invalid cells named per reason on the terminal; the rest are counted

Added = TypeVar("Added")


@dataclass(frozen=True)
class ExecutorChoice:
    """Where the tasks go: this process's threads (`jobs`), a local dask cluster of `workers` processes, or the
    existing cluster at `scheduler`."""

    jobs: int
    workers: int | None = None
    scheduler: str | None = None


@dataclass(frozen=True)
class RunRequest:
    """Everything a run (or a build) needs, built once from the command line."""

    matrix: MatrixRequest
    targets: Path  # the targets directory: cores/ and parts.toml
    build_dir: Path
    cache_dir: Path
    read_cache: bool
    executor: ExecutorChoice
    parts_files: tuple[Path, ...] = ()  # over parts.toml, in order
    parts: tuple[str, ...] | None = None  # the budget table's parts; None: all of them
    out: str | None = None  # the results folder, as given; None: nothing is written (qbench build)
    emulate: bool = True
    timeout: float = 60.0  # seconds per emulator run
    shard: tuple[int, int] | None = None  # (I, N): the I-th of N shares of the matrix

    @property
    def settings(self) -> WorkloadSettings:
        return self.matrix.settings


@dataclass(frozen=True)
class PlannedRun:
    """A run's request, checked whole before anything is built or any folder touched."""

    request: RunRequest
    matrix: Matrix  # this shard of it
    digest: str  # of the whole matrix with its settings
    parts: dict


@dataclass(frozen=True)
class RunResult(Generic[Added]):
    """What a run wrote and how its cells ended; `added` is what the run's `then` added to the folder."""

    ok: int
    failed: int
    invalid: int
    from_cache: int
    results: Path  # the folder the results went into: --out, or beside it when interrupted
    report: Path
    problems: tuple[str, ...]  # what failed outside the cells
    interrupted: bool
    added: Added | None = None

    @property
    def succeeded(self) -> bool:
        return bool(self.ok) and not (self.failed or self.invalid or self.problems)


@dataclass(frozen=True)
class BuildResult:
    built: int
    images: int  # the cells' images and their empty baselines
    failed: int  # images that failed, cells whose compiler is missing, invalid cells
    from_cache: int
    interrupted: bool


def all_parts(targets: Path, parts_files: Sequence[Path]) -> dict:
    """The targets directory's parts.toml with every parts file over it, in order (a part named again is
    replaced, a new one added)."""
    return load_parts(load_targets(targets), targets / "parts.toml", list(parts_files))


def chosen_parts(targets: Path, parts_files: Sequence[Path], names: Sequence[str] | None) -> tuple[dict, list[str]]:
    """The parts `names` names (all of them when None), and its bad names."""
    parts = all_parts(targets, parts_files)
    if names is None:
        return parts, []
    chosen, problems = {}, []
    for name in names:
        try:
            chosen[name] = select([name], parts, "part")[0]
        except TargetError as error:
            problems.append(f"--parts: {error}")
    return chosen, problems


def refusal(problems: Sequence[str]) -> UsageError:
    """A request with malformed values runs nothing: every bad value is named, each with its nearest valid one."""
    if len(problems) == 1:
        return UsageError(f"{problems[0]} (nothing was run)")
    return UsageError(f"the command line has {len(problems)} bad values; nothing was run:\n  " + "\n  ".join(problems))


def invalid_lines(matrix: Matrix) -> list[str]:
    """Why each requested cell that cannot be built is invalid, one line per reason (its rows say it too)."""
    by_reason: dict[str, list[str]] = {}
    for rejected in matrix.rejected:
        by_reason.setdefault(rejected.reason, []).append(rejected.cell.label)
    return [_invalid_line(reason, labels) for reason, labels in by_reason.items()]


def _invalid_line(reason: str, labels: list[str]) -> str:
    more = f" and {len(labels) - SHOWN_CELLS} more" if len(labels) > SHOWN_CELLS else ""
    cells = "1 cell" if len(labels) == 1 else f"{len(labels)} cells"
    return f"invalid: {reason} ({cells}: {', '.join(labels[:SHOWN_CELLS])}{more})"


def planned_matrix(request: RunRequest, progress: Progress, other_problems: Sequence[str] = ()) -> tuple[Matrix, str]:
    """The requested matrix (this shard of it) and a digest of the whole matrix with its settings; refused with
    its bad values and those of other options."""
    matrix = expand(load_targets(request.targets), WORKLOADS, request.matrix)
    labels = [cell.label for cell in matrix.cells] + [rejected.cell.label for rejected in matrix.rejected]
    digest = matrix_digest([_settings_line(request.settings), *labels])
    if matrix.problems or other_problems:
        raise refusal([*matrix.problems, *other_problems])
    if request.shard is not None:
        matrix = shard(matrix, *request.shard)
    for line in [*(f"note: {skipped}" for skipped in matrix.notes), *invalid_lines(matrix)]:
        progress.note(line)
    if not matrix.cells and not matrix.rejected:
        raise UsageError("nothing to do: the request names no buildable cell")
    return matrix, digest


def _settings_line(settings: WorkloadSettings) -> str:
    """The settings as the matrix digest has always spelled them (merge compares digests across versions)."""
    activations = (
        None if settings.hidden_activation is None else (settings.hidden_activation, settings.output_activation)
    )
    return (
        f"max-iterations {settings.max_iterations} log-every {settings.log_every} activations {activations} "
        f"initial-weights {settings.initial_weights}"
    )


def check_work_folders(request: RunRequest) -> None:
    """The build and cache folders can be written: found before anything runs, not by every cell failing."""
    for what, path in (("--build-dir", request.build_dir), ("--cache-dir", request.cache_dir)):
        writable_folder(path, what)


def plan(request: RunRequest, progress: Progress) -> PlannedRun:
    parts, bad_parts = chosen_parts(request.targets, request.parts_files, request.parts)
    matrix, digest = planned_matrix(request, progress, bad_parts)
    check_work_folders(request)
    return PlannedRun(request, matrix, digest, parts)


def plan_listing(planned: PlannedRun) -> str:
    """The planned run's cell graph as text, one task a line and the count (`qbench run --plan`); nothing runs."""
    request = planned.request
    return listing(cell_graph(planned.matrix.cells, request.settings, request.emulate))


def _cache(request: RunRequest, progress: Progress) -> Cache:
    return Cache(request.cache_dir, read=request.read_cache, warn=progress.note)


@contextmanager
def executor_for(choice: ExecutorChoice, build_dir: Path) -> Iterator[Executor]:
    """This machine's threads, a local dask cluster or an existing one; closed when the run is over."""
    if choice.workers is None and choice.scheduler is None:
        yield LocalExecutor(choice.jobs, build_dir)
        return
    from qbench.orchestration.executors import ClusterExecutor

    try:
        if choice.scheduler is not None:
            executor = ClusterExecutor.connect(choice.scheduler)
        else:
            executor = ClusterExecutor.start(choice.workers)
    except (OSError, TimeoutError, ValueError) as error:
        where = f"the scheduler {choice.scheduler}" if choice.scheduler else "a local cluster"
        raise UsageError(f"cannot reach {where}: {error}") from None
    try:
        yield executor
    finally:
        executor.close()


def run_into(
    folder: ResultsFolder,
    planned: PlannedRun,
    progress: Progress,
    then: Callable[[Path, SavedResults], Added] | None = None,
) -> RunResult[Added]:
    """Runs the matrix into the folder; then(staging, saved results) adds to it (qbench explore) unless the run
    was interrupted. The rows stream beside the folder meanwhile."""
    checked_folder(str(folder.interrupted), "--out's sibling for an interrupted run's rows")
    revision = git_revision()
    try:
        return _written(folder, planned, revision, then, progress)
    finally:
        shutil.rmtree(folder.partial, ignore_errors=True)


def stamped(rows: Sequence[ResultRow], date: str) -> list[ResultRow]:
    """The rows as this run writes them: with its date and qbench's version."""
    return [dataclasses.replace(row, qbench_version=__version__, date=date) for row in rows]


def _written(
    folder: ResultsFolder,
    planned: PlannedRun,
    revision: Revision,
    then: Callable[[Path, SavedResults], Added] | None,
    progress: Progress,
) -> RunResult[Added]:
    """The run's results, report and what `then` adds, written whole into the folder (into the folder beside it
    when the run was interrupted: earlier results are never replaced by fewer)."""
    from qbench.records.results import read_training_logs
    from qbench.reporting.plot_store import PlotStore
    from qbench.reporting.report import write_report

    output, cache = _cells(planned, revision, folder, progress)
    rows = stamped(output.rows, now())
    saved = saved_results(
        rows, output.symbols, _environment(planned, output, revision), output.instructions, article=output.article
    )
    into = folder.interrupted if output.interrupted else folder.path
    added = None
    with folder.replacing(into=into) as staging:
        write_results(staging, saved, logs=output.training)
        # The report from the rows in memory; only the training logs, moved in as files, are read back.
        written = dataclasses.replace(saved, training=read_training_logs(staging))
        plots = PlotStore.in_cache(cache.directory, read=cache.read)  # figures whose data did not change
        report = into / write_report(staging, written, planned.parts, plots).name
        if then is not None and not output.interrupted:
            added = then(staging, written)
    if not output.interrupted and folder.drop_interrupted():
        progress.note(f"note: removed {shown(folder.interrupted)}, an earlier interrupted run's rows, now superseded")
    ok = sum(row.status == Status.OK for row in rows)
    invalid = sum(row.status == Status.INVALID for row in rows)
    return RunResult(
        ok,
        len(rows) - ok - invalid,
        invalid,
        cache.hits,
        into,
        report,
        tuple(output.problems),
        output.interrupted,
        added,
    )


def _environment(planned: PlannedRun, output, revision: Revision) -> dict:
    """results.json's environment block: where and how the run ran."""
    libraries = {cell.library for cell in planned.matrix.cells}
    return environment(
        revision,
        output.tools,
        list(output.problems),
        output.interrupted,
        shard=planned.request.shard,
        matrix_digest=planned.digest,
        libraries=libraries,
        cluster=output.cluster,
    )


def _cells(planned: PlannedRun, revision: Revision, folder: ResultsFolder, progress: Progress):
    """The matrix run on the chosen executor, its rows streamed beside the folder: (the run's output, its cache)."""
    from qbench.orchestration.pipeline import RunOptions, run_matrix
    from qbench.orchestration.spool import Spool

    request = planned.request
    options = RunOptions(
        build_root=request.build_dir,
        jobs=request.executor.jobs,
        cache=_cache(request, progress),
        emulate=request.emulate,
        timeout=request.timeout,
        settings=request.settings,
    )
    try:
        with executor_for(request.executor, request.build_dir) as executor:
            spool = Spool(folder.partial)
            progress.note(f"note: rows stream to {shown(spool.rows_file)} as cells finish")
            try:
                output = run_matrix(planned.matrix, options, revision, progress, executor, spool)
            finally:
                spool.close()
    finally:
        progress.finish()
    return output, options.cache


def build(request: RunRequest, progress: Progress) -> BuildResult:
    """The build stage alone (`qbench build`): every buildable cell's image and the empty baselines."""
    from qbench.orchestration.pipeline import RunOptions, baseline_specs, build_images, check_tools

    matrix, _ = planned_matrix(request, progress)
    check_work_folders(request)
    tools, missing = check_tools({cell.target.compiler for cell in matrix.cells}, progress)
    buildable = [cell for cell in matrix.cells if cell.target.compiler not in missing]
    specs = [*baseline_specs(buildable).values(), *(BuildSpec.for_cell(cell, request.settings) for cell in buildable)]
    options = RunOptions(request.build_dir, request.executor.jobs, _cache(request, progress), settings=request.settings)
    try:
        with executor_for(request.executor, request.build_dir) as executor:
            executor.require(tools)
            measured, interrupted = build_images(specs, options, executor, progress)
    finally:
        progress.finish()
    built = sum(result.image.ok for result in measured.values())
    failed = len(specs) - built + len(matrix.cells) - len(buildable) + len(matrix.rejected)
    return BuildResult(built, len(specs), failed, options.cache.hits, interrupted)
