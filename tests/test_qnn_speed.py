"""qnn's fast inference paths (issue 16, phase 1) give the portable path's bits, and are taken where expected.

- The activation taken straight from a 32-bit sum (activation.hpp) equals narrowing then activating, for
  every net input of many formats, and is used where its conditions hold.
- Every kernel (kernels.hpp: register blocking, SMLAD pairs with an odd fan-in, proven-narrow 32-bit sums)
  gives the reference model's outputs on the host: the default build, -Os, the DSP path's C++ with SMLAD
  emulated (QNN_DSP=1) and the plain path (QNN_PORTABLE=1).
- Cross-compiled for each core, each layer reports the kernel chosen at compile time (SMLAD on DSP cores,
  SMLAL on Thumb-2 for 64-bit sums, the MULS pass on ARMv6-M, nothing of the kind with QNN_PORTABLE), and
  narrow sums only where the bound proves them.
- On the device (QEMU), qnn and a copy of it built with QNN_PORTABLE=1 both match the bit-exact model for
  every format the fast paths serve, with odd fan-ins and layers their blocks do not divide, and the fast
  paths execute fewer instructions.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from host_build import QNN_INCLUDE, compile_host
from library_copies import qnn_copy
from qbench.commands.cli import main as qbench_main
from qbench.models.qformat import Overflow, QFormat, Rounding
from qbench.models.reference import ReferencePerceptron, weight_count
from qbench.records.results import read_results

KINDS = {
    0: "portable",
    1: "muls",
    2: "partialProducts",
    3: "smlad",
    4: "smlal",
    5: "smladBytes",
    6: "mve",
    7: "mveBytes",
}

# ---- the activation from the sum -------------------------------------------------------------------------

FUSED_PROGRAM = r"""
#include <cstdint>
#include <cstdio>
#include "qnn/qnn.hpp"

// Every net input of the format and four times beyond (sampled for wide formats), each with several low
// parts, as a sum of the accumulator's type and, where that is wider, as a 32-bit sum of the same value.
template <typename V, typename A>
long long check(const char* name) {
    using Traits = qnn::ValueTraits<V>;
    using Acc = typename Traits::Accumulator;
    using Fused = qnn::detail::SumActivation<A, V>;
    long long bad = 0, checked = 0;
    auto one = [&](long long s) {
        const V plain = A::activationFunction(Traits::narrow(static_cast<Acc>(s)));
        const V fromSum = Fused::apply(static_cast<Acc>(s));
        ++checked;
        bad += plain.getValue() != fromSum.getValue();
        if (s >= INT32_MIN && s <= INT32_MAX) {
            const V narrow = Fused::apply(static_cast<std::int32_t>(s));
            bad += plain.getValue() != narrow.getValue();
        }
    };
    constexpr long long f = V::fractionalBits;
    const long long lowest = static_cast<long long>(V::minimumRaw) * 4 - 5;
    const long long highest = static_cast<long long>(V::maximumRaw) * 4 + 5;
    const long long step = (highest - lowest) / (1LL << 20) + 1;
    for (long long net = lowest; net <= highest; net += step) {
        for (long long low : {0LL, 1LL, (1LL << f) / 2 - 1, (1LL << f) / 2, (1LL << f) - 1}) {
            const long long s = net * (1LL << f) + low;
            if (sizeof(Acc) == 4 && (s > INT32_MAX || s < INT32_MIN)) continue;
            one(s);
        }
    }
    for (long long s : {static_cast<long long>(INT32_MAX), static_cast<long long>(INT32_MIN), 0LL, -1LL}) one(s);
    std::printf("%s %d %lld %lld\n", name, Fused::fused ? 1 : 0, checked, bad);
    return bad;
}

#define BOTH(NAME, I, F, R, O)                                                                     \
    check<qnn::QValue<I, F, true, R, O>, qnn::TanhActivationPolicy<qnn::QValue<I, F, true, R, O>>>( \
        "tanh-" NAME);                                                                             \
    check<qnn::QValue<I, F, true, R, O>, qnn::SigmoidActivationPolicy<qnn::QValue<I, F, true, R, O>>>("sigmoid-" NAME);

