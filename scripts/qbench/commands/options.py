"""The command line's options: argparse's types, which turn each value into a typed one or name what is wrong with
it, the shell's completion of their values, and the option groups the commands share."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from qbench.common.paths import BUILD, REPORTS, TARGETS
from qbench.hardware.targets import TargetError, load_parts, load_targets
from qbench.images.libraries import CONTRACT_DOCS, QNN, Library, LibraryError, builtin_names, parse_library
from qbench.images.matrix import DEFAULT_FORMATS, DEFAULT_OPT, OPT_LEVELS, Variant, core_order, parse_shard
from qbench.images.workloads import ACTIVATIONS, INITIAL_WEIGHTS, WORKLOADS, WorkloadError, WorkloadSettings
from qbench.models.network import FloatNetwork, NetworkError, network_from_document
from qbench.models.qformat import FLOAT32, MAX_TOTAL_BITS, QFormatError, parse_format

# Upper bounds of the numeric options: far beyond any useful value, low enough to catch a slip.
MAX_JOBS = 1024
MAX_ITERATIONS = 1_000_000
MAX_TIMEOUT = 86_400.0  # one day
TIMES = {2: "twice", 3: "three times", 4: "four times"}  # how often a list option named one value


# --- Argument types ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """A comma-separated option's items, each kept once (its first spelling), and a note per repeated one; the
    matrix checks the items themselves, so that every bad value of a command line is named at once."""

    items: tuple[str, ...]
    notes: tuple[str, ...] = ()


def repeat_notes(option: str, items: Sequence, key: Callable, name: Callable = str) -> list[str]:
    """One note per item named more than once (by key), under its first spelling."""
    first: dict = {}
    counts: dict = {}
    for item in items:
        first.setdefault(key(item), item)
        counts[key(item)] = counts.get(key(item), 0) + 1
    # An empty item names nothing; the matrix reports it.
    repeated = [(first[same], count) for same, count in counts.items() if count > 1 and name(first[same])]
    return [
        f"note: {option} names {name(item)} {TIMES.get(count, f'{count} times')}; measured once"
        for item, count in repeated
    ]


def kept(items: Iterable, key: Callable) -> list:
    """The items, each kept once (its first spelling) by key."""
    kept: dict = {}
    for item in items:
        kept.setdefault(key(item), item)
    return list(kept.values())


def _listed(option: str, key: Callable[[str], object] = str) -> Callable[[str], Listed]:
    """An argparse type: a comma-separated option without repeats (two spellings of one value are a repeat too)."""

    def parse(text: str) -> Listed:
        items = [item.strip() for item in text.split(",")]
        return Listed(tuple(kept(items, key)), tuple(repeat_notes(option, items, key)))

    return parse


def names(text: str) -> tuple[str, ...]:
    """An argparse type: the names of a comma-separated option, as given."""
    return tuple(name.strip() for name in text.split(","))


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


_cores = _listed("--cores")
formats = _listed("--formats", _format_key)
_variants = _listed("--variants")
_opt = _listed("--opt", _opt_key)
hidden_layers = _listed("--hidden-layers", _size_key)
hidden_neurons = _listed("--hidden-neurons", _size_key)


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


def activations(text: str) -> tuple[str, str]:
    names = [name.strip() for name in text.split(",")]
    if len(names) != 2 or any(name not in ACTIVATIONS for name in names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the hidden and the output activation, e.g. tanh,sigmoid (known: {', '.join(ACTIVATIONS)})"
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


def known_cores() -> str:
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


def completes(values: Callable[[], Iterable[str]]) -> Callable[..., list[str]]:
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


# --- Option groups, each added by the commands that take it -----------------------------------------------------
# A group's help can be worded for a command (explore's defaults differ from run's): `wording` maps an option to
# its help there.


def add_targets_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--targets",
        type=Path,
        default=TARGETS,
        help="targets directory, holding cores/ and parts.toml (default: targets/)",
    )


def add_parts_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parts-file",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a parts file in targets/parts.toml's format whose parts are added to the built-in ones, "
        "or replace those of the same name (repeatable, later files win; default: none)",
    )


def add_parts_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parts",
        type=names,
        help="comma-separated parts for the budget table, from targets/parts.toml (default: all; qbench list parts)",
    ).completer = completes(_part_names)


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help="when another qbench is writing the output folder, wait for it rather than refuse (default: refuse)",
    )


def _explore_wording() -> dict[str, str]:
    """explore's help for the options it shares with run, where its defaults or its sweep differ."""
    from qbench.orchestration.explore import DEFAULT_HIDDEN_LAYERS, DEFAULT_HIDDEN_NEURONS

    return {
        "--formats": "comma-separated number formats, as for run; a float-only library computes in float32 "
        "(default: %(default)s)",
        "--hidden-layers": "comma-separated hidden-layer counts, whole numbers >= 1 (default: "
        f"{DEFAULT_HIDDEN_LAYERS}; none with --model)",
        "--hidden-neurons": "comma-separated hidden-layer widths, whole numbers >= 1 (default: "
        f"{DEFAULT_HIDDEN_NEURONS}; none with --model)",
        "--model": "explore this imported network (from qbench import, as run --model) in each format instead of "
        "sweeping network sizes (default: sweep)",
        "--test-data": "with --model: measure accuracy on exactly this test set, as for run (default: the workload's "
        "test part)",
        "--library": "also sweep another library, as for run (repeatable; default: qnn alone)",
        "--timeout": f"seconds per emulator run, above 0 and at most {MAX_TIMEOUT:g} (default: %(default)g)",
        "--no-cache": "rebuild and rerun everything (default: off)",
    }


