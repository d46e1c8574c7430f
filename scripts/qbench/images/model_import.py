"""`qbench import MODEL`: a trained model from the tools people use as a qnn network.

The format is told by the file's name, else by its content:

- PyTorch (.pt, .pth; a zip holding data.pkl): torch_import.
- ONNX (.onnx; a protobuf ModelProto): a chain of Gemm (transB or not), MatMul followed by Add, Relu, Tanh,
  Sigmoid, BatchNormalization (folded into the layer before), Dropout and Identity (dropped). Read with the
  `onnx` package (pip install -e '.[onnx]').
- scikit-learn (.pkl, .pickle, .joblib; any other pickle): an MLPClassifier or MLPRegressor (activation relu,
  tanh, logistic or identity), alone or after a StandardScaler or MinMaxScaler in a Pipeline; the scaler
  becomes the network's input scaling. Pickle and joblib files run code when loaded: import only files you
  trust.

MLPClassifier's output: softmax (three or more classes) becomes a linear output (qnn's prediction is the largest
output, which the softmax does not change; the outputs are then the logits, not probabilities); logistic (two
classes, one output unit) becomes a sigmoid output beside a constant 0.5, so that the largest of the two outputs
is the class scikit-learn predicts (class 1 when its probability is above 0.5).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from qbench.images.layers import (
    Activation,
    BatchNorm,
    Linear,
    ModelImportError,
    NoOp,
    Step,
    chain_network,
    checked_arrays,
)
from qbench.images.torch_import import load_torch_network
from qbench.models.network import FloatNetwork, InputScaling, predictions, quantize
from qbench.models.qformat import FloatFormat, NumberFormat, to_float
from qbench.models.reference import forward_batch

ONNX_NOT_INSTALLED = "the onnx package is not installed: pip install -e '.[onnx]'"
ONNX_OPERATORS = "Gemm, MatMul+Add, Relu, Tanh, Sigmoid, BatchNormalization, Dropout, Identity"
FORMATS = {"torch": "PyTorch", "onnx": "ONNX", "sklearn": "scikit-learn"}


def model_format(path: Path) -> str:
    """torch, onnx or sklearn: by the file's suffix, else by its first bytes."""
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth"):
        return "torch"
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pkl", ".pickle", ".joblib"):
        return "sklearn"
    head = path.read_bytes()[:4]
    if head.startswith(b"PK") and zipfile.is_zipfile(path):
        return "torch"  # torch.save's zip format
    if head[:1] == b"\x80":
        return "sklearn"  # a pickle (scikit-learn's own; torch's legacy format is tried on failure)
    return "onnx"


def load_model(path: Path, activations: tuple[str, str] | None = None) -> tuple[FloatNetwork, str]:
    """The network a model file holds, and the file's format (torch, onnx, sklearn)."""
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    kind = model_format(path)
    if kind == "torch":
        return load_torch_network(path, activations), kind
    if kind == "onnx":
        return load_onnx_network(path, activations), kind
    return load_sklearn_network(path, activations), kind


# --- ONNX ----------------------------------------------------------------------------------------------------------


