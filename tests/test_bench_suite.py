"""scripts/bench-suite on a tiny matrix: the start-up, a cold, a warm and a sweep run measured in one invocation,
printed with the machine and the revision; the warm run really comes from the cache, and what it takes beyond the
start-up is printed; a failing run is reported."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from host_build import REPO

SCRIPT = REPO / "scripts" / "bench-suite"
QBENCH = shlex.join([sys.executable, "-m", "qbench"])
TINY = "--cores cortex-m0plus --formats q8.8 --variants inference"
SWEEP = "--cores cortex-m0plus --formats q8.8 --variants inference --hidden-neurons 2,4 --no-emulate"
ROW = re.compile(
    r"^\| (?P<run>cold|warm|sweep) \| `(?P<command>[^`]*)` \| (?P<exit>\d+) \| (?P<cells>\d+) \| "
    r"(?P<ok>\d+) \| (?P<cached>\d+) \| (?P<wall>[\d.]+) \| (?P<cpu>[\d.]+) \| (?P<wall_cell>[\d.]+|-) \| "
    r"(?P<cpu_cell>[\d.]+|-) \|$",
    re.MULTILINE,
)
START_UP = re.compile(
    r"^\| start-up \| `qbench --version` \| (?P<exit>\d+) \| - \| - \| - \| (?P<wall>[\d.]+) \| "
    r"(?P<cpu>[\d.]+) \| - \| - \|$",
    re.MULTILINE,
)
BEYOND = re.compile(
    r"^warm minus start-up: (?P<wall>-?[\d.]+) s wall, (?P<cpu>-?[\d.]+) s CPU "
    r"\(goal: at most 1 s wall: (?:met|not met)\)$",
    re.MULTILINE,
)


def bench(tmp_path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--qbench",
            QBENCH,
            "--python",
            sys.executable,
            "--work",
            str(tmp_path / "work"),
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, str]]]:
    done = bench(tmp_path_factory.mktemp("bench"), "--matrix", TINY, "--sweep", SWEEP, "--repeat", "2")
    return done, {match["run"]: match.groupdict() for match in ROW.finditer(done.stdout)}


def test_it_measures_cold_warm_and_a_sweep_in_one_invocation(tiny):
    done, rows = tiny
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(rows) == ["cold", "warm", "sweep"]
    assert rows["cold"]["command"] == rows["warm"]["command"] == f"qbench run {TINY}"
    assert rows["sweep"]["command"] == f"qbench run {SWEEP}"
    assert [(rows[run]["exit"], rows[run]["cells"], rows[run]["ok"]) for run in rows] == [
        ("0", "1", "1"),
        ("0", "1", "1"),
        ("0", "2", "2"),
    ]
    # Cold starts from nothing; warm finds every build and emulator run in the cache the cold run filled.
    assert rows["cold"]["cached"] == "0" and int(rows["warm"]["cached"]) >= 3 and rows["sweep"]["cached"] == "0"


def test_per_cell_figures_and_the_ratio_follow_from_the_measured_times(tiny):
    done, rows = tiny
    for row in rows.values():
        cells = int(row["cells"])
        assert float(row["wall"]) > 0 and float(row["cpu"]) > 0
        assert float(row["wall_cell"]) == pytest.approx(float(row["wall"]) / cells, abs=0.06)
        assert float(row["cpu_cell"]) == pytest.approx(float(row["cpu"]) / cells, abs=0.06)
    ratio = re.search(
        r"^warm/cold: wall (?P<wall>[\d.]+) \([\d.]+x faster\), CPU (?P<cpu>[\d.]+) \([\d.]+x less\)$",
        done.stdout,
        re.MULTILINE,
    )
    assert ratio is not None, done.stdout
    cold, warm = rows["cold"], rows["warm"]
    assert ratio_of_rounded(float(ratio["wall"]), float(warm["wall"]), float(cold["wall"]))
    assert ratio_of_rounded(float(ratio["cpu"]), float(warm["cpu"]), float(cold["cpu"]))


def ratio_of_rounded(ratio: float, numerator: float, denominator: float) -> bool:
    """Whether `ratio` (printed to 2 decimals) can be that of two times printed to 1 decimal (each to within
    0.05 s): a fixed tolerance would fail when the runs are short, i.e. on a fast machine."""
    low = (numerator - 0.05) / (denominator + 0.05)
    high = (numerator + 0.05) / (denominator - 0.05) if denominator > 0.05 else float("inf")
    return low - 0.005 <= ratio <= high + 0.005


def test_the_start_up_is_measured_beside_the_runs_and_taken_from_the_warm_run(tiny):
    done, rows = tiny
    started, beyond = START_UP.search(done.stdout), BEYOND.search(done.stdout)
    assert started is not None and beyond is not None, done.stdout
    assert started["exit"] == "0" and float(started["wall"]) > 0 and float(started["cpu"]) > 0
    # Printed to 1 decimal (the warm run) and 2 (the start-up): the difference to within their rounding.
    assert float(beyond["wall"]) == pytest.approx(float(rows["warm"]["wall"]) - float(started["wall"]), abs=0.065)
    assert float(beyond["cpu"]) == pytest.approx(float(rows["warm"]["cpu"]) - float(started["cpu"]), abs=0.065)
    assert "start-up and warm: the median of 2 runs by wall time" in done.stdout


COUNTING = re.compile(
    r"^counting: (?P<images>\d+) images, plain runs (?P<plain>[\d.]+) s, counted runs "
    r"(?P<counted>[\d.]+) s \((?P<ratio>[\d.]+)x\); the most, [\d.]+x \([\d.]+ s against "
    r"[\d.]+ s, cortex-m0plus\); goal, every image at most 3x its plain run or 0.3 s more: "
    r"(?:met|not met)$",
    re.MULTILINE,
)


def test_the_counted_runs_cost_is_printed_against_the_plain_runs(tiny):
    """The tiny matrix emulates one image: its counted run against its plain run (whatever the machine's speed:
    the verdict is printed, not asserted)."""
    done, _ = tiny
    counting = COUNTING.search(done.stdout)
    assert counting is not None, done.stdout
    assert counting["images"] == "1" and float(counting["plain"]) > 0 and float(counting["counted"]) > 0
    plain, counted = float(counting["plain"]), float(counting["counted"])  # each printed to 3 decimals
    assert (counted - 0.0005) / (plain + 0.0005) - 0.005 <= float(counting["ratio"])
    assert float(counting["ratio"]) <= (counted + 0.0005) / (plain - 0.0005) + 0.005


def test_it_names_the_machine_and_the_revision(tiny):
    done, _ = tiny
    lines = done.stdout.splitlines()
    assert lines[0] == "qbench bench-suite"
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    assert lines[1].startswith(f"revision: {sha or 'unknown'}")
    assert re.fullmatch(rf"machine: .+, \d+ of {os.cpu_count()} CPUs available, \d+ GiB RAM, .+, Python .+", lines[2])
    assert re.fullmatch(
        r"load: load average [\d.]+ [\d.]+ [\d.]+ before the runs, load average [\d.]+ [\d.]+ [\d.]+ "
        r"after",
        lines[3],
    )
    assert lines[4].startswith("tools: arm-none-eabi-gcc") and "QEMU" in lines[4]
    assert lines[5] == f"jobs: {os.cpu_count()} (qbench's default: the CPUs here)"


def test_a_failing_run_is_reported_with_its_exit_status_and_logs(tmp_path):
    done = bench(tmp_path, "--matrix", "--cores cortex-m99", "--sweep", "--cores cortex-m99")
    assert done.returncode == 1
    rows = {match["run"]: match for match in ROW.finditer(done.stdout)}
    assert {run: rows[run]["exit"] for run in rows} == {"cold": "2", "warm": "2", "sweep": "2"}
    assert "unknown core 'cortex-m99'" in done.stderr and (tmp_path / "work" / "cold.log").is_file()
    assert "warm minus start-up: - (a run failed)" in done.stdout


def test_options_that_would_move_its_folders_are_refused(tmp_path):
    done = bench(tmp_path, "--matrix", "--cores host --out elsewhere")
    assert done.returncode == 2 and "bench-suite sets --out and the build folders" in done.stderr
