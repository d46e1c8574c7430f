"""Child processes (compilers, emulators) started in sessions of their own and
remembered, so a timeout or an interrupted run kills each one's whole group."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
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


def run(command: list[str], *, timeout: float | None = None, cwd: Path | None = None) -> Completed:
    with _lock:
        if _stopping.is_set():
            return Completed(None, "", "interrupted before it started", False)
        process = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        _running.add(process)
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


def stop() -> None:
    """An interrupted run: kills every child still running and starts no more."""
    with _lock:
        _stopping.set()
        for process in list(_running):
            _kill(process)


def stopping() -> bool:
    """Whether the run was interrupted: results produced since are not to be trusted or cached."""
    return _stopping.is_set()