def _add_matrix_options(parser: argparse.ArgumentParser, known_cores: str) -> None:
    """The matrix's dimensions (run and build)."""
    add = parser.add_argument
    add(
        "--cores", type=_cores, help=f"comma-separated cores: {known_cores} (default: all of them; qbench list cores)"
    ).completer = completes(_core_names)
    _add_formats_option(parser, ",".join(DEFAULT_FORMATS))
    add(
        "--variants",
        type=_variants,
        help=f"comma-separated variants: {', '.join(Variant)} (default: the workload's: {_default_variants()})",
    ).completer = completes(lambda: list(Variant))
    add(
        "--opt",
        type=_opt,
        default=",".join(DEFAULT_OPT),
        help=f"comma-separated optimisation levels: {', '.join(OPT_LEVELS)}, with or without a leading '-' "
        "(default: %(default)s)",
    ).completer = completes(lambda: OPT_LEVELS)
    add(
        "--workload",
        default="xor",
        help=f"workload: {', '.join(sorted(WORKLOADS))}, or a folder holding a workload.toml (default: "
        "%(default)s; qbench list workloads)",
    ).completer = completes(lambda: sorted(WORKLOADS))


def _add_formats_option(parser: argparse.ArgumentParser, default: str, wording: Mapping[str, str] = {}) -> None:
    runs_help = (
        f"comma-separated number formats: qI.F (signed) or uqI.F (unsigned) with I+F from 1 to {MAX_TOTAL_BITS} "
        "bits, or float32 (default: %(default)s; qbench list formats)"
    )
    parser.add_argument(
        "--formats", type=formats, default=default, help=wording.get("--formats", runs_help)
    ).completer = completes(lambda: [*DEFAULT_FORMATS, FLOAT32.name])


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Where the tasks run (run, build and explore)."""
    parser.add_argument(
        "-j",
        "--jobs",
        type=_whole_number(MAX_JOBS),
        default=min(os.cpu_count() or 1, MAX_JOBS),
        help=f"parallel jobs, 1 to {MAX_JOBS} (default: %(default)s, the CPUs here)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_whole_number(MAX_JOBS),
        help=f"run the tasks on a local dask cluster of this many worker processes, 1 to {MAX_JOBS} "
        "(default: on this process's threads, -j)",
    )
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the tasks on an existing dask cluster; its workers need the same checkout and tools "
        "(qbench worker-check --scheduler; docs/cluster.md) (default: on this process's threads, -j)",
    )


def _add_build_folder_options(parser: argparse.ArgumentParser, wording: Mapping[str, str] = {}) -> None:
    """Where images are built and cached (run, build and explore)."""
    add = parser.add_argument
    add("--build-dir", type=Path, default=BUILD, help="where images are built (default: build/)")
    add("--cache-dir", type=Path, help="the build and run cache (default: BUILD_DIR/cache)")
    add(
        "--no-cache",
        action="store_true",
        help=wording.get("--no-cache", "rebuild and rerun everything; the cache is still refreshed (default: off)"),
    )


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    """What a trainable image is built with (run and build)."""
    add = parser.add_argument
    add(
        "--max-iterations",
        type=_whole_number(MAX_ITERATIONS),
        default=WorkloadSettings.max_iterations,
        help=f"training budget of a trainable image, 1 to {MAX_ITERATIONS:,} (default: %(default)s)",
    )
    add(
        "--log-every",
        type=_whole_number(MAX_ITERATIONS),
        default=WorkloadSettings.log_every,
        help=f"iterations between training-log records, 1 to {MAX_ITERATIONS:,} (default: %(default)s)",
    )
    add(
        "--initial-weights",
        choices=INITIAL_WEIGHTS,
        default=WorkloadSettings.initial_weights,
        help="where a trainable network starts: qbench's seeded draw, the same for every library, or each "
        "library's own generator (default: %(default)s)",
    )
    add(
        "--activations",
        type=activations,
        help=f"hidden and output activations, each one of {', '.join(ACTIVATIONS)}, e.g. relu,linear "
        "(default: the workload's, tanh,sigmoid)",
    )


def _add_network_options(parser: argparse.ArgumentParser, wording: Mapping[str, str] = {}) -> None:
    """The network's sizes, or an imported network and its test data (run, build and explore)."""
    add = parser.add_argument
    add(
        "--hidden-layers",
        type=hidden_layers,
        help=wording.get(
            "--hidden-layers",
            "comma-separated hidden-layer counts, whole numbers >= 1, e.g. 1,2,3 (default: the workload's network)",
        ),
    )
    add(
        "--hidden-neurons",
        type=hidden_neurons,
        help=wording.get(
            "--hidden-neurons",
            "comma-separated hidden-layer widths, whole numbers >= 1, e.g. 4,8,16,32,64 (default: the workload's)",
        ),
    )
    add(
        "--model",
        type=_model,
        metavar="NETWORK_JSON",
        help=wording.get(
            "--model",
            "deploy this network (from qbench import) instead of training one on the host, its inputs through the "
            "input scaling network.json records (default: train one)",
        ),
    )
    add(
        "--test-data",
        type=Path,
        metavar="FILE",
        help=wording.get(
            "--test-data",
            "with --model: measure accuracy on exactly this test set (an NPZ with X and y, or a CSV whose target "
            "column is --target, default its last), not on the workload's split (default: the workload's test part)",
        ),
    )
    add("--target", metavar="COLUMN", help="the CSV test data's target column (default: its last column)")


