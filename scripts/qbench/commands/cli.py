# PYTHON_ARGCOMPLETE_OK (shell completion: eval "$(register-python-argcomplete qbench)")
"""The qbench command line.

Exit status: 0 when every requested cell succeeded; 1 when any cell failed or
was invalid (the rest still ran), when `compare` found a regression, or when
writing the output folder failed (the previous one is kept); 2 when nothing
could start (a malformed value in any option, a malformed target file, an
unreadable results file, an output, build or cache folder that cannot be
written, an output folder another qbench is writing); 130 (Ctrl-C) or 143
(SIGTERM) when a command was interrupted, after saying what it wrote: a run's
finished rows go beside --out, never in its place.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import argcomplete

from qbench import __version__
from qbench.commands.listing import KINDS, listing
from qbench.common.nearest import nearest_hint
from qbench.common.paths import BUILD, REPORTS, TARGETS, checkout_problem, shown
from qbench.hardware.targets import TargetError, load_parts, load_targets, select
from qbench.hardware.toolchain import ToolNotFound
from qbench.images.build import BuildSpec
from qbench.images.libraries import CONTRACT_DOCS, QNN, Library, LibraryError, builtin_names, parse_library
from qbench.images.matrix import (
    DEFAULT_FORMATS,
    DEFAULT_OPT,
    OPT_LEVELS,
    Matrix,
    Variant,
    core_order,
    expand,
    parse_shard,
    shard,
)
from qbench.images.torch_import import TorchImportError, write_network
from qbench.images.workloads import ACTIVATIONS, INITIAL_WEIGHTS, WORKLOADS, WorkloadError, WorkloadSettings
from qbench.models import lut
from qbench.models.datasets import DataFileError
from qbench.models.network import FloatNetwork, NetworkError, network_from_document
from qbench.models.qformat import FLOAT32, MAX_TOTAL_BITS, QFormatError, parse_format, parse_qformat
from qbench.models.testdata import read_test_data
from qbench.orchestration.cache import Cache
from qbench.orchestration.executors import Executor, LocalExecutor
from qbench.orchestration.progress import Progress, for_stream
from qbench.orchestration.provenance import environment, git_revision, matrix_digest, now
from qbench.records.merge import MergeError, merge
from qbench.records.outputs import (
    FolderError,
    ResultsFolder,
    WriteError,
    checked_folder,
    results_folder,
    writable_folder,
)
from qbench.records.results import ResultsFileError, Status, read_results, saved_results, write_results
from qbench.reporting.compare import DEFAULT_METRICS, METRICS, CompareError, compare, parse_threshold
from qbench.reporting.compare import KEY as COMPARE_KEY
from qbench.reporting.performance_targets import TARGETS_FILE, PerformanceTargetError

# The pipeline, the report with its plots (matplotlib) and verify (unicorn) are imported by the commands that use
# them, so that the parser, and with it the shell's completion, starts without them.

# Exit status of an interrupted run, by signal.
INTERRUPT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}
# Upper bounds of the numeric options: far beyond any useful value, low enough to catch a slip.
MAX_JOBS = 1024
MAX_ITERATIONS = 1_000_000
MAX_TIMEOUT = 86_400.0  # one day
RESUMES = "the next run resumes from the cache"
TIMES = {2: "twice", 3: "three times", 4: "four times"}  # how often a list option named one value
SHOWN_CELLS = 4  # invalid cells named per reason on the terminal; the rest are counted


class UsageError(Exception):
    """Nothing can start: the message says why."""


class Interrupted(Exception):
    """A command stopped by Ctrl-C or SIGTERM; the message says what it wrote."""


# The signal that interrupted the run, if any; SIGTERM is turned into KeyboardInterrupt.
_interrupting_signal = signal.SIGINT


def _lut(arguments: argparse.Namespace) -> int:
    fmt = parse_qformat(arguments.format)
    if arguments.function == "tanh" and not fmt.signed:
        raise QFormatError(f"tanh needs a signed Q format; {fmt.name} is unsigned")
    sys.stdout.write(lut.header_text(fmt, arguments.function))
    return 0


def _settings(arguments: argparse.Namespace) -> WorkloadSettings:
    hidden, output = arguments.activations or (None, None)
    test_file, target = getattr(arguments, "test_data", None), getattr(arguments, "target", None)
    if test_file is None and target is not None:
        raise UsageError("--target names the test data's target column: give --test-data FILE too")
    if test_file is not None and arguments.model is None:
        raise UsageError("--test-data scores an imported network: give --model NETWORK_JSON too")
    return WorkloadSettings(
        max_iterations=arguments.max_iterations, log_every=arguments.log_every,
        hidden_activation=hidden, output_activation=output, model=arguments.model,
        test_data=None if test_file is None else read_test_data(test_file, target),
        initial_weights=getattr(arguments, "initial_weights", WorkloadSettings.initial_weights),
    )  # fmt: skip


def _model(text: str) -> FloatNetwork:
    """A network file (qbench import-torch writes one) for --model."""
    path = Path(text)
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise argparse.ArgumentTypeError(f"{text}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{text}: not valid JSON ({error})") from None
    try:
        return network_from_document(document, text)
    except NetworkError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _without_repeats(option: str, items: Iterable, note: Callable[[str], None], key: Callable = lambda item: item,
                     name: Callable = str) -> list:  # fmt: skip
    """The items, each kept once (its first spelling) by key, with one note per repeated one."""
    kept: dict = {}
    counts: dict = {}
    for item in items:
        kept.setdefault(key(item), item)
        counts[key(item)] = counts.get(key(item), 0) + 1
    for same, count in counts.items():
        if count > 1 and name(kept[same]):  # an empty item names nothing; the matrix reports it
            note(f"note: {option} names {name(kept[same])} {TIMES.get(count, f'{count} times')}; "
                 "measured once")  # fmt: skip
    return list(kept.values())


def _distinct(option: str, text: str | None, note: Callable[[str], None], key: Callable = str) -> str | None:
    """A comma-separated option without repeats (two spellings of one value are a repeat too)."""
    if text is None:
        return None
    return ",".join(_without_repeats(option, (item.strip() for item in text.split(",")), note, key))


def _format_key(text: str) -> object:
    """A format's canonical name (Q16.16 is q16.16); a bad name is itself, and the matrix reports it."""
    try:
        return parse_format(text).name
    except QFormatError:
        return text


def _opt_key(text: str) -> str:
    return text.removeprefix("-")  # -Os and Os are one level


def _size_key(text: str) -> object:
    return int(text) if text.isdigit() else text  # 4 and 04 are one size


