"""qnn's QValue (C++, through tests/host/qnn_driver.cpp) against the Python reference model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host_build import property_settings
from qbench.models import qformat
from qbench.models.qformat import Overflow, QFormat, Rounding, parse_qformat

# The formats the issue names, plus an odd width, a 64-bit format (host only)
# and unsigned formats.
FORMATS = ("q4.4", "q8.8", "q1.15", "q4.12", "q16.16", "q24.8", "q3.4", "q32.32", "uq8.8", "uq4.4", "uq0.16")
VARIANTS = [
    parse_qformat(name, rounding, overflow) for name in FORMATS for rounding in Rounding for overflow in Overflow
]
PROPERTY_SETTINGS = property_settings(400)


def request(fmt: QFormat, op: str, *args: object) -> str:
    return " ".join([fmt.name, fmt.rounding.value, fmt.overflow.value, op, *map(str, args)])


def raws(fmt: QFormat) -> st.SearchStrategy[int]:
    edges = st.sampled_from([fmt.min_raw, fmt.min_raw + 1, -1 if fmt.signed else 1, 0, 1, fmt.max_raw - 1, fmt.max_raw])
    return st.one_of(edges, st.integers(fmt.min_raw, fmt.max_raw))


def format_and_values(count: int) -> st.SearchStrategy[tuple]:
    return st.sampled_from(VARIANTS).flatmap(lambda fmt: st.tuples(st.just(fmt), *[raws(fmt)] * count))


# Hand-computed cases, each also in tests/test_qformat.py for the model itself.
@pytest.mark.parametrize(
    ("fmt", "op", "args", "expected"),
    [
        (parse_qformat("q16.16"), "parts", (1, 0x8000), 0x18000),
        (parse_qformat("q16.16"), "from_double", (1.5,), 0x18000),
        (parse_qformat("q16.16"), "add", (0x7FFFFFFF, 1), 0x7FFFFFFF),
        (parse_qformat("q16.16", overflow=Overflow.WRAP), "add", (0x7FFFFFFF, 1), -(2**31)),
        (parse_qformat("q16.16"), "neg", (-(2**31),), 0x7FFFFFFF),
        (parse_qformat("q8.8"), "mul", (100 * 256, 2 * 256), 32767),
        (parse_qformat("q8.8", overflow=Overflow.WRAP), "mul", (100 * 256, 2 * 256), 51200 - 65536),
        (parse_qformat("q8.8"), "mul", (1, 0x80), 1),
        (parse_qformat("q8.8", rounding=Rounding.TRUNCATE), "mul", (1, 0x80), 0),
        (parse_qformat("q8.8"), "mul", (-1, 0x80), 0),
        (parse_qformat("q8.8", rounding=Rounding.TRUNCATE), "mul", (-1, 0x80), -1),
        (parse_qformat("q16.16"), "div", (65536, 3 * 65536), 21845),
        (parse_qformat("q16.16", rounding=Rounding.TRUNCATE), "div", (-65536, 3 * 65536), -21846),
        (parse_qformat("q16.16"), "div", (-65536, 0), -(2**31)),
        (parse_qformat("uq8.8"), "sub", (256, 512), 0),
        (parse_qformat("uq8.8", overflow=Overflow.WRAP), "sub", (256, 512), 65280),
        (parse_qformat("q3.4", overflow=Overflow.WRAP), "add", (63, 1), -64),
        (parse_qformat("q1.15"), "from_double", (1.0,), 32767),
    ],
)
def test_hand_computed_cases(driver, fmt, op, args, expected):
    assert driver.integers(request(fmt, op, *args)) == [expected]


@PROPERTY_SETTINGS
@given(format_and_values(2), st.sampled_from(["add", "sub", "mul", "div", "lt"]))
def test_binary_operations_match_the_model(driver, case, op):
    fmt, a, b = case
    model = {
        "add": qformat.add,
        "sub": qformat.subtract,
        "mul": qformat.multiply,
        "div": qformat.quotient,
        "lt": lambda _, x, y: int(x < y),
    }[op]
    assert driver.integers(request(fmt, op, a, b)) == [model(fmt, a, b)]


@PROPERTY_SETTINGS
@given(format_and_values(1))
def test_negation_matches_the_model(driver, case):
    fmt, a = case
    assert driver.integers(request(fmt, "neg", a)) == [qformat.negate(fmt, a)]


@PROPERTY_SETTINGS
@given(
    st.sampled_from(VARIANTS).flatmap(
        lambda fmt: st.tuples(
            st.just(fmt),
            st.integers(-(1 << fmt.integer_bits) - 2, (1 << fmt.integer_bits) + 2),
            st.integers(0, (1 << fmt.fractional_bits) - 1),
        )
    )
)
def test_integer_and_fractional_parts_match_the_model(driver, case):
    fmt, integer, fraction = case
    assert driver.integers(request(fmt, "parts", integer, fraction)) == [qformat.from_parts(fmt, integer, fraction)]


@PROPERTY_SETTINGS
@given(st.sampled_from(VARIANTS), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_constant_conversion_matches_the_model(driver, fmt, number):
    assert driver.integers(request(fmt, "from_double", repr(number))) == [qformat.from_float(fmt, number)]


@PROPERTY_SETTINGS
@given(format_and_values(1))
def test_relu_matches_the_model(driver, case):
    fmt, a = case
    assert driver.integers(request(fmt, "relu", a)) == [max(a, 0)]
