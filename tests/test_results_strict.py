"""Results files read strictly, compare's gate and merge's provenance: every damaged file, bad threshold,
unknown metric, mismatched run or incomplete set of shards is one clear error naming what and why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.orchestration.provenance import Revision, environment, matrix_digest
from qbench.records import results as results_module
from qbench.records.merge import MergeError, merge
from qbench.records.results import ResultsFileError, SymbolRow, deployed_flash_bytes, read_results, symbols_frame
from qbench.reporting.compare import METRICS, CompareError, compare, parse_threshold

TRAINING_LOG = "xor_2-4-1-tanh-sigmoid_host_q16.16_trainable_Os.csv"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run's results folder (host, q16.16, both variants, footprint only), with a training log."""
    root = tmp_path_factory.mktemp("strict")
    out = root / "out"
    arguments = [
        "run",
        "--cores",
        "host",
        "--formats",
        "q16.16",
        "--no-emulate",
        "--out",
        str(out),
        "--build-dir",
        str(root / "build"),
    ]
    assert qbench_main(arguments) == 0
    (out / "training").mkdir()
    (out / "training" / TRAINING_LOG).write_text("iteration,error,error_raw,w0,w1\n0,0.5,32768,0.25,-0.5\n")
    return out


def damaged(results: Path, where: Path, edit: Callable[[dict], object]) -> Path:
    """A copy of the results folder with results.json edited."""
    copy = where / "copy"
    shutil.copytree(results, copy)
    document = json.loads((copy / "results.json").read_text())
    edit(document)
    (copy / "results.json").write_text(json.dumps(document))
    return copy


def refusal(directory: Path) -> str:
    with pytest.raises(ResultsFileError) as refused:
        read_results(directory)
    return str(refused.value)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("lib_flash", "12", 'row 1, column lib_flash: "12" is not a 64-bit integer or null'),
        ("lib_flash", 12.5, "row 1, column lib_flash: 12.5 is not a 64-bit integer or null"),
        ("lib_flash", 2**70, f"row 1, column lib_flash: {2**70} is not a 64-bit integer or null"),
        ("status", 3, "row 1, column status: 3 is not one of qbench's statuses (ok, build-failed, …)"),
        ("status", "fine", 'row 1, column status: "fine" is not one of qbench\'s statuses (ok, build-failed, …)'),
        ("core", None, "row 1, column core: null is not a string"),
        ("learned", "maybe", 'row 1, column learned: "maybe" is not true, false or null'),
        ("git_dirty", None, "row 1, column git_dirty: null is not true or false"),
        ("final_error", "0.1", 'row 1, column final_error: "0.1" is not a number or null'),
        ("colour", "red", "row 1 has unknown columns colour"),
    ],
)
def test_every_column_is_checked(results, tmp_path, column, value, message):
    copy = damaged(results, tmp_path, lambda document: document["rows"][1].__setitem__(column, value))
    assert refusal(copy) == f"{copy / 'results.json'}: {message}"


def test_a_missing_column_is_named(results, tmp_path):
    copy = damaged(results, tmp_path, lambda document: document["rows"][0].pop("status"))
    assert refusal(copy) == f"{copy / 'results.json'}: row 0 lacks status"


def test_the_schema_version_is_checked(results, tmp_path):
    copy = damaged(results, tmp_path, lambda document: document.__setitem__("schema", "qbench-results/2"))
    assert refusal(copy) == (
        f"{copy / 'results.json'}: not a qbench results file (expected schema 'qbench-results/1', "
        'found "qbench-results/2")'
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda environment: environment.__setitem__("toolchains", 5),
            "environment key toolchains: 5 should be a valid dictionary",
        ),
        (
            lambda environment: environment["toolchains"].__setitem__("g++", 12),
            "environment key toolchains.g++: 12 should be a valid string",
        ),
        (
            lambda environment: environment.__setitem__("interrupted", "no"),
            'environment key interrupted: "no" should be a valid boolean',
        ),
        (
            lambda environment: environment.__setitem__("shard", "3/2"),
            'environment key shard: "3/2" is not a shard I/N with 1 <= I <= N',
        ),
        (lambda environment: environment.pop("python"), "environment lacks python"),
        (lambda environment: environment.__setitem__("colour", "red"), "environment has unknown keys colour"),
    ],
)
def test_the_environment_block_is_checked(results, tmp_path, edit, message):
    copy = damaged(results, tmp_path, lambda document: edit(document["environment"]))
    assert refusal(copy) == f"{copy / 'results.json'}: {message}"


