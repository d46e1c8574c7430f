"""qbench run --library awkward=tests/libraries/awkward: a library of our own with the traits that make real
third-party libraries awkward to adapt (a Q type that is not a literal type, weights set and read per layer in
an order of its own, transfer functions that take the output count, a network with a destructor, lookup tables
in a source file selected per format by a macro). Its adapter must stay short, its cells must build, run and
learn, and its code must be counted as its own (docs/libraries.md walks through the adapter). Its wrapping
variant (tests/libraries/awkward-wrapping: the same files with momentum 1) gets XOR right only through overflow,
and qbench must say so.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.models.qformat import parse_qformat
from qbench.models.reference import DEFAULT_WEIGHT_SEED, initial_weights
from qbench.records.results import read_results
from qbench.reporting.claims import HOLDS, tables_only_when_used
from qbench.sizes.symbols import TABLES_GROUP

REPO = Path(__file__).resolve().parent.parent
AWKWARD = REPO / "tests" / "libraries" / "awkward"
AWKWARD_WRAPPING = REPO / "tests" / "libraries" / "awkward-wrapping"
CONTRACT_DOCS = REPO / "docs" / "libraries.md"
ADAPTER = AWKWARD / "adapter" / "qbench_adapter.hpp"
MAX_ADAPTER_LINES = 40
PER_LAYER_MAPPING = r"workload::(?:loadWeights|weight|layerBuffer)<"


@pytest.fixture(scope="module")
def awkward_run(tmp_path_factory: pytest.TempPathFactory):
    """The XOR matrix on cortex-m0plus, Q16.16 and Q8.8, trainable and inference, emulated, qnn beside awkward:
    (exit status, results folder)."""
    root = tmp_path_factory.mktemp("awkward")
    status = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q16.16,q8.8",
            "--variants",
            "trainable,inference",
            "--library",
            f"awkward={AWKWARD}",
            "--out",
            str(root / "out"),
            "--build-dir",
            str(root / "build"),
        ]
    )
    return status, root / "out"


def test_every_awkward_cell_builds_and_runs(awkward_run):
    status, out = awkward_run
    rows = read_results(out).rows
    awkward = rows[rows["library"] == "awkward"]
    assert sorted(zip(awkward["qformat"], awkward["variant"], strict=True)) == [
        ("q16.16", "inference"),
        ("q16.16", "trainable"),
        ("q8.8", "inference"),
        ("q8.8", "trainable"),
    ]
    assert (awkward["status"] == "ok").all(), awkward[["qformat", "variant", "status", "message"]].to_string()


def test_the_whole_run_succeeds_the_articles_host_configuration_included(awkward_run):
    status, _ = awkward_run
    assert status == 0


def test_awkward_learns_xor_on_the_device(awkward_run):
    _, out = awkward_run
    rows = read_results(out).rows
    trainable = rows[(rows["library"] == "awkward") & (rows["variant"] == "trainable")].set_index("qformat")
    for qformat in ("q16.16", "q8.8"):
        assert bool(trainable.loc[qformat, "learned"]), qformat
        assert bool(trainable.loc[qformat, "learned_exact"]), qformat  # not through overflow
        assert 0 < trainable.loc[qformat, "iterations"] < 20_000
    inference = rows[(rows["library"] == "awkward") & (rows["variant"] == "inference")].set_index("qformat")
    assert bool(inference.loc["q16.16", "learned"])  # qnn's trained weights, reordered, in awk's arithmetic


def test_every_library_starts_training_from_qbenchs_initial_weights(awkward_run):
    # The training log's iteration-0 weights, in qbench's neuron order: the same table for qnn and awk.
    _, out = awkward_run
    rows = read_results(out).rows
    trainable = rows[rows["variant"] == "trainable"]
    assert set(trainable["initial_weights"]) == {f"qbench seed {DEFAULT_WEIGHT_SEED:#010x}"}
    for qformat in ("q16.16", "q8.8"):
        start = {
            library: first_logged_weights(out, prefix, qformat)
            for library, prefix in (("qnn", "xor"), ("awkward", "xor_awkward"))
        }
        expected = list(initial_weights(parse_qformat(qformat), (2, 4, 1)))
        assert start["qnn"] == start["awkward"] == expected, qformat


def first_logged_weights(out: Path, prefix: str, qformat: str) -> list[int]:
    """The raw weights a training log records at iteration 0."""
    log = pd.read_csv(out / "training" / f"{prefix}_2-4-1-tanh-sigmoid_cortex-m0plus_{qformat}_trainable_Os.csv")
    first = log[log["iteration"] == 0].iloc[0]
    scale = 1 << parse_qformat(qformat).fractional_bits
    return [round(first[f"w{index}"] * scale) for index in range(17)]


def test_the_wrapping_variant_is_reported_as_learned_only_through_overflow(tmp_path):
    # awk with momentum 1: its Q8.8 weights drift past 100 and its sums wrap; the device gets every output
    # right, exact arithmetic on its final weights does not (the descriptor gives the measured outputs).
    status = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q8.8",
            "--variants",
            "trainable",
            "--library",
            f"awkwrap={AWKWARD_WRAPPING}",
            "--out",
            str(tmp_path / "out"),
            "--build-dir",
            str(tmp_path / "build"),
        ]
    )
    assert status == 0
    rows = read_results(tmp_path / "out").rows.set_index("library")
    wrapping = rows.loc["awkwrap"]
    assert wrapping["status"] == "ok", wrapping["message"]
    assert bool(wrapping["learned"])
    assert not bool(wrapping["learned_exact"])
    assert wrapping["message"].startswith("learned only through overflow"), wrapping["message"]
    assert bool(rows.loc["qnn", "learned_exact"])  # qnn saturates: beside it, the same cell learns for real


def adapter_lines(text: str) -> list[str]:
    """The adapter's lines that are neither blank nor only a comment."""
    return [line for line in text.splitlines() if line.strip() and not line.strip().startswith("//")]


