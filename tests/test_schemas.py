"""Every input file is read through a schema: a value out of range, a missing file or a repeated key is one
line naming the file, the key, the value and what is allowed; a malformed workload fails only itself."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from qbench.common.paths import SUITE, TARGETS, shown
from qbench.common.schemas import Schema, block_problem, first_row_problem, json_shown
from qbench.hardware.targets import TargetError, load_parts, load_targets
from qbench.images import workloads
from qbench.images.libraries import LibraryError, parse_library
from qbench.images.workloads import WORKLOADS, WorkloadError, Workloads
from qbench.models.classification import WorkloadFileError, read_description
from qbench.models.network import NetworkError, network_document, network_from_document

# ---- the shipped files -----------------------------------------------------------------------------------------


def test_every_shipped_file_loads():
    targets = load_targets()
    assert load_parts(targets)
    for path in sorted((SUITE / "workloads").glob("*/workload.toml")):
        assert read_description(path).name == path.parent.name
    assert [WORKLOADS[name].name for name in WORKLOADS] == list(WORKLOADS)
    assert {"xor", "iris", "digits"} <= set(WORKLOADS)


# ---- targets and parts -----------------------------------------------------------------------------------------


@pytest.fixture
def targets_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "targets"
    shutil.copytree(TARGETS, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


def target_problem(directory: Path) -> str:
    with pytest.raises(TargetError) as raised:
        load_targets(directory)
    return str(raised.value)


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "cores/cortex-m3.toml",
            "clock_hz = 72_000_000",
            "clock_hz = 0",
            "cores/cortex-m3.toml: 'clock_hz' is 0; allowed: > 0",
        ),
        (
            "families/cortex-m.toml",
            "max_format_bits = 32",
            "max_format_bits = -3",
            "families/cortex-m.toml: 'max_format_bits' is -3; allowed: >= 2 and <= 64",
        ),
        (
            "cores/host.toml",
            "max_format_bits = 64",
            "max_format_bits = 128",
            "cores/host.toml: 'max_format_bits' is 128; allowed: >= 2 and <= 64",
        ),
        (
            "cores/cortex-m3.toml",
            "flash_length = 0x400000",
            "flash_length = 0",
            "cores/cortex-m3.toml: 'memory.flash_length' is 0; allowed: > 0",
        ),
        (
            "cores/cortex-m3.toml",
            "ram_length = 0x400000",
            "ram_length = -4",
            "cores/cortex-m3.toml: 'memory.ram_length' is -4; allowed: > 0",
        ),
        (
            "cores/cortex-m3.toml",
            "ram_origin = 0x20000000",
            "ram_origin = -1",
            "cores/cortex-m3.toml: 'memory.ram_origin' is -1; allowed: >= 0 and <= 4294967295",
        ),
        (
            "cores/cortex-m3.toml",
            "ram_length = 0x400000",
            "ram_length = 0x800",
            "families/cortex-m.toml: 'memory.stack_size' is 4096; allowed: at most cortex-m3's memory.ram_length, 2048",
        ),
        (
            "cores/cortex-m3.toml",
            'board = "qemu-mps2-an385"',
            "board = 385",
            "cores/cortex-m3.toml: 'board' is 385; allowed: a string",
        ),
        (
            "families/cortex-m.toml",
            '"-Wall",',
            '"-Wall", 3,',
            "families/cortex-m.toml: 'cflags[8]' is 3; allowed: a string",
        ),
        (
            "cores/cortex-m3.toml",
            "[qemu]\n",
            "[qemu]\nspeed = 2\n",
            "cores/cortex-m3.toml: 'qemu.speed' is not a known key (known: machine, cpu)",
        ),
        (
            "cores/cortex-m3.toml",
            'family = "cortex-m"',
            'family = "riscv"',
            "cores/cortex-m3.toml: 'family' is 'riscv'; allowed: a file in",
        ),
        (
            "cores/cortex-m3.toml",
            'name = "cortex-m3"',
            'name = "m3"',
            "cores/cortex-m3.toml: 'name' is 'm3'; allowed: 'cortex-m3' (it must match the file name)",
        ),
        ("cores/cortex-m3.toml", "clock_hz = 72_000_000\n", "", "cores/cortex-m3.toml: 'clock_hz' is required"),
    ],
)
def test_a_bad_target_value_names_file_key_value_and_what_is_allowed(targets_copy, file, old, new, message):
    edit(targets_copy / file, old, new)
    assert message in target_problem(targets_copy)


def test_a_missing_linker_script_or_startup_file_is_named(targets_copy):
    edit(targets_copy / "families" / "cortex-m.toml", 'linker_script = "linker.ld.in"', 'linker_script = "gone.ld.in"')
    edit(targets_copy / "families" / "cortex-m.toml", '"startup/hardfault.cpp"', '"startup/gone.cpp"')
    problem = target_problem(targets_copy)
    assert "families/cortex-m.toml: 'linker_script' is 'gone.ld.in'; allowed: a file under" in problem
    assert "gone.ld.in does not exist" in problem
    assert "families/cortex-m.toml: 'startup[1]' is 'startup/gone.cpp'; allowed: a file under" in problem


@pytest.mark.parametrize(
    ("placeholder", "named"), [("$bad", "has $bad"), ("${bad}", "has ${bad}"), ("$1", "has a $ with no name after it")]
)
def test_a_linker_placeholder_qbench_does_not_fill_in_is_named_when_the_target_loads(targets_copy, placeholder, named):
    template = targets_copy / "linker.ld.in"
    line = next(number for number, text in enumerate(template.read_text().splitlines(), 1) if "__stack_limit =" in text)
    edit(template, "__stack_top - ${stack_size}", f"__stack_top - {placeholder}")
    problem = target_problem(targets_copy)
    assert (
        "families/cortex-m.toml: 'linker_script' is 'linker.ld.in'; allowed: a template using only $flash_origin, "
        "$flash_length, $ram_origin, $ram_length, $stack_size ($$ for a literal $)" in problem
    )
    assert f"linker.ld.in line {line} {named}" in problem


def test_a_family_problem_is_one_line_however_many_cores_use_it(targets_copy):
    edit(targets_copy / "families" / "cortex-m.toml", "max_format_bits = 32", "max_format_bits = 1")
    edit(targets_copy / "cores" / "cortex-m3.toml", "clock_hz = 72_000_000", "clock_hz = 0")
    lines = target_problem(targets_copy).splitlines()
    assert sum("'max_format_bits' is 1" in line for line in lines) == 1
    assert any(line.endswith("cores/cortex-m3.toml: 'clock_hz' is 0; allowed: > 0") for line in lines)
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "cortex-m3"\nname = "cortex-m3"\n', "cores/cortex-m3.toml: not valid TOML: a key is given twice"),
        ("[memory]\n[memory]\n", "cores/cortex-m3.toml: not valid TOML: a table is declared twice"),
    ],
)
def test_a_repeated_key_in_a_target_file_is_one_line(targets_copy, text, message):
    (targets_copy / "cores" / "cortex-m3.toml").write_text(text)
    assert message in target_problem(targets_copy)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("flash_kib = 16\n", "flash_kib = 0\n", "'STM32L011K4.flash_kib' is 0; allowed: > 0"),
        ("ram_kib = 2\n", "ram_kib = -2\n", "'STM32L011K4.ram_kib' is -2; allowed: > 0"),
        ("clock_mhz = 32\n", "clock_mhz = 0\n", "'STM32L011K4.clock_mhz' is 0; allowed: > 0"),
        ("clock_mhz = 32\n", "clock_mhz = 32.5\n", "'STM32L011K4.clock_mhz' is 32.5; allowed: a whole number"),
        ("ram_kib = 2\n", "ram_kib = 2\nram_kib = 4\n", "not valid TOML: a key is given twice"),
    ],
)
def test_a_bad_part_names_file_key_value_and_what_is_allowed(targets_copy, old, new, message):
    edit(targets_copy / "parts.toml", old, new)
    with pytest.raises(TargetError) as raised:
        load_parts(load_targets(targets_copy), targets_copy / "parts.toml")
    assert f"parts.toml: {message}" in str(raised.value)


# ---- workload files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("test_fraction = 0.3", "test_fraction = 0", "'data.test_fraction' is 0; allowed: > 0 and < 1"),
        ("test_fraction = 0.3", "test_fraction = 1.5", "'data.test_fraction' is 1.5; allowed: > 0 and < 1"),
        (
            'dataset = "iris"',
            'dataset = "mnist"',
            "'data.dataset' is 'mnist'; allowed: 'iris', 'digits', 'wine', 'breast_cancer', 'diabetes' or 'linnerud'",
        ),
        (
            'scaling = "standardize"',
            'scaling = "zscore"',
            "'data.scaling' is 'zscore'; allowed: 'standard', 'standardize', 'minmax', 'unit-range' or 'none'",
        ),
        ("split_seed = 1", "split_seed = -1", "'data.split_seed' is -1; allowed: >= 0"),
        ("hidden_neurons = 8", "hidden_neurons = 0", "'network.hidden_neurons' is 0; allowed: >= 1"),
        (
            'hidden_activation = "tanh"',
            'hidden_activation = "gelu"',
            "'network.hidden_activation' is 'gelu'; allowed: 'tanh', 'sigmoid', 'relu' or 'linear'",
        ),
        ("epochs = 300", "epochs = 0", "'training.epochs' is 0; allowed: >= 1"),
        ("batch_size = 16", "batch_size = 0", "'training.batch_size' is 0; allowed: >= 1"),
        ("learning_rate = 0.1", "learning_rate = nan", "'training.learning_rate' is nan; allowed: a finite number"),
        ("learning_rate = 0.1", "learning_rate = inf", "'training.learning_rate' is inf; allowed: a finite number"),
        ("learning_rate = 0.1", "learning_rate = 0", "'training.learning_rate' is 0; allowed: > 0"),
        ("momentum = 0.9", "momentum = 1", "'training.momentum' is 1; allowed: >= 0 and < 1"),
        ("momentum = 0.9", "momentum = -0.5", "'training.momentum' is -0.5; allowed: >= 0 and < 1"),
        ("\nseed = 1", "\nseed = -3", "'training.seed' is -3; allowed: >= 0"),
        ("\nseed = 1", "\nseed = 1.5", "'training.seed' is 1.5; allowed: a whole number"),
        ("\nseed = 1", "\nseed = 1\nseed = 2", "not valid TOML: a key is given twice"),
    ],
)
def test_a_bad_workload_value_names_file_key_value_and_what_is_allowed(tmp_path, old, new, message):
    path = tmp_path / "flowers" / "workload.toml"
    path.parent.mkdir()
    path.write_text((SUITE / "workloads" / "iris" / "workload.toml").read_text())
    edit(path, old, new)
    with pytest.raises(WorkloadFileError) as raised:
        read_description(path)
    assert str(raised.value).startswith(f"{shown(path)}: {message}")


@pytest.fixture
def workloads_copy(tmp_path: Path) -> Path:
    """suite/workloads with a malformed workload (a key missing), one with a repeated key, an empty
    workload.toml and a new folder without one."""
    root = tmp_path / "workloads"
    shutil.copytree(SUITE / "workloads", root)
    for read_at_start in ("libraries", "qnn"):  # qnn's descriptor is read, and its folders checked, at start
        shutil.copytree(SUITE / read_at_start, tmp_path / read_at_start)
    for name in ("missing", "repeated", "blank", "unfinished"):
        shutil.copytree(root / "iris", root / name)
    edit(root / "missing" / "workload.toml", "epochs = 300\n", "")
    edit(root / "repeated" / "workload.toml", "\nseed = 1\n", "\nseed = 1\nseed = 2\n")
    (root / "blank" / "workload.toml").write_text("")
    (root / "unfinished" / "workload.toml").unlink()
    return root


def test_workload_names_are_known_without_reading_any_file(workloads_copy, monkeypatch):
    read: list[Path] = []
    monkeypatch.setattr(workloads, "read_description", lambda path: read.append(path))
    mapping = Workloads(workloads_copy, {"xor": WORKLOADS["xor"]})
    assert list(mapping) == ["xor", "blank", "digits", "iris", "missing", "repeated"]
    assert "missing" in mapping and "unfinished" not in mapping and "common" not in mapping
    assert read == []


def test_a_malformed_workload_fails_only_itself(workloads_copy, monkeypatch):
    mapping = Workloads(workloads_copy, {"xor": WORKLOADS["xor"]})
    read: list[str] = []
    monkeypatch.setattr(
        workloads, "read_description", lambda path: read.append(path.parent.name) or read_description(path)
    )
    assert mapping["iris"].name == "iris" and mapping["xor"] is WORKLOADS["xor"]
    assert read == ["iris"]
    problems = {
        "missing": f"{shown(workloads_copy / 'missing' / 'workload.toml')}: 'training.epochs' is required",
        "repeated": f"{shown(workloads_copy / 'repeated' / 'workload.toml')}: not valid TOML: a key is given twice",
        "blank": f"{shown(workloads_copy / 'blank' / 'workload.toml')}: 'data' is required",
    }
    for name, message in problems.items():
        with pytest.raises(WorkloadError) as raised:
            mapping[name]
        assert str(raised.value).startswith(message)
    with pytest.raises(WorkloadError):  # still malformed when asked again: nothing half-read is kept
        mapping.get("missing")
    assert mapping["digits"].name == "digits"
    assert mapping.get("unfinished") is None


def test_qbench_starts_whatever_the_workload_files_hold(workloads_copy):
    """The real module, its suite folder pointed at the copy: importing qbench and --version read no workload."""
    suite = workloads_copy.parent
    script = (
        "import sys; from pathlib import Path; import qbench.common.paths\n"
        f"qbench.common.paths.SUITE = Path({str(suite)!r})\n"
        "from qbench.commands.cli import main\n"
        "from qbench.images.workloads import WORKLOADS, WorkloadError\n"
        "assert 'missing' in WORKLOADS and WORKLOADS['iris'].name == 'iris'\n"
        "try:\n    WORKLOADS['missing']\nexcept WorkloadError as error:\n    print(error, file=sys.stderr)\n"
        "main(['--version'])\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert re.fullmatch(r"qbench \S+\n", completed.stdout)
    assert completed.stderr == f"{shown(workloads_copy / 'missing' / 'workload.toml')}: 'training.epochs' is required\n"


# ---- network files and library descriptors ---------------------------------------------------------------------

GOOD_NETWORK = {
    "schema": "qbench-network/1",
    "inputs": 2,
    "hidden_layers": 1,
    "hidden_neurons": 2,
    "outputs": 1,
    "hidden_activation": "tanh",
    "output_activation": "sigmoid",
    "weights": [0.5] * 9,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inputs": 0}, "net.json: 'inputs' is 0; allowed: >= 1"),
        ({"hidden_layers": "1"}, "net.json: 'hidden_layers' is '1'; allowed: a whole number"),
        (
            {"output_activation": "softmax"},
            "net.json: 'output_activation' is 'softmax'; allowed: 'tanh', 'sigmoid', 'relu' or 'linear'",
        ),
        ({"weights": [0.5] * 8 + [math.inf]}, "net.json: 'weights[8]' is inf; allowed: a finite number"),
        ({"dropout": 0.1}, "net.json: 'dropout' is not a known key"),
    ],
)
def test_a_bad_network_file_names_the_key_value_and_what_is_allowed(change, message):
    assert network_document(network_from_document(GOOD_NETWORK, "net.json")) == GOOD_NETWORK
    with pytest.raises(NetworkError) as raised:
        network_from_document(json.loads(json.dumps({**GOOD_NETWORK, **change})), "net.json")
    assert str(raised.value).startswith(message)


def test_many_bad_values_are_the_first_few_lines():
    with pytest.raises(NetworkError) as raised:
        network_from_document({**GOOD_NETWORK, "weights": [math.nan] * 25}, "net.json")
    lines = str(raised.value).splitlines()
    assert lines[0] == "net.json: 'weights[0]' is nan; allowed: a finite number"
    assert len(lines) == 11 and lines[-1] == "... and 15 more problems"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'adapter = "a.hpp"\nsymbols = ["3d"]\n',
            "'symbols[0]' is '3d'; allowed: a C++ namespace ending in '::' (qnn::) or a C name prefix (eml_)",
        ),
        (
            'adapter = "a.hpp"\nsymbols = ["a::"]\ninclude_dirs = []\n',
            "'include_dirs' is []; allowed: a list of 1 or more",
        ),
        (
            'adapter = "a.hpp"\nsymbols = ["a::"]\n[defines]\nLUT = true\n',
            "'defines.LUT' is true; allowed: a string or a whole number",
        ),
        ('adapter = "a.hpp"\nadapter = "b.hpp"\n', "not valid TOML: a key is given twice"),
    ],
)
def test_a_bad_library_descriptor_names_file_key_value_and_what_is_allowed(tmp_path, text, message):
    (tmp_path / "qbench-library.toml").write_text(text)
    with pytest.raises(LibraryError) as raised:
        parse_library(f"mine={tmp_path}")
    assert str(raised.value).startswith(f"{shown(tmp_path / 'qbench-library.toml')}: {message}")


# ---- files qbench writes: the first problem, in one line ---------------------------------------------------------


class _Row(Schema):
    name: str
    size: int


class _Block(Schema):
    host: str
    tools: dict[str, str] = {}


def _errors(schema, document) -> list:
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(schema).validate_python(document)
    return refused.value.errors()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"name": "a", "size": 1}, 5], "row 1 is not an object"),
        ([{"name": "a", "size": 1}, {"colour": "red"}], "row 1 lacks name, size"),
        ([{"name": "a", "size": 1, "colour": "red", "shade": 2}], "row 0 has unknown columns colour, shade"),
        ([{"name": "a", "size": "12"}, {"name": 3}], 'row 0, column size: "12" is not a whole number'),
        (
            [{"name": "a", "size": 1}, {"name": "é" * 70, "size": None}],
            "row 1, column size: null is not a whole number",
        ),
    ],
)
def test_a_written_tables_first_bad_row_is_one_line_in_jsons_spelling(rows, message):
    expected = {"name": "a string", "size": "a whole number"}
    assert first_row_problem(_errors(list[_Row], rows), expected, lambda index: f"row {index}") == message


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ([], "'environment' must be an object holding host"),
        ({}, "environment lacks host"),
        ({"host": "h", "colour": "red"}, "environment has unknown keys colour"),
        ({"host": "h", "tools": {"g++": 12}}, "environment key tools.g++: 12 should be a valid string"),
    ],
)
def test_a_written_documents_block_is_refused_on_its_first_problem(block, message):
    assert block_problem(_errors(_Block, block), _Block, "environment") == message


def test_a_long_value_is_quoted_cut_short_as_json_spells_it():
    assert json_shown(None) == "null" and json_shown("12") == '"12"' and json_shown(True) == "true"
    assert json_shown("é" * 70) == '"' + "é" * 56 + "..."
