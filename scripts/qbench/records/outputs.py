"""Results folders written whole.

A folder qbench writes (`run --out`, `merge --out`, `report DIR`) is checked
before any work starts, locked against a second qbench writing it, built in a
hidden sibling and renamed into place at the end. A failure or an interrupt at
any point before that leaves the previous folder exactly as it was, and a run
that was interrupted never replaces it: what finished goes to `NAME.interrupted`
beside it, which the next complete run removes.

Beside the folder NAME, in its parent, live `.NAME.lock` (the advisory lock,
holding its holder's pid and command line), and while writing `.NAME.qbench-new`
(the folder being built), `.NAME.qbench-old` (the previous folder, moved aside
for the instant of the swap) and, during a run, `.NAME.qbench-partial` (the rows
as they arrive: qbench.spool). Only the lock's holder touches the last three, so
whatever a killed qbench left of them is cleared by the next one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qbench.common.errors import OutputError, QbenchError
from qbench.common.paths import shown

# What makes an existing, non-empty folder one qbench may replace.
RESULTS_MARKER = "results.json"
# The suffix of the folder beside NAME where an interrupted run's rows go (NAME itself keeps the earlier results).
INTERRUPTED = "interrupted"


class FolderError(QbenchError):
    """An output folder that cannot be used; found before any work starts."""


class WriteError(OutputError):
    """Writing an output folder failed; the previous folder is kept."""


def checked_folder(text: str, what: str, *, existing: bool = False) -> Path:
    """The folder `text` names, once it is known that qbench can write it whole: not empty, not a file
    or below one, in a parent that exists (it is created) and can be written, and either new, empty
    or earlier results (it is replaced). `existing`: the folder must be there already."""
    if not text:
        raise FolderError(f"{what} is empty; name a folder, e.g. reports/mine")
    try:
        path = Path(text).resolve()
    except (OSError, RuntimeError) as error:
        raise FolderError(f"{what} {text}: {error}") from None
    if not path.name:
        raise FolderError(f"{what} {text}: the file-system root cannot be replaced; name a folder below it")
    if path.exists() and not path.is_dir():
        raise FolderError(f"{what} {text} is a file, not a folder")
    if existing and not path.is_dir():
        raise FolderError(f"{what} {text}: no such folder (write one with `qbench run --out {text}`)")
    if path.is_mount():
        raise FolderError(f"{what} {text} is a mount point, which cannot be replaced whole; name a folder inside it")
    _check_parent(path, text, what)
    if path.is_dir() and any(path.iterdir()) and not (path / RESULTS_MARKER).is_file():
        raise FolderError(
            f"{what} {text} holds files that are not qbench results (no {RESULTS_MARKER}), and writing it "
            "would replace them; name a new or empty folder, or an earlier results folder"
        )
    return path


def _check_parent(path: Path, text: str, what: str) -> None:
    """The folder's parent exists afterwards and this process can create and rename entries in it."""
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise FolderError(f"{what} {text}: {ancestor} is a file, so no folder can be made below it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FolderError(f"{what} {text}: cannot create {path.parent}: {error.strerror}") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        read_only = os.statvfs(path.parent).f_flag & os.ST_RDONLY
        cause = os.strerror(errno.EROFS if read_only else errno.EACCES)
        raise FolderError(f"{what} {text}: cannot write in {path.parent}: {cause}")


def writable_folder(path: Path, what: str) -> None:
    """A work folder (builds, the cache) can be written, or made where it is missing: found before any work
    starts, not by every cell failing. Nothing is left behind by the check."""
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise FolderError(f"{what} {shown(path)}: {shown(existing)} is a file, not a folder")
    try:  # a file made and gone: permissions, read-only mounts, immutable folders, even for root
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        where = "it" if existing == path else shown(existing)
        raise FolderError(f"{what} {shown(path)}: cannot write in {where}: {error.strerror}") from None


def _sibling(path: Path, role: str) -> Path:
    """A hidden entry beside the folder, belonging to this folder alone."""
    return path.parent / f".{path.name}.{role}"


def lock_file(path: Path) -> Path:
    return _sibling(path, "lock")


@contextmanager
def locked(path: Path, command: str, *, wait: bool = False) -> Iterator[None]:
    """Holds the advisory lock on writing `path` (its parent must exist). Held elsewhere: refuses at
    once naming the holder, or with `wait` waits for it. The kernel releases it if this process dies."""
    try:
        descriptor = os.open(lock_file(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise FolderError(_lock_failure(path, error)) from None
    try:
        _acquire(descriptor, path, wait)
        _name_holder(descriptor, path, command)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)  # while still held, so no one reads a holder that has gone
    finally:
        os.close(descriptor)  # releases the lock


def _lock_failure(path: Path, error: OSError) -> str:
    return f"cannot lock {shown(path)}: {error.strerror} ({lock_file(path)})"


def _name_holder(descriptor: int, path: Path, command: str) -> None:
    """The lock file says who holds it, for the message a second writer gets."""
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()}: {command}".encode(), 0)
    except OSError as error:
        raise FolderError(_lock_failure(path, error)) from None


def _acquire(descriptor: int, path: Path, wait: bool) -> None:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        holder = os.pread(descriptor, 4096, 0).decode(errors="replace").strip() or "it has not named itself yet"
    if not wait:
        raise FolderError(f"{shown(path)} is being written by another qbench ({holder}); pass --wait to wait for it")
    print(f"note: waiting for another qbench ({holder}) to finish writing {shown(path)}", file=sys.stderr)
    fcntl.flock(descriptor, fcntl.LOCK_EX)


@contextmanager
def results_folder(path: Path, command: str, *, wait: bool = False) -> Iterator[ResultsFolder]:
    """The checked folder `path`, locked for writing while the block runs."""
    with locked(path, command, wait=wait):
        _clear_leftovers(path)
        yield ResultsFolder(path)


def _clear_leftovers(path: Path) -> None:
    """What a qbench killed while writing this folder left beside it."""
    shutil.rmtree(_sibling(path, "qbench-new"), ignore_errors=True)
    shutil.rmtree(_sibling(path, "qbench-partial"), ignore_errors=True)
    aside = _sibling(path, "qbench-old")
    if aside.is_dir() and not path.exists():
        # Killed between the swap's two renames: the previous folder goes back in place.
        try:
            os.rename(aside, path)
        except OSError as error:
            raise FolderError(
                f"cannot put back {shown(path)}'s earlier results from {aside}: {error.strerror}"
            ) from None
        print(f"note: put back {shown(path)} as it was before a qbench was killed while writing it", file=sys.stderr)
    _remove_aside(aside)


def _remove_aside(aside: Path) -> None:
    try:
        shutil.rmtree(aside)
    except FileNotFoundError:
        pass
    except OSError as error:
        print(
            f"warning: could not remove the previous results moved aside to {aside}: {error.strerror}", file=sys.stderr
        )


def interrupted_folder(path: Path) -> Path:
    """Where an interrupted run into `path` writes what finished: beside it, never in its place."""
    return path.with_name(f"{path.name}.{INTERRUPTED}")


class ResultsFolder:
    """A locked output folder; `replacing` puts a new one in its place, or in place of its interrupted sibling."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.interrupted = interrupted_folder(path)  # guarded by the folder's own lock
        self.written: Path | None = None  # where a new folder was put in place

    @property
    def partial(self) -> Path:
        """Where a run streams its rows while it goes on (removed once the folder is written)."""
        return _sibling(self.path, "qbench-partial")

    @contextmanager
    def replacing(self, keep_all_but: tuple[str, ...] | None = None, into: Path | None = None) -> Iterator[Path]:
        """A hidden sibling to write the new folder into, renamed into place (the folder, or `into`) when the
        block ends without an error and removed otherwise. It starts empty, or with `keep_all_but` as a copy
        of the current folder without those top-level entries."""
        target = self.path if into is None else into
        staging = _sibling(self.path, "qbench-new")
        existed = target.exists()
        try:
            if keep_all_but is None:
                staging.mkdir()
            else:
                shutil.copytree(self.path, staging, ignore=_top_level(self.path, keep_all_but))
            yield staging
            self._swap(staging, target)
        except OSError as error:
            raise WriteError(_write_failure(target, error, existed)) from None
        finally:
            # A partial folder is never used; if removing it fails, the next writer clears it.
            shutil.rmtree(staging, ignore_errors=True)

    def _swap(self, staging: Path, target: Path) -> None:
        aside = _sibling(target, "qbench-old")
        with _signals_deferred():  # an interrupt between the two renames would leave no folder in place
            if target.exists():
                os.rename(target, aside)
                try:
                    os.rename(staging, target)
                except OSError:
                    os.rename(aside, target)
                    raise
            else:
                os.rename(staging, target)
            self.written = target
            _remove_aside(aside)

    def drop_interrupted(self) -> bool:
        """Removes what an earlier interrupted run left beside the folder, now that complete results replace it;
        whether there was any."""
        if not self.interrupted.is_dir():
            return False
        try:
            shutil.rmtree(self.interrupted)
        except OSError as error:
            print(f"warning: could not remove {shown(self.interrupted)}, superseded: {error.strerror}", file=sys.stderr)
        return True


def _top_level(folder: Path, dropped: tuple[str, ...]):
    """copytree's `ignore` leaving out these entries of the folder itself (not of its subfolders)."""
    return lambda where, names: [name for name in names if name in dropped and Path(where) == folder]


def _write_failure(path: Path, error: OSError, existed: bool) -> str:
    cause = error.strerror or str(error)
    where = f" ({error.filename})" if error.filename else ""
    kept = "its previous contents are untouched" if existed else "nothing was written"
    return f"could not write {shown(path)}: {cause}{where}; {kept}"


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM held back while the block runs, then delivered to the handlers they would
    have reached. Signal handlers belong to the main thread; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {
        number: signal.signal(number, lambda number, frame: caught.append(number))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if caught:
            _deliver(caught[0], previous[caught[0]])


def _deliver(number: int, handler: Any) -> None:
    """A held-back signal, delivered here and now by the handler it would have reached (an ignored one stays
    ignored). Raised again, it would reach that handler only when the main thread next checks for signals, and
    never while the signal is blocked."""
    if callable(handler):
        handler(number, None)
    elif handler != signal.SIG_IGN:
        signal.raise_signal(number)  # the default action: the process ends by the signal
