"""Weights in their own narrower format (q8.8w2.6) through qbench: the macros an image gets, the weights it
deploys (quantized into the weight format, saturation counted against it), what the device must answer, the
cells the matrix builds, rejects or leaves out, the library descriptor's `narrow_weights`, and import-torch's
weights files. (Device images: the C++ side's tests.)"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qbench.common.paths import SUITE
from qbench.hardware.targets import load_targets
from qbench.images.libraries import LibraryError, Supports, load_library
from qbench.images.matrix import QNN, MatrixRequest, Variant, expand
from qbench.images.torch_import import weights_file, write_network
from qbench.images.workloads import (
    WORKLOADS,
    WorkloadSettings,
    format_defines,
    trained_xor_weights,
    xor_weights_saturated,
)
from qbench.models.classification import deploy, host_network, read_description
from qbench.models.network import FloatNetwork, NetworkShape, quantize
from qbench.models.qformat import QFormat, parse_qformat, rescale, saturate
from qbench.models.reference import ReferencePerceptron

NARROW = parse_qformat("q8.8w2.6")
Q8 = parse_qformat("q8.8")
Q2_6 = QFormat(2, 6)
NARROW_QNN = replace(QNN, supports=Supports(narrow_weights=True))
VALUES_QNN = replace(QNN, supports=Supports(narrow_weights=False))
TRAINING_REASON = "narrow weights are for inference-only networks: training updates weights at the values' resolution"


# ---- the image's macros --------------------------------------------------------------------------------------


def test_narrow_weights_add_the_weight_format_macros():
    assert format_defines(NARROW) == {
        "QBENCH_Q_INTEGER_BITS": "8",
        "QBENCH_Q_FRACTIONAL_BITS": "8",
        "QBENCH_Q_SIGNED": "1",
        "QBENCH_W_INTEGER_BITS": "2",
        "QBENCH_W_FRACTIONAL_BITS": "6",
        "QBENCH_FORMAT_NAME": '"q8.8w2.6"',
    }


def test_formats_without_their_own_weights_get_the_macros_they_always_had():
    assert format_defines(Q8) == {
        "QBENCH_Q_INTEGER_BITS": "8",
        "QBENCH_Q_FRACTIONAL_BITS": "8",
        "QBENCH_Q_SIGNED": "1",
        "QBENCH_FORMAT_NAME": '"q8.8"',
    }
    assert format_defines(parse_qformat("q8.8w8.8")) == format_defines(Q8)


# ---- classification: deployed weights and the predictions the device must make ------------------------------


@pytest.fixture(scope="module")
def iris():
    workload = WORKLOADS["iris"]
    settings = WorkloadSettings()
    shape = workload.shape(settings, None, None)
    description = read_description(SUITE / "workloads" / "iris" / "workload.toml")
    return workload, settings, shape, description, host_network(description, shape)


def test_classification_deploys_weights_in_the_weight_format(iris):
    workload, settings, shape, description, network = iris
    narrow, plain = deploy(description, NARROW, network), deploy(description, Q8, network)
    assert narrow.weights == quantize(network.weights, Q2_6).raw
    assert all(Q2_6.min_raw <= weight <= Q2_6.max_raw for weight in narrow.weights)
    # Saturation counted against q2.6's raw range (x 64, rounded half up), the inputs still quantized to q8.8.
    assert narrow.weights_saturated == sum(not -128 <= math.floor(w * 64 + 0.5) <= 127 for w in network.weights) > 0
    assert narrow.test_inputs == plain.test_inputs and narrow.inputs_saturated == plain.inputs_saturated
    assert narrow.accuracy_float_host == plain.accuracy_float_host


def test_classification_expects_the_models_predictions_with_narrow_weights(iris):
    workload, settings, shape, description, network = iris
    deployment = deploy(description, NARROW, network)
    model = ReferencePerceptron(
        NARROW, shape.layer_sizes, shape.hidden_activation, shape.output_activation, list(deployment.weights)
    )
    rows = np.array(deployment.test_inputs).reshape(len(deployment.test_labels), -1)
    expected = [int(np.argmax(model.feed_forward([int(x) for x in row]))) for row in rows]
    assert list(deployment.expected_predictions) == expected


def test_a_classification_image_carries_the_weight_format_and_its_raw_weights(iris):
    workload, settings, shape, description, network = iris
    sources = workload.configure(NARROW, False, settings, shape)
    assert sources.defines["QBENCH_W_FRACTIONAL_BITS"] == "6" and sources.defines["QBENCH_W_INTEGER_BITS"] == "2"
    assert sources.weights == deploy(description, NARROW, network).weights
    figures = workload.host_figures(NARROW, False, settings, shape)
    assert figures.weights_saturated == deploy(description, NARROW, network).weights_saturated
    assert workload.rejection(NARROW, False, settings, shape) is None


# ---- xor: trained in the values' format, then stored in the weights' ------------------------------------------


def test_xor_inference_deploys_its_trained_weights_rounded_into_the_weight_format():
    shape = WORKLOADS["xor"].shape(WorkloadSettings(), None, None)
    trained = trained_xor_weights(Q8, shape)
    narrow = trained_xor_weights(NARROW, shape)
    assert narrow == tuple(saturate(Q2_6, rescale(Q8, Q2_6, weight)) for weight in trained)
    # Each q8.8 raw value is 4 steps of q2.6's: raw / 4 rounded half up, or the end of [-128, 127].
    assert all(w == min(max((t + 2) >> 2, -128), 127) for w, t in zip(narrow, trained, strict=True))
    assert xor_weights_saturated(NARROW, shape) == sum(not -128 <= (t + 2) >> 2 <= 127 for t in trained)


def test_xor_inference_reports_its_saturated_weights_only_with_narrow_weights():
    xor = WORKLOADS["xor"]
    settings = WorkloadSettings()
    shape = xor.shape(settings, None, None)
    assert xor.host_figures(NARROW, False, settings, shape).weights_saturated == xor_weights_saturated(NARROW, shape)
    assert xor.host_figures(Q8, False, settings, shape).weights_saturated is None
    assert xor.host_figures(Q8, True, settings, shape).weights_saturated is None
    sources = xor.configure(NARROW, False, settings, shape)
    assert sources.weights == trained_xor_weights(NARROW, shape) and sources.defines["QBENCH_W_INTEGER_BITS"] == "2"


# ---- the matrix ------------------------------------------------------------------------------------------------


def test_trainable_cells_with_narrow_weights_are_invalid_and_inference_cells_built():
    matrix = expand(
        load_targets(),
        WORKLOADS,
        MatrixRequest(
            cores=("cortex-m4",),
            formats=("q8.8w2.6", "q8.8"),
            variants=("trainable", "inference"),
            libraries=(NARROW_QNN,),
        ),
    )
    assert {(cell.fmt.name, cell.variant) for cell in matrix.cells} == {
        ("q8.8w2.6", Variant.INFERENCE),
        ("q8.8", Variant.TRAINABLE),
        ("q8.8", Variant.INFERENCE),
    }
    (rejected,) = matrix.rejected
    assert (rejected.cell.fmt.name, rejected.cell.variant) == ("q8.8w2.6", Variant.TRAINABLE)
    assert rejected.reason == f"q8.8w2.6 has weights in their own format; {TRAINING_REASON}"
    assert not matrix.problems and not matrix.notes


def test_a_library_without_narrow_weights_leaves_those_cells_out_with_a_note():
    request = MatrixRequest(
        cores=("cortex-m4",),
        formats=("q8.8w2.6", "q16.16w8.8", "q8.8"),
        variants=("inference",),
        libraries=(VALUES_QNN,),
    )
    matrix = expand(load_targets(), WORKLOADS, request)
    assert [cell.fmt.name for cell in matrix.cells] == ["q8.8"] and not matrix.rejected and not matrix.problems
    assert matrix.notes == (
        "qnn stores weights as values: no q8.8w2.6, q16.16w8.8 cells (qnn's qbench-library.toml "
        "[supports] narrow_weights = false)",
    )


def test_narrow_weights_alone_do_not_turn_into_float32_for_a_library_of_q_formats():
    matrix = expand(
        load_targets(),
        WORKLOADS,
        MatrixRequest(cores=("cortex-m4",), formats=("q8.8w2.6",), variants=("inference",), libraries=(VALUES_QNN,)),
    )
    assert matrix.cells == () and len(matrix.notes) == 1


def test_a_float_only_library_names_narrow_weights_among_the_q_formats_it_lacks():
    floaty = replace(QNN, name="floaty", supports=Supports(fixed_point=False, training=False))
    matrix = expand(
        load_targets(),
        WORKLOADS,
        MatrixRequest(
            cores=("cortex-m4",), formats=("q8.8w2.6",), variants=("inference",), libraries=(NARROW_QNN, floaty)
        ),
    )
    assert [(cell.library.name, cell.fmt.name) for cell in matrix.cells] == [("qnn", "q8.8w2.6"), ("floaty", "float32")]
    assert matrix.notes == ("floaty computes in float32; not in q8.8w2.6 (floaty's qbench-library.toml [supports])",)


def test_float32_with_a_weight_format_is_a_problem_and_the_rest_stays():
    matrix = expand(
        load_targets(),
        WORKLOADS,
        MatrixRequest(cores=("cortex-m4",), formats=("float32w2.6", "q8.8"), variants=("inference",)),
    )
    assert [cell.fmt.name for cell in matrix.cells] == ["q8.8"]
    assert matrix.problems == (
        "--formats: 'float32w2.6': float32 takes no weight format; its weights are float32 too; did you mean float32?",
    )


# ---- the library descriptor -----------------------------------------------------------------------------------


def descriptor_library(tmp_path: Path, supports: str):
    (tmp_path / "adapter.hpp").write_text("// an adapter\n")
    (tmp_path / "qbench-library.toml").write_text(f'adapter = "adapter.hpp"\nsymbols = ["x_"]\n{supports}')
    return load_library("x", tmp_path)


def test_narrow_weights_are_off_unless_the_descriptor_says_so(tmp_path):
    assert not descriptor_library(tmp_path, "").supports.narrow_weights
    library = descriptor_library(tmp_path, "[supports]\nnarrow_weights = true\n")
    assert library.supports.narrow_weights and library.computes_in(NARROW) and library.computes_in(Q8)
    assert not VALUES_QNN.computes_in(NARROW) and VALUES_QNN.computes_in(Q8)
    with pytest.raises(LibraryError, match="narrow_weights"):
        descriptor_library(tmp_path, '[supports]\nnarrow_weights = "yes"\n')


# ---- import-torch's weights files (written from a network, without PyTorch) ----------------------------------


def test_import_writes_weights_in_the_weight_format_and_counts_saturation_against_it(tmp_path):
    shape = NetworkShape(1, 1, 1, 1, "linear", "linear")
    # bias 0.5, weight -1.265625, bias 3.0 (beyond q2.6's 1.984375), weight 0.2 (12.8 steps -> 13)
    network = FloatNetwork(shape, (0.5, -1.265625, 3.0, 0.2))
    table = write_network(network, [NARROW, Q8], tmp_path)
    assert weights_file(NARROW) == "weights_q8.8w2.6.inc"
    lines = (tmp_path / "weights_q8.8w2.6.inc").read_text().splitlines()
    assert lines[0].startswith("// Generated by qbench") and lines[1] == "32, -81, 127, 13"
    assert (tmp_path / "weights_q8.8.inc").read_text().splitlines()[1] == "128, -324, 768, 51"
    narrow_row, plain_row = table.to_dict("records")
    assert (narrow_row["format"], narrow_row["weights"], narrow_row["saturated"]) == ("q8.8w2.6", 4, 1)
    assert narrow_row["max_abs_error"] == pytest.approx(abs(0.2 - 13 / 64))
    assert (plain_row["format"], plain_row["saturated"]) == ("q8.8", 0)