int main() {
    using H = qnn::RoundHalfUp;
    using T = qnn::Truncate;
    using S = qnn::Saturate;
    using W = qnn::Wrap;
    BOTH("q8.8", 8, 8, H, S) BOTH("q8.8-truncate", 8, 8, T, S) BOTH("q8.8-wrap", 8, 8, H, W)
    BOTH("q1.15", 1, 15, H, S) BOTH("q4.12", 4, 12, H, S) BOTH("q12.4", 12, 4, H, S) BOTH("q3.4", 3, 4, H, S)
    BOTH("q4.4", 4, 4, H, S) BOTH("q6.10", 6, 10, H, S) BOTH("q16.16", 16, 16, H, S) BOTH("q20.4", 20, 4, H, S)
    BOTH("q24.8", 24, 8, H, S) BOTH("q17.15", 17, 15, H, S)
}
"""


@pytest.fixture(scope="module")
def fused_results(tmp_path_factory) -> dict[str, tuple[bool, int, int]]:
    folder = tmp_path_factory.mktemp("fused")
    source = folder / "fused.cpp"
    source.write_text(FUSED_PROGRAM)
    result = compile_host([source], folder / "fused", flags=("-O2",))
    assert result.returncode == 0, result.stderr
    lines = subprocess.run([str(folder / "fused")], capture_output=True, text=True, check=True).stdout.splitlines()
    return {name: (fused == "1", int(checked), int(bad)) for name, fused, checked, bad in map(str.split, lines)}


def test_the_activation_from_the_sum_gives_the_narrowed_activations_bits(fused_results):
    assert len(fused_results) == 26
    for name, (_, checked, bad) in fused_results.items():
        assert checked > 2000 and bad == 0, name


def test_the_activation_from_the_sum_is_used_where_its_conditions_hold(fused_results):
    fused = {name for name, (flag, _, _) in fused_results.items() if flag}
    both = ("q8.8", "q8.8-truncate", "q12.4", "q6.10", "q16.16", "q20.4", "q24.8", "q17.15")
    # Not for: wrapping net inputs (saturating them is not the identity beyond the table); Q1.15 (+-1 does not
    # fit, results saturate); sigmoid where the format ends before the table does (x/2 < 5: Q4.12, Q4.4);
    # Q3.4 (its table is as coarse as the format).
    expected = {f"{activation}-{fmt}" for fmt in both for activation in ("tanh", "sigmoid")}
    assert fused == expected | {"tanh-q4.12", "tanh-q4.4"}


# ---- the kernels on the host, against the reference model -----------------------------------------------

H, T, W = Rounding.HALF_UP, Rounding.TRUNCATE, Overflow.WRAP
# name -> (format, layer sizes, hidden, output). Odd fan-ins, layers four or six neurons do not divide,
# several hidden layers, 8-, 16- and 32-bit storage, a format whose hidden layer proves narrow sums.
NETWORKS = {
    "q8_8_odd": (QFormat(8, 8), (7, 9, 5), "tanh", "sigmoid"),
    "q8_8_deep": (QFormat(8, 8), (6, 10, 10, 3), "tanh", "sigmoid"),
    "q8_8_relu": (QFormat(8, 8), (5, 6, 3), "relu", "linear"),
    "q8_8_truncate_wrap": (QFormat(8, 8, rounding=T, overflow=W), (3, 7, 2), "tanh", "linear"),
    "q4_12": (QFormat(4, 12), (5, 13, 2), "tanh", "sigmoid"),
    "q1_15": (QFormat(1, 15), (4, 6, 3), "tanh", "sigmoid"),
    "q3_4": (QFormat(3, 4), (5, 6, 2), "tanh", "sigmoid"),
    "uq8_8": (QFormat(8, 8, signed=False), (3, 5, 2), "relu", "sigmoid"),
    "q16_16": (QFormat(16, 16), (7, 5, 3), "tanh", "sigmoid"),
    "q20_4_narrow": (QFormat(20, 4), (4, 8, 3), "tanh", "sigmoid"),
    # Narrow weights: 8-bit against 16-bit values with fan-ins of 4k, 4k + 1 and 4k + 3 (the SXTB16 kernel's
    # remainders), below four (no kernel), 8 of 32 bits and 16 of 32 (64-bit sums, the portable path).
    "q8_8w2_6": (QFormat(8, 8, weights=QFormat(2, 6)), (7, 9, 5), "tanh", "sigmoid"),
    "q8_8w1_7_deep": (QFormat(8, 8, weights=QFormat(1, 7)), (8, 13, 13, 3), "tanh", "sigmoid"),
    "q8_8w4_4_relu": (QFormat(8, 8, weights=QFormat(4, 4)), (3, 6, 2), "relu", "linear"),
    "q8_8w3_5_truncate_wrap": (
        QFormat(8, 8, rounding=T, overflow=W, weights=QFormat(3, 5, rounding=T, overflow=W)),
        (5, 7, 2),
        "tanh",
        "linear",
    ),
    "q16_16w2_6": (QFormat(16, 16, weights=QFormat(2, 6)), (5, 6, 3), "tanh", "sigmoid"),
    "q16_16w4_12": (QFormat(16, 16, weights=QFormat(4, 12)), (6, 5, 2), "tanh", "sigmoid"),
}

ACTIVATION_TYPES = {
    "tanh": "qnn::TanhActivationPolicy",
    "sigmoid": "qnn::SigmoidActivationPolicy",
    "relu": "qnn::ReluActivationPolicy",
    "linear": "qnn::LinearActivationPolicy",
}


def _value_type(fmt: QFormat) -> str:
    rounding = "qnn::Truncate" if fmt.rounding is T else "qnn::RoundHalfUp"
    overflow = "qnn::Wrap" if fmt.overflow is W else "qnn::Saturate"
    signed = "true" if fmt.signed else "false"
    return f"qnn::QValue<{fmt.integer_bits}, {fmt.fractional_bits}, {signed}, {rounding}, {overflow}>"


def kernels_program() -> str:
    entries = []
    for name, (fmt, sizes, hidden, output) in NETWORKS.items():
        value, weight = _value_type(fmt), _value_type(fmt.weight_format)
        network = (
            f"qnn::MultilayerPerceptron<{value}, {sizes[0]}, {len(sizes) - 2}, {sizes[1]}, {sizes[-1]}, "
            f"qnn::FixedPointTransferFunctions<{value}, qnn::XorshiftRandomNumberPolicy<{value}>, "
            f"{ACTIVATION_TYPES[hidden]}<{value}>, {ACTIVATION_TYPES[output]}<{value}>>, false, "
            f"{weight}>"
        )
        entries.append(f'    {{"{name}", &run<{network}>, &kernels<{network}, {len(sizes) - 1}>}},')
    return (
        r"""
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include "qnn/qnn.hpp"

