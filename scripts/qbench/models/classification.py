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
from qbench.models.datasets import (
    DATASETS,
    REGRESSION_DATASETS,
    SCALING_NAMES,
    DataFileError,
    DatasetError,
    DataSpec,
    Split,
    load_data,
)
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
    data: DataSpec
    hidden_layers: int
    hidden_neurons: int
    hidden_activation: str
    output_activation: str
    recipe: Recipe

    def split(self) -> Split:
        try:
            return load_data(self.data)
        except (DataFileError, DatasetError) as error:
            raise WorkloadFileError(str(error)) from None

    @property
    def regression(self) -> bool:
        return self.data.task == "regression"

    # The [data] keys as earlier qbench versions kept them.
    @property
    def dataset(self) -> str:
        return self.data.dataset or self.data.file or f"{self.data.train_file} + {self.data.test_file}"

    @property
    def test_fraction(self) -> float:
        return self.data.test_fraction

    @property
    def split_seed(self) -> int:
        return self.data.split_seed

    @property
    def scaling(self) -> str:
        return self.data.scaling


class DataTable(Schema):
    """[data]: one source (dataset, file, or train_file with test_file), the task, the split, the scaling."""

    task: Literal["classification", "regression"] = "classification"
    dataset: Literal[tuple(DATASETS)] | None = None
    file: str | None = Field(None, min_length=1)
    target: str | None = Field(None, min_length=1)
    train_file: str | None = Field(None, min_length=1)
    test_file: str | None = Field(None, min_length=1)
    test_fraction: float = Field(0.3, gt=0, lt=1)
    split_seed: NonNegativeInt = 1
    scaling: Literal[SCALING_NAMES] = "standard"
    scaling_mean: list[float] | None = None  # standard: explicit (x - mean) / std
    scaling_std: list[PositiveFloat] | None = None
    scaling_min: list[float] | None = None  # minmax: explicit (x - min) / (max - min)
    scaling_max: list[float] | None = None


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
        path.parent.name,
        data_spec(checked.data, path),
        **checked.network.model_dump(),
        recipe=Recipe(**checked.training.model_dump()),
    )


def data_spec(data: DataTable, path: Path) -> DataSpec:
    """[data] checked across its keys, its files resolved against the workload's folder (a WorkloadFileError
    naming the file and the key)."""
    where = shown(path)
    problem = _source_problem(data) or _target_problem(data) or _scaling_problem(data)
    if problem is not None:
        raise WorkloadFileError(f"{where}: {problem}")
    folder = path.parent

    def resolved(name: str | None) -> str | None:
        return None if name is None else str((folder / name).resolve())

    return DataSpec(
        data.task,
        data.dataset,
        resolved(data.file),
        data.target,
        resolved(data.train_file),
        resolved(data.test_file),
        data.test_fraction,
        data.split_seed,
        data.scaling,
        _scaling_parameters(data),
        where,
    )


def _source_problem(data: DataTable) -> str | None:
    """Why [data] does not name exactly one source of data of its task, or None."""
    sources = [key for key in ("dataset", "file", "train_file") if getattr(data, key) is not None]
    if (data.train_file is None) != (data.test_file is None):
        given, missing = ("train_file", "test_file") if data.test_file is None else ("test_file", "train_file")
        return f"'data.{given}' is given without 'data.{missing}'; give both (used exactly as given)"
    if len(sources) != 1:
        return (
            "[data] needs exactly one source: 'data.dataset' (one of " + ", ".join(DATASETS) + "), "
            "'data.file' (a CSV or NPZ) or 'data.train_file' with 'data.test_file'"
            + (f"; found {', '.join(sources)}" if sources else "")
        )
    regression = data.task == "regression"
    if data.dataset is not None and (data.dataset in REGRESSION_DATASETS) != regression:
        wanted = "regression" if data.dataset in REGRESSION_DATASETS else "classification"
        return (
            f"'data.dataset' is {data.dataset!r}, a {wanted} data set; 'data.task' is {data.task!r} "
            f"(set task = {wanted!r})"
        )
    return None


def _target_problem(data: DataTable) -> str | None:
    """Why [data]'s target column is missing or out of place, or None."""
    files = [name for name in (data.file, data.train_file, data.test_file) if name is not None]
    if data.target is not None and data.dataset is not None:
        return "'data.target' names a CSV column; a bundled 'data.dataset' has its own target"
    if data.target is None and any(not name.endswith(".npz") for name in files):
        return "'data.target' is required with a CSV file: the column to predict (the others are the inputs)"
    return None


# Each scaling's own keys: the scaling names that take them, and the pair of keys (one value per feature).
_SCALING_KEYS = (
    (("standard", "standardize"), ("scaling_mean", "scaling_std")),
    (("minmax",), ("scaling_min", "scaling_max")),
)


def _scaling_problem(data: DataTable) -> str | None:
    """Why [data]'s fixed scaling parameters do not fit its scaling, or None."""
    for scalings, names in _SCALING_KEYS:
        pair = tuple(getattr(data, name) for name in names)
        given = [name for name, value in zip(names, pair, strict=True) if value is not None]
        if given and data.scaling not in scalings:
            return f"'data.{given[0]}' is for scaling = {scalings[0]!r}; 'data.scaling' is {data.scaling!r}"
        if given and len(given) != 2:
            return f"'data.{given[0]}' needs 'data.{(set(names) - set(given)).pop()}' too"
        if given and len(pair[0]) != len(pair[1]):
            return f"'data.{names[0]}' has {len(pair[0])} values, 'data.{names[1]}' {len(pair[1])}"
        if given and scalings == ("minmax",) and any(low >= high for low, high in zip(*pair, strict=True)):
            return "'data.scaling_min' must be below 'data.scaling_max' for every feature"
    return None


