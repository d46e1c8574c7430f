"""Q formats and a bit-exact model of qnn's QValue arithmetic.

Values are raw integers (the stored bits, as a Python int). Every operation
forms its exact result, rounds away surplus fractional bits with the format's
rounding rule, then fits the result to the format's range with its overflow
rule, exactly as suite/qnn/include/qnn/qvalue.hpp does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_TOTAL_BITS = 64


class QFormatError(ValueError):
    """A Q format string or definition that qnn cannot represent."""


class Rounding(StrEnum):
    TRUNCATE = "truncate"  # floor, what an arithmetic shift does
    HALF_UP = "half-up"  # floor(x + 1/2), qnn's default


class Overflow(StrEnum):
    WRAP = "wrap"  # keep the low bits, two's complement
    SATURATE = "saturate"  # clamp to the range, qnn's default


# The C++ policy type for each rule, for generated code.
ROUNDING_POLICY_TYPES = {Rounding.TRUNCATE: "qnn::Truncate", Rounding.HALF_UP: "qnn::RoundHalfUp"}
OVERFLOW_POLICY_TYPES = {Overflow.WRAP: "qnn::Wrap", Overflow.SATURATE: "qnn::Saturate"}

_FORMAT_PATTERN = re.compile(r"^(?P<unsigned>u?)q(?P<integer>\d+)\.(?P<fraction>\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class QFormat:
    integer_bits: int
    fractional_bits: int
    signed: bool = True
    rounding: Rounding = Rounding.HALF_UP
    overflow: Overflow = Overflow.SATURATE

    def __post_init__(self) -> None:
        if self.integer_bits < 0 or self.fractional_bits < 0:
            raise QFormatError(f"{self.name}: bit counts cannot be negative")
        if self.total_bits < 1:
            raise QFormatError(f"{self.name}: a Q format needs at least one bit")
        if self.total_bits > MAX_TOTAL_BITS:
            raise QFormatError(
                f"{self.name} is {self.total_bits} bits wide; qnn formats are at most {MAX_TOTAL_BITS} bits"
            )

    @property
    def name(self) -> str:
        return f"{'' if self.signed else 'u'}q{self.integer_bits}.{self.fractional_bits}"

    @property
    def total_bits(self) -> int:
        return self.integer_bits + self.fractional_bits

    @property
    def storage_bits(self) -> int:
        """Width of the smallest standard integer that holds the format."""
        return next(width for width in (8, 16, 32, 64) if self.total_bits <= width)

    @property
    def min_raw(self) -> int:
        return -(1 << (self.total_bits - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        return (1 << (self.total_bits - 1 if self.signed else self.total_bits)) - 1

    @property
    def resolution(self) -> float:
        return 2.0**-self.fractional_bits

    @property
    def one_raw(self) -> int:
        """1.0 in this format, saturated if the format cannot hold it."""
        return from_float(self, 1.0)

    floating = False

    @property
    def report_fractional_bits(self) -> int:
        """The firmware reports values as raw integers at this many fractional bits."""
        return self.fractional_bits


@dataclass(frozen=True)
class FloatFormat:
    """IEEE 754 binary32, chosen like a Q format (`--formats float32`): qnn with float.
    Soft-float or hard-float as the core's flags say."""

    name: str = "float32"
    total_bits: int = 32
    signed: bool = True
    floating = True
    # Reported values are value * 2^16, truncated to an int32 (enough for errors and outputs in [-1, 1]).
    report_fractional_bits: int = 16


FLOAT32 = FloatFormat()
NumberFormat = QFormat | FloatFormat
FLOAT_FORMATS = {FLOAT32.name: FLOAT32}


