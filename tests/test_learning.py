"""An honest learning verdict (qbench.models.learning): the device's final XOR weights re-evaluated in exact arithmetic,
and the `learned_exact` column with the message of a run learned only through overflow."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from library_copies import qnn_copy
from qbench.commands.cli import main as qbench_main
from qbench.execution.protocol import TrainingLogEntry, WorkloadReport
from qbench.hardware.targets import load_targets
from qbench.images.matrix import Cell, Variant
from qbench.images.workloads import WORKLOADS
from qbench.models.learning import (
    exact_outputs,
    exact_sigmoid,
    exact_xor_verdict,
    final_raw_weights,
    learned_only_through_overflow,
    overflow_message,
    scaled_weights,
    within_tolerance,
)
from qbench.models.network import NetworkShape
from qbench.models.qformat import FLOAT32, parse_qformat
from qbench.orchestration.analyse import _xor_figures
from qbench.records.results import read_results

XOR_SHAPE = NetworkShape(2, 1, 4, 1)  # 2-4-1 tanh/sigmoid, 17 weights
# 2-2-1 relu/linear: h1 = relu(x1 - x2), h2 = relu(x2 - x1), output = h1 + h2 is XOR exactly.
# setWeights order: per neuron bias first, then one weight per input.
RELU_XOR_SHAPE = NetworkShape(2, 1, 2, 1, "relu", "linear")
RELU_XOR_RAW_Q8_8 = (0, 256, -256, 0, -256, 256, 0, 256, 256)


def test_scaled_weights_are_raw_times_two_to_the_minus_f():
    # 256 / 2^8 = 1, -128 / 2^8 = -0.5, 1 / 2^8 = 0.00390625, 3 / 2^0 = 3.
    assert scaled_weights((256, -128, 1), 8) == (1.0, -0.5, 0.00390625)
    assert scaled_weights((3,), 0) == (3.0,)


def test_exact_sigmoid_without_overflow_at_the_ends():
    assert exact_sigmoid(0.0) == 0.5
    # sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4; sigmoid(-ln 3) = (1/3) / (1 + 1/3) = 1/4.
    assert exact_sigmoid(math.log(3)) == pytest.approx(0.75, abs=1e-15)
    assert exact_sigmoid(-math.log(3)) == pytest.approx(0.25, abs=1e-15)
    # e^1000 overflows a float: neither branch computes it.
    assert exact_sigmoid(1000.0) == 1.0 and exact_sigmoid(-1000.0) == 0.0


def test_exact_outputs_follow_qnns_weight_order_bias_first():
    shape = NetworkShape(2, 1, 1, 1, "linear", "linear")  # weights: hidden bias, w1, w2; output bias, w
    weights = (0.5, 1.0, 2.0, -1.0, 3.0)
    # (1, 0): hidden = 0.5 + 1*1 + 2*0 = 1.5; output = -1 + 3 * 1.5 = 3.5
    assert exact_outputs(shape, weights, (1, 0)) == (3.5,)
    # (0, 1): hidden = 0.5 + 2 = 2.5; output = -1 + 3 * 2.5 = 6.5
    assert exact_outputs(shape, weights, (0, 1)) == (6.5,)


def test_exact_outputs_with_tanh_and_sigmoid():
    shape = NetworkShape(2, 1, 1, 1)  # tanh hidden, sigmoid output
    half_ln3 = math.log(3) / 2
    weights = (0.0, half_ln3, half_ln3, 0.0, 1.25 * math.log(3))
    # (0, 0): hidden tanh(0) = 0; output sigmoid(0) = 0.5
    assert exact_outputs(shape, weights, (0, 0)) == (0.5,)
    # (1, 1): hidden tanh(ln 3) = (3 - 1/3) / (3 + 1/3) = 0.8; output sigmoid(1.25 ln 3 * 0.8) = sigmoid(ln 3) = 0.75
    assert exact_outputs(shape, weights, (1, 1))[0] == pytest.approx(0.75, abs=1e-12)


def test_within_tolerance_is_the_devices_rule():
    assert within_tolerance((0.1, 0.9, 0.95, 0.0), (0, 1, 1, 0))  # 0.1 away is still learned
    assert not within_tolerance((0.1001, 1.0, 1.0, 0.0), (0, 1, 1, 0))


def test_a_hand_made_xor_solution_is_learned_in_exact_arithmetic():
    verdict = exact_xor_verdict(RELU_XOR_SHAPE, RELU_XOR_RAW_Q8_8, 8)
    # Patterns (0,0), (1,0), (0,1), (1,1): relu(0)+relu(0)=0, relu(1)+relu(-1)=1, relu(-1)+relu(1)=1, 0+0=0.
    assert verdict.outputs == (0.0, 1.0, 1.0, 0.0) and verdict.learned


def test_zero_weights_are_not_learned_in_exact_arithmetic():
    # Every hidden neuron is tanh(0) = 0, so every output is sigmoid(0) = 0.5: 0.5 away from every target.
    verdict = exact_xor_verdict(XOR_SHAPE, (0,) * 17, 8)
    assert verdict.outputs == (0.5, 0.5, 0.5, 0.5) and not verdict.learned


def test_final_weights_are_the_last_log_entrys_only_at_the_last_iteration():
    log = [(0, (1, 2)), (10, (3, 4))]
    assert final_raw_weights(log, 10) == (3, 4)
    assert final_raw_weights(log, 13) is None  # logged every 10: iteration 13's weights were never reported
    assert final_raw_weights([], 0) is None


def test_overflow_is_device_right_and_exact_wrong():
    assert learned_only_through_overflow(device_right=True, exact_right=False)
    assert not learned_only_through_overflow(device_right=True, exact_right=True)
    assert not learned_only_through_overflow(device_right=False, exact_right=False)
    assert not learned_only_through_overflow(device_right=False, exact_right=True)


def test_overflow_message_lists_four_outputs_to_three_decimals():
    assert overflow_message((0.5, 0.12345, 1.0, 0.0)) == (
        "learned only through overflow: exact arithmetic on the device's final weights gives outputs "
        "0.500,0.123,1.000,0.000"
    )


# --- the results column, from a report built by hand ---------------------------------------------------------


def _cell(fmt, variant: Variant, shape: NetworkShape = XOR_SHAPE) -> Cell:
    return Cell(load_targets()["cortex-m0plus"], WORKLOADS["xor"], fmt, variant, "Os", shape)


def _xor_report(learned: bool, iterations: int, log: tuple[TrainingLogEntry, ...], variant="trainable"):
    return WorkloadReport("xor", "q8.8", variant, learned, iterations, 0, (0, 256, 256, 0), log, 0, None)


def test_a_device_that_learned_on_weights_exact_arithmetic_rejects_learned_only_through_overflow():
    # Chosen weights, not a device run: all 17 weights 0 give exact outputs 0.5 each (see above), while the
    # report says the device learned. That is the verdict a wrapping library's run gets.
    report = _xor_report(True, 40, (TrainingLogEntry(30, 200, (5,) * 17), TrainingLogEntry(40, 20, (0,) * 17)))
    figures, note = _xor_figures(_cell(parse_qformat("q8.8"), Variant.TRAINABLE), report, None)
    assert figures.learned is True and figures.learned_exact is False and figures.matches_reference is None
    assert note == (
        "learned only through overflow: exact arithmetic on the device's final weights gives "
        "outputs 0.500,0.500,0.500,0.500"
    )


def test_a_device_that_learned_on_weights_that_solve_xor_has_no_note():
    report = _xor_report(True, 7, (TrainingLogEntry(7, 0, RELU_XOR_RAW_Q8_8),))
    cell = _cell(parse_qformat("q8.8"), Variant.TRAINABLE, RELU_XOR_SHAPE)
    figures, note = _xor_figures(cell, report, None)
    assert figures.learned_exact is True and note == ""


def test_a_run_that_did_not_learn_is_not_an_overflow():
    report = _xor_report(False, 40, (TrainingLogEntry(40, 128, (0,) * 17),))
    figures, note = _xor_figures(_cell(parse_qformat("q8.8"), Variant.TRAINABLE), report, None)
    assert figures.learned_exact is False and note == ""


def test_no_verdict_without_final_weights_or_for_float():
    unlogged = _xor_report(False, 45, (TrainingLogEntry(40, 128, (0,) * 17),))  # the last 5 iterations unlogged
    figures, _ = _xor_figures(_cell(parse_qformat("q8.8"), Variant.TRAINABLE), unlogged, None)
    assert figures.learned is False and figures.learned_exact is None
    figures, _ = _xor_figures(_cell(FLOAT32, Variant.INFERENCE), _xor_report(True, 0, (), "inference"), None)
    assert figures.learned is True and figures.learned_exact is None


# --- qnn's own runs -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qnn_xor_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("learning")
    status = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q16.16,q8.8",
            "--out",
            str(root / "out"),
            "--build-dir",
            str(root / "build"),
        ]
    )
    return status, read_results(root / "out").rows


def test_qnns_xor_runs_learn_in_exact_arithmetic(qnn_xor_run):
    status, rows = qnn_xor_run
    assert status == 0
    assert sorted(zip(rows["qformat"], rows["variant"], strict=True)) == [
        ("q16.16", "inference"),
        ("q16.16", "trainable"),
        ("q8.8", "inference"),
        ("q8.8", "trainable"),
    ]
    assert (rows["status"] == "ok").all() and rows["learned"].all()
    assert rows["learned_exact"].tolist() == [True] * 4
    assert not rows["message"].str.contains("overflow").any()


# --- a library that learns only through overflow ----------------------------------------------------------------

WRAPPING_DESCRIPTOR = Path(__file__).parent / "libraries" / "wrapping" / "qbench-library.toml"


def wrapping_qnn(root: Path) -> Path:
    """qnn's headers and adapter under root in namespace wrappingnn, QValue wrapping on overflow by default, with
    the descriptor of tests/libraries/wrapping (weight seed 2)."""
    qnn_copy(root, "wrappingnn")
    qvalue = root / "include" / "qnn" / "qvalue.hpp"
    saturating_default = "typename OverflowPolicy = Saturate>"
    assert qvalue.read_text().count(saturating_default) == 1
    qvalue.write_text(qvalue.read_text().replace(saturating_default, "typename OverflowPolicy = Wrap>"))
    shutil.copy(WRAPPING_DESCRIPTOR, root / "qbench-library.toml")
    return root


def test_a_wrapping_librarys_xor_run_learned_only_through_overflow(tmp_path):
    library = wrapping_qnn(tmp_path / "wrapping")
    # --initial-weights library: each library from its own generator, the copy's seeded 2 by its descriptor.
    status = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q8.8",
            "--variants",
            "trainable",
            "--initial-weights",
            "library",
            "--library",
            f"wrapping={library}",
            "--out",
            str(tmp_path / "out"),
            "--build-dir",
            str(tmp_path / "build"),
        ]
    )
    assert status == 0
    rows = read_results(tmp_path / "out").rows.set_index("library")
    assert rows.loc["qnn", "learned_exact"] and rows.loc["qnn", "message"] == ""
    wrapping = rows.loc["wrapping"]
    assert wrapping["status"] == "ok" and wrapping["learned"] and not wrapping["learned_exact"]
    # The device's own outputs are right (its (1, 1) output is 0.094 after wrap-around), exact ones are not.
    assert wrapping["message"].startswith(
        "learned only through overflow: exact arithmetic on the device's final weights gives outputs "
    )
    exact = [float(value) for value in wrapping["message"].rsplit(" ", 1)[1].split(",")]
    assert len(exact) == 4 and abs(exact[3] - 0.0) > 0.1
