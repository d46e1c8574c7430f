"""A model read from any framework as a chain of steps (Linear, activation, BatchNorm, dropout), checked and
turned into qnn's network: the common part of `qbench import` (torch_import, model_import).

Each importer lists the model's steps in order, each with a label naming it in the model ("layer 2 (Dropout)",
"node 'fc1' (Gemm)"); chain_network drops the no-ops, folds each BatchNorm into the Linear before it, checks
that qnn can build the rest (Linear layers with one activation after each, every hidden layer of one width
and one activation) and returns the network. Every problem is a ModelImportError of one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qbench.common.errors import QbenchError
from qbench.models.network import FloatNetwork, InputScaling, NetworkShape, from_layers

SUPPORTED = "qnn builds Linear layers with Tanh, Sigmoid or ReLU between them"


class ModelImportError(QbenchError, ValueError):
    """A model qbench cannot import; the message says what and why."""


@dataclass(frozen=True)
class Linear:
    """One fully connected layer as float64 arrays: weight [out x in], bias [out]."""

    label: str
    weight: np.ndarray
    bias: np.ndarray

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]


@dataclass(frozen=True)
class Activation:
    label: str
    name: str  # tanh, sigmoid, relu, linear


@dataclass(frozen=True)
class BatchNorm:
    """Evaluation-mode batch normalisation: (x - mean) / sqrt(var + eps) * gamma + beta."""

    label: str
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float


@dataclass(frozen=True)
class NoOp:
    """Dropout, Identity: nothing at inference."""

    label: str


Step = Linear | Activation | BatchNorm | NoOp


def fold_batchnorm(
    weight: np.ndarray,
    bias: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """A Linear layer (weight [out x in], bias [out]) followed by evaluation-mode BatchNorm as one Linear:
    w' = w * gamma / sqrt(var + eps) row by row, b' = (b - mean) * gamma / sqrt(var + eps) + beta."""
    factor = np.asarray(gamma, dtype=np.float64) / np.sqrt(np.asarray(var, dtype=np.float64) + eps)
    weight, bias = np.asarray(weight, dtype=np.float64), np.asarray(bias, dtype=np.float64)
    return weight * factor[:, None], (bias - np.asarray(mean, dtype=np.float64)) * factor + np.asarray(beta)


def checked_arrays(label: str, weight, bias) -> tuple[np.ndarray, np.ndarray]:
    """A Linear layer's weight [out x in] and bias (zeros when None) as finite float64 arrays."""
    matrix = np.asarray(weight, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 1 or matrix.shape[1] < 1:
        raise ModelImportError(f"{label}: its weight has shape {list(matrix.shape)}; a Linear weight is [out x in]")
    vector = np.zeros(matrix.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
    if vector.shape != (matrix.shape[0],):
        raise ModelImportError(
            f"{label}: its bias has shape {list(vector.shape)}; its weight gives {matrix.shape[0]} outputs"
        )
    if not (np.isfinite(matrix).all() and np.isfinite(vector).all()):
        raise ModelImportError(f"{label}: its weights must be finite numbers (it holds NaN or infinity)")
    return matrix, vector


def chain_layers(source: str, steps: Sequence[Step]) -> tuple[list[Linear], list[str]]:
    """The Linear layers of a chain (BatchNorm folded, no-ops dropped) and the activation after each."""
    layers: list[Linear] = []
    after: list[str] = []
    previous: Step | None = None  # the last step that was not a no-op
    for step in steps:
        if isinstance(step, NoOp):
            continue
        if isinstance(step, Linear):
            if layers and step.in_features != layers[-1].out_features:
                raise ModelImportError(
                    f"{step.label} takes {step.in_features} inputs but {layers[-1].label} gives "
                    f"{layers[-1].out_features} outputs"
                )
            layers.append(step)
            after.append("linear")
        elif isinstance(step, BatchNorm):
            if not isinstance(previous, Linear | BatchNorm) or not layers:
                where = "before any Linear layer" if not layers else f"after {previous.label}"
                raise ModelImportError(
                    f"{step.label} comes {where}: qbench folds a batch normalisation only into the Linear layer "
                    "right before it"
                )
            last = layers[-1]
            if len(step.mean) != last.out_features:
                raise ModelImportError(
                    f"{step.label} normalises {len(step.mean)} features but {last.label} gives {last.out_features}"
                )
            weight, bias = fold_batchnorm(last.weight, last.bias, step.gamma, step.beta, step.mean, step.var, step.eps)
            layers[-1] = Linear(last.label, weight, bias)
        else:
            if not layers:
                raise ModelImportError(
                    f"{step.label} comes before any Linear layer: {SUPPORTED}, each activation after a Linear"
                )
            if isinstance(previous, Activation):
                raise ModelImportError(
                    f"{previous.label} and {step.label} are two activations in a row: {SUPPORTED}, one activation "
                    "after each Linear"
                )
            after[-1] = step.name
        previous = step
    check_layers(source, layers)
    return layers, after


def check_layers(source: str, layers: Sequence[Linear]) -> None:
    """What qnn needs of the Linear layers: at least two (one hidden layer), all hidden ones of one width."""
    if not layers:
        raise ModelImportError(f"{source} has no Linear layer: {SUPPORTED}")
    if len(layers) < 2:
        only = layers[0]
        raise ModelImportError(
            f"{source} has a single Linear layer ({only.in_features} -> {only.out_features}) and so no hidden "
            "layer: qnn needs at least one hidden layer"
        )
    widths = [layer.out_features for layer in layers[:-1]]
    if len(set(widths)) > 1:
        raise ModelImportError(f"qnn's hidden layers all have one width; this model has {', '.join(map(str, widths))}")


def hidden_and_output(after: Sequence[str]) -> tuple[str, str]:
    hidden = list(after[:-1])
    if len(set(hidden)) > 1:
        raise ModelImportError(f"qnn's hidden layers all have one activation; this model has {', '.join(hidden)}")
    return hidden[0], after[-1]


def network_of(
    layers: Sequence[Linear], activations: tuple[str, str], scaling: InputScaling | None = None
) -> FloatNetwork:
    """The qnn network of checked Linear layers."""
    shape = NetworkShape(
        inputs=layers[0].in_features,
        hidden_layers=len(layers) - 1,
        hidden_neurons=layers[0].out_features,
        outputs=layers[-1].out_features,
        hidden_activation=activations[0],
        output_activation=activations[1],
    )
    if scaling is not None and len(scaling.offset) != shape.inputs:
        raise ModelImportError(
            f"the input scaling has {len(scaling.offset)} features; the network has {shape.inputs} inputs"
        )
    return from_layers(shape, [(layer.weight, layer.bias) for layer in layers], scaling)


def chain_network(
    source: str, steps: Sequence[Step], activations: tuple[str, str] | None = None, scaling: InputScaling | None = None
) -> FloatNetwork:
    """The network of a chain; activations given (--activations) must be the chain's."""
    layers, after = chain_layers(source, steps)
    found = hidden_and_output(after)
    if activations is not None and tuple(activations) != found:
        raise ModelImportError(
            f"{source}: the model's activations are {','.join(found)} but --activations gives "
            f"{','.join(activations)}; leave --activations out to take the model's"
        )
    return network_of(layers, found, scaling)
