"""Child processes (compilers, emulators) started in sessions of their own and
remembered, so a timeout or an interrupted run kills each one's whole group.
Each child also gets Linux's parent-death signal (util-linux's setpriv), so it
dies with qbench even when qbench itself is killed with SIGKILL."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_running: set[subprocess.Popen] = set()
_lock = threading.Lock()
_stopping = threading.Event()


@dataclass(frozen=True)
class Completed:
    returncode: int | None  # None when killed at the timeout
    stdout: str
    stderr: str
    timed_out: bool


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _dies_with_parent(command: list[str]) -> list[str]:
    """command run with SIGKILL as its parent-death signal (kept across its exec)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *command] if setpriv else command


def _start(command: list[str], cwd: Path | None, **streams) -> subprocess.Popen | None:
    """The started, remembered child; None once the run is stopping."""
    with _lock:
        if _stopping.is_set():
            return None
        process = subprocess.Popen(_dies_with_parent(command), cwd=cwd, start_new_session=True, **streams)
        _running.add(process)
        return process


def run(
    command: list[str], *, timeout: float | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Completed:
    """command's outcome; env: variables set for the child besides this process's own."""
    process = _start(
        command, cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=None if env is None else {**os.environ, **env}
    )
    if process is None:
        return Completed(None, "", "interrupted before it started", False)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill(process)
        stdout, stderr = process.communicate()
        timed_out = True
    finally:
        with _lock:
            _running.discard(process)
    return Completed(
        None if timed_out else process.returncode,
        stdout.decode(errors="replace"),
        stderr.decode(errors="replace"),
        timed_out,
    )


@dataclass(frozen=True)
class Streamed(Completed):
    ended_early: bool  # the reader had seen enough and the child was killed


def stream(command: list[str], log: Path, read: Callable[[bytes], bool], *, timeout: float) -> Streamed:
    """Runs command, which writes a log to the FIFO at log, feeding read() what arrives as it arrives; when
    read() returns True the child is killed (it has said all that is wanted). The FIFO's back-pressure keeps
    a fast child from running ahead of its reader."""
    os.mkfifo(log)
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = _start(command, None, stdout=stdout, stderr=stderr)
        if process is None:
            return Streamed(None, "", "interrupted before it started", False, False)
        deadline = time.monotonic() + timeout
        ended_early = timed_out = False
        descriptor = os.open(log, os.O_RDONLY | os.O_NONBLOCK)
        try:
            ended_early, timed_out = _follow(process, descriptor, read, deadline)
        finally:
            os.close(descriptor)
            if ended_early or timed_out:
                _kill(process)
            process.wait()
            with _lock:
                _running.discard(process)
        stdout.seek(0)
        stderr.seek(0)
        return Streamed(
            None if timed_out or ended_early else process.returncode,
            stdout.read().decode(errors="replace"),
            stderr.read().decode(errors="replace"),
            timed_out,
            ended_early,
        )


def _follow(process: subprocess.Popen, descriptor: int, read: Callable[[bytes], bool], deadline: float) -> tuple:
    """(ended early, timed out) after reading descriptor until the child closes it or exits."""
    opened = False  # a FIFO reads as empty, not as ended, until the writer has opened it
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, True
        ready, _, _ = select.select([descriptor], [], [], min(remaining, 0.1))
        chunk = os.read(descriptor, 1 << 20) if ready else b""
        if chunk:
            opened = True
            if read(chunk):
                return True, False
        elif (ready and opened) or process.poll() is not None:
            while chunk := os.read(descriptor, 1 << 20):  # what the child wrote before it exited
                if read(chunk):
                    return True, False
            return False, False


def stop() -> None:
    """An interrupted run: kills every child still running and starts no more."""
    with _lock:
        _stopping.set()
        for process in list(_running):
            _kill(process)


def stopping() -> bool:
    """Whether the run was interrupted: results produced since are not to be trusted or cached."""
    return _stopping.is_set()


class Stopped(RuntimeError):
    """Long work (host training) given up because the run was interrupted."""


def stop_point() -> None:
    """Called often by long pure-Python work, so an interrupted run ends within a second."""
    if _stopping.is_set():
        raise Stopped("the run was interrupted")
