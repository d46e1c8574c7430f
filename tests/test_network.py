"""qnn's MultilayerPerceptron against the Python reference network, and the
library's compile-time promises (state per variant, training only when
trainable, the article's listing, float, no heap/exceptions/RTTI)."""

from __future__ import annotations

import re
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host_build import QNN_INCLUDE, REPO, compile_host, compile_or_fail, property_settings
from qbench.models.qformat import Overflow, QFormat, Rounding
from qbench.models.reference import ReferencePerceptron, weight_count

# Mirrors the networks compiled into tests/host/qnn_driver.cpp.
NETWORKS = {
    "xor_q16.16": (QFormat(16, 16), (2, 4, 1), "tanh", "sigmoid"),
    "xor_q8.8": (QFormat(8, 8), (2, 4, 1), "tanh", "sigmoid"),
    "deep_q4.12": (QFormat(4, 12), (3, 5, 5, 2), "tanh", "sigmoid"),
    "relu_q8.8_truncate_wrap": (
        QFormat(8, 8, rounding=Rounding.TRUNCATE, overflow=Overflow.WRAP),
        (2, 3, 2),
        "relu",
        "linear",
    ),
}
NETWORK_SETTINGS = property_settings(150)


def values(fmt: QFormat, magnitude: float) -> st.SearchStrategy[int]:
    """Mostly moderate values (|x| <= magnitude), sometimes anything the format holds."""
    bound = min(int(magnitude * (1 << fmt.fractional_bits)), fmt.max_raw)
    return st.one_of(
        st.integers(max(-bound, fmt.min_raw), bound),
        st.integers(max(-bound, fmt.min_raw), bound),
        st.integers(fmt.min_raw, fmt.max_raw),
    )


