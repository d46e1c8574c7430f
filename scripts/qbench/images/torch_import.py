"""A saved PyTorch model as a qnn network: `qbench import` (and its older name `qbench import-torch`).

qnn's MultilayerPerceptron is a stack of fully connected layers, every hidden
layer of one width and one activation, and one output activation. The PyTorch
model that maps onto it is a chain of nn.Linear layers with nn.Tanh, nn.Sigmoid
or nn.ReLU between them (a Linear with no activation after it is "linear"): an
nn.Sequential, or any nn.Module whose forward is such a chain (traced with
torch.fx). nn.Dropout and nn.Identity are dropped (no-ops in evaluation), an
nn.BatchNorm1d right after a Linear is folded into it with its running
statistics. This module reads such a model, saved whole with torch.save(model)
or as its state_dict, checks that qnn can build it, and writes its weights in
qnn's order, float and quantized.

torch is imported only when a model is loaded, so the rest of qbench runs
without it; every problem a user can cause is a TorchImportError (ModelImportError).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from qbench.images.layers import (
    SUPPORTED,
    Activation,
    BatchNorm,
    Linear,
    ModelImportError,
    NoOp,
    Step,
    chain_network,
    checked_arrays,
)
from qbench.images.workloads import weights_include
from qbench.models.network import FloatNetwork, network_document, quantize
from qbench.models.qformat import QFormat

NOT_INSTALLED = "PyTorch is not installed: pip install -e '.[torch]' (the CPU build)"
NETWORK_FILE = "network.json"
# A state_dict does not record BatchNorm1d's eps: PyTorch's default.
STATE_DICT_EPS = 1e-5

TorchImportError = ModelImportError


def weights_file(fmt: QFormat) -> str:
    return f"weights_{fmt.name}.inc"


def load_torch_network(path: Path, activations: tuple[str, str] | None = None) -> FloatNetwork:
    """The network a file written by torch.save holds: a whole module (an nn.Sequential, or a module whose
    forward torch.fx traces to a chain), or a state_dict, whose activations (hidden, output) must then be given.
    A whole module is unpickled, which runs code from the file: load only files you trust."""
    try:
        import torch
    except ImportError:
        raise TorchImportError(NOT_INSTALLED) from None
    path = Path(path)
    if not path.is_file():
        raise TorchImportError(f"{path}: no such file")
    saved = _load(torch, path)
    if isinstance(saved, torch.nn.Module):
        return chain_network(str(path), module_steps(torch, path, saved), activations)
    if isinstance(saved, Mapping):
        if activations is None:
            raise TorchImportError(
                f"{path} holds a state_dict, which records no activations: pass the hidden and output "
                "activation, e.g. --activations tanh,sigmoid"
            )
        return chain_network(str(path), _state_dict_steps(torch, path, saved, activations), activations)
    raise TorchImportError(
        f"{path} holds a {type(saved).__name__}, not a model: save an nn.Module with "
        "torch.save(model) or its weights with torch.save(model.state_dict())"
    )


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
        if "Can't get attribute" in reason or "No module named" in reason:
            reason += (
                " (a whole model of your own nn.Module class unpickles only where that class can be imported: "
                "put its module on PYTHONPATH, or save model.state_dict() and pass --activations)"
            )
        raise TorchImportError(f"torch cannot read {path} (is it a file torch.save wrote?): {reason}") from None


def _activation_names(torch) -> dict[type, str]:
    nn = torch.nn
    return {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.ReLU: "relu"}


def _numpy(torch, label: str, tensor) -> np.ndarray | None:
    if tensor is None:
        return None
    if not isinstance(tensor, torch.Tensor):
        raise TorchImportError(f"{label}: its weight and bias must be tensors")
    return tensor.detach().cpu().double().numpy()


def _linear(torch, label: str, weight, bias) -> Linear:
    return Linear(label, *checked_arrays(label, _numpy(torch, label, weight), _numpy(torch, label, bias)))


def _module_step(torch, label: str, module) -> Step:
    """One leaf module as a step of the chain."""
    nn = torch.nn
    names = _activation_names(torch)
    if isinstance(module, nn.Linear):
        return _linear(torch, label, module.weight, module.bias)
    if type(module) in names:
        return Activation(label, names[type(module)])
    if isinstance(module, nn.Dropout | nn.AlphaDropout | nn.Identity) or type(module).__name__.endswith("Dropout"):
        return NoOp(label)
    if isinstance(module, nn.BatchNorm1d):
        if module.running_mean is None or module.running_var is None:
            raise TorchImportError(
                f"{label} keeps no running statistics (track_running_stats=False): qbench folds "
                "a BatchNorm1d with its evaluation-mode statistics"
            )
        features = module.num_features
        gamma = _numpy(torch, label, module.weight) if module.weight is not None else np.ones(features)
        beta = _numpy(torch, label, module.bias) if module.bias is not None else np.zeros(features)
        return BatchNorm(
            label,
            gamma,
            beta,
            _numpy(torch, label, module.running_mean),
            _numpy(torch, label, module.running_var),
            float(module.eps),
        )
    raise TorchImportError(f"{label} is not supported: {SUPPORTED}")


def module_steps(torch, path: Path, model) -> list[Step]:
    """A module's chain of steps: an nn.Sequential's children (nested ones flattened), a supported module by
    itself, or the modules and functions torch.fx finds along any other module's forward."""
    nn = torch.nn
    if isinstance(model, nn.Sequential):
        steps: list[Step] = []
        for index, layer in enumerate(model):
            if isinstance(layer, nn.Sequential):
                steps += [_relabel(step, f"layer {index}.") for step in module_steps(torch, path, layer)]
            else:
                steps.append(_module_step(torch, f"layer {index} ({type(layer).__name__})", layer))
        return steps
    if not list(model.children()):  # a leaf module, e.g. one nn.Linear
        return [_module_step(torch, f"{type(model).__name__}", model)]
    return _traced_steps(torch, path, model)


