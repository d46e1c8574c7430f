"""The firmware workloads under suite/workloads/: their sources, the macros that
configure them, the files each needs generated before it compiles, and what the
host knows about each image (saturated weights, float accuracy, the predictions
the device must make).

xor trains on the device (or deploys weights trained by the bit-exact model);
every directory with a workload.toml (iris, digits) is a classification
workload trained in float on the host and deployed inference-only, its file
read when the workload is first used (WORKLOADS).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path

import numpy as np

from qbench.common.errors import QbenchError
from qbench.common.paths import SUITE, in_checkout, shown
from qbench.models.classification import (
    Description,
    WorkloadFileError,
    check_shape,
    deploy,
    host_network,
    read_description,
)
from qbench.models.network import FloatNetwork, NetworkError, NetworkShape
from qbench.models.qformat import FloatFormat, NumberFormat, QFormat, rescale, saturate
from qbench.models.reference import DEFAULT_WEIGHT_SEED, initial_weights, train_xor
from qbench.models.testdata import TestData
from qbench.models.training import Recipe, train

COMMON = SUITE / "workloads" / "common"
CLASSIFY_SOURCE = SUITE / "workloads" / "classify" / "classify.cpp"


class WorkloadError(QbenchError, ValueError):
    """A workload qbench cannot use: its workload.toml is missing a key, malformed or out of range; the
    message names the file, the key, the value and what is allowed."""


# The activations a workload may ask a library for (qbench::Activation in contract.hpp), by the names
# qbench.reference uses.
ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


@dataclass(frozen=True)
class WorkloadSettings:
    """Choices compiled into a workload image."""

    max_iterations: int = 20000  # training budget of a trainable image
    log_every: int = 10  # iterations between training-log records
    hidden_activation: str | None = None  # None: the workload's own
    output_activation: str | None = None
    model: FloatNetwork | None = None  # an imported network (qbench run --model) instead of host training
    # The test set the user designates (--test-data, with --model): accuracy is measured on exactly it.
    test_data: TestData | None = None
    # Where a trainable network's initial weights come from: INITIAL_WEIGHTS.
    initial_weights: str = "qbench"


# --initial-weights: qbench's own draw (the same for every library), or each library's generator.
INITIAL_WEIGHTS = ("qbench", "library")


def initial_weights_label(settings: WorkloadSettings) -> str:
    """The results' initial_weights of a trainable row: "qbench seed 0x2545f491" or "library"."""
    return f"qbench seed {DEFAULT_WEIGHT_SEED:#010x}" if settings.initial_weights == "qbench" else "library"


DEFAULT_SETTINGS = WorkloadSettings()


@dataclass(frozen=True)
class WorkloadSources:
    """What compiling one workload variant needs besides the target's flags."""

    source: Path
    defines: dict[str, str]
    generated: dict[str, str] = field(default_factory=dict)  # file name -> text, put on the include path
    # Deployed weights in qbench's order; the build writes them as weights.inc in the library's order.
    weights: tuple[int | float, ...] | None = None

    def __reduce__(self) -> tuple:
        """Prepared on a worker, planned on the client: the source travels as its place in the checkout."""
        return _sources_from, (shown(self.source), self.defines, self.generated, self.weights)


def _sources_from(source: str, defines: dict, generated: dict, weights: tuple | None) -> WorkloadSources:
    return WorkloadSources(in_checkout(source), defines, generated, weights)


@dataclass(frozen=True)
class HostFigures:
    """What the host knows of one image before it runs (None: not applicable)."""

    connections: int | None = None
    weights_saturated: int | None = None
    inputs_saturated: int | None = None
    accuracy_float_host: float | None = None
    expected_predictions: tuple[int, ...] | None = None  # a regression's: the bit-exact model's raw outputs
    test_set: str | None = None  # the test split's origin and size (a file, or qbench's split)
    input_scaling: str | None = None  # the inputs' scaling with its parameters, the same on host and device
    quantization_error: float | None = None  # classification.Deployment.quantization_error
    # A regression: the test targets in their units, units = output * target_scale + target_offset, and the
    # float network's MAE, RMSE and largest error on the host.
    test_targets: tuple[float, ...] | None = None
    target_offset: float | None = None
    target_scale: float | None = None
    mae_float_host: float | None = None
    rmse_float_host: float | None = None
    max_error_float_host: float | None = None
    initial_weights: str | None = None  # a trainable image's: initial_weights_label


