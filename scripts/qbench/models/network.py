"""A network as data: its shape (what qnn's MultilayerPerceptron template takes),
float weights in qnn's order, the float forward pass, and quantization to a
Q format with the rounding QValue::fromDouble uses, saturation counted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

from qbench.common.errors import QbenchError
from qbench.common.schemas import Count, Schema, validate
from qbench.models.qformat import QFormat, from_float, to_float

T = TypeVar("T")

# The activations qnn has, as numpy functions of the net input.
FLOAT_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
}


# An activation's name, as files spell it.
Activation = Literal[tuple(FLOAT_ACTIVATIONS)]


class NetworkError(QbenchError, ValueError):
    """A network qnn cannot build; the message says why."""


@dataclass(frozen=True)
class NetworkShape:
    """MultilayerPerceptron<V, Inputs, HiddenLayers, HiddenNeurons, Outputs>: every
    hidden layer has the same width and activation."""

    inputs: int
    hidden_layers: int
    hidden_neurons: int
    outputs: int
    hidden_activation: str = "tanh"
    output_activation: str = "sigmoid"

    def __post_init__(self) -> None:
        for name in ("inputs", "hidden_layers", "hidden_neurons", "outputs"):
            if getattr(self, name) < 1:
                raise NetworkError(f"{name} must be at least 1, not {getattr(self, name)}")
        for activation in (self.hidden_activation, self.output_activation):
            if activation not in FLOAT_ACTIVATIONS:
                raise NetworkError(f"unknown activation {activation!r} (known: {', '.join(FLOAT_ACTIVATIONS)})")

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.inputs, *([self.hidden_neurons] * self.hidden_layers), self.outputs)

    @property
    def connections(self) -> int:
        """Weights and biases: one per connection, the bias counted as a connection from 1."""
        sizes = self.layer_sizes
        return sum(after * (before + 1) for before, after in zip(sizes, sizes[1:], strict=False))

    @property
    def name(self) -> str:
        """e.g. '4-8-3 tanh/sigmoid', the results' `network` column."""
        return f"{'-'.join(map(str, self.layer_sizes))} {self.hidden_activation}/{self.output_activation}"


SCALING_KINDS = ("standard", "minmax")


@dataclass(frozen=True)
class InputScaling:
    """The input scaling a model was trained with, applied on the host before the network and to the device's
    test inputs alike: x' = (x - offset) / scale per input. kind says where it came from: "standard" (a
    StandardScaler: offset the mean, scale the standard deviation) or "minmax" (a MinMaxScaler: offset and scale
    such that the training data's range maps to the scaler's feature_range). In a network file:
    "scaling": {"kind": ..., "offset": [...], "scale": [...]}; no "scaling" key means the inputs go in as given."""

    kind: str
    offset: tuple[float, ...]
    scale: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.kind not in SCALING_KINDS:
            raise NetworkError(f"unknown input scaling {self.kind!r} (known: {', '.join(SCALING_KINDS)})")
        if len(self.offset) != len(self.scale):
            raise NetworkError(f"the input scaling has {len(self.offset)} offsets and {len(self.scale)} scales")
        if not all(math.isfinite(value) for value in (*self.offset, *self.scale)) or not all(self.scale):
            raise NetworkError("the input scaling's offsets and scales must be finite, every scale non-zero")

    def apply(self, inputs) -> np.ndarray:
        return (np.asarray(inputs, dtype=np.float64) - np.asarray(self.offset)) / np.asarray(self.scale)

    def document(self) -> dict:
        return {"kind": self.kind, "offset": list(self.offset), "scale": list(self.scale)}


@dataclass(frozen=True)
class FloatNetwork:
    """Float weights in qnn's setWeights order: layer by layer, neuron by neuron, bias first; and the input
    scaling the model expects (None: its inputs as given)."""

    shape: NetworkShape
    weights: tuple[float, ...]
    scaling: InputScaling | None = None

    def __post_init__(self) -> None:
        if len(self.weights) != self.shape.connections:
            raise NetworkError(
                f"{len(self.weights)} weights given; a {self.shape.name} network has {self.shape.connections}"
            )
        if self.scaling is not None and len(self.scaling.offset) != self.shape.inputs:
            raise NetworkError(
                f"the input scaling has {len(self.scaling.offset)} values; the network has {self.shape.inputs} inputs"
            )

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(weights [outputs x inputs], biases [outputs]) per layer."""
        sizes, flat, offset, result = self.shape.layer_sizes, np.asarray(self.weights, dtype=np.float64), 0, []
        for before, after in zip(sizes, sizes[1:], strict=False):
            block = flat[offset : offset + after * (before + 1)].reshape(after, before + 1)
            result.append((block[:, 1:], block[:, 0]))
            offset += after * (before + 1)
        return result

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs for a batch of inputs [samples x inputs], in float64."""
        return layer_outputs(self.shape, self.layers(), inputs)[-1]


def layer_outputs(shape: NetworkShape, layers: Sequence[tuple[np.ndarray, np.ndarray]], inputs) -> list[np.ndarray]:
    """Every layer's outputs for a batch, the inputs first."""
    values = [np.asarray(inputs, dtype=np.float64)]
    for index, (weights, biases) in enumerate(layers):
        activation = shape.output_activation if index == len(layers) - 1 else shape.hidden_activation
        values.append(FLOAT_ACTIVATIONS[activation](values[-1] @ weights.T + biases))
    return values


