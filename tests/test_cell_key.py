"""The cell key: one declaration of a matrix cell's identity, from which every table, file and message takes its
columns; and the one slug for names in file names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from qbench.images.matrix import Variant
from qbench.orchestration import analyse
from qbench.orchestration.spool import Spool
from qbench.records import merge as merging
from qbench.records.keys import CellKey, slug
from qbench.records.results import (
    SYMBOL_COLUMNS,
    ResultRow,
    rows_frame,
    saved_results,
    training_log_name,
    write_results,
)
from qbench.reporting import analysis, compare

XOR = "2-4-1 tanh/sigmoid"
ENVIRONMENT = {
    "qbench": "0",
    "git_sha": "f" * 40,
    "git_dirty": False,
    "date": "2026-01-01T00:00:00Z",
    "python": "3",
    "host": "Linux",
    "pyelftools": "0",
    "toolchains": {"gcc": "12"},
    "problems": [],
    "interrupted": False,
}


def named(name: str, **more: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, **more)


def matrix_cell(board: str = "microbit") -> SimpleNamespace:
    """What CellKey.of reads of a qbench.images.matrix.Cell."""
    return SimpleNamespace(
        target=named("cortex-m0plus", board=board),
        fmt=named("q16.16"),
        variant=Variant.TRAINABLE,
        opt="Os",
        workload=named("xor"),
        library=named("qnn"),
        shape=named(XOR),
    )


def measured(*sizes: int) -> SimpleNamespace:
    """A measured image's symbols, as analyse.image_symbols reads them."""
    symbols = [
        SimpleNamespace(name=f"f{size}", group="qnn", category="code", size=size, prefix_group="qnn") for size in sizes
    ]
    return SimpleNamespace(symbols=symbols, image=SimpleNamespace(spec=SimpleNamespace(workload=named("empty"))))


def test_a_cells_key_is_read_from_the_cell():
    assert CellKey.of(matrix_cell()) == CellKey("cortex-m0plus", "q16.16", "trainable", "Os", "xor", "qnn", XOR)


def test_a_baseline_image_has_only_its_core_level_and_workload():
    key = CellKey.baseline("cortex-m4", "O2", "empty")
    assert key == CellKey("cortex-m4", "", "baseline", "O2", "empty", "", "")


def test_the_key_leads_symbols_and_instructions_in_the_files_order():
    assert CellKey.columns() == ("core", "qformat", "variant", "opt", "workload", "library", "network")
    assert SYMBOL_COLUMNS[:7] == CellKey.columns()


def test_orders_other_than_the_keys_are_derived_from_it():
    assert CellKey.columns(first=("library", "network"), without=("workload",)) == (
        "library",
        "network",
        "core",
        "qformat",
        "variant",
        "opt",
    )
    assert CellKey.columns(first=("workload",), without=("variant", "network")) == (
        "workload",
        "core",
        "qformat",
        "opt",
        "library",
    )
    with pytest.raises(ValueError, match="not columns of the cell key: board"):
        CellKey.columns(without=("board",))


def test_the_tables_keep_their_column_orders():
    assert analysis.KEY_COLUMNS == ["library", "network", "core", "qformat", "variant", "opt"]
    assert analysis.IMAGE_COLUMNS == ["workload", "library", "network", "core", "qformat", "variant", "opt"]
    assert analysis.HEADLINE_KEYS == ["workload", "network", "library", "core", "qformat", "opt"]
    assert compare.KEY == ("library", "core", "qformat", "variant", "opt", "workload", "network")
    assert merging.KEY == list(compare.KEY)


def test_a_key_of_a_row_and_as_columns():
    row = ResultRow(
        core="cortex-m4",
        board="b",
        qformat="q8.8",
        variant="inference",
        opt="O2",
        workload="iris",
        status="ok",
        library="emlearn",
        network="4-8-3 tanh/softmax",
    )
    key = CellKey.of_row(row)
    assert key == CellKey("cortex-m4", "q8.8", "inference", "O2", "iris", "emlearn", "4-8-3 tanh/softmax")
    assert list(key.as_dict().items())[:2] == [("core", "cortex-m4"), ("qformat", "q8.8")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("2-4-1 tanh/sigmoid", "2-4-1-tanh-sigmoid"), ("4-8-3 relu/softmax", "4-8-3-relu-softmax"), ("a b/c", "a-b-c")],
)
def test_a_slug_replaces_spaces_and_slashes(name, expected):
    assert slug(name) == expected