def _libraries(arguments: argparse.Namespace, note: Callable[[str], None]) -> tuple[Library, ...]:
    libraries = _without_repeats("--library", arguments.library, note, name=lambda library: library.name)
    names = [library.name for library in libraries]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--library names {', '.join(repeated)} for different folders; give each library its own name")
    return (QNN, *libraries)


def _matrix(arguments: argparse.Namespace, progress: Progress,
            other_problems: Sequence[str] = ()) -> tuple[Matrix, str]:  # fmt: skip
    """The requested matrix (this shard of it) and a digest of the whole matrix with its settings; refused with
    its bad values and those of other options."""
    note = progress.note
    matrix = expand(
        load_targets(arguments.targets), WORKLOADS, cores=_distinct("--cores", arguments.cores, note),
        formats=_distinct("--formats", arguments.formats, note, _format_key),
        variants=_distinct("--variants", arguments.variants, note),
        opt=_distinct("--opt", arguments.opt, note, _opt_key),
        workload=arguments.workload, settings=_settings(arguments), libraries=_libraries(arguments, note),
        hidden_layers=_distinct("--hidden-layers", arguments.hidden_layers, note, _size_key),
        hidden_neurons=_distinct("--hidden-neurons", arguments.hidden_neurons, note, _size_key),
    )  # fmt: skip
    settings = f"max-iterations {arguments.max_iterations} log-every {arguments.log_every} " \
               f"activations {arguments.activations}"  # fmt: skip
    settings += f" initial-weights {getattr(arguments, 'initial_weights', WorkloadSettings.initial_weights)}"
    digest = matrix_digest([settings, *(cell.label for cell in matrix.cells),
                            *(rejected.cell.label for rejected in matrix.rejected)])  # fmt: skip
    if matrix.problems or other_problems:
        raise _refusal([*matrix.problems, *other_problems])
    if arguments.shard is not None:
        matrix = shard(matrix, *arguments.shard)
    for skipped in matrix.notes:
        progress.note(f"note: {skipped}")
    for line in _invalid_lines(matrix):
        progress.note(line)
    if not matrix.cells and not matrix.rejected:
        raise UsageError("nothing to do: the request names no buildable cell")
    return matrix, digest


def _refusal(problems: Sequence[str]) -> UsageError:
    """A command line with malformed values runs nothing: every bad value is named, each with its nearest valid one."""
    if len(problems) == 1:
        return UsageError(f"{problems[0]} (nothing was run)")
    return UsageError(f"the command line has {len(problems)} bad values; nothing was run:\n  " + "\n  ".join(problems))


def _invalid_lines(matrix: Matrix) -> list[str]:
    """Why each requested cell that cannot be built is invalid, one line per reason (its rows say it too)."""
    by_reason: dict[str, list[str]] = {}
    for rejected in matrix.rejected:
        by_reason.setdefault(rejected.reason, []).append(rejected.cell.label)
    lines = []
    for reason, labels in by_reason.items():
        more = f" and {len(labels) - SHOWN_CELLS} more" if len(labels) > SHOWN_CELLS else ""
        cells = "1 cell" if len(labels) == 1 else f"{len(labels)} cells"
        lines.append(f"invalid: {reason} ({cells}: {', '.join(labels[:SHOWN_CELLS])}{more})")
    return lines


def _cache_folder(arguments: argparse.Namespace) -> Path:
    return arguments.cache_dir or arguments.build_dir / "cache"


def _cache(arguments: argparse.Namespace, progress: Progress) -> Cache:
    return Cache(_cache_folder(arguments), read=not arguments.no_cache, warn=progress.note)


def _check_work_folders(arguments: argparse.Namespace) -> None:
    """The build and cache folders can be written: found before anything runs, not by every cell failing."""
    for what, path in (("--build-dir", arguments.build_dir), ("--cache-dir", _cache_folder(arguments))):
        writable_folder(path, what)


def _all_parts(arguments: argparse.Namespace) -> dict:
    """The targets directory's parts.toml with every --parts-file over it, in order (a part named again is
    replaced, a new one added)."""
    return load_parts(load_targets(arguments.targets), arguments.targets / "parts.toml", arguments.parts_file)


def _parts(arguments: argparse.Namespace) -> tuple[dict, list[str]]:
    """The parts --parts names (all of them when not given), and its bad names."""
    parts = _all_parts(arguments)
    if arguments.parts is None:
        return parts, []
    chosen, problems = {}, []
    for name in (name.strip() for name in arguments.parts.split(",")):
        try:
            chosen[name] = select([name], parts, "part")[0]
        except TargetError as error:
            problems.append(f"--parts: {error}")
    return chosen, problems


def _build(arguments: argparse.Namespace) -> int:
    from qbench.orchestration.pipeline import RunOptions, baseline_specs, build_images, check_tools

    progress = for_stream()
    matrix, _ = _matrix(arguments, progress)
    _check_work_folders(arguments)
    tools, missing = check_tools({cell.target.compiler for cell in matrix.cells}, progress)
    buildable = [cell for cell in matrix.cells if cell.target.compiler not in missing]
    settings = _settings(arguments)
    specs = [*baseline_specs(buildable).values(), *(BuildSpec.for_cell(cell, settings) for cell in buildable)]
    options = RunOptions(arguments.build_dir, arguments.jobs, _cache(arguments, progress), settings=settings)
    try:
        with _executor(arguments) as executor:
            executor.require(tools)
            measured, interrupted = build_images(specs, options, executor, progress)
    finally:
        progress.finish()
    built = sum(result.image.ok for result in measured.values())
    failed = len(specs) - built + len(matrix.cells) - len(buildable) + len(matrix.rejected)
    cached = f" ({options.cache.hits} from the cache)" if options.cache.hits else ""
    print(f"built {built} of {len(specs)} images into {shown(arguments.build_dir)}{cached}; {failed} failed or invalid")
    if interrupted:
        raise Interrupted("the images that finished are kept; the next build resumes from the cache")
    return 1 if failed else 0


@contextmanager
def _executor(arguments: argparse.Namespace) -> Iterator[Executor]:
    """Where the run's tasks go: this machine's threads (-j), a local dask cluster (--workers) or an existing
    one (--scheduler); closed when the run is over."""
    if arguments.workers is None and arguments.scheduler is None:
        yield LocalExecutor(arguments.jobs, arguments.build_dir)
        return
    from qbench.orchestration.executors import ClusterExecutor

    try:
        if arguments.scheduler is not None:
            executor = ClusterExecutor.connect(arguments.scheduler)
        else:
            executor = ClusterExecutor.start(arguments.workers)
    except (OSError, TimeoutError, ValueError) as error:
        where = f"the scheduler {arguments.scheduler}" if arguments.scheduler else "a local cluster"
        raise UsageError(f"cannot reach {where}: {error}") from None
    try:
        yield executor
    finally:
        executor.close()