def load_onnx_network(path: Path, activations: tuple[str, str] | None = None) -> FloatNetwork:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelImportError(ONNX_NOT_INSTALLED) from None
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as error:  # protobuf's DecodeError and others: one line
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelImportError(f"onnx cannot read {path} (is it an ONNX file?): {reason}") from None
    graph = model.graph
    constants = {tensor.name: numpy_helper.to_array(tensor).astype(np.float64) for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = next((a for a in node.attribute if a.name == "value"), None)
            if value is not None:
                constants[node.output[0]] = numpy_helper.to_array(value.t).astype(np.float64)
    inputs = [value.name for value in graph.input if value.name not in constants]
    if len(inputs) != 1:
        raise ModelImportError(
            f"{path}: the graph has {len(inputs)} inputs ({', '.join(inputs)}); qnn's network takes one"
        )
    steps: list[Step] = []
    current = inputs[0]
    for index, node in enumerate(graph.node):
        if node.op_type == "Constant":
            continue
        label = f"node {node.name!r} ({node.op_type})" if node.name else f"node #{index} ({node.op_type})"
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        data = [name for name in node.input if name and name not in constants]
        if data != [current] or len(node.output) < 1:
            raise ModelImportError(
                f"{path}: {label} does not take the output of the node before it: qbench reads "
                f"a chain of {ONNX_OPERATORS}"
            )
        steps.append(_onnx_step(path, label, node, attributes, constants, steps))
        current = node.output[0]
    if graph.output and graph.output[0].name != current:
        raise ModelImportError(f"{path}: the graph's output {graph.output[0].name!r} is not the end of the chain")
    return chain_network(str(path), [step for step in steps if step is not None], activations)


def _constant(path: Path, label: str, constants: dict, name: str) -> np.ndarray:
    if name not in constants:
        raise ModelImportError(f"{path}: {label} needs {name!r} as a constant (an initializer)")
    return constants[name]


def _onnx_step(path: Path, label: str, node, attributes: dict, constants: dict, steps: list) -> Step | None:
    op = node.op_type
    if op == "Gemm":
        if attributes.get("transA", 0):
            raise ModelImportError(f"{path}: {label} has transA=1; qbench reads a Gemm of the data by the weights")
        matrix = _constant(path, label, constants, node.input[1])
        weight = matrix if attributes.get("transB", 0) else matrix.T  # [out x in]
        weight = weight * float(attributes.get("alpha", 1.0))
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = np.broadcast_to(_constant(path, label, constants, node.input[2]).reshape(-1), (weight.shape[0],))
            bias = bias * float(attributes.get("beta", 1.0))
        return Linear(label, *checked_arrays(label, weight, bias))
    if op == "MatMul":
        matrix = _constant(path, label, constants, node.input[1])
        return Linear(label, *checked_arrays(label, matrix.T, None))
    if op == "Add":
        other = (
            next(name for name in node.input if name in constants)
            if any(name in constants for name in node.input)
            else None
        )
        if other is None or not steps or not isinstance(steps[-1], Linear):
            raise ModelImportError(
                f"{path}: {label} does not add a constant bias to a MatMul or Gemm: qbench reads "
                f"a chain of {ONNX_OPERATORS}"
            )
        last = steps.pop()
        addend = constants[other].reshape(-1)
        if addend.size not in (1, last.out_features):
            raise ModelImportError(f"{path}: {label} adds {addend.size} values to {last.out_features} outputs")
        steps.append(Linear(last.label, last.weight, last.bias + addend))
        return NoOp(label)
    if op in ("Relu", "Tanh", "Sigmoid"):
        return Activation(label, op.lower())
    if op in ("Dropout", "Identity"):
        return NoOp(label)
    if op == "BatchNormalization":
        scale, bias, mean, var = (_constant(path, label, constants, name).reshape(-1) for name in node.input[1:5])
        return BatchNorm(label, scale, bias, mean, var, float(attributes.get("epsilon", 1e-5)))
    raise ModelImportError(f"{path}: {label} is an operator qbench does not import ({op}); it reads {ONNX_OPERATORS}")


# --- scikit-learn ----------------------------------------------------------------------------------------------------

SKLEARN_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "linear"}
SKLEARN_SUPPORTED = "an MLPClassifier or MLPRegressor, alone or after a StandardScaler or MinMaxScaler in a Pipeline"


def load_sklearn_network(path: Path, activations: tuple[str, str] | None = None) -> FloatNetwork:
    """A pickled or joblib-saved MLPClassifier/MLPRegressor (or a Pipeline ending in one). Unpickling runs code
    from the file: load only files you trust."""
    path = Path(path)
    saved = _unpickled(path, activations)
    if isinstance(saved, FloatNetwork):  # torch's legacy (pickle) format
        return saved
    scaler, estimator = _pipeline_parts(path, saved)
    return chain_network(str(path), _sklearn_steps(path, estimator), activations, _scaling(path, scaler))


