"""qbench import of ONNX files and scikit-learn MLPs (torch models: tests/test_torch_import.py), BatchNorm
folding, the network file's input scaling and --test-data: tiny models, their outputs against the framework's,
one line per error."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import joblib
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from qbench.commands.cli import main as qbench_main
from qbench.images.layers import ModelImportError, fold_batchnorm
from qbench.images.model_import import load_model, load_onnx_network, load_sklearn_network
from qbench.models.datasets import DataFileError
from qbench.models.network import InputScaling, NetworkError, network_document, network_from_document
from qbench.models.testdata import read_test_data


def test_fold_batchnorm_by_hand() -> None:
    # One output: w = [1, 2], b = 3; gamma 2, beta 1, mean 1, var 3, eps 1: factor 2 / sqrt(4) = 1.
    # Two outputs, the second: w = [4, -4], b = 0; gamma 1, beta 0.5, mean 2, var 0.25, eps 0: factor 1 / 0.5 = 2.
    weight, bias = np.array([[1.0, 2.0], [4.0, -4.0]]), np.array([3.0, 0.0])
    gamma, beta, mean, var = np.array([2.0, 1.0]), np.array([1.0, 0.5]), np.array([1.0, 2.0]), np.array([3.0, 0.25])
    folded_w, folded_b = fold_batchnorm(weight, bias, gamma, beta, mean, var, 0.0)
    np.testing.assert_allclose(folded_w, [[2 / np.sqrt(3), 4 / np.sqrt(3)], [8.0, -8.0]])
    np.testing.assert_allclose(folded_b, [(3 - 1) * 2 / np.sqrt(3) + 1, (0 - 2) * 2 + 0.5])
    folded_w, folded_b = fold_batchnorm(weight[:1], bias[:1], gamma[:1], beta[:1], mean[:1], var[:1], 1.0)
    np.testing.assert_allclose(folded_w, [[1.0, 2.0]])
    np.testing.assert_allclose(folded_b, [3.0])  # (3 - 1) * 1 + 1


# --- ONNX --------------------------------------------------------------------------------------------------------


def onnx_file(
    tmp_path: Path,
    nodes: list,
    initializers: dict[str, np.ndarray],
    inputs: int,
    outputs: int,
    output: str = "y",
    name: str = "model.onnx",
) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, inputs])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [None, outputs])],
        [numpy_helper.from_array(value.astype(np.float32), key) for key, value in initializers.items()],
    )
    path = tmp_path / name
    onnx.save(helper.make_model(graph), str(path))
    return path


RNG = np.random.default_rng(8)
W1, B1 = RNG.normal(size=(4, 6)), RNG.normal(size=6)  # MatMul's [in x out]
W2, B2 = RNG.normal(size=(3, 6)), RNG.normal(size=3)  # Gemm transB's [out x in]
BN = {"s": RNG.normal(size=6), "b": RNG.normal(size=6), "m": RNG.normal(size=6), "v": RNG.uniform(0.5, 2, size=6)}


def reference(x: np.ndarray) -> np.ndarray:
    """The ONNX model below in numpy: MatMul+Add, BatchNormalization, Relu, Dropout, Gemm(transB), Sigmoid."""
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731 - the file stores float32
    h = x @ f32(W1) + f32(B1)
    h = (h - f32(BN["m"])) / np.sqrt(f32(BN["v"]) + 1e-3) * f32(BN["s"]) + f32(BN["b"])
    h = np.maximum(h, 0)
    return 1 / (1 + np.exp(-(h @ f32(W2).T + f32(B2))))


def chain_nodes(extra: list | None = None) -> list:
    return [
        helper.make_node("MatMul", ["x", "W1"], ["h1"], name="fc1"),
        helper.make_node("Add", ["h1", "B1"], ["h2"], name="fc1_bias"),
        helper.make_node("BatchNormalization", ["h2", "s", "b", "m", "v"], ["h3"], name="bn1", epsilon=1e-3),
        helper.make_node("Relu", ["h3"], ["h4"], name="relu1"),
        helper.make_node("Dropout", ["h4"], ["h5"], name="drop"),
        *(extra or []),
        helper.make_node("Gemm", ["h5", "W2", "B2"], ["h6"], name="fc2", transB=1),
        helper.make_node("Sigmoid", ["h6"], ["y"], name="out"),
    ]


INITIALIZERS = {"W1": W1, "B1": B1, "W2": W2, "B2": B2, **BN}


def test_onnx_chain_imports_with_batchnorm_folded(tmp_path: Path) -> None:
    path = onnx_file(tmp_path, chain_nodes(), INITIALIZERS, 4, 3)
    network = load_onnx_network(path)
    assert network.shape.name == "4-6-3 relu/sigmoid" and network.scaling is None
    inputs = RNG.normal(size=(32, 4))
    np.testing.assert_allclose(network.forward(inputs), reference(inputs), rtol=0, atol=1e-9)
    assert load_model(path)[1] == "onnx"


def test_onnx_gemm_without_trans_b_and_identity(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Gemm", ["x", "A"], ["h1"], name="fc1"),
        helper.make_node("Tanh", ["h1"], ["h2"], name="t"),
        helper.make_node("Identity", ["h2"], ["h3"], name="id"),
        helper.make_node("Gemm", ["h3", "C", "c"], ["y"], name="fc2", alpha=2.0, beta=0.5),
    ]
    a, c, bias = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2)), RNG.normal(size=2)
    network = load_onnx_network(onnx_file(tmp_path, nodes, {"A": a, "C": c, "c": bias}, 2, 2))
    assert network.shape.name == "2-3-2 tanh/linear"
    x = RNG.normal(size=(5, 2))
    f32 = lambda v: v.astype(np.float32).astype(np.float64)  # noqa: E731
    expected = 2 * np.tanh(x @ f32(a)) @ f32(c) + 0.5 * f32(bias)
    np.testing.assert_allclose(network.forward(x), expected, rtol=0, atol=1e-9)


def test_onnx_unsupported_operator_is_named_with_its_node(tmp_path: Path) -> None:
    nodes = chain_nodes()[:-2] + [helper.make_node("Softmax", ["h5"], ["y"], name="soft")]
    with pytest.raises(ModelImportError) as raised:
        load_onnx_network(onnx_file(tmp_path, nodes, INITIALIZERS, 4, 6))
    message = str(raised.value)
    assert "node 'soft' (Softmax) is an operator qbench does not import (Softmax)" in message
    assert "\n" not in message


def test_onnx_branching_graph_and_junk_file(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="fc1"),
        helper.make_node("Add", ["h", "x"], ["y"], name="skip"),
    ]
    with pytest.raises(ModelImportError, match="node 'skip' \\(Add\\) does not take the output of the node before"):
        load_onnx_network(onnx_file(tmp_path, nodes, {"W": np.eye(2)}, 2, 2))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x01\x02 not protobuf")
    with pytest.raises(ModelImportError, match="onnx cannot read .*junk.onnx"):
        load_onnx_network(junk)


def test_cli_import_onnx_writes_the_network(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = onnx_file(tmp_path, chain_nodes(), INITIALIZERS, 4, 3)
    out = tmp_path / "out"
    assert qbench_main(["import", str(path), "--out", str(out), "--formats", "q16.16"]) == 0
    network = network_from_document(json.loads((out / "network.json").read_text()), "network.json")
    assert network == load_onnx_network(path)
    assert "from ONNX" in capsys.readouterr().out


# --- scikit-learn ----------------------------------------------------------------------------------------------------


def iris_like() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(9)
    y = np.repeat([0, 1, 2], 30)
    x = generator.normal(size=(90, 4)) * [1, 10, 100, 0.1] + y[:, None] * [1, 10, 100, 0.1] + [0, 50, 500, 3]
    return x, y


def dumped(tmp_path: Path, model, name: str = "model.joblib") -> Path:
    path = tmp_path / name
    if name.endswith(".joblib"):
        joblib.dump(model, path)
    else:
        path.write_bytes(pickle.dumps(model))
    return path


@pytest.mark.parametrize(
    ("activation", "hidden"), [("relu", "relu"), ("tanh", "tanh"), ("logistic", "sigmoid"), ("identity", "linear")]
)
def test_mlp_classifier_with_standard_scaler(tmp_path: Path, activation: str, hidden: str) -> None:
    x, y = iris_like()
    classifier = MLPClassifier((5,), activation=activation, max_iter=300, random_state=0)
    model = make_pipeline(StandardScaler(), classifier).fit(x, y)
    network = load_sklearn_network(dumped(tmp_path, model))
    assert network.shape.name == f"4-5-3 {hidden}/linear"  # softmax: its logits, the same largest output
    assert network.scaling is not None and network.scaling.kind == "standard"
    logits = network.forward(network.scaling.apply(x))
    np.testing.assert_array_equal(np.argmax(logits, axis=1), model.predict(x))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, model.predict_proba(x), rtol=0, atol=1e-9)


def test_binary_classifier_after_minmax_scaler_from_a_pickle(tmp_path: Path) -> None:
    x, y = iris_like()
    y = (y == 2).astype(int)
    model = make_pipeline(MinMaxScaler(), MLPClassifier((6,), max_iter=500, random_state=0)).fit(x, y)
    network = load_sklearn_network(dumped(tmp_path, model, "model.pkl"))
    assert network.shape.name == "4-6-2 relu/sigmoid" and network.scaling.kind == "minmax"
    outputs = network.forward(network.scaling.apply(x))
    np.testing.assert_allclose(outputs[:, 0], 0.5)
    np.testing.assert_allclose(outputs[:, 1], model.predict_proba(x)[:, 1], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.argmax(outputs, axis=1), model.predict(x))
    np.testing.assert_allclose(network.scaling.apply(x), model[0].transform(x), rtol=0, atol=1e-12)


def test_mlp_regressor_alone(tmp_path: Path) -> None:
    x, y = iris_like()
    model = MLPRegressor(hidden_layer_sizes=(4, 4), activation="tanh", max_iter=200, random_state=0)
    model.fit(x / 100, y.astype(float))
    network = load_sklearn_network(dumped(tmp_path, model))
    assert network.shape.name == "4-4-4-1 tanh/linear" and network.scaling is None
    np.testing.assert_allclose(network.forward(x / 100)[:, 0], model.predict(x / 100), rtol=0, atol=1e-9)


def test_sklearn_errors_are_one_line(tmp_path: Path) -> None:
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    x, y = iris_like()
    cases = {
        "pca": (
            make_pipeline(PCA(2), MLPClassifier((3,), max_iter=50)).fit(x, y),
            "the Pipeline's step 'pca' (PCA) is not supported",
        ),
        "logistic": (LogisticRegression(max_iter=50).fit(x, y), "holds a LogisticRegression, not an MLPClassifier"),
        "unfitted": (MLPClassifier(), "the MLPClassifier is not fitted"),
    }
    for name, (model, message) in cases.items():
        with pytest.raises(ModelImportError) as raised:
            load_sklearn_network(dumped(tmp_path, model, f"{name}.joblib"))
        assert message in str(raised.value) and "\n" not in str(raised.value)
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"\x80\x04 not a pickle")
    with pytest.raises(ModelImportError, match="cannot unpickle .*junk.pkl"):
        load_sklearn_network(junk)


# --- the network file's input scaling; --test-data -------------------------------------------------------------------


def test_network_file_records_the_input_scaling(tmp_path: Path) -> None:
    x, y = iris_like()
    model = make_pipeline(StandardScaler(), MLPClassifier((5,), max_iter=200, random_state=0)).fit(x, y)
    network = load_sklearn_network(dumped(tmp_path, model))
    document = network_document(network)
    assert document["scaling"]["kind"] == "standard"
    np.testing.assert_allclose(document["scaling"]["offset"], model[0].mean_)
    np.testing.assert_allclose(document["scaling"]["scale"], model[0].scale_)
    assert network_from_document(json.loads(json.dumps(document)), "n.json") == network
    bad = {**document, "scaling": {"kind": "log", "offset": [0.0], "scale": [1.0]}}
    with pytest.raises(NetworkError, match="n.json"):
        network_from_document(bad, "n.json")
    with pytest.raises(NetworkError, match="scaling has 1 values; the network has 4 inputs"):
        network_from_document({**document, "scaling": {"kind": "minmax", "offset": [0.0], "scale": [1.0]}}, "n.json")
    with pytest.raises(NetworkError, match="non-zero"):
        InputScaling("standard", (0.0,), (0.0,))


def test_cli_import_scores_the_test_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    x, y = iris_like()
    model = make_pipeline(StandardScaler(), MLPClassifier((5,), max_iter=300, random_state=0)).fit(x[::2], y[::2])
    path, out = dumped(tmp_path, model), tmp_path / "out"
    np.savez(tmp_path / "test.npz", X=x[1::2], y=y[1::2])
    csv = tmp_path / "test.csv"
    rows = [f"{label},{','.join(str(float(v)) for v in row)}\n" for row, label in zip(x[1::2], y[1::2], strict=True)]
    csv.write_text("label,a,b,c,d\n" + "".join(rows))
    expected = model.score(x[1::2], y[1::2])
    for extra in (["--test-data", str(tmp_path / "test.npz")], ["--test-data", str(csv), "--target", "label"]):
        assert qbench_main(["import", str(path), "--out", str(out), "--formats", "q16.16,q8.8", *extra]) == 0
        printed = capsys.readouterr().out
        assert "(45 samples)" in printed and f"classifies {expected:.2%} right" in printed
        assert "accuracy_host" in printed and "input scaling standard" in printed


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--test-data", "missing.npz"], "missing.npz: no such file"),
        (["--test-data", "test.csv", "--target", "nope"], "has no column 'nope'"),
        (["--target", "label"], "--target names the test data's target column: give --test-data FILE too"),
        (["--test-data", "wide.npz"], "the test data has 5 features; the network 4-5-3 relu/linear takes 4 inputs"),
    ],
)
def test_cli_import_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch, arguments: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    x, y = iris_like()
    model = make_pipeline(StandardScaler(), MLPClassifier((5,), max_iter=100, random_state=0)).fit(x, y)
    path = dumped(tmp_path, model)
    (tmp_path / "test.csv").write_text("a,b,c,d,label\n1,2,3,4,0\n")
    np.savez(tmp_path / "wide.npz", X=np.zeros((3, 5)), y=np.zeros(3))
    with pytest.raises(SystemExit) as exited:
        qbench_main(["import", str(path), "--out", str(tmp_path / "out"), *arguments])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("qbench: error: ") and message in error and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_read_test_data_npz_and_csv(tmp_path: Path) -> None:
    np.savez(tmp_path / "t.npz", X=np.ones((2, 3)), y=np.array([0, 1]))
    data = read_test_data(tmp_path / "t.npz")
    assert data.samples == 2 and data.target is None and len(data.digest) == 64
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    inputs, targets = read_test_data(tmp_path / "t.csv").arrays()
    np.testing.assert_array_equal(inputs, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(targets, [0, 1])
    np.savez(tmp_path / "bad.npz", X=np.ones((2, 3)))
    with pytest.raises(DataFileError, match="lacks array\\(s\\) y"):
        read_test_data(tmp_path / "bad.npz")


def test_run_scores_an_imported_model_on_the_test_data_with_its_scaling(tmp_path: Path) -> None:
    """qbench import, then qbench run --model --test-data: the device is given the test file's inputs through the
    scaler network.json records, and the host's float accuracy is the scikit-learn model's own on that file."""
    from qbench.records.results import read_results

    x, y = iris_like()
    model = make_pipeline(StandardScaler(), MLPClassifier((5,), max_iter=300, random_state=0)).fit(x[::2], y[::2])
    np.savez(tmp_path / "test.npz", X=x[1::2], y=y[1::2])
    out = tmp_path / "imported"
    assert qbench_main(["import", str(dumped(tmp_path, model)), "--out", str(out), "--formats", "q16.16"]) == 0
    status = qbench_main(
        [
            "run",
            "--workload",
            "iris",
            "--model",
            str(out / "network.json"),
            "--test-data",
            str(tmp_path / "test.npz"),
            "--variants",
            "inference",
            "--formats",
            "q16.16",
            "--cores",
            "cortex-m0plus",
            "--out",
            str(tmp_path / "out"),
            "--build-dir",
            str(tmp_path / "build"),
        ]
    )
    assert status == 0
    (row,) = read_results(tmp_path / "out").rows.itertuples()
    assert row.test_samples == 45 and row.matches_reference
    assert row.accuracy_float_host == pytest.approx(model.score(x[1::2], y[1::2]))
    assert row.accuracy_device == pytest.approx(row.accuracy_float_host, abs=1 / 45)
    assert "test.npz (45 samples, --test-data as given)" in row.test_set


def test_run_test_data_needs_a_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    np.savez(tmp_path / "test.npz", X=np.zeros((2, 4)), y=np.zeros(2))
    with pytest.raises(SystemExit) as exited:
        qbench_main(
            ["run", "--workload", "iris", "--test-data", str(tmp_path / "test.npz"), "--out", str(tmp_path / "out")]
        )
    assert exited.value.code == 2
    assert "--test-data scores an imported network: give --model NETWORK_JSON too" in capsys.readouterr().err


def test_cli_import_of_a_regressor_reports_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    x, y = iris_like()
    targets = x[:, 0] * 2 + 1
    model = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(6,), max_iter=500, random_state=0))
    model.fit(x, targets)
    np.savez(tmp_path / "test.npz", X=x, y=targets)
    assert (
        qbench_main(
            [
                "import",
                str(dumped(tmp_path, model)),
                "--out",
                str(tmp_path / "out"),
                "--formats",
                "q16.16",
                "--test-data",
                str(tmp_path / "test.npz"),
            ]
        )
        == 0
    )
    mae = np.mean(np.abs(model.predict(x) - targets))
    printed = capsys.readouterr().out
    assert f"the float64 network's MAE is {mae:.6g}" in printed and "mae_host" in printed


def test_run_without_test_data_scales_the_workloads_own_test_part_with_the_models_scaler(tmp_path: Path) -> None:
    """A network that records its scaler is given the workload's raw test part through that scaler, not through
    the workload's own scaling."""
    from qbench.common.paths import SUITE
    from qbench.models.classification import read_description
    from qbench.models.datasets import raw_parts
    from qbench.records.results import read_results

    iris = read_description(SUITE / "workloads" / "iris" / "workload.toml")
    train_x, train_y, test_x, test_y, _ = raw_parts(iris.data)
    model = make_pipeline(MinMaxScaler(), MLPClassifier((5,), max_iter=400, random_state=0)).fit(train_x, train_y)
    out = tmp_path / "imported"
    assert qbench_main(["import", str(dumped(tmp_path, model)), "--out", str(out), "--formats", "q16.16"]) == 0
    assert (
        qbench_main(
            [
                "run",
                "--workload",
                "iris",
                "--model",
                str(out / "network.json"),
                "--variants",
                "inference",
                "--formats",
                "q16.16",
                "--cores",
                "cortex-m0plus",
                "--no-emulate",
                "--out",
                str(tmp_path / "out"),
                "--build-dir",
                str(tmp_path / "build"),
            ]
        )
        == 0
    )
    (row,) = read_results(tmp_path / "out").rows.itertuples()
    assert row.accuracy_float_host == pytest.approx(model.score(test_x, test_y))