@contextmanager
def _output_folder(text: str, what: str, arguments: argparse.Namespace, *, then: str = "",
                   existing: bool = False) -> Iterator[ResultsFolder]:  # fmt: skip
    """The output folder, checked and locked before any work; an interrupt says truthfully what reached it."""
    path = checked_folder(text, what, existing=existing)
    with results_folder(path, arguments.command_line, wait=arguments.wait) as folder:
        try:
            yield folder
        except KeyboardInterrupt:
            raise Interrupted(_interrupted_outcome(folder) + then) from None


def _interrupted_outcome(folder: ResultsFolder) -> str:
    if folder.written is None:
        return f"nothing was written: {shown(folder.path)} is as it was"
    if folder.written == folder.path:
        return f"{shown(folder.path)} is written whole"
    return (f"{shown(folder.path)} is as it was; the rows that finished are in {shown(folder.written)}, "
            "the rest marked incomplete")  # fmt: skip


@dataclass(frozen=True)
class _Planned:
    """A run's request, checked whole before anything is built or any folder touched."""

    matrix: Matrix
    digest: str  # of the whole matrix with its settings
    parts: dict


def _planned(arguments: argparse.Namespace, progress: Progress) -> _Planned:
    parts, bad_parts = _parts(arguments)
    matrix, digest = _matrix(arguments, progress, bad_parts)
    _check_work_folders(arguments)
    return _Planned(matrix, digest, parts)


def _run_folder(arguments: argparse.Namespace):
    """--out for a run (qbench run, qbench explore): an interrupt leaves it as it was and says where the finished
    rows went."""
    return _output_folder(arguments.out, "--out", arguments, then=f"; {RESUMES}")


def _run(arguments: argparse.Namespace) -> int:
    progress = for_stream()
    planned = _planned(arguments, progress)
    with _run_folder(arguments) as folder:
        return _run_into(folder, arguments, planned, progress)


def _run_into(folder: ResultsFolder, arguments: argparse.Namespace, planned: _Planned, progress: Progress,
              then: Callable | None = None) -> int:  # fmt: skip
    """Runs the matrix into the folder; then(staging, saved results) adds to it (qbench explore) and returns
    whether it failed. The rows stream beside the folder meanwhile."""
    checked_folder(str(folder.interrupted), "--out's sibling for an interrupted run's rows")
    revision = git_revision()
    try:
        return _written(folder, arguments, planned, revision, then, progress)
    finally:
        shutil.rmtree(folder.partial, ignore_errors=True)


def _written(folder: ResultsFolder, arguments: argparse.Namespace, planned: _Planned, revision,
             then: Callable | None, progress: Progress) -> int:  # fmt: skip
    """The run's results, report and what `then` adds, written whole into the folder (into the folder beside it
    when the run was interrupted: earlier results are never replaced by fewer); the closing line."""
    import dataclasses

    from qbench.records.results import read_training_logs
    from qbench.reporting.plot_store import PlotStore
    from qbench.reporting.report import write_report

    matrix = planned.matrix
    output, cache = _cells(matrix, revision, arguments, folder, progress)
    stamp = now()
    rows = [row.__class__(**{**vars(row), "qbench_version": __version__, "date": stamp}) for row in output.rows]
    problems = list(output.problems)
    saved = saved_results(
        rows, output.symbols,
        environment(revision, output.tools, problems, output.interrupted, shard=arguments.shard,
                    matrix_digest=planned.digest, libraries={cell.library for cell in matrix.cells},
                    cluster=output.cluster),
        output.instructions, article=output.article,
    )  # fmt: skip
    into = folder.interrupted if output.interrupted else folder.path
    with folder.replacing(into=into) as staging:
        write_results(staging, saved, logs=output.training)
        # The report from the rows in memory; only the training logs, moved in as files, are read back.
        written = dataclasses.replace(saved, training=read_training_logs(staging))
        plots = PlotStore.in_cache(cache.directory, read=cache.read)  # figures whose data did not change
        report = into / write_report(staging, written, planned.parts, plots).name
        failed_after = then(staging, written) if then is not None and not output.interrupted else False
    if not output.interrupted and folder.drop_interrupted():
        progress.note(f"note: removed {shown(folder.interrupted)}, an earlier interrupted run's rows, now superseded")
    ok = sum(row.status == Status.OK for row in rows)
    invalid = sum(row.status == Status.INVALID for row in rows)
    cached = f", {cache.hits} from the cache" if cache.hits else ""
    print(f"{ok} ok, {len(rows) - ok - invalid} failed{f', {invalid} invalid' if invalid else ''}{cached}; "
          f"results in {shown(into)}/results.csv, report {shown(report)}")  # fmt: skip
    if output.interrupted:
        raise KeyboardInterrupt
    if not ok:
        progress.note("error: no cell succeeded; the report holds only failures")
    return 1 if len(rows) > ok or problems or not ok or failed_after else 0


def _cells(matrix: Matrix, revision, arguments: argparse.Namespace, folder: ResultsFolder, progress: Progress):
    """The matrix run on the chosen executor, its rows streamed beside the folder: (the run's output, its cache)."""
    from qbench.orchestration.pipeline import RunOptions, run_matrix
    from qbench.orchestration.spool import Spool

    options = RunOptions(
        build_root=arguments.build_dir, jobs=arguments.jobs, cache=_cache(arguments, progress),
        emulate=not arguments.no_emulate, timeout=arguments.timeout, settings=_settings(arguments),
    )  # fmt: skip
    try:
        with _executor(arguments) as executor:
            spool = Spool(folder.partial)
            progress.note(f"note: rows stream to {shown(spool.rows_file)} as cells finish")
            try:
                output = run_matrix(matrix, options, revision, progress, executor, spool)
            finally:
                spool.close()
    finally:
        progress.finish()
    return output, options.cache


def _explore(arguments: argparse.Namespace) -> int:
    """The sweep on the part's core into --out, then the networks that fit, their front and the recommendation."""
    from qbench.orchestration.explore import (
        COLUMNS,
        DEFAULT_HIDDEN_LAYERS,
        DEFAULT_HIDDEN_NEURONS,
        Budget,
        NothingFits,
        explore,
        write_exploration,
    )
    from qbench.reporting.report import markdown

    if arguments.model is None:  # the sizes swept; an imported network brings its own
        arguments.hidden_layers = arguments.hidden_layers or DEFAULT_HIDDEN_LAYERS
        arguments.hidden_neurons = arguments.hidden_neurons or DEFAULT_HIDDEN_NEURONS
    budget = Budget(_explored_part(arguments), arguments.max_latency_us)
    arguments.cores, arguments.parts = budget.part.core, budget.part.name
    said: dict[str, str] = {}

    def then(staging: Path, saved) -> bool:
        try:
            exploration = explore(saved.rows, budget)
        except NothingFits as error:
            said["error"] = str(error)
            return True
        table = markdown(exploration.front[COLUMNS], {"accuracy": 3, "latency_us": 1, "latency_min_us": 1,
                                                           "flash_pct": 1, "ram_pct": 1})  # fmt: skip
        said["text"] = write_exploration(staging, exploration, table)
        return False

    progress = for_stream()
    planned = _planned(arguments, progress)
    with _run_folder(arguments) as folder:
        status = _run_into(folder, arguments, planned, progress, then)
    if "error" in said:
        print(f"qbench: error: {said['error']}", file=sys.stderr)
        return 1
    print(f"\n{said['text']}\nexploration in {shown(folder.path)}/explore.md")
    return status