def c_literal(value: int | float) -> str:
    """A table entry: a raw integer, or a float as an exact hexadecimal float literal."""
    return f"{float(value).hex()}f" if isinstance(value, float) else str(value)


def table_include(values: Sequence[int | float], what: str) -> str:
    """The body of a C array initialiser, included by an image."""
    literals = [c_literal(value) for value in values]
    rows = [", ".join(literals[start : start + 8]) for start in range(0, len(literals), 8)]
    return f"// Generated by qbench: {what}.\n" + ",\n".join(rows) + "\n"


def weights_include(weights: Sequence[int | float], order: str) -> str:
    return table_include(weights, f"weights in {order} order")


def format_defines(fmt: NumberFormat) -> dict[str, str]:
    """The values' format, and the weights' own signed format where it has one (q8.8w2.6)."""
    if isinstance(fmt, FloatFormat):
        return {"QBENCH_FLOAT": "1", "QBENCH_FORMAT_NAME": f'"{fmt.name}"'}
    weights = (
        {}
        if fmt.weights is None
        else {
            "QBENCH_W_INTEGER_BITS": str(fmt.weights.integer_bits),
            "QBENCH_W_FRACTIONAL_BITS": str(fmt.weights.fractional_bits),
        }
    )
    return {
        "QBENCH_Q_INTEGER_BITS": str(fmt.integer_bits),
        "QBENCH_Q_FRACTIONAL_BITS": str(fmt.fractional_bits),
        "QBENCH_Q_SIGNED": "1" if fmt.signed else "0",
        **weights,
        "QBENCH_FORMAT_NAME": f'"{fmt.name}"',
    }


def network_defines(shape: NetworkShape) -> dict[str, str]:
    return {
        "QBENCH_INPUTS": str(shape.inputs),
        "QBENCH_HIDDEN_LAYERS": str(shape.hidden_layers),
        "QBENCH_HIDDEN_NEURONS": str(shape.hidden_neurons),
        "QBENCH_OUTPUTS": str(shape.outputs),
        "QBENCH_HIDDEN_ACTIVATION": shape.hidden_activation,
        "QBENCH_OUTPUT_ACTIVATION": shape.output_activation,
    }


@dataclass(frozen=True)
class Workload:
    name: str
    # (format, trainable, settings, network) -> sources; the format is None for the baseline.
    configure: Callable[[NumberFormat | None, bool, WorkloadSettings, NetworkShape | None], WorkloadSources]
    # The network a run builds, from the settings and any --hidden-layers / --hidden-neurons (NetworkError if none).
    shape: Callable[[WorkloadSettings, int | None, int | None], NetworkShape | None] = lambda settings, layers, width: (
        None
    )
    # Why a format, variant and network cannot be built, or None.
    rejection: Callable[[NumberFormat, bool, WorkloadSettings, NetworkShape], str | None] = (
        lambda fmt, trainable, settings, shape: None
    )
    host_figures: Callable[[NumberFormat, bool, WorkloadSettings, NetworkShape], HostFigures] = (
        lambda fmt, trainable, settings, shape: HostFigures(connections=shape.connections)
    )
    # The variants a run builds when --variants is not given: those the workload can build.
    default_variants: tuple[str, ...] = ("trainable", "inference")

    # A workload read from a folder outside suite/workloads/ (--workload PATH): that folder, shown(); its
    # workload.toml and data files are part of the prepare stage's key (fingerprint).
    folder: str | None = None
    fingerprint: str = ""

    def __reduce__(self) -> tuple:
        """A workload travels to a worker by name: the worker has the same workloads in its own checkout; one
        read from a folder (--workload PATH) travels by its path, which the worker must see too."""
        if self.folder is not None:
            return _workload_at, (self.folder,)
        return _workload_named, (self.name,)


# --- xor ---------------------------------------------------------------------------------------------------------

XOR_FLOAT_RECIPE = Recipe(epochs=2000, learning_rate=0.5, momentum=0.9, batch_size=4, seed=1)
XOR_INPUTS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)
XOR_TARGETS = np.array([[0], [1], [1], [0]], dtype=np.float64)


def _xor_shape(settings: WorkloadSettings, layers: int | None, width: int | None) -> NetworkShape:
    if settings.model is not None:
        raise NetworkError("xor builds its own network; --model is for the classification workloads")
    return NetworkShape(
        2, layers or 1, width or 4, 1, settings.hidden_activation or "tanh", settings.output_activation or "sigmoid"
    )