def parse_qformat(text: str, rounding: Rounding = Rounding.HALF_UP, overflow: Overflow = Overflow.SATURATE) -> QFormat:
    """Parses "q16.16", "Q1.15" or "uq8.8" (unsigned)."""
    match = _FORMAT_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise QFormatError(
            f"{text!r} is not a Q format: expected qI.F (signed) or uqI.F (unsigned) with "
            "whole numbers I and F, e.g. q16.16, q1.15, uq8.8"
        )
    return QFormat(
        int(match["integer"]),
        int(match["fraction"]),
        signed=not match["unsigned"],
        rounding=rounding,
        overflow=overflow,
    )


def parse_format(text: str) -> NumberFormat:
    """A Q format ("q16.16", "uq8.8") or a floating-point one ("float32")."""
    if isinstance(text, str) and text.strip().lower() in FLOAT_FORMATS:
        return FLOAT_FORMATS[text.strip().lower()]
    try:
        return parse_qformat(text)
    except QFormatError as error:
        raise QFormatError(f"{error} (or float32)") from None


def shift_right(value: int, bits: int, rounding: Rounding) -> int:
    """value / 2**bits rounded by the rule."""
    if bits == 0:
        return value
    if rounding is Rounding.TRUNCATE:
        return value >> bits
    return (value >> bits) + ((value >> (bits - 1)) & 1)


def divide(numerator: int, denominator: int, rounding: Rounding) -> int:
    """numerator / denominator rounded by the rule (denominator != 0)."""
    if rounding is Rounding.TRUNCATE:
        return numerator // denominator
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    floor = numerator // denominator
    remainder = numerator - floor * denominator
    return floor + 1 if remainder >= denominator - remainder else floor


def fit(fmt: QFormat, exact: int) -> int:
    """Maps an exact integer result into the format's range."""
    if fmt.overflow is Overflow.SATURATE:
        return min(max(exact, fmt.min_raw), fmt.max_raw)
    low = exact & ((1 << fmt.total_bits) - 1)
    if fmt.signed and low >= 1 << (fmt.total_bits - 1):
        return low - (1 << fmt.total_bits)
    return low


def saturate(fmt: QFormat, exact: int) -> int:
    return min(max(exact, fmt.min_raw), fmt.max_raw)


def from_parts(fmt: QFormat, integer_part: int, fractional_part: int) -> int:
    """QValue(integerPart, fractionalPart): integer_part + fractional_part / 2**F."""
    return fit(fmt, (integer_part << fmt.fractional_bits) + fractional_part)


def from_float(fmt: QFormat, number: float) -> int:
    """QValue::fromDouble: scaled, rounded by the rule, clamped (whatever the overflow rule)."""
    scaled = float(number)
    for _ in range(fmt.fractional_bits):
        scaled *= 2.0
    if fmt.rounding is Rounding.HALF_UP:
        scaled += 0.5
    if scaled <= float(fmt.min_raw):
        return fmt.min_raw
    if scaled >= float(fmt.max_raw):
        return fmt.max_raw
    whole = int(scaled)
    return whole - 1 if float(whole) > scaled else whole


def to_float(fmt: QFormat, raw: int) -> float:
    return raw / float(1 << fmt.fractional_bits)


def add(fmt: QFormat, a: int, b: int) -> int:
    return fit(fmt, a + b)


def subtract(fmt: QFormat, a: int, b: int) -> int:
    return fit(fmt, a - b)


def negate(fmt: QFormat, a: int) -> int:
    return fit(fmt, -a)


def rounded_product(fmt: QFormat, a: int, b: int) -> int:
    """a * b rounded to the format's resolution, not yet fitted."""
    return shift_right(a * b, fmt.fractional_bits, fmt.rounding)


def multiply(fmt: QFormat, a: int, b: int) -> int:
    return fit(fmt, rounded_product(fmt, a, b))


def quotient(fmt: QFormat, a: int, b: int) -> int:
    """a / b; division by zero gives the maximum (a >= 0) or the minimum."""
    if b == 0:
        return fmt.min_raw if a < 0 else fmt.max_raw
    return fit(fmt, divide(a << fmt.fractional_bits, b, fmt.rounding))
