# PYTHON_ARGCOMPLETE_OK (shell completion: eval "$(register-python-argcomplete qbench)")
"""The qbench command line: arguments in, a request to the stage that does the work, its result out as a closing
line and an exit status.

Exit status: 0 when every requested cell succeeded; 1 when any cell failed or
was invalid (the rest still ran), when `compare` found a regression, or when
writing the output folder failed (the previous one is kept); 2 when nothing
could start (a malformed value in any option, a malformed target file, an
unreadable results file, an output, build or cache folder that cannot be
written, an output folder another qbench is writing); 130 (Ctrl-C) or 143
(SIGTERM) when a command was interrupted, after saying what it wrote: a run's
finished rows go beside --out, never in its place. Every error a command reports is a QbenchError
(qbench.common.errors), which carries its status.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import NoReturn

import argcomplete

from qbench import __version__
from qbench.commands import options, requests
from qbench.commands.listing import KINDS, listing
from qbench.common.errors import QbenchError, UsageError
from qbench.common.nearest import nearest_hint
from qbench.common.paths import REPORTS, checkout_problem, shown
from qbench.images.matrix import DEFAULT_FORMATS
from qbench.images.torch_import import write_network
from qbench.images.workloads import ACTIVATIONS
from qbench.models import lut
from qbench.models.qformat import MAX_TOTAL_BITS, QFormatError, parse_qformat
from qbench.models.testdata import read_test_data
from qbench.orchestration.progress import Progress, for_stream
from qbench.orchestration.run import (
    BuildResult,
    RunRequest,
    RunResult,
    all_parts,
    build,
    chosen_parts,
    plan,
    plan_listing,
    refusal,
    run_into,
)
from qbench.records.merge import merge
from qbench.records.outputs import ResultsFolder, checked_folder, results_folder
from qbench.records.results import Status, read_results, write_results
from qbench.reporting.compare import DEFAULT_METRICS, METRICS, CompareError, compare, parse_threshold
from qbench.reporting.compare import KEY as COMPARE_KEY
from qbench.reporting.performance_targets import TARGETS_FILE

# The pipeline, the report with its plots (matplotlib) and verify (unicorn) are imported by the commands that use
# them, so that the parser, and with it the shell's completion, starts without them.

# Exit status of an interrupted run, by signal.
INTERRUPT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}
RESUMES = "the next run resumes from the cache"


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


# --- Commands: a request in, a closing line and an exit status out ----------------------------------------------


def _build(arguments: argparse.Namespace) -> int:
    progress = for_stream()
    request = requests.request(arguments, requests.matrix_request(arguments, progress.note), shard=arguments.shard)
    result = build(request, progress)
    print(_built_line(result, request.build_dir))
    if result.interrupted:
        raise Interrupted("the images that finished are kept; the next build resumes from the cache")
    return 1 if result.failed else 0


def _built_line(result: BuildResult, build_dir: Path) -> str:
    cached = f" ({result.from_cache} from the cache)" if result.from_cache else ""
    return (
        f"built {result.built} of {result.images} images into {shown(build_dir)}{cached}; {result.failed} "
        "failed or invalid"
    )


@contextmanager
def _output_folder(
    text: str, what: str, arguments: argparse.Namespace, *, then: str = "", existing: bool = False
) -> Iterator[ResultsFolder]:
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
    return (
        f"{shown(folder.path)} is as it was; the rows that finished are in {shown(folder.written)}, "
        "the rest marked incomplete"
    )


def _run_folder(request: RunRequest, arguments: argparse.Namespace):
    """--out for a run (qbench run, qbench explore): an interrupt leaves it as it was and says where the finished
    rows went."""
    return _output_folder(request.out, "--out", arguments, then=f"; {RESUMES}")


def _run(arguments: argparse.Namespace) -> int:
    progress = for_stream()
    planned = plan(requests.run_request(arguments, progress.note), progress)
    if arguments.plan:  # the graph alone, before any folder is touched or anything built
        print(plan_listing(planned), end="")
        return 0
    with _run_folder(planned.request, arguments) as folder:
        return _finished(run_into(folder, planned, progress), progress)


def _finished(result: RunResult, progress: Progress) -> int:
    """The closing line and the exit status; an interrupted run goes on as an interrupt once it is said."""
    print(_closing_line(result))
    if result.interrupted:
        raise KeyboardInterrupt
    if not result.ok:
        progress.note("error: no cell succeeded; the report holds only failures")
    return 0 if result.succeeded else 1


def _closing_line(result: RunResult) -> str:
    invalid = f", {result.invalid} invalid" if result.invalid else ""
    cached = f", {result.from_cache} from the cache" if result.from_cache else ""
    return (
        f"{result.ok} ok, {result.failed} failed{invalid}{cached}; results in {shown(result.results)}/results.csv, "
        f"report {shown(result.report)}"
    )


def _explore(arguments: argparse.Namespace) -> int:
    """The sweep on the part's core into --out, then the networks that fit, their front and the recommendation."""
    from qbench.orchestration.explore import Budget, add_exploration, chosen_part, on_part

    progress = for_stream()
    request = requests.request(
        arguments,
        requests.explore_matrix(arguments, progress.note),
        parts_files=tuple(arguments.parts_file),
        out=arguments.out,
        timeout=arguments.timeout,
    )
    part = chosen_part(arguments.part, request, arguments.max_latency_us)
    planned = plan(on_part(request, part), progress)
    with _run_folder(planned.request, arguments) as folder:
        result = run_into(folder, planned, progress, partial(add_exploration, Budget(part, arguments.max_latency_us)))
        status = _finished(result, progress)
    if result.added.nothing_fits:
        print(f"qbench: error: {result.added.nothing_fits}", file=sys.stderr)
        return 1
    print(f"\n{result.added.text}\nexploration in {shown(folder.path)}/explore.md")
    return status


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

    parts, bad_parts = chosen_parts(arguments.targets, arguments.parts_file, arguments.parts)
    if bad_parts:
        raise refusal(bad_parts)
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
        parts = all_parts(arguments.targets, arguments.parts_file)
        with folder.replacing() as staging:
            write_results(staging, merged)
            report = folder.path / write_report(staging, read_results(staging), parts).name
    rows = merged.rows
    ok = int((rows["status"] == Status.OK).sum())
    print(f"merged {len(arguments.directories)} results sets: {ok} ok, {len(rows) - ok} failed; report {shown(report)}")
    return 1 if len(rows) > ok or merged.environment["problems"] else 0