@cache
def trained_xor_weights(fmt: NumberFormat, shape: NetworkShape) -> tuple[int | float, ...]:
    """Weights for an inference-only XOR image: what the trainable network reaches on the
    bit-exact model (Q formats; trained in the values' format, then stored in the weights' own,
    saturating), or what float training on the host reaches (float)."""
    if isinstance(fmt, FloatFormat):
        trained = train(shape, XOR_INPUTS, XOR_TARGETS, XOR_FLOAT_RECIPE)
        return tuple(float(np.float32(weight)) for weight in trained.weights)
    return tuple(saturate(fmt.weight_format, weight) for weight in _xor_weights_at_weight_resolution(fmt, shape))


@cache
def _xor_weights_at_weight_resolution(fmt: QFormat, shape: NetworkShape) -> tuple[int, ...]:
    """The weights XOR training reaches in the values' format, rounded to the weights' resolution (unsaturated)."""
    trained = train_xor(
        fmt.value_format, layer_sizes=shape.layer_sizes, hidden=shape.hidden_activation, output=shape.output_activation
    ).weights
    return tuple(rescale(fmt.value_format, fmt.weight_format, weight) for weight in trained)


def xor_weights_saturated(fmt: QFormat, shape: NetworkShape) -> int:
    """How many of the trained weights an inference-only XOR image's weight format clamps."""
    weights = fmt.weight_format
    rounded = _xor_weights_at_weight_resolution(fmt, shape)
    return sum(not weights.min_raw <= weight <= weights.max_raw for weight in rounded)


def _xor(fmt: NumberFormat, trainable: bool, settings: WorkloadSettings, shape: NetworkShape) -> WorkloadSources:
    source = SUITE / "workloads" / "xor" / "xor.cpp"
    defines = {**format_defines(fmt), **network_defines(shape), "QBENCH_TRAINABLE": "1" if trainable else "0"}
    if trainable:
        return _xor_trainable(fmt, settings, shape, source, defines)
    return WorkloadSources(
        source, {**defines, "QBENCH_WEIGHTS_INCLUDE": '"weights.inc"'}, weights=trained_xor_weights(fmt, shape)
    )


def _xor_trainable(
    fmt: NumberFormat, settings: WorkloadSettings, shape: NetworkShape, source: Path, defines: dict[str, str]
) -> WorkloadSources:
    """A trainable image: its budget, and qbench's initial weights unless the library draws its own."""
    training = {"QBENCH_MAX_ITERATIONS": str(settings.max_iterations), "QBENCH_LOG_EVERY": str(settings.log_every)}
    if settings.initial_weights == "library":
        return WorkloadSources(source, {**defines, **training})
    return WorkloadSources(
        source,
        {**defines, **training, "QBENCH_WEIGHTS_INCLUDE": '"weights.inc"'},
        weights=initial_weights(fmt, shape.layer_sizes),
    )


def _xor_host_figures(
    fmt: NumberFormat, trainable: bool, settings: WorkloadSettings, shape: NetworkShape
) -> HostFigures:
    """The connections; for an inference image whose weights have their own format, how many saturate in it."""
    saturated = xor_weights_saturated(fmt, shape) if fmt.weights is not None and not trainable else None
    starting = initial_weights_label(settings) if trainable else None
    return HostFigures(connections=shape.connections, weights_saturated=saturated, initial_weights=starting)


def _xor_rejection(fmt: NumberFormat, trainable: bool, settings: WorkloadSettings, shape: NetworkShape) -> str | None:
    if isinstance(fmt, FloatFormat):
        return None
    if not fmt.signed:
        # Weights start in [-0.5, 0.5), targets need negative errors, and tanh outputs are negative.
        return f"{fmt.name} is unsigned; the xor workload's weights and errors need a signed Q format"
    if fmt.fractional_bits == 0:
        return f"{fmt.name} has no fractional bits; xor's weights start uniform in [-0.5, 0.5)"
    return None


# --- classification (iris, digits) ---------------------------------------------------------------------------


def _classification(description: Description, folder: str | None = None, fingerprint: str = "") -> Workload:
    """A workload trained on the host from its description: the device images are inference-only."""
    return Workload(
        description.name,
        partial(_classification_sources, description),
        partial(_classification_shape, description),
        partial(_classification_rejection, description),
        partial(_classification_host_figures, description),
        ("inference",),
        folder,
        fingerprint,
    )