def from_layers(
    shape: NetworkShape, layers: Sequence[tuple[np.ndarray, np.ndarray]], scaling: InputScaling | None = None
) -> FloatNetwork:
    """The flat qnn order from per-layer (weights [outputs x inputs], biases) arrays."""
    flat: list[float] = []
    for weights, biases in layers:
        for row, bias in zip(np.asarray(weights), np.asarray(biases), strict=True):
            flat += [float(bias), *map(float, row)]
    return FloatNetwork(shape, tuple(flat), scaling)


WEIGHT_ORDERS = ("neuron", "input-major")


def in_weight_order(weights: Sequence[T], layer_sizes: Sequence[int], order: str) -> list[T]:
    """Flat weights (qbench's "neuron" order: per layer, per neuron, its bias then one weight per neuron of the
    layer before) in a library's order. "input-major": per layer, weight[input][output] row by row, then the
    layer's biases (scikit-learn's coefs_/intercepts_, emlearn's EmlNetLayer)."""
    if order == "neuron":
        return list(weights)
    if order != "input-major":
        raise ValueError(f"unknown weight order {order!r} (known: {', '.join(WEIGHT_ORDERS)})")
    result, offset = [], 0
    for before, after in zip(layer_sizes, layer_sizes[1:], strict=False):
        width = before + 1
        neurons = [weights[offset + neuron * width : offset + (neuron + 1) * width] for neuron in range(after)]
        result += [neurons[output][1 + source] for source in range(before) for output in range(after)]
        result += [neurons[output][0] for output in range(after)]
        offset += after * (before + 1)
    return result


@dataclass(frozen=True)
class Quantized:
    fmt: QFormat
    raw: tuple[int, ...]
    saturated: int  # values outside the format's range, clamped to its end
    max_error: float  # largest |value - quantized| among the values that did not saturate


def saturates(fmt: QFormat, value: float) -> bool:
    """Whether QValue::fromDouble clamps value: its rounded raw lies outside the format's range."""
    scaled = math.ldexp(value, fmt.fractional_bits)
    rounded = math.floor(scaled + 0.5) if fmt.rounding == "half-up" else math.floor(scaled)
    return not fmt.min_raw <= rounded <= fmt.max_raw


def quantize(values: Sequence[float], fmt: QFormat) -> Quantized:
    """Each value as QValue::fromDouble stores it, with how many saturated."""
    raw = tuple(from_float(fmt, value) for value in values)
    clipped = [saturates(fmt, value) for value in values]
    errors = [abs(value - to_float(fmt, r)) for value, r, c in zip(values, raw, clipped, strict=True) if not c]
    return Quantized(fmt, raw, sum(clipped), max(errors, default=0.0))


def predictions(outputs: np.ndarray) -> np.ndarray:
    """The class of each row: the first output with the largest value, as the firmware picks it."""
    return np.argmax(np.asarray(outputs), axis=1)


NETWORK_SCHEMA = "qbench-network/1"


def network_document(network: FloatNetwork) -> dict:
    """The network as JSON-ready data (qbench import-torch writes it; qbench run --model reads it)."""
    shape = network.shape
    return {
        "schema": NETWORK_SCHEMA,
        "inputs": shape.inputs,
        "hidden_layers": shape.hidden_layers,
        "hidden_neurons": shape.hidden_neurons,
        "outputs": shape.outputs,
        "hidden_activation": shape.hidden_activation,
        "output_activation": shape.output_activation,
        "weights": list(network.weights),
        **({} if network.scaling is None else {"scaling": network.scaling.document()}),
    }


class ScalingDocument(Schema):
    """A network file's "scaling": x' = (x - offset) / scale per input (InputScaling)."""

    kind: Literal[SCALING_KINDS]
    offset: list[float]
    scale: list[float]


class NetworkDocument(Schema):
    """A network file's contents after its "schema" tag."""

    inputs: Count
    hidden_layers: Count
    hidden_neurons: Count
    outputs: Count
    hidden_activation: Activation
    output_activation: Activation
    weights: list[float]
    scaling: ScalingDocument | None = None


def network_from_document(document: object, where: str) -> FloatNetwork:
    """The inverse of network_document; anything else is a NetworkError naming `where`."""
    # A foreign file gets one line, not one per key it lacks.
    if not isinstance(document, dict) or document.get("schema") != NETWORK_SCHEMA:
        raise NetworkError(f"{where}: not a qbench network file (expected schema {NETWORK_SCHEMA!r})")
    contents = {key: value for key, value in document.items() if key != "schema"}
    checked: NetworkDocument = validate(NetworkDocument, contents, NetworkError, lambda loc: where)
    shape = NetworkShape(
        checked.inputs,
        checked.hidden_layers,
        checked.hidden_neurons,
        checked.outputs,
        checked.hidden_activation,
        checked.output_activation,
    )
    try:
        scaling = (
            None
            if checked.scaling is None
            else InputScaling(checked.scaling.kind, tuple(checked.scaling.offset), tuple(checked.scaling.scale))
        )
        return FloatNetwork(shape, tuple(checked.weights), scaling)
    except NetworkError as error:
        raise NetworkError(f"{where}: {error}") from None