def test_training_logs_are_named_with_the_slug():
    assert (
        training_log_name("xor", "qnn", XOR, "cortex-m0plus", "q16.16", "trainable", "Os")
        == "xor_2-4-1-tanh-sigmoid_cortex-m0plus_q16.16_trainable_Os.csv"
    )
    assert (
        training_log_name("xor", "emlearn", XOR, "cortex-m4", "q8.8", "trainable", "O2")
        == "xor_emlearn_2-4-1-tanh-sigmoid_cortex-m4_q8.8_trainable_O2.csv"
    )


# A new dimension of the matrix: the board a core runs on (the rows already hold it). The child interpreter adds
# this one line to the key's source before anything imports it, then runs board_dimension_checks.
DIMENSION = "    board: str = _from_cell('target.board')"
CHILD = f"""
import importlib.util, re, sys
spec = importlib.util.find_spec("qbench.records.keys")
source, added = re.subn(r"^(    network: str = .*)$", r"\\1\\n{DIMENSION}", open(spec.origin).read(), flags=re.M)
assert added == 1, "the key's network field was not found"
keys = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = keys
exec(compile(source, spec.origin, "exec"), keys.__dict__)
sys.path.insert(0, {str(Path(__file__).parent)!r})
import test_cell_key
test_cell_key.board_dimension_checks(sys.argv[1])
"""


def test_a_new_dimension_touches_the_key_only(tmp_path):
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    assert child.stdout.splitlines() == ["merge, compare, analysis, spool and symbols keep the boards apart"]


def board_row(board: str, lib_flash: int) -> ResultRow:
    return ResultRow(
        core="cortex-m0plus",
        board=board,
        qformat="q16.16",
        variant="trainable",
        opt="Os",
        workload="xor",
        status="ok",
        network=XOR,
        lib_flash=lib_flash,
    )


def board_dimension_checks(folder: str) -> None:
    """Run in the child, with the board a field of the key: two cells that differ only in their board stay two
    cells everywhere."""
    assert "board" in CellKey.columns(), "run only with the board added to the key"
    assert CellKey.of(matrix_cell("microbit")).board == "microbit"
    assert [symbol.board for symbol in analyse.baseline_symbols("cortex-m0plus", "Os", measured(300))] == [""]
    rows = [board_row("microbit", 1000), board_row("feather", 1200)]
    # The spool and the symbols: each image's symbols carry its board, through the spool and symbols.csv.
    spool = Spool(Path(folder) / "spool")
    images = []
    for index, (row, board) in enumerate(zip(rows, ("microbit", "feather"), strict=True)):
        images.append(analyse.image_symbols(matrix_cell(board), measured(800 if board == "microbit" else 900)))
        spool.add(index, analyse.CellOutcome(row, images[-1]))
    spool.close()
    assert list(spool.symbols([]).frame()["board"]) == ["microbit", "feather"]
    # Merge: one results set per board, kept apart (not "the cell appears in more than one of the results sets").
    parts = []
    for row, symbols in zip(rows, images, strict=True):
        parts.append(Path(folder) / row.board)
        write_results(parts[-1], saved_results([row], symbols, ENVIRONMENT))
    merged = merging.merge(parts)
    assert list(merged.rows["board"]) == ["microbit", "feather"]
    assert list(merged.symbols.frame()["board"]) == ["microbit", "feather"]
    # Compare: each board's row pairs with its own (a key without the board would find two rows for one cell).
    grown = rows_frame([rows[0], board_row("feather", 1300)])
    result = compare.compare(rows_frame(rows), grown, ("lib_flash",), 0.0)
    assert result.regressions == ["qnn cortex-m0plus q16.16 trainable Os xor feather: lib_flash 1200 -> 1300 (+8.33 %)"]
    # Analysis: the network's bytes of each board's own image; a headline line per board.
    with_bytes = analysis.with_network_bytes(merged.rows, analysis.network_bytes(merged.symbols.frame()))
    assert list(with_bytes["library_code"]) == [800, 900]
    assert list(analysis.headline_table(merged.rows)["board"]) == ["microbit", "feather"]
    print("merge, compare, analysis, spool and symbols keep the boards apart")