def _relabel(step: Step, prefix: str) -> Step:
    return replace(step, label=prefix + step.label.removeprefix("layer "))


def _traced_steps(torch, path: Path, model) -> list[Step]:
    """The chain torch.fx traces through model.forward: each node takes the one before it."""
    import torch.fx
    import torch.nn.functional as functional

    kind = type(model).__name__
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as error:  # torch.fx raises many kinds; the user needs one line
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise TorchImportError(
            f"{path}: torch.fx cannot trace {kind}'s forward ({reason}): {SUPPORTED}, "
            "a forward that is one chain of them"
        ) from None
    functions = {
        torch.tanh: "tanh",
        torch.sigmoid: "sigmoid",
        torch.relu: "relu",
        functional.relu: "relu",
        functional.tanh: "tanh",
        functional.sigmoid: "sigmoid",
    }
    methods = {"tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu"}
    modules = dict(model.named_modules())
    steps: list[Step] = []
    previous = None
    for node in graph.nodes:
        if node.op == "placeholder":
            if previous is not None:
                raise TorchImportError(f"{path}: {kind}'s forward takes more than one input: {SUPPORTED}")
            previous = node
            continue
        if node.op == "output":
            break
        if (
            not node.args
            or node.args[0] is not previous
            or any(isinstance(arg, torch.fx.Node) for arg in [*node.args[1:], *node.kwargs.values()])
        ):
            raise TorchImportError(
                f"{path}: {kind}'s forward is not one chain at {node.name!r} ({node.op} {node.target}): "
                f"{SUPPORTED}, each taking the output of the one before"
            )
        if node.op == "call_module":
            module = modules[node.target]
            steps.append(_module_step(torch, f"{node.target} ({type(module).__name__})", module))
        elif node.op == "call_function" and node.target in functions:
            steps.append(Activation(f"{node.name} ({functions[node.target]})", functions[node.target]))
        elif node.op == "call_function" and node.target is functional.dropout:
            steps.append(NoOp(f"{node.name} (dropout)"))
        elif node.op == "call_method" and node.target in methods:
            steps.append(Activation(f"{node.name} (.{node.target}())", methods[node.target]))
        else:
            name = getattr(node.target, "__name__", str(node.target))
            raise TorchImportError(f"{path}: {node.name!r} ({name}) in {kind}'s forward is not supported: {SUPPORTED}")
        previous = node
    return steps