def _explored_part(arguments: argparse.Namespace):
    """The part explore chooses for, once it is known that the sweep has inference cells there and that a
    latency budget can be checked on its core."""
    from qbench.execution.cycle_models import cycle_models

    targets = load_targets(arguments.targets)
    part = select([arguments.part], _all_parts(arguments), "part")[0]
    matrix = expand(targets, WORKLOADS, cores=part.core, formats=arguments.formats, variants="inference",
                    workload=arguments.workload, libraries=(QNN, *arguments.library), settings=_settings(arguments),
                    hidden_layers=arguments.hidden_layers, hidden_neurons=arguments.hidden_neurons)  # fmt: skip
    if matrix.problems:
        raise _refusal(matrix.problems)
    if not matrix.cells:
        why = "; ".join(dict.fromkeys(rejected.reason for rejected in matrix.rejected))
        raise UsageError(f"nothing to explore: no inference cell of {arguments.workload} on {part.core} "
                         f"({part.name}'s core) can be built: {why or 'the request names none'}")  # fmt: skip
    if arguments.max_latency_us is not None and part.core not in cycle_models():
        raise UsageError(f"--max-latency-us cannot be checked on {part.name}: its core {part.core} has no cycle "
                         "model (targets/timing/), so its cycles are not estimated")  # fmt: skip
    return part


def _worker_check(arguments: argparse.Namespace) -> int:
    from qbench.orchestration.workercheck import facts, report

    here = facts()
    if arguments.scheduler is None:
        text, ready = report({"this machine": here}, None)
    else:
        from qbench.orchestration.executors import ClusterExecutor

        try:
            executor = ClusterExecutor.connect(arguments.scheduler)
        except (OSError, TimeoutError, ValueError) as error:
            raise UsageError(f"cannot reach the scheduler {arguments.scheduler}: {error}") from None
        try:
            workers = executor.client.run(facts)
        finally:
            executor.close()
        if not workers:
            raise UsageError(f"the scheduler {arguments.scheduler} has no workers")
        text, ready = report(workers, here)
    print(text)
    return 0 if ready else 1


def _report(arguments: argparse.Namespace) -> int:
    from qbench.reporting.plots import PLOTS
    from qbench.reporting.report import write_report

    parts, bad_parts = _parts(arguments)
    if bad_parts:
        raise _refusal(bad_parts)
    with _output_folder(arguments.directory, "DIR", arguments, existing=True) as folder:
        saved = read_results(folder.path)
        # The results are copied as they are; the report and its plots are drawn afresh.
        with folder.replacing(keep_all_but=(PLOTS,)) as staging:
            report = folder.path / write_report(staging, saved, parts).name
        print(f"report {shown(report)}")
        return 0


def _merge(arguments: argparse.Namespace) -> int:
    from qbench.reporting.report import write_report

    with _output_folder(arguments.out, "--out", arguments) as folder:
        merged = merge(arguments.directories, allow_mixed=arguments.allow_mixed)
        parts = _all_parts(arguments)
        with folder.replacing() as staging:
            write_results(staging, merged)
            report = folder.path / write_report(staging, read_results(staging), parts).name
    rows = merged.rows
    ok = int((rows["status"] == "ok").sum())
    print(f"merged {len(arguments.directories)} results sets: {ok} ok, {len(rows) - ok} failed; "
          f"report {shown(report)}")  # fmt: skip
    return 1 if len(rows) > ok or merged.environment["problems"] else 0


def _compare(arguments: argparse.Namespace) -> int:
    from qbench.reporting.report import markdown

    base, new = read_results(arguments.base), read_results(arguments.new)
    metrics = tuple(metric.strip() for metric in arguments.metric.split(","))
    threshold = parse_threshold(arguments.threshold)
    match = tuple(column.strip() for column in arguments.match.split(","))
    comparison = compare(base.rows, new.rows, metrics, threshold, match=match, base_name=shown(arguments.base),
                         new_name=shown(arguments.new))  # fmt: skip
    if comparison.unpaired is not None:  # every row would read "disappeared", whatever the code measured
        raise CompareError(comparison.unpaired)
    verdict = (
        f"**{len(comparison.regressions)} regression(s)** beyond {threshold:g} % in {', '.join(metrics)}:"
        if comparison.regressions
        else f"No regression beyond {threshold:g} % in {', '.join(metrics)}."
    )
    print(f"### qbench compare: {shown(arguments.new)} against {shown(arguments.base)}\n\n{verdict}\n")
    for regression in comparison.regressions:
        print(f"- {regression}")
    changed = comparison.table
    print("\n" + (markdown(changed, {"change_pct": 2}) if not changed.empty else "No metric changed."))
    return 1 if comparison.regressions else 0


def _check_targets(arguments: argparse.Namespace) -> int:
    from qbench.reporting.performance_targets import judge, read_targets, verdict_table
    from qbench.reporting.report import markdown

    targets = read_targets(arguments.file)
    rows = read_results(arguments.directory).rows
    verdicts = [judge(rows, target) for target in targets]
    missed = [verdict for verdict in verdicts if not verdict.met]
    print(f"### qbench check-targets: {shown(arguments.directory)} against {shown(arguments.file)}\n")
    print(f"{len(verdicts) - len(missed)} of {len(verdicts)} targets met." if not missed
          else f"**{len(missed)} of {len(verdicts)} targets missed.**")  # fmt: skip
    print("\n" + markdown(verdict_table(verdicts), {"accuracy drop pp": 2}))
    return 1 if missed else 0


def _list(arguments: argparse.Namespace) -> int:
    sys.stdout.write(listing(KINDS if arguments.kind is None else (arguments.kind,), arguments.targets,
                             arguments.parts_file))  # fmt: skip
    return 0


def _verify(arguments: argparse.Namespace) -> int:
    from qbench.execution.verify import verify

    return verify(arguments.directory)


