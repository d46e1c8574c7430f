"""Train on the host, deploy inference-only, in the emulator: the device classifies the test split
exactly as qnn's bit-exact model does, float32 builds stand beside the Q formats, imported networks
deploy like trained ones, and cost per connection is fitted across network sizes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.common.paths import SUITE
from qbench.images.workloads import WORKLOADS, WorkloadSettings
from qbench.models.classification import read_description
from qbench.models.network import NetworkShape, network_document
from qbench.models.qformat import parse_format
from qbench.models.training import Recipe, accuracy, one_hot, train
from qbench.records.results import read_results

IRIS_FORMATS = ("q16.16", "q8.8", "q4.12", "float32")


def run(tmp_path, *arguments: str) -> tuple[int, pd.DataFrame]:
    out = tmp_path / "out"
    status = qbench_main(["run", *arguments, "--out", str(out), "--build-dir", str(tmp_path / "build")])
    return status, read_results(out).rows


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("iris")
    status, rows = run(
        root,
        "--workload",
        "iris",
        "--variants",
        "inference",
        "--formats",
        ",".join(IRIS_FORMATS),
        "--cores",
        "cortex-m0plus,cortex-m4f",
    )
    return status, rows, root / "out"


def test_the_device_classifies_exactly_as_the_bit_exact_model(iris_run):
    status, rows, _ = iris_run
    assert status == 0 and (rows["status"] == "ok").all(), rows[["core", "qformat", "status", "message"]]
    settings = WorkloadSettings()
    iris = WORKLOADS["iris"]
    shape = iris.shape(settings, None, None)
    labels = np.array(read_description(SUITE / "workloads" / "iris" / "workload.toml").split().test_labels)
    for row in rows.itertuples():
        figures = iris.host_figures(parse_format(row.qformat), False, settings, shape)
        assert row.network == "4-8-3 tanh/sigmoid" and row.connections == 67 and row.test_samples == 45
        assert row.accuracy_float_host == figures.accuracy_float_host > 0.9
        assert row.weights_saturated == 0 and row.inputs_saturated == 0
        if row.qformat == "float32":
            assert pd.isna(row.matches_reference) and row.accuracy_device > 0.9
        else:
            assert row.matches_reference
            assert row.accuracy_device == np.mean(np.array(figures.expected_predictions) == labels)
        value_bytes = 2 if row.qformat in ("q8.8", "q4.12") else 4
        assert row.test_data_bytes == 45 * 4 * value_bytes + 45  # inputs, then one byte per label
        assert row.instr_forward > 0 and row.lib_flash > row.test_data_bytes


def test_float32_is_soft_float_without_an_fpu_and_hard_float_with_one(iris_run):
    _, rows, out = iris_run
    symbols = read_results(out).symbols.frame()
    soft = symbols[(symbols["core"] == "cortex-m0plus") & (symbols["qformat"] == "float32")]
    hard = symbols[(symbols["core"] == "cortex-m4f") & (symbols["qformat"] == "float32")]
    assert soft["symbol"].str.match(r"^__aeabi_f(add|mul)$").any()
    assert not hard["symbol"].str.match(r"^__aeabi_f(add|mul)$").any()
    q16 = symbols[(symbols["core"] == "cortex-m0plus") & (symbols["qformat"] == "q16.16")]
    assert not q16["symbol"].str.match(r"^__aeabi_f|^(tanh|exp)f?$").any()  # fixed point links no float code


def test_report_sets_each_format_against_float32(iris_run):
    _, _, out = iris_run
    report = (out / "report.md").read_text()
    start = report.index("## Number formats against float32")
    section = report[start : report.index("\n## ", start + 1)]
    for fmt in IRIS_FORMATS:
        assert f"| {fmt} " in section
    assert "flash_vs_float" in section and "_No data._" not in section
    assert "## Scaling" not in report  # one network size: nothing to scale against, so no section


def test_digits_on_the_device_equals_the_model_on_every_test_sample(tmp_path):
    status, rows = run(
        tmp_path, "--workload", "digits", "--variants", "inference", "--formats", "q8.8", "--cores", "cortex-m0plus"
    )
    assert status == 0
    (row,) = rows.itertuples()
    assert row.matches_reference and row.test_samples == 539 and row.accuracy_device > 0.95
    assert row.network == "64-32-10 tanh/sigmoid" and row.connections == 32 * 65 + 10 * 33


def test_float32_xor_trains_and_runs_on_the_device(tmp_path):
    status, rows = run(tmp_path, "--formats", "float32", "--cores", "cortex-m0plus,cortex-m4f")
    assert status == 0
    for row in rows.itertuples():
        assert row.learned, (row.core, row.variant)
        assert row.instr_forward > 0
    assert rows[rows["variant"] == "trainable"]["iterations"].notna().all()


def test_cost_per_connection_across_network_sizes(tmp_path):
    status, rows = run(
        tmp_path,
        "--workload",
        "iris",
        "--variants",
        "inference",
        "--formats",
        "q8.8",
        "--cores",
        "cortex-m0plus",
        "--hidden-layers",
        "1,2",
        "--hidden-neurons",
        "4,8",
    )
    assert status == 0
    assert sorted(rows["network"]) == sorted(
        ["4-4-3 tanh/sigmoid", "4-8-3 tanh/sigmoid", "4-4-4-3 tanh/sigmoid", "4-8-8-3 tanh/sigmoid"]
    )
    assert sorted(rows["connections"]) == [35, 55, 67, 139]
    assert rows["matches_reference"].all()
    report = (tmp_path / "out" / "report.md").read_text()
    start = report.index("## Scaling")
    scaling = report[start : report.index("\n## ", start + 1)]
    plot = "plots/scaling_iris_cortex-m_inference_Os.png"
    assert "workload iris" in scaling and plot in scaling
    assert (tmp_path / "out" / plot).exists()


def test_a_prediction_that_differs_from_the_model_fails_the_row(tmp_path, monkeypatch):
    iris = WORKLOADS["iris"]

    def altered(fmt, trainable, settings, shape):
        figures = iris.host_figures(fmt, trainable, settings, shape)
        wrong = ((figures.expected_predictions[0] + 1) % 3, *figures.expected_predictions[1:])
        return replace(figures, expected_predictions=wrong)

    monkeypatch.setitem(WORKLOADS, "iris", replace(iris, host_figures=altered))
    status, rows = run(
        tmp_path, "--workload", "iris", "--variants", "inference", "--formats", "q8.8", "--cores", "cortex-m0plus"
    )
    assert status == 1
    (row,) = rows.itertuples()
    assert row.status == "reference-mismatch" and not row.matches_reference
    assert row.message.startswith("1 of 45 predictions differ from qnn's bit-exact model, first test sample 0")


def test_an_imported_network_deploys_instead_of_host_training(tmp_path):
    split = read_description(SUITE / "workloads" / "iris" / "workload.toml").split()
    network = train(
        NetworkShape(4, 1, 5, 3), split.train_inputs, one_hot(split.train_labels, 3), Recipe(epochs=200, seed=9)
    )
    model = tmp_path / "network.json"
    model.write_text(json.dumps(network_document(network)))
    status, rows = run(
        tmp_path,
        "--workload",
        "iris",
        "--variants",
        "inference",
        "--formats",
        "q16.16",
        "--cores",
        "cortex-m0plus",
        "--model",
        str(model),
    )
    assert status == 0
    (row,) = rows.itertuples()
    assert row.network == "4-5-3 tanh/sigmoid" and row.matches_reference
    assert row.accuracy_float_host == accuracy(network, split.test_inputs, split.test_labels)


def test_a_model_that_does_not_fit_the_data_is_refused(tmp_path, capsys):
    shape = NetworkShape(5, 1, 2, 3)
    model = tmp_path / "network.json"
    model.write_text(json.dumps(network_document(train(shape, np.zeros((1, 5)), np.zeros((1, 3)), Recipe(epochs=1)))))
    with pytest.raises(SystemExit):
        qbench_main(
            [
                "run",
                "--workload",
                "iris",
                "--model",
                str(model),
                "--variants",
                "inference",
                "--cores",
                "cortex-m0plus",
                "--out",
                str(tmp_path / "out"),
            ]
        )
    assert "iris has 4 inputs and 3 classes; the network 5-2-3 tanh/sigmoid has 5 inputs" in capsys.readouterr().err
    model.write_text("{}")
    with pytest.raises(SystemExit) as exit_info:
        qbench_main(["run", "--model", str(model), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and "not a qbench network file" in capsys.readouterr().err


def test_training_on_the_device_is_refused_for_host_trained_workloads(tmp_path):
    status, rows = run(
        tmp_path,
        "--workload",
        "iris",
        "--formats",
        "q8.8",
        "--cores",
        "cortex-m0plus",
        "--variants",
        "trainable,inference",
        "--no-emulate",
    )
    assert status == 1
    by_variant = rows.set_index("variant")
    assert by_variant.loc["trainable", "status"] == "invalid"
    assert "trains on the host; its device images are inference-only" in by_variant.loc["trainable", "message"]
    assert by_variant.loc["inference", "status"] == "ok"
