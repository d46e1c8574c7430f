"""The library contract as docs/libraries.md writes it: an adapter made of exactly the documented signatures, in
either weight form (the whole table, or a layer at a time), compiles against the workloads; qbench's own files
build without warnings; and every trainable image starts from qbench's initial weights, float32 included."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from host_build import REPO, host_compiler
from qbench.commands.cli import main as qbench_main
from qbench.common.schemas import validate
from qbench.images.libraries import LibraryDescriptor
from qbench.images.workloads import COMMON, WORKLOADS, WorkloadSettings, weights_include
from qbench.models.qformat import parse_format
from qbench.models.reference import initial_weights

DOCS = REPO / "docs" / "libraries.md"
# The flags every Cortex-M image is compiled with that bound what an adapter may use (docs/libraries.md).
ADAPTER_FLAGS = ("-std=c++17", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics", "-Wall", "-Wextra")
FLAT_FORM = ("loadWeights", "weight")
PER_LAYER_FORM = ("setLayer", "getLayer")


def documented_members() -> dict[str, str]:
    """Every static member the docs declare in a cpp block from 'Value types' to 'Narrow weights', by name."""
    text = DOCS.read_text()
    part = text[text.index("\n## Value types") : text.index("\n## Narrow weights")]
    blocks = re.findall(r"```cpp\n(.*?)```", part, re.S)
    declarations = [line.split("//")[0].strip() for block in blocks for line in block.splitlines()]
    members = [line for line in declarations if re.match(r"(template <[^>]*> )?static ", line)]
    return {re.search(r"(\w+)\(", line).group(1): line for line in members}


def defined(declaration: str) -> str:
    """A declaration given a body that returns a value-initialised result."""
    body = "{}" if " static void " in f" {declaration}" else "{ return {}; }"
    return declaration.removesuffix(";") + " " + body


def contract_adapter(names: tuple[str, ...]) -> str:
    members = documented_members()
    return "\n".join(
        [
            "#include <cstddef>",
            "#include <cstdint>",
            '#include "contract.hpp"',
            "struct Value { std::int64_t raw; };",
            "struct Net {};",
            "using N = Net;",
            "using V = Value;",
            "struct QbenchAdapter {",
            "    template <int IntegerBits, int FractionalBits, bool Signed> using FixedPoint = Value;",
            "    template <class Val, class Shape> using Network = Net;",
            *(f"    {defined(members[name])}" for name in names),
            "};",
            "",
        ]
    )


def test_the_docs_descriptor_example_is_a_valid_descriptor():
    text = DOCS.read_text()
    example = re.search(r"## Descriptor.*?```toml\n(.*?)```", text, re.S).group(1)
    descriptor = validate(LibraryDescriptor, tomllib.loads(example), ValueError, lambda _: "docs")
    assert descriptor.defines.fixed_point and descriptor.defines.float32


def test_the_docs_list_the_flags_adapters_are_compiled_with():
    family = tomllib.loads((REPO / "targets" / "families" / "cortex-m.toml").read_text())
    flat = " ".join(DOCS.read_text().split())
    assert f"`{' '.join(family['cflags'])}`" in flat
    assert f"`{' '.join(family['ldflags'])}`" in flat


def test_the_docs_declare_every_member_the_contract_checks():
    assert set(documented_members()) == {
        "fromRaw",
        "toRaw",
        "feedForward",
        "getLearnedValues",
        "train",
        *FLAT_FORM,
        *PER_LAYER_FORM,
    }


@pytest.mark.parametrize("form", [FLAT_FORM, PER_LAYER_FORM], ids=["whole-table", "per-layer"])
@pytest.mark.parametrize("trainable", [True, False], ids=["trainable", "inference"])
def test_an_adapter_of_exactly_the_documented_signatures_compiles(tmp_path, form, trainable):
    (tmp_path / "qbench_adapter.hpp").write_text(
        contract_adapter(("fromRaw", "toRaw", "feedForward", "getLearnedValues", "train", *form))
    )
    xor = WORKLOADS["xor"]
    fmt = parse_format("q16.16")
    sources = xor.configure(fmt, trainable, WorkloadSettings(), xor.shape(WorkloadSettings(), None, None))
    (tmp_path / "weights.inc").write_text(weights_include(sources.weights, "neuron"))
    command = [
        host_compiler(),
        *ADAPTER_FLAGS,
        "-fsyntax-only",
        f"-I{tmp_path}",
        f"-I{COMMON}",
        *(f"-D{name}={value}" for name, value in sources.defines.items()),
        str(sources.source),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr


@pytest.fixture(scope="module")
def first_iteration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """qnn's XOR, one training iteration on cortex-m0plus in Q16.16 and float32: the build folder (its logs) and
    the results (its training logs)."""
    root = tmp_path_factory.mktemp("first")
    status = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q16.16,float32",
            "--variants",
            "trainable",
            "--max-iterations",
            "1",
            "--out",
            str(root / "out"),
            "--build-dir",
            str(root / "build"),
        ]
    )
    assert status == 0
    return root


def test_qbenchs_own_files_build_without_warnings(first_iteration):
    logs = sorted((first_iteration / "build").rglob("build.log"))
    assert any(log.parent.name == "baseline" for log in logs), logs
    own = re.compile(r"^(suite|targets)/.*: warning:", re.M)
    warnings = [line for log in logs for line in own.findall(log.read_text())]
    assert not warnings, warnings


@pytest.mark.parametrize("fmt_name", ["q16.16", "float32"])
def test_qnn_starts_from_qbenchs_initial_weights(first_iteration, fmt_name):
    # Logged as value x 2^16 in an int32 (float32's truncated toward zero), read back as value.
    log = pd.read_csv(
        first_iteration / "out" / "training" / f"xor_2-4-1-tanh-sigmoid_cortex-m0plus_{fmt_name}_trainable_Os.csv"
    )
    first = log[log["iteration"] == 0].iloc[0]
    fmt = parse_format(fmt_name)
    scale = 1 << 16
    expected = [
        int(weight * scale) if isinstance(weight, float) else weight for weight in initial_weights(fmt, (2, 4, 1))
    ]
    assert [int(first[f"w{index}"] * scale) for index in range(17)] == expected
