"""qbench import-torch: a saved PyTorch nn.Sequential (whole or as a state_dict) as
qnn's network, its weights in qnn's order, quantized, and the errors for models
qnn cannot build."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.images.torch_import import NOT_INSTALLED, TorchImportError, load_torch_network
from qbench.models.network import FloatNetwork, network_from_document, quantize
from qbench.models.qformat import parse_qformat

try:
    import torch
    from torch import nn
except ImportError:
    if os.environ.get("QBENCH_REQUIRE_TORCH"):
        raise ImportError(
            "QBENCH_REQUIRE_TORCH is set but PyTorch is not installed: pip install -e '.[torch]' (the CPU build)"
        ) from None
    pytest.skip("PyTorch is not installed: pip install -e '.[torch]' to run these tests", allow_module_level=True)


def saved(tmp_path: Path, thing: object, name: str = "model.pt") -> Path:
    path = tmp_path / name
    torch.save(thing, path)
    return path


def mlp_4_8_3() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), nn.Sigmoid())


def mlp_4_6_6_3() -> nn.Sequential:
    torch.manual_seed(2)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))


def tiny(weights: list[list[list[float]]], biases: list[list[float]]) -> nn.Sequential:
    """A 2-2-1 tanh/sigmoid model with the given weights."""
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1), nn.Sigmoid())
    with torch.no_grad():
        for layer, weight, bias in zip((model[0], model[2]), weights, biases, strict=True):
            layer.weight.copy_(torch.tensor(weight))
            layer.bias.copy_(torch.tensor(bias))
    return model


def agrees_with_torch(network: FloatNetwork, model: nn.Sequential) -> None:
    torch.manual_seed(3)
    inputs = torch.randn(64, network.shape.inputs) * 2
    with torch.no_grad():
        expected = model(inputs).numpy()
    np.testing.assert_allclose(network.forward(inputs.numpy()), expected, rtol=0, atol=1e-6)


def test_whole_model_imports_with_its_activations(tmp_path: Path) -> None:
    model = mlp_4_8_3()
    network = load_torch_network(saved(tmp_path, model))
    assert network.shape.name == "4-8-3 tanh/sigmoid"
    assert len(network.weights) == network.shape.connections == 8 * 5 + 3 * 9
    agrees_with_torch(network, model)


def test_state_dict_imports_the_same_weights(tmp_path: Path) -> None:
    model = mlp_4_8_3()
    whole = load_torch_network(saved(tmp_path, model, "whole.pt"))
    from_state = load_torch_network(saved(tmp_path, model.state_dict(), "state.pt"), ("tanh", "sigmoid"))
    assert from_state == whole
    agrees_with_torch(from_state, model)


def test_two_hidden_layers_relu_with_a_linear_output(tmp_path: Path) -> None:
    model = mlp_4_6_6_3()
    network = load_torch_network(saved(tmp_path, model))
    assert network.shape.name == "4-6-6-3 relu/linear"
    assert (network.shape.hidden_layers, network.shape.hidden_neurons) == (2, 6)
    agrees_with_torch(network, model)
    assert load_torch_network(saved(tmp_path, model.state_dict(), "state.pt"), ("relu", "linear")) == network


def test_weights_are_in_qnn_order_bias_first_per_neuron(tmp_path: Path) -> None:
    model = tiny([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0]]], [[0.5, -0.5], [0.25]])
    network = load_torch_network(saved(tmp_path, model))
    assert network.weights == (0.5, 1.0, 2.0, -0.5, 3.0, 4.0, 0.25, 5.0, 6.0)


def test_float16_weights_convert_to_float64(tmp_path: Path) -> None:
    model = tiny([[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6]]], [[0.0, 0.0], [0.0]]).half()
    network = load_torch_network(saved(tmp_path, model))
    assert network.weights[1] == float(torch.tensor(0.1, dtype=torch.float16))
    assert all(type(value) is float for value in network.weights)


def test_a_linear_without_bias_has_zero_biases(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Tanh(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        model[2].weight.copy_(torch.tensor([[5.0, 6.0]]))
    network = load_torch_network(saved(tmp_path, model))
    assert network.weights == (0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 5.0, 6.0)


def test_quantizing_imported_weights_counts_saturations(tmp_path: Path) -> None:
    # q4.4 holds -8.0 .. 7.9375: 9.0 and -9.5 saturate, -8.0 and 7.9375 do not.
    model = tiny([[[9.0, -8.0], [7.9375, -9.5]], [[0.0625, 1.0]]], [[0.5, -0.5], [0.25]])
    network = load_torch_network(saved(tmp_path, model))
    quantized = quantize(network.weights, parse_qformat("q4.4"))
    assert quantized.saturated == 2
    assert quantized.raw == (8, 127, -128, -8, 127, -128, 4, 1, 16)
    assert quantized.max_error == 0.0


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 4), nn.Linear(4, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)) + x)


class Softmaxed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 4), nn.Linear(4, 3)

    def forward(self, x):
        return torch.softmax(self.fc2(torch.relu(self.fc1(x))), dim=1)


def sequential(*layers: nn.Module) -> nn.Sequential:
    torch.manual_seed(4)
    return nn.Sequential(*layers)


MODEL_ERRORS = {
    "unsupported layer": (
        lambda: sequential(nn.Linear(4, 8), nn.Tanh(), nn.LayerNorm(8), nn.Linear(8, 3)),
        "layer 2 (LayerNorm) is not supported: qnn builds Linear layers with Tanh, Sigmoid or ReLU between them",
    ),
    "a lone Linear": (lambda: nn.Linear(4, 3), "has a single Linear layer (4 -> 3)"),
    "two activations in a row": (
        lambda: sequential(nn.Linear(4, 8), nn.Tanh(), nn.ReLU(), nn.Linear(8, 3)),
        "layer 1 (Tanh) and layer 2 (ReLU) are two activations in a row",
    ),
    "batch norm after an activation": (
        lambda: sequential(nn.Linear(4, 8), nn.Tanh(), nn.BatchNorm1d(8), nn.Linear(8, 3)),
        "layer 2 (BatchNorm1d) comes after layer 1 (Tanh): qbench folds a batch normalisation only into the Linear",
    ),
    "not a chain": (lambda: Residual(), "forward is not one chain at 'add'"),
    "an unsupported function": (lambda: Softmaxed(), "'softmax' (softmax) in Softmaxed's forward is not supported"),
    "activation first": (
        lambda: sequential(nn.Tanh(), nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)),
        "layer 0 (Tanh) comes before any Linear layer",
    ),
    "hidden widths differ": (
        lambda: sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 3)),
        "qnn's hidden layers all have one width; this model has 8, 4",
    ),
    "hidden activations differ": (
        lambda: sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)),
        "qnn's hidden layers all have one activation; this model has tanh, relu",
    ),
    "in_features mismatch": (
        lambda: sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(5, 3)),
        "layer 2 (Linear) takes 5 inputs but layer 0 (Linear) gives 8 outputs",
    ),
    "no Linear layer": (lambda: sequential(), "has no Linear layer"),
    "no hidden layer": (
        lambda: sequential(nn.Linear(4, 3), nn.Sigmoid()),
        "has a single Linear layer (4 -> 3) and so no hidden layer: qnn needs at least one hidden layer",
    ),
    "not a model": (lambda: torch.zeros(3), "holds a Tensor, not a model"),
}


@pytest.mark.parametrize("case", MODEL_ERRORS)
def test_a_model_qnn_cannot_build_is_named_with_why(tmp_path: Path, case: str) -> None:
    build, message = MODEL_ERRORS[case]
    with pytest.raises(TorchImportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_torch_network(saved(tmp_path, build()))


def test_a_state_dict_needs_activations(tmp_path: Path) -> None:
    path = saved(tmp_path, mlp_4_8_3().state_dict())
    with pytest.raises(TorchImportError, match="records no activations.*--activations tanh,sigmoid"):
        load_torch_network(path)


def test_given_activations_must_match_the_model(tmp_path: Path) -> None:
    path = saved(tmp_path, mlp_4_8_3())
    assert load_torch_network(path, ("tanh", "sigmoid")).shape.name == "4-8-3 tanh/sigmoid"
    with pytest.raises(TorchImportError, match="activations are tanh,sigmoid but --activations gives relu,linear"):
        load_torch_network(path, ("relu", "linear"))


STATE_DICT_ERRORS = {
    "an unknown key": (
        {"fc1.weight": torch.zeros(8, 4), "fc1.scale": torch.zeros(8)},
        "key 'fc1.scale' is not a Linear or BatchNorm1d weight, bias or statistic",
    ),
    "one Linear": ({"fc1.weight": torch.zeros(8, 4), "fc1.bias": torch.zeros(8)}, "has a single Linear layer"),
    "hidden widths differ": (
        {"0.weight": torch.zeros(8, 4), "2.weight": torch.zeros(4, 8), "4.weight": torch.zeros(3, 4)},
        "this model has 8, 4",
    ),
    "in_features mismatch": (
        {"0.weight": torch.zeros(8, 4), "2.weight": torch.zeros(3, 5)},
        r"layer 2 \(Linear\) takes 5 inputs but layer 0 \(Linear\) gives 8 outputs",
    ),
    "nothing between two Linear layers": (
        {"0.weight": torch.zeros(8, 4), "1.weight": torch.zeros(3, 8)},
        "nothing between them, so the hidden activation is linear, not tanh",
    ),
    "empty": ({}, "has no Linear layer"),
    "bias of the wrong length": (
        {"0.weight": torch.zeros(8, 4), "0.bias": torch.zeros(7), "2.weight": torch.zeros(3, 8)},
        "its bias has shape",
    ),
    "not finite": ({"0.weight": torch.full((8, 4), float("nan")), "2.weight": torch.zeros(3, 8)}, "finite"),
}


@pytest.mark.parametrize("case", STATE_DICT_ERRORS)
def test_a_state_dict_qnn_cannot_build_is_named_with_why(tmp_path: Path, case: str) -> None:
    state, message = STATE_DICT_ERRORS[case]
    with pytest.raises(TorchImportError, match=message):
        load_torch_network(saved(tmp_path, state), ("tanh", "sigmoid"))


def test_a_file_torch_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a torch file\n")
    with pytest.raises(TorchImportError, match="torch cannot read .*junk.pt"):
        load_torch_network(path)
    with pytest.raises(TorchImportError, match="no such file"):
        load_torch_network(tmp_path / "missing.pt")


def test_without_torch_the_error_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(TorchImportError, match="^PyTorch is not installed: pip install -e '.\\[torch\\]'") as raised:
        load_torch_network(tmp_path / "model.pt")
    assert str(raised.value) == NOT_INSTALLED


def raw_weights(include: Path) -> tuple[int, ...]:
    lines = include.read_text().splitlines()
    assert lines[0].startswith("//")
    return tuple(int(value) for value in re.findall(r"-?\d+", "\n".join(lines[1:])))


def test_cli_writes_the_network_and_its_quantized_weights(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model_path, out = saved(tmp_path, mlp_4_8_3()), tmp_path / "out"
    assert qbench_main(["import-torch", str(model_path), "--out", str(out), "--formats", "q16.16,q8.8"]) == 0
    network = load_torch_network(model_path)
    document = json.loads((out / "network.json").read_text())
    assert network_from_document(document, "network.json") == network
    assert raw_weights(out / "weights_q8.8.inc") == quantize(network.weights, parse_qformat("q8.8")).raw
    assert raw_weights(out / "weights_q16.16.inc") == quantize(network.weights, parse_qformat("q16.16")).raw
    printed = capsys.readouterr().out
    assert "4-8-3 tanh/sigmoid" in printed and str(out) in printed
    assert "| format" in printed and "max_abs_error" in printed
    assert "| q8.8 " in printed and "| q16.16 " in printed


def test_cli_writes_narrow_weights_in_their_own_format(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model_path, out = saved(tmp_path, mlp_4_8_3()), tmp_path / "out"
    assert qbench_main(["import-torch", str(model_path), "--out", str(out), "--formats", "q8.8w2.6"]) == 0
    weights = quantize(load_torch_network(model_path).weights, parse_qformat("q2.6"))
    assert raw_weights(out / "weights_q8.8w2.6.inc") == weights.raw
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| q8.8w2.6 "))
    assert [cell.strip() for cell in row.split("|")[2:4]] == [str(len(weights.raw)), str(weights.saturated)]


def test_cli_state_dict_with_activations(tmp_path: Path) -> None:
    model = mlp_4_6_6_3()
    path, out = saved(tmp_path, model.state_dict()), tmp_path / "out"
    assert qbench_main(["import-torch", str(path), "--out", str(out), "--activations", "relu,linear"]) == 0
    network = network_from_document(json.loads((out / "network.json").read_text()), "network.json")
    agrees_with_torch(network, model)


@pytest.mark.parametrize(
    ("model", "arguments", "message"),
    [
        ("layernorm", [], "layer 1 (LayerNorm) is not supported"),
        ("state", [], "model.pt holds a state_dict, which records no activations"),
        ("whole", ["--formats", "q8"], "'q8' is not a Q format"),
        ("whole", ["--formats", "q8.8w9.8"], "q8.8w9.8: its weights w9.8 are 17 bits wide"),
    ],
)
def test_cli_exits_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture, model: str, arguments: list[str], message: str
) -> None:
    thing = {
        "layernorm": lambda: sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 3)),
        "state": lambda: mlp_4_8_3().state_dict(),
        "whole": mlp_4_8_3,
    }[model]()
    path, out = saved(tmp_path, thing), tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        qbench_main(["import-torch", str(path), "--out", str(out), *arguments])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("qbench: error: ") and message in error
    assert not out.exists()


# --- issue 23: ordinary PyTorch (Dropout, Identity, BatchNorm1d folded, nn.Module subclasses traced by torch.fx) --


class WineNet(nn.Module):
    """A module subclass as people write them: layers as attributes, forward a chain with functions."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.fc1 = nn.Linear(13, 16)
        self.bn1 = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 3)

    def forward(self, x):
        x = self.drop(torch.relu(self.bn1(self.fc1(x))))
        x = nn.functional.relu(self.fc2(x))
        return self.fc3(x)


