from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from host_build import REPO, Driver, compile_or_fail
from library_copies import renamed_qnn
from qbench.commands.cli import main as qbench_main


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    executable = tmp_path_factory.mktemp("driver") / "qnn_driver"
    compile_or_fail([REPO / "tests" / "host" / "qnn_driver.cpp"], executable, flags=("-O1",))
    running = Driver(executable)
    yield running
    running.close()


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    return tmp_path


@dataclass(frozen=True)
class FootprintRunOutput:
    out: Path
    build: Path
    exit_status: int


@pytest.fixture(scope="session")
def default_matrix_run(tmp_path_factory: pytest.TempPathFactory) -> FootprintRunOutput:
    """The README's default matrix (every core, q16.16 and q8.8, both variants, -Os),
    built and measured once for the whole test session."""
    root = tmp_path_factory.mktemp("default-matrix")
    out, build = root / "out", root / "build"
    status = qbench_main(["run", "--no-emulate", "--out", str(out), "--build-dir", str(build)])
    return FootprintRunOutput(out, build, status)


# No verdict may depend on the machine's speed: no deadline per example, no health check that times the
# drawing of examples (a test's own settings that name health checks name too_slow again: host_build).
settings.register_profile("qbench", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# CI runs a fixed set of examples, so a pass or failure there is reproducible;
# local runs draw new examples each time.
settings.register_profile("ci", settings.get_profile("qbench"), derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "qbench")


@pytest.fixture(scope="session")
def emulated_run(tmp_path_factory: pytest.TempPathFactory):
    """The issue's command: cortex-m0plus and cortex-m4, Q16.16 and Q8.8, both variants, emulated."""
    root = tmp_path_factory.mktemp("emulated")
    arguments = [
        "run",
        "--cores",
        "cortex-m0plus,cortex-m4",
        "--formats",
        "q16.16,q8.8",
        "--out",
        str(root / "out"),
        "--build-dir",
        str(root / "build"),
    ]
    return qbench_main(arguments), root, arguments


@pytest.fixture(scope="session")
def side_by_side(tmp_path_factory: pytest.TempPathFactory):
    """qnn and a renamed copy of it (library `other`) on cortex-m0plus, Q16.16, emulated, run once:
    (exit status, results folder, the copy's folder)."""
    root = tmp_path_factory.mktemp("side-by-side")
    other = renamed_qnn(root / "other", "othernn")
    status = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q16.16",
            "--library",
            f"other={other}",
            "--out",
            str(root / "out"),
            "--build-dir",
            str(root / "build"),
        ]
    )
    return status, root / "out", other