def _compare(arguments: argparse.Namespace) -> int:
    from qbench.reporting.report import markdown

    base, new = read_results(arguments.base), read_results(arguments.new)
    metrics, threshold = arguments.metric, parse_threshold(arguments.threshold)
    comparison = compare(
        base.rows,
        new.rows,
        metrics,
        threshold,
        match=arguments.match,
        base_name=shown(arguments.base),
        new_name=shown(arguments.new),
    )
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
    print(
        f"{len(verdicts) - len(missed)} of {len(verdicts)} targets met."
        if not missed
        else f"**{len(missed)} of {len(verdicts)} targets missed.**"
    )
    print("\n" + markdown(verdict_table(verdicts), {"accuracy drop pp": 2}))
    return 1 if missed else 0


def _list(arguments: argparse.Namespace) -> int:
    sys.stdout.write(
        listing(KINDS if arguments.kind is None else (arguments.kind,), arguments.targets, arguments.parts_file)
    )
    return 0


def _verify(arguments: argparse.Namespace) -> int:
    from qbench.execution.verify import verify

    return verify(arguments.directory)


def _import_model(arguments: argparse.Namespace) -> int:
    """qbench import (and import-torch): a PyTorch, ONNX or scikit-learn model as network.json and weights."""
    from qbench.images.model_import import FORMATS, accuracy_on, errors_on, load_model
    from qbench.models.datasets import class_labels

    formats = [parse_qformat(name) for name in requests.items(arguments.formats, _note)]
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
        summary = (
            f"Test set {test.name}: the float64 network's MAE is {mae:.6g}, RMSE {rmse:.6g}, largest error "
            f"{largest:.6g}; mae_host is qnn's bit-exact model's MAE in each format on the same samples."
        )
        column = "mae_host"
    elif test is not None:  # checked before anything is written
        inputs, targets = test.arrays()
        labels = class_labels(targets, f"--test-data {test.name}")
        scored = {fmt.name: accuracy_on(network, inputs, labels, fmt) for fmt in formats}
        summary = (
            f"Test set {test.name}: the float64 network classifies {accuracy_on(network, inputs, labels):.2%} "
            "right; accuracy_host is qnn's bit-exact model in each format on the same samples."
        )
        column = "accuracy_host"
    table = write_network(network, formats, arguments.out)
    scaling = "none" if network.scaling is None else f"{network.scaling.kind} (recorded in network.json)"
    print(
        f"{network.shape.name} network ({network.shape.connections} weights) from {FORMATS[kind]} "
        f"{shown(arguments.model)}, input scaling {scaling}: wrote network.json and weights_<format>.inc for "
        f"{', '.join(table['format'])} to {shown(arguments.out)}\n"
    )
    if scored is not None:
        table[column] = [scored[name] for name in table["format"]]
        print(summary + "\n")
    print(table.to_markdown(index=False))
    return 0


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _command(commands, name: str, summary: str) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=summary, description=summary)


