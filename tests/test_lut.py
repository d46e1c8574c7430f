"""The tanh/sigmoid lookup tables: C++ equals the Python model bit for bit, the
error against the exact functions stays within the documented bound, and a
table is linked only into images that use it."""

from __future__ import annotations

import math
import subprocess

import pytest

from host_build import REPO, compile_or_fail
from qbench.commands.cli import main as qbench_main
from qbench.models import lut
from qbench.models.qformat import parse_qformat

# Largest |LUT - exact| measured over the sweep below, per format: the table's
# own error (about 3.9e-4 for tanh, half that for sigmoid) plus the rounding of
# the result to the format (half a step).
ERROR_BOUNDS = {
    "q8.8": {"tanh": 2.2e-3, "sigmoid": 2.2e-3},
    "q1.15": {"tanh": 4.0e-4, "sigmoid": 2.0e-4},
    "q4.12": {"tanh": 4.8e-4, "sigmoid": 3.2e-4},
    "q16.16": {"tanh": 4.0e-4, "sigmoid": 2.0e-4},
}
EXACT = {"tanh": math.tanh, "sigmoid": lut.logistic}
MODEL = {"tanh": lut.tanh, "sigmoid": lut.sigmoid}


def sweep_range(name: str) -> range:
    """Every input of 16-bit formats; every 7th of Q16.16 within [-8, 8]."""
    fmt = parse_qformat(name)
    if fmt.storage_bits <= 16:
        return range(fmt.min_raw, fmt.max_raw + 1)
    return range(-8 << fmt.fractional_bits, (8 << fmt.fractional_bits) + 1, 7)


def cxx_sweep(driver, name: str, function: str, inputs: range) -> list[int]:
    return driver.integers(f"{name} half-up saturate {function}_sweep {inputs.start} {inputs.stop - 1} {inputs.step}")


@pytest.mark.parametrize("name", ["q4.4", "q8.8", "q4.12", "q1.15", "q16.16", "q32.32"])
def test_compile_time_entries_equal_the_model(driver, name):
    fmt = parse_qformat(name)
    assert driver.integers(f"{name} half-up saturate table") == list(lut.default_table(fmt.fractional_bits).entries)


@pytest.mark.parametrize("function", ["tanh", "sigmoid"])
@pytest.mark.parametrize("name", sorted(ERROR_BOUNDS))
def test_lookup_matches_model_and_stays_within_bound(driver, name, function):
    fmt = parse_qformat(name)
    inputs = sweep_range(name)
    device = cxx_sweep(driver, name, function, inputs)
    assert device == [MODEL[function](fmt, raw) for raw in inputs]
    scale = float(1 << fmt.fractional_bits)
    worst = max(abs(y / scale - EXACT[function](x / scale)) for x, y in zip(inputs, device, strict=True))
    assert worst <= ERROR_BOUNDS[name][function]
    # The bound is tight: it is what the table gives, not a loose guess.
    assert worst > ERROR_BOUNDS[name][function] * 0.9


@pytest.mark.parametrize("name", ["q4.4", "q24.8", "q3.4"])
@pytest.mark.parametrize("function", ["tanh", "sigmoid"])
def test_other_formats_match_the_model(driver, name, function):
    fmt = parse_qformat(name)
    inputs = sweep_range(name) if fmt.storage_bits <= 16 else range(fmt.min_raw, fmt.max_raw, 9973)
    assert cxx_sweep(driver, name, function, inputs) == [MODEL[function](fmt, raw) for raw in inputs]


def test_unsigned_sigmoid_matches_the_model(driver):
    fmt = parse_qformat("uq8.8")
    inputs = sweep_range("uq8.8")
    assert cxx_sweep(driver, "uq8.8", "sigmoid", inputs) == [lut.sigmoid(fmt, raw) for raw in inputs]