def with_statistics(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters in every BatchNorm1d, then evaluation mode."""
    generator = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                size = module.num_features
                module.running_mean.copy_(torch.randn(size, generator=generator))
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.weight.copy_(torch.randn(size, generator=generator))
                module.bias.copy_(torch.randn(size, generator=generator))
    return model.eval()


def test_dropout_identity_and_batchnorm_in_a_sequential(tmp_path: Path) -> None:
    torch.manual_seed(7)
    model = with_statistics(
        nn.Sequential(
            nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Dropout(0.5), nn.Identity(), nn.Linear(8, 3), nn.Sigmoid()
        )
    )
    network = load_torch_network(saved(tmp_path, model))
    assert network.shape.name == "4-8-3 tanh/sigmoid"
    agrees_with_torch(network, model)


def test_a_module_subclass_is_traced_with_torch_fx(tmp_path: Path) -> None:
    model = with_statistics(WineNet())
    network = load_torch_network(saved(tmp_path, model))
    assert network.shape.name == "13-16-16-3 relu/linear"
    agrees_with_torch(network, model)


def test_a_module_subclass_state_dict_with_activations(tmp_path: Path) -> None:
    model = with_statistics(WineNet())
    whole = load_torch_network(saved(tmp_path, model, "whole.pt"))
    from_state = load_torch_network(saved(tmp_path, model.state_dict(), "state.pt"), ("relu", "linear"))
    np.testing.assert_allclose(from_state.weights, whole.weights, rtol=0, atol=1e-12)
    with pytest.raises(TorchImportError, match="records no activations"):
        load_torch_network(tmp_path / "state.pt")


def test_cli_import_reads_a_torch_model_and_import_torch_still_works(tmp_path: Path) -> None:
    model = with_statistics(WineNet())
    path = saved(tmp_path, model)
    for command in ("import", "import-torch"):
        out = tmp_path / command
        assert qbench_main([command, str(path), "--out", str(out), "--formats", "q16.16"]) == 0
        network = network_from_document(json.loads((out / "network.json").read_text()), "network.json")
        agrees_with_torch(network, model)


def test_the_same_model_exported_to_onnx_imports_to_the_same_network(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from qbench.images.model_import import load_model

    model = with_statistics(WineNet())
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (torch.zeros(1, 13),), str(path), dynamo=False, input_names=["x"], output_names=["y"])
    from_onnx, kind = load_model(path)
    assert kind == "onnx"
    np.testing.assert_allclose(from_onnx.weights, load_torch_network(saved(tmp_path, model)).weights, rtol=0, atol=1e-6)
    agrees_with_torch(from_onnx, model)
