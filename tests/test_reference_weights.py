"""The bit-exact model with weights in their own format (q8.8w2.6): a neuron's sum at resolution
2^-(Fv+Fw), started from the bias shifted by Fv plus half of 2^-Fw's step, narrowed by a floor shift of Fw
and fitted to the values; worked out by hand, and identical to the model before when weights are values."""

from __future__ import annotations

import random

import numpy as np
import pytest

from qbench.models import lut
from qbench.models.qformat import QFormat, Rounding, fit, parse_qformat
from qbench.models.reference import (
    ACTIVATIONS,
    ReferencePerceptron,
    accumulator_bits,
    empty,
    forward_batch,
    narrow,
    start,
    train_xor,
    weight_count,
    wrap_accumulator,
)

NARROW = parse_qformat("q8.8w2.6")  # Fv = 8, Fw = 6


def one_neuron(fmt: QFormat, bias: int, weight: int, x: int, activation: str = "linear") -> int:
    """The output of a 1-1 network (one input, one linear output neuron), by the model and by the batch model."""
    single = ReferencePerceptron(
        fmt, (1, 1, 1), "linear", activation, [0, 1 << fmt.weight_format.fractional_bits, bias, weight]
    )
    # The hidden neuron passes x through: 0 + 1.0 * x.
    (output,) = single.feed_forward([x])
    (batch,) = forward_batch(fmt, (1, 1, 1), "linear", activation, single.weights, np.array([[x]], dtype=object))
    assert int(batch[0]) == output
    return output


def test_the_offset_start_and_narrow_use_the_weights_fractional_bits():
    assert empty(NARROW, 6) == 32  # half of 2^-14 * 2^6, the step narrow drops
    assert empty(NARROW) == 128  # the values' own (training's)
    assert start(NARROW, 32, 6) == (32 << 8) + 32 == 8224  # bias 0.5 in q2.6 at 2^-14
    assert narrow(NARROW, -54065, 6) == -845  # floor(-844.77)
    assert empty(QFormat(8, 8, rounding=Rounding.TRUNCATE), 6) == 0


def test_one_neuron_by_hand():
    # bias 0.5 (q2.6 raw 32), weight -1.265625 (raw -81), input 3.00390625 (q8.8 raw 769):
    # start = (32 << 8) + (1 << 5) = 8224; product -81 * 769 = -62289; sum = -54065;
    # -54065 >> 6 = floor(-844.77) = -845, i.e. -3.30078125: the exact 0.5 - 3.80181884765625 =
    # -3.30181884765625 is -845.27 steps of 2^-8, rounded half up.
    assert one_neuron(NARROW, 32, -81, 769) == -845


def test_a_half_step_rounds_up():
    # weight 2^-6 (raw 1) times input 0.125 (raw 32) = 2^-9, half a q8.8 step: start 32 + 32 = 64 >> 6 = 1.
    assert one_neuron(NARROW, 0, 1, 32) == 1
    # -2^-9 rounds up to 0: 32 - 32 = 0 >> 6 = 0.
    assert one_neuron(NARROW, 0, -1, 32) == 0


def test_truncating_formats_start_from_no_offset():
    truncating = QFormat(8, 8, rounding=Rounding.TRUNCATE, weights=QFormat(2, 6, rounding=Rounding.TRUNCATE))
    # 8192 - 62289 = -54097 >> 6 = floor(-845.27) = -846.
    assert one_neuron(truncating, 32, -81, 769) == -846


def test_the_net_input_saturates_in_the_values_format():
    # bias 1.984375 (127), weight 1.984375 (127), input 127.99609375 (32767): (127 << 8) + 32 + 127 * 32767
    # = 4193953 >> 6 = 65530, beyond q8.8's 32767.
    assert one_neuron(NARROW, 127, 127, 32767) == 32767
    assert one_neuron(NARROW, -128, 127, -32768) == -32768


def test_the_activation_takes_the_net_input_in_the_values_format():
    net = one_neuron(NARROW, 32, -81, 769)
    assert one_neuron(NARROW, 32, -81, 769, "tanh") == lut.tanh(NARROW.value_format, net)
    assert one_neuron(NARROW, 32, -81, 769, "sigmoid") == lut.sigmoid(NARROW.value_format, net)


