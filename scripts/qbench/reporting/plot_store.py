"""Drawn figures kept by key, so that a figure whose data did not change is not drawn again: one file per key in
a folder of the run's cache (BUILD_DIR/cache/plots, or --cache-dir's plots/).

A key names exactly what a figure is drawn from and the code that draws it (qbench.reporting.plots.chart_key);
the store knows nothing of figures. An entry is written under a name of its own and renamed into place, so a
reader never sees half of one and two qbench processes can share the folder; it carries the digest of its PNG,
and one that cannot be read or fails its digest is missed, drawn again and replaced."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from qbench.common.entries import write_entry

ENTRY_FORMAT = b"qbench-plot/1"
FOLDER = "plots"  # in the cache folder, beside builds/ and runs/


def sealed(png: bytes) -> bytes:
    """An entry: a line naming the format and the PNG's digest, then the PNG."""
    return ENTRY_FORMAT + b" " + hashlib.sha256(png).hexdigest().encode() + b"\n" + png


def unsealed(entry: bytes) -> bytes | None:
    """The PNG an entry holds; None when it is not an entry of this format or its bytes fail the digest."""
    header, _, png = entry.partition(b"\n")
    if header != ENTRY_FORMAT + b" " + hashlib.sha256(png).hexdigest().encode():
        return None
    return png


@dataclass(frozen=True)
class PlotStore:
    """read=False (--no-cache) draws every figure afresh and replaces the stored ones."""

    directory: Path
    read: bool = True

    @classmethod
    def in_cache(cls, cache_directory: Path, read: bool = True) -> PlotStore:
        """The store of a run's cache folder (BUILD_DIR/cache or --cache-dir)."""
        return cls(cache_directory / FOLDER, read)

    def fetch(self, key: str) -> bytes | None:
        if not self.read:
            return None
        try:
            return unsealed((self.directory / key).read_bytes())
        except OSError:  # absent, or unreadable: drawn again
            return None

    def store(self, key: str, png: bytes) -> None:
        write_entry(self.directory / key, sealed(png))
