"""qbench run --library NAME=PATH: another library with qnn's API, built and run beside qnn.

A copy of qnn renamed to another namespace stands in for the other library; it must
give exactly qnn's figures, in rows of its own, in every table of the report.
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from library_copies import renamed_qnn
from qbench.cli import main as qbench_main
from qbench.compare import compare
from qbench.libraries import QNN, LibraryError, parse_library
from qbench.qformat import parse_qformat
from qbench.results import read_results
from qbench.workloads import QNN_INCLUDE

COMPARED = ["lib_code", "lib_rodata", "lib_data", "lib_bss", "lib_flash", "lib_ram_static", "stack_peak",
            "instr_forward", "instr_train_step", "est_cycles_forward", "learned", "iterations", "final_error",
            "outputs"]  # fmt: skip


def test_parse_library_defaults_to_qnns_layout(tmp_path):
    shutil.copytree(QNN_INCLUDE, tmp_path / "copy")
    library = parse_library(f"mine={tmp_path / 'copy'}")
    assert (library.name, library.header, library.namespace, library.external) == ("mine", "qnn/qnn.hpp", "qnn", True)
    assert library.compile_defines(parse_qformat("q8.8")) == {"QBENCH_NN_HEADER": '"qnn/qnn.hpp"', "QBENCH_NN": "qnn"}
    assert QNN.compile_defines(parse_qformat("q8.8")) == {} and QNN.fingerprint() == ""


def test_descriptor_sets_header_namespace_and_format_macros(tmp_path):
    (tmp_path / "cpp").mkdir()
    (tmp_path / "cpp" / "net.hpp").write_text("")
    (tmp_path / "qbench-library.toml").write_text(
        'header = "net.hpp"\nnamespace = "tiny"\ninclude_dirs = ["cpp"]\n'
        '[defines]\n"LUT_TANH_{I}_{F}" = "1"\nFRACTION = "{F}"\n'
    )
    library = parse_library(f"tiny={tmp_path}")
    assert library.include_dirs == (tmp_path / "cpp",)
    assert library.compile_defines(parse_qformat("q8.8")) == {
        "QBENCH_NN_HEADER": '"net.hpp"', "QBENCH_NN": "tiny", "LUT_TANH_8_8": "1", "FRACTION": "8",
    }  # fmt: skip


def test_fingerprint_follows_the_library_files(tmp_path):
    shutil.copytree(QNN_INCLUDE, tmp_path / "copy")
    library = parse_library(f"mine={tmp_path / 'copy'}")
    before = library.fingerprint()
    (tmp_path / "copy" / "qnn" / "qnn.hpp").write_text("// changed\n")
    assert library.fingerprint() != before


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("mine", "give --library NAME=PATH"),
        ("=somewhere", "give --library NAME=PATH"),
        ("1st={dir}", "'1st' is not a library name"),
        ("qnn={dir}", "'qnn' names the built-in library"),
        ("mine={dir}/absent", "is not a directory"),
        ("mine={dir}", "no qnn/qnn.hpp under"),
    ],
)
def test_bad_library_arguments_say_why(tmp_path, argument, message):
    with pytest.raises(LibraryError, match=re.escape(message)):
        parse_library(argument.format(dir=tmp_path))


def test_bad_descriptor_says_why(tmp_path):
    (tmp_path / "qbench-library.toml").write_text("heder = 'x.hpp'\n")
    with pytest.raises(LibraryError, match="'heder' is not a known key"):
        parse_library(f"mine={tmp_path}")
    (tmp_path / "qbench-library.toml").write_text("namespace = 3\n")
    with pytest.raises(LibraryError, match="'namespace' is 3; allowed: a string"):
        parse_library(f"mine={tmp_path}")
    (tmp_path / "qbench-library.toml").write_text("namespace = \n")
    with pytest.raises(LibraryError, match="not valid TOML"):
        parse_library(f"mine={tmp_path}")


def test_cli_rejects_a_bad_or_repeated_library(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        qbench_main(["run", "--library", "mine", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "give --library NAME=PATH" in capsys.readouterr().err
    shutil.copytree(QNN_INCLUDE, tmp_path / "copy")
    shutil.copytree(QNN_INCLUDE, tmp_path / "other")
    with pytest.raises(SystemExit) as exit_info:
        qbench_main(["run", "--library", f"a={tmp_path / 'copy'}", "--library", f"a={tmp_path / 'other'}",
                     "--out", str(tmp_path / "out")])  # fmt: skip
    assert exit_info.value.code == 2
    assert "--library names a for different folders" in capsys.readouterr().err


def test_another_library_gets_rows_of_its_own_with_qnns_figures(side_by_side):
    status, out, _ = side_by_side
    assert status == 0
    rows = read_results(out).rows
    assert sorted(zip(rows["library"], rows["variant"], strict=True)) == [
        ("other", "inference"), ("other", "trainable"), ("qnn", "inference"), ("qnn", "trainable")
    ]  # fmt: skip
    assert (rows["status"] == "ok").all()
    for variant in ("trainable", "inference"):
        qnn = rows[(rows["library"] == "qnn") & (rows["variant"] == variant)][COMPARED].reset_index(drop=True)
        other = rows[(rows["library"] == "other") & (rows["variant"] == variant)][COMPARED].reset_index(drop=True)
        pd.testing.assert_frame_equal(qnn, other)
    other_build = rows[rows["library"] == "other"]["flags"].iloc[0]
    assert "-DOTHER_LUT_16_16=1" in other_build and "-DQBENCH_NN=othernn" in other_build


def test_another_library_stands_beside_qnn_in_every_table(side_by_side):
    _, out, _ = side_by_side
    saved = read_results(out)
    assert set(saved.symbols[saved.symbols["variant"] != "baseline"]["library"]) == {"qnn", "other"}
    assert any("othernn::" in symbol for symbol in saved.symbols["symbol"])
    assert set(saved.instructions["library"]) == {"qnn", "other"}
    assert {
        "xor_2-4-1-tanh-sigmoid_cortex-m0plus_q16.16_trainable_Os.csv",
        "xor_other_2-4-1-tanh-sigmoid_cortex-m0plus_q16.16_trainable_Os.csv",
    } <= set(saved.training)
    report = (out / "report.md").read_text()
    sections = report.split("\n## ")[1:]
    tables = [section for section in sections if "| library " in section or "|:--" in section]
    per_cell = [section for section in tables if "| cortex-m0plus " in section and "| qformat " in section]
    assert per_cell, "the report has no per-cell table"
    for section in per_cell:
        assert "| other " in section and "| qnn " in section, section.splitlines()[0]


def test_a_library_that_fails_to_build_gets_a_row_that_says_so(tmp_path):
    broken = renamed_qnn(tmp_path / "broken", "brokennn")
    (broken / "qnn" / "qvalue.hpp").write_text("this is not C++;\n")
    code = qbench_main(["run", "--cores", "cortex-m0plus", "--formats", "q16.16", "--variants", "inference",
                        "--library", f"broken={broken}", "--out", str(tmp_path / "out"),
                        "--build-dir", str(tmp_path / "build")])  # fmt: skip
    assert code == 1
    rows = read_results(tmp_path / "out").rows.set_index("library")
    assert rows.loc["qnn", "status"] == "ok"
    assert rows.loc["broken", "status"] == "build-failed"
    assert "qvalue.hpp" in rows.loc["broken", "message"] and "error" in rows.loc["broken", "message"]
    assert "| broken " in (tmp_path / "out" / "report.md").read_text()


def test_results_written_before_the_library_column_read_as_qnn(side_by_side, tmp_path):
    """A baseline saved by an older qbench (no library column) still compares against new results."""
    _, out, _ = side_by_side
    old = tmp_path / "old"
    shutil.copytree(out, old)
    document = json.loads((old / "results.json").read_text())
    document["rows"] = [
        {key: value for key, value in row.items() if key != "library"}
        for row in document["rows"]
        if row["library"] == "qnn"
    ]
    (old / "results.json").write_text(json.dumps(document))
    for name in ("symbols.csv", "instructions.csv"):
        frame = pd.read_csv(old / name, keep_default_na=False, dtype={"qformat": str})
        frame[frame["library"] != "other"].drop(columns="library").to_csv(old / name, index=False)
    saved = read_results(old)
    assert list(saved.rows["library"]) == ["qnn", "qnn"]
    assert set(saved.symbols["library"]) == {"qnn", ""}
    assert set(saved.symbols[saved.symbols["library"] == ""]["variant"]) == {"baseline"}
    assert set(saved.instructions["library"]) == {"qnn"}
    assert compare(saved.rows, read_results(out).rows, ("lib_flash", "instr_forward"), 0.0).regressions == []


def test_another_librarys_code_is_grouped_under_its_own_name_not_the_harness(side_by_side):
    _, out, _ = side_by_side
    symbols = read_results(out).symbols
    groups = symbols[symbols["variant"] == "trainable"].groupby(["library", "group"])["size"].sum()
    assert groups[("other", "other")] == groups[("qnn", "qnn")] > 0  # the renamed copy is qnn's code
    assert groups[("other", "workload harness")] == groups[("qnn", "workload harness")]
    assert ("other", "qnn") not in groups.index