def _import_model(arguments: argparse.Namespace) -> int:
    """qbench import (and import-torch): a PyTorch, ONNX or scikit-learn model as network.json and weights."""
    from qbench.images.model_import import FORMATS, accuracy_on, errors_on, load_model
    from qbench.models.datasets import class_labels

    names = _distinct("--formats", arguments.formats, _note, _format_key).split(",")
    formats = [parse_qformat(name) for name in names]
    if arguments.target is not None and arguments.test_data is None:
        raise UsageError("--target names the test data's target column: give --test-data FILE too")
    test = None if arguments.test_data is None else read_test_data(arguments.test_data, arguments.target)
    network, kind = load_model(arguments.model, arguments.activations)
    scored, summary = None, ""
    if test is not None and network.shape.outputs == 1:  # a regression: errors in the targets' units
        inputs, targets = test.arrays()
        errors = {fmt.name: errors_on(network, inputs, targets, fmt) for fmt in formats}
        scored = {name: figures[0] for name, figures in errors.items()}
        mae, rmse, largest = errors_on(network, inputs, targets)
        summary = (f"Test set {test.name}: the float64 network's MAE is {mae:.6g}, RMSE {rmse:.6g}, largest error "
                   f"{largest:.6g}; mae_host is qnn's bit-exact model's MAE in each format on the same samples.")
        column = "mae_host"
    elif test is not None:  # checked before anything is written
        inputs, targets = test.arrays()
        labels = class_labels(targets, f"--test-data {test.name}")
        scored = {fmt.name: accuracy_on(network, inputs, labels, fmt) for fmt in formats}
        summary = (f"Test set {test.name}: the float64 network classifies {accuracy_on(network, inputs, labels):.2%} "
                   "right; accuracy_host is qnn's bit-exact model in each format on the same samples.")
        column = "accuracy_host"
    table = write_network(network, formats, arguments.out)
    scaling = "none" if network.scaling is None else f"{network.scaling.kind} (recorded in network.json)"
    print(f"{network.shape.name} network ({network.shape.connections} weights) from {FORMATS[kind]} "
          f"{shown(arguments.model)}, input scaling {scaling}: wrote network.json and weights_<format>.inc for "
          f"{', '.join(table['format'])} to {shown(arguments.out)}\n")  # fmt: skip
    if scored is not None:
        table[column] = [scored[name] for name in table["format"]]
        print(summary + "\n")
    print(table.to_markdown(index=False))
    return 0


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _whole_number(highest: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to highest."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= highest:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {highest:,}")
        return value

    return parse


def _positive_number(what: str, highest: float = math.inf) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 and at most `highest`; `what` says what it is in the error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 < value <= highest and value < math.inf):  # false for nan
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


_seconds = _positive_number(f"a number of seconds above 0 and at most {MAX_TIMEOUT:g} (one day)", MAX_TIMEOUT)
_microseconds = _positive_number("a number of microseconds above 0")


def _activations(text: str) -> tuple[str, str]:
    names = [name.strip() for name in text.split(",")]
    if len(names) != 2 or any(name not in ACTIVATIONS for name in names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the hidden and the output activation, e.g. tanh,sigmoid "
            f"(known: {', '.join(ACTIVATIONS)})"
        )
    return names[0], names[1]


def _library(text: str) -> Library:
    try:
        return parse_library(text)
    except LibraryError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _known_cores() -> str:
    """The cores of the default targets directory, for --help."""
    try:
        return ", ".join(target.name for target in sorted(load_targets(TARGETS).values(), key=core_order))
    except TargetError:
        return "those in targets/cores/*.toml"


def _default_variants() -> str:
    """Each workload's default variants, for --help: 'trainable,inference for xor; inference for digits, iris'."""
    by_variants: dict[str, list[str]] = {}
    for name in sorted(WORKLOADS):
        try:
            by_variants.setdefault(",".join(WORKLOADS[name].default_variants), []).append(name)
        except WorkloadError:  # a malformed workload.toml is reported when that workload is run
            continue
    return "; ".join(f"{variants} for {', '.join(names)}" for variants, names in by_variants.items())


def _items(values: Callable[[], Iterable[str]]) -> Callable[..., list[str]]:
    """An argcomplete completer for a comma-separated option: completes its last item from values()."""

    def complete(prefix: str, **_: object) -> list[str]:
        done, comma, last = prefix.rpartition(",")
        chosen = set(done.split(",")) if comma else set()
        return [f"{done}{comma}{value}" for value in values() if value.startswith(last) and value not in chosen]

    return complete


def _core_names() -> list[str]:
    try:
        return [target.name for target in sorted(load_targets(TARGETS).values(), key=core_order)]
    except TargetError:
        return []


def _part_names() -> list[str]:
    try:
        return list(load_parts(load_targets(TARGETS), TARGETS / "parts.toml"))
    except TargetError:
        return []


def _add_targets_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--targets", type=Path, default=TARGETS,
                        help="targets directory, holding cores/ and parts.toml (default: targets/)")  # fmt: skip


def _add_parts_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts-file", type=Path, action="append", default=[], metavar="FILE",
                        help="a parts file in targets/parts.toml's format whose parts are added to the built-in ones, "
                        "or replace those of the same name (repeatable, later files win; default: none)")  # fmt: skip


def _add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help="when another qbench is writing the output folder, wait for it rather than refuse (default: refuse)",
    )


