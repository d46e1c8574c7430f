"""Host side of train-on-host, deploy-inference-only: data sets, float training, the network as
data, quantization with saturation counted, the bit-exact batch model, workload files, the report's
format and scaling tables, and the protocol and cache records of a classification run."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest

from qbench.common.codec import decode, encode
from qbench.common.paths import SUITE
from qbench.execution.emulate import CellRun, Emulated
from qbench.execution.protocol import ProtocolError, parse_report
from qbench.images.workloads import WORKLOADS, XOR_INPUTS, XOR_TARGETS, WorkloadSettings, c_literal, table_include
from qbench.models.classification import WorkloadFileError, host_network, read_description
from qbench.models.datasets import DatasetError, load_split, standardize, stratified_indices, unit_range
from qbench.models.network import (
    FloatNetwork,
    NetworkError,
    NetworkShape,
    from_layers,
    network_document,
    network_from_document,
    predictions,
    quantize,
    saturates,
)
from qbench.models.qformat import FLOAT32, QFormatError, parse_format, parse_qformat
from qbench.models.reference import ReferencePerceptron, forward_batch, weight_count
from qbench.models.training import Recipe, accuracy, one_hot, train
from qbench.orchestration.analyse import _mismatch
from qbench.records.results import ResultRow, Status, rows_frame
from qbench.reporting.analysis import fit_line, format_table, scaling_table

# ---- formats -------------------------------------------------------------------------------------------------


def test_float32_is_chosen_like_a_q_format():
    assert parse_format("float32") is FLOAT32 and parse_format(" Float32 ") is FLOAT32
    assert parse_format("q8.8") == parse_qformat("q8.8")
    assert FLOAT32.floating and not parse_qformat("q8.8").floating
    assert FLOAT32.report_fractional_bits == 16 and parse_qformat("q4.12").report_fractional_bits == 12
    with pytest.raises(QFormatError, match=r"'float16' is not a Q format.*\(or float32\)"):
        parse_format("float16")


# ---- data sets -----------------------------------------------------------------------------------------------


def test_splits_are_stratified_fixed_and_sized_as_documented():
    iris = load_split("iris", 0.3, 1, "standardize")
    assert (len(iris.train_labels), len(iris.test_labels), iris.features, iris.classes) == (105, 45, 4, 3)
    assert np.bincount(iris.test_labels).tolist() == [15, 15, 15]
    digits = load_split("digits", 0.3, 1, "unit-range")
    assert (len(digits.test_labels), digits.features, digits.classes) == (539, 64, 10)
    assert 0.0 <= digits.train_inputs.min() and digits.train_inputs.max() == 1.0
    train, test = stratified_indices(iris.train_labels, 0.3, 7)
    again_train, again_test = stratified_indices(iris.train_labels, 0.3, 7)
    assert train.tolist() == again_train.tolist() and test.tolist() == again_test.tolist()
    assert sorted([*train, *test]) == list(range(len(iris.train_labels)))


def test_scalings_use_the_training_split_only():
    train, test = np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[5.0, 7.0]])
    scaled_train, scaled_test = standardize(train, test)
    # mean (2, 5), std (1, 0 -> 1)
    assert scaled_train.tolist() == [[-1.0, 0.0], [1.0, 0.0]] and scaled_test.tolist() == [[3.0, 2.0]]
    unit_train, unit_test = unit_range(np.array([[0.0, 16.0]]), np.array([[8.0, 32.0]]))
    assert unit_train.tolist() == [[0.0, 1.0]] and unit_test.tolist() == [[0.5, 2.0]]


def test_unknown_data_set_or_scaling_says_what_is_known():
    with pytest.raises(DatasetError, match="unknown data set 'mnist' \\(known: iris, digits, wine, breast_cancer, "):
        load_split("mnist", 0.3, 1, "standardize")
    with pytest.raises(DatasetError, match="unknown input scaling 'zscore'"):
        load_split("iris", 0.3, 1, "zscore")


# ---- the network as data -------------------------------------------------------------------------------------


def test_shape_counts_connections_by_hand():
    assert NetworkShape(4, 1, 8, 3).connections == 8 * 5 + 3 * 9 == 67
    assert NetworkShape(2, 2, 3, 1).connections == 3 * 3 + 3 * 4 + 1 * 4 == 25
    assert NetworkShape(64, 1, 32, 10).name == "64-32-10 tanh/sigmoid"
    with pytest.raises(NetworkError, match="hidden_neurons must be at least 1"):
        NetworkShape(2, 1, 0, 1)
    with pytest.raises(NetworkError, match="unknown activation 'gelu'"):
        NetworkShape(2, 1, 4, 1, "gelu")


def test_flat_order_is_bias_first_per_neuron_layer_by_layer():
    shape = NetworkShape(2, 1, 2, 1, "linear", "linear")
    network = from_layers(
        shape, [(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, 0.25])), (np.array([[5.0, 6.0]]), np.array([-1.0]))]
    )
    assert network.weights == (0.5, 1.0, 2.0, 0.25, 3.0, 4.0, -1.0, 5.0, 6.0)
    # hidden = (0.5 + 1 + 2, 0.25 + 3 + 4) = (3.5, 7.25); output = -1 + 5 * 3.5 + 6 * 7.25 = 60
    assert network.forward(np.array([[1.0, 1.0]])).tolist() == [[60.0]]
    with pytest.raises(NetworkError, match="8 weights given; a 2-2-1 linear/linear network has 9"):
        FloatNetwork(shape, network.weights[:-1])


def test_network_document_round_trips_and_rejects_what_it_cannot_read():
    network = FloatNetwork(NetworkShape(2, 1, 2, 1), tuple(float(i) / 8 for i in range(9)))
    assert network_from_document(json.loads(json.dumps(network_document(network))), "f") == network
    with pytest.raises(NetworkError, match="f: not a qbench network file"):
        network_from_document({"schema": "other"}, "f")
    broken = {**network_document(network)}
    del broken["outputs"]
    with pytest.raises(NetworkError, match="f: 'outputs' is required"):
        network_from_document(broken, "f")
    with pytest.raises(NetworkError, match=r"f: 'weights\[0\]' is nan; allowed: a finite number"):
        network_from_document({**network_document(network), "weights": [math.nan] * 9}, "f")
    with pytest.raises(NetworkError, match="f: 3 weights given"):
        network_from_document({**network_document(network), "weights": [0.0] * 3}, "f")


def test_quantize_rounds_like_qvalue_and_counts_saturation():
    q4_4 = parse_qformat("q4.4")  # raw -128..127: -8.0 .. 7.9375 in steps of 1/16
    result = quantize([0.5, 0.03125, -0.03125, 7.9375, 7.96875, 9.0, -8.0, -8.5, 1.0 / 3.0], q4_4)
    # 0.03125 = half a step: rounds up to 1/16; -0.03125 rounds up to 0; 7.96875 rounds to 128: out of range.
    assert result.raw == (8, 1, 0, 127, 127, 127, -128, -128, 5)
    assert result.saturated == 3  # 7.96875, 9.0, -8.5
    assert result.max_error == pytest.approx(1.0 / 32.0)  # the half steps; 1/3 is 5/16 + 1/48
    assert saturates(q4_4, 7.96875) and not saturates(q4_4, -8.0) and not saturates(q4_4, 7.9375)


def test_predictions_take_the_first_largest_output():
    assert predictions(np.array([[1, 3, 3], [5, 4, 1], [0, 0, 0]])).tolist() == [1, 0, 0]


def test_table_literals_are_exact():
    assert c_literal(-3) == "-3" and c_literal(0.1) == f"{(0.1).hex()}f"
    assert float.fromhex(c_literal(float(np.float32(0.1)))[:-1]) == float(np.float32(0.1))
    assert table_include(list(range(10)), "x").splitlines()[1:] == ["0, 1, 2, 3, 4, 5, 6, 7,", "8, 9"]


# ---- training on the host ------------------------------------------------------------------------------------


def test_training_is_deterministic_and_learns():
    shape = NetworkShape(2, 1, 4, 1)
    recipe = Recipe(epochs=2000, learning_rate=0.5, momentum=0.9, batch_size=4, seed=3)
    first = train(shape, XOR_INPUTS, XOR_TARGETS, recipe)
    assert train(shape, XOR_INPUTS, XOR_TARGETS, recipe) == first
    assert np.abs(first.forward(XOR_INPUTS) - XOR_TARGETS).max() < 0.1
    assert train(shape, XOR_INPUTS, XOR_TARGETS, Recipe(epochs=1, seed=3)) != first


def test_the_committed_workloads_train_to_a_useful_accuracy():
    for name, least in (("iris", 0.9), ("digits", 0.95)):
        description = read_description(SUITE / "workloads" / name / "workload.toml")
        split = description.split()
        network = host_network(description, WORKLOADS[name].shape(WorkloadSettings(), None, None))
        assert accuracy(network, split.test_inputs, split.test_labels) >= least, name
        assert accuracy(network, split.train_inputs, split.train_labels) >= least, name


def test_one_hot():
    assert one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]


# ---- workload files ------------------------------------------------------------------------------------------

GOOD_FILE = """
[data]
dataset = "iris"
test_fraction = 0.3
split_seed = 1
scaling = "standardize"
[network]
hidden_layers = 1
hidden_neurons = 8
hidden_activation = "tanh"
output_activation = "sigmoid"
[training]
epochs = 10
learning_rate = 1
momentum = 0.9
batch_size = 16
seed = 1
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda text: text.replace("[training]", "[train]"), "'training' is required"),
        (lambda text: text.replace("seed = 1\n", "seed = 1\nshuffle = true\n", 1), "'data.shuffle' is not a known key"),
        (lambda text: text.replace("epochs = 10", 'epochs = "ten"'), "'training.epochs' is 'ten'; allowed: a whole"),
        (lambda text: text.replace("test_fraction = 0.3", "test_fraction = true"), "'data.test_fraction' is true"),
        (lambda text: text.replace('dataset = "iris"', "dataset = iris"), "workload.toml: not valid TOML: Invalid"),
    ],
)
def test_workload_files_name_what_is_wrong(tmp_path, change, message):
    path = tmp_path / "flowers" / "workload.toml"
    path.parent.mkdir()
    path.write_text(GOOD_FILE)
    description = read_description(path)
    assert (description.name, description.recipe.learning_rate, description.hidden_neurons) == ("flowers", 1.0, 8)
    path.write_text(change(GOOD_FILE))
    with pytest.raises(WorkloadFileError, match=message.replace("[", "\\[").replace("]", "\\]")):
        read_description(path)


