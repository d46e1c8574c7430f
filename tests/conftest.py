from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host_build import REPO, Driver, compile_or_fail


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