def _add_matrix_options(parser: argparse.ArgumentParser, known_cores: str) -> None:
    add = parser.add_argument
    add("--cores", help=f"comma-separated cores: {known_cores} (default: all of them; qbench list cores)"
        ).completer = _items(_core_names)  # fmt: skip
    add("--formats", default=",".join(DEFAULT_FORMATS),
        help=f"comma-separated number formats: qI.F (signed) or uqI.F (unsigned) with I+F from 1 to {MAX_TOTAL_BITS} "
        "bits, or float32 (default: %(default)s; qbench list formats)",
        ).completer = _items(lambda: [*DEFAULT_FORMATS, FLOAT32.name])  # fmt: skip
    add("--variants",
        help=f"comma-separated variants: {', '.join(Variant)} (default: the workload's: {_default_variants()})",
        ).completer = _items(lambda: list(Variant))  # fmt: skip
    add("--opt", default=",".join(DEFAULT_OPT),
        help=f"comma-separated optimisation levels: {', '.join(OPT_LEVELS)}, with or without a leading '-' "
        "(default: %(default)s)").completer = _items(lambda: OPT_LEVELS)  # fmt: skip
    add("--workload", default="xor",
        help=f"workload: {', '.join(sorted(WORKLOADS))}, or a folder holding a workload.toml (default: "
        "%(default)s; qbench list workloads)",
        ).completer = _items(lambda: sorted(WORKLOADS))  # fmt: skip
    add("-j", "--jobs", type=_whole_number(MAX_JOBS), default=min(os.cpu_count() or 1, MAX_JOBS),
        help=f"parallel jobs, 1 to {MAX_JOBS} (default: %(default)s, the CPUs here)")  # fmt: skip
    _add_executor_options(parser)
    add("--build-dir", type=Path, default=BUILD, help="where images are built (default: build/)")
    add("--cache-dir", type=Path, help="the build and run cache (default: BUILD_DIR/cache)")
    add(
        "--no-cache",
        action="store_true",
        help="rebuild and rerun everything; the cache is still refreshed (default: off)",
    )
    add("--shard", type=_shard,
        help="run the I-th of N deterministic shares of the matrix: I/N with 1 <= I <= N, e.g. 1/4 "
        "(default: the whole matrix)")  # fmt: skip
    add("--max-iterations", type=_whole_number(MAX_ITERATIONS), default=WorkloadSettings.max_iterations,
        help=f"training budget of a trainable image, 1 to {MAX_ITERATIONS:,} (default: %(default)s)")  # fmt: skip
    add("--log-every", type=_whole_number(MAX_ITERATIONS), default=WorkloadSettings.log_every,
        help=f"iterations between training-log records, 1 to {MAX_ITERATIONS:,} (default: %(default)s)")  # fmt: skip
    add("--initial-weights", choices=INITIAL_WEIGHTS, default=WorkloadSettings.initial_weights,
        help="where a trainable network starts: qbench's seeded draw, the same for every library, or each "
        "library's own generator (default: %(default)s)")
    add("--activations", type=_activations,
        help=f"hidden and output activations, each one of {', '.join(ACTIVATIONS)}, e.g. relu,linear "
        "(default: the workload's, tanh,sigmoid)")  # fmt: skip
    add(
        "--hidden-layers",
        help="comma-separated hidden-layer counts, whole numbers >= 1, e.g. 1,2,3 (default: the workload's network)",
    )
    add(
        "--hidden-neurons",
        help="comma-separated hidden-layer widths, whole numbers >= 1, e.g. 4,8,16,32,64 (default: the workload's)",
    )
    add("--model", type=_model, metavar="NETWORK_JSON",
        help="deploy this network (from qbench import) instead of training one on the host, its inputs through "
        "the input scaling network.json records (default: train one)")  # fmt: skip
    add("--test-data", type=Path, metavar="FILE",
        help="with --model: measure accuracy on exactly this test set (an NPZ with X and y, or a CSV whose target "
        "column is --target, default its last), not on the workload's split (default: the workload's test part)")
    add("--target", metavar="COLUMN", help="the CSV test data's target column (default: its last column)")
    add("--library", type=_library, action="append", default=[], metavar="NAME[=PATH]",
        help=f"also build against another library, its rows beside qnn's: a built-in one "
        f"({', '.join(name for name in builtin_names() if name != QNN.name)}) or NAME=PATH, PATH a folder with a "
        f"qbench-library.toml naming its adapter ({CONTRACT_DOCS}; repeatable; default: qnn alone; "
        "qbench list libraries)").completer = _items(lambda: [n for n in builtin_names() if n != QNN.name])  # fmt: skip
    _add_targets_option(parser)


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_whole_number(MAX_JOBS),
                       help=f"run the tasks on a local dask cluster of this many worker processes, 1 to {MAX_JOBS} "
                       "(default: on this process's threads, -j)")  # fmt: skip
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run the tasks on an existing dask cluster; its workers need the same checkout and tools "
                       "(qbench worker-check --scheduler; docs/cluster.md) (default: on this process's threads, -j)")


def _add_explore_commands(commands) -> None:
    """explore, and worker-check for the clusters that run it."""
    explore_command = _command(
        commands, "explore", "sweep network sizes and formats on a part's core, keep the networks that fit the part, "
        "and report the Pareto front of accuracy against latency and flash with a recommendation",
    )  # fmt: skip
    _add_explore_options(explore_command)
    explore_command.set_defaults(handler=_explore)

    check_command = _command(commands, "worker-check", "say what a worker has for qbench's tasks (tools, versions, "
                             "checkout); exit 1 when something a task needs is missing or differs from this machine")
    check_command.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                               help="check every worker of this dask cluster against this machine "
                               "(default: check this machine)")  # fmt: skip
    check_command.set_defaults(handler=_worker_check)


def _add_explore_options(parser: argparse.ArgumentParser) -> None:
    from qbench.orchestration.explore import DEFAULT_FORMATS as EXPLORE_FORMATS
    from qbench.orchestration.explore import DEFAULT_HIDDEN_LAYERS, DEFAULT_HIDDEN_NEURONS

    add = parser.add_argument
    add("--workload", required=True, help=f"workload with inference cells: {', '.join(sorted(WORKLOADS))}, or a folder "
        "holding a workload.toml (required)"
        ).completer = _items(lambda: sorted(WORKLOADS))  # fmt: skip
    add("--part", required=True, help="the part to choose for, from targets/parts.toml or a --parts-file (required; "
        "qbench list parts)").completer = _items(_part_names)  # fmt: skip
    add("--formats", default=EXPLORE_FORMATS,
        help="comma-separated number formats, as for run; a float-only library computes in float32 (default: "
        "%(default)s)").completer = _items(lambda: [*DEFAULT_FORMATS, FLOAT32.name])  # fmt: skip
    add("--hidden-layers",
        help=f"comma-separated hidden-layer counts, whole numbers >= 1 (default: {DEFAULT_HIDDEN_LAYERS}; none with "
        "--model)")  # fmt: skip
    add("--hidden-neurons",
        help=f"comma-separated hidden-layer widths, whole numbers >= 1 (default: {DEFAULT_HIDDEN_NEURONS}; none with "
        "--model)")  # fmt: skip
    add("--model", type=_model, metavar="NETWORK_JSON",
        help="explore this imported network (from qbench import, as run --model) in each format instead of "
        "sweeping network sizes (default: sweep)")  # fmt: skip
    add("--test-data", type=Path, metavar="FILE",
        help="with --model: measure accuracy on exactly this test set, as for run (default: the workload's test part)")
    add("--target", metavar="COLUMN", help="the CSV test data's target column (default: its last column)")
    add("--library", type=_library, action="append", default=[], metavar="NAME[=PATH]",
        help="also sweep another library, as for run (repeatable; default: qnn alone)")
    add("--max-latency-us", type=_microseconds, metavar="N",
        help="keep only networks whose worst-case estimated inference takes at most N µs at the part's clock "
        "(default: no limit)")  # fmt: skip
    add("-j", "--jobs", type=_whole_number(MAX_JOBS), default=min(os.cpu_count() or 1, MAX_JOBS),
        help=f"parallel jobs, 1 to {MAX_JOBS} (default: %(default)s, the CPUs here)")  # fmt: skip
    _add_executor_options(parser)
    add("--timeout", type=_seconds, default=60.0,
        help=f"seconds per emulator run, above 0 and at most {MAX_TIMEOUT:g} (default: %(default)g)")
    add("--out", default=str(REPORTS / "explore"),
        help="output folder for results.csv (the whole sweep), report.md and explore.md, replaced whole "
        "(default: reports/explore)")  # fmt: skip
    add("--build-dir", type=Path, default=BUILD, help="where images are built (default: build/)")
    add("--cache-dir", type=Path, help="the build and run cache (default: BUILD_DIR/cache)")
    add("--no-cache", action="store_true", help="rebuild and rerun everything (default: off)")
    _add_targets_option(parser)
    _add_parts_file_option(parser)
    _add_wait_option(parser)
    parser.set_defaults(variants="inference", opt=",".join(DEFAULT_OPT), shard=None, activations=None,
                        max_iterations=WorkloadSettings.max_iterations, log_every=WorkloadSettings.log_every,
                        no_emulate=False, cores=None, parts=None)  # fmt: skip


