"""The store's file discipline: a file is replaced, never written through (another of its names may be a cache
entry's), and a second name of a file is a hard link where the file system allows one, else a copy."""

from __future__ import annotations

import errno
import os

import pytest

from qbench.common import entries
from qbench.common.entries import shared_file, written_anew


def test_a_file_written_anew_leaves_its_other_names_as_they_were(tmp_path):
    original, other_name = tmp_path / "firmware.elf", tmp_path / "entry.elf"
    original.write_bytes(b"old image")
    os.link(original, other_name)
    written_anew(original, b"new image")
    written_anew(tmp_path / "build.log", "a log")
    assert original.read_bytes() == b"new image" and other_name.read_bytes() == b"old image"
    assert (tmp_path / "build.log").read_text() == "a log"


def test_a_shared_file_is_one_file_under_two_names_and_replaces_what_was_there(tmp_path):
    source, name = tmp_path / "firmware.elf", tmp_path / "entry" / "firmware.elf"
    source.write_bytes(b"image")
    name.parent.mkdir()
    name.write_bytes(b"an older image")
    kept = tmp_path / "older.elf"
    os.link(name, kept)
    shared_file(source, name)
    assert name.stat().st_ino == source.stat().st_ino and kept.read_bytes() == b"an older image"


@pytest.mark.parametrize("why", [errno.EXDEV, errno.EPERM])
def test_where_no_link_can_be_made_the_shared_file_is_a_copy(tmp_path, monkeypatch, why):
    def refused(source, name):
        raise OSError(why, os.strerror(why))

    monkeypatch.setattr(entries.os, "link", refused)  # another file system; another user's file (protected links)
    source, name = tmp_path / "firmware.elf", tmp_path / "copy.elf"
    source.write_bytes(b"image")
    shared_file(source, name)
    assert name.read_bytes() == b"image" and name.stat().st_ino != source.stat().st_ino


def test_a_link_that_fails_for_another_reason_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        shared_file(tmp_path / "missing.elf", tmp_path / "name.elf")