namespace {

// "run <name> <weights...> <inputs...>": the outputs; "kernels <name>": per layer kind, neurons per pass,
// sum bits, activation from the sum.
template <typename N>
void run(char* words) {
    using V = typename N::ValueType;
    using W = typename N::WeightType;
    static W weights[N::NumberOfWeights];
    static N network;
    V inputs[N::NumberOfInputs];
    V outputs[N::NumberOfOutputs];
    char* end = words;
    for (auto& weight : weights) weight = W::fromRaw(static_cast<typename W::StorageType>(std::strtoll(end, &end, 10)));
    for (auto& input : inputs) input = V::fromRaw(static_cast<typename V::StorageType>(std::strtoll(end, &end, 10)));
    network.setWeights(weights);
    network.feedForward(inputs);
    network.getLearnedValues(outputs);
    for (std::size_t i = 0; i < N::NumberOfOutputs; ++i) {
        std::printf(i ? " %lld" : "%lld", static_cast<long long>(outputs[i].getValue()));
    }
    std::printf("\n");
}

template <typename N, std::size_t Layers>
void kernels() {
    for (std::size_t layer = 0; layer < Layers; ++layer) {
        const qnn::LayerKernel kernel = N::layerKernel(layer);
        std::printf(layer ? " %d:%zu:%zu:%d" : "%d:%zu:%zu:%d", static_cast<int>(kernel.kind), kernel.neuronsPerPass,
                    kernel.sumBits, kernel.fusedActivation ? 1 : 0);
    }
    std::printf("\n");
}

struct Entry {
    const char* name;
    void (*run)(char*);
    void (*kernels)();
};

const Entry entries[] = {
"""
        + "\n".join(entries)
        + r"""
};

}  // namespace