def _command(commands, name: str, summary: str) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=summary, description=summary)


# argparse's words for a value outside an argument's choices (a command name, list's KIND, lut's --function).
_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<known>.*)\)")


class _Parser(argparse.ArgumentParser):
    """One line per mistake: the error, the nearest valid choice, and where the usage is (not the usage itself).
    Sub-commands' parsers are of this class too (argparse makes them of their parent's)."""

    def error(self, message: str) -> NoReturn:
        choice = _INVALID_CHOICE.search(message)
        if choice is not None:
            message += nearest_hint(choice["given"], re.findall(r"'([^']*)'", choice["known"]))
        self.exit(2, f"{self.prog}: error: {message} (usage: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qbench", description="Benchmarks fixed-point neural networks on Cortex-M.")
    parser.add_argument("--version", action="version", version=f"qbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    known_cores = _known_cores()
    _add_build_command(commands, known_cores)
    _add_run_command(commands, known_cores)
    _add_report_command(commands)
    _add_merge_command(commands)
    _add_compare_command(commands)
    _add_targets_command(commands)
    _add_list_command(commands)
    _add_verify_command(commands)
    _add_lut_command(commands)
    _add_explore_commands(commands)
    _add_import_command(commands)
    _add_split_command(commands)
    return parser


def _add_build_command(commands, known_cores: str) -> None:
    build_command = _command(commands, "build", "cross-compile the matrix and its empty baselines")
    _add_matrix_options(build_command, known_cores)
    build_command.set_defaults(handler=_build)


def _add_run_command(commands, known_cores: str) -> None:
    run_command = _command(commands, "run", "build the matrix, measure and run it, write results and a report")
    _add_matrix_options(run_command, known_cores)
    run_command.add_argument(
        "--no-emulate", action="store_true", help="footprint only: build and measure sizes (default: off)"
    )
    run_command.add_argument("--timeout", type=_seconds, default=60.0,
                             help=f"seconds per emulator run, above 0 and at most {MAX_TIMEOUT:g}, a day "
                             "(default: %(default)g)")  # fmt: skip
    run_command.add_argument("--parts",
                             help="comma-separated parts for the budget table, from targets/parts.toml "
                             "(default: all; qbench list parts)").completer = _items(_part_names)  # fmt: skip
    _add_parts_file_option(run_command)
    run_command.add_argument("--out", default=str(REPORTS / "latest"),
                             help="output folder: a new or empty folder, or earlier results, replaced whole "
                             "(default: reports/latest)")  # fmt: skip
    _add_wait_option(run_command)
    run_command.set_defaults(handler=_run)


def _add_report_command(commands) -> None:
    report_command = _command(commands, "report", "regenerate DIR/report.md and DIR/plots from DIR's saved results")
    report_command.add_argument("directory", metavar="DIR", help="results folder (qbench run --out)")
    report_command.add_argument("--parts",
                                help="comma-separated parts for the budget table, from targets/parts.toml "
                                "(default: all; qbench list parts)").completer = _items(_part_names)  # fmt: skip
    _add_targets_option(report_command)
    _add_parts_file_option(report_command)
    _add_wait_option(report_command)
    report_command.set_defaults(handler=_report)


def _add_merge_command(commands) -> None:
    merge_command = _command(commands, "merge", "combine results folders (e.g. CI shards) into one")
    merge_command.add_argument("directories", type=Path, nargs="+", metavar="DIR", help="results folders to combine")
    merge_command.add_argument("--out", required=True,
                               help="folder for the merged results and report: a new or empty folder, or earlier "
                               "results, replaced whole (required)")  # fmt: skip
    merge_command.add_argument(
        "--allow-mixed", action="store_true", help="merge across toolchain or emulator versions (default: off)"
    )
    _add_targets_option(merge_command)
    _add_parts_file_option(merge_command)
    _add_wait_option(merge_command)
    merge_command.set_defaults(handler=_merge)


def _add_compare_command(commands) -> None:
    compare_command = _command(commands, "compare", "markdown delta table of NEW against BASE; exit 1 on a regression")
    compare_command.add_argument("base", type=Path, help="baseline results folder")
    compare_command.add_argument("new", type=Path, help="results folder to check")
    compare_command.add_argument("--threshold", default="2%",
                                 help="growth allowed per metric, a percentage >= 0 such as 2%% or 0.5 "
                                 "(default: %(default)s)")  # fmt: skip
    compare_command.add_argument("--metric", default=",".join(DEFAULT_METRICS),
                                 help=f"comma-separated results columns, from: {', '.join(METRICS)} "
                                 "(default: %(default)s)").completer = _items(lambda: METRICS)  # fmt: skip
    compare_command.add_argument("--match", default=",".join(COMPARE_KEY),
                                 help=f"columns that pair rows, from: {', '.join(COMPARE_KEY)}; e.g. "
                                 "core,qformat,variant to compare an -Os run with an -O2 one "
                                 "(default: %(default)s)").completer = _items(lambda: COMPARE_KEY)  # fmt: skip
    compare_command.set_defaults(handler=_compare)


def _add_targets_command(commands) -> None:
    targets_command = _command(commands, "check-targets", "check a results folder against performance targets (a "
                               "TOML file of limits per row); exit 1 when one is missed")  # fmt: skip
    targets_command.add_argument("directory", metavar="DIR", type=Path, help="results folder (qbench run --out)")
    targets_command.add_argument("--file", type=Path, default=TARGETS_FILE,
                                 help=f"targets file (default: {shown(TARGETS_FILE)})")  # fmt: skip
    targets_command.set_defaults(handler=_check_targets)


def _add_list_command(commands) -> None:
    list_command = _command(commands, "list", "list the cores, parts, workloads, formats and libraries qbench knows, "
                            "with the facts that decide a choice")  # fmt: skip
    list_command.add_argument("kind", nargs="?", choices=KINDS, metavar="KIND",
                              help=f"what to list: {', '.join(KINDS)} (default: all of them)")  # fmt: skip
    _add_targets_option(list_command)
    _add_parts_file_option(list_command)
    list_command.set_defaults(handler=_list)


def _add_verify_command(commands) -> None:
    verify_command = _command(
        commands, "verify", "re-check every row's sizes with GNU binutils and its instruction counts with Unicorn on "
        "the row's own ELF; exit 1 on any difference",
    )  # fmt: skip
    verify_command.add_argument("directory", metavar="DIR", type=Path, help="results folder (qbench run --out)")
    verify_command.set_defaults(handler=_verify)


def _add_lut_command(commands) -> None:
    lut_command = _command(
        commands, "lut", "print the activation lookup table qnn computes for a Q format, with its error bound"
    )
    lut_command.add_argument("--format", required=True,
                             help=f"Q format qI.F or uqI.F, I+F from 1 to {MAX_TOTAL_BITS} bits, e.g. q8.8, q1.15, "
                             "uq8.8 (required)")  # fmt: skip
    lut_command.add_argument("--function", required=True, choices=("tanh", "sigmoid"),
                             help="tanh or sigmoid (required)")  # fmt: skip
    lut_command.set_defaults(handler=_lut)


def _add_import_command(commands) -> None:
    summary = ("turn a trained PyTorch, ONNX or scikit-learn MLP into a qnn network (network.json, with its input "
               "scaling) and quantized weights; import-torch is its older name")  # fmt: skip
    import_command = commands.add_parser("import", aliases=["import-torch"], help=summary, description=summary)
    import_command.add_argument(
        "model", type=Path, help="the model file, its format told by its name or content: PyTorch (.pt/.pth: "
        "torch.save(model) of an nn.Sequential or a module whose forward is a chain of Linear layers and "
        "activations, or torch.save(model.state_dict()) with --activations), ONNX (.onnx), or scikit-learn "
        "(.pkl/.joblib: an MLPClassifier/MLPRegressor, alone or after a StandardScaler/MinMaxScaler in a Pipeline). "
        "Pickle and joblib files and whole PyTorch models run code when loaded: import only files you trust"
    )  # fmt: skip
    import_command.add_argument(
        "--test-data", type=Path, metavar="FILE",
        help="score the network on this test set: an NPZ with arrays X and y, or a CSV with a header whose target "
        "column is --target (default: its last column); the float network's accuracy and qnn's in each format "
        "are printed (default: none)",
    )  # fmt: skip
    import_command.add_argument("--target", metavar="COLUMN",
                                help="the CSV test data's target column (default: its last column)")  # fmt: skip
    import_command.add_argument("--out", type=Path, required=True,
                                help="directory for network.json and the weights (required)")  # fmt: skip
    import_command.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                                help=f"comma-separated Q formats qI.F or uqI.F, I+F from 1 to {MAX_TOTAL_BITS} bits, "
                                "each optionally with its weights' own format wI.F, e.g. q8.8w2.6 "
                                "(default: %(default)s)")  # fmt: skip
    import_command.add_argument(
        "--activations", type=_activations, default=None,
        help=f"hidden and output activations, each one of {', '.join(ACTIVATIONS)}, e.g. tanh,sigmoid: "
        "needed for a state_dict, checked against a model (default: the model's)",
    )  # fmt: skip
    import_command.set_defaults(handler=_import_model)


