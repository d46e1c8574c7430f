"""Entries of a store shared by processes and users (the cache's builds, runs and plots): written under a name no
one else writes to and renamed into place, so a reader never sees half of one, with the umask's modes, so the
group can read what another user stored (tempfile's private 0700/0600 would not let it).

A build's image and log are one file under two names, the build folder's and the cache entry's (a hard link: no
bytes written twice). So neither name is ever written through: a file is replaced by a new one (written_anew),
and the entry's digest tells a fetch if something else changed it."""

from __future__ import annotations

import errno
import os
import shutil
import threading
import uuid
from pathlib import Path

SHARED_FOLDER = 0o775
SHARED_FILE = 0o664


def staging_name(key: str) -> str:
    """A hidden name in the entry's folder that no other thread or process writes to."""
    return f".{key}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex}"


def write_entry(path: Path, data: bytes) -> None:
    """`data` at `path`, appearing whole; its folder made when missing. Nothing is left behind on a failure (a full
    disk, an interrupt)."""
    path.parent.mkdir(mode=SHARED_FOLDER, parents=True, exist_ok=True)
    staging = path.with_name(staging_name(path.name))
    try:
        with os.fdopen(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SHARED_FILE), "wb") as stream:
            stream.write(data)
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def written_anew(path: Path, data: bytes | str) -> None:
    """`data` in a new file at `path`: a file there before is unlinked, not written through (another of its names
    may be a cache entry's)."""
    path.unlink(missing_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)


def shared_file(source: Path, name: Path) -> None:
    """`name` becomes another name of `source`'s file (a hard link), or a copy of it where no link can be made:
    another file system, or another user's file where the kernel protects hard links. A file at `name` before is
    unlinked, not written through."""
    name.unlink(missing_ok=True)
    try:
        os.link(source, name)
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP):
            raise
        shutil.copyfile(source, name)
