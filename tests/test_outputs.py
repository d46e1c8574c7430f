"""Output folders written whole (qbench.records.outputs): checked before any build, locked against a second
writer, and replaced only once complete, so a failure or an interrupt keeps the previous folder."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from qbench.commands.cli import main as qbench_main
from qbench.records import outputs
from qbench.reporting import report as report_module

SMALL = ["--cores", "cortex-m0plus", "--formats", "q16.16", "--variants", "inference", "--no-emulate"]


def qbench(*arguments: str | Path) -> int:
    """The exit status, whether main returns it or argparse or an error exits with it."""
    try:
        return qbench_main([str(argument) for argument in arguments])
    except SystemExit as stopped:
        return stopped.code


def run(out: Path | str, build: Path, *extra: str) -> int:
    return qbench("run", *SMALL, "--build-dir", build, "--out", out, *extra)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def leftovers(parent: Path) -> list[str]:
    return [path.name for path in parent.iterdir() if ".qbench-" in path.name]


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    """One build directory, so the module's runs after the first come from the cache."""
    return tmp_path_factory.mktemp("outputs-build")


@pytest.fixture(scope="module")
def earlier(tmp_path_factory, build) -> Path:
    """A results folder written by a complete run."""
    out = tmp_path_factory.mktemp("earlier") / "out"
    assert run(out, build) == 0
    return out


@pytest.fixture
def previous(earlier, tmp_path) -> Path:
    """A copy of the earlier results, to be written over."""
    return Path(shutil.copytree(earlier, tmp_path / "out"))


def refused(capsys, status: int) -> str:
    """stderr of a command that had to stop with one message and exit 2."""
    error = capsys.readouterr().err
    assert status == 2, error
    assert "Traceback" not in error and len(error.strip().splitlines()) == 1, error
    return error


def test_an_out_that_is_a_file_is_refused_before_any_build(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    error = refused(capsys, run(taken, tmp_path / "build"))
    assert f"--out {taken} is a file, not a folder" in error
    assert not (tmp_path / "build").exists() and taken.read_text() == "mine"


def test_an_out_below_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("mine")
    error = refused(capsys, run(tmp_path / "taken" / "out", tmp_path / "build"))
    assert f"{tmp_path / 'taken'} is a file, so no folder can be made below it" in error
    assert not (tmp_path / "build").exists()


def test_an_empty_out_is_refused_and_nothing_lands_in_the_working_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = refused(capsys, run("", tmp_path / "build"))
    assert "--out is empty" in error
    assert list(tmp_path.iterdir()) == []


def test_a_parent_that_cannot_be_created_is_refused(tmp_path, capsys):
    error = refused(capsys, run("/proc/qbench-test/out", tmp_path / "build"))
    assert "cannot create /proc/qbench-test" in error


def test_a_parent_this_process_may_not_write_is_refused(tmp_path, capsys, monkeypatch):
    """As os.access sees it (root writes through permission bits, so the bits alone prove nothing here)."""
    closed = tmp_path / "closed"
    closed.mkdir()
    real_access = os.access

    def access(path, mode, **options):
        return False if Path(path) == closed and mode & os.W_OK else real_access(path, mode, **options)

    monkeypatch.setattr(os, "access", access)
    error = refused(capsys, run(closed / "out", tmp_path / "build"))
    assert f"cannot write in {closed}: Permission denied" in error


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the permission bits say")
def test_a_read_only_parent_is_refused(tmp_path, capsys):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o555)
    error = refused(capsys, run(closed / "out", tmp_path / "build"))
    assert f"cannot write in {closed}" in error