int main() {
    static char line[1 << 16];
    while (std::fgets(line, sizeof line, stdin)) {
        char* command = std::strtok(line, " \n");
        char* name = std::strtok(nullptr, " \n");
        char* rest = name + std::strlen(name) + 1;
        for (const Entry& entry : entries) {
            if (std::strcmp(entry.name, name) == 0) {
                if (std::strcmp(command, "run") == 0) entry.run(rest); else entry.kernels();
            }
        }
        std::fflush(stdout);
    }
}
"""
    )


BUILDS = {
    "default": ("-O2",),
    "size": ("-Os",),
    "dsp-emulated": ("-O2", "-DQNN_DSP=1"),
    "portable": ("-O2", "-DQNN_PORTABLE=1"),
}


def _draw(rng: random.Random, fmt: QFormat, count: int, mode: str) -> list[int]:
    one = 1 << fmt.fractional_bits
    if mode == "extreme":  # the largest magnitudes: what the narrow-sum bound is about
        return [rng.choice((fmt.min_raw, fmt.max_raw)) for _ in range(count)]
    if mode == "full":
        return [rng.randint(fmt.min_raw, fmt.max_raw) for _ in range(count)]
    bound = min(2 * one, fmt.max_raw)
    return [rng.randint(max(-bound, fmt.min_raw), bound) for _ in range(count)]


def cases(seed: int, per_network: int = 40):
    rng = random.Random(seed)
    for name, (fmt, sizes, _, _) in NETWORKS.items():
        for case in range(per_network):
            mode = ("moderate", "full", "extreme")[case % 3]
            weights = _draw(rng, fmt.weight_format, weight_count(sizes), mode)
            inputs = _draw(rng, fmt, sizes[0], ("moderate", "full", "extreme")[(case // 3) % 3])
            yield name, weights, inputs


def _build(folder: Path, source: Path, build: str) -> Path:
    executable = folder / f"kernels-{build}"
    result = compile_host([source], executable, flags=BUILDS[build])
    assert result.returncode == 0, result.stderr
    return executable


@pytest.fixture(scope="module")
def kernel_builds(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("kernels")
    source = folder / "kernels.cpp"
    source.write_text(kernels_program())
    with ThreadPoolExecutor(len(BUILDS)) as pool:
        futures = {build: pool.submit(_build, folder, source, build) for build in BUILDS}
        return {build: future.result() for build, future in futures.items()}


def _answers(executable: Path, requests: list[str]) -> list[str]:
    result = subprocess.run(
        [str(executable)], input="\n".join(requests) + "\n", capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.splitlines()


def _kernels(executable: Path) -> dict[str, list[tuple[str, int, int, bool]]]:
    answers = _answers(executable, [f"kernels {name}" for name in NETWORKS])
    layers = {}
    for name, answer in zip(NETWORKS, answers, strict=True):
        parsed = [tuple(int(part) for part in layer.split(":")) for layer in answer.split()]
        layers[name] = [(KINDS[kind], rows, bits, bool(fused)) for kind, rows, bits, fused in parsed]
    return layers


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_every_kernel_gives_the_reference_models_outputs(kernel_builds, build):
    drawn = list(cases(seed=16))
    requests = [
        f"run {name} {' '.join(map(str, weights))} {' '.join(map(str, inputs))}" for name, weights, inputs in drawn
    ]
    answers = _answers(kernel_builds[build], requests)
    assert len(answers) == len(drawn)
    for (name, weights, inputs), answer in zip(drawn, answers, strict=True):
        fmt, sizes, hidden, output = NETWORKS[name]
        expected = ReferencePerceptron(fmt, sizes, hidden, output, weights).feed_forward(inputs)
        assert [int(word) for word in answer.split()] == expected, (build, name, weights, inputs)


def test_the_host_builds_take_the_paths_they_are_meant_to(kernel_builds):
    default, size = _kernels(kernel_builds["default"]), _kernels(kernel_builds["size"])
    dsp, portable = _kernels(kernel_builds["dsp-emulated"]), _kernels(kernel_builds["portable"])
    # Narrow sums: proven for the Q20.4 layer fed by tanh (|input| <= 1, fan-in 8), never for a first layer
    # of a 32-bit format (any input) or for Q16.16 (one product can pass 2^31 at 2^-32); 16-bit formats
    # and smaller sum in 32 bits anyway.
    for layers in (default, size, dsp, portable):
        assert [bits for _, _, bits, _ in layers["q20_4_narrow"]] == [64, 32]
        assert [bits for _, _, bits, _ in layers["q16_16"]] == [64, 64]
        assert all(bits == 32 for _, _, bits, _ in layers["q8_8_odd"] + layers["q3_4"])
    # Blocking: several neurons per pass at -O2; the XOR-sized layers of -Os keep one.
    assert all(rows > 1 for _, rows, _, _ in default["q8_8_deep"])
    # The DSP path's C++ for the signed 16-bit formats (SMLAD emulated), not for 8-bit, unsigned or 32-bit.
    for name in ("q8_8_odd", "q8_8_deep", "q8_8_relu", "q8_8_truncate_wrap", "q4_12", "q1_15"):
        assert {kind for kind, _, _, _ in dsp[name]} == {"smlad"}, name
    for name in ("q3_4", "uq8_8", "q16_16", "q20_4_narrow"):
        assert {kind for kind, _, _, _ in dsp[name]} == {"portable"}, name
    # 8-bit weights against 16-bit values: the SXTB16 kernel from four inputs up, the plain sums below four and
    # for 32-bit values.
    assert [kind for kind, _, _, _ in dsp["q8_8w2_6"]] == ["smladBytes", "smladBytes"]
    assert [kind for kind, _, _, _ in dsp["q8_8w4_4_relu"]] == ["portable", "smladBytes"]
    for name in ("q16_16w2_6", "q16_16w4_12"):
        assert {kind for kind, _, _, _ in dsp[name]} == {"portable"}, name
    assert {kind for layers in portable.values() for kind, _, _, _ in layers} == {"portable"}
    # The activation from the sum: 32-bit sums, saturating tanh and sigmoid that need no result saturation.
    assert [fused for _, _, _, fused in default["q8_8_odd"]] == [True, True]
    assert [fused for _, _, _, fused in default["q20_4_narrow"]] == [False, True]
    assert [fused for _, _, _, fused in default["q1_15"]] == [False, False]
    assert [fused for _, _, _, fused in default["q8_8_truncate_wrap"]] == [False, False]


# ---- the kernels chosen for each core, cross-compiled ----------------------------------------------------

CHOICES_PROGRAM = r"""
#include "qnn/qnn.hpp"
template <typename V, std::size_t I, std::size_t N, std::size_t O, typename W = V>
using Net = qnn::MultilayerPerceptron<V, I, 1, N, O,
    qnn::FixedPointTransferFunctions<V, qnn::XorshiftRandomNumberPolicy<V>, qnn::TanhActivationPolicy<V>,
                                     qnn::SigmoidActivationPolicy<V>>, false, W>;
