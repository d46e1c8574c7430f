"""Counting every occurrence of every region over a whole run (qbench.execution.trace, .figures), by hand and on
firmware whose path depends on its data."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from device_runs import run_inference
from qbench.execution.figures import region_figures
from qbench.execution.runners import MARK_WORD, BlockTrace, Watch
from qbench.execution.runners.qemu import plugin_arguments, read_block_table
from qbench.execution.timing import CycleRange, PricedVisit
from qbench.execution.trace import TraceError, count_regions
from qbench.hardware.targets import Part
from qbench.images.workloads import Workload, WorkloadSources
from qbench.models.network import NetworkShape
from qbench.reporting.analysis import model_comparison_table, part_cycles

FIRMWARE = Path(__file__).parent / "firmware"

# A run by hand: block 0 is start-up code, 1 the begin marker (it stores the region's mark), 2 the end marker,
# 3 and 4 the measured code. Instructions are 2 bytes apart.
BLOCKS = {0: (0x100, 0x102), 1: (0x200, 0x202, 0x204), 2: (0x300,), 3: (0x400, 0x402), 4: (0x500,)}
EMPTY, FORWARD = MARK_WORD + 0, MARK_WORD + 1
EVENTS = [
    0,
    1,
    EMPTY,
    2,  # the empty region: the begin marker's 3 instructions
    0,
    1,
    FORWARD,
    3,
    4,
    2,  # forward: 3 + 2 + 1 = 6
    0,
    1,
    FORWARD,
    3,
    3,
    4,
    2,  # forward: 3 + 2 + 2 + 1 = 8
    0,
]


class Functions:
    """The two markers' addresses and a name per block, as FunctionMap gives them."""

    names = {0x100: "start", 0x200: "qbench_region_begin", 0x300: "qbench_region_end", 0x400: "net", 0x500: "act"}

    def address_of(self, name: str) -> int:
        return next(address for address, known in self.names.items() if known == name)

    def name_at(self, address: int) -> str:
        return self.names[address & ~0xFF]


def trace(events: list[int], blocks=BLOCKS) -> BlockTrace:
    return BlockTrace(struct.pack(f"<{len(events)}I", *events), blocks, 0x2000_0F00)


def test_every_occurrence_is_counted_by_hand():
    run = count_regions(trace(EVENTS), Functions())
    assert run.instructions == 4 * 2 + 3 * 3 + 3 * 1 + 3 * 2 + 2 * 1
    assert run.regions["empty"].occurrences == 1
    forward = run.regions["forward"]
    assert forward.occurrences == 2 and len(forward.paths) == 2  # two different paths
    figures = region_figures(run, Functions(), None)["forward"]
    # Net of the markers (3): 6 - 3 and 8 - 3.
    assert (figures.minimum, figures.instructions, figures.maximum, figures.markers) == (3, 4, 5, 3)
    # The caller of the markers makes no instruction of its own inside the region here.
    assert figures.functions == {"net": 3.0, "act": 1.0, "start": 0.0}
    assert sum(figures.functions.values()) == figures.instructions


class PerInstruction:
    """A stand-in model: each instruction costs 1 to 3 cycles (central 2), one unpriced in block 4."""

    cores, source = ("test",), "by hand"

    def price_visits(self, code, visits):
        return [
            PricedVisit(CycleRange(1, 2, 3).scaled(len(visit.pcs)), 1, int(visit.pcs == (0x500,))) for visit in visits
        ]


def test_the_worst_occurrence_is_priced_from_its_own_path():
    figures = region_figures(count_regions(trace(EVENTS), Functions()), Functions(), (PerInstruction(), None))
    forward = figures["forward"]
    # Markers: 3 instructions, (3, 6, 9) cycles, 1 jump. Occurrences: 6 and 8 instructions, 3 and 4 visits.
    assert forward.cycles == CycleRange(4, 8, 12)  # mean of (3, 6, 9) and (5, 10, 15)
    assert forward.worst.occurrence == 1 and forward.worst.cycles == CycleRange(5, 10, 15)
    assert (forward.worst.instructions, forward.worst.nonsequential) == (5, 3)
    assert forward.unpriced == 2  # block 4 once in each occurrence


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([0, 1, FORWARD, 3, 2, 1, FORWARD, 2], "ran no empty region"),
        ([0, 1, EMPTY, 3, 1, FORWARD, 2], "do not alternate"),
        ([0, 1, EMPTY, 2, 1, 2], "2 region begins stored 1 region marks"),
        ([0, 1, MARK_WORD + 9, 2], "unknown region number 9"),
        ([MARK_WORD, 1, 2], "before any block ran"),
        ([0, 7, 1, EMPTY, 2], "does not list"),
    ],
)
def test_a_run_that_does_not_bracket_its_regions_says_how(events, message):
    with pytest.raises(TraceError, match=message):
        count_regions(trace(events), Functions())