def _state_dict_steps(torch, path: Path, state: Mapping, activations: tuple[str, str]) -> list[Step]:
    """The steps of a state_dict: a Sequential's ('0.weight', '0.bias', '2.weight', ...) or a module
    subclass's ('fc1.weight', 'bn1.running_mean', ...), in the order saved, the given activations after each
    Linear layer. A prefix with running_mean and running_var is a BatchNorm1d (eps 1e-5, PyTorch's default)."""
    groups: dict[str, dict[str, object]] = {}
    for key, value in state.items():
        prefix, _, name = str(key).rpartition(".")
        if not prefix or name not in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            raise TorchImportError(
                f"{path}: state_dict key {key!r} is not a Linear or BatchNorm1d weight, bias or statistic "
                f"(keys like '0.weight', '0.bias'): {SUPPORTED}"
            )
        groups.setdefault(prefix, {})[name] = value
    numbered = all(prefix.isdigit() for prefix in groups)
    order = sorted(groups, key=int) if numbered else list(groups)
    hidden, output = activations
    steps: list[Step] = []
    linears: list[tuple[str, Linear]] = []
    for prefix in order:
        tensors = groups[prefix]
        if "running_mean" in tensors or "running_var" in tensors:
            label = f"{prefix} (BatchNorm1d)"
            if "running_mean" not in tensors or "running_var" not in tensors:
                raise TorchImportError(f"{path}: state_dict has only one of {prefix}.running_mean and .running_var")
            mean = _numpy(torch, label, tensors["running_mean"])
            gamma = _numpy(torch, label, tensors.get("weight"))
            beta = _numpy(torch, label, tensors.get("bias"))
            steps.insert(
                len(steps) - 1 if steps and isinstance(steps[-1], Activation) else len(steps),
                BatchNorm(
                    label,
                    np.ones(len(mean)) if gamma is None else gamma,
                    np.zeros(len(mean)) if beta is None else beta,
                    mean,
                    _numpy(torch, label, tensors["running_var"]),
                    STATE_DICT_EPS,
                ),
            )
            continue
        label = f"layer {prefix} (Linear)" if numbered else f"{prefix} (Linear)"
        if "weight" not in tensors:
            raise TorchImportError(f"{path}: state_dict has {prefix}.bias but no {prefix}.weight")
        linear = _linear(torch, label, tensors["weight"], tensors.get("bias"))
        if linears and numbered:
            before_prefix, before = linears[-1]
            if (
                linear.in_features == before.out_features
                and int(prefix) == int(before_prefix) + 1
                and hidden != "linear"
            ):
                raise TorchImportError(
                    f"{path}: layers {before_prefix} and {prefix} are Linear layers with nothing between them, "
                    f"so the hidden activation is linear, not {hidden}"
                )
        linears.append((prefix, linear))
        steps += [linear, Activation(f"{label} activation", hidden)]
    if steps and isinstance(steps[-1], Activation):
        steps[-1] = Activation(steps[-1].label, output)
    return steps


def write_network(network: FloatNetwork, formats: Sequence[QFormat], out: Path) -> pd.DataFrame:
    """Writes OUT/network.json and OUT/weights_<format>.inc per format (each once; raw values in the format's
    weight format, e.g. q2.6 for q8.8w2.6); a summary row per format, saturation counted against that range."""
    out = Path(out)
    rows, files = [], {NETWORK_FILE: json.dumps(network_document(network), indent=1) + "\n"}
    for fmt in unique_formats(formats):
        quantized = quantize(network.weights, fmt.weight_format)
        files[weights_file(fmt)] = weights_include(quantized.raw, "neuron")
        rows.append(
            {
                "format": fmt.name,
                "weights": len(quantized.raw),
                "saturated": quantized.saturated,
                "max_abs_error": quantized.max_error,
            }
        )
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