def test_the_adapter_stays_within_a_few_dozen_lines():
    assert len(adapter_lines(ADAPTER.read_text())) <= MAX_ADAPTER_LINES


def test_the_docs_show_the_adapter_as_it_is():
    docs = CONTRACT_DOCS.read_text()
    assert f"```cpp\n{ADAPTER.read_text()}```" in docs
    assert f"{len(adapter_lines(ADAPTER.read_text()))} lines that are neither blank nor" in docs
    assert f"keeps it at {MAX_ADAPTER_LINES} or fewer" in docs


def test_awks_code_is_grouped_under_its_own_name(awkward_run):
    _, out = awkward_run
    symbols = read_results(out).symbols.frame()
    # qbench's own per-layer mapping (suite/workloads/common/layers.hpp), instantiated for awk's types, is harness.
    mapping = symbols["symbol"].str.contains(PER_LAYER_MAPPING)
    awkward = symbols[(symbols["library"] == "awkward") & ~mapping]
    own = awkward[awkward["symbol"].str.contains("awk::", regex=False)]
    assert not own.empty
    # awk's read-only tables may be grouped as activation tables, as qnn's are; the rest is awk's own group.
    tables = own["symbol"].str.contains("awk::Tables<", regex=False)
    assert set(own[~tables]["group"]) == {"awkward"}, own[own["group"] != "awkward"][["symbol", "group"]].to_string()
    assert set(own[tables]["group"]) <= {"awkward", "activation tables"}
    harness = awkward[awkward["group"] == "workload harness"]
    assert not harness["symbol"].str.contains("awk::|QbenchAdapter::").any(), harness["symbol"].tolist()
    # The tables come from the compiled source (src/tables.cpp), one pair per format.
    tables = set(awkward[awkward["symbol"].str.contains("awk::Tables<", regex=False)]["symbol"])
    assert {
        "awk::Tables<16, 16>::tanh",
        "awk::Tables<16, 16>::sigmoid",
        "awk::Tables<8, 8>::tanh",
        "awk::Tables<8, 8>::sigmoid",
    } <= tables
    # The network's destructor is registered at start-up, through what the start-up code supplies.
    registered = awkward[awkward["symbol"].isin(["__cxa_atexit", "__dso_handle"])]
    assert set(registered["symbol"]) == {"__cxa_atexit", "__dso_handle"}
    assert set(registered["group"]) == {"start-up"}


