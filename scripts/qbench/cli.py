"""The qbench command line.

Exit status: 0 when every requested cell succeeded; 1 when any cell failed or
part of the request was invalid (the rest still ran), or when `compare` found
a regression; 2 when nothing could start (bad arguments, a malformed target
file, an unreadable results file); 130 (Ctrl-C) or 143 (SIGTERM) when a run
was interrupted, after writing the rows that finished.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, lut
from .build import BuildSpec
from .cache import Cache, fingerprint
from .compare import DEFAULT_METRICS, CompareError, compare, parse_threshold
from .libraries import QNN, Library, LibraryError, parse_library
from .matrix import DEFAULT_FORMATS, DEFAULT_OPT, DEFAULT_VARIANTS, OPT_LEVELS, Matrix, expand, parse_shard, shard
from .merge import MergeError, merge
from .network import FloatNetwork, NetworkError, network_from_document
from .paths import BUILD, REPORTS, TARGETS, shown
from .pipeline import RunOptions, baseline_specs, build_all, check_tools, run_matrix
from .progress import Progress, for_stream
from .provenance import environment, git_revision, now
from .qformat import QFormatError, parse_qformat
from .report import markdown, write_report
from .results import ResultsFileError, read_results, saved_results, write_results
from .targets import TargetError, load_parts, load_targets, select
from .toolchain import ToolNotFound
from .torch_import import TorchImportError, load_torch_network, write_network
from .verify import verify
from .workloads import ACTIVATION_POLICIES, WORKLOADS, WorkloadSettings

# Exit status of an interrupted run, by signal.
INTERRUPT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


class UsageError(Exception):
    """Nothing can start: the message says why."""


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
    return WorkloadSettings(
        max_iterations=arguments.max_iterations, log_every=arguments.log_every,
        hidden_activation=hidden, output_activation=output, model=arguments.model,
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


def _matrix(arguments: argparse.Namespace, progress: Progress) -> Matrix:
    names = [library.name for library in arguments.library]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--library names {', '.join(repeated)} more than once; give each library its own name")
    matrix = expand(
        load_targets(arguments.targets), WORKLOADS, cores=arguments.cores, formats=arguments.formats,
        variants=arguments.variants, opt=arguments.opt, workload=arguments.workload, settings=_settings(arguments),
        libraries=(QNN, *arguments.library), hidden_layers=arguments.hidden_layers,
        hidden_neurons=arguments.hidden_neurons,
    )  # fmt: skip
    if arguments.shard is not None:
        matrix = shard(matrix, *arguments.shard)
    for problem in matrix.problems:
        progress.note(f"error: {problem}")
    if not matrix.cells and not matrix.rejected:
        raise UsageError("nothing to do: the request names no buildable cell")
    return matrix


def _cache(arguments: argparse.Namespace, progress: Progress) -> Cache:
    directory = arguments.cache_dir or arguments.build_dir / "cache"
    return Cache(directory, fingerprint(), read=not arguments.no_cache, warn=progress.note)


def _parts(arguments: argparse.Namespace, problems: list[str]) -> dict:
    parts = load_parts(load_targets(arguments.targets), arguments.targets / "parts.toml")
    if arguments.parts is None:
        return parts
    chosen = {}
    for name in arguments.parts.split(","):
        try:
            chosen[name] = select([name.strip()], parts, "part")[0]
        except TargetError as error:
            problems.append(str(error))
    return chosen


def _build(arguments: argparse.Namespace) -> int:
    progress = for_stream()
    matrix = _matrix(arguments, progress)
    for rejected in matrix.rejected:
        progress.note(f"invalid: {rejected.cell.label}: {rejected.reason}")
    _, missing = check_tools({cell.target.compiler for cell in matrix.cells}, progress)
    buildable = [cell for cell in matrix.cells if cell.target.compiler not in missing]
    settings = _settings(arguments)
    specs = [*baseline_specs(buildable).values(), *(BuildSpec.for_cell(cell, settings) for cell in buildable)]
    cache = _cache(arguments, progress)
    measured, interrupted = build_all(specs, arguments.build_dir, arguments.jobs, cache, progress)
    progress.finish()
    built = sum(result.image.ok for result in measured.values())
    failed = len(specs) - built + len(matrix.cells) - len(buildable) + len(matrix.rejected)
    cached = f" ({cache.hits} from the cache)" if cache.hits else ""
    print(f"built {built} of {len(specs)} images into {shown(arguments.build_dir)}{cached}; {failed} failed or invalid")
    if interrupted:
        raise KeyboardInterrupt
    return 1 if failed or matrix.problems else 0


def _run(arguments: argparse.Namespace) -> int:
    progress = for_stream()
    matrix = _matrix(arguments, progress)
    problems = list(matrix.problems)
    parts = _parts(arguments, problems)
    for problem in problems[len(matrix.problems) :]:
        progress.note(f"error: {problem}")
    revision = git_revision()
    options = RunOptions(
        build_root=arguments.build_dir, jobs=arguments.jobs, cache=_cache(arguments, progress),
        emulate=not arguments.no_emulate, timeout=arguments.timeout, settings=_settings(arguments),
    )  # fmt: skip
    output = run_matrix(matrix, options, revision, progress)
    progress.finish()
    stamp = now()
    rows = [row.__class__(**{**vars(row), "qbench_version": __version__, "date": stamp}) for row in output.rows]
    problems += output.problems
    write_results(arguments.out, saved_results(
        rows, output.symbols, environment(revision, output.tools, problems, output.interrupted),
        output.instructions, output.training, output.article,
    ))  # fmt: skip
    report = write_report(arguments.out, read_results(arguments.out), parts)
    ok = sum(row.status == "ok" for row in rows)
    cached = f", {options.cache.hits} from the cache" if options.cache.hits else ""
    print(f"{ok} ok, {len(rows) - ok} failed{cached}; results in {shown(arguments.out)}/results.csv, "
          f"report {shown(report)}")  # fmt: skip
    if output.interrupted:
        raise KeyboardInterrupt
    if not ok:
        progress.note("error: no cell succeeded; the report holds only failures")
    return 1 if len(rows) > ok or problems or not ok else 0


def _report(arguments: argparse.Namespace) -> int:
    problems: list[str] = []
    parts = _parts(arguments, problems)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    report = write_report(arguments.directory, read_results(arguments.directory), parts)
    print(f"report {shown(report)}")
    return 1 if problems else 0


def _merge(arguments: argparse.Namespace) -> int:
    merged = merge(arguments.directories, allow_mixed=arguments.allow_mixed)
    write_results(arguments.out, merged)
    report = write_report(arguments.out, read_results(arguments.out), load_parts(load_targets(arguments.targets)))
    rows = merged.rows
    ok = int((rows["status"] == "ok").sum())
    print(f"merged {len(arguments.directories)} results sets: {ok} ok, {len(rows) - ok} failed; "
          f"report {shown(report)}")  # fmt: skip
    return 1 if len(rows) > ok or merged.environment["problems"] else 0


def _compare(arguments: argparse.Namespace) -> int:
    base, new = read_results(arguments.base), read_results(arguments.new)
    metrics = tuple(metric.strip() for metric in arguments.metric.split(","))
    threshold = parse_threshold(arguments.threshold)
    comparison = compare(base.rows, new.rows, metrics, threshold)
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


def _verify(arguments: argparse.Namespace) -> int:
    return verify(arguments.directory)


def _import_torch(arguments: argparse.Namespace) -> int:
    formats = [parse_qformat(name) for name in arguments.formats.split(",")]
    network = load_torch_network(arguments.model, arguments.activations)
    table = write_network(network, formats, arguments.out)
    print(f"{network.shape.name} network ({network.shape.connections} weights) from {shown(arguments.model)}: "
          f"wrote network.json and weights_<format>.inc for {', '.join(table['format'])} "
          f"to {shown(arguments.out)}\n")  # fmt: skip
    print(table.to_markdown(index=False))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _activations(text: str) -> tuple[str, str]:
    names = [name.strip() for name in text.split(",")]
    if len(names) != 2 or any(name not in ACTIVATION_POLICIES for name in names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the hidden and the output activation, e.g. tanh,sigmoid "
            f"(known: {', '.join(ACTIVATION_POLICIES)})"
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


def _add_targets_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--targets", type=Path, default=TARGETS, help="targets directory (default: targets/)")


def _add_matrix_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--cores", help="comma-separated cores (default: every file in targets/cores)")
    add("--formats", default=",".join(DEFAULT_FORMATS), help="comma-separated qI.F / uqI.F formats")
    add("--variants", default=",".join(DEFAULT_VARIANTS), help="trainable and/or inference")
    add("--opt", default=",".join(DEFAULT_OPT), help=f"optimisation levels: {', '.join(OPT_LEVELS)}")
    add("--workload", default="xor", help=f"workload: {', '.join(sorted(WORKLOADS))}")
    add("-j", "--jobs", type=_positive, default=os.cpu_count() or 1, help="parallel jobs (default: all CPUs)")
    add("--build-dir", type=Path, default=BUILD, help="where images are built (default: build/)")
    add("--cache-dir", type=Path, help="the build and run cache (default: BUILD_DIR/cache)")
    add("--no-cache", action="store_true", help="rebuild and rerun everything (the cache is still refreshed)")
    add("--shard", type=_shard, help="run the I-th of N deterministic shares of the matrix, e.g. 1/4")
    add("--max-iterations", type=_positive, default=WorkloadSettings.max_iterations,
        help="training budget of a trainable image (default: %(default)s)")  # fmt: skip
    add("--log-every", type=_positive, default=WorkloadSettings.log_every,
        help="iterations between training-log records (default: %(default)s)")  # fmt: skip
    add("--activations", type=_activations,
        help="hidden and output activations, e.g. relu,linear (default: the workload's, tanh,sigmoid)")  # fmt: skip
    add("--hidden-layers", help="comma-separated hidden-layer counts, e.g. 1,2,3 (default: the workload's network)")
    add("--hidden-neurons", help="comma-separated hidden-layer widths, e.g. 4,8,16,32,64 (default: the workload's)")
    add("--model", type=_model, metavar="NETWORK_JSON",
        help="deploy this network (from qbench import-torch) instead of training one on the host")  # fmt: skip
    add("--library", type=_library, action="append", default=[], metavar="NAME=PATH",
        help="also build against another library with qnn's API, its rows beside qnn's (repeatable)")  # fmt: skip
    _add_targets_option(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qbench", description="Benchmarks fixed-point neural networks on Cortex-M.")
    parser.add_argument("--version", action="version", version=f"qbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    build_command = commands.add_parser("build", help="cross-compile the matrix and its empty baselines")
    _add_matrix_options(build_command)
    build_command.set_defaults(handler=_build)

    run_command = commands.add_parser("run", help="build the matrix, measure and run it, write results and a report")
    _add_matrix_options(run_command)
    run_command.add_argument("--no-emulate", action="store_true", help="footprint only: build and measure sizes")
    run_command.add_argument("--timeout", type=float, default=60.0, help="seconds per emulator run (default: 60)")
    run_command.add_argument("--parts", help="comma-separated parts for the budget table (default: all)")
    run_command.add_argument(
        "--out", type=Path, default=REPORTS / "latest", help="output directory (default: reports/latest)"
    )
    run_command.set_defaults(handler=_run)

    report_command = commands.add_parser("report", help="regenerate DIR/report.md from DIR's saved results")
    report_command.add_argument("directory", type=Path)
    report_command.add_argument("--parts", help="comma-separated parts for the budget table (default: all)")
    _add_targets_option(report_command)
    report_command.set_defaults(handler=_report)

    merge_command = commands.add_parser("merge", help="combine results directories (e.g. CI shards) into one")
    merge_command.add_argument("directories", type=Path, nargs="+")
    merge_command.add_argument("--out", type=Path, required=True, help="directory for the merged results and report")
    merge_command.add_argument("--allow-mixed", action="store_true", help="merge across toolchain or emulator versions")
    _add_targets_option(merge_command)
    merge_command.set_defaults(handler=_merge)

    compare_command = commands.add_parser(
        "compare", help="markdown delta table of NEW against BASE; exit 1 on a regression"
    )
    compare_command.add_argument("base", type=Path, help="baseline results directory")
    compare_command.add_argument("new", type=Path, help="results directory to check")
    compare_command.add_argument("--threshold", default="2%", help="growth allowed per metric (default: 2%%)")
    compare_command.add_argument("--metric", default=",".join(DEFAULT_METRICS), help="comma-separated metrics")
    compare_command.set_defaults(handler=_compare)

    verify_command = commands.add_parser(
        "verify", help="re-check every row's sizes with GNU binutils and its instruction counts with Unicorn on the "
        "row's own ELF; exit 1 on any difference",
    )  # fmt: skip
    verify_command.add_argument("directory", type=Path, help="results directory (qbench run --out)")
    verify_command.set_defaults(handler=_verify)

    lut_command = commands.add_parser(
        "lut", help="print the activation lookup table qnn computes for a Q format, with its error bound"
    )
    lut_command.add_argument("--format", required=True, help="Q format, e.g. q8.8, q1.15, uq8.8")
    lut_command.add_argument("--function", required=True, choices=("tanh", "sigmoid"))
    lut_command.set_defaults(handler=_lut)

    import_command = commands.add_parser(
        "import-torch", help="turn a saved PyTorch nn.Sequential (or its state_dict) into qnn weights"
    )
    import_command.add_argument(
        "model", type=Path, help="file written by torch.save(model) or torch.save(model.state_dict()); a whole "
        "model is unpickled, so import only files you trust"
    )  # fmt: skip
    import_command.add_argument("--out", type=Path, required=True, help="directory for network.json and the weights")
    import_command.add_argument("--formats", default=",".join(DEFAULT_FORMATS), help="comma-separated Q formats")
    import_command.add_argument(
        "--activations", type=_activations, default=None,
        help="hidden and output activations, e.g. tanh,sigmoid: needed for a state_dict, checked against a model",
    )  # fmt: skip
    import_command.set_defaults(handler=_import_torch)
    return parser


def _on_sigterm(number, frame) -> None:
    global _interrupting_signal
    _interrupting_signal = signal.SIGTERM
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    global _interrupting_signal
    _interrupting_signal = signal.SIGINT
    parser = build_parser()
    arguments = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return arguments.handler(arguments)
    except (
        QFormatError, TargetError, ResultsFileError, ToolNotFound, UsageError, MergeError, CompareError,
        TorchImportError, NetworkError,
    ) as error:  # fmt: skip
        parser.exit(2, f"qbench: error: {error}\n")
    except KeyboardInterrupt:
        number = _interrupting_signal
        print(f"qbench: interrupted ({signal.Signals(number).name}); the rows that finished are written, the rest "
              "marked incomplete, and the next run resumes from the cache", file=sys.stderr)  # fmt: skip
        return INTERRUPT_STATUS[number]
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
