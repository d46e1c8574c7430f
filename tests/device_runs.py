"""Running a test's own firmware (a Workload made in the test) through `qbench run`, as a user would."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qbench.commands.cli import main as qbench_main
from qbench.images.workloads import WORKLOADS, Workload
from qbench.records.results import read_results


def run_inference(tmp_path: Path, monkeypatch, workload: Workload, cores: str) -> pd.DataFrame:
    """The rows of workload's Q16.16 inference images on cores, run into tmp_path; the run must succeed."""
    monkeypatch.setitem(WORKLOADS, workload.name, workload)
    out = tmp_path / "out"
    code = qbench_main(
        [
            "run",
            "--cores",
            cores,
            "--formats",
            "q16.16",
            "--variants",
            "inference",
            "--workload",
            workload.name,
            "--out",
            str(out),
            "--build-dir",
            str(tmp_path / "build"),
        ]
    )
    assert code == 0
    return read_results(out).rows
