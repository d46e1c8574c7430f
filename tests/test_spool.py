"""The spool (qbench.orchestration.spool): what a cell's outcome gives back at the end, in matrix order: the rows
and instruction splits with one object for each distinct text, the symbols a few cells at a time."""

import json
from dataclasses import astuple, replace

import pandas as pd
import pytest

from memory_growth import bytes_kept_per_call
from qbench.common.fields import flat_dict
from qbench.orchestration import spool as spooling
from qbench.orchestration.analyse import CellOutcome
from qbench.orchestration.spool import Spool
from qbench.records import results as results_module
from qbench.records.keys import CellKey
from qbench.records.results import (
    RESULTS_SCHEMA,
    InstructionRow,
    ResultRow,
    Status,
    SymbolRow,
    SymbolTable,
    rows_frame,
    saved_results,
    symbols_frame,
    write_results,
)

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
    pd.testing.assert_frame_equal(spool.symbols([]).frame(), symbols_frame([*earlier.symbols, *later.symbols]))
    assert spool.instructions() == [*earlier.instructions, *later.instructions]
    assert spool.rows() == [earlier.row, later.row]
    assert spool.rows()[0].status is Status.OK
    spool.close()


def test_a_cell_added_again_is_read_back_once_as_it_was_added_last(tmp_path):
    """An interrupt inside the run's `finished` makes a cell finish again (pipeline.parallel): its second outcome
    replaces the first, in every table the spool gives back."""
    spool = Spool(tmp_path / "spool")
    first, again, other = outcome("q16.16", 10), outcome("q16.16", 11, 12), outcome("q8.8", 30)
    first = replace(first, row=replace(first.row, message="first"))
    spool.add(0, first)
    spool.add(1, other)
    spool.add(0, again)
    assert spool.held() == frozenset({0, 1})
    assert spool.rows() == [again.row, other.row]
    pd.testing.assert_frame_equal(spool.symbols([]).frame(), symbols_frame([*again.symbols, *other.symbols]))
    assert spool.instructions() == [*again.instructions, *other.instructions]
    spool.close()


def test_each_distinct_text_of_the_rows_and_splits_is_read_back_as_one_object(tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.add(0, outcome("q16.16", 10, 20))
    spool.add(1, outcome("q16.16", 30))
    rows, instructions = spool.rows(), spool.instructions()
    spool.close()
    assert rows[0].workload is rows[1].workload
    assert instructions[0].qformat is instructions[1].qformat


def test_the_spool_keeps_seven_numbers_a_cell_in_memory_however_long_the_sweep(tmp_path):
    """The spool's index stays in memory to the end of the run: a cell's place in the matrix and where its row,
    symbols and splits lie, 56 bytes a cell (a record and a dict entry per cell took about 450)."""
    spool = Spool(tmp_path / "spool")
    added = outcome("q16.16", 10)
    assert bytes_kept_per_call(lambda index: spool.add(index, added), 2500, 2500) < 80  # 56 and the array's room
    assert spool.held() == frozenset(range(5000))
    assert spool.rows() == [added.row] * 5000
    spool.close()


def test_a_runs_rows_make_the_same_frame_as_the_rows_read_from_a_file():
    """rows_frame takes a run's rows as tuples and a file's as dicts: the frames are equal, column for column."""
    rows = [outcome("q16.16", 10).row, replace(outcome("q8.8", 20).row, img_flash=1200, message="a message")]
    pd.testing.assert_frame_equal(rows_frame(rows), rows_frame([flat_dict(row) for row in rows]))


def test_the_symbols_are_read_back_a_few_cells_at_a_time_each_time_the_table_is_read(tmp_path, monkeypatch):
    """A long sweep's symbols are never in memory whole: the table reads the spool's file CHUNK_CELLS cells at a
    time (after the baselines' frame), in matrix order, and anew on every read."""
    monkeypatch.setattr(spooling, "CHUNK_CELLS", 2)
    spool = Spool(tmp_path / "spool")
    outcomes = [outcome(qformat, 10 + index, 20 + index) for index, qformat in enumerate(("q16.16", "q8.8", "q4.12"))]
    for index in (2, 0, 1):
        spool.add(index, outcomes[index])
    baseline = SymbolRow("cortex-m0plus", "", "baseline", "Os", "", "", "", "Reset_Handler", "start-up", "code", 8)
    spool.add_baseline("cortex-m0plus", "Os", (baseline,))
    table = spool.symbols([("cortex-m0plus", "Os")])
    chunks = list(table.chunks())
    assert [len(chunk) for chunk in chunks] == [1, 4, 2]  # the baseline, then cells 0 and 1, then cell 2
    expected = symbols_frame([baseline, *(symbol for each in outcomes for symbol in each.symbols)])
    pd.testing.assert_frame_equal(table.frame(), expected)
    pd.testing.assert_frame_equal(table.frame(), expected)
    spool.close()


def test_symbols_csv_written_a_frame_at_a_time_is_the_whole_frames_csv(tmp_path):
    """Quoted names and an empty frame among them: the same bytes as pandas writes for the whole frame."""
    names = ['<inlined into qnn::Network<float, 2>::Train(int, "a")>', "plain", "comma, inside", ""]
    symbols = [
        SymbolRow(*astuple(replace(KEY, qformat=qformat)), name, "qnn", "code", size, "qnn")
        for size, (qformat, name) in enumerate((qformat, name) for qformat in ("q16.16", "q8.8") for name in names)
    ]
    whole = symbols_frame(symbols)
    frames = [symbols_frame(symbols[:3]), symbols_frame([]), symbols_frame(symbols[3:])]
    SymbolTable(lambda: iter(frames)).write_csv(tmp_path / "chunked.csv")
    whole.to_csv(tmp_path / "whole.csv", index=False)
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    SymbolTable.of(symbols_frame([])).write_csv(tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text() == ",".join(symbols_frame([]).columns) + "\n"


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_results_json_written_a_few_rows_at_a_time_is_the_whole_documents_json(tmp_path, monkeypatch, count):
    """Rows encoded two at a time, with missing values, a unicode message and a nested environment: byte for byte what
    json.dump writes for the whole document (and no row at all, an empty list)."""
    monkeypatch.setattr(results_module, "JSON_ROWS_AT_ONCE", 2)
    rows = [
        replace(outcome(qformat, 10).row, img_flash=1200 + index, message=f"étape {index}\n", learned=index % 2 == 0)
        for index, qformat in enumerate(("q16.16", "q8.8", "q4.12", "q12.4", "q2.14")[:count])
    ]
    environment = {"qbench": "1.0", "toolchains": {"g++": "12"}, "problems": ["one", "two"], "shard": None}
    saved = saved_results(rows, [], environment)
    encoded = []
    whole_rows = results_module._json_rows
    monkeypatch.setattr(results_module, "_json_rows", lambda frame: encoded.append(len(frame)) or whole_rows(frame))
    write_results(tmp_path / "results", saved)
    assert sum(encoded) == count and all(size <= 2 for size in encoded)  # never every row's values at once
    document = {"schema": RESULTS_SCHEMA, "environment": environment, "rows": [flat_json(row) for row in rows]}
    expected = json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert (tmp_path / "results" / "results.json").read_text() == expected


def flat_json(row: ResultRow) -> dict:
    """A row as JSON holds it: the status's text, every other value as it is."""
    return {**flat_dict(row), "status": str(row.status)}
