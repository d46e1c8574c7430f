"""The command-line errors the Robot suite used to check among the article's claims, moved to pytest: `qbench
run` typed as a user types it, in its own process, asked for nothing it can build (a bad Q format alone, an unknown
core alone), exits 2 naming the problem and writes nothing. (tests/test_footprint.py and tests/test_robustness.py
check the same names inside a request that still has cells to build, in-process.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from host_build import REPO


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["--formats", "q16.-1", "--cores", "cortex-m0plus"], "error: --formats: 'q16.-1' is not a Q format: expected"),
        (["--cores", "cortex-m9"], "error: --cores: unknown core 'cortex-m9' (known: cortex-m0, cortex-m0plus,"),
    ],
)
def test_a_bad_format_or_core_alone_is_a_clear_error_and_writes_nothing(tmp_path, arguments, problem):
    out, build = tmp_path / "out", tmp_path / "build"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "qbench",
            "run",
            "--no-emulate",
            "--out",
            str(out),
            "--build-dir",
            str(build),
            *arguments,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=120,
    )
    assert completed.returncode == 2, completed.stderr
    assert problem in completed.stderr
    assert "(nothing was run)" in completed.stderr
    assert "Traceback" not in completed.stderr
    # Nothing written: no output folder, no half-written sibling, nothing built (the advisory lock file,
    # .out.lock, lives beside the folder by design: qbench.records.outputs).
    assert sorted(path.name for path in tmp_path.iterdir()) in ([], [".out.lock"])
