"""scripts/bench-cluster's figures of the client's memory over a sweep, computed by hand."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import tracemalloc

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


def test_the_swept_formats_are_every_signed_q_format_up_to_32_bits_narrowest_first(bench):
    formats = bench.swept_formats()
    assert formats[:6] == ["q1.1", "q1.2", "q2.1", "q1.3", "q2.2", "q3.1"]
    assert formats[-1] == "q31.1"
    assert len(formats) == sum(width - 1 for width in range(2, 33)) == 496


def test_a_sweep_takes_as_few_hidden_widths_as_reach_its_cells(bench):
    # 1,000 cells: 3 widths (496 formats make at most 992 cells with 2), then ceil(1000 / 3) = 334 formats.
    options = bench.sweep_options(1000)
    assert options[0] == "--formats" and len(options[1].split(",")) == 334
    assert options[2:] == ["--hidden-neurons", "2,3,4"]
    # 400 cells: one width and the first 400 formats.
    assert bench.sweep_options(400)[1:] == [",".join(bench.swept_formats()[:400]), "--hidden-neurons", "2"]
    with pytest.raises(SystemExit):
        bench.sweep_options(496 * 11 + 1)  # more than every format times every hidden width


def test_the_report_line_gives_the_phase_and_its_memory_growth(bench):
    sweep = bench.Sweep(samples=[(10, 120.0)], after=[121.0, 150.4, 130.0], ended=(1.0, 2.0))
    assert bench.report_line(4.3, sweep) == (
        "results and report: 4.3 s, client memory 120 MiB when the rows were read back, peak 150 MiB (+30 MiB)"
    )
    assert bench.report_line(1.0, bench.Sweep()) == "results and report: not reached"


def test_the_client_cpu_is_split_by_kind_of_thread_per_cell(bench):
    threads = {(1, "ThreadPoolExecutor-0_0"): 1.0, (2, "ThreadPoolExecutor-0_1"): 2.0, (3, "IO loop"): 0.5}
    # The pool's two threads are one kind: 3 s over 100 cells is 30 ms a cell; the loop's 0.5 s is 5 ms.
    assert bench.threads_line(threads, 100) == (
        "client CPU by thread: ThreadPoolExecutor 30.0 ms/cell, IO loop 5.0 ms/cell"
    )


def test_the_python_allocations_are_sampled_beside_the_resident_set_only_when_traced(bench):
    sweep = bench.Sweep(finished=7)
    sweep.take()
    assert [cells for cells, _ in sweep.samples] == [7] and sweep.traced == []
    tracemalloc.start()
    try:
        sweep.take()
    finally:
        tracemalloc.stop()
    assert [cells for cells, _ in sweep.traced] == [7] and sweep.traced[0][1] > 0
    samples = [(0, 10.0), (50, 12.0), (100, 12.5)]
    assert bench.memory_line(samples, "client Python allocations") == (
        "client Python allocations over the sweep (MiB at a share of its cells): 10% 12, 25% 12, 50% 12, 75% 12, "
        "100% 12; +10.2 KiB per cell after half"
    )