def test_a_folder_of_other_files_is_not_replaced(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    error = refused(capsys, run(mine, tmp_path / "build"))
    assert "holds files that are not qbench results" in error
    assert (mine / "notes.txt").read_text() == "keep me"


def test_merge_and_report_check_their_folders_first(earlier, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    assert f"--out {taken} is a file" in refused(capsys, qbench("merge", earlier, "--out", taken))
    assert f"DIR {taken} is a file" in refused(capsys, qbench("report", taken))
    assert "no such folder" in refused(capsys, qbench("report", tmp_path / "missing"))


def enospc(*arguments):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_write_failure_keeps_the_previous_results_byte_identical(previous, build, capsys, monkeypatch):
    before = snapshot(previous)
    monkeypatch.setattr(report_module, "write_report", enospc)
    status = run(previous, build)
    captured = capsys.readouterr()
    assert status == 1
    assert f"could not write {previous}: No space left on device; its previous contents are untouched" in captured.err
    assert "results in" not in captured.out and "Traceback" not in captured.err
    assert snapshot(previous) == before and leftovers(previous.parent) == []


def test_a_failed_report_command_keeps_the_previous_report(previous, capsys, monkeypatch):
    before = snapshot(previous)
    monkeypatch.setattr(report_module, "write_report", enospc)
    assert qbench("report", previous) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert snapshot(previous) == before and leftovers(previous.parent) == []


def test_the_report_command_redraws_report_and_plots_and_keeps_the_results(previous, capsys):
    results = {name: data for name, data in snapshot(previous).items() if not name.startswith("plots")}
    (previous / "report.md").unlink()
    (previous / "plots" / "stale.png").write_bytes(b"old")
    assert qbench("report", previous) == 0
    after = snapshot(previous)
    assert "plots/stale.png" not in after and after["report.md"] == results["report.md"]
    assert {name: after[name] for name in results} == results


def test_an_interrupt_while_writing_says_nothing_was_written(previous, build, capsys, monkeypatch):
    before = snapshot(previous)

    def interrupted(*arguments):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "write_report", interrupted)
    assert run(previous, build) == 130
    error = capsys.readouterr().err
    assert f"nothing was written: {previous} is as it was" in error and "rows that finished" not in error
    assert snapshot(previous) == before and leftovers(previous.parent) == []


class InterruptingRenames:
    """os for qbench.records.outputs, where every rename is preceded by a Ctrl-C."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def rename(source, target):
        signal.raise_signal(signal.SIGINT)
        os.rename(source, target)


@pytest.fixture
def ctrl_c_interrupts():
    """Ctrl-C raises KeyboardInterrupt here, as in a terminal, however the tests were started (a shell's background
    job inherits SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_during_the_swap_waits_until_the_new_folder_is_in_place(
    previous, build, capsys, monkeypatch, ctrl_c_interrupts
):
    before = snapshot(previous)
    monkeypatch.setattr(outputs, "os", InterruptingRenames())
    assert run(previous, build) == 130
    error = capsys.readouterr().err
    assert f"{previous} is written whole" in error
    after = snapshot(previous)
    assert after.keys() == before.keys() and after["results.json"] != before["results.json"]  # a new date
    assert leftovers(previous.parent) == []


def test_a_signal_held_back_during_the_swap_is_delivered_at_once_to_its_handler(ctrl_c_interrupts):
    """Delivered by calling its handler, not by raising the signal again: a raised signal's handler runs wherever
    the main thread is next, and a KeyboardInterrupt raised inside a finalizer (__del__, at a garbage collection)
    is lost; a run then ended with status 0 once in CI. Here the signal is blocked, so raising it again would
    reach no handler at all."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with pytest.raises(KeyboardInterrupt), outputs._signals_deferred():
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # Ctrl-C arrives during the swap: held back
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class Flocks:
    """fcntl for qbench.records.outputs, where a flock that would wait for the lock (no LOCK_NB) first calls
    `on_wait`: a wait becomes something a test sees happen, not a span of time it measures."""

    def __init__(self, on_wait) -> None:
        self.on_wait = on_wait

    def __getattr__(self, name):
        return getattr(fcntl, name)

    def flock(self, descriptor, operation):
        if not operation & fcntl.LOCK_NB:
            self.on_wait()
        return fcntl.flock(descriptor, operation)


def never_wait():
    raise AssertionError("qbench waited for the lock instead of refusing at once")


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    with outputs.locked(out, "qbench run --out held-by-the-test"):
        monkeypatch.setattr(outputs, "fcntl", Flocks(on_wait=never_wait))
        error = refused(capsys, run(out, tmp_path / "build"))
    assert f"{out} is being written by another qbench (pid {os.getpid()}: qbench run --out held-by-the-test)" in error
    assert "pass --wait" in error
    assert not out.exists() and not (tmp_path / "build").exists()


def test_wait_proceeds_once_the_holder_releases_the_lock(tmp_path, build, capsys, monkeypatch):
    out = tmp_path / "out"
    holder = ExitStack()
    holder.enter_context(outputs.locked(out, "qbench held-by-the-test"))
    # The holder lets go when the second writer starts to wait for it, however long that takes to come.
    monkeypatch.setattr(outputs, "fcntl", Flocks(on_wait=holder.close))
    assert run(out, build, "--wait") == 0
    assert "waiting for another qbench (pid" in capsys.readouterr().err
    assert (out / "report.md").is_file()


HOLD = """
import sys
from pathlib import Path
from qbench.records import outputs
with outputs.locked(Path({out!r}), "x"):
    print("held", flush=True)
    sys.stdin.read()  # until killed (or, should the test die first, until its end of the pipe closes)
"""


def test_a_killed_holder_releases_the_lock(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(out=str(out))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(outputs.FolderError, match="being written by another qbench"), outputs.locked(out, "y"):
        pass
    holder.kill()
    holder.communicate()  # reaped, its pipes closed
    with outputs.locked(out, "y"):
        assert outputs.lock_file(out).read_text() == f"pid {os.getpid()}: y"


def test_what_a_writer_killed_mid_swap_left_is_put_right(earlier, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(earlier, tmp_path / ".out.qbench-old")  # killed between the swap's two renames
    (tmp_path / ".out.qbench-new").mkdir()  # and its half-written successor
    with outputs.results_folder(out, "qbench test"):
        assert snapshot(out) == snapshot(earlier)
        assert leftovers(tmp_path) == []
