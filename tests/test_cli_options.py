"""Every option checked when it is parsed: numbers within stated bounds, repeated list items measured
once with one note, and every --help naming each option's default and its allowed values."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from library_copies import qnn_copy
from qbench.commands.cli import build_parser
from qbench.commands.cli import main as qbench_main
from qbench.hardware.targets import load_targets
from qbench.images.matrix import MatrixRequest, expand
from qbench.images.workloads import WORKLOADS
from qbench.orchestration.run import invalid_lines
from qbench.records.results import read_results
from qbench.reporting.compare import DEFAULT_METRICS, METRICS
from qbench.reporting.compare import KEY as COMPARE_KEY

SMALL = ["--cores", "cortex-m0plus", "--formats", "q16.16", "--variants", "inference", "--no-emulate"]
COMMANDS = (
    "build",
    "run",
    "report",
    "merge",
    "compare",
    "list",
    "verify",
    "lut",
    "import",
    "import-torch",
    "explore",
    "worker-check",
)


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
    [
        ("-j", "0", "1,024"),
        ("-j", "5000", "1,024"),
        ("--jobs", "x", "1,024"),
        ("--max-iterations", "-5", "1,000,000"),
        ("--max-iterations", "99999999999999", "1,000,000"),
        ("--log-every", "0", "1,000,000"),
        ("--log-every", "2000000", "1,000,000"),
    ],
)
def test_counts_are_whole_numbers_within_a_named_bound(capsys, tmp_path, option, value, bound):
    error = rejected(capsys, ["run", *SMALL, option, value, "--out", str(tmp_path / "out")])
    assert f"{value!r} is not a whole number from 1 to {bound}" in error


def test_the_bounds_themselves_are_accepted():
    arguments = build_parser().parse_args(
        ["run", "--timeout", "86400", "-j", "1024", "--max-iterations", "1000000", "--log-every", "1"]
    )
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
    [
        ("--formats", "q16.16,q16.16", "--formats names q16.16 twice"),
        ("--opt", "Os,-Os", "--opt names Os twice"),
        ("--variants", "inference,inference", "--variants names inference twice"),
        ("--hidden-neurons", "4,4", "--hidden-neurons names 4 twice"),
    ],
)
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
    status = qbench_main(
        [
            "run",
            *matrix_without("--cores"),
            "--cores",
            "cortex-m0plus, cortex-m0plus,cortex-m0plus",
            "--hidden-layers",
            "1,01",
            "--library",
            f"other={library}",
            "--library",
            f"other={library}",
            "--build-dir",
            str(build),
            "--out",
            str(out),
        ]
    )
    error = capsys.readouterr().err
    assert status == 0, error
    for note in (
        "--cores names cortex-m0plus three times",
        "--hidden-layers names 1 twice",
        "--library names other twice",
    ):
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
    for shown in (
        "--formats FORMATS comma-separated number formats: qI.F (signed) or uqI.F (unsigned) with I+F from 1 "
        "to 64 bits, or float32 (default: q16.16,q8.8; qbench list formats)",
        "comma-separated variants: trainable, inference (default: the workload's: inference for digits, "
        "iris; trainable,inference for xor)",
        "O0, O1, O2, O3, Os, Oz, with or without a leading '-' (default: Os)",
        "cortex-m0, cortex-m0plus",
        "workload: digits, iris, xor, or a folder holding a workload.toml (default: xor; qbench list workloads)",
        "above 0 and at most 86400, a day (default: 60)",
        "1 to 1,000,000 (default: 20000)",
        "parallel jobs, 1 to 1024",
    ):
        assert shown in text


def test_compare_help_lists_the_metrics_and_match_columns(capsys):
    with pytest.raises(SystemExit):
        qbench_main(["compare", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps anywhere in a long comma-separated default
    assert f"comma-separatedresultscolumns,from:{','.join(METRICS)}(default:{','.join(DEFAULT_METRICS)})" in text
    assert f"columnsthatpairrows,from:{','.join(COMPARE_KEY)};" in text


# ---- each workload's default variants; invalid cells say why on the terminal ---------------------------------

IRIS = ["--workload", "iris", "--cores", "cortex-m0plus", "--formats", "q8.8", "--no-emulate"]


def test_a_host_trained_workload_runs_inference_by_default_and_exits_0(tmp_path, build, capsys):
    out = tmp_path / "out"
    assert qbench_main(["run", *IRIS, "--build-dir", str(build), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "invalid" not in captured.err + captured.out and captured.out.startswith("1 ok, 0 failed")
    assert list(read_results(out).rows["variant"]) == ["inference"]
    # xor trains on the device: both variants by default.
    assert sorted(cell.variant for cell in expand(load_targets(), WORKLOADS, MatrixRequest(cores=("host",))).cells) == [
        "inference",
        "inference",
        "trainable",
        "trainable",
    ]


def test_an_invalid_cell_asked_for_says_why_on_the_terminal(tmp_path, build, capsys):
    out = tmp_path / "out"
    status = qbench_main(
        [
            "run",
            *IRIS,
            "--variants",
            "trainable,inference",
            "--formats",
            "q8.8,q16.16",
            "--build-dir",
            str(build),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert status == 1
    reason = "iris trains on the host; its device images are inference-only (--variants inference)"
    assert captured.err.count(reason) == 1, captured.err  # one line per reason, naming its cells
    assert (
        f"invalid: {reason} (2 cells: cortex-m0plus iris q8.8 trainable -Os, cortex-m0plus iris q16.16 trainable -Os)"
    ) in captured.err
    assert "2 ok, 0 failed, 2 invalid" in captured.out
    rows = read_results(out).rows
    assert sorted(rows["status"]) == ["invalid", "invalid", "ok", "ok"]
    assert set(rows[rows["status"] == "invalid"]["message"]) == {reason}


def test_many_invalid_cells_are_counted_not_all_named():
    request = MatrixRequest(workload="iris", variants=("trainable",), formats=("q8.8",))
    (line,) = invalid_lines(expand(load_targets(), WORKLOADS, request))
    cores = len(load_targets())
    assert line.startswith("invalid: iris trains on the host") and line.endswith(f" and {cores - 4} more)")
    assert f"({cores} cells: " in line and line.count(" iris q8.8 trainable -Os") == 4


# ---- shell completion (argcomplete) -------------------------------------------------------------------------


def completions(line: str) -> list[str]:
    """What the shell is offered for `line` (the cursor at its end), asked as bash asks it: through argcomplete,
    which answers on file descriptor 8."""
    environment = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\n",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "COMP_TYPE": "9",
    }
    completed = subprocess.run(
        ["bash", "-c", '"$@" 8>&1 9>/dev/null', "bash", sys.executable, "-m", "qbench"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return [word.strip() for word in completed.stdout.split("\n") if word.strip()]


def test_the_shell_completes_commands_options_and_list_items():
    assert completions("qbench li") == ["list"]
    assert completions("qbench list c") == ["cores"]
    assert completions("qbench run --cores cortex-m0plus,cortex-m3") == [
        "cortex-m0plus,cortex-m3",
        "cortex-m0plus,cortex-m33",
    ]
    assert completions("qbench run --workload i") == ["iris"]
    assert completions("qbench compare a b --metric lib_flash,instr_f") == ["lib_flash,instr_forward"]


def test_the_documented_registration_names_qbench():
    register = Path(sys.executable).parent / "register-python-argcomplete"
    script = subprocess.run([str(register), "qbench"], capture_output=True, text=True, check=True).stdout
    assert "complete " in script and "qbench" in script
