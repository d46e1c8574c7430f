"""Waiting for a qbench run to reach a point of its progress, never for a span of time, so that no verdict
depends on how fast the machine is.

A progress point is something a run has done: its Nth row in the spool, its Nth emulator start, its Nth
compile. `start_run` starts `python -m qbench run …` and returns once the run has reached a point, ready to
be interrupted there; `wait_until` waits for any condition. Both poll with short sleeps (how often to look,
never how long to wait); the only bound on a wait is a hang guard far beyond any real run, which fails loudly.

    run = start_run(["--cores", "cortex-m0plus", "--out", str(out), …], rows_spooled(out, 1))
    assert run.interrupt(signal.SIGINT) == 130, run.output()
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from qbench.orchestration.spool import ROWS
from qbench.records.outputs import ResultsFolder

QBENCH = (sys.executable, "-m", "qbench")
EMULATOR = "qemu-system-arm"
COMPILER = "arm-none-eabi-g++"
# Only a hung run or process ever reaches these bounds; no verdict depends on them.
HANG_GUARD_SECONDS = 600.0  # for a whole run (a few seconds to a minute), failing within the test budget
STEP_GUARD_SECONDS = 120.0  # for one step that takes milliseconds: a process dying of SIGKILL, a thread starting
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class ProgressPoint:
    what: str  # for the messages, e.g. "row 2 in the spool"
    reached: Callable[[], bool]


def wait_until(
    condition: Callable[[], bool],
    what: str,
    running: subprocess.Popen | None = None,
    guard: float = HANG_GUARD_SECONDS,
) -> None:
    """Returns once condition() holds. Fails if `running` (when given) exits first, or at the hang guard."""
    give_up = time.monotonic() + guard
    while not condition():
        if running is not None and running.poll() is not None and not condition():
            raise AssertionError(f"the process exited (status {running.returncode}) before {what}")
        if time.monotonic() > give_up:
            raise AssertionError(f"hang guard: still waiting for {what} after {guard:g} s")
        time.sleep(POLL_SECONDS)


# ---- where a run is: its rows, its emulator starts, its compiles ----------------------------------------------


def spool_file(out: Path) -> Path:
    """Where a run into `out` streams its rows, one JSON line per finished cell (qbench.orchestration.spool)."""
    return ResultsFolder(out).partial / ROWS


def spooled_rows(out: Path) -> int:
    """The complete rows (whole lines) in the spool of a run into `out`; 0 before it exists."""
    try:
        return spool_file(out).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def rows_spooled(out: Path, count: int) -> ProgressPoint:
    return ProgressPoint(f"row {count} in the spool", lambda: spooled_rows(out) >= count)


class ToolLog:
    """Stand-ins for qbench's emulator and cross compiler, in a folder put first on PATH: each logs its call and
    runs the real tool in its own place (exec), so every start is counted however short it is, where a look
    at the process table would miss the short ones."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for tool in (EMULATOR, COMPILER):
            real = shutil.which(tool)
            assert real is not None, f"{tool} is not on PATH; scripts/setup installs it"
            stand_in = folder / tool
            stand_in.write_text(
                f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(self._log(tool)))}\n'
                f'exec {shlex.quote(real)} "$@"\n'
            )
            stand_in.chmod(0o755)

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.folder}{os.pathsep}{os.environ['PATH']}"}

    def calls(self, tool: str) -> list[list[str]]:
        """Each logged call's arguments (one printf per call, appended whole); informative calls too."""
        try:
            text = self._log(tool).read_text()
        except FileNotFoundError:
            return []
        return [line.split() for line in text.splitlines(keepends=True) if line.endswith("\n")]

    def emulator_starts(self) -> int:
        return sum("-kernel" in arguments for arguments in self.calls(EMULATOR))  # not `--version`

    def compiles(self) -> int:
        return sum("-o" in arguments for arguments in self.calls(COMPILER))  # not `--version`

    def _log(self, tool: str) -> Path:
        return self.folder / f"{tool}.calls"


def emulator_started(tools: ToolLog, number: int) -> ProgressPoint:
    return ProgressPoint(f"emulator start {number}", lambda: tools.emulator_starts() >= number)


def compile_started(tools: ToolLog, number: int) -> ProgressPoint:
    return ProgressPoint(f"compile {number} under way", lambda: tools.compiles() >= number)


# ---- a run stopped at a point ---------------------------------------------------------------------------------


@dataclass
class StartedRun:
    process: subprocess.Popen
    log: IO[bytes]  # its stdout and stderr together

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def interrupt(self, signal_number: int) -> int:
        """Sends the signal and returns the exit status (negative: killed by a signal, as Popen says)."""
        self.process.send_signal(signal_number)
        return self.wait()

    def wait(self) -> int:
        try:
            return self.process.wait(timeout=HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"hang guard: the run did not end in {HANG_GUARD_SECONDS:g} s") from None


def ctrl_c_as_in_a_terminal() -> None:
    """In the child before it runs: SIGINT at its default, as a terminal's foreground job has it, however the tests
    were started (a shell's background job inherits SIGINT ignored, and the run would never see the Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_run(
    arguments: list[str],
    until: ProgressPoint,
    *,
    program: tuple[str, ...] | list[str] = QBENCH,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> StartedRun:
    """`PROGRAM run ARGUMENTS` started, returned once it reaches `until` and while it still runs; fails, naming
    the point and showing the run's output, if the run ends first (its work done before the point)."""
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [*program, "run", *arguments],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    run = StartedRun(process, log)
    try:
        wait_until(until.reached, until.what, process)
    except AssertionError as error:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise AssertionError(f"{error}\n--- the run's output ---\n{run.output()}") from None
    if process.poll() is not None:
        raise AssertionError(
            f"the run ended (status {process.returncode}) as it reached {until.what}, before it "
            f"could be interrupted there\n--- the run's output ---\n{run.output()}"
        )
    return run


def killed(run: StartedRun) -> bool:
    """SIGKILL to the run; whether it was still running to be killed by it."""
    return run.interrupt(signal.SIGKILL) == -signal.SIGKILL


# ---- emulators left behind ------------------------------------------------------------------------------------


def emulator_processes(marker: str) -> list[str]:
    """The emulators in the process table whose command line holds `marker` (e.g. a test's tmp_path), counting
    one still being started (setpriv about to become it)."""
    return [line for line in _processes() if EMULATOR in line and marker in line]


def running_emulators(marker: str) -> list[str]:
    """Those of emulator_processes that have become the emulator (its name is the process's own)."""
    return [line for line in emulator_processes(marker) if line.split(None, 2)[1:2] == [EMULATOR]]


def _processes() -> list[str]:
    """'PID NAME ARGS' of every process."""
    listing = subprocess.run(["ps", "-eww", "-o", "pid=,comm=,args="], capture_output=True, text=True, check=True)
    return listing.stdout.splitlines()


def wait_until_no_emulator(marker: str) -> None:
    """Returns once every emulator whose command line holds `marker` has gone. An emulator of a killed qbench
    gets the parent-death signal (SIGKILL) as qbench goes; one that survived it fails at the hang guard."""
    wait_until(lambda: not emulator_processes(marker), f"the emulators of {marker} to exit", guard=STEP_GUARD_SECONDS)