def test_an_environment_of_the_wrong_type_is_named(results, tmp_path):
    copy = damaged(results, tmp_path, lambda document: document.__setitem__("environment", []))
    assert refusal(copy).startswith(f"{copy / 'results.json'}: 'environment' must be an object holding qbench, ")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (f"training/{TRAINING_LOG}", b"\xff\xfe\x00\x81binary\n", "not a readable CSV file ('utf-8' codec can't"),
        (
            f"training/{TRAINING_LOG}",
            b"iteration,error,w0\n0,0.5,1\n",
            "columns ['iteration', 'error', 'w0'] are not a training log's (iteration, error, error_raw, w0, w1, …)",
        ),
        (
            f"training/{TRAINING_LOG}",
            b"iteration,error,error_raw,w0\n0,0.5,1,0.2\n10,x,1,0.2\n",
            'line 3, column error: "x" is not a number',
        ),
        ("symbols.csv", b"\x00\x9c\xff", "not a readable CSV file"),
        (
            "symbols.csv",
            b"core,qformat,variant,opt,workload,library,network,symbol,group,category,size\n"
            b"host,,baseline,Os,empty,,,main,harness,code,big\n",
            'line 2, column size: "big" is not a 64-bit integer',
        ),
        (
            "instructions.csv",
            b"core,qformat,variant,opt,workload,library,network,region,function,instructions\n"
            b"host,q16.16,trainable,Os,xor,qnn,n,forward,f,\n",
            'line 2, column instructions: "" is not a number',
        ),
        (
            "article.csv",
            b"library,variant,text,data,bss,command,compiler\nqnn,trainable,4k,0,0,g++,g++\n",
            'line 2, column text: "4k" is not a 64-bit integer',
        ),
    ],
)
def test_csv_files_are_checked(results, tmp_path, name, content, message):
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    (copy / name).write_bytes(content)
    assert refusal(copy).startswith(f"{copy / name}: {message}")


class _Counted:
    """A row adapter that records how many rows each check is given."""

    def __init__(self, adapter, sizes: list[int]) -> None:
        self.adapter, self.sizes = adapter, sizes

    def validate_python(self, rows: list):
        self.sizes.append(len(rows))
        return self.adapter.validate_python(rows)


def test_results_json_rows_are_checked_a_few_at_a_time_with_the_whole_files_messages(results, tmp_path, monkeypatch):
    """A long sweep's rows are never all parsed, checked and typed at once: one at a time here, the same frame as one
    check of all of them; a bad row in a later chunk is named by its index in the file, and it is named before a bad
    environment, as one check of the whole document names it."""
    whole = read_results(results).rows
    sizes: list[int] = []
    monkeypatch.setattr(results_module, "JSON_ROWS_AT_ONCE", 1)
    monkeypatch.setattr(results_module, "_RESULT_ROWS", _Counted(results_module._RESULT_ROWS, sizes))
    pd.testing.assert_frame_equal(read_results(results).rows, whole)
    assert sizes == [1] * len(whole) and len(whole) == 2

    def bad_row_and_environment(document: dict) -> None:
        document["rows"][1]["lib_flash"] = "12"
        document["environment"].pop("python")

    copy = damaged(results, tmp_path, bad_row_and_environment)
    assert refusal(copy) == f'{copy / "results.json"}: row 1, column lib_flash: "12" is not a 64-bit integer or null'


