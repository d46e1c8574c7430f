"""What a hostile user finds: command lines fuzzed with valid, boundary and hostile values end in success or
a message with exit 1 or 2, never a traceback; runs killed with SIGKILL at points of their progress (a compile,
an emulator start, a row in the spool; never a span of time: tests/progress_points.py) leave no emulator behind
and the next run's results equal a clean run's; build failures name their cause."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from progress_points import (
    HANG_GUARD_SECONDS,
    QBENCH,
    ProgressPoint,
    ToolLog,
    compile_started,
    emulator_started,
    killed,
    rows_spooled,
    running_emulators,
    start_run,
    wait_until,
    wait_until_no_emulator,
)
from qbench.commands.cli import main as qbench_main
from qbench.common.paths import REPO
from qbench.images.build import first_error

# Values for each option: valid ones, boundaries and hostile ones.
VALUES = {
    "--cores": ["host", "cortex-m0plus", "host,host", "host,nope", "", ",", "HOST", "host;rm -rf /"],
    "--formats": ["q16.16", "q8.8", "q16.16,q16.16", "float32", "uq8.8", "q0.0", "q40.40", "q16.-1", "", "abc"],
    "--variants": ["trainable", "inference", "inference,inference", "x", ""],
    "--opt": ["Os", "-Os", "Os,-Os", "O2", "O9", ""],
    "--timeout": ["1", "0.5", "0", "-1", "inf", "nan", "1e10", "abc"],
    "--max-iterations": ["1", "100", "0", "-5", "99999999999999", "x"],
    "--log-every": ["1", "0", "x"],
    "--hidden-neurons": ["4", "4,4", "2,3", "0", "-1", "a", ""],
    "--hidden-layers": ["1", "1,1", "0", "x"],
    "--workload": ["xor", "iris", "nope", ""],
    "--shard": ["1/2", "2/2", "0/2", "3/2", "x", "1/0"],
    "--activations": ["tanh,sigmoid", "relu,linear", "tanh", "x,y", ""],
    "-j": ["1", "2", "0", "-3", "x"],
}
FLAGS = ["--no-cache"]


@st.composite
def run_command_lines(draw) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(VALUES)), unique=True, max_size=4))
    arguments = []
    for option in chosen:
        arguments += [option, draw(st.sampled_from(VALUES[option]))]
    if draw(st.booleans()):
        arguments.append(draw(st.sampled_from(FLAGS)))
    return arguments


TRIED: list[list[str]] = []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(arguments=run_command_lines())
def test_fuzzed_run_command_lines_end_in_success_or_a_message(tmp_path_factory, arguments):
    root = tmp_path_factory.getbasetemp() / "fuzz"
    root.mkdir(exist_ok=True)
    cores = [] if "--cores" in arguments else ["--cores", "host"]
    command = [
        "run",
        "--no-emulate",
        *cores,
        *arguments,
        "--out",
        str(root / "out"),
        "--build-dir",
        str(root / "build"),
    ]
    TRIED.append(command)
    try:
        status = qbench_main(command)
    except SystemExit as exit:  # argparse's own refusal
        status = exit.code
    assert status in (0, 1, 2), (command, status)


def test_the_fuzzing_tried_many_distinct_command_lines():
    distinct = len({tuple(command) for command in TRIED})
    print(f"fuzzing: {len(TRIED)} command lines tried, {distinct} distinct")
    assert distinct >= 30


def comparable(out: Path, folder: Path) -> dict:
    """The results in `out` without their dates, and with `folder` (the run's own, holding its build folder:
    rows name their ELF files and flags) in place of its path."""
    document = json.loads((out / "results.json").read_text().replace(str(folder), "<folder>"))
    for row in document["rows"]:
        row.pop("date")
    document["environment"].pop("date")
    return {"rows": document["rows"], "problems": document["environment"]["problems"]}


MATRIX = ["--cores", "cortex-m0plus,cortex-m3", "--formats", "q16.16"]
# Points of a cold run of MATRIX (6 compiles, 12 emulator starts: a run and a trace per image, 4 rows), each
# with work left after it, so the run is always still going when it is killed there.
KILL_POINTS: list[Callable[[ToolLog, Path], ProgressPoint]] = [
    lambda tools, out: compile_started(tools, 2),
    lambda tools, out: emulator_started(tools, 3),
    lambda tools, out: rows_spooled(out, 1),
    lambda tools, out: compile_started(tools, 5),  # late: here, after the first core's rows
]


def cold_run(folder: Path) -> list[str]:
    """`qbench run` arguments for MATRIX into folder/out, from a cache and build folder of its own."""
    return [
        *MATRIX,
        "--out",
        str(folder / "out"),
        "--build-dir",
        str(folder / "build"),
        "--cache-dir",
        str(folder / "cache"),
    ]


def finished_run(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QBENCH, "run", *arguments], capture_output=True, text=True, timeout=HANG_GUARD_SECONDS)


@pytest.mark.fault_injection
def test_runs_killed_at_points_of_their_progress_leave_no_emulator_and_resume_to_the_clean_results(tmp_path):
    clean = finished_run(cold_run(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    kills = []
    for attempt, kill_point in enumerate(KILL_POINTS):
        folder = tmp_path / f"attempt-{attempt}"
        tools = ToolLog(folder / "tools")
        point = kill_point(tools, folder / "out")
        if killed(start_run(cold_run(folder), point, env=tools.environment())):
            kills.append(point.what)
        wait_until_no_emulator(str(folder))
        resumed = finished_run(cold_run(folder))
        assert resumed.returncode == 0, resumed.stderr
        assert "Traceback" not in resumed.stderr
        assert comparable(folder / "out", folder) == comparable(tmp_path / "clean" / "out", tmp_path / "clean")
    print(f"fault injection: SIGKILL at {', '.join(kills)}; every rerun equal to the clean run")
    assert len(kills) == len(KILL_POINTS), kills


@pytest.mark.fault_injection
def test_an_emulator_dies_with_a_killed_qbench(tmp_path):
    """A hanging firmware's emulator outlives a SIGKILLed qbench unless it gets the parent-death signal."""
    script = tmp_path / "hang.py"
    script.write_text(
        "import sys\nfrom qbench.common import processes\n"
        "processes.run(['qemu-system-arm', '-M', 'microbit', '-nographic', '-monitor', 'none', '-serial', 'none', "
        f"'-S', '-name', '{tmp_path}'], timeout=600)\n"
    )
    process = subprocess.Popen([sys.executable, str(script)])
    wait_until(lambda: running_emulators(str(tmp_path)) != [], "the emulator to start", process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    wait_until_no_emulator(str(tmp_path))  # -S: it never exits on its own


LINK_FAILURES = {
    "undefined reference": (
        "/usr/bin/arm-none-eabi-ld: build/x.o: in function `main':\n"
        "xor.cpp:(.text.startup.main+0x12): undefined reference to `missing()'\n"
        "collect2: error: ld returned 1 exit status\n",
        "undefined symbol missing(): a library's own .c/.cpp files are compiled only when its qbench-library.toml "
        "lists them in sources (docs/libraries.md#sources)\n"
        "xor.cpp:(.text.startup.main+0x12): undefined reference to `missing()'",
    ),
    "region overflowed": (
        "/usr/bin/arm-none-eabi-ld: firmware.elf section `.bss' will not fit in region `RAM'\n"
        "/usr/bin/arm-none-eabi-ld: region `RAM' overflowed by 1024 bytes\n"
        "collect2: error: ld returned 1 exit status\n",
        "/usr/bin/arm-none-eabi-ld: firmware.elf section `.bss' will not fit in region `RAM'",
    ),
}


@pytest.mark.parametrize("case", sorted(LINK_FAILURES))
def test_a_link_failure_names_its_cause_not_collect2(case):
    output, cause = LINK_FAILURES[case]
    assert first_error(output) == cause


def test_a_real_link_failure_names_the_undefined_symbol_and_the_log(tmp_path, monkeypatch):
    from dataclasses import replace

    from qbench.images.workloads import WORKLOADS

    source = tmp_path / "undefined.cpp"
    source.write_text('extern "C" void qbench_missing_function();\nint main() { qbench_missing_function(); }\n')
    xor = WORKLOADS["xor"]

    def configure(fmt, trainable, settings, shape):
        return replace(xor.configure(fmt, trainable, settings, shape), source=source)

    monkeypatch.setitem(WORKLOADS, "undefined", replace(xor, name="undefined", configure=configure))
    out = tmp_path / "out"
    status = qbench_main(
        [
            "run",
            "--workload",
            "undefined",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q16.16",
            "--variants",
            "inference",
            "--out",
            str(out),
            "--build-dir",
            str(tmp_path / "build"),
        ]
    )
    assert status == 1
    row = json.loads((out / "results.json").read_text())["rows"][0]
    assert row["status"] == "build-failed"
    assert "undefined reference to `qbench_missing_function'" in row["message"]
    assert "collect2" not in row["message"] and "build.log" in row["message"]


def test_the_readme_installs_the_torch_extra_editable():
    readme = (REPO / "README.md").read_text()
    assert "pip install -e '.[torch]'" in readme and "pip install '.[torch]'" not in readme


def test_a_non_editable_install_is_told_to_install_editable(tmp_path):
    """A copy of the package alone (what a non-editable install leaves) cannot find targets/: one message."""
    copy = tmp_path / "site" / "qbench"
    copy.parent.mkdir()
    subprocess.run(["cp", "-r", str(REPO / "scripts" / "qbench"), str(copy)], check=True)
    completed = subprocess.run(
        [sys.executable, "-m", "qbench", "run", "--no-emulate", "--cores", "host"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(copy.parent)},
    )
    assert completed.returncode == 2
    assert "install it editable" in completed.stderr and "Traceback" not in completed.stderr