def test_awks_tables_are_its_tables_and_the_tables_claim_is_measured(awkward_run):
    _, out = awkward_run
    symbols = read_results(out).symbols.frame()
    tables = symbols[(symbols["library"] == "awkward") & symbols["symbol"].str.startswith("awk::Tables<")]
    assert set(tables["group"]) == {TABLES_GROUP} and set(tables["prefix_group"]) == {"awkward"}
    claim = tables_only_when_used(symbols, "awkward")
    assert claim.verdict == HOLDS, claim.measured
    assert claim.measured.startswith("2 tables (264 B) in the tanh/sigmoid trainable image"), claim.measured
    # Code of awk's headers inlined into the harness counts as awk's, in a row of its own.
    inlined = symbols[(symbols["library"] == "awkward") & symbols["symbol"].str.startswith("<inlined into ")]
    assert "awkward" in set(inlined["group"]), inlined.to_string()


def broken_copy(root: Path, operation: str) -> Path:
    """A copy of awkward whose adapter lacks one static member function."""
    broken = shutil.copytree(AWKWARD, root / "broken")
    adapter = broken / "adapter" / "qbench_adapter.hpp"
    lines = adapter.read_text().splitlines(keepends=True)
    start = next(index for index, line in enumerate(lines) if f"static void {operation}(" in line)
    end = lines.index("    }\n", start)
    adapter.write_text("".join(lines[:start] + lines[end + 1 :]))
    assert f"{operation}(" not in adapter.read_text()
    return broken


def broken_message(root: Path, library: Path) -> str:
    """The message of the library's Q16.16 trainable cell, built without running; qnn's cell builds."""
    status = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q16.16",
            "--variants",
            "trainable",
            "--no-emulate",
            "--library",
            f"broken={library}",
            "--out",
            str(root / "out"),
            "--build-dir",
            str(root / "build"),
        ]
    )
    assert status == 1
    rows = read_results(root / "out").rows.set_index("library")
    assert rows.loc["qnn", "status"] == "ok"
    assert rows.loc["broken", "status"] == "build-failed"
    return rows.loc["broken", "message"]


@pytest.mark.parametrize(
    ("operation", "first_line"),
    [
        ("train", "qbench library contract: QbenchAdapter has no train(Network&, const Value* targets)"),
        (
            "setLayer",
            "qbench library contract: QbenchAdapter has neither loadWeights(Network&, const Weight* weights) "
            "nor setLayer(",
        ),
    ],
)
def test_an_adapter_missing_an_operation_fails_its_cell_with_the_contracts_words(tmp_path, operation, first_line):
    message = broken_message(tmp_path, broken_copy(tmp_path, operation))
    assert message.splitlines()[0].startswith(first_line), message
    assert "docs/libraries.md#" in message.splitlines()[0], message
    assert "error:" in message.splitlines()[1], message  # the compiler's text follows


def test_a_source_missing_from_the_descriptor_is_one_clear_line_first(tmp_path):
    library = shutil.copytree(AWKWARD, tmp_path / "broken")
    descriptor = library / "qbench-library.toml"
    descriptor.write_text(descriptor.read_text().replace('sources = ["src/tables.cpp"]\n', ""))
    first, *rest = broken_message(tmp_path, library).splitlines()
    assert first.startswith("undefined symbol awk::Tables<16, 16>::"), first
    assert first.endswith("lists them in sources (docs/libraries.md#sources)") and len(first) < 200, first
    assert "undefined reference to" in rest[0]


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_into_the_contract_names_a_section_of_it():
    anchors = {
        heading_anchor(line.lstrip("#")) for line in CONTRACT_DOCS.read_text().splitlines() if line.startswith("#")
    }
    assert {"descriptor", "value-types", "the-network", "operations", "weights", "sources"} <= anchors
    linking = [*(REPO / "suite").rglob("*.hpp"), *(REPO / "suite").rglob("*.cpp"), *(REPO / "scripts").rglob("*.py")]
    linked = {anchor for path in linking for anchor in re.findall(r"docs/libraries\.md#([\w-]+)", path.read_text())}
    assert linked and linked <= anchors, linked - anchors
