"""Bit-exact Python model of qnn's MultilayerPerceptron and of the XOR workload.

Raw integers in, raw integers out: the same weights and inputs give the same
bits as the C++ network (suite/qnn/include/qnn/multilayer_perceptron.hpp), and
train_xor() retraces suite/workloads/xor/xor.cpp iteration for iteration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from qbench.common.processes import stop_point
from qbench.models import lut
from qbench.models.qformat import (
    NARROW_WEIGHTS_TRAINING,
    FloatFormat,
    NumberFormat,
    QFormat,
    Rounding,
    fit,
    from_float,
    from_parts,
    multiply,
    subtract,
)

DEFAULT_WEIGHT_SEED = 0x2545F491
DEFAULT_SAMPLE_SEED = 0x9E3779B9
# qnn::DefaultTrainingParameters
DEFAULT_LEARNING_RATE = 0.5
DEFAULT_MOMENTUM = 0.5
DEFAULT_ZERO_TOLERANCE = 1.0 / 256.0


class Xorshift32:
    """qnn::Xorshift32 (13, 17, 5); a zero seed selects the default seed."""

    def __init__(self, seed: int = DEFAULT_WEIGHT_SEED) -> None:
        self.state = seed & 0xFFFFFFFF or DEFAULT_WEIGHT_SEED

    def next(self) -> int:
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x


def random_weight(fmt: QFormat, draw: int) -> int:
    """XorshiftRandomNumberPolicy::generateRandomWeight: uniform in [-0.5, 0.5)."""
    bits = fmt.fractional_bits
    unit = draw >> (32 - bits) if bits <= 32 else draw << (bits - 32)
    return unit - (1 << (bits - 1))


def initial_weights(fmt: NumberFormat, layer_sizes: Sequence[int], seed: int = DEFAULT_WEIGHT_SEED) -> tuple:
    """The weights every trainable image starts from (unless run with --initial-weights library), in qbench's
    neuron order: one xorshift32 draw each, uniform in [-0.5, 0.5) (qnn's XorshiftRandomNumberPolicy: raw for a
    Q format, 24 bits of the draw for float32)."""
    generator = Xorshift32(seed)
    draws = [generator.next() for _ in range(weight_count(layer_sizes))]
    if isinstance(fmt, FloatFormat):
        return tuple((draw >> 8) / float(1 << 24) - 0.5 for draw in draws)
    return tuple(random_weight(fmt, draw) for draw in draws)


@dataclass(frozen=True)
class Activation:
    function: Callable[[QFormat, int], int]
    derivative: Callable[[QFormat, int], int]  # of the output y


def _tanh_derivative(fmt: QFormat, y: int) -> int:
    return subtract(fmt, fmt.one_raw, multiply(fmt, y, y))


def _sigmoid_derivative(fmt: QFormat, y: int) -> int:
    return multiply(fmt, y, subtract(fmt, fmt.one_raw, y))


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(lut.tanh, _tanh_derivative),
    "sigmoid": Activation(lut.sigmoid, _sigmoid_derivative),
    "relu": Activation(lambda fmt, x: x if x > 0 else 0, lambda fmt, y: fmt.one_raw if y > 0 else 0),
    "linear": Activation(lambda fmt, x: x, lambda fmt, y: fmt.one_raw),
}


def accumulator_bits(fmt: QFormat) -> int:
    """ValueTraits::Accumulator: twice the storage width, at least 32 bits."""
    return max(32, 2 * fmt.storage_bits)


def wrap_accumulator(fmt: QFormat, value: int) -> int:
    """The accumulator's two's complement (unsigned for unsigned formats)."""
    bits = accumulator_bits(fmt)
    low = value & ((1 << bits) - 1)
    return low - (1 << bits) if fmt.signed and low >> (bits - 1) else low


def exact_sum(fmt: QFormat, start: int, products: Iterable[tuple[int, int]]) -> int:
    """ValueTraits::dot: start + sum of exact products, in the accumulator."""
    return wrap_accumulator(fmt, start + sum(a * b for a, b in products))


# A sum of products of values (F fractional bits, fmt's) and weights (weight_bits fractional bits: the weight
# format's in a forward pass, F where weights are stored as values, as in training) is at resolution
# 2^-(F + weight_bits). narrow shifts weight_bits away, rounding by the offset a sum starts from.


def empty(fmt: QFormat, weight_bits: int | None = None) -> int:
    """ValueTraits::empty: where a sum starts, the rounding offset (half the step narrow drops, for
    round-half-up)."""
    dropped = fmt.fractional_bits if weight_bits is None else weight_bits
    return 1 << (dropped - 1) if fmt.rounding is Rounding.HALF_UP and dropped else 0


def start(fmt: QFormat, bias: int, weight_bits: int | None = None) -> int:
    """ValueTraits::start: a bias (at the weights' resolution) at the products' resolution, plus the rounding
    offset."""
    return wrap_accumulator(fmt, (bias << fmt.fractional_bits) + empty(fmt, weight_bits))


def narrow(fmt: QFormat, total: int, weight_bits: int | None = None) -> int:
    """ValueTraits::narrow: a sum at the values' resolution, by a floor shift (the offset it started from makes
    it round), fitted to fmt."""
    return fit(fmt, total >> (fmt.fractional_bits if weight_bits is None else weight_bits))


def weight_count(layer_sizes: Sequence[int]) -> int:
    return sum(after * (before + 1) for before, after in zip(layer_sizes, layer_sizes[1:], strict=False))


@dataclass
class ReferencePerceptron:
    """layer_sizes = (inputs, hidden..., outputs); weights (raw, in fmt.weight_format) in qnn's flat order:
    layer by layer, neuron by neuron, bias first then one weight per source. Trains only where weights are
    stored as values."""

    fmt: QFormat
    layer_sizes: tuple[int, ...]
    hidden_activation: str
    output_activation: str
    weights: list[int]
    learning_rate: int = 0
    momentum: int = 0
    previous_changes: list[int] = field(default_factory=list)
    # Outputs of every layer after feed_forward, inputs included.
    layer_outputs: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.weights) != weight_count(self.layer_sizes):
            raise ValueError(
                f"{len(self.weights)} weights given; a {'-'.join(map(str, self.layer_sizes))} "
                f"network has {weight_count(self.layer_sizes)}"
            )
        if not self.previous_changes:
            self.previous_changes = [0] * len(self.weights)

    @classmethod
    def with_random_weights(
        cls,
        fmt: QFormat,
        layer_sizes: Sequence[int],
        hidden: str,
        output: str,
        seed: int = DEFAULT_WEIGHT_SEED,
    ) -> ReferencePerceptron:
        """A trainable network as its constructor leaves it (its weights stored as values)."""
        if fmt.weights is not None:
            raise ValueError(f"{fmt.name}: {NARROW_WEIGHTS_TRAINING}")
        weights = list(initial_weights(fmt, layer_sizes, seed))
        return cls(
            fmt,
            tuple(layer_sizes),
            hidden,
            output,
            weights,
            learning_rate=from_float(fmt, DEFAULT_LEARNING_RATE),
            momentum=from_float(fmt, DEFAULT_MOMENTUM),
        )

    def _activation(self, layer: int) -> Activation:
        last = len(self.layer_sizes) - 1
        return ACTIVATIONS[self.output_activation if layer == last else self.hidden_activation]

    def _weight_rows(self, layer: int) -> list[list[int]]:
        """Rows [bias, w_0, ...] of the connections into layer + 1."""
        offset = weight_count(self.layer_sizes[: layer + 1])
        width = self.layer_sizes[layer] + 1
        return [
            self.weights[offset + neuron * width : offset + (neuron + 1) * width]
            for neuron in range(self.layer_sizes[layer + 1])
        ]

    def feed_forward(self, inputs: Sequence[int]) -> list[int]:
        fmt = self.fmt
        weight_bits = fmt.weight_format.fractional_bits
        self.layer_outputs = [list(inputs)]
        for layer in range(len(self.layer_sizes) - 1):
            activation = self._activation(layer + 1)
            source = self.layer_outputs[-1]
            outputs = []
            for bias, *row in self._weight_rows(layer):
                total = exact_sum(fmt, start(fmt, bias, weight_bits), zip(row, source, strict=True))
                outputs.append(activation.function(fmt, narrow(fmt, total, weight_bits)))
            self.layer_outputs.append(outputs)
        return list(self.layer_outputs[-1])

    def calculate_error(self, targets: Sequence[int]) -> int:
        """The largest |target - output|, starting from 0 as the C++ does (a
        difference that wraps negative under the wrap policy never wins)."""
        return max(
            0,
            *(
                (subtract(self.fmt, t, y) if t > y else subtract(self.fmt, y, t))
                for t, y in zip(targets, self.layer_outputs[-1], strict=True)
            ),
        )

    def train(self, targets: Sequence[int]) -> None:
        fmt = self.fmt
        last = len(self.layer_sizes) - 1
        output_activation = self._activation(last)
        deltas: dict[int, list[int]] = {
            last: [
                multiply(fmt, subtract(fmt, t, y), output_activation.derivative(fmt, y))
                for t, y in zip(targets, self.layer_outputs[last], strict=True)
            ]
        }
        for layer in range(last - 1, 0, -1):
            activation = self._activation(layer)
            rows = self._weight_rows(layer)
            downstream = deltas[layer + 1]
            deltas[layer] = []
            for source, y in enumerate(self.layer_outputs[layer]):
                products = ((row[1 + source], d) for row, d in zip(rows, downstream, strict=True))
                back = exact_sum(fmt, empty(fmt), products)
                deltas[layer].append(multiply(fmt, narrow(fmt, back), activation.derivative(fmt, y)))
        index = 0
        for layer in range(last):
            for delta in deltas[layer + 1]:
                step = multiply(fmt, self.learning_rate, delta)
                for i in range(self.layer_sizes[layer] + 1):
                    # i == 0 is the bias, whose input is 1.
                    gradient = start(fmt, step) if i == 0 else empty(fmt) + step * self.layer_outputs[layer][i - 1]
                    momentum = self.momentum * self.previous_changes[index]
                    change = narrow(fmt, wrap_accumulator(fmt, gradient + momentum))
                    self.weights[index] = fit(fmt, self.weights[index] + change)
                    self.previous_changes[index] = change
                    index += 1


XOR_LAYERS = (2, 4, 1)
XOR_PATTERNS = ((0, 0), (1, 0), (0, 1), (1, 1))  # pattern p = (p & 1, p >> 1)


@dataclass(frozen=True)
class XorLogEntry:
    iteration: int
    error: int
    weights: tuple[int, ...]


@dataclass(frozen=True)
class XorRun:
    fmt: QFormat
    learned: bool
    iterations: int
    final_error: int
    outputs: tuple[int, ...]
    weights: tuple[int, ...]
    log: tuple[XorLogEntry, ...]


def learned_tolerance_raw(fmt: QFormat) -> int:
    """The largest raw error still within 0.1 of the target."""
    return (1 << fmt.fractional_bits) // 10


def evaluate_xor(network: ReferencePerceptron) -> tuple[tuple[int, ...], int]:
    """Outputs for the four patterns and the largest |output - target|."""
    fmt = network.fmt
    outputs, worst = [], 0
    for a, b in XOR_PATTERNS:
        (output,) = network.feed_forward([from_parts(fmt, a, 0), from_parts(fmt, b, 0)])
        target = from_parts(fmt, a ^ b, 0)
        worst = max(worst, subtract(fmt, output, target) if output > target else subtract(fmt, target, output))
        outputs.append(output)
    return tuple(outputs), worst


def train_xor(
    fmt: QFormat,
    max_iterations: int = 20000,
    log_every: int = 100,
    sample_seed: int = DEFAULT_SAMPLE_SEED,
    weight_seed: int = DEFAULT_WEIGHT_SEED,
    hidden: str = "tanh",
    output: str = "sigmoid",
    layer_sizes: Sequence[int] = XOR_LAYERS,
) -> XorRun:
    """The trainable XOR workload, step for step (2 inputs, 1 output, any hidden layers)."""
    network = ReferencePerceptron.with_random_weights(fmt, layer_sizes, hidden, output, weight_seed)
    zero_tolerance = from_float(fmt, DEFAULT_ZERO_TOLERANCE)
    tolerance = learned_tolerance_raw(fmt)
    samples = Xorshift32(sample_seed)
    outputs, error = evaluate_xor(network)
    log = [XorLogEntry(0, error, tuple(network.weights))]
    iteration = 0
    while error > tolerance and iteration < max_iterations:
        stop_point()
        iteration += 1
        draw = samples.next()
        a, b = draw & 1, (draw >> 1) & 1
        target = [from_parts(fmt, a ^ b, 0)]
        network.feed_forward([from_parts(fmt, a, 0), from_parts(fmt, b, 0)])
        if network.calculate_error(target) > zero_tolerance:
            network.train(target)
        outputs, error = evaluate_xor(network)
        if iteration % log_every == 0 or error <= tolerance:
            log.append(XorLogEntry(iteration, error, tuple(network.weights)))
    return XorRun(fmt, error <= tolerance, iteration, error, outputs, tuple(network.weights), tuple(log))


def _activate(fmt: QFormat, activation: str, nets: np.ndarray) -> np.ndarray:
    """The activation of every net input, each distinct value computed once."""
    values, positions = np.unique(nets, return_inverse=True)
    function = ACTIVATIONS[activation].function
    return np.array([function(fmt, int(value)) for value in values], dtype=nets.dtype)[positions].reshape(nets.shape)


def forward_batch(
    fmt: QFormat, layer_sizes: Sequence[int], hidden: str, output: str, weights: Sequence[int], inputs: np.ndarray
) -> np.ndarray:
    """ReferencePerceptron.feed_forward for every row of inputs [samples x inputs] at once: the same
    bits, computed with numpy. int64 arithmetic wraps exactly as an accumulator of 64 bits (and holds
    a 32-bit one's exact sums, wrapped afterwards); wider accumulators use Python integers."""
    bits = accumulator_bits(fmt)
    weight_bits = fmt.weight_format.fractional_bits
    kind = np.int64 if bits <= 64 else object
    values = np.asarray(inputs, dtype=kind)
    offset = 0
    with np.errstate(over="ignore"):
        for layer, (before, after) in enumerate(zip(layer_sizes, layer_sizes[1:], strict=False)):
            block = np.asarray(weights[offset : offset + after * (before + 1)], dtype=kind).reshape(after, before + 1)
            offset += after * (before + 1)
            bias = (block[:, 0] << fmt.fractional_bits) + empty(fmt, weight_bits)
            total = values @ block[:, 1:].T + bias
            if bits < 64:
                total = np.vectorize(lambda value: wrap_accumulator(fmt, int(value)), otypes=[kind])(total)
            elif kind is object:
                total = np.vectorize(lambda value: wrap_accumulator(fmt, value), otypes=[object])(total)
            nets = np.vectorize(lambda value: narrow(fmt, int(value), weight_bits), otypes=[kind])(total)
            last = layer == len(layer_sizes) - 2
            values = _activate(fmt, output if last else hidden, nets)
    return values
