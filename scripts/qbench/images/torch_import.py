"""A saved PyTorch model as a qnn network: `qbench import-torch`.

qnn's MultilayerPerceptron is a stack of fully connected layers, every hidden
layer of one width and one activation, and one output activation. The PyTorch
model that maps onto it is an nn.Sequential of nn.Linear layers with nn.Tanh,
nn.Sigmoid or nn.ReLU between them (a Linear with no activation after it is
"linear"). This module reads such a model, saved whole with torch.save(model)
or as its state_dict, checks that qnn can build it, and writes its weights in
qnn's order, float and quantized.

torch is imported only when a model is loaded, so the rest of qbench runs
without it; every problem a user can cause is a TorchImportError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from qbench.images.workloads import weights_include
from qbench.models.network import FloatNetwork, NetworkShape, from_layers, network_document, quantize
from qbench.models.qformat import QFormat

NOT_INSTALLED = "PyTorch is not installed: pip install -e '.[torch]' (the CPU build)"
SUPPORTED = "qnn builds Linear layers with Tanh, Sigmoid or ReLU between them"
NETWORK_FILE = "network.json"


class TorchImportError(ValueError):
    """A model qbench cannot import; the message says what and why."""


@dataclass(frozen=True)
class _Linear:
    """One Linear layer as float64 arrays, with where it sat in the model."""

    index: int
    weight: np.ndarray  # [out x in]
    bias: np.ndarray  # [out]

    @property
    def label(self) -> str:
        return f"layer {self.index} (Linear)"

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]


def weights_file(fmt: QFormat) -> str:
    return f"weights_{fmt.name}.inc"


def load_torch_network(path: Path, activations: tuple[str, str] | None = None) -> FloatNetwork:
    """The network a file written by torch.save holds: a whole nn.Sequential, or its
    state_dict, whose activations (hidden, output) must then be given. A whole module
    is unpickled, which runs code from the file: load only files you trust."""
    try:
        import torch
    except ImportError:
        raise TorchImportError(NOT_INSTALLED) from None
    path = Path(path)
    if not path.is_file():
        raise TorchImportError(f"{path}: no such file")
    saved = _load(torch, path)
    if isinstance(saved, torch.nn.Module):
        layers, found = _from_module(torch, path, saved)
        if activations is not None and tuple(activations) != found:
            raise TorchImportError(
                f"{path}: the model's activations are {','.join(found)} but --activations gives "
                f"{','.join(activations)}; leave --activations out to take the model's"
            )
        activations = found
    elif isinstance(saved, Mapping):
        if activations is None:
            raise TorchImportError(
                f"{path} holds a state_dict, which records no activations: pass the hidden and output "
                "activation, e.g. --activations tanh,sigmoid"
            )
        layers = _from_state_dict(torch, path, saved, activations[0])
    else:
        raise TorchImportError(
            f"{path} holds a {type(saved).__name__}, not a model: save an nn.Sequential with "
            "torch.save(model) or its weights with torch.save(model.state_dict())"
        )
    return _network(layers, activations)


def _load(torch, path: Path) -> object:
    """The saved object: tensors and containers of them safely first, then a whole module."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a whole module cannot load this way; the next attempt says why
        pass
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # whatever torch raises, the user needs one message
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise TorchImportError(f"torch cannot read {path} (is it a file torch.save wrote?): {reason}") from None


def _activation_names(torch) -> dict[type, str]:
    nn = torch.nn
    return {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.ReLU: "relu"}


def _arrays(torch, label: str, weight, bias) -> tuple[np.ndarray, np.ndarray]:
    """A Linear layer's weight and bias (zeros when it has none) as float64 arrays."""
    if not isinstance(weight, torch.Tensor) or (bias is not None and not isinstance(bias, torch.Tensor)):
        raise TorchImportError(f"{label}: its weight and bias must be tensors")
    if weight.dim() != 2 or weight.shape[0] < 1 or weight.shape[1] < 1:
        raise TorchImportError(f"{label}: its weight has shape {list(weight.shape)}; a Linear weight is [out x in]")
    matrix = weight.detach().cpu().double().numpy()
    if bias is None:
        vector = np.zeros(matrix.shape[0])
    else:
        vector = bias.detach().cpu().double().numpy()
        if vector.shape != (matrix.shape[0],):
            raise TorchImportError(
                f"{label}: its bias has shape {list(vector.shape)}; its weight gives {matrix.shape[0]} outputs"
            )
    if not (np.isfinite(matrix).all() and np.isfinite(vector).all()):
        raise TorchImportError(f"{label}: its weights must be finite numbers (it holds NaN or infinity)")
    return matrix, vector