def _add_build_command(commands, known_cores: str) -> None:
    build_command = _command(commands, "build", "cross-compile the matrix and its empty baselines")
    options.add_work_options(build_command, known_cores)
    build_command.set_defaults(handler=_build)


def _add_run_command(commands, known_cores: str) -> None:
    run_command = _command(commands, "run", "build the matrix, measure and run it, write results and a report")
    options.add_work_options(run_command, known_cores)
    run_command.add_argument(
        "--no-emulate", action="store_true", help="footprint only: build and measure sizes (default: off)"
    )
    options.add_timeout_option(run_command)
    options.add_parts_option(run_command)
    options.add_parts_file_option(run_command)
    run_command.add_argument(
        "--out",
        default=str(REPORTS / "latest"),
        help="output folder: a new or empty folder, or earlier results, replaced whole (default: reports/latest)",
    )
    options.add_wait_option(run_command)
    run_command.add_argument(
        "--plan",
        action="store_true",
        help="print the run's cell graph (each task with its named inputs and output, the baselines' tasks once) "
        "and stop: nothing is built, run or written (default: off)",
    )
    run_command.set_defaults(handler=_run)


def _add_explore_commands(commands) -> None:
    """explore, and worker-check for the clusters that run it."""
    explore_command = _command(
        commands,
        "explore",
        "sweep network sizes and formats on a part's core, keep the networks that fit the part, "
        "and report the Pareto front of accuracy against latency and flash with a recommendation",
    )
    options.add_explore_options(explore_command)
    explore_command.set_defaults(handler=_explore)

    check_command = _command(
        commands,
        "worker-check",
        "say what a worker has for qbench's tasks (tools, versions, "
        "checkout); exit 1 when something a task needs is missing or differs from this machine",
    )
    check_command.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="check every worker of this dask cluster against this machine (default: check this machine)",
    )
    check_command.set_defaults(handler=_worker_check)


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
    known_cores = options.known_cores()
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


def _add_report_command(commands) -> None:
    report_command = _command(commands, "report", "regenerate DIR/report.md and DIR/plots from DIR's saved results")
    report_command.add_argument("directory", metavar="DIR", help="results folder (qbench run --out)")
    options.add_parts_option(report_command)
    options.add_targets_option(report_command)
    options.add_parts_file_option(report_command)
    options.add_wait_option(report_command)
    report_command.set_defaults(handler=_report)


def _add_merge_command(commands) -> None:
    merge_command = _command(commands, "merge", "combine results folders (e.g. CI shards) into one")
    merge_command.add_argument("directories", type=Path, nargs="+", metavar="DIR", help="results folders to combine")
    merge_command.add_argument(
        "--out",
        required=True,
        help="folder for the merged results and report: a new or empty folder, or earlier "
        "results, replaced whole (required)",
    )
    merge_command.add_argument(
        "--allow-mixed", action="store_true", help="merge across toolchain or emulator versions (default: off)"
    )
    options.add_targets_option(merge_command)
    options.add_parts_file_option(merge_command)
    options.add_wait_option(merge_command)
    merge_command.set_defaults(handler=_merge)


def _add_compare_command(commands) -> None:
    compare_command = _command(commands, "compare", "markdown delta table of NEW against BASE; exit 1 on a regression")
    compare_command.add_argument("base", type=Path, help="baseline results folder")
    compare_command.add_argument("new", type=Path, help="results folder to check")
    compare_command.add_argument(
        "--threshold",
        default="2%",
        help="growth allowed per metric, a percentage >= 0 such as 2%% or 0.5 (default: %(default)s)",
    )
    compare_command.add_argument(
        "--metric",
        type=options.names,
        default=",".join(DEFAULT_METRICS),
        help=f"comma-separated results columns, from: {', '.join(METRICS)} (default: %(default)s)",
    ).completer = options.completes(lambda: METRICS)
    compare_command.add_argument(
        "--match",
        type=options.names,
        default=",".join(COMPARE_KEY),
        help=f"columns that pair rows, from: {', '.join(COMPARE_KEY)}; e.g. "
        "core,qformat,variant to compare an -Os run with an -O2 one "
        "(default: %(default)s)",
    ).completer = options.completes(lambda: COMPARE_KEY)
    compare_command.set_defaults(handler=_compare)


def _add_targets_command(commands) -> None:
    targets_command = _command(
        commands,
        "check-targets",
        "check a results folder against performance targets (a TOML file of limits per row); exit 1 when one is missed",
    )
    targets_command.add_argument("directory", metavar="DIR", type=Path, help="results folder (qbench run --out)")
    targets_command.add_argument(
        "--file", type=Path, default=TARGETS_FILE, help=f"targets file (default: {shown(TARGETS_FILE)})"
    )
    targets_command.set_defaults(handler=_check_targets)


