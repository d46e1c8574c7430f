"""The spool (qbench.orchestration.spool): what a cell's outcome gives back at the end, in matrix order, with
one object for each distinct text (a long sweep's symbols are millions of rows)."""

from dataclasses import astuple, replace

import pandas as pd

from qbench.common.fields import flat_dict
from qbench.orchestration.analyse import CellOutcome
from qbench.orchestration.spool import Spool
from qbench.records.keys import CellKey
from qbench.records.results import InstructionRow, ResultRow, Status, SymbolRow, rows_frame

KEY = CellKey("cortex-m0plus", "q16.16", "trainable", "Os", "xor", "qnn", "2-4-1")


def outcome(qformat: str, *sizes: int) -> CellOutcome:
    key = replace(KEY, qformat=qformat)
    row = ResultRow(key.core, "", qformat, key.variant, key.opt, key.workload, Status.OK)
    symbols = tuple(SymbolRow(*astuple(key), f"f{size}", "qnn", "code", size, "qnn") for size in sizes)
    instructions = (InstructionRow(*astuple(key), "forward", "qnn_forward", 12.5),)
    return CellOutcome(row, symbols, instructions)


def test_outcomes_come_back_in_matrix_order_equal_to_what_was_added(tmp_path):
    spool = Spool(tmp_path / "spool")
    later, earlier = outcome("q8.8", 30), outcome("q16.16", 10, 20)
    spool.add(1, later)
    spool.add(0, earlier)
    assert spool.symbols([]) == [*earlier.symbols, *later.symbols]
    assert spool.instructions() == [*earlier.instructions, *later.instructions]
    assert spool.rows() == [earlier.row, later.row]
    assert spool.rows()[0].status is Status.OK
    spool.close()


def test_each_distinct_text_is_read_back_as_one_object(tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.add(0, outcome("q16.16", 10, 20))
    spool.add(1, outcome("q16.16", 30))
    symbols, rows = spool.symbols([]), spool.rows()
    spool.close()
    assert len({id(symbol.core) for symbol in symbols}) == 1
    assert len({id(symbol.qformat) for symbol in symbols}) == 1
    assert rows[0].workload is rows[1].workload


def test_a_runs_rows_make_the_same_frame_as_the_rows_read_from_a_file():
    """rows_frame takes a run's rows as tuples and a file's as dicts: the frames are equal, column for column."""
    rows = [outcome("q16.16", 10).row, replace(outcome("q8.8", 20).row, img_flash=1200, message="a message")]
    pd.testing.assert_frame_equal(rows_frame(rows), rows_frame([flat_dict(row) for row in rows]))
