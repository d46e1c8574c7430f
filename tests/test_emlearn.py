"""emlearn, the built-in peer library (`--library emlearn`): its float MLP (eml_net.h, from the PyPI package)
built through suite/libraries/emlearn/qbench_adapter.hpp, beside qnn.

emlearn computes in float32 only, so its rows are float32 and qnn's keep their Q formats; on the device it
must classify exactly as well as the float network does on the host.
"""

from __future__ import annotations

import importlib.util
import os
import re
from importlib.metadata import version

import pytest

from qbench.commands.cli import main as qbench_main
from qbench.images.libraries import BUILTIN, parse_library
from qbench.records.results import read_results

if importlib.util.find_spec("emlearn") is None:
    if os.environ.get("CI"):
        raise ImportError("emlearn is not installed, and CI tests it: scripts/setup installs it (the emlearn extra)")
    pytest.skip("emlearn is not installed: scripts/setup, or pip install -e '.[emlearn]'", allow_module_level=True)

ADAPTER = BUILTIN / "emlearn" / "qbench_adapter.hpp"


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory: pytest.TempPathFactory):
    """The issue's command on two cores, soft-float and hard-float: (exit status, results)."""
    root = tmp_path_factory.mktemp("emlearn-iris")
    status = qbench_main(
        [
            "run",
            "--workload",
            "iris",
            "--variants",
            "inference",
            "--library",
            "emlearn",
            "--cores",
            "cortex-m0plus,cortex-m4f",
            "--out",
            str(root / "out"),
            "--build-dir",
            str(root / "build"),
        ]
    )
    return status, read_results(root / "out")


def test_emlearn_is_described_as_a_float_only_inference_library():
    library = parse_library("emlearn")
    assert (library.adapter, library.symbols, library.weight_order, library.package) == (
        "qbench_adapter.hpp",
        ("eml_",),
        "input-major",
        "emlearn",
    )
    assert (library.supports.float32, library.supports.fixed_point, library.supports.training) == (True, False, False)
    assert any((folder / "eml_net.h").is_file() for folder in library.include_dirs)


def test_the_adapter_is_a_few_dozen_lines():
    code = [line for line in ADAPTER.read_text().splitlines() if line.strip() and not line.strip().startswith("//")]
    assert len(code) <= 50, f"{len(code)} lines of code in {ADAPTER.name}"


def test_emlearn_classifies_iris_on_the_device_as_the_float_network_does_on_the_host(iris_run):
    status, saved = iris_run
    assert status == 0
    rows = saved.rows
    assert (rows["status"] == "ok").all(), rows[["library", "core", "qformat", "status", "message"]]
    emlearn = rows[rows["library"] == "emlearn"]
    assert sorted(zip(emlearn["core"], emlearn["qformat"], strict=True)) == [
        ("cortex-m0plus", "float32"),
        ("cortex-m4f", "float32"),
    ]
    assert (emlearn["accuracy_device"] == emlearn["accuracy_float_host"]).all()
    assert (emlearn["accuracy_device"] > 0.9).all()
    assert (emlearn["test_samples"] == 45).all()
    qnn = rows[rows["library"] == "qnn"]
    assert sorted(set(qnn["qformat"])) == ["q16.16", "q8.8"] and set(qnn["core"]) == set(emlearn["core"])
    for column in ("lib_flash", "instr_forward", "stack_peak"):
        assert (emlearn[column] > 0).all(), column
    assert saved.environment["libraries"]["emlearn"]["version"] == f"emlearn {version('emlearn')}"
    # Soft-float on cortex-m0plus: every multiply-add is a library call, far more instructions than the FPU's.
    by_core = emlearn.set_index("core")
    assert by_core.loc["cortex-m0plus", "instr_forward"] > 5 * by_core.loc["cortex-m4f", "instr_forward"]


def test_emlearns_code_is_grouped_under_its_name(iris_run):
    _, saved = iris_run
    every = saved.symbols.frame()
    symbols = every[every["library"] == "emlearn"]
    ours = symbols[symbols["symbol"].str.match(r"eml_")]
    assert {"eml_net_infer", "eml_net_forward"} <= set(ours["symbol"])
    assert set(ours["group"]) == {"emlearn"}
    # Besides its own functions, emlearn's group holds only its code the compiler inlined into the harness (DWARF).
    grouped = set(symbols[symbols["group"] == "emlearn"]["symbol"])
    assert {name for name in grouped if not name.startswith("<inlined into ")} == set(ours["symbol"])
    assert not any(re.match(r"eml_", name) for name in every[every["library"] == "qnn"]["symbol"])


def test_emlearn_runs_the_hosts_xor_weights(tmp_path):
    status = qbench_main(
        [
            "run",
            "--workload",
            "xor",
            "--variants",
            "inference",
            "--formats",
            "float32",
            "--library",
            "emlearn",
            "--cores",
            "cortex-m4f",
            "--out",
            str(tmp_path / "out"),
            "--build-dir",
            str(tmp_path / "build"),
        ]
    )
    assert status == 0
    rows = read_results(tmp_path / "out").rows.set_index("library")
    assert list(rows["status"]) == ["ok", "ok"]
    assert bool(rows.loc["emlearn", "learned"]) and bool(rows.loc["qnn", "learned"])
    # The same float weights, tanh and sigmoid from the same C library: qnn's outputs, to a rounding.
    emlearn, qnn = ([float(x) for x in str(rows.loc[name, "outputs"]).split(";")] for name in ("emlearn", "qnn"))
    assert emlearn == pytest.approx(qnn, abs=1e-4)
