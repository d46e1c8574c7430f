"""scripts/bench-cluster's figures of the client's memory over a sweep, computed by hand."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys

import pytest

from qbench.common.paths import REPO


@pytest.fixture(scope="module")
def bench():
    loader = importlib.machinery.SourceFileLoader("bench_cluster", str(REPO / "scripts" / "bench-cluster"))
    spec = importlib.util.spec_from_loader("bench_cluster", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_cluster"] = module  # its dataclasses look their module up there
    loader.exec_module(module)
    yield module
    del sys.modules["bench_cluster"]


def test_the_growth_per_cell_is_the_slope_over_the_second_half(bench):
    # The first half (cells < 15) is left out: from (20, 101 MiB) to (30, 102 MiB) is 1 MiB over 10 cells.
    samples = [(0, 90.0), (10, 100.0), (20, 101.0), (30, 102.0)]
    assert bench.growth_kib_per_cell(samples) == pytest.approx(1024 / 10)
    assert bench.growth_kib_per_cell([(40, 100.0), (40, 120.0)]) == 0.0  # no cell finished between the samples


def test_the_memory_line_shows_the_resident_set_at_shares_of_the_cells(bench):
    samples = [(0, 100.0), (10, 110.0), (25, 120.0), (50, 130.0), (75, 140.0), (100, 150.0)]
    assert bench.memory_line(samples) == (
        "client memory over the sweep (MiB at a share of its cells): 10% 110, 25% 120, 50% 130, 75% 140, 100% 150; "
        "+409.6 KiB per cell after half"
    )