def _classification_shape(
    description: Description, settings: WorkloadSettings, layers: int | None, width: int | None
) -> NetworkShape:
    split = description.split()
    if settings.model is not None:
        if layers is not None or width is not None:
            raise NetworkError("--model brings its own network; drop --hidden-layers and --hidden-neurons")
        check_shape(_scored(description, settings), settings.model.shape)
        return settings.model.shape
    return NetworkShape(
        split.features,
        layers or description.hidden_layers,
        width or description.hidden_neurons,
        split.classes,
        settings.hidden_activation or description.hidden_activation,
        settings.output_activation or description.output_activation,
    )


def _classification_network(description: Description, settings: WorkloadSettings, shape: NetworkShape) -> FloatNetwork:
    return settings.model if settings.model is not None else host_network(description, shape)


def _classification_sources(
    description: Description, fmt: NumberFormat, trainable: bool, settings: WorkloadSettings, shape: NetworkShape
) -> WorkloadSources:
    deployment = deploy(_scored(description, settings), fmt, _classification_network(description, settings, shape))
    samples = len(deployment.test_labels)
    defines = {
        **format_defines(fmt),
        **network_defines(shape),
        "QBENCH_WORKLOAD_NAME": f'"{description.name}"',
        "QBENCH_SAMPLES": str(samples),
        "QBENCH_WEIGHTS_INCLUDE": '"weights.inc"',
        "QBENCH_INPUTS_INCLUDE": '"test_inputs.inc"',
        "QBENCH_LABELS_INCLUDE": '"test_labels.inc"',
    }
    generated = {
        "test_inputs.inc": table_include(deployment.test_inputs[: samples * shape.inputs], "test inputs"),
        "test_labels.inc": table_include(deployment.test_labels[:samples], "test labels"),
    }
    if deployment.regression is not None:  # the firmware reports each sample's output; no labels
        defines = {**defines, "QBENCH_REGRESSION": "1"}
        del defines["QBENCH_LABELS_INCLUDE"], generated["test_labels.inc"]
    return WorkloadSources(CLASSIFY_SOURCE, defines, generated, tuple(deployment.weights))


def _classification_rejection(
    description: Description, fmt: NumberFormat, trainable: bool, settings: WorkloadSettings, shape: NetworkShape
) -> str | None:
    if trainable:
        return f"{description.name} trains on the host; its device images are inference-only (--variants inference)"
    if description.regression and shape.output_activation != "linear":
        return (
            f"{description.name} is a regression: its output activation must be linear, not "
            f"{shape.output_activation} (its targets are values, not classes)"
        )
    if not isinstance(fmt, FloatFormat) and not fmt.signed and shape.hidden_activation == "tanh":
        return f"{fmt.name} is unsigned; tanh and {description.name}'s scaled inputs need a signed Q format"
    if not isinstance(fmt, FloatFormat) and fmt.fractional_bits == 0:
        return f"{fmt.name} has no fractional bits; {description.name}'s weights are fractions"
    return None


def _classification_host_figures(
    description: Description, fmt: NumberFormat, trainable: bool, settings: WorkloadSettings, shape: NetworkShape
) -> HostFigures:
    deployment = deploy(_scored(description, settings), fmt, _classification_network(description, settings, shape))
    figures = HostFigures(
        shape.connections,
        deployment.weights_saturated,
        deployment.inputs_saturated,
        deployment.accuracy_float_host,
        deployment.expected_predictions,
        deployment.test_set or None,
    )
    figures = replace(
        figures, input_scaling=deployment.input_scaling or None, quantization_error=deployment.quantization_error
    )
    regression = deployment.regression
    if regression is None:
        return figures
    return replace(
        figures,
        test_targets=regression.targets,
        target_offset=regression.target_offset,
        target_scale=regression.target_scale,
        mae_float_host=regression.mae_float_host,
        rmse_float_host=regression.rmse_float_host,
        max_error_float_host=regression.max_error_float_host,
    )


def _scored(description: Description, settings: WorkloadSettings) -> Description:
    """The description whose test part an imported network (--model) is scored on: the --test-data file exactly
    as given, else the workload's own; its inputs through the scaling network.json records (x - offset) / scale,
    or as given when it records none and --test-data is given, else the workload's declared scaling."""
    model, test = settings.model, settings.test_data
    if model is None or (test is None and model.scaling is None):
        return description
    data = description.data
    if test is not None:
        data = replace(
            data,
            dataset=None,
            file=None,
            train_file=test.path,
            test_file=test.path,
            target=test.target,
            where="--test-data",
        )
    if model.scaling is not None:
        data = replace(data, scaling="standard", scaling_parameters=(model.scaling.offset, model.scaling.scale))
    else:
        data = replace(data, scaling="none", scaling_parameters=None)
    return replace(description, data=data)


