"""Every option checked when it is parsed: numbers within stated bounds, repeated list items measured
once with one note, and every --help naming each option's default and its allowed values."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from library_copies import qnn_copy
from qbench.cli import build_parser
from qbench.cli import main as qbench_main
from qbench.results import read_results

SMALL = ["--cores", "cortex-m0plus", "--formats", "q16.16", "--variants", "inference", "--no-emulate"]
COMMANDS = ("build", "run", "report", "merge", "compare", "verify", "lut", "import-torch")


def rejected(capsys, arguments: list[str]) -> str:
    """argparse's one-line refusal (after its usage line), exit 2."""
    with pytest.raises(SystemExit) as stopped:
        qbench_main(arguments)
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in error
    return error.strip().splitlines()[-1]


@pytest.mark.parametrize("value", ["inf", "nan", "1e10", "0", "-1", "abc"])
def test_timeout_is_a_finite_positive_number_of_seconds_up_to_a_day(capsys, value, tmp_path):
    error = rejected(capsys, ["run", *SMALL, "--timeout", value, "--out", str(tmp_path / "out")])
    assert f"argument --timeout: {value!r} is not a number of seconds above 0 and at most 86400 (one day)" in error


@pytest.mark.parametrize(
    ("option", "value", "bound"),
    [("-j", "0", "1,024"), ("-j", "5000", "1,024"), ("--jobs", "x", "1,024"),
     ("--max-iterations", "-5", "1,000,000"), ("--max-iterations", "99999999999999", "1,000,000"),
     ("--log-every", "0", "1,000,000"), ("--log-every", "2000000", "1,000,000")],
)  # fmt: skip
def test_counts_are_whole_numbers_within_a_named_bound(capsys, tmp_path, option, value, bound):
    error = rejected(capsys, ["run", *SMALL, option, value, "--out", str(tmp_path / "out")])
    assert f"{value!r} is not a whole number from 1 to {bound}" in error


def test_the_bounds_themselves_are_accepted():
    arguments = build_parser().parse_args(["run", "--timeout", "86400", "-j", "1024", "--max-iterations", "1000000",
                                           "--log-every", "1"])  # fmt: skip
    assert (arguments.timeout, arguments.jobs, arguments.max_iterations, arguments.log_every) == (86400, 1024, 10**6, 1)


def matrix_without(option: str) -> list[str]:
    """SMALL without `option`, which the test gives itself."""
    index = SMALL.index(option) if option in SMALL else None
    return SMALL if index is None else SMALL[:index] + SMALL[index + 2 :]


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("options-build")


@pytest.mark.parametrize(
    ("option", "value", "note"),
    [("--formats", "q16.16,q16.16", "--formats names q16.16 twice"),
     ("--opt", "Os,-Os", "--opt names Os twice"),
     ("--variants", "inference,inference", "--variants names inference twice"),
     ("--hidden-neurons", "4,4", "--hidden-neurons names 4 twice")],
)  # fmt: skip
def test_a_repeated_list_item_is_measured_once_with_one_note(tmp_path, build, capsys, option, value, note):
    out = tmp_path / "out"
    status = qbench_main(["run", *matrix_without(option), option, value, "--build-dir", str(build), "--out", str(out)])
    error = capsys.readouterr().err
    assert status == 0, error
    assert error.count(f"note: {note}; measured once") == 1 and "Traceback" not in error
    assert len(read_results(out).rows) == 1


def test_repeated_cores_layers_and_libraries_are_each_noted_once(tmp_path, build, capsys):
    library = qnn_copy(tmp_path / "other", "othernn")
    out = tmp_path / "out"
    status = qbench_main(["run", *matrix_without("--cores"), "--cores", "cortex-m0plus, cortex-m0plus,cortex-m0plus",
                          "--hidden-layers", "1,01", "--library", f"other={library}", "--library", f"other={library}",
                          "--build-dir", str(build), "--out", str(out)])  # fmt: skip
    error = capsys.readouterr().err
    assert status == 0, error
    for note in ("--cores names cortex-m0plus three times", "--hidden-layers names 1 twice",
                 "--library names other twice"):  # fmt: skip
        assert error.count(f"note: {note}; measured once") == 1, error
    assert sorted(read_results(out).rows["library"]) == ["other", "qnn"]


def option_actions(command: str) -> list[argparse.Action]:
    """A command's options but --help (argparse has no public way to list them)."""
    subcommands = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return [action for action in subcommands.choices[command]._actions if action.option_strings != ["-h", "--help"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_says_its_default(command):
    for action in option_actions(command):
        if action.option_strings:
            assert "default" in action.help or "required" in action.help, (command, action.option_strings)


def test_help_names_the_allowed_values_and_defaults(capsys):
    with pytest.raises(SystemExit):
        qbench_main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("--formats FORMATS comma-separated number formats: qI.F (signed) or uqI.F (unsigned) with I+F from 1 "
                  "to 64 bits, or float32 (default: q16.16,q8.8)",
                  "comma-separated variants: trainable, inference (default: trainable,inference)",
                  "O0, O1, O2, O3, Os, Oz, with or without a leading '-' (default: Os)",
                  "cortex-m0, cortex-m0plus", "workload: digits, iris, xor (default: xor)",
                  "above 0 and at most 86400, a day (default: 60)", "1 to 1,000,000 (default: 20000)",
                  "parallel jobs, 1 to 1024"):  # fmt: skip
        assert shown in text
