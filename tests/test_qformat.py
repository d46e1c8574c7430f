"""The Python reference model of Q-format arithmetic, against values worked out by hand."""

import pytest

from qbench.models.qformat import (
    Overflow,
    QFormat,
    QFormatError,
    Rounding,
    add,
    divide,
    fit,
    from_float,
    from_parts,
    multiply,
    negate,
    parse_qformat,
    quotient,
    shift_right,
    subtract,
    to_float,
)

Q16 = QFormat(16, 16)
Q8 = QFormat(8, 8)


@pytest.mark.parametrize(
    ("text", "integer", "fraction", "signed"),
    [
        ("q16.16", 16, 16, True),
        ("Q1.15", 1, 15, True),
        ("uq8.8", 8, 8, False),
        (" q4.12 ", 4, 12, True),
        ("UQ0.16", 0, 16, False),
    ],
)
def test_parse(text, integer, fraction, signed):
    fmt = parse_qformat(text)
    assert (fmt.integer_bits, fmt.fractional_bits, fmt.signed) == (integer, fraction, signed)


@pytest.mark.parametrize("text", ["", "abc", "q16.-1", "q16", "16.16", "q1.5.3", "sq8.8"])
def test_parse_rejects_what_is_not_a_format(text):
    with pytest.raises(QFormatError, match="not a Q format"):
        parse_qformat(text)


@pytest.mark.parametrize(("text", "message"), [("q0.0", "at least one bit"), ("q40.40", "80 bits wide")])
def test_parse_rejects_impossible_widths(text, message):
    with pytest.raises(QFormatError, match=message):
        parse_qformat(text)


@pytest.mark.parametrize(
    ("fmt", "storage", "low", "high"),
    [
        (QFormat(4, 4), 8, -128, 127),
        (Q8, 16, -32768, 32767),
        (QFormat(1, 15), 16, -32768, 32767),
        (Q16, 32, -(2**31), 2**31 - 1),
        (QFormat(24, 8), 32, -(2**31), 2**31 - 1),
        (QFormat(8, 8, signed=False), 16, 0, 65535),
        (QFormat(3, 4), 8, -64, 63),
    ],
)
def test_storage_and_range(fmt, storage, low, high):
    assert (fmt.storage_bits, fmt.min_raw, fmt.max_raw) == (storage, low, high)


def test_article_example_one_and_a_half_is_0x18000():
    assert from_parts(Q16, 1, 0x8000) == 0x18000
    assert from_float(Q16, 1.5) == 0x18000
    assert to_float(Q16, 0x18000) == 1.5


def test_fractional_part_adds_to_a_negative_integer_part():
    assert to_float(Q16, from_parts(Q16, -2, 0x8000)) == -1.5


def test_saturation_at_the_limits():
    assert add(Q16, 0x7FFFFFFF, 1) == 0x7FFFFFFF
    assert subtract(Q16, -(2**31), 1) == -(2**31)
    assert negate(Q16, -(2**31)) == 0x7FFFFFFF
    assert multiply(Q8, 100 * 256, 2 * 256) == 32767  # 200.0 does not fit Q8.8
    assert subtract(QFormat(8, 8, signed=False), 256, 512) == 0


def test_wrap_at_the_limits():
    wrapping = QFormat(8, 8, overflow=Overflow.WRAP)
    assert add(QFormat(16, 16, overflow=Overflow.WRAP), 0x7FFFFFFF, 1) == -(2**31)
    assert multiply(wrapping, 100 * 256, 2 * 256) == 51200 - 65536
    assert subtract(QFormat(8, 8, signed=False, overflow=Overflow.WRAP), 256, 512) == 65280
    assert fit(QFormat(3, 4, overflow=Overflow.WRAP), 64) == -64  # 7-bit format in 8-bit storage


def test_product_halfway_between_two_steps():
    # 1/256 * 1/2 = 1/512: exactly between 0 and 1/256 in Q8.8.
    truncating = QFormat(8, 8, rounding=Rounding.TRUNCATE)
    assert multiply(Q8, 1, 0x80) == 1  # half up
    assert multiply(truncating, 1, 0x80) == 0
    assert multiply(Q8, -1, 0x80) == 0  # -1/512 rounds up to 0
    assert multiply(truncating, -1, 0x80) == -1  # floor
    assert multiply(Q8, 3, 0x80) == 2  # 1.5 steps -> 2


def test_division():
    assert quotient(Q16, 65536, 3 * 65536) == 21845  # 1/3 = 21845.33 steps
    assert quotient(Q16, -65536, 3 * 65536) == -21845
    assert quotient(QFormat(16, 16, rounding=Rounding.TRUNCATE), -65536, 3 * 65536) == -21846
    assert quotient(Q16, 65536, 0) == 0x7FFFFFFF
    assert quotient(Q16, -65536, 0) == -(2**31)


def test_rounding_primitives():
    assert [shift_right(v, 1, Rounding.HALF_UP) for v in (-3, -2, -1, 0, 1, 2, 3)] == [-1, -1, 0, 0, 1, 1, 2]
    assert [shift_right(v, 1, Rounding.TRUNCATE) for v in (-3, -1, 1, 3)] == [-2, -1, 0, 1]
    assert divide(7, 2, Rounding.HALF_UP) == 4 and divide(-7, 2, Rounding.HALF_UP) == -3
    assert divide(7, -2, Rounding.HALF_UP) == -3 and divide(-7, 2, Rounding.TRUNCATE) == -4


def test_from_float_clamps_and_rounds():
    assert from_float(Q8, 1000.0) == 32767
    assert from_float(Q8, -1000.0) == -32768
    assert from_float(Q8, 0.1) == 26  # 25.6 steps
    assert from_float(QFormat(8, 8, rounding=Rounding.TRUNCATE), 0.1) == 25
    assert from_float(QFormat(1, 15), 1.0) == 32767  # 1.0 does not fit Q1.15
