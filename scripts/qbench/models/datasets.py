"""The data sets of the data-driven workloads: scikit-learn's bundled copies (no
download at run time), a CSV or NPZ file, or the user's own train and test
files; scaled and split the same way on every run (load_data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from qbench.common.errors import QbenchError


class DatasetError(ValueError):
    """A data set or scaling qbench does not know; the message says which ones it does."""


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    bunch = load_iris()
    return bunch.data, bunch.target


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data, bunch.target


def _bundled(loader: str, first_target: bool = False) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)()
        target = np.asarray(bunch.target)
        return np.asarray(bunch.data, dtype=np.float64), target[:, 0] if first_target else target

    return load


# name -> (inputs [samples x features], labels 0..classes-1 or regression targets), from files inside the
# scikit-learn package. linnerud has three targets: its first (Weight) is the one taken.
DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "iris": _iris,
    "digits": _digits,
    "wine": _bundled("load_wine"),
    "breast_cancer": _bundled("load_breast_cancer"),
    "diabetes": _bundled("load_diabetes"),
    "linnerud": _bundled("load_linnerud", first_target=True),
}
REGRESSION_DATASETS = ("diabetes", "linnerud")


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x - mean) / std with the training split's statistics, so the test split stays unseen."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def unit_range(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x / (the training split's largest value): non-negative inputs into [0, 1]."""
    top = float(train.max()) or 1.0
    return train / top, test / top


SCALINGS = {"standardize": standardize, "unit-range": unit_range}
# The scalings a workload.toml may declare: "standardize" is "standard"'s older name.
SCALING_NAMES = ("standard", "standardize", "minmax", "unit-range", "none")


@dataclass(frozen=True)
class Split:
    train_inputs: np.ndarray
    train_labels: np.ndarray
    test_inputs: np.ndarray
    test_labels: np.ndarray
    classes: int  # outputs: the classes, or 1 for a regression
    task: str = "classification"
    # The input scaling applied on the host and to the device's test table: (x - offset) / scale per feature.
    offset: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    # Regression: the network learns (y - target_offset) / target_scale; its outputs are read back in units.
    target_offset: float = 0.0
    target_scale: float = 1.0
    test_set: str = ""  # the test set's origin, for the report: a file, or qbench's split (fraction, seed, sizes)

    @property
    def features(self) -> int:
        return self.train_inputs.shape[1]

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    def scaling_text(self, name: str, declared: bool) -> str:
        """The input scaling as the results record it: (x - offset) / scale per feature, one value when all agree."""

        def values(numbers: tuple[float, ...]) -> str:
            shown = [f"{value:.6g}" for value in numbers]
            return shown[0] if len(set(shown)) == 1 else "[" + " ".join(shown) + "]"

        how = "declared" if declared else "fitted on the train part"
        return f"{name} ({how}): (x - {values(self.offset)}) / {values(self.scale)}"