def test_classification_rejects_what_it_cannot_deploy():
    iris = WORKLOADS["iris"]
    shape = iris.shape(WorkloadSettings(), None, None)
    assert "trains on the host" in iris.rejection(parse_qformat("q8.8"), True, WorkloadSettings(), shape)
    assert "unsigned" in iris.rejection(parse_qformat("uq8.8"), False, WorkloadSettings(), shape)
    assert "no fractional bits" in iris.rejection(parse_qformat("q16.0"), False, WorkloadSettings(), shape)
    assert iris.rejection(FLOAT32, False, WorkloadSettings(), shape) is None
    assert shape.name == "4-8-3 tanh/sigmoid"
    assert (
        iris.shape(
            WorkloadSettings(hidden_activation="relu"),
            2,
            16,
        ).name
        == "4-16-16-3 relu/sigmoid"
    )
    wrong = FloatNetwork(NetworkShape(5, 1, 2, 3), (0.0,) * NetworkShape(5, 1, 2, 3).connections)
    with pytest.raises(NetworkError, match="iris has 4 inputs and 3 classes; the network 5-2-3"):
        iris.shape(WorkloadSettings(model=wrong), None, None)
    with pytest.raises(NetworkError, match="--model is for the classification workloads"):
        WORKLOADS["xor"].shape(WorkloadSettings(model=wrong), None, None)


