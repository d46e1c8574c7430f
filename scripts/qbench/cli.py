"""The qbench command line.

Exit status: 0 when every requested cell succeeded, 1 when any cell failed or
part of the request was invalid (the rest still ran), 2 when nothing could
start (bad arguments, a malformed target file, an unreadable results file).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, lut
from .build import BuildSpec
from .matrix import DEFAULT_FORMATS, DEFAULT_OPT, DEFAULT_VARIANTS, OPT_LEVELS, Matrix, expand
from .paths import BUILD, REPORTS, shown
from .pipeline import RunOptions, baseline_specs, build_all, check_tools, run_matrix
from .progress import Progress, for_stream
from .provenance import environment, git_revision
from .qformat import QFormatError, parse_qformat
from .report import write_report
from .results import ResultsFileError, read_results, write_results
from .targets import TargetError, load_parts, load_targets
from .toolchain import ToolNotFound
from .workloads import ACTIVATION_POLICIES, WORKLOADS, WorkloadSettings


class UsageError(Exception):
    """Nothing can start: the message says why."""


def _lut(arguments: argparse.Namespace) -> int:
    fmt = parse_qformat(arguments.format)
    if arguments.function == "tanh" and not fmt.signed:
        raise QFormatError(f"tanh needs a signed Q format; {fmt.name} is unsigned")
    sys.stdout.write(lut.header_text(fmt, arguments.function))
    return 0


def _matrix(arguments: argparse.Namespace, progress: Progress) -> Matrix:
    matrix = expand(
        load_targets(), WORKLOADS, cores=arguments.cores, formats=arguments.formats, variants=arguments.variants,
        opt=arguments.opt, workload=arguments.workload, settings=_settings(arguments),
    )  # fmt: skip
    for problem in matrix.problems:
        progress.note(f"error: {problem}")
    if not matrix.cells and not matrix.rejected:
        raise UsageError("nothing to do: the request names no buildable cell")
    return matrix


def _build(arguments: argparse.Namespace) -> int:
    progress = for_stream()
    matrix = _matrix(arguments, progress)
    for rejected in matrix.rejected:
        progress.note(f"invalid: {rejected.cell.label}: {rejected.reason}")
    _, missing = check_tools({cell.target.compiler for cell in matrix.cells}, progress)
    buildable = [cell for cell in matrix.cells if cell.target.compiler not in missing]
    settings = _settings(arguments)
    specs = [*baseline_specs(buildable).values(), *(BuildSpec.for_cell(cell, settings) for cell in buildable)]
    measured = build_all(specs, arguments.build_dir, arguments.jobs, progress)
    progress.finish()
    built = sum(result.image.ok for result in measured.values())
    failed = len(specs) - built + len(matrix.cells) - len(buildable) + len(matrix.rejected)
    print(f"built {built} of {len(specs)} images into {shown(arguments.build_dir)}; {failed} failed or invalid")
    return 1 if failed or matrix.problems else 0


def _settings(arguments: argparse.Namespace) -> WorkloadSettings:
    hidden, output = arguments.activations
    return WorkloadSettings(
        max_iterations=arguments.max_iterations, log_every=arguments.log_every,
        hidden_activation=hidden, output_activation=output,
    )  # fmt: skip


def _activations(text: str) -> tuple[str, str]:
    names = [name.strip() for name in text.split(",")]
    if len(names) != 2 or any(name not in ACTIVATION_POLICIES for name in names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the hidden and the output activation, e.g. tanh,sigmoid "
            f"(known: {', '.join(ACTIVATION_POLICIES)})"
        )
    return names[0], names[1]


def _run(arguments: argparse.Namespace) -> int:
    progress = for_stream()
    matrix = _matrix(arguments, progress)
    revision = git_revision()
    options = RunOptions(
        build_root=arguments.build_dir, jobs=arguments.jobs, emulate=not arguments.no_emulate,
        timeout=arguments.timeout, settings=_settings(arguments),
    )  # fmt: skip
    output = run_matrix(matrix, options, revision, progress)
    progress.finish()
    write_results(
        arguments.out, output.rows, output.symbols, environment(revision, output.tools, list(matrix.problems)),
        output.instructions, output.training,
    )  # fmt: skip
    report = write_report(arguments.out, read_results(arguments.out), load_parts(load_targets()))
    ok = sum(row.status == "ok" for row in output.rows)
    failed = len(output.rows) - ok
    print(f"{ok} ok, {failed} failed; results in {shown(arguments.out)}/results.csv, report {shown(report)}")
    if not ok:
        progress.note("error: no cell succeeded; the report holds only failures")
    return 1 if failed or matrix.problems or not ok else 0


def _report(arguments: argparse.Namespace) -> int:
    report = write_report(arguments.directory, read_results(arguments.directory), load_parts(load_targets()))
    print(f"report {shown(report)}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _add_matrix_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cores", help="comma-separated cores (default: every file in targets/cores)")
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS), help="comma-separated qI.F / uqI.F formats")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="trainable and/or inference")
    parser.add_argument("--opt", default=",".join(DEFAULT_OPT), help=f"optimisation levels: {', '.join(OPT_LEVELS)}")
    parser.add_argument("--workload", default="xor", help=f"workload: {', '.join(sorted(WORKLOADS))}")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="parallel jobs (default: all CPUs)")
    parser.add_argument("--build-dir", type=Path, default=BUILD, help="where images are built (default: build/)")
    parser.add_argument(
        "--max-iterations",
        type=_positive,
        default=WorkloadSettings.max_iterations,
        help="training budget of a trainable image (default: %(default)s)",
    )
    parser.add_argument(
        "--log-every",
        type=_positive,
        default=WorkloadSettings.log_every,
        help="iterations between training-log records (default: %(default)s)",
    )
    parser.add_argument(
        "--activations",
        type=_activations,
        default=("tanh", "sigmoid"),
        help="hidden and output activations, e.g. tanh,sigmoid (default) or relu,linear",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qbench", description="Benchmarks fixed-point neural networks on Cortex-M.")
    parser.add_argument("--version", action="version", version=f"qbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    build_parser_ = commands.add_parser("build", help="cross-compile the matrix and its empty baselines")
    _add_matrix_options(build_parser_)
    build_parser_.set_defaults(handler=_build)

    run_parser = commands.add_parser("run", help="build the matrix, measure it and write results and a report")
    _add_matrix_options(run_parser)
    run_parser.add_argument("--no-emulate", action="store_true", help="footprint only: build and measure sizes")
    run_parser.add_argument("--timeout", type=float, default=60.0, help="seconds per emulator run (default: 60)")
    run_parser.add_argument(
        "--out", type=Path, default=REPORTS / "latest", help="output directory (default: reports/latest)"
    )
    run_parser.set_defaults(handler=_run)

    report_parser = commands.add_parser("report", help="regenerate DIR/report.md from DIR's saved results")
    report_parser.add_argument("directory", type=Path)
    report_parser.set_defaults(handler=_report)

    lut_parser = commands.add_parser(
        "lut", help="print the activation lookup table qnn computes for a Q format, with its error bound"
    )
    lut_parser.add_argument("--format", required=True, help="Q format, e.g. q8.8, q1.15, uq8.8")
    lut_parser.add_argument("--function", required=True, choices=("tanh", "sigmoid"))
    lut_parser.set_defaults(handler=_lut)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except (QFormatError, TargetError, ResultsFileError, ToolNotFound, UsageError) as error:
        parser.exit(2, f"qbench: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