def test_the_same_instructions_translated_twice_are_one_block():
    blocks = {**BLOCKS, 5: BLOCKS[3]}  # QEMU translated block 3 again (a flush)
    run = count_regions(trace([0, 1, EMPTY, 2, 0, 1, FORWARD, 3, 4, 2, 0, 1, FORWARD, 5, 4, 2, 0], blocks), Functions())
    assert len(run.regions["forward"].paths) == 1


def test_the_plugin_table_and_arguments():
    table, lowest = read_block_table("0 100 102\n1 200\nstack 20000f00\n")
    assert table == {0: (0x100, 0x102), 1: (0x200,)} and lowest == 0x2000_0F00
    arguments = plugin_arguments(Path("/p.so"), Path("/out"), Watch(0x200, 0x2000_0000, 3, 0x2000_1000, 0x2000_2000))
    assert arguments == [
        "-plugin",
        "/p.so,out=/out,marker=0x200,marks=0x20000000,marks_size=3,stack_low=0x20001000,stack_high=0x20002000",
    ]


def data_dependent() -> Workload:
    def configure(fmt, trainable, settings, shape):
        return WorkloadSources(FIRMWARE / "data_dependent.cpp", {})

    shape = NetworkShape(2, 1, 4, 1, "tanh", "sigmoid")
    return Workload("data_dependent", configure, shape=lambda settings, layers, width: shape)


def test_a_path_that_depends_on_the_data_gives_different_occurrences(tmp_path, monkeypatch):
    """Occurrence k runs a loop k times (k = 1..4): a + b k instructions, so min < mean < max, the mean is the
    midpoint of the two, and the worst occurrence is the last."""
    rows = run_inference(tmp_path, monkeypatch, data_dependent(), "cortex-m0plus,cortex-m4")
    for row in rows.itertuples():
        assert row.instr_forward_occurrences == 4
        assert row.instr_forward_min < row.instr_forward < row.instr_forward_max
        assert row.instr_forward == (row.instr_forward_min + row.instr_forward_max) / 2
        assert (row.instr_forward_max - row.instr_forward_min) % 3 == 0  # 3 b
        assert row.est_cycles_forward_worst_occurrence == 3 and row.instr_forward_worst == row.instr_forward_max
        assert row.est_cycles_forward_min <= row.est_cycles_forward <= row.est_cycles_forward_max
        assert row.est_cycles_forward_max < row.est_cycles_forward_worst_max
        assert row.est_cycles_forward_unpriced == 0


def test_a_parts_latency_runs_from_the_mean_at_best_to_the_worst_occurrence_at_worst():
    """2 wait states behind a prefetch buffer: the fastest hides every fetch (the mean's best case, 100), the
    slowest pays them on each of the worst occurrence's 10 non-sequential fetches (150 + 2 x 10)."""
    row = SimpleNamespace(
        est_cycles_forward_min=100.0,
        est_cycles_forward_max=130.0,
        nonseq_fetches_forward=8.0,
        instr_forward=90.0,
        est_cycles_forward_worst_max=150.0,
        nonseq_fetches_forward_worst=10.0,
        instr_forward_worst=101.0,
    )
    part = Part("P", "v", "cortex-m4", 1 << 16, 1 << 14, 48_000_000, flash_wait_states=2, prefetch=True)
    assert part_cycles(row, part, "forward") == (100.0, 170.0)
    # Without prefetch or cache, every fetch waits at worst (the worst occurrence's 101 instructions) and every
    # non-sequential one at best (the mean's 8).
    bare = Part("Q", "v", "cortex-m4", 1 << 16, 1 << 14, 48_000_000, flash_wait_states=2)
    assert part_cycles(row, bare, "forward") == (100.0 + 2 * 8, 150.0 + 2 * 101)
    # Results from before the worst occurrence was recorded: the mean's worst case.
    old = SimpleNamespace(**{**vars(row), "est_cycles_forward_worst_max": None})
    assert part_cycles(old, part, "forward") == (100.0, 130.0 + 2 * 8)


def test_two_models_of_one_core_are_set_side_by_side():
    rows = pd.DataFrame(
        [
            {
                "status": "ok",
                "qemu": "qemu 7.2",
                "library": "qnn",
                "network": "2-4-1",
                "core": "cortex-m4",
                "qformat": "q8.8",
                "variant": "inference",
                "opt": "Os",
                "est_cycles_forward": 200.0,
                "est_cycles_forward_llvm": 190.0,
                "est_cycles_train_step": None,
                "est_cycles_train_step_llvm": None,
            }
        ]
    )
    table = model_comparison_table(rows)
    assert table[["region", "TRM table", "LLVM model", "LLVM / TRM"]].values.tolist() == [
        ["forward", 200.0, 190.0, 0.95]
    ]
