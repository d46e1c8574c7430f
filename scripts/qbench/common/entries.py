"""Entries of a store shared by processes and users (the cache's builds, runs and plots): written under a name no
one else writes to and renamed into place, so a reader never sees half of one, with the umask's modes, so the
group can read what another user stored (tempfile's private 0700/0600 would not let it)."""

from __future__ import annotations

import os
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