def test_symbols_csv_is_checked_whole_when_read_and_then_read_a_few_rows_at_a_time(results, tmp_path, monkeypatch):
    """A long sweep's symbols.csv is never in memory whole: read_results checks every line before anything is
    reported (a bad line in a later chunk named by its own line), and the table reads the file again
    CSV_ROWS_AT_ONCE rows at a time, the same symbols as the whole file."""
    monkeypatch.setattr(results_module, "CSV_ROWS_AT_ONCE", 4)
    whole = pd.read_csv(results / "symbols.csv", keep_default_na=False, dtype={"qformat": str})
    table = read_results(results).symbols
    sizes = [len(chunk) for chunk in table.chunks()]
    assert sum(sizes) == len(whole) > 8 and max(sizes) == 4
    pd.testing.assert_frame_equal(table.frame(), symbols_frame([SymbolRow(*row) for row in whole.values.tolist()]))
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    lines = (copy / "symbols.csv").read_text().splitlines(keepends=True)
    lines[7] = lines[7].rsplit(",", 2)[0] + ",big," + lines[7].rsplit(",", 1)[1]  # line 8: the second chunk's
    (copy / "symbols.csv").write_text("".join(lines))
    assert refusal(copy) == f'{copy / "symbols.csv"}: line 8, column size: "big" is not a 64-bit integer'


def test_results_of_earlier_versions_still_read(results, tmp_path):
    def earlier(document: dict) -> None:
        for row in document["rows"]:
            del row["library"]
            del row["deployed_flash"]
            row["trace_elf"] = "build/trace.elf"
        for key in ("shard", "matrix_digest"):
            document["environment"].pop(key, None)

    copy = damaged(results, tmp_path, earlier)
    (copy / "article.csv").unlink()
    for name in ("symbols.csv", "instructions.csv"):
        frame = pd.read_csv(copy / name, keep_default_na=False, dtype=str)
        frame.drop(columns=["library", "network"]).to_csv(copy / name, index=False)
    saved = read_results(copy)
    assert set(saved.rows["library"]) == {"qnn"} and "trace_elf" not in saved.rows
    # deployed_flash, a column since issue 23, is derived on reading: lib_flash less the test split (none here)
    assert saved.rows["deployed_flash"].tolist() == saved.rows["lib_flash"].tolist()
    assert saved.rows["deployed_flash"].notna().all()
    assert saved.article.empty and saved.environment["shard"] is None
    assert list(saved.training[TRAINING_LOG]["error_raw"]) == [32768]


def test_deployed_flash_is_library_flash_less_the_test_split():
    assert deployed_flash_bytes(10698, 405) == 10293  # 10,698 - 405: an iris image less its 45 test samples
    assert deployed_flash_bytes(1768, None) == 1768  # XOR carries no test split
    assert deployed_flash_bytes(None, 405) is None  # not measured (the build or the baseline failed)


def test_a_run_writes_deployed_flash_in_both_results_files(results, tmp_path):
    document = json.loads((results / "results.json").read_text())
    csv = pd.read_csv(results / "results.csv")
    for row in document["rows"]:
        assert row["deployed_flash"] == row["lib_flash"] - (row["test_data_bytes"] or 0) and row["lib_flash"] > 0
    assert csv["deployed_flash"].tolist() == [row["deployed_flash"] for row in document["rows"]]
    # the derivation fills only what an earlier qbench left out: a written value is read as written
    copy = damaged(results, tmp_path, lambda document: document["rows"][0].__setitem__("deployed_flash", 7))
    assert read_results(copy).rows["deployed_flash"].iloc[0] == 7
    copy = damaged(results, tmp_path / "again", lambda document: document["rows"][0].__setitem__("deployed_flash", "7"))
    assert refusal(copy).endswith('row 0, column deployed_flash: "7" is not a 64-bit integer or null')


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400", "-1", "two"])
def test_thresholds_that_would_let_growth_through_are_refused(text):
    with pytest.raises(CompareError, match=f"'{text}' is not a threshold: give a finite percentage of 0 or more"):
        parse_threshold(text)


def test_compare_itself_refuses_a_non_finite_threshold(results):
    rows = read_results(results).rows
    with pytest.raises(CompareError, match="nan is not a threshold"):
        compare(rows, rows.assign(lib_flash=rows["lib_flash"] * 3), ("lib_flash",), float("nan"))