def _add_split_command(commands) -> None:
    split_command = _command(commands, "split", "write the exact train and test parts qbench uses for a workload")
    split_command.add_argument("--workload", required=True,
                               help="a data-driven workload: a name, or a folder holding a workload.toml (required)")
    split_command.add_argument("--out", type=Path, required=True,
                               help="directory for train.npz, test.npz (arrays X and y) and train.csv, test.csv "
                               "(required)")  # fmt: skip
    split_command.set_defaults(handler=_split)


def _split(arguments: argparse.Namespace) -> int:
    """qbench split: the workload's train and test parts before scaling, as qbench trains and scores on them."""
    from qbench.images.workloads import workload_description
    from qbench.models.datasets import write_parts

    description = workload_description(arguments.workload)
    split = description.split()  # checks the data (a WorkloadError naming the file and key)
    if arguments.out.exists() and not arguments.out.is_dir():
        raise UsageError(f"--out: {arguments.out} is not a folder")
    for path in write_parts(description.data, arguments.out):
        print(path)
    print(f"{description.name}: {split.test_set}; scaling {description.scaling} "
          f"(offset {', '.join(f'{value:.6g}' for value in split.offset)}; "
          f"scale {', '.join(f'{value:.6g}' for value in split.scale)}), fitted on or declared for the train part")
    return 0


def _on_sigterm(number, frame) -> None:
    global _interrupting_signal
    _interrupting_signal = signal.SIGTERM
    raise KeyboardInterrupt


def _interrupted(outcome: str) -> int:
    number = _interrupting_signal
    print(f"qbench: interrupted ({signal.Signals(number).name}){'; ' + outcome if outcome else ''}", file=sys.stderr)
    return INTERRUPT_STATUS[number]


def main(argv: Sequence[str] | None = None) -> int:
    global _interrupting_signal
    _interrupting_signal = signal.SIGINT
    parser = build_parser()
    argcomplete.autocomplete(parser)  # answers the shell's completion request and exits; otherwise does nothing
    given = list(sys.argv[1:] if argv is None else argv)
    arguments = parser.parse_args(given)
    arguments.command_line = shlex.join(["qbench", *given])  # names this run to a second one (outputs.locked)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        problem = checkout_problem()
        if problem is not None:
            raise UsageError(problem)
        status = arguments.handler(arguments)
        sys.stdout.flush()  # a reader that has gone shows up here, inside the try, not at exit
        return status
    except BrokenPipeError:
        # The reader went away (`qbench compare … | head`): stop quietly; later writes go to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE  # as a shell reports a process ended by SIGPIPE
    except (
        QFormatError, TargetError, ResultsFileError, ToolNotFound, UsageError, MergeError, CompareError,
        TorchImportError, NetworkError, FolderError, WorkloadError, PerformanceTargetError, DataFileError,
    ) as error:  # fmt: skip
        parser.exit(2, f"qbench: error: {error}\n")
    except WriteError as error:
        print(f"qbench: error: {error}", file=sys.stderr)
        return 1
    except Interrupted as error:
        return _interrupted(str(error))
    except KeyboardInterrupt:
        return _interrupted("")
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