def _add_library_option(parser: argparse.ArgumentParser, wording: Mapping[str, str] = {}) -> None:
    others = [name for name in builtin_names() if name != QNN.name]
    runs_help = (
        f"also build against another library, its rows beside qnn's: a built-in one ({', '.join(others)}) or "
        f"NAME=PATH, PATH a folder with a qbench-library.toml naming its adapter ({CONTRACT_DOCS}; repeatable; "
        "default: qnn alone; qbench list libraries)"
    )
    parser.add_argument(
        "--library",
        type=_library,
        action="append",
        default=[],
        metavar="NAME[=PATH]",
        help=wording.get("--library", runs_help),
    ).completer = completes(lambda: others)


def add_timeout_option(parser: argparse.ArgumentParser, wording: Mapping[str, str] = {}) -> None:
    runs_help = f"seconds per emulator run, above 0 and at most {MAX_TIMEOUT:g}, a day (default: %(default)g)"
    parser.add_argument("--timeout", type=_seconds, default=60.0, help=wording.get("--timeout", runs_help))


def add_work_options(parser: argparse.ArgumentParser, known_cores: str) -> None:
    """What run and build share: the matrix, where it is built and run, and what its images hold."""
    _add_matrix_options(parser, known_cores)
    _add_executor_options(parser)
    _add_build_folder_options(parser)
    parser.add_argument(
        "--shard",
        type=_shard,
        help="run the I-th of N deterministic shares of the matrix: I/N with 1 <= I <= N, e.g. 1/4 "
        "(default: the whole matrix)",
    )
    _add_training_options(parser)
    _add_network_options(parser)
    _add_library_option(parser)
    add_targets_option(parser)


def add_explore_options(parser: argparse.ArgumentParser) -> None:
    from qbench.orchestration.explore import DEFAULT_FORMATS as EXPLORE_FORMATS

    wording = _explore_wording()
    add = parser.add_argument
    add(
        "--workload",
        required=True,
        help=f"workload with inference cells: {', '.join(sorted(WORKLOADS))}, or a folder "
        "holding a workload.toml (required)",
    ).completer = completes(lambda: sorted(WORKLOADS))
    add(
        "--part",
        required=True,
        help="the part to choose for, from targets/parts.toml or a --parts-file (required; qbench list parts)",
    ).completer = completes(_part_names)
    _add_formats_option(parser, EXPLORE_FORMATS, wording)
    _add_network_options(parser, wording)
    _add_library_option(parser, wording)
    add(
        "--max-latency-us",
        type=_microseconds,
        metavar="N",
        help="keep only networks whose worst-case estimated inference takes at most N µs at the part's clock "
        "(default: no limit)",
    )
    _add_executor_options(parser)
    add_timeout_option(parser, wording)
    add(
        "--out",
        default=str(REPORTS / "explore"),
        help="output folder for results.csv (the whole sweep), report.md and explore.md, replaced whole "
        "(default: reports/explore)",
    )
    _add_build_folder_options(parser, wording)
    add_targets_option(parser)
    add_parts_file_option(parser)
    add_wait_option(parser)