def test_an_empty_base_is_an_error(results):
    rows = read_results(results).rows
    with pytest.raises(CompareError, match="^reports/empty holds no rows: nothing to compare against$"):
        compare(rows.iloc[:0], rows, ("lib_flash",), 2.0, base_name="reports/empty")


def test_an_unknown_metric_lists_the_known_ones(results):
    rows = read_results(results).rows
    with pytest.raises(CompareError) as refused:
        compare(rows, rows, ("flash",), 2.0)
    assert str(refused.value) == f"unknown metric(s) flash: choose from {', '.join(METRICS)}"


def test_each_metric_improves_its_own_way(results):
    base = read_results(results).rows.assign(learned=True, matches_reference=True, accuracy_device=0.9)
    worse = base.assign(learned=False, matches_reference=False, accuracy_device=0.8)
    metrics = ("learned", "matches_reference", "accuracy_device")
    comparison = compare(base, worse, metrics, 2.0)
    assert comparison.regressions[:3] == [
        "qnn host q16.16 trainable Os xor: outputs no longer right",
        "qnn host q16.16 trainable Os xor: matches_reference was true, now false",
        "qnn host q16.16 trainable Os xor: accuracy_device 0.9 -> 0.8 (-11.11 %)",
    ]
    assert set(compare(worse, base, metrics, 2.0).table["verdict"]) == {"better"}
    assert compare(worse, base, metrics, 2.0).regressions == []


def test_rows_can_be_matched_on_chosen_columns(results):
    """An -Os run against an -O2 one: matched on core, format and variant, not on the -O level."""
    os_rows = read_results(results).rows
    o2_rows = os_rows.assign(opt="O2", lib_flash=os_rows["lib_flash"] * 2)
    assert len(compare(os_rows, o2_rows, ("lib_flash",), 2.0).regressions) == 2  # both rows "disappeared"
    match = ("core", "qformat", "variant")
    grown = compare(os_rows, o2_rows, ("lib_flash",), 2.0, match=match)
    assert [line.split(":")[0] for line in grown.regressions] == ["host q16.16 trainable", "host q16.16 inference"]
    assert all("(+100.00 %)" in line for line in grown.regressions)
    failing = o2_rows.assign(lib_flash=os_rows["lib_flash"], status="fault", message="HardFault")
    assert compare(os_rows, failing, ("lib_flash",), 2.0, match=match).regressions[0] == (
        "host q16.16 trainable: fault (HardFault)"
    )
    with pytest.raises(
        CompareError,
        match="^BASE has 2 rows for host q16.16 when rows are matched on core, qformat: they differ in variant$",
    ):
        compare(os_rows, o2_rows, ("lib_flash",), 2.0, match=("core", "qformat"))
    with pytest.raises(CompareError, match="cannot match rows on board: choose from library, core"):
        compare(os_rows, o2_rows, ("lib_flash",), 2.0, match=("board",))


def test_the_environment_records_the_shard_and_the_whole_matrix(results, tmp_path):
    labels = ["host xor q16.16 trainable -Os", "host xor q16.16 inference -Os"]
    assert matrix_digest(labels) == matrix_digest(labels[::-1]) != matrix_digest(labels[:1])
    recorded = environment(Revision("abc", False), {}, [], False, shard=(2, 3), matrix_digest=matrix_digest(labels))
    assert recorded["shard"] == "2/3" and recorded["matrix_digest"] == matrix_digest(labels)
    assert environment(Revision("abc", False), {}, [], False)["shard"] is None
    copy = damaged(results, tmp_path, lambda document: document.__setitem__("environment", recorded))
    assert read_results(copy).environment["shard"] == "2/3"


def shard(results: Path, where: Path, row: int, name: str, **environment: object) -> Path:
    """A results set holding one row of the tiny run, as if run as a shard (or a run) with this environment."""

    def keep(document: dict) -> None:
        document["rows"] = [document["rows"][row]]
        document["environment"] |= {"shard": None, "matrix_digest": "m1", **environment}

    (where / name).mkdir()
    return damaged(results, where / name, keep)


