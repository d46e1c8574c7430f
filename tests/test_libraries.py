"""qbench run --library NAME=PATH: another library, through its adapter, built and run beside qnn.

A copy of qnn and its adapter renamed to another namespace stands in for the other library; it must
give exactly qnn's figures, in rows of its own, in every table of the report.
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from library_copies import qnn_copy, renamed_qnn
from qbench.commands.cli import main as qbench_main
from qbench.common.paths import TARGETS
from qbench.hardware.targets import load_targets
from qbench.images.libraries import QNN, LibraryError, parse_library
from qbench.images.matrix import MatrixRequest, expand
from qbench.images.workloads import WORKLOADS
from qbench.models.network import in_weight_order
from qbench.models.qformat import parse_format, parse_qformat
from qbench.records.results import read_results
from qbench.reporting.compare import compare

COMPARED = [
    "lib_code",
    "lib_rodata",
    "lib_data",
    "lib_bss",
    "lib_flash",
    "lib_ram_static",
    "stack_peak",
    "instr_forward",
    "instr_train_step",
    "est_cycles_forward",
    "learned",
    "iterations",
    "final_error",
    "outputs",
]


def test_qnn_is_described_as_any_library_is():
    assert (QNN.name, QNN.adapter, QNN.symbols, QNN.weight_order, QNN.builtin) == (
        "qnn",
        "qbench_adapter.hpp",
        ("qnn::",),
        "neuron",
        True,
    )
    assert QNN.compile_defines(parse_qformat("q8.8")) == {"QBENCH_ADAPTER": '"qbench_adapter.hpp"'}
    assert QNN.computes_in(parse_format("float32")) and QNN.supports.training


def test_descriptor_sets_adapter_paths_symbols_and_format_macros(tmp_path):
    (tmp_path / "cpp").mkdir()
    (tmp_path / "cpp" / "adapter.hpp").write_text("")
    (tmp_path / "src.cpp").write_text("")
    (tmp_path / "qbench-library.toml").write_text(
        'adapter = "adapter.hpp"\ninclude_dirs = ["cpp"]\nsources = ["src.cpp"]\nsymbols = ["tiny::", "tn_"]\n'
        'weight_order = "input-major"\n[supports]\ntraining = false\n'
        '[defines]\n"LUT_TANH_{I}_{F}" = "1"\nFRACTION = "{F}"\n'
    )
    library = parse_library(f"tiny={tmp_path}")
    # The descriptor's folder stays on the include path when include_dirs is given.
    assert library.include_dirs == (tmp_path / "cpp", tmp_path) and library.sources == (tmp_path / "src.cpp",)
    assert (library.symbols, library.weight_order) == (("tiny::", "tn_"), "input-major")
    assert not library.supports.training
    assert library.compile_defines(parse_qformat("q8.8")) == {
        "QBENCH_ADAPTER": '"adapter.hpp"',
        "LUT_TANH_8_8": "1",
        "FRACTION": "8",
    }
    assert library.compile_defines(parse_format("float32")) == {"QBENCH_ADAPTER": '"adapter.hpp"'}


def test_include_dirs_may_leave_the_folder_and_name_it_once(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "variant").mkdir()
    (tmp_path / "shared" / "adapter.hpp").write_text("")
    (tmp_path / "variant" / "qbench-library.toml").write_text(
        'adapter = "adapter.hpp"\ninclude_dirs = [".", "../shared"]\nsymbols = ["tiny::"]\n'
    )
    library = parse_library(f"variant={tmp_path / 'variant'}")
    assert library.include_dirs == (tmp_path / "variant" / ".", tmp_path / "variant" / ".." / "shared")


def test_defines_may_serve_one_kind_of_format(tmp_path):
    (tmp_path / "adapter.hpp").write_text("")
    (tmp_path / "qbench-library.toml").write_text(
        'adapter = "adapter.hpp"\nsymbols = ["tiny::"]\n[defines]\nEVERY = 1\n"BITS_{I}" = "{F}"\n'
        '[defines.fixed_point]\nFIXED = "q{I}.{F}"\n[defines.float32]\nFLOAT = "1"\n'
    )
    library = parse_library(f"tiny={tmp_path}")
    assert library.compile_defines(parse_qformat("q8.8")) == {
        "QBENCH_ADAPTER": '"adapter.hpp"',
        "EVERY": "1",
        "BITS_8": "8",
        "FIXED": "q8.8",
    }
    assert library.compile_defines(parse_format("float32")) == {
        "QBENCH_ADAPTER": '"adapter.hpp"',
        "EVERY": "1",
        "FLOAT": "1",
    }


def test_fingerprint_follows_the_library_files(tmp_path):
    copy = qnn_copy(tmp_path / "copy", "mine")
    before = parse_library(f"mine={copy}").fingerprint
    (copy / "include" / "qnn" / "qnn.hpp").write_text("// changed\n")
    assert parse_library(f"mine={copy}").fingerprint != before


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("mine", "'mine' is not a built-in library (built in: emlearn)"),
        ("=somewhere", "give --library NAME=PATH"),
        ("1st={dir}", "'1st' is not a library name"),
        ("qnn={dir}", "'qnn' names the built-in library"),
        ("mine={dir}/absent", "is not a directory"),
        ("mine={dir}", "no qbench-library.toml in"),
    ],
)
def test_bad_library_arguments_say_why(tmp_path, argument, message):
    with pytest.raises(LibraryError, match=re.escape(message)):
        parse_library(argument.format(dir=tmp_path))


@pytest.mark.parametrize(
    ("descriptor", "message"),
    [
        ("heder = 'x.hpp'\n", "'heder' is not a known key"),
        ("adapter = 3\nsymbols = ['a::']\n", "'adapter' is 3; allowed: a string"),
        ("adapter = \n", "not valid TOML"),
        ("adapter = 'a.hpp'\n", "'symbols'"),
        ("adapter = 'a.hpp'\nsymbols = ['3d']\n", "a C++ namespace ending in '::'"),
        ("adapter = 'a.hpp'\nsymbols = ['a::']\nweight_order = 'rows'\n", "'weight_order' is 'rows'"),
        ("adapter = 'absent.hpp'\nsymbols = ['a::']\n", "no adapter absent.hpp under"),
        ("adapter = 'a.hpp'\nsymbols = ['a::']\ninclude_dirs = ['nowhere']\n", "nowhere is not a directory"),
        ("adapter = 'a.hpp'\nsymbols = ['a::']\nsources = ['gone.cpp']\n", "gone.cpp named in"),
        (
            "adapter = 'a.hpp'\nsymbols = ['a::']\n[defines.fixed]\nA = '1'\n",
            "'defines.fixed' is {'A': '1'}; allowed: a string or a whole number ([defines.fixed_point] and "
            "[defines.float32] are the only tables)",
        ),
    ],
)
def test_bad_descriptor_says_why(tmp_path, descriptor, message):
    (tmp_path / "a.hpp").write_text("")
    (tmp_path / "qbench-library.toml").write_text(descriptor)
    with pytest.raises(LibraryError, match=re.escape(message)):
        parse_library(f"mine={tmp_path}")


def test_cli_rejects_a_bad_or_repeated_library(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        qbench_main(["run", "--library", "mine", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "give --library NAME=PATH for your own" in capsys.readouterr().err
    qnn_copy(tmp_path / "copy", "copynn")
    qnn_copy(tmp_path / "other", "othernn")
    with pytest.raises(SystemExit) as exit_info:
        qbench_main(
            [
                "run",
                "--library",
                f"a={tmp_path / 'copy'}",
                "--library",
                f"a={tmp_path / 'other'}",
                "--out",
                str(tmp_path / "out"),
            ]
        )
    assert exit_info.value.code == 2
    assert "--library names a for different folders" in capsys.readouterr().err


def test_another_library_gets_rows_of_its_own_with_qnns_figures(side_by_side):
    status, out, _ = side_by_side
    assert status == 0
    rows = read_results(out).rows
    assert sorted(zip(rows["library"], rows["variant"], strict=True)) == [
        ("other", "inference"),
        ("other", "trainable"),
        ("qnn", "inference"),
        ("qnn", "trainable"),
    ]
    assert (rows["status"] == "ok").all()
    for variant in ("trainable", "inference"):
        qnn = rows[(rows["library"] == "qnn") & (rows["variant"] == variant)][COMPARED].reset_index(drop=True)
        other = rows[(rows["library"] == "other") & (rows["variant"] == variant)][COMPARED].reset_index(drop=True)
        pd.testing.assert_frame_equal(qnn, other)
    other_build = rows[rows["library"] == "other"]["flags"].iloc[0]
    assert "-DOTHER_LUT_16_16=1" in other_build and "other/adapter" in other_build


def test_another_library_stands_beside_qnn_in_every_table(side_by_side):
    _, out, _ = side_by_side
    saved = read_results(out)
    symbols = saved.symbols.frame()
    assert set(symbols[symbols["variant"] != "baseline"]["library"]) == {"qnn", "other"}
    assert any("othernn::" in symbol for symbol in symbols["symbol"])
    assert set(saved.instructions["library"]) == {"qnn", "other"}
    assert {
        "xor_2-4-1-tanh-sigmoid_cortex-m0plus_q16.16_trainable_Os.csv",
        "xor_other_2-4-1-tanh-sigmoid_cortex-m0plus_q16.16_trainable_Os.csv",
    } <= set(saved.training)
    report = (out / "report.md").read_text()
    sections = report.split("\n## ")[1:]
    tables = [section for section in sections if "| library " in section or "|:--" in section]
    per_cell = [section for section in tables if "| library " in section]
    assert per_cell, "the report has no per-cell table"
    for section in per_cell:
        assert "| other " in section and "| qnn " in section, section.splitlines()[0]


def test_a_library_that_fails_to_build_gets_a_row_that_says_so(tmp_path):
    broken = renamed_qnn(tmp_path / "broken", "brokennn")
    (broken / "include" / "qnn" / "qvalue.hpp").write_text("this is not C++;\n")
    code = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q16.16",
            "--variants",
            "inference",
            "--library",
            f"broken={broken}",
            "--out",
            str(tmp_path / "out"),
            "--build-dir",
            str(tmp_path / "build"),
        ]
    )
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
    symbols = saved.symbols.frame()
    assert set(symbols["library"]) == {"qnn", ""}
    assert set(symbols[symbols["library"] == ""]["variant"]) == {"baseline"}
    assert set(saved.instructions["library"]) == {"qnn"}
    assert compare(saved.rows, read_results(out).rows, ("lib_flash", "instr_forward"), 0.0).regressions == []


def test_another_librarys_code_is_grouped_under_its_own_name_not_the_harness(side_by_side):
    _, out, _ = side_by_side
    symbols = read_results(out).symbols.frame()
    groups = symbols[symbols["variant"] == "trainable"].groupby(["library", "group"])["size"].sum()
    assert groups[("other", "other")] == groups[("qnn", "qnn")] > 0  # the renamed copy is qnn's code
    assert groups[("other", "workload harness")] == groups[("qnn", "workload harness")]
    assert ("other", "qnn") not in groups.index


def test_weights_reach_an_input_major_library_in_its_order():
    # 2-2-1: hidden neurons h0 = (b0, w00, w01), h1 = (b1, w10, w11); output o = (c, v0, v1), in neuron order.
    neuron = ["b0", "w00", "w01", "b1", "w10", "w11", "c", "v0", "v1"]
    assert in_weight_order(neuron, (2, 2, 1), "neuron") == neuron
    # Per layer: weight[input][output] row by row (input 0 to h0, to h1; input 1 to h0, to h1), then the biases.
    assert in_weight_order(neuron, (2, 2, 1), "input-major") == [
        "w00",
        "w10",
        "w01",
        "w11",
        "b0",
        "b1",
        "v0",
        "v1",
        "c",
    ]
    with pytest.raises(ValueError, match="unknown weight order 'rows'"):
        in_weight_order(neuron, (2, 2, 1), "rows")


def test_a_library_computes_only_what_it_supports_and_the_rest_is_a_note(tmp_path):
    floaty = qnn_copy(tmp_path / "floaty", "floatynn", "[supports]\nfixed_point = false\ntraining = false\n")
    library = parse_library(f"floaty={floaty}")
    matrix = expand(load_targets(TARGETS), WORKLOADS, MatrixRequest(cores=("cortex-m0plus",), libraries=(QNN, library)))
    assert sorted((cell.library.name, cell.fmt.name, str(cell.variant)) for cell in matrix.cells) == [
        ("floaty", "float32", "inference"),
        ("qnn", "q16.16", "inference"),
        ("qnn", "q16.16", "trainable"),
        ("qnn", "q8.8", "inference"),
        ("qnn", "q8.8", "trainable"),
    ]
    assert matrix.notes == (
        "floaty computes in float32; not in q16.16, q8.8 (floaty's qbench-library.toml [supports])",
        "floaty is inference-only: no trainable cells (floaty's qbench-library.toml [supports] training = false)",
    )
    assert not matrix.rejected