def test_tanh_is_odd_and_both_functions_rise(driver):
    inputs = sweep_range("q4.12")
    tanh = cxx_sweep(driver, "q4.12", "tanh", inputs)
    sigmoid = cxx_sweep(driver, "q4.12", "sigmoid", inputs)
    by_input = dict(zip(inputs, tanh, strict=True))
    assert all(by_input[-x] == -y for x, y in by_input.items() if -x in by_input)
    assert tanh == sorted(tanh) and sigmoid == sorted(sigmoid)


NETWORK_OBJECT = """
#include "qnn/qnn.hpp"
using V = qnn::QValue<16, 16, true>;
using TF = qnn::FixedPointTransferFunctions<V, qnn::XorshiftRandomNumberPolicy<V>,
                                            qnn::{hidden}<V>, qnn::{output}<V>>;
qnn::MultilayerPerceptron<V, 2, 1, 4, 1, TF, false> network;
void run(const V* inputs, V* outputs) {{ network.feedForward(inputs); network.getLearnedValues(outputs); }}
"""


def table_symbols(tmp_path, hidden: str, output: str) -> list[str]:
    source = tmp_path / f"{hidden}_{output}.cpp"
    source.write_text(NETWORK_OBJECT.format(hidden=hidden, output=output))
    obj = compile_or_fail([source], tmp_path / f"{hidden}_{output}.o", flags=("-Os",), object_only=True)
    symbols = subprocess.run(["nm", "-C", str(obj)], capture_output=True, text=True, check=True).stdout
    # Symbol names only: function names mention the table in their template arguments.
    return [line for line in symbols.splitlines() if line.split(maxsplit=2)[-1].startswith("qnn::TanhTable")]


def test_relu_only_network_links_no_table(tmp_path):
    assert table_symbols(tmp_path, "ReluActivationPolicy", "LinearActivationPolicy") == []


def test_tanh_and_sigmoid_share_one_table(tmp_path):
    symbols = table_symbols(tmp_path, "TanhActivationPolicy", "SigmoidActivationPolicy")
    assert len(symbols) == 1 and "entries" in symbols[0], symbols


def test_sigmoid_only_network_links_the_table_too(tmp_path):
    assert len(table_symbols(tmp_path, "ReluActivationPolicy", "SigmoidActivationPolicy")) == 1


def test_lut_command_prints_a_header_with_the_same_entries(tmp_path, capsys, driver):
    assert qbench_main(["lut", "--format", "q4.12", "--function", "sigmoid"]) == 0
    header = capsys.readouterr().out
    (tmp_path / "table.hpp").write_text(header)
    program = tmp_path / "dump.cpp"
    program.write_text(
        '#include <cstdio>\n#include "table.hpp"\n'
        'int main() { for (auto e : qnn_tanh_table_q4_12) std::printf("%u ", unsigned(e)); }\n'
    )
    executable = compile_or_fail([program], tmp_path / "dump", include_dirs=(tmp_path,))
    printed = subprocess.run([str(executable)], capture_output=True, text=True, check=True).stdout.split()
    assert [int(entry) for entry in printed] == driver.integers("q4.12 half-up saturate table")
    assert "Maximum |error|" in header


def test_lut_command_refuses_unsigned_tanh_and_bad_formats(capsys):
    for arguments in (["--format", "uq8.8", "--function", "tanh"], ["--format", "q16.-1", "--function", "tanh"]):
        with pytest.raises(SystemExit) as stopped:
            qbench_main(["lut", *arguments])
        assert stopped.value.code == 2
    errors = capsys.readouterr().err
    assert "uq8.8 is unsigned" in errors and "'q16.-1' is not a Q format" in errors


def test_default_table_documented_size():
    table = lut.default_table(16)
    assert (table.step_shift, table.input_limit, table.entry_count, table.size_bytes) == (4, 5, 81, 162)
    assert REPO.joinpath("suite/qnn/README.md").read_text().count("81 entries") >= 1