@st.composite
def network_cases(draw):
    name = draw(st.sampled_from(sorted(NETWORKS)))
    fmt, sizes, _, _ = NETWORKS[name]
    weights = draw(st.lists(values(fmt, 2.0), min_size=weight_count(sizes), max_size=weight_count(sizes)))
    steps = draw(
        st.lists(
            st.tuples(
                st.lists(values(fmt, 1.5), min_size=sizes[0], max_size=sizes[0]),
                st.lists(values(fmt, 1.0), min_size=sizes[-1], max_size=sizes[-1]),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return name, weights, steps


def reference_for(name: str, weights: list[int]) -> ReferencePerceptron:
    fmt, sizes, hidden, output = NETWORKS[name]
    defaults = ReferencePerceptron.with_random_weights(fmt, sizes, hidden, output)
    return ReferencePerceptron(
        fmt, sizes, hidden, output, list(weights), learning_rate=defaults.learning_rate, momentum=defaults.momentum
    )


def joined(numbers) -> str:
    return " ".join(map(str, numbers))


@NETWORK_SETTINGS
@given(network_cases())
def test_forward_error_and_training_match_the_reference(driver, case):
    name, weights, steps = case
    reference = reference_for(name, weights)
    assert driver.integers(f"net {name} set {joined(weights)}") == weights
    # Several steps in a row, so momentum (the previous change) is exercised.
    for inputs, targets in steps:
        assert driver.integers(f"net {name} forward {joined(inputs)}") == reference.feed_forward(inputs)
        assert driver.integers(f"net {name} error {joined(targets)}") == [reference.calculate_error(targets)]
        reference.train(targets)
        assert driver.integers(f"net {name} train {joined(targets)}") == reference.weights


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("seed", [1, 0x2545F491, 0xDEADBEEF])
def test_random_initial_weights_match_the_reference(driver, name, seed):
    fmt, sizes, hidden, output = NETWORKS[name]
    expected = ReferencePerceptron.with_random_weights(fmt, sizes, hidden, output, seed).weights
    weights = driver.integers(f"net {name} reset {seed}")
    assert weights == expected
    assert all(-(1 << (fmt.fractional_bits - 1)) <= w < 1 << (fmt.fractional_bits - 1) for w in weights)


SIZEOF_PROGRAM = """
#include <cstdio>
#include "qnn/qnn.hpp"
template <typename V, bool Trainable>
using Net = qnn::MultilayerPerceptron<V, 2, 1, 4, 1,
    qnn::FixedPointTransferFunctions<V, qnn::XorshiftRandomNumberPolicy<V>, qnn::TanhActivationPolicy<V>,
                                     qnn::SigmoidActivationPolicy<V>>, Trainable>;
using Q16 = qnn::QValue<16, 16, true>;
using Q8 = qnn::QValue<8, 8, true>;
int main() {
    std::printf("%zu %zu %zu %zu\\n", sizeof(Net<Q16, true>), sizeof(Net<Q16, false>),
                sizeof(Net<Q8, true>), sizeof(Net<Q8, false>));
}
"""


def aligned(size: int, alignment: int = 8) -> int:
    return -(-size // alignment) * alignment


def test_inference_only_networks_carry_no_training_state(tmp_path):
    source = tmp_path / "sizes.cpp"
    source.write_text(SIZEOF_PROGRAM)
    executable = compile_or_fail([source], tmp_path / "sizes")
    sizes = [int(n) for n in subprocess.run([str(executable)], capture_output=True, text=True).stdout.split()]
    # 2-4-1 has 17 weights and 5 neuron outputs. Trainable: the weights, the outputs, 17 previous
    # changes, 2 input copies, learning rate and momentum, (17 + 5 + 17 + 2 + 2) values.
    # Inference-only: a pointer to the weights (8 bytes on the host) and the 5 outputs.
    assert sizes == [43 * 4, aligned(8 + 5 * 4), 43 * 2, aligned(8 + 5 * 2)]


@pytest.mark.parametrize("call", ["trainNetwork(targets)", "calculateError(targets)", "setLearningRate(targets[0])"])
def test_training_calls_on_an_inference_network_do_not_compile(tmp_path, call):
    source = tmp_path / "misuse.cpp"
    source.write_text(
        '#include "qnn/qnn.hpp"\nusing V = qnn::QValue<16, 16, true>;\n'
        "using TF = qnn::FixedPointTransferFunctions<V, qnn::XorshiftRandomNumberPolicy<V>,"
        " qnn::TanhActivationPolicy<V>, qnn::SigmoidActivationPolicy<V>>;\n"
        "qnn::MultilayerPerceptron<V, 2, 1, 4, 1, TF, false> network;\n"
        f"void misuse(const V* targets) {{ network.{call}; }}\n"
    )
    result = compile_host([source], tmp_path / "misuse.o", object_only=True)
    assert result.returncode != 0
    assert "IsTrainable = false" in result.stderr or "inference-only network" in result.stderr
    assert len(re.findall(r"error:", result.stderr)) == 1, result.stderr  # one clear message, no cascade


def test_tanh_on_an_unsigned_format_does_not_compile(tmp_path):
    source = tmp_path / "unsigned.cpp"
    source.write_text(
        '#include "qnn/qnn.hpp"\nusing V = qnn::QValue<8, 8, false>;\n'
        "V f(V x) { return qnn::TanhActivationPolicy<V>::activationFunction(x); }\n"
    )
    result = compile_host([source], tmp_path / "unsigned.o", object_only=True)
    assert result.returncode != 0 and "tanh needs a signed Q format" in result.stderr


def test_the_articles_xor_listing_compiles_with_only_the_namespace_renamed(tmp_path):
    listing = (REPO / "tests" / "host" / "article_xor.cpp").read_text()
    source = tmp_path / "article_xor.cpp"
    source.write_text(listing.replace("tinymind::", "qnn::"))
    executable = compile_or_fail([source], tmp_path / "article_xor")
    lines = subprocess.run([str(executable)], capture_output=True, text=True, check=True).stdout.splitlines()
    for line in lines:
        a, b, output = line.split()
        assert abs(float(output) - (int(a) ^ int(b))) < 0.1, lines


FLOAT_PROGRAM = """
#include <cstdio>
#include "qnn/qnn.hpp"
using TF = qnn::FloatingPointTransferFunctions<float, qnn::XorshiftRandomNumberPolicy<float>,
    qnn::TanhActivationPolicy<float>, qnn::SigmoidActivationPolicy<float>>;
qnn::MultilayerPerceptron<float, 2, 1, 4, 1, TF> network;
int main() {
    qnn::Xorshift32 samples(7);
    for (int i = 0; i < 5000; ++i) {
        const unsigned draw = samples.next();
        const float inputs[2] = {float(draw & 1u), float((draw >> 1) & 1u)};
        const float target = float((draw ^ (draw >> 1)) & 1u);
        network.feedForward(inputs);
        if (!TF::isWithinZeroTolerance(network.calculateError(&target))) network.trainNetwork(&target);
    }
    for (int p = 0; p < 4; ++p) {
        const float inputs[2] = {float(p & 1), float(p >> 1)};
        float output;
        network.feedForward(inputs);
        network.getLearnedValues(&output);
        std::printf("%d %f\\n", (p & 1) ^ (p >> 1), output);
    }
}
"""


def test_the_same_templates_train_in_float(tmp_path):
    source = tmp_path / "float_xor.cpp"
    source.write_text(FLOAT_PROGRAM)
    executable = compile_or_fail([source], tmp_path / "float_xor")
    for line in subprocess.run([str(executable)], capture_output=True, text=True, check=True).stdout.splitlines():
        target, output = line.split()
        assert abs(float(output) - int(target)) < 0.1


FORBIDDEN = {
    "virtual functions": r"\bvirtual\b",
    "heap": r"\bnew\b|\bmalloc\b|\bfree\(|\bdelete\b",
    "exceptions": r"\bthrow\b|\btry\b|\bcatch\b",
    "RTTI": r"\btypeid\b|\bdynamic_cast\b",
    "iostream": r"<iostream>|<sstream>|<fstream>",
}


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_headers_use_no(what):
    offenders = []
    for header in sorted((QNN_INCLUDE / "qnn").glob("*.hpp")):
        code = re.sub(r"//.*", "", header.read_text())  # comments may mention anything
        offenders += [f"{header.name}: {m.group(0)}" for m in re.finditer(FORBIDDEN[what], code)]
    assert offenders == []


def test_every_header_compiles_on_its_own(tmp_path):
    for header in sorted((QNN_INCLUDE / "qnn").glob("*.hpp")):
        source = tmp_path / f"{header.stem}.cpp"
        source.write_text(f'#include "qnn/{header.name}"\n')
        compile_or_fail([source], tmp_path / f"{header.stem}.o", object_only=True)
