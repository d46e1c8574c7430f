"""Results are never replaced by less: a run interrupted (SIGINT, SIGTERM, SIGKILL) or unable to finish writing
(a full disk) leaves an earlier complete results folder byte for byte as it was; what finished goes beside it,
and the next run resumes from the cache. Every interrupt lands at a point of the run's progress (its first row
in the spool), never after a span of time."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from progress_points import HANG_GUARD_SECONDS, QBENCH, rows_spooled, start_run, wait_until_no_emulator
from qbench.records.outputs import interrupted_folder
from qbench.records.results import read_results

MATRIX = ["--cores", "cortex-m0plus,cortex-m3", "--formats", "q16.16"]  # 4 cells, emulated
ORDERLY = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def qbench_run(*arguments: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*QBENCH, "run", *map(str, arguments)], capture_output=True, text=True, timeout=HANG_GUARD_SECONDS
    )


@pytest.fixture(scope="module")
def complete(tmp_path_factory) -> tuple[Path, Path]:
    """A complete results folder (4 of 4 rows ok) and the build folder whose cache holds its work."""
    root = tmp_path_factory.mktemp("complete")
    out, build = root / "out", root / "build"
    done = qbench_run(*MATRIX, "--out", out, "--build-dir", build)
    assert done.returncode == 0, done.stderr
    assert set(read_results(out).rows["status"]) == {"ok"}
    return out, build


@pytest.fixture
def earlier(complete, tmp_path) -> Path:
    """A copy of the complete results, for a run to be interrupted over."""
    return Path(shutil.copytree(complete[0], tmp_path / "out"))


@pytest.mark.fault_injection
@pytest.mark.parametrize(("signal_number", "status"), ORDERLY, ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_keeps_the_complete_results_and_writes_what_finished_beside_them(
    complete, earlier, signal_number, status
):
    before = snapshot(earlier)
    build = complete[1]
    run = start_run([*MATRIX, "--no-cache", "--out", str(earlier), "--build-dir", str(build)], rows_spooled(earlier, 1))
    assert run.interrupt(signal_number) == status, run.output()
    output, beside = run.output(), interrupted_folder(earlier)
    assert snapshot(earlier) == before
    assert "Traceback" not in output
    assert (
        f"{earlier} is as it was; the rows that finished are in {beside}, the rest marked incomplete; "
        "the next run resumes from the cache"
    ) in output
    partial = read_results(beside)
    assert partial.environment["interrupted"] is True
    assert {"ok", "incomplete"} <= set(partial.rows["status"])
    resumed = qbench_run(*MATRIX, "--out", earlier, "--build-dir", build)
    assert resumed.returncode == 0, resumed.stderr
    assert "from the cache" in resumed.stdout and f"removed {beside}" in resumed.stderr
    assert not beside.exists() and set(read_results(earlier).rows["status"]) == {"ok"}


@pytest.mark.fault_injection
def test_a_killed_run_keeps_the_complete_results_and_the_next_run_clears_what_it_left(complete, earlier, tmp_path):
    before = snapshot(earlier)
    build = complete[1]
    run = start_run([*MATRIX, "--no-cache", "--out", str(earlier), "--build-dir", str(build)], rows_spooled(earlier, 1))
    assert run.interrupt(signal.SIGKILL) == -signal.SIGKILL
    wait_until_no_emulator(str(build))
    assert snapshot(earlier) == before and not interrupted_folder(earlier).exists()
    resumed = qbench_run(*MATRIX, "--out", earlier, "--build-dir", build)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [".out.lock", "out"]


# Run inside a mount namespace of its own (unshare), so that the small file system it fills is seen by nothing
# else and goes when the script ends. Prints what the test checks, as JSON.
FULL_DISK = """
import hashlib, json, os, shutil, subprocess, sys
from pathlib import Path

mount, earlier, build = map(Path, sys.argv[1:4])
room = int(sys.argv[4]) * 1024
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
out = Path(shutil.copytree(earlier, mount / "out"))
before = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
chunk = b"x" * 4096
with open(mount / "filler", "wb", buffering=0) as filler:  # the disk filled up...
    try:
        while True:
            filler.write(chunk)
    except OSError:
        pass
    filler.truncate(filler.seek(0, os.SEEK_END) - room)  # ...but for this much room
done = subprocess.run([sys.executable, "-m", "qbench", "run", *sys.argv[5:], "--out", str(out), "--build-dir",
                       str(build)], capture_output=True, text=True)
after = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
print(json.dumps({"status": done.returncode, "stderr": done.stderr, "same": before == after,
                  "entries": sorted(os.listdir(mount))}))
"""


# The room left on the disk: enough to lock the folder but not to stream the rows (the training logs stop it),
# or enough to stream them but not to write the results and report.
NO_ROOM_TO_STREAM = (
    64,
    "could not stream the finished rows to {mount}/.out.qbench-partial: No space left on device; "
    "the results folder beside it is untouched, and the next run resumes from the cache",
)
NO_ROOM_TO_WRITE = (320, "could not write {mount}/out: No space left on device")


@pytest.mark.fault_injection
@pytest.mark.parametrize(("room_kib", "message"), [NO_ROOM_TO_STREAM, NO_ROOM_TO_WRITE], ids=["stream", "write"])
def test_a_run_that_cannot_finish_writing_on_a_full_disk_keeps_the_complete_results(
    complete, tmp_path, room_kib, message
):
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux's unshare for a private file system to fill")
    script, mount = tmp_path / "full_disk.py", tmp_path / "disk"
    script.write_text(FULL_DISK)
    mount.mkdir()
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--map-root-user",
            "--propagation",
            "private",
            sys.executable,
            str(script),
            str(mount),
            str(complete[0]),
            str(complete[1]),
            str(room_kib),
            "--no-cache",
            *MATRIX,
        ],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["status"] == 1, seen["stderr"]
    assert seen["same"] and seen["entries"] == [".out.lock", "filler", "out"], seen
    assert message.format(mount=mount) in seen["stderr"] and "Traceback" not in seen["stderr"], seen["stderr"]