def _unpickled(path: Path, activations: tuple[str, str] | None) -> Any:
    """What the file holds: a scikit-learn object, or the network of a torch file in torch's legacy format."""
    try:
        import joblib
        import sklearn  # noqa: F401 (checked first: a missing one is named, not an obscure unpickling error)
    except ImportError:  # scikit-learn is a dependency of qbench; joblib comes with it
        raise ModelImportError("scikit-learn is not installed: pip install -e .") from None
    try:
        return joblib.load(path)
    except Exception as error:  # pickle raises anything the file's code raises
        if path.suffix.lower() not in (".pkl", ".pickle", ".joblib"):
            try:
                return load_torch_network(path, activations)
            except ModelImportError:
                pass
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelImportError(
            f"cannot unpickle {path} (a pickle or joblib file of a scikit-learn model?): {reason}"
        ) from None


def _pipeline_parts(path: Path, saved: Any) -> tuple[Any, Any]:
    """(the input scaler or None, the fitted MLP) of a saved estimator or Pipeline."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    scaler, estimator = None, saved
    if isinstance(saved, Pipeline):
        stages = [(name, step) for name, step in saved.steps if step not in (None, "passthrough")]
        *before, (last_name, estimator) = stages or [("", None)]
        for name, step in before:
            if scaler is not None or not isinstance(step, StandardScaler | MinMaxScaler):
                raise ModelImportError(
                    f"{path}: the Pipeline's step {name!r} ({type(step).__name__}) is not "
                    f"supported: qbench reads {SKLEARN_SUPPORTED}"
                )
            scaler = step
    if not isinstance(estimator, MLPClassifier | MLPRegressor):
        raise ModelImportError(f"{path} holds a {type(estimator).__name__}, not {SKLEARN_SUPPORTED}")
    if not hasattr(estimator, "coefs_"):
        raise ModelImportError(f"{path}: the {type(estimator).__name__} is not fitted")
    return scaler, estimator


def _sklearn_steps(path: Path, estimator: Any) -> list[Step]:
    """A fitted MLP's layers as qbench's steps: each Linear, then its activation."""
    from sklearn.neural_network import MLPClassifier

    hidden = SKLEARN_ACTIVATIONS.get(estimator.activation)
    if hidden is None:
        raise ModelImportError(
            f"{path}: activation {estimator.activation!r} is not supported "
            f"(qbench reads {', '.join(SKLEARN_ACTIVATIONS)})"
        )
    layers = [
        (np.asarray(c, dtype=np.float64).T, np.asarray(b, dtype=np.float64))
        for c, b in zip(estimator.coefs_, estimator.intercepts_, strict=True)
    ]
    output = {"identity": "linear", "softmax": "linear", "logistic": "sigmoid"}[estimator.out_activation_]
    if isinstance(estimator, MLPClassifier) and estimator.out_activation_ == "logistic":
        if len(estimator.classes_) != 2 or layers[-1][0].shape[0] != 1:
            raise ModelImportError(
                f"{path}: a multi-label MLPClassifier is not supported: qbench scores one class per sample"
            )
        weight, bias = layers[-1]
        # sigmoid(0) = 0.5 beside P(class 1): the larger output is the class scikit-learn predicts.
        layers[-1] = (np.vstack([np.zeros_like(weight), weight]), np.concatenate([[0.0], bias]))
    steps: list[Step] = []
    for index, (weight, bias) in enumerate(layers):
        label = f"layer {index} (coefs_[{index}])"
        steps += [
            Linear(label, *checked_arrays(label, weight, bias)),
            Activation(f"{label} activation", hidden if index < len(layers) - 1 else output),
        ]
    return steps


def _scaling(path: Path, scaler) -> InputScaling | None:
    """A fitted StandardScaler or MinMaxScaler as x' = (x - offset) / scale."""
    if scaler is None:
        return None
    if not hasattr(scaler, "scale_") and not hasattr(scaler, "mean_"):
        raise ModelImportError(f"{path}: the Pipeline's {type(scaler).__name__} is not fitted")
    features = int(scaler.n_features_in_)
    if type(scaler).__name__ == "StandardScaler":
        mean = getattr(scaler, "mean_", None)
        std = getattr(scaler, "scale_", None)
        offset = np.zeros(features) if mean is None or not scaler.with_mean else np.asarray(mean, dtype=np.float64)
        scale = np.ones(features) if std is None or not scaler.with_std else np.asarray(std, dtype=np.float64)
        return InputScaling("standard", tuple(map(float, offset)), tuple(map(float, scale)))
    if getattr(scaler, "clip", False):
        raise ModelImportError(f"{path}: the MinMaxScaler clips (clip=True), which qbench's input scaling does not")
    factor = np.asarray(scaler.scale_, dtype=np.float64)  # x * scale_ + min_
    return InputScaling("minmax", tuple(map(float, -np.asarray(scaler.min_) / factor)), tuple(map(float, 1 / factor)))


