"""Commands are checked whole before anything runs: a malformed value refuses the command naming the nearest
valid one, unwritable build and cache folders are found with --out, and cache entries are readable by the
group (a second user of a shared checkout reads them rather than discarding them)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from qbench.commands.cli import main as qbench_main
from qbench.common.nearest import nearest, nearest_hint
from qbench.models.qformat import parse_format, usual_format_names

SMALL = ["--cores", "cortex-m0plus", "--formats", "q16.16", "--variants", "inference", "--no-emulate"]


def refused(capsys, *arguments: str | Path) -> str:
    """stderr of a command that had to stop before it ran anything, with exit 2."""
    with pytest.raises(SystemExit) as stopped:
        qbench_main([str(argument) for argument in arguments])
    error = capsys.readouterr().err
    assert stopped.value.code == 2, error
    assert "Traceback" not in error
    return error


@pytest.mark.parametrize(
    ("given", "known", "expected"),
    [
        ("q1616", usual_format_names(), "q16.16"),
        ("Q8.8", usual_format_names(), "q8.8"),
        ("q8.8w35", usual_format_names(), "q8.8w3.5"),
        ("flaot32", usual_format_names(), "float32"),
        ("cortex-m4x", ["cortex-m0", "cortex-m4", "cortex-m4f"], "cortex-m4"),
        ("oS", ["O0", "O2", "Os", "Oz"], "Os"),  # case aside, the known spelling returned
        ("inferenc", ["trainable", "inference"], "inference"),
        ("zzz", ["trainable", "inference"], None),  # nothing alike: no suggestion
    ],
)
def test_the_nearest_valid_value(given, known, expected):
    assert nearest(given, known) == expected
    assert nearest_hint(given, known) == ("" if expected is None else f"; did you mean {expected}?")


def test_every_usual_format_name_is_a_valid_format():
    names = usual_format_names()
    assert len(names) == len(set(names)) == 2 * (7 + 15 + 31) + 15 * 7 + 1
    for name in names:
        assert parse_format(name).name == name


def test_a_typo_in_a_list_refuses_the_whole_command_before_anything_is_built(tmp_path, capsys):
    out, build = tmp_path / "out", tmp_path / "build"
    error = refused(
        capsys,
        "run",
        "--cores",
        "cortex-m0plus",
        "--formats",
        "q16.16,q1616",
        "--variants",
        "inferenc",
        "--opt",
        "Os,-O9",
        "--out",
        out,
        "--build-dir",
        build,
    )
    lines = error.strip().splitlines()
    assert lines[0] == "qbench: error: the command line has 3 bad values; nothing was run:"
    assert lines[1].startswith("  --formats: 'q1616' is not a Q format") and lines[1].endswith("did you mean q16.16?")
    assert lines[2] == (
        "  --variants: unknown variant 'inferenc' (known: trainable, inference); did you mean inference?"
    )
    assert lines[3].startswith("  --opt: unknown optimisation level '-O9' (known: O0, O1, O2, O3, Os, Oz)")
    assert not out.exists() and not build.exists()


def test_a_typo_leaves_an_earlier_results_folder_byte_identical(tmp_path, capsys):
    out, build = tmp_path / "out", tmp_path / "build"
    assert qbench_main(["run", *SMALL, "--out", str(out), "--build-dir", str(build)]) == 0
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    error = refused(capsys, "run", *SMALL, "--formats", "q16.16,q1616", "--out", out, "--build-dir", build)
    assert error.strip().endswith("did you mean q16.16? (nothing was run)")
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


@contextmanager
def unwritable(folder: Path):
    """A folder nobody, root included, can write in while the block runs: immutable for root (chattr +i),
    read-only by its mode for anyone else."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
        try:
            yield folder
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)


@pytest.mark.parametrize("option", ["--build-dir", "--cache-dir"])
def test_an_unwritable_build_or_cache_folder_is_refused_with_the_out_check(tmp_path, capsys, option):
    out = tmp_path / "out"
    assert qbench_main(["run", *SMALL, "--out", str(out), "--build-dir", str(tmp_path / "build")]) == 0
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    capsys.readouterr()
    with unwritable(tmp_path / "locked") as folder:
        error = refused(capsys, "run", *SMALL, "--out", out, "--build-dir", tmp_path / "build", option, folder)
    cause = os.strerror(errno.EPERM if os.geteuid() == 0 else errno.EACCES)  # chattr +i, or the mode
    assert error == f"qbench: error: {option} {folder}: cannot write in it: {cause}\n"
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


def test_an_unwritable_build_folder_refuses_qbench_build_too(tmp_path, capsys):
    with unwritable(tmp_path / "locked") as folder:
        error = refused(capsys, "build", *SMALL[:6], "--build-dir", folder)
    assert f"--build-dir {folder}: cannot write in it" in error


def test_cache_entries_are_readable_by_the_group(tmp_path):
    build = tmp_path / "build"
    previous = os.umask(0o022)
    try:
        assert qbench_main(["run", *SMALL, "--out", str(tmp_path / "out"), "--build-dir", str(build)]) == 0
    finally:
        os.umask(previous)
    entries = [path for path in (build / "cache").rglob("*")]
    assert any(path.parent.name == "builds" for path in entries) and any(path.parent.name == "runs" for path in entries)
    for path in entries:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & stat.S_IRGRP, f"{path} is {oct(mode)}"
        assert not path.is_dir() or mode & stat.S_IXGRP, f"{path} is {oct(mode)}"
