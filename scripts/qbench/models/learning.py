"""An honest learning verdict: the device's final XOR weights re-evaluated in exact arithmetic.

A device says it learned XOR when its own arithmetic puts every output within 0.1 of its target. A library
whose additions wrap around can get there through overflow: weights so large that the sums wrap back into
range. Evaluating the same network on the same raw weights (scaled by 2^-F) in float64, with math.tanh and
an exact sigmoid, tells the two apart: a run the device calls learned whose exact outputs are wrong learned
only through overflow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qbench.models.network import FloatNetwork, NetworkShape
from qbench.models.reference import XOR_PATTERNS

# The device's rule (suite/workloads/xor/xor.cpp): every output within this distance of its target.
LEARNED_TOLERANCE = 0.1
XOR_TARGETS = tuple(float(a ^ b) for a, b in XOR_PATTERNS)


def scaled_weights(raw_weights: Sequence[int], fractional_bits: int) -> tuple[float, ...]:
    """Raw Q values as the numbers they stand for: raw x 2^-F, exactly."""
    return tuple(math.ldexp(raw, -fractional_bits) for raw in raw_weights)


def exact_sigmoid(net: float) -> float:
    """1 / (1 + e^-net), written so that neither branch overflows for large |net|."""
    if net >= 0:
        return 1.0 / (1.0 + math.exp(-net))
    growth = math.exp(net)
    return growth / (1.0 + growth)


EXACT_ACTIVATIONS = {
    "tanh": math.tanh,
    "sigmoid": exact_sigmoid,
    "relu": lambda net: max(net, 0.0),
    "linear": lambda net: net,
}


def exact_outputs(shape: NetworkShape, weights: Sequence[float], inputs: Sequence[float]) -> tuple[float, ...]:
    """The network's outputs for one input vector in float64: weights in qnn's setWeights order (layer by
    layer, neuron by neuron, bias first), each net input summed exactly rounded (math.fsum)."""
    values = tuple(float(value) for value in inputs)
    layers = FloatNetwork(shape, tuple(weights)).layers()
    for index, (layer_weights, biases) in enumerate(layers):
        activation = EXACT_ACTIVATIONS[shape.output_activation if index == len(layers) - 1 else shape.hidden_activation]
        values = tuple(
            activation(math.fsum([float(bias), *(float(w) * v for w, v in zip(row, values, strict=True))]))
            for row, bias in zip(layer_weights, biases, strict=True)
        )
    return values


def exact_xor_outputs(shape: NetworkShape, weights: Sequence[float]) -> tuple[float, ...]:
    """The single output for each XOR pattern, in the order the device reports them."""
    return tuple(exact_outputs(shape, weights, pattern)[0] for pattern in XOR_PATTERNS)


def within_tolerance(outputs: Sequence[float], targets: Sequence[float], tolerance: float = LEARNED_TOLERANCE) -> bool:
    """Every output within tolerance of its target (the device's learned rule)."""
    return all(abs(output - target) <= tolerance for output, target in zip(outputs, targets, strict=True))


@dataclass(frozen=True)
class ExactVerdict:
    outputs: tuple[float, ...]  # the four XOR outputs in exact arithmetic
    learned: bool  # every one within LEARNED_TOLERANCE of its target


def exact_xor_verdict(shape: NetworkShape, raw_weights: Sequence[int], fractional_bits: int) -> ExactVerdict:
    """Whether the device's raw weights solve XOR in exact arithmetic."""
    outputs = exact_xor_outputs(shape, scaled_weights(raw_weights, fractional_bits))
    return ExactVerdict(outputs, within_tolerance(outputs, XOR_TARGETS))


def learned_only_through_overflow(device_right: bool, exact_right: bool) -> bool:
    """The device's arithmetic gets XOR right while exact arithmetic on the same weights does not."""
    return device_right and not exact_right


def overflow_message(exact: Sequence[float]) -> str:
    """What a row learned only through overflow says in its message."""
    listed = ",".join(f"{output:.3f}" for output in exact)
    return f"learned only through overflow: exact arithmetic on the device's final weights gives outputs {listed}"


def final_raw_weights(
    log_iterations_and_weights: Sequence[tuple[int, Sequence[int]]], iterations: int
) -> tuple[int, ...] | None:
    """A trainable run's final weights: its last log entry's, if that entry is the run's last iteration
    (always so for a run that learned: the firmware logs the iteration it learned); else None."""
    if not log_iterations_and_weights:
        return None
    iteration, weights = log_iterations_and_weights[-1]
    return tuple(weights) if iteration == iterations else None