def _add_list_command(commands) -> None:
    list_command = _command(
        commands,
        "list",
        "list the cores, parts, workloads, formats and libraries qbench knows, with the facts that decide a choice",
    )
    list_command.add_argument(
        "kind",
        nargs="?",
        choices=KINDS,
        metavar="KIND",
        help=f"what to list: {', '.join(KINDS)} (default: all of them)",
    )
    options.add_targets_option(list_command)
    options.add_parts_file_option(list_command)
    list_command.set_defaults(handler=_list)


def _add_verify_command(commands) -> None:
    verify_command = _command(
        commands,
        "verify",
        "re-check every row's sizes with GNU binutils and its instruction counts with Unicorn on "
        "the row's own ELF; exit 1 on any difference",
    )
    verify_command.add_argument("directory", metavar="DIR", type=Path, help="results folder (qbench run --out)")
    verify_command.set_defaults(handler=_verify)


def _add_lut_command(commands) -> None:
    lut_command = _command(
        commands, "lut", "print the activation lookup table qnn computes for a Q format, with its error bound"
    )
    lut_command.add_argument(
        "--format",
        required=True,
        help=f"Q format qI.F or uqI.F, I+F from 1 to {MAX_TOTAL_BITS} bits, e.g. q8.8, q1.15, uq8.8 (required)",
    )
    lut_command.add_argument(
        "--function", required=True, choices=("tanh", "sigmoid"), help="tanh or sigmoid (required)"
    )
    lut_command.set_defaults(handler=_lut)


def _add_import_command(commands) -> None:
    summary = (
        "turn a trained PyTorch, ONNX or scikit-learn MLP into a qnn network (network.json, with its input "
        "scaling) and quantized weights; import-torch is its older name"
    )
    import_command = commands.add_parser("import", aliases=["import-torch"], help=summary, description=summary)
    import_command.add_argument(
        "model",
        type=Path,
        help="the model file, its format told by its name or content: PyTorch (.pt/.pth: "
        "torch.save(model) of an nn.Sequential or a module whose forward is a chain of Linear layers and "
        "activations, or torch.save(model.state_dict()) with --activations), ONNX (.onnx), or scikit-learn "
        "(.pkl/.joblib: an MLPClassifier/MLPRegressor, alone or after a StandardScaler/MinMaxScaler in a Pipeline). "
        "Pickle and joblib files and whole PyTorch models run code when loaded: import only files you trust",
    )
    import_command.add_argument(
        "--test-data",
        type=Path,
        metavar="FILE",
        help="score the network on this test set: an NPZ with arrays X and y, or a CSV with a header whose target "
        "column is --target (default: its last column); the float network's accuracy and qnn's in each format "
        "are printed (default: none)",
    )
    import_command.add_argument(
        "--target", metavar="COLUMN", help="the CSV test data's target column (default: its last column)"
    )
    import_command.add_argument(
        "--out", type=Path, required=True, help="directory for network.json and the weights (required)"
    )
    import_command.add_argument(
        "--formats",
        type=options.formats,
        default=",".join(DEFAULT_FORMATS),
        help=f"comma-separated Q formats qI.F or uqI.F, I+F from 1 to {MAX_TOTAL_BITS} bits, "
        "each optionally with its weights' own format wI.F, e.g. q8.8w2.6 "
        "(default: %(default)s)",
    )
    import_command.add_argument(
        "--activations",
        type=options.activations,
        default=None,
        help=f"hidden and output activations, each one of {', '.join(ACTIVATIONS)}, e.g. tanh,sigmoid: "
        "needed for a state_dict, checked against a model (default: the model's)",
    )
    import_command.set_defaults(handler=_import_model)


def _add_split_command(commands) -> None:
    split_command = _command(commands, "split", "write the exact train and test parts qbench uses for a workload")
    split_command.add_argument(
        "--workload",
        required=True,
        help="a data-driven workload: a name, or a folder holding a workload.toml (required)",
    )
    split_command.add_argument(
        "--out",
        type=Path,
        required=True,
        help="directory for train.npz, test.npz (arrays X and y) and train.csv, test.csv (required)",
    )
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
    print(
        f"{description.name}: {split.test_set}; scaling {description.scaling} "
        f"(offset {', '.join(f'{value:.6g}' for value in split.offset)}; "
        f"scale {', '.join(f'{value:.6g}' for value in split.scale)}), fitted on or declared for the train part"
    )
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
    except QbenchError as error:
        parser.exit(error.status, f"qbench: error: {error}\n")
    except Interrupted as error:
        return _interrupted(str(error))
    except KeyboardInterrupt:
        return _interrupted("")
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