def _scaling_parameters(data: DataTable) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The fixed scaling parameters [data] gives (checked by _scaling_problem), or None."""
    for _, names in _SCALING_KEYS:
        first, second = (getattr(data, name) for name in names)
        if first is not None:
            return tuple(first), tuple(second)
    return None


@dataclass(frozen=True)
class Deployment:
    weights: tuple  # raw integers in the format's weight format, or floats for float32
    test_inputs: tuple  # the test split, row after row: raw integers in the values' format, or floats
    test_labels: tuple[int, ...]
    weights_saturated: int  # against the weight format's range
    inputs_saturated: int
    accuracy_float_host: float | None  # None for a regression
    # qnn's bit-exact model on the test split (a regression: its raw outputs); None for float formats (libm on
    # the device and numpy on the host need not agree to the last bit).
    expected_predictions: tuple[int, ...] | None
    test_set: str = ""  # where the test split comes from, and its size
    input_scaling: str = ""  # the scaling applied on the host and to the device's test inputs, with its parameters
    regression: Regression | None = None
    # The largest difference, over the test set's outputs, between the format's (qnn's bit-exact model, which the
    # device matches) and the float network's; None for float formats.
    quantization_error: float | None = None


@dataclass(frozen=True)
class Regression:
    """A regression's test targets in their units, how the network's output maps to them, and the float
    network's errors on the host."""

    targets: tuple[float, ...]
    target_offset: float  # units = output * target_scale + target_offset
    target_scale: float
    mae_float_host: float
    rmse_float_host: float
    max_error_float_host: float


def errors(predicted: np.ndarray, targets: np.ndarray) -> tuple[float, float, float]:
    """(MAE, RMSE, largest absolute error)."""
    difference = np.abs(np.asarray(predicted, dtype=np.float64) - np.asarray(targets, dtype=np.float64))
    return float(difference.mean()), float(np.sqrt((difference**2).mean())), float(difference.max())


@cache
def host_network(description: Description, shape: NetworkShape) -> FloatNetwork:
    """The float network the recipe trains for shape (cached: cores and formats share it)."""
    split = description.split()
    if split.regression:
        targets = ((split.train_labels - split.target_offset) / split.target_scale).reshape(-1, 1)
        return train(shape, split.train_inputs, targets, description.recipe)
    return train(shape, split.train_inputs, one_hot(split.train_labels, split.classes), description.recipe)


def check_shape(description: Description, shape: NetworkShape) -> None:
    split = description.split()
    if (shape.inputs, shape.outputs) != (split.features, split.classes):
        raise NetworkError(
            f"{description.name} has {split.features} inputs and "
            f"{'1 output (a regression)' if split.regression else f'{split.classes} classes'}; "
            f"the network {shape.name} has {shape.inputs} inputs and {shape.outputs} outputs"
        )


def _scaling(description: Description) -> str:
    data = description.data
    declared = data.scaling_parameters is not None or data.scaling == "none"
    return description.split().scaling_text(data.scaling, declared)


@cache
def deploy(description: Description, fmt: NumberFormat, network: FloatNetwork) -> Deployment:
    """network (trained by host_network, or imported) in fmt, with the host's figures."""
    check_shape(description, network.shape)
    split = description.split()
    regression = None
    if split.regression:
        host_accuracy = None
        labels = tuple(0 for _ in split.test_labels)
        units = network.forward(split.test_inputs)[:, 0] * split.target_scale + split.target_offset
        regression = Regression(
            tuple(map(float, split.test_labels)),
            split.target_offset,
            split.target_scale,
            *errors(units, split.test_labels),
        )
    else:
        host_accuracy = accuracy(network, split.test_inputs, split.test_labels)
        labels = tuple(int(label) for label in split.test_labels)
    flat_inputs = split.test_inputs.reshape(-1)
    if isinstance(fmt, FloatFormat):
        as_float = tuple(float(np.float32(value)) for value in network.weights)
        inputs = tuple(float(np.float32(value)) for value in flat_inputs)
        return Deployment(
            as_float, inputs, labels, 0, 0, host_accuracy, None, split.test_set, _scaling(description), regression
        )
    weights: Quantized = quantize(network.weights, fmt.weight_format)
    inputs_q: Quantized = quantize(flat_inputs.tolist(), fmt)
    shape = network.shape
    outputs = forward_batch(
        fmt,
        shape.layer_sizes,
        shape.hidden_activation,
        shape.output_activation,
        weights.raw,
        np.array(inputs_q.raw, dtype=object).reshape(len(labels), -1),
    )
    if regression is not None:
        expected = tuple(int(row[0]) for row in outputs)
    else:
        expected = tuple(int(p) for p in predictions(outputs))
    difference = quantization_error(outputs, network.forward(split.test_inputs), fmt.fractional_bits)
    return Deployment(
        weights.raw,
        inputs_q.raw,
        labels,
        weights.saturated,
        inputs_q.saturated,
        host_accuracy,
        expected,
        split.test_set,
        _scaling(description),
        regression,
        difference,
    )


def quantization_error(raw_outputs: np.ndarray, float_outputs: np.ndarray, fractional_bits: int) -> float:
    """The largest |format output - float output| over every sample and output, the format's raw integers
    read at 2^-fractional_bits."""
    values = np.array(raw_outputs, dtype=np.float64) / float(1 << fractional_bits)
    return float(np.max(np.abs(values - np.asarray(float_outputs, dtype=np.float64))))
