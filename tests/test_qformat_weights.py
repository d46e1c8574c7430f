"""Weights in their own narrower Q format (q8.8w2.6): the notation, what it allows and refuses, and the
rounding of raw values from one format into another, against values worked out by hand."""

import pytest

from qbench.models.qformat import (
    FLOAT32,
    Overflow,
    QFormat,
    QFormatError,
    Rounding,
    from_float,
    parse_format,
    parse_qformat,
    rescale,
    saturate,
)

Q8 = QFormat(8, 8)
Q2_6 = QFormat(2, 6)


def test_values_and_weights_are_read_apart():
    fmt = parse_qformat("q8.8w2.6")
    assert fmt == QFormat(8, 8, weights=Q2_6)
    assert (fmt.integer_bits, fmt.fractional_bits, fmt.signed) == (8, 8, True)
    assert fmt.name == "q8.8w2.6" and fmt.weight_format == Q2_6 and fmt.value_format == Q8
    # The values' figures are the values' alone.
    assert (fmt.total_bits, fmt.storage_bits, fmt.min_raw, fmt.max_raw) == (16, 16, -32768, 32767)
    # q2.6: 8 bits, [-2, 2) in steps of 2^-6.
    assert (Q2_6.min_raw, Q2_6.max_raw, Q2_6.resolution) == (-128, 127, 2**-6)


@pytest.mark.parametrize(
    ("text", "name"),
    [("Q8.8W2.6", "q8.8w2.6"), (" q8.8W3.5 ", "q8.8w3.5"), ("q16.16w2.14", "q16.16w2.14"), ("q4.4w6.2", "q4.4w6.2")],
)
def test_the_notation_is_case_blind_and_named_canonically(text, name):
    assert parse_format(text).name == name
    assert parse_qformat(name) == parse_format(text)


def test_a_plain_format_stores_its_weights_as_values():
    assert Q8.weights is None and Q8.weight_format is Q8 and Q8.value_format == Q8
    assert FLOAT32.weights is None


def test_weights_count_in_equality_and_hash():
    assert parse_qformat("q8.8w2.6") == parse_qformat("q8.8w2.6")
    assert len({parse_qformat("q8.8w2.6"), parse_qformat("q8.8w2.6"), Q8, parse_qformat("q8.8w3.5")}) == 3
    assert parse_qformat("q8.8w2.6") != Q8


@pytest.mark.parametrize("text", ["q8.8w8.8", "Q8.8W8.8", "q4.4w4.4", "q8.0w8.0"])
def test_weights_in_the_values_own_format_are_the_plain_format(text):
    plain = parse_qformat(text.lower().partition("w")[0])
    assert parse_qformat(text) == plain and parse_qformat(text).name == plain.name
    assert QFormat(plain.integer_bits, plain.fractional_bits, weights=plain) == plain


@pytest.mark.parametrize("text", ["uq8.8w2.6", "uq8.8w8.8"])
def test_unsigned_values_cannot_have_weights_of_their_own(text):
    # qnn sums unsigned values in an unsigned accumulator, which a negative weight would wrap.
    with pytest.raises(QFormatError, match=rf"^{text}: weights in their own format need signed values \(qI.F\)"):
        parse_qformat(text)


def test_weights_take_the_values_rules():
    fmt = parse_qformat("q8.8w2.6", Rounding.TRUNCATE, Overflow.WRAP)
    assert (fmt.weight_format.rounding, fmt.weight_format.overflow) == (Rounding.TRUNCATE, Overflow.WRAP)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # 2 + 15 = 17 bits cannot sit in q8.8's int16.
        ("q8.8w9.8", "q8.8w9.8: its weights w9.8 are 17 bits wide; weights must fit the values' 16-bit storage"),
        ("q4.4w2.8", "q4.4w2.8: its weights w2.8 are 10 bits wide; weights must fit the values' 8-bit storage"),
        ("q16.16w17.16", "are 33 bits wide; weights must fit the values' 32-bit storage"),
        ("q8.8w2.0", "q8.8w2.0: its weights w2.0 have no fractional bits; weights need at least one"),
        ("q8.8wu2.6", "'q8.8wu2.6': weights are always signed: write wI.F, e.g. q8.8w2.6"),
        ("q8.8w0.0", "'q8.8w0.0': its weights: q0.0: a Q format needs at least one bit"),
        ("q8.8w2", "'q8.8w2' is not a Q format: expected qI.F (signed) or uqI.F (unsigned)"),
        ("q8.8wq2.6", "optionally followed by wI.F for weights in their own narrower format, e.g. q8.8w2.6"),
    ],
)
def test_weights_the_values_cannot_carry_are_refused_naming_why(text, message):
    with pytest.raises(QFormatError) as refused:
        parse_qformat(text)
    assert message in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("text", ["float32w2.6", "FLOAT32W8.8", " float32w2.6 "])
def test_float32_takes_no_weight_format(text):
    with pytest.raises(
        QFormatError,
        match=r"^'float32w\d\.\d': float32 takes no weight format; its weights are "
        r"float32 too$",
    ):
        parse_format(text.lower())


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (QFormat(2, 6, signed=False), "q8.8 with weights uq2.6: weights are one signed Q format, wI.F"),
        (QFormat(2, 6, weights=QFormat(1, 3)), "q8.8 with weights q2.6w1.3: weights are one signed Q format"),
        (QFormat(2, 6, rounding=Rounding.TRUNCATE), "q8.8w2.6: its weights must round and overflow as its values do"),
        (QFormat(2, 6, overflow=Overflow.WRAP), "q8.8w2.6: its weights must round and overflow as its values do"),
    ],
)
def test_weights_built_in_code_are_checked_too(weights, message):
    with pytest.raises(QFormatError, match=message.replace(".", r"\.")):
        QFormat(8, 8, weights=weights)


def test_float_weights_quantize_into_the_weight_format_like_from_double():
    # x 64, + 1/2, floor, clamped to [-128, 127].
    assert [from_float(Q2_6, value) for value in (0.5, -1.265625, 1.984375, 0.9921875, -0.9921875)] == [
        32,
        -81,
        127,
        64,
        -63,
    ]
    assert [from_float(Q2_6, value) for value in (2.0, 5.0, -2.0, -2.1)] == [127, 127, -128, -128]


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [
        (1000, 250),  # 3.90625 = 250 * 2^-6 exactly
        (1001, 250),  # 250.25 -> 250
        (1002, 251),  # 250.5: half up
        (-1002, -250),  # -250.5: half up is towards +infinity
        (-1003, -251),  # -250.75
        (32767, 8192),  # 8191.75 -> 8192: beyond q2.6, saturated apart
    ],
)
def test_rescale_rounds_a_value_into_the_weights_resolution_half_up(raw, rounded):
    assert rescale(Q8, Q2_6, raw) == rounded


def test_rescale_truncates_for_truncating_formats_and_widens_exactly():
    truncating = QFormat(2, 6, rounding=Rounding.TRUNCATE)
    assert rescale(Q8, truncating, 1003) == 250 and rescale(Q8, truncating, -1001) == -251
    assert rescale(Q2_6, Q8, -81) == -324  # 2^-6 steps are 4 of 2^-8
    assert saturate(Q2_6, rescale(Q8, Q2_6, 32767)) == 127 and saturate(Q2_6, rescale(Q8, Q2_6, -32768)) == -128
