"""Classification workloads (iris, digits): a network described as data
(suite/workloads/NAME/workload.toml), trained in float on the host, deployed
to a number format, and what the device should answer.

A Deployment holds everything one image needs and everything its row reports
from the host: the weights and test inputs in the format (with how many
saturated), the float network's accuracy on the host, and the predictions of
qnn's bit-exact model (qbench.reference) that the device must reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveFloat

from qbench.common.paths import shown
from qbench.common.schemas import Count, Schema, read_toml, validate
from qbench.models.datasets import DATASETS, SCALINGS, Split, load_split
from qbench.models.network import Activation, FloatNetwork, NetworkError, NetworkShape, Quantized, predictions, quantize
from qbench.models.qformat import FloatFormat, NumberFormat
from qbench.models.reference import forward_batch
from qbench.models.training import Recipe, accuracy, one_hot, train


class WorkloadFileError(ValueError):
    """A workload.toml qbench cannot use; the message names the file and the key."""


@dataclass(frozen=True)
class Description:
    """One workload.toml: where the data comes from, the default network, the training recipe."""

    name: str
    dataset: str
    test_fraction: float
    split_seed: int
    scaling: str
    hidden_layers: int
    hidden_neurons: int
    hidden_activation: str
    output_activation: str
    recipe: Recipe

    def split(self) -> Split:
        return load_split(self.dataset, self.test_fraction, self.split_seed, self.scaling)


class DataTable(Schema):
    dataset: Literal[tuple(DATASETS)]
    test_fraction: float = Field(gt=0, lt=1)
    split_seed: NonNegativeInt
    scaling: Literal[tuple(SCALINGS)]


class NetworkTable(Schema):
    hidden_layers: Count
    hidden_neurons: Count
    hidden_activation: Activation
    output_activation: Activation


class TrainingTable(Schema):
    epochs: Count
    learning_rate: PositiveFloat
    momentum: float = Field(ge=0, lt=1)
    batch_size: Count
    seed: NonNegativeInt


class WorkloadFile(Schema):
    data: DataTable
    network: NetworkTable
    training: TrainingTable


def read_description(path: Path) -> Description:
    """The workload.toml at path, checked against WorkloadFile; a problem is a WorkloadFileError naming the
    file, the key, the value and what is allowed."""
    document = read_toml(path, WorkloadFileError)
    checked: WorkloadFile = validate(WorkloadFile, document, WorkloadFileError, lambda loc: shown(path))
    return Description(
        path.parent.name, **checked.data.model_dump(), **checked.network.model_dump(),
        recipe=Recipe(**checked.training.model_dump()),
    )  # fmt: skip


@dataclass(frozen=True)
class Deployment:
    weights: tuple  # raw integers in the format's weight format, or floats for float32
    test_inputs: tuple  # the test split, row after row: raw integers in the values' format, or floats
    test_labels: tuple[int, ...]
    weights_saturated: int  # against the weight format's range
    inputs_saturated: int
    accuracy_float_host: float
    # qnn's bit-exact model on the test split; None for float formats (libm on the device
    # and numpy on the host need not agree to the last bit).
    expected_predictions: tuple[int, ...] | None


@cache
def host_network(description: Description, shape: NetworkShape) -> FloatNetwork:
    """The float network the recipe trains for shape (cached: cores and formats share it)."""
    split = description.split()
    return train(shape, split.train_inputs, one_hot(split.train_labels, split.classes), description.recipe)


def check_shape(description: Description, shape: NetworkShape) -> None:
    split = description.split()
    if (shape.inputs, shape.outputs) != (split.features, split.classes):
        raise NetworkError(
            f"{description.name} has {split.features} inputs and {split.classes} classes; "
            f"the network {shape.name} has {shape.inputs} inputs and {shape.outputs} outputs"
        )


@cache
def deploy(description: Description, fmt: NumberFormat, network: FloatNetwork) -> Deployment:
    """network (trained by host_network, or imported) in fmt, with the host's figures."""
    check_shape(description, network.shape)
    split = description.split()
    host_accuracy = accuracy(network, split.test_inputs, split.test_labels)
    labels = tuple(int(label) for label in split.test_labels)
    flat_inputs = split.test_inputs.reshape(-1)
    if isinstance(fmt, FloatFormat):
        as_float = tuple(float(np.float32(value)) for value in network.weights)
        inputs = tuple(float(np.float32(value)) for value in flat_inputs)
        return Deployment(as_float, inputs, labels, 0, 0, host_accuracy, None)
    weights: Quantized = quantize(network.weights, fmt.weight_format)
    inputs_q: Quantized = quantize(flat_inputs.tolist(), fmt)
    shape = network.shape
    outputs = forward_batch(fmt, shape.layer_sizes, shape.hidden_activation, shape.output_activation,
                            weights.raw, np.array(inputs_q.raw, dtype=object).reshape(len(labels), -1))  # fmt: skip
    expected = tuple(int(p) for p in predictions(outputs))
    return Deployment(weights.raw, inputs_q.raw, labels, weights.saturated, inputs_q.saturated,
                      host_accuracy, expected)  # fmt: skip