using Q8 = qnn::QValue<8, 8, true>;
using Q16 = qnn::QValue<16, 16, true>;
using Q20 = qnn::QValue<20, 4, true>;
#define LAYER(N, l) int(N::layerKernel(l).kind), int(N::layerKernel(l).neuronsPerPass), int(N::layerKernel(l).sumBits)
#define NET(N) LAYER(N, 0), LAYER(N, 1)
using Digits8 = Net<Q8, 64, 32, 10>;
using Digits16 = Net<Q16, 64, 32, 10>;
using Iris8 = Net<Q8, 4, 8, 3>;
using Iris16 = Net<Q16, 4, 8, 3>;
using Xor8 = Net<Q8, 2, 4, 1>;
using Xor16 = Net<Q16, 2, 4, 1>;
using Iris20 = Net<Q20, 4, 8, 3>;
using Digits7 = Net<Q8, 64, 7, 10>;
using Bytes = qnn::QValue<2, 6, true>;
using Digits8Bytes = Net<Q8, 64, 32, 10, Bytes>;
using Iris8Bytes = Net<Q8, 4, 8, 3, Bytes>;
extern const int choices[] = {NET(Digits8), NET(Digits16), NET(Iris8), NET(Iris16), NET(Xor8), NET(Xor16), NET(Iris20),
                              NET(Digits7), NET(Digits8Bytes), NET(Iris8Bytes)};
