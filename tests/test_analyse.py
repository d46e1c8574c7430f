"""The analyse stage's typed rows: a region's figures as a row holds them, and the row's region columns filled
by name from REGION_COLUMNS (figures chosen by hand)."""

from dataclasses import fields

import pytest

from qbench.execution.figures import RegionFigures, Worst
from qbench.execution.timing import CycleRange
from qbench.hardware.targets import load_targets
from qbench.images.matrix import Cell, Variant
from qbench.images.workloads import WORKLOADS
from qbench.models.network import NetworkShape
from qbench.models.qformat import parse_qformat
from qbench.orchestration.analyse import cell_row, incomplete, region_row
from qbench.records.results import (
    REGION_COLUMNS,
    ROW_COLUMNS,
    Provenance,
    RegionColumns,
    RegionRow,
    ResultRow,
    Status,
    read_results,
    saved_results,
    write_results,
)

PRICED = RegionFigures(
    name="forward",
    occurrences=4,
    instructions=250.5,
    minimum=240.0,
    maximum=262.0,
    markers=9.0,
    functions={},
    cycles=CycleRange(300.0, 480.0, 600.0),
    worst=Worst(2, CycleRange(320.0, 500.0, 720.0), 262, 31),
    nonsequential=28.25,
    unpriced=3,
)


def _row() -> ResultRow:
    return ResultRow("cortex-m0plus", "microbit", "q8.8", "inference", "Os", "xor", Status.OK)


def test_a_priced_region_at_48_mhz():
    region = region_row(PRICED, 48e6, CycleRange(400.0, 450.0, 500.0))
    assert (region.name, region.instructions, region.minimum, region.maximum) == ("forward", 250.5, 240.0, 262.0)
    assert (region.occurrences, region.markers) == (4, 9.0)
    assert (region.cycles_min, region.cycles, region.cycles_max) == (300.0, 480.0, 600.0)
    assert (region.worst_min, region.worst_central, region.worst_max, region.worst_occurrence) == (320, 500, 720, 2)
    assert (region.worst_instructions, region.worst_nonsequential) == (262, 31)
    assert region.us == pytest.approx(10.0)  # 480 cycles / 48 MHz
    assert region.us_worst == pytest.approx(15.0)  # 720 cycles / 48 MHz
    assert (region.unpriced, region.nonsequential, region.llvm) == (3, 28.25, 450.0)


def test_an_unpriced_region_has_instructions_only():
    counted = RegionFigures("train_step", 2, 100.0, 90.0, 110.0, 9.0, {})
    region = region_row(counted, 16e6)
    assert (region.instructions, region.minimum, region.maximum, region.occurrences) == (100.0, 90.0, 110.0, 2)
    others = [
        f.name
        for f in fields(RegionRow)
        if f.name not in ("name", "instructions", "minimum", "maximum", "occurrences", "markers")
    ]
    assert all(getattr(region, name) is None for name in others)


def test_every_region_figure_has_a_column_of_its_own():
    assert [f.name for f in fields(RegionColumns)] == [f.name for f in fields(RegionRow) if f.name != "name"]
    for names in REGION_COLUMNS.values():
        assert set(vars(names).values()) <= set(ROW_COLUMNS)
    shared = {"instr_markers"}
    forward, train_step = (set(vars(names).values()) for names in REGION_COLUMNS.values())
    assert forward & train_step == shared
    region_like = {c for c in ROW_COLUMNS if c.startswith(("instr_", "est_cycles_", "est_us_", "nonseq_fetches_"))}
    assert forward | train_step == region_like


def test_a_region_fills_its_own_columns_by_name():
    row = _row().with_regions([region_row(PRICED, 48e6)])
    assert (row.instr_forward, row.instr_forward_min, row.instr_forward_max) == (250.5, 240.0, 262.0)
    assert (row.instr_forward_occurrences, row.instr_markers) == (4, 9.0)
    assert (row.est_cycles_forward_worst_max, row.est_cycles_forward_worst_occurrence) == (720.0, 2)
    assert (row.instr_forward_worst, row.nonseq_fetches_forward_worst, row.nonseq_fetches_forward) == (262, 31, 28.25)
    assert row.est_us_forward == pytest.approx(10.0) and row.est_cycles_forward_unpriced == 3
    assert row.est_cycles_forward_llvm is None and row.instr_train_step is None


def test_a_row_holds_its_status_as_the_enum_whatever_it_was_given():
    assert ResultRow("c", "b", "q", "v", "o", "w", "build-failed").status is Status.BUILD_FAILED
    with pytest.raises(ValueError):
        ResultRow("c", "b", "q", "v", "o", "w", "no-such-status")
    stopped = incomplete(_row(), "build")
    assert stopped.status is Status.INCOMPLETE
    assert stopped.message == "the run was interrupted before this cell's build"


def test_the_status_is_written_as_text_and_read_back_as_the_enum(tmp_path):
    environment = {
        "qbench": "0",
        "git_sha": "f" * 40,
        "git_dirty": False,
        "date": "2026-01-01T00:00:00Z",
        "python": "3",
        "host": "Linux",
        "pyelftools": "0",
        "toolchains": {},
        "problems": [],
        "interrupted": False,
    }
    rows = [_row(), incomplete(_row(), "build")]
    write_results(tmp_path, saved_results(rows, [], environment))
    assert (tmp_path / "results.csv").read_text().splitlines()[2].split(",")[6] == "incomplete"
    assert '"status": "ok"' in (tmp_path / "results.json").read_text()
    assert list(read_results(tmp_path).rows["status"]) == [Status.OK, Status.INCOMPLETE]
    assert all(type(status) is Status for status in read_results(tmp_path).rows["status"])


def test_a_cell_row_carries_the_runs_provenance():
    xor = NetworkShape(2, 1, 4, 1)
    cell = Cell(load_targets()["cortex-m4"], WORKLOADS["xor"], parse_qformat("q8.8"), Variant.INFERENCE, "O2", xor)
    row = cell_row(cell, Status.INVALID, "why", Provenance("a" * 40, True))
    assert (row.core, row.qformat, row.variant, row.opt, row.workload) == (
        "cortex-m4",
        "q8.8",
        "inference",
        "O2",
        "xor",
    )
    assert (row.status, row.message, row.git_sha, row.git_dirty) == (Status.INVALID, "why", "a" * 40, True)