def _empty(fmt, trainable: bool, settings: WorkloadSettings, shape) -> WorkloadSources:
    return WorkloadSources(SUITE / "workloads" / "empty" / "empty.cpp", {})


class Workloads(MutableMapping[str, Workload]):
    """The workloads by name: the built-in ones, and every folder of root holding a workload.toml. The names
    come from the folder listing alone; a folder's workload.toml is read on first access (and each time until
    it reads), so a malformed one fails only what uses that workload, with a WorkloadError."""

    def __init__(self, root: Path, built_in: dict[str, Workload]) -> None:
        self._entries: dict[str, Workload | Path] = dict(built_in)  # a Path: a workload not read yet
        for path in sorted(root.glob("*/workload.toml")):
            self._entries.setdefault(path.parent.name, path)

    def __getitem__(self, name: str) -> Workload:
        if name not in self._entries and is_workload_path(name):
            return workload_at(name)
        if name not in self._entries and "/" in name:
            raise WorkloadError(f"--workload: {name}: no workload.toml in that folder")
        entry = self._entries[name]
        if isinstance(entry, Path):
            entry = self._entries[name] = _classification(_description(entry))
        return entry

    def __contains__(self, name: object) -> bool:
        # without reading the workload
        return name in self._entries or (isinstance(name, str) and is_workload_path(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    # Tests add and replace workloads (monkeypatch.setitem), as a dict allows.
    def __setitem__(self, name: str, workload: Workload) -> None:
        self._entries[name] = workload

    def __delitem__(self, name: str) -> None:
        del self._entries[name]


def _description(path: Path) -> Description:
    try:
        return read_description(path)
    except WorkloadFileError as error:
        raise WorkloadError(str(error)) from None


WORKLOADS = Workloads(
    SUITE / "workloads",
    {"xor": Workload("xor", _xor, _xor_shape, _xor_rejection, host_figures=_xor_host_figures)},
)
EMPTY_BASELINE = Workload("empty", _empty)


def is_workload_path(text: str) -> bool:
    """--workload names a folder holding a workload.toml (a path: it has a slash, or is such a folder here)."""
    path = Path(text).expanduser()
    return ("/" in text or text.startswith((".", "~")) or path.is_dir()) and (path / "workload.toml").is_file()


def workload_fingerprint(toml: Path, description: Description) -> str:
    """A digest of the workload.toml and the data files it names: a path workload's part of the prepare key."""
    digest = hashlib.sha256(toml.read_bytes())
    data = description.data
    for name in (data.file, data.train_file, data.test_file):
        if name is not None and Path(name).is_file():
            digest.update(Path(name).read_bytes())
    return digest.hexdigest()


@cache
def _workload_read(folder: str, stamp: tuple) -> Workload:
    toml = Path(folder) / "workload.toml"
    description = _description(toml)
    return _classification(description, folder, workload_fingerprint(toml, description))


def workload_at(text: str) -> Workload:
    """The workload in the folder text names (a workload.toml anywhere); named after the folder. Read again
    when its workload.toml changes."""
    folder = Path(text).expanduser().resolve()
    toml = folder / "workload.toml"
    try:
        status = toml.stat()
    except OSError:
        raise WorkloadError(f"{text}: no workload.toml in that folder") from None
    return _workload_read(str(folder), (status.st_mtime_ns, status.st_size))


def workload_description(name: str) -> Description:
    """The description of a data-driven workload, by name or folder (qbench split)."""
    folder = Path(name).expanduser().resolve() if is_workload_path(name) else SUITE / "workloads" / name
    if not (folder / "workload.toml").is_file():
        known = sorted(entry for entry in WORKLOADS if entry != "xor")
        raise WorkloadError(
            f"--workload: {name!r} is not a data-driven workload: neither one of {', '.join(known)} "
            "nor a folder holding a workload.toml"
        )
    return _description(folder / "workload.toml")


def _workload_at(folder: str) -> Workload:
    """A path workload as a worker finds it (Workload.__reduce__)."""
    return workload_at(folder)


def _workload_named(name: str) -> Workload:
    """A workload as a worker finds it (Workload.__reduce__)."""
    return EMPTY_BASELINE if name == EMPTY_BASELINE.name else WORKLOADS[name]
