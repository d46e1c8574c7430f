"""Workloads from anywhere (issue 23): --workload takes a folder holding a workload.toml, outside the checkout;
its data are a scikit-learn bundled set, a CSV or NPZ file, or train and test files used exactly as given; a
regression reports MAE, RMSE and the largest error on the device beside the float network's; the scaling is
recorded; qbench split writes the exact parts; a malformed [data] table is one line naming the file and key."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.execution.protocol import parse_report
from qbench.images.workloads import WORKLOADS, WorkloadError, WorkloadSettings
from qbench.models.classification import WorkloadFileError, read_description
from qbench.models.qformat import parse_format
from qbench.records.results import read_results

TINY = """
[network]
hidden_layers = 1
hidden_neurons = 3
hidden_activation = "tanh"
output_activation = "{output}"

[training]
epochs = {epochs}
learning_rate = 0.05
momentum = 0.9
batch_size = 16
seed = 1
"""


def workload(folder: Path, data: str, output: str = "sigmoid", epochs: int = 20) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workload.toml").write_text("[data]\n" + data + TINY.format(output=output, epochs=epochs))
    return folder


def regression_csv(path: Path, samples: int = 80) -> Path:
    generator = np.random.default_rng(3)
    inputs = generator.uniform(-1, 1, (samples, 3))
    targets = 3 * inputs[:, 0] - 2 * inputs[:, 1] + 0.5 * inputs[:, 2] ** 2 + 10
    lines = ["a,b,c,power"] + [
        ",".join(f"{value:.5f}" for value in (*row, target)) for row, target in zip(inputs, targets, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("workloads")
    cancer = workload(root / "cancer", 'dataset = "breast_cancer"\ntest_fraction = 0.3\nscaling = "standard"\n')
    (root / "power").mkdir()
    regression_csv(root / "power" / "data.csv")
    power = workload(
        root / "power",
        'task = "regression"\nfile = "data.csv"\ntarget = "power"\ntest_fraction = 0.25\nscaling = "minmax"\n',
        output="linear",
        epochs=60,
    )
    return root, cancer, power


def run(root: Path, folder: Path, name: str):
    out = root / f"out-{name}"
    status = qbench_main(
        [
            "run",
            "--workload",
            str(folder),
            "--cores",
            "cortex-m0plus",
            "--formats",
            "q16.16",
            "--out",
            str(out),
            "--build-dir",
            str(root / "build"),
        ]
    )
    return status, read_results(out).rows, out


def test_a_breast_cancer_folder_runs_on_the_device_like_a_built_in_workload(folders):
    root, cancer, _ = folders
    status, rows, out = run(root, cancer, "cancer")
    assert status == 0
    row = rows.iloc[0]
    assert (row["workload"], row["status"], row["network"]) == ("cancer", "ok", "30-3-2 tanh/sigmoid")
    assert row["test_samples"] == 171 and row["matches_reference"]
    assert abs(row["accuracy_device"] - row["accuracy_float_host"]) <= 2 / 171
    assert row["accuracy_device"] > 0.85
    assert "qbench's split of scikit-learn's breast_cancer: test_fraction 0.3, split_seed 1" in row["test_set"]
    assert "171 test, 398 train of 569 samples" in row["test_set"]
    assert row["input_scaling"].startswith("standard (fitted on the train part): (x - [")
    assert 0 < row["quantization_error"] < 2**-10  # q16.16's outputs against the float network's
    report = (out / "report.md").read_text()
    assert "## Test sets" in report and "qbench's split of scikit-learn's breast_cancer" in report
    assert "Quantisation error (`quantization_error`)" in report
    assert re.search(r"\|\s*quantization_error\s*\|", report)


def test_a_csv_regression_reports_its_errors_on_the_device_in_the_targets_units(folders):
    root, _, power = folders
    status, rows, out = run(root, power, "power")
    assert status == 0
    row = rows.iloc[0]
    assert (row["workload"], row["status"], row["network"]) == ("power", "ok", "3-3-1 tanh/linear")
    assert row["test_samples"] == 20 and row["matches_reference"]
    assert pd.isna(row["accuracy_device"])
    for figure in ("mae", "rmse", "max_error"):
        device, host = row[f"{figure}_device"], row[f"{figure}_float_host"]
        assert abs(device - host) < 0.01 * host + 1e-3, figure  # q16.16 rounding, in the target's units
    assert row["mae_device"] <= row["rmse_device"] <= row["max_error_device"]
    assert row["mae_float_host"] < 1.5  # the targets span about 10 units
    assert "## Regression" in (out / "report.md").read_text()
    assert 0 < row["quantization_error"] < 2**-10  # q16.16's output against the float network's


def test_a_regression_report_parses():
    text = (
        "begin workload=w qformat=q16.16 variant=inference\npredictions outputs=1,-2,65536\nregressed total=3\n"
        "end status=0\n"
    )
    report = parse_report(text)
    assert report.classification.regression and report.classification.predictions == (1, -2, 65536)


def test_a_path_workload_travels_by_its_path_and_is_named_after_its_folder(folders):
    _, cancer, _ = folders
    found = WORKLOADS[str(cancer)]
    assert (found.name, found.folder) == ("cancer", str(cancer.resolve()))
    travelled = pickle.loads(pickle.dumps(found))
    assert (travelled.name, travelled.folder, travelled.fingerprint) == ("cancer", found.folder, found.fingerprint)
    assert str(cancer) in WORKLOADS and WORKLOADS["iris"].folder is None


def test_split_writes_the_exact_parts_and_train_and_test_files_are_used_as_given(folders, tmp_path, capsys):
    _, cancer, _ = folders
    parts = tmp_path / "parts"
    assert qbench_main(["split", "--workload", str(cancer), "--out", str(parts)]) == 0
    assert "171 test, 398 train of 569 samples" in capsys.readouterr().out
    test = np.load(parts / "test.npz")
    assert test["X"].shape == (171, 30) and test["y"].shape == (171,)
    header = (parts / "test.csv").read_text().splitlines()[0].split(",")
    assert header == [*(f"x{index}" for index in range(30)), "y"]
    settings, fmt = WorkloadSettings(), parse_format("q16.16")
    split_figures = WORKLOADS[str(cancer)]
    shape = split_figures.shape(settings, None, None)
    expected = split_figures.host_figures(fmt, False, settings, shape)
    for suffix, data in (("npz", ""), ("csv", 'target = "y"\n')):
        given = workload(
            tmp_path / f"given-{suffix}",
            f'train_file = "../parts/train.{suffix}"\n'
            f'test_file = "../parts/test.{suffix}"\nscaling = "standard"\n{data}',
        )
        description = read_description(given / "workload.toml")
        split = description.split()
        assert (len(split.train_labels), len(split.test_labels)) == (398, 171)
        figures = WORKLOADS[str(given)].host_figures(fmt, False, settings, shape)
        assert figures.accuracy_float_host == expected.accuracy_float_host
        assert figures.expected_predictions == expected.expected_predictions
        assert f"parts/test.{suffix} (171 samples, as given" in figures.test_set


def test_split_of_a_csv_regression_keeps_its_column_names(folders, tmp_path):
    _, _, power = folders
    assert qbench_main(["split", "--workload", str(power), "--out", str(tmp_path / "parts")]) == 0
    lines = (tmp_path / "parts" / "train.csv").read_text().splitlines()
    assert lines[0] == "a,b,c,power" and len(lines) == 1 + 60


def test_explicit_scaling_parameters_are_applied_as_declared(tmp_path):
    folder = workload(
        tmp_path / "w", 'dataset = "wine"\nscaling = "minmax"\nscaling_min = [0.0]\nscaling_max = [2.0]\n'
    )
    split = read_description(folder / "workload.toml").split()
    assert split.offset == (0.0,) * 13 and split.scale == (2.0,) * 13 and split.classes == 3
    standardize = workload(tmp_path / "s", 'dataset = "iris"\nscaling = "standardize"\n')
    assert read_description(standardize / "workload.toml").split().scale[0] > 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "[data] needs exactly one source: 'data.dataset'"),
        ('dataset = "iris"\nfile = "x.csv"\ntarget = "t"\n', "found dataset, file"),
        ('train_file = "a.csv"\ntarget = "t"\n', "'data.train_file' is given without 'data.test_file'"),
        ('file = "data.csv"\n', "'data.target' is required with a CSV file"),
        ('dataset = "diabetes"\n', "'data.dataset' is 'diabetes', a regression data set; 'data.task' is"),
        ('dataset = "iris"\ntask = "regresion"\n', "'data.task' is 'regresion'; allowed: 'classification' or"),
        (
            'dataset = "iris"\nscaling_mean = [0.0]\nscaling_std = [1.0]\nscaling = "minmax"\n',
            "'data.scaling_mean' is for scaling = 'standard'",
        ),
        ('dataset = "iris"\nscaling = "minmax"\nscaling_min = [1.0]\n', "'data.scaling_min' needs 'data.scaling_max'"),
        ('dataset = "iris"\nscaling_mean = [0.0, 1.0]\nscaling_std = [1.0, 1.0]\n', "'data.scaling_mean' has 2 values"),
        ('file = "missing.csv"\ntarget = "t"\n', "'data.file' '"),
        ('file = "data.csv"\ntarget = "nope"\n', "has no column 'nope' ('data.target'; columns: a, b, c, power)"),
    ],
)
def test_a_malformed_data_table_is_one_line_naming_the_file_and_key(tmp_path, data, message):
    folder = workload(tmp_path / "bad", data)
    regression_csv(folder / "data.csv", 10)
    with pytest.raises((WorkloadError, WorkloadFileError)) as raised:
        WORKLOADS[str(folder)].shape(WorkloadSettings(), None, None)
    text = str(raised.value)
    assert message in text and "bad/workload.toml: " in text and "\n" not in text


def test_an_unknown_folder_is_refused_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        qbench_main(["run", "--workload", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert raised.value.code == 2
    assert "nowhere: no workload.toml in that folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_path_workload_runs_on_a_dask_worker_like_on_local_threads(folders, tmp_path):
    """The workload travels to the worker by its path; the worker's prepare task reads the same folder."""
    _, _, power = folders
    common = [
        "run",
        "--workload",
        str(power),
        "--cores",
        "cortex-m0plus",
        "--formats",
        "q8.8",
        "--build-dir",
        str(tmp_path / "build"),
    ]
    assert qbench_main([*common, "--cache-dir", str(tmp_path / "cache-local"), "--out", str(tmp_path / "local")]) == 0
    assert (
        qbench_main(
            [
                *common,
                "--cache-dir",
                str(tmp_path / "cache-cluster"),
                "--workers",
                "1",
                "--out",
                str(tmp_path / "cluster"),
            ]
        )
        == 0
    )
    local, cluster = read_results(tmp_path / "local").rows, read_results(tmp_path / "cluster").rows
    columns = ["workload", "status", "mae_device", "rmse_device", "max_error_device", "test_set", "lib_flash"]
    assert local[columns].equals(cluster[columns])
    assert cluster.iloc[0]["status"] == "ok" and cluster.iloc[0]["workload"] == "power"