def test_unsigned_formats_keep_their_unsigned_accumulator():
    assert wrap_accumulator(parse_qformat("uq8.8"), -1) == (1 << 32) - 1


def test_the_accumulator_keeps_the_values_width():
    assert accumulator_bits(NARROW) == accumulator_bits(NARROW.value_format) == 32
    assert accumulator_bits(parse_qformat("q16.16w4.12")) == 64


def test_weights_in_the_values_resolution_give_the_same_outputs():
    """w2.6 raw weights and the same weights in q8.8 (raw x 4) give identical bits: the sum is the same
    number at a resolution 4 times finer, started from an offset 4 times larger, shifted 2 bits further."""
    generator = random.Random(26)
    for sizes, hidden, output in (((4, 8, 3), "tanh", "sigmoid"), ((3, 5, 5, 2), "relu", "linear")):
        weights = [generator.randint(-128, 127) for _ in range(weight_count(sizes))]
        inputs = [generator.randint(-1024, 1024) for _ in range(sizes[0])]
        narrow_outputs = ReferencePerceptron(NARROW, sizes, hidden, output, list(weights)).feed_forward(inputs)
        wide = ReferencePerceptron(NARROW.value_format, sizes, hidden, output, [w << 2 for w in weights])
        assert narrow_outputs == wide.feed_forward(inputs)


def model_before(fmt: QFormat, sizes, hidden: str, output: str, weights, inputs) -> list[int]:
    """The forward pass as qbench.models.reference computed it before weights had a format of their own: sums at
    2^-2F from (bias << F) + 2^(F-1) (round half up), narrowed by >> F."""
    offset = 1 << (fmt.fractional_bits - 1) if fmt.rounding is Rounding.HALF_UP and fmt.fractional_bits else 0
    values, index = list(inputs), 0
    for layer, (before, after) in enumerate(zip(sizes, sizes[1:], strict=False)):
        activation = ACTIVATIONS[output if layer == len(sizes) - 2 else hidden].function
        outputs = []
        for _ in range(after):
            bias, row = weights[index], weights[index + 1 : index + 1 + before]
            index += before + 1
            total = (bias << fmt.fractional_bits) + offset + sum(w * x for w, x in zip(row, values, strict=True))
            outputs.append(activation(fmt, fit(fmt, wrap_accumulator(fmt, total) >> fmt.fractional_bits)))
        values = outputs
    return values


@pytest.mark.parametrize("fmt_name", ["q16.16", "q8.8", "q4.12", "q1.15", "q4.4", "q8.8w8.8", "uq8.8"])
def test_with_weights_stored_as_values_every_result_is_as_before(fmt_name):
    fmt = parse_qformat(fmt_name)
    generator = random.Random(fmt_name)
    for sizes, hidden, output in (
        ((4, 8, 3), "tanh", "sigmoid"),
        ((3, 5, 5, 2), "relu", "linear"),
        ((2, 4, 1), "sigmoid", "sigmoid"),
    ):
        if not fmt.signed and hidden == "tanh":
            continue
        for _ in range(4):
            weights = [
                generator.randint(fmt.min_raw, fmt.max_raw) // generator.choice([1, 4, 64])
                for _ in range(weight_count(sizes))
            ]
            inputs = [generator.randint(fmt.min_raw, fmt.max_raw) // generator.choice([1, 16]) for _ in range(sizes[0])]
            expected = model_before(fmt, sizes, hidden, output, weights, inputs)
            assert ReferencePerceptron(fmt, sizes, hidden, output, list(weights)).feed_forward(inputs) == expected
            batch = forward_batch(fmt, sizes, hidden, output, weights, np.array([inputs], dtype=object))
            assert [int(value) for value in batch[0]] == expected


def test_a_trainable_network_with_narrow_weights_is_refused():
    message = "q8.8w2.6: narrow weights are for inference-only networks: training updates weights at the values' "
    with pytest.raises(ValueError, match=message):
        ReferencePerceptron.with_random_weights(NARROW, (2, 4, 1), "tanh", "sigmoid")
    with pytest.raises(ValueError, match=message):
        train_xor(NARROW)
