"""A test set the user designates (`--test-data FILE` on `qbench import` and `qbench run --model`): an NPZ with
arrays X (samples x features) and y, or a CSV with a header row whose target column is named by --target (the
last column when not given), the other columns the features. Accuracy is measured on exactly these samples."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qbench.common.paths import shown
from qbench.models.datasets import read_table


@dataclass(frozen=True)
class TestData:
    """Where the test set is and what it holds, by value: a changed file is another test set (cache keys)."""

    path: str  # absolute
    target: str | None  # the CSV's target column; None for an NPZ
    digest: str  # sha256 of the file's bytes
    samples: int

    @property
    def name(self) -> str:
        """How reports name it: the file and its size."""
        return f"{shown(Path(self.path))} ({self.samples} samples)"

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, y): the features as float64, the targets as read."""
        return _read(Path(self.path), self.target)[:2]


def read_test_data(path: Path | str, target: str | None = None) -> TestData:
    path = Path(path).resolve()
    inputs, targets, column = _read(path, target)
    return TestData(str(path), column, hashlib.sha256(path.read_bytes()).hexdigest(), len(targets))


def _read(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(X, y, the CSV's target column or None for an NPZ)."""
    inputs, targets = read_table(str(path), target, f"--test-data {shown(path)}", "--target")
    if path.suffix.lower() == ".npz":
        return inputs, targets, None
    with open(path, encoding="utf-8") as stream:
        header = [name.strip().strip('"') for name in stream.readline().strip().split(",")]
    return inputs, targets, header[-1] if target is None else target
