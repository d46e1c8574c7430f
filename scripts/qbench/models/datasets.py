"""The data sets of the classification workloads: scikit-learn's bundled copies
(no download at run time), scaled and split the same way on every run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np


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


# name -> (inputs [samples x features], labels 0..classes-1), from files inside the scikit-learn package.
DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {"iris": _iris, "digits": _digits}


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


@dataclass(frozen=True)
class Split:
    train_inputs: np.ndarray
    train_labels: np.ndarray
    test_inputs: np.ndarray
    test_labels: np.ndarray
    classes: int

    @property
    def features(self) -> int:
        return self.train_inputs.shape[1]


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