def stratified_indices(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: round(test_fraction * n) of each class's n samples, drawn with
    the seed, go to the test split; both splits sorted so the order does not depend on the draw."""
    generator = np.random.default_rng(seed)
    test: list[int] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test += generator.permutation(members)[: round(test_fraction * len(members))].tolist()
    chosen = np.zeros(len(labels), dtype=bool)
    chosen[test] = True
    return np.flatnonzero(~chosen), np.flatnonzero(chosen)


@cache
def load_split(dataset: str, test_fraction: float, seed: int, scaling: str) -> Split:
    if dataset not in DATASETS:
        raise DatasetError(f"unknown data set {dataset!r} (known: {', '.join(DATASETS)})")
    if scaling not in SCALINGS:
        raise DatasetError(f"unknown input scaling {scaling!r} (known: {', '.join(SCALINGS)})")
    if not 0 < test_fraction < 1:
        raise DatasetError(f"test_fraction must lie between 0 and 1, not {test_fraction}")
    inputs, labels = DATASETS[dataset]()
    train, test = stratified_indices(labels, test_fraction, seed)
    train_inputs, test_inputs = SCALINGS[scaling](inputs[train].astype(np.float64), inputs[test].astype(np.float64))
    return Split(train_inputs, labels[train], test_inputs, labels[test], int(labels.max()) + 1)


class DataFileError(QbenchError, ValueError):
    """A data file qbench cannot read; the message names the file and the key that names it."""


@dataclass(frozen=True)
class DataSpec:
    """A workload's [data] table, paths resolved against its folder: where the data comes from, the task,
    the split (when qbench splits) and the input scaling."""

    task: str = "classification"
    dataset: str | None = None
    file: str | None = None  # a CSV (with target) or an NPZ (arrays X and y)
    target: str | None = None
    train_file: str | None = None
    test_file: str | None = None
    test_fraction: float = 0.3
    split_seed: int = 1
    scaling: str = "standard"
    # Explicit parameters: standard (mean, std), minmax (min, max); one value per feature (or one for all).
    scaling_parameters: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    where: str = ""  # the workload.toml, for messages


def read_table(path: str, target: str | None, named: str, target_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from an NPZ (arrays X and y) or a CSV with a header row (the target column, the last one when
    `target` is None; the others the features). A problem is a DataFileError starting with `named` (what names
    the file: a workload's key, or --test-data); `target_key` is what names the column."""
    try:
        if path.lower().endswith(".npz"):
            if target is not None:
                raise DataFileError(f"{named}: {target_key} names a CSV column; an NPZ holds arrays X and y")
            with np.load(path, allow_pickle=False) as arrays:
                missing = [name for name in ("X", "y") if name not in arrays.files]
                if missing:
                    raise DataFileError(f"{named} lacks array(s) {', '.join(missing)} (has {', '.join(arrays.files)})")
                inputs, targets = np.asarray(arrays["X"], dtype=np.float64), np.asarray(arrays["y"])
        else:
            with open(path, encoding="utf-8") as stream:
                header = [name.strip().strip('"') for name in stream.readline().strip().split(",")]
            column_name = header[-1] if target is None else target
            if column_name not in header:
                raise DataFileError(
                    f"{named} has no column {column_name!r} ({target_key}; columns: {', '.join(header)})"
                )
            table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
            if table.shape[1] != len(header):
                raise DataFileError(f"{named}: {table.shape[1]} values a row, {len(header)} column names")
            column = header.index(column_name)
            inputs, targets = np.delete(table, column, axis=1), table[:, column]
    except FileNotFoundError:
        raise DataFileError(f"{named}: no such file") from None
    except DataFileError:
        raise
    except (OSError, ValueError) as problem:
        raise DataFileError(f"{named} cannot be read: {str(problem).splitlines()[0]}") from None
    if inputs.ndim != 2 or targets.ndim != 1 or len(inputs) != len(targets) or len(inputs) == 0:
        raise DataFileError(
            f"{named}: X must be samples x features and y one value per sample (X {inputs.shape}, y {targets.shape})"
        )
    if not np.all(np.isfinite(inputs)):
        raise DataFileError(f"{named}: the features hold a value that is not a finite number")
    return inputs, targets


def _workload_table(spec: DataSpec, path: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """A workload's data file: a CSV must name its target column ('data.target')."""
    if not path.lower().endswith(".npz") and spec.target is None:
        raise DataFileError(f"{spec.where}: 'data.target' is required with a CSV file ({key} {path!r})")
    return read_table(path, spec.target, f"{spec.where}: {key} {path!r}", "'data.target'")


def class_labels(targets: np.ndarray, where: str) -> np.ndarray:
    """Classification targets as class numbers 0, 1, 2, ... (the network's output index)."""
    try:
        values = np.asarray(targets, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.array([-1.0])
    if not np.all(values == np.round(values)) or values.min() < 0:
        raise DataFileError(
            f'{where}: a classification target must be a class number 0, 1, 2, ... (task = "regression" for values)'
        )
    return values.astype(np.int64)


def _scaling(spec: DataSpec, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offset, scale) per feature: declared, or fitted on the training part."""
    features = train.shape[1]
    if spec.scaling == "unit-range":
        top = float(train.max()) or 1.0
        return np.zeros(features), np.full(features, top)
    if spec.scaling == "none":
        return np.zeros(features), np.ones(features)
    if spec.scaling_parameters is not None:
        given = len(spec.scaling_parameters[0])
        if given not in (1, features):
            key = "scaling_min" if spec.scaling == "minmax" else "scaling_mean"
            raise DataFileError(
                f"{spec.where}: 'data.{key}' has {given} values; the data has {features} features "
                f"(give 1 or {features})"
            )
        first, second = (
            np.broadcast_to(np.asarray(values, dtype=np.float64), (features,)).copy()
            for values in spec.scaling_parameters
        )
        if spec.scaling in ("standard", "standardize"):
            return first, np.where(second > 0, second, 1.0)
        span = second - first
        return first, np.where(span > 0, span, 1.0)
    if spec.scaling in ("standard", "standardize"):
        std = train.std(axis=0)
        return train.mean(axis=0), np.where(std > 0, std, 1.0)
    low, high = train.min(axis=0), train.max(axis=0)
    return low, np.where(high > low, high - low, 1.0)


@cache
def raw_parts(spec: DataSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """The train and test parts before scaling (train X, train y, test X, test y) and the test set's origin: a
    bundled set or one file split by qbench (stratified by class for a classification, seeded), or the train
    and test files exactly as given. What qbench split writes."""
    if spec.train_file is not None and spec.test_file is not None:
        train_inputs, train_targets = _workload_table(spec, spec.train_file, "'data.train_file'")
        test_inputs, test_targets = _workload_table(spec, spec.test_file, "'data.test_file'")
        if train_inputs.shape[1] != test_inputs.shape[1]:
            raise DataFileError(
                f"{spec.where}: the train file has {train_inputs.shape[1]} features, the test file "
                f"{test_inputs.shape[1]}"
            )
        test_set = (
            f"{spec.test_file} ({len(test_targets)} samples, as given; trained on {spec.train_file}, "
            f"{len(train_targets)} samples)"
        )
        if spec.where == "--test-data":  # an imported network scored on the user's test set (workloads._scored)
            test_set = f"{spec.test_file} ({len(test_targets)} samples, --test-data as given)"
    else:
        if spec.dataset is not None:
            if spec.dataset not in DATASETS:
                raise DatasetError(f"unknown data set {spec.dataset!r} (known: {', '.join(DATASETS)})")
            inputs, targets = DATASETS[spec.dataset]()
            origin = f"scikit-learn's {spec.dataset}"
        else:
            inputs, targets = _workload_table(spec, spec.file, "'data.file'")
            origin = spec.file
        if spec.task == "classification":
            targets = class_labels(targets, f"{spec.where}: {origin}")
            train, test = stratified_indices(targets, spec.test_fraction, spec.split_seed)
        else:
            order = np.random.default_rng(spec.split_seed).permutation(len(targets))
            chosen = np.zeros(len(targets), dtype=bool)
            chosen[order[: round(spec.test_fraction * len(targets))]] = True
            train, test = np.flatnonzero(~chosen), np.flatnonzero(chosen)
        train_inputs, test_inputs = inputs[train].astype(np.float64), inputs[test].astype(np.float64)
        train_targets, test_targets = targets[train], targets[test]
        kind = "stratified by class" if spec.task == "classification" else "shuffled"
        test_set = (
            f"qbench's split of {origin}: test_fraction {spec.test_fraction}, split_seed {spec.split_seed} "
            f"({kind}): {len(test)} test, {len(train)} train of {len(targets)} samples"
        )
    if spec.task == "classification":
        train_targets = class_labels(train_targets, f"{spec.where}: the training data")
        test_targets = class_labels(test_targets, f"{spec.where}: the test data")
    else:
        train_targets, test_targets = (np.asarray(part, dtype=np.float64) for part in (train_targets, test_targets))
    return train_inputs, train_targets, test_inputs, test_targets, test_set


@cache
def load_data(spec: DataSpec) -> Split:
    """The workload's train and test parts (raw_parts), scaled."""
    train_inputs, train_targets, test_inputs, test_targets, test_set = raw_parts(spec)
    if spec.task == "classification":
        train_labels, test_labels = train_targets, test_targets  # class numbers already (raw_parts)
        classes = int(max(train_labels.max(), test_labels.max())) + 1
        target_offset, target_scale = 0.0, 1.0
    else:
        train_labels = np.asarray(train_targets, dtype=np.float64)
        test_labels = np.asarray(test_targets, dtype=np.float64)
        classes = 1
        std = float(train_labels.std())
        target_offset, target_scale = float(train_labels.mean()), std if std > 0 else 1.0
    offset, scale = _scaling(spec, train_inputs)
    if spec.scaling in SCALINGS and spec.scaling_parameters is None:  # the older functions, bit for bit
        train_scaled, test_scaled = SCALINGS[spec.scaling](train_inputs, test_inputs)
    else:
        train_scaled, test_scaled = (train_inputs - offset) / scale, (test_inputs - offset) / scale
    return Split(
        train_scaled,
        train_labels,
        test_scaled,
        test_labels,
        classes,
        spec.task,
        tuple(map(float, offset)),
        tuple(map(float, scale)),
        target_offset,
        target_scale,
        test_set,
    )


def _column_names(spec: DataSpec, features: int) -> tuple[list[str], str]:
    """The features' and the target's names as a CSV source spells them, else x0, x1, ... and y."""
    source = spec.file or spec.train_file
    if source is not None and not source.endswith(".npz") and spec.target is not None:
        with open(source, encoding="utf-8") as stream:
            header = [name.strip().strip('"') for name in stream.readline().strip().split(",")]
        return [name for name in header if name != spec.target], spec.target
    return [f"x{index}" for index in range(features)], "y"


def write_parts(spec: DataSpec, directory: Path) -> list[Path]:
    """The exact train and test parts qbench uses, before scaling: train.npz and test.npz (arrays X and y) and
    train.csv and test.csv (a header row, the target last, every value as Python writes it back exactly)."""
    train_inputs, train_targets, test_inputs, test_targets, _ = raw_parts(spec)
    features, target = _column_names(spec, train_inputs.shape[1])
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, inputs, targets in (("train", train_inputs, train_targets), ("test", test_inputs, test_targets)):
        npz = directory / f"{name}.npz"
        np.savez(npz, X=inputs, y=targets)
        csv = directory / f"{name}.csv"
        lines = [",".join([*features, target])]
        lines += [
            ",".join([*(repr(float(value)) for value in row), repr(target_value.item())])
            for row, target_value in zip(inputs, targets, strict=True)
        ]
        csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written += [npz, csv]
    return written