def _from_module(torch, path: Path, model) -> tuple[list[_Linear], tuple[str, str]]:
    """The Linear layers of a Sequential, and its (hidden, output) activations."""
    nn = torch.nn
    if not isinstance(model, nn.Sequential):
        raise TorchImportError(
            f"{path} holds a {type(model).__name__}, not an nn.Sequential: {SUPPORTED}, "
            "so build the model as nn.Sequential(nn.Linear(...), nn.Tanh(), nn.Linear(...), ...)"
        )
    names = _activation_names(torch)
    layers: list[_Linear] = []
    after: list[str] = []  # the activation after each Linear layer
    previous: tuple[int, str, bool] | None = None  # index, class and whether a Linear, of the layer before
    for index, layer in enumerate(model):
        kind = type(layer).__name__
        if isinstance(layer, nn.Linear):
            weight, bias = _arrays(torch, f"layer {index} ({kind})", layer.weight, layer.bias)
            linear = _Linear(index, weight, bias)
            if layers and linear.in_features != layers[-1].out_features:
                raise TorchImportError(
                    f"{linear.label} takes {linear.in_features} inputs but {layers[-1].label} gives "
                    f"{layers[-1].out_features} outputs"
                )
            layers.append(linear)
            after.append("linear")
        elif type(layer) in names:
            if previous is None:
                raise TorchImportError(
                    f"layer {index} ({kind}) comes before any Linear layer: {SUPPORTED}, each activation after a Linear"
                )
            if not previous[2]:
                raise TorchImportError(
                    f"layers {previous[0]} ({previous[1]}) and {index} ({kind}) are two activations in a row: "
                    f"{SUPPORTED}, one activation after each Linear"
                )
            after[-1] = names[type(layer)]
        else:
            raise TorchImportError(f"layer {index} ({kind}) is not supported: {SUPPORTED}")
        previous = (index, kind, isinstance(layer, nn.Linear))
    _check_layers(path, layers)
    hidden = after[:-1]
    if len(set(hidden)) > 1:
        raise TorchImportError(f"qnn's hidden layers all have one activation; this model has {', '.join(hidden)}")
    return layers, (hidden[0], after[-1])


def _from_state_dict(torch, path: Path, state: Mapping, hidden_activation: str) -> list[_Linear]:
    """The Linear layers of a Sequential's state_dict: keys '0.weight', '0.bias', '2.weight', ..."""
    tensors: dict[int, dict[str, object]] = {}
    for key, value in state.items():
        prefix, _, name = str(key).rpartition(".")
        if not prefix.isdigit() or name not in ("weight", "bias"):
            raise TorchImportError(
                f"{path}: state_dict key {key!r} is not a Sequential's Linear weight or bias "
                f"(keys like '0.weight', '0.bias'): {SUPPORTED}"
            )
        tensors.setdefault(int(prefix), {})[name] = value
    layers: list[_Linear] = []
    for index in sorted(tensors):
        label = f"layer {index} (Linear)"
        if "weight" not in tensors[index]:
            raise TorchImportError(f"{path}: state_dict has {index}.bias but no {index}.weight")
        weight, bias = _arrays(torch, label, tensors[index]["weight"], tensors[index].get("bias"))
        linear = _Linear(index, weight, bias)
        if layers:
            before = layers[-1]
            if linear.in_features != before.out_features:
                raise TorchImportError(
                    f"{linear.label} takes {linear.in_features} inputs but {before.label} gives "
                    f"{before.out_features} outputs"
                )
            if index == before.index + 1 and hidden_activation != "linear":
                raise TorchImportError(
                    f"{path}: layers {before.index} and {index} are Linear layers with nothing between them, "
                    f"so the hidden activation is linear, not {hidden_activation}"
                )
        layers.append(linear)
    _check_layers(path, layers)
    return layers


def _check_layers(path: Path, layers: Sequence[_Linear]) -> None:
    """What qnn needs of the Linear layers: at least two (one hidden layer), all hidden ones of one width."""
    if not layers:
        raise TorchImportError(f"{path} has no Linear layer: {SUPPORTED}")
    if len(layers) < 2:
        only = layers[0]
        raise TorchImportError(
            f"{path} has a single Linear layer ({only.in_features} -> {only.out_features}) and so no hidden "
            "layer: qnn needs at least one hidden layer"
        )
    widths = [layer.out_features for layer in layers[:-1]]
    if len(set(widths)) > 1:
        raise TorchImportError(f"qnn's hidden layers all have one width; this model has {', '.join(map(str, widths))}")


def _network(layers: Sequence[_Linear], activations: tuple[str, str]) -> FloatNetwork:
    """The qnn network of checked Linear layers."""
    shape = NetworkShape(
        inputs=layers[0].in_features, hidden_layers=len(layers) - 1, hidden_neurons=layers[0].out_features,
        outputs=layers[-1].out_features, hidden_activation=activations[0], output_activation=activations[1],
    )  # fmt: skip
    return from_layers(shape, [(layer.weight, layer.bias) for layer in layers])


def write_network(network: FloatNetwork, formats: Sequence[QFormat], out: Path) -> pd.DataFrame:
    """Writes OUT/network.json and OUT/weights_<format>.inc per format (each once; raw values in the format's
    weight format, e.g. q2.6 for q8.8w2.6); a summary row per format, saturation counted against that range."""
    out = Path(out)
    rows, files = [], {NETWORK_FILE: json.dumps(network_document(network), indent=1) + "\n"}
    for fmt in unique_formats(formats):
        quantized = quantize(network.weights, fmt.weight_format)
        files[weights_file(fmt)] = weights_include(quantized.raw, "neuron")
        rows.append({
            "format": fmt.name, "weights": len(quantized.raw), "saturated": quantized.saturated,
            "max_abs_error": quantized.max_error,
        })  # fmt: skip
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text)
    except OSError as error:
        raise TorchImportError(f"cannot write to {out}: {error.strerror or error}") from None
    return pd.DataFrame(rows, columns=["format", "weights", "saturated", "max_abs_error"])


def unique_formats(formats: Sequence[QFormat]) -> list[QFormat]:
    """Each format once, in the order given."""
    seen: dict[str, QFormat] = {}
    for fmt in formats:
        seen.setdefault(fmt.name, fmt)
    return list(seen.values())