void use8(Digits8& digits, const Q8* inputs) { digits.feedForward(inputs); }
void use16(Digits16& digits, const Q16* inputs) { digits.feedForward(inputs); }
void useBytes(Digits8Bytes& digits, const Q8* inputs) { digits.feedForward(inputs); }
"""
CHOICE_NETWORKS = (
    "digits-q8.8",
    "digits-q16.16",
    "iris-q8.8",
    "iris-q16.16",
    "xor-q8.8",
    "xor-q16.16",
    "iris-q20.4",
    "digits7-q8.8",
    "digits-q8.8w2.6",
    "iris-q8.8w2.6",
)
CROSS = "arm-none-eabi-g++"
CORES = Path(__file__).resolve().parents[1] / "targets" / "cores"


def _choices(folder: Path, core: str, defines: tuple[str, ...] = ()) -> tuple[dict[str, list[tuple]], str]:
    name = f"{core}{''.join(defines)}".replace("-D", "-").replace("=", "")
    source, obj = folder / "choices.cpp", folder / f"{name}.o"
    # The core's own flags (cortex-m55's -mfloat-abi=hard: GCC offers Helium only with the FP registers).
    flags = tomllib.loads((CORES / f"{core}.toml").read_text())["cflags"]
    command = [
        CROSS,
        "-mthumb",
        *flags,
        "-std=c++17",
        "-Os",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fdata-sections",
        f"-I{QNN_INCLUDE}",
        *defines,
        "-c",
        str(source),
        "-o",
        str(obj),
    ]
    compiled = subprocess.run(command, capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    table = obj.with_suffix(".bin")
    subprocess.run(
        ["arm-none-eabi-objcopy", "-O", "binary", "-j", ".rodata.choices", str(obj), str(table)],
        capture_output=True,
        check=True,
    )
    raw = table.read_bytes()
    numbers = [int.from_bytes(raw[i : i + 4], "little", signed=True) for i in range(0, len(raw), 4)]
    assert len(numbers) >= 6 * len(CHOICE_NETWORKS)
    layers = {
        net: [
            (KINDS[numbers[6 * n + 3 * layer]], numbers[6 * n + 3 * layer + 1], numbers[6 * n + 3 * layer + 2])
            for layer in range(2)
        ]
        for n, net in enumerate(CHOICE_NETWORKS)
    }
    disassembly = subprocess.run(
        ["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    return layers, disassembly


@pytest.fixture(scope="module")
def cross_choices(tmp_path_factory):
    if shutil.which(CROSS) is None:
        pytest.skip("the Arm cross compiler is not installed (scripts/setup installs it)")
    folder = tmp_path_factory.mktemp("choices")
    (folder / "choices.cpp").write_text(CHOICES_PROGRAM)
    builds = {
        core: (core, ())
        for core in ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
    }
    builds["cortex-m4 portable"] = ("cortex-m4", ("-DQNN_PORTABLE=1",))
    builds["cortex-m0plus portable"] = ("cortex-m0plus", ("-DQNN_PORTABLE=1",))
    with ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(_choices, folder, core, defines) for name, (core, defines) in builds.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m7", "cortex-m33"])
def test_dsp_cores_take_smlad_for_16_bit_values_and_smlal_for_64_bit_sums(cross_choices, core):
    layers, disassembly = cross_choices[core]
    assert layers["digits-q8.8"] == [("smlad", 4, 32), ("smlad", 5, 32)]
    assert layers["iris-q8.8"] == [("smlad", 4, 32), ("smlad", 3, 32)]
    assert [kind for kind, _, _ in layers["digits-q16.16"]] == ["smlal", "smlal"]
    assert all(bits == 64 for _, _, bits in layers["digits-q16.16"] + layers["iris-q16.16"])
    # XOR's tiny layers keep the compact one-neuron loop at -Os: less code than any block would save.
    assert layers["xor-q8.8"] == [("portable", 1, 32)] * 2 and layers["xor-q16.16"] == [("portable", 1, 64)] * 2
    # The device test's 64-7-10: seven neurons in passes of four (the last pass overlaps), fan-in 7 (odd).
    assert layers["digits7-q8.8"] == [("smlad", 4, 32), ("smlad", 5, 32)]
    assert "smlad" in disassembly
    # 8-bit weights: four per LDR, widened by SXTB16 against the inputs reordered by PKHBT/PKHTB.
    assert layers["digits-q8.8w2.6"] == [("smladBytes", 4, 32), ("smladBytes", 5, 32)]
    assert [kind for kind, _, _ in layers["iris-q8.8w2.6"]] == ["smladBytes", "smladBytes"]
    assert "sxtb16" in disassembly and "pkhtb" in disassembly


def test_helium_takes_vmladava_for_16_bit_values_and_smlal_for_64_bit_sums(cross_choices):
    layers, _ = cross_choices["cortex-m55"]
    # Helium (MVE) before SMLAD: eight 16-bit connections per VMLADAVA, four neurons per pass where the layer
    # has them; 8-bit weights widened by VLDRB.S16 (mveBytes).
    assert layers["digits-q8.8"][0] == ("mve", 4, 32) and layers["digits-q8.8"][1][0] == "mve"
    assert [kind for kind, _, _ in layers["iris-q8.8"]] == ["mve", "mve"]
    assert [kind for kind, _, _ in layers["digits7-q8.8"]] == ["mve", "mve"]
    assert [kind for kind, _, _ in layers["digits-q8.8w2.6"]] == ["mveBytes", "mveBytes"]
    assert [kind for kind, _, _ in layers["iris-q8.8w2.6"]] == ["mveBytes", "mveBytes"]
    # 64-bit sums stay with SMLAL, and XOR's tiny layers with the compact one-neuron loop at -Os.
    assert [kind for kind, _, _ in layers["digits-q16.16"]] == ["smlal", "smlal"]
    assert layers["xor-q8.8"] == [("portable", 1, 32)] * 2 and layers["xor-q16.16"] == [("portable", 1, 64)] * 2


def test_the_helium_path_compiles_only_where_the_compiler_says_mve(cross_choices):
    # Every other core's choices (and so its code) are those of the DSP, Thumb-2 and ARMv6-M paths.
    for core, (layers, _) in cross_choices.items():
        if core != "cortex-m55":
            assert not {kind for net in layers.values() for kind, _, _ in net} & {"mve", "mveBytes"}, core


def test_armv7m_without_dsp_blocks_in_cpp_and_takes_smlal(cross_choices):
    layers, disassembly = cross_choices["cortex-m3"]
    assert layers["digits-q8.8"][0] == ("portable", 4, 32)
    assert layers["digits-q8.8w2.6"][0] == ("portable", 4, 32)
    assert [kind for kind, _, _ in layers["digits-q16.16"]] == ["smlal", "smlal"]
    assert "smlad" not in disassembly


def test_armv6m_takes_the_muls_pass_and_the_partial_products(cross_choices):
    layers, disassembly = cross_choices["cortex-m0plus"]
    assert layers["digits-q8.8"] == [("muls", 4, 32), ("muls", 2, 32)]
    assert layers["digits-q16.16"] == [("partialProducts", 1, 64)] * 2
    assert layers["digits7-q8.8"] == [("muls", 4, 32), ("muls", 2, 32)]
    # 8-bit weights: the same pass, LDRSB for the weights, LDRH and SXTH for each input.
    assert layers["digits-q8.8w2.6"] == [("muls", 4, 32), ("muls", 4, 32)]
    assert "ldrsh" in disassembly and "muls" in disassembly and "ldrsb" in disassembly and "sxth" in disassembly


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0plus"])
def test_qnn_portable_turns_every_fast_path_off(cross_choices, core):
    layers, disassembly = cross_choices[f"{core} portable"]
    assert {kind for net in layers.values() for kind, _, _ in net} == {"portable"}
    assert "smlad" not in disassembly  # (the compiler's own code uses SMLAL for 64-bit sums, and MULS)


def test_narrow_sums_only_where_the_bound_proves_them(cross_choices):
    for core, (layers, _) in cross_choices.items():
        assert [bits for _, _, bits in layers["iris-q20.4"]] == [64, 32], core  # tanh-fed, fan-in 8
        assert all(
            bits == 64 for net in ("digits-q16.16", "iris-q16.16", "xor-q16.16") for _, _, bits in layers[net]
        ), core


# ---- on the device: the fast paths against the model and against QNN_PORTABLE ----------------------------
# cortex-m55 runs the Helium kernels (VMLADAVA, VLDRB.S16, tail-predicated DLSTP/LETP loops for fan-ins that are
# not multiples of eight, overlapping last passes) and the vectorised table activations: q8.8, q4.12 and
# q4.12w1.7 (tanh/sigmoid from the sums, four at a time), q1.15 (the kernels with the scalar activation),
# q8.8w3.5 (8-bit weights, fan-ins 64 and 7), against the model and against QNN_PORTABLE=1 on the same core.

# Iris 4-8-3 for every format the fast paths serve; digits with 7 hidden neurons for a layer that passes of
# four neurons do not divide (the last pass overlaps) and an odd fan-in into the output layer (and, with 8-bit
# weights, fan-ins of 4k and 4k + 3 for the SXTB16 kernel and the mixed-width MULS pass; iris in q4.12w1.7 for
# 8-bit weights against another 16-bit value format).
DEVICE_RUNS = {
    "iris": ("--formats", "q8.8,q4.12,q1.15,q16.16,q20.4,q4.12w1.7"),
    "digits": ("--formats", "q8.8,q16.16,q8.8w3.5", "--hidden-neurons", "7"),
}


@pytest.fixture(scope="module")
def device_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("speed-device")
    portable = qnn_copy(
        root / "portable", "portablenn", '[supports]\nnarrow_weights = true\n\n[defines]\n"QNN_PORTABLE" = "1"\n'
    )
    statuses, frames = [], []
    for workload, arguments in DEVICE_RUNS.items():
        out = root / workload
        statuses.append(
            qbench_main(
                [
                    "run",
                    "--workload",
                    workload,
                    "--variants",
                    "inference",
                    "--cores",
                    "cortex-m0plus,cortex-m4,cortex-m55",
                    *arguments,
                    "--library",
                    f"portable={portable}",
                    "--out",
                    str(out),
                    "--build-dir",
                    str(root / "build"),
                    "-j",
                    "2",
                ]
            )
        )
        frames.append(read_results(out).rows)
    return statuses, pd.concat(frames, ignore_index=True)


def test_fast_and_portable_paths_match_the_model_on_the_device(device_run):
    statuses, rows = device_run
    assert statuses == [0, 0]
    assert len(rows) == 3 * (6 + 3) * 2  # cores x formats x libraries
    assert (rows["status"] == "ok").all(), rows[rows["status"] != "ok"][["core", "qformat", "library", "message"]]
    assert rows["matches_reference"].astype(bool).all()


def test_fast_paths_take_fewer_instructions_on_the_device(device_run):
    _, rows = device_run
    instructions = rows.pivot_table(index=["core", "qformat", "network"], columns="library", values="instr_forward")
    # Helium (16-bit formats) on cortex-m55, SMLAD (16-bit formats) and SMLAL (Q16.16, Q20.4) on cortex-m4 and
    # cortex-m55, the MULS pass and the partial products
    # (against __aeabi_lmul) on cortex-m0plus: every cell.
    faster = instructions["qnn"] < instructions["portable"]
    assert faster.all(), instructions[~faster]
    digits = instructions.xs("64-7-10 tanh/sigmoid", level="network")
    classic = digits.drop("cortex-m55", level="core")
    assert (classic["qnn"] < 0.7 * classic["portable"]).all(), digits
    # Helium's 16-bit cells (VMLADAVA, the activations four at a time) in well under half the portable count;
    # cortex-m55's Q16.16 keeps SMLAL, which its portable build comes closer to than cortex-m4's does.
    helium = digits.xs("cortex-m55", level="core").loc[["q8.8", "q8.8w3.5"]]
    assert (helium["qnn"] < 0.4 * helium["portable"]).all(), digits