# --- scoring on a test set -------------------------------------------------------------------------------------------


def scaled_inputs(network: FloatNetwork, inputs: np.ndarray) -> np.ndarray:
    """The inputs as the network takes them: through its input scaling, if it has one."""
    if inputs.shape[1] != network.shape.inputs:
        raise ModelImportError(
            f"the test data has {inputs.shape[1]} features; the network {network.shape.name} "
            f"takes {network.shape.inputs} inputs"
        )
    return inputs if network.scaling is None else network.scaling.apply(inputs)


def _outputs(network: FloatNetwork, scaled: np.ndarray, fmt: NumberFormat | None) -> np.ndarray:
    """The network's outputs in float64, or qnn's bit-exact model's in a Q format (converted to float)."""
    if fmt is None or isinstance(fmt, FloatFormat):
        return network.forward(scaled)
    shape = network.shape
    weights = quantize(network.weights, fmt.weight_format).raw
    raw = quantize(scaled.reshape(-1).tolist(), fmt).raw
    outputs = forward_batch(
        fmt,
        shape.layer_sizes,
        shape.hidden_activation,
        shape.output_activation,
        weights,
        np.array(raw, dtype=object).reshape(len(scaled), -1),
    )
    return np.vectorize(lambda value: to_float(fmt, int(value)), otypes=[np.float64])(np.asarray(outputs))


def errors_on(
    network: FloatNetwork, inputs: np.ndarray, targets: np.ndarray, fmt: NumberFormat | None = None
) -> tuple[float, float, float]:
    """A regression network (one output) on a test set: MAE, RMSE and the largest error, in the targets' units."""
    errors = _outputs(network, scaled_inputs(network, inputs), fmt)[:, 0] - np.asarray(targets, dtype=np.float64)
    return float(np.mean(np.abs(errors))), float(np.sqrt(np.mean(errors**2))), float(np.max(np.abs(errors)))


def accuracy_on(
    network: FloatNetwork, inputs: np.ndarray, labels: np.ndarray, fmt: NumberFormat | None = None
) -> float:
    """The share of the test set classified right: by the float64 network (fmt None or a float format), or by
    qnn's bit-exact model in a Q format (weights and scaled inputs quantized as the device gets them)."""
    scaled = scaled_inputs(network, inputs)
    if labels.max() >= network.shape.outputs:
        raise ModelImportError(
            f"the test data has class {int(labels.max())}; the network has {network.shape.outputs} outputs "
            f"(classes 0 to {network.shape.outputs - 1})"
        )
    return float(np.mean(predictions(_outputs(network, scaled, fmt)) == labels))