def test_merge_records_every_run_and_any_interruption(results, tmp_path):
    first = shard(results, tmp_path, 0, "first", shard="1/2")
    second = shard(results, tmp_path, 1, "second", shard="2/2", interrupted=True, toolchains={"g++": "g++ 13"})
    merged = merge([first, second], allow_mixed=True).environment
    assert merged["interrupted"] is True and merged["shard"] is None and merged["matrix_digest"] == "m1"
    runs = merged["merged_environments"]
    assert [(run["folder"], run["shard"], run["interrupted"]) for run in runs] == [
        (str(first), "1/2", False),
        (str(second), "2/2", True),
    ]
    assert runs[1]["toolchains"] == {"g++": "g++ 13"}
    assert merged["toolchains"]["g++"] == f"{runs[0]['toolchains']['g++']}; g++ 13"


def test_merge_refuses_an_incomplete_set_of_shards(results, tmp_path):
    first = shard(results, tmp_path, 0, "first", shard="1/2")
    unrelated = shard(results, tmp_path, 1, "unrelated", matrix_digest="m2")
    with pytest.raises(MergeError) as refused:
        merge([first, unrelated])
    assert str(refused.value) == (
        f"refusing to merge an incomplete set of shards: 2/2 is missing (merging {first} (1/2)) "
        "(pass --allow-mixed to merge anyway)"
    )
    assert len(merge([first, unrelated], allow_mixed=True).rows) == 2


def test_merge_refuses_a_shard_twice_and_shards_of_different_matrices(results, tmp_path):
    first = shard(results, tmp_path, 0, "first", shard="1/2")
    again = shard(results, tmp_path, 1, "again", shard="1/2")
    with pytest.raises(MergeError, match=f"refusing to merge shard 1/2 twice: {first} and {again} both hold it"):
        merge([first, again])
    other = shard(results, tmp_path, 1, "other", shard="2/2", matrix_digest="m2")
    with pytest.raises(
        MergeError, match=f"shards of different matrices: {first} \\(1/2\\) ran m1, {other} \\(2/2\\) ran m2"
    ):
        merge([first, other])
    whole = shard(results, tmp_path, 1, "whole", shard="2/2")
    assert merge([first, whole]).environment["matrix_digest"] == "m1"


def test_compare_into_a_closed_pipe_exits_quietly(results):
    reader, writer = os.pipe()
    os.close(reader)  # like `qbench compare … | head` once head has exited
    completed = subprocess.run(
        [sys.executable, "-m", "qbench", "compare", str(results), str(results)],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    os.close(writer)
    assert (completed.returncode, completed.stderr) == (141, "")


def test_a_training_log_is_written_as_pandas_writes_it():
    from qbench.execution.protocol import TrainingLogEntry
    from qbench.records.results import TrainingLog

    entries = (TrainingLogEntry(0, 37242, (24868, -3, 0, 65536, 1)), TrainingLogEntry(10, 1, (-65536, 7, 2, 3, 32768)))
    for bits in (8, 16):
        log = TrainingLog("xor", "qnn", "2-4-1", "cortex-m0plus", "q16.16", "trainable", "Os", bits, entries)
        assert log.csv_text() == log.frame().to_csv(index=False)
    assert TrainingLog("xor", "qnn", "", "host", "q8.8", "trainable", "Os", 8, ()).csv_text() == "\n"


@pytest.mark.parametrize(
    "content",
    [
        b"iteration,error,error_raw,w0,w1\n0,0.5,128,1e-05,-2\n10,0.25,64,0.0,3.5\n",  # qbench's own numbers
        b"iteration,error,error_raw,w0,w1\n0,0.5,128, 1e-05,-2\n10,.25,64,0,3.5\n",
    ],  # others the schema accepts
)
def test_a_training_log_reads_the_same_whichever_way_it_is_checked(tmp_path, content):
    from qbench.records import results as results_module

    path = tmp_path / "log.csv"
    path.write_bytes(content)
    frame = results_module._training_log(path)
    assert list(frame.dtypes) == ["int64", "float64", "int64", "float64", "float64"]
    assert frame.to_dict("list") == {
        "iteration": [0, 10],
        "error": [0.5, 0.25],
        "error_raw": [128, 64],
        "w0": [1e-05, 0.0],
        "w1": [-2.0, 3.5],
    }