def test_host_figures_of_a_deployed_network():
    iris = WORKLOADS["iris"]
    settings = WorkloadSettings()
    shape = iris.shape(settings, None, None)
    q1_15 = iris.host_figures(parse_qformat("q1.15"), False, settings, shape)
    q8_8 = iris.host_figures(parse_qformat("q8.8"), False, settings, shape)
    assert q1_15.connections == q8_8.connections == 67
    assert q8_8.weights_saturated == 0 and q1_15.weights_saturated > 0 and q1_15.inputs_saturated > 0
    assert q8_8.accuracy_float_host == q1_15.accuracy_float_host > 0.9
    assert len(q8_8.expected_predictions) == 45
    assert iris.host_figures(FLOAT32, False, settings, shape).expected_predictions is None


# ---- the bit-exact batch model -------------------------------------------------------------------------------


# Narrow weights too (q8.8w2.6 and the like: sums at 2^-(F+G)).
@pytest.mark.parametrize(
    "fmt_name",
    [
        "q16.16",
        "q8.8",
        "q4.12",
        "q1.15",
        "q24.8",
        "q32.32",
        "q4.4",
        "q8.8w2.6",
        "q16.16w2.14",
        "q16.16w8.8",
        "q4.4w2.6",
        "q32.32w4.28",
    ],
)
def test_batch_model_equals_the_network_model_bit_for_bit(fmt_name):
    fmt = parse_qformat(fmt_name)
    stored = fmt.weight_format
    generator = random.Random(fmt_name)
    for sizes, hidden, output in (((4, 8, 3), "tanh", "sigmoid"), ((3, 5, 5, 2), "relu", "linear")):
        weights = [
            generator.randint(stored.min_raw, stored.max_raw) // generator.choice([1, 4, 64])
            for _ in range(weight_count(sizes))
        ]
        inputs = [
            [generator.randint(fmt.min_raw, fmt.max_raw) // generator.choice([1, 16]) for _ in range(sizes[0])]
            for _ in range(12)
        ]
        batch = forward_batch(fmt, sizes, hidden, output, weights, np.array(inputs, dtype=object))
        for row, outputs in zip(inputs, batch, strict=True):
            single = ReferencePerceptron(fmt, sizes, hidden, output, list(weights)).feed_forward(row)
            assert single == [int(value) for value in outputs]


# ---- tables --------------------------------------------------------------------------------------------------


def test_fit_line_by_hand():
    line = fit_line([1.0, 2.0, 3.0], [2.0, 4.0, 6.5])
    # mean x 2, mean y 12.5/3; slope = (-1 * (2 - 12.5/3) + 1 * (6.5 - 12.5/3)) / 2 = 2.25
    assert line.slope == pytest.approx(2.25) and line.intercept == pytest.approx(12.5 / 3 - 4.5)
    # residuals 1/12, -1/6, 1/12 square to 1/24, of a total 61/6 about the mean -> R^2 = 1 - 1/244
    assert line.r_squared == pytest.approx(1 - 1 / 244)
    assert fit_line([10.0, 20.0], [5.0, 5.0]) == fit_line([10.0, 20.0], [5.0, 5.0])
    assert fit_line([10.0, 20.0], [5.0, 5.0]).r_squared is None
    with pytest.raises(ValueError, match="two distinct x"):
        fit_line([3.0, 3.0], [1.0, 2.0])


def _row(qformat: str, connections: int, flash: int, instructions: float, **columns) -> ResultRow:
    return ResultRow(
        core="cortex-m0plus",
        board="b",
        qformat=qformat,
        variant="inference",
        opt="Os",
        workload="iris",
        network=f"4-{connections}-3 tanh/sigmoid",
        status="ok",
        connections=connections,
        lib_flash=flash,
        lib_ram_static=10,
        instr_forward=instructions,
        qemu="qemu",
        **columns,
    )


def test_scaling_table_fits_cost_per_connection():
    rows = rows_frame(
        [
            _row("q8.8", 100, 1300, 1500.0, test_data_bytes=100),
            _row("q8.8", 300, 1700, 4500.0, test_data_bytes=100),
            _row("q16.16", 100, 2000, 900.0),
        ]
    )
    table = scaling_table(rows)
    assert len(table) == 1  # q16.16 ran at one size only
    line = table.iloc[0]
    # deployed flash 1200 -> 1600 over 200 connections: 2 B each, 1000 fixed; 15 instructions each, 0 fixed
    assert (line.flash_per_connection, line.flash_fixed) == (pytest.approx(2.0), pytest.approx(1000.0))
    assert (line.instructions_per_connection, line.instructions_fixed) == (pytest.approx(15.0), pytest.approx(0.0))
    assert line.connections == "100-300" and line.networks == 2


def test_format_table_sets_each_format_against_float32():
    rows = rows_frame(
        [
            _row("q8.8", 67, 1200, 500.0, test_data_bytes=200, accuracy_device=0.9, accuracy_float_host=0.95),
            _row("float32", 67, 4200, 5000.0, test_data_bytes=200, accuracy_device=0.95, accuracy_float_host=0.95),
        ]
    )
    table = format_table(rows).set_index("qformat")
    assert table.loc["q8.8", "deployed_flash"] == 1000 and table.loc["q8.8", "flash_vs_float"] == pytest.approx(0.25)
    assert table.loc["q8.8", "instr_vs_float"] == pytest.approx(0.1) and table.loc["float32", "flash_vs_float"] == 1
    alone = format_table(rows[rows["qformat"] == "q8.8"])
    assert alone["flash_vs_float"].isna().all()


def test_mismatch_names_the_first_differing_sample():
    assert _mismatch((0, 1, 2), (0, 1, 2)) is None
    assert _mismatch((0, 2, 2, 1), (0, 1, 2, 0)) == (
        "2 of 4 predictions differ from qnn's bit-exact model, first test sample 1: device class 2, model class 1"
    )


# ---- protocol and cache --------------------------------------------------------------------------------------

CLASSIFIED = """begin workload=iris qformat=q8.8 variant=inference
predictions classes=0,2,1
classified correct=2 total=3
end status=0
stack peak_bytes=200 size_bytes=4096 overflow=0
"""


def test_a_classification_report_parses_and_survives_the_cache():
    report = parse_report(CLASSIFIED)
    assert report.classification.predictions == (0, 2, 1) and report.classification.correct == 2
    assert report.learned is None and report.stack.peak_bytes == 200
    run = CellRun(Emulated(Status.OK, "", report), None, "")
    assert decode(CellRun, json.loads(json.dumps(encode(run)))) == run


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CLASSIFIED.replace("total=3", "total=4"), "correct=2 total=4 with 3 predictions"),
        (CLASSIFIED.replace("predictions classes=0,2,1\n", ""), "expected one 'predictions' record, found 0"),
        (CLASSIFIED + "result learned=1 iterations=0 final_error=0 outputs=\n", "one of a 'result', a 'classified'"),
    ],
)
def test_malformed_classification_reports_say_why(text, message):
    with pytest.raises(ProtocolError, match=message):
        parse_report(text)


def test_frame_columns_for_classification():
    frame = rows_frame([_row("q8.8", 67, 1, 1.0, accuracy_device=0.5, matches_reference=True, weights_saturated=2)])
    assert frame["weights_saturated"].dtype == "Int64" and frame["matches_reference"].dtype == "boolean"
    assert isinstance(frame, pd.DataFrame)


def test_the_quantization_error_is_the_largest_output_difference():
    from qbench.models.classification import quantization_error

    raw = [[256, 128], [-64, 0]]  # Q8.8: 1.0, 0.5; -0.25, 0.0
    floats = [[0.999, 0.5], [-0.25, 0.003]]
    assert quantization_error(raw, floats, 8) == pytest.approx(0.003)
