"""Q formats and a bit-exact model of qnn's QValue arithmetic.

Values are raw integers (the stored bits, as a Python int). Every operation
forms its exact result, rounds away surplus fractional bits with the format's
rounding rule, then fits the result to the format's range with its overflow
rule, exactly as suite/qnn/include/qnn/qvalue.hpp does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from qbench.common.errors import QbenchError

MAX_TOTAL_BITS = 64


class QFormatError(QbenchError, ValueError):
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

# qI.F or uqI.F, then optionally the weights' own format wI.F ("wu" is matched only to say why it is refused).
_FORMAT_PATTERN = re.compile(
    r"^(?P<unsigned>u?)q(?P<integer>\d+)\.(?P<fraction>\d+)"
    r"(?:w(?P<weights_unsigned>u?)(?P<weight_integer>\d+)\.(?P<weight_fraction>\d+))?$",
    re.IGNORECASE,
)
# Why a trainable network cannot have narrow weights (the matrix rejects such a cell with it).
NARROW_WEIGHTS_TRAINING = (
    "narrow weights are for inference-only networks: training updates weights at the values' resolution"
)


@dataclass(frozen=True)
class QFormat:
    """The format of a network's values (inputs, neuron outputs); `weights`, when given, is the narrower signed
    format its weights and biases are stored in (q8.8w2.6), else they are stored as values."""

    integer_bits: int
    fractional_bits: int
    signed: bool = True
    rounding: Rounding = Rounding.HALF_UP
    overflow: Overflow = Overflow.SATURATE
    weights: QFormat | None = None

    def __post_init__(self) -> None:
        if self.integer_bits < 0 or self.fractional_bits < 0:
            raise QFormatError(f"{self.name}: bit counts cannot be negative")
        if self.total_bits < 1:
            raise QFormatError(f"{self.name}: a Q format needs at least one bit")
        if self.total_bits > MAX_TOTAL_BITS:
            raise QFormatError(
                f"{self.name} is {self.total_bits} bits wide; qnn formats are at most {MAX_TOTAL_BITS} bits"
            )
        if self.weights is None:
            return
        if self.weights == self.value_format:  # weights stored as values: the plain format (q8.8w8.8)
            object.__setattr__(self, "weights", None)
        elif not self.signed:  # qnn's unsigned sums would wrap where signed weights make them negative
            raise QFormatError(
                f"{self.name}: weights in their own format need signed values (qI.F): a sum of "
                "signed weights times values can be negative"
            )
        else:
            self._check_weights(self.weights)

    def _check_weights(self, weights: QFormat) -> None:
        """What qnn needs of the weights' format beside these values (QFormatError naming what and why)."""
        if not weights.signed or weights.weights is not None:
            raise QFormatError(
                f"{self.value_format.name} with weights {weights.name}: weights are one signed Q format, wI.F"
            )
        weights_name = f"w{weights.integer_bits}.{weights.fractional_bits}"
        if weights.total_bits > self.storage_bits:
            raise QFormatError(
                f"{self.name}: its weights {weights_name} are {weights.total_bits} bits wide; weights "
                f"must fit the values' {self.storage_bits}-bit storage"
            )
        if weights.fractional_bits < 1:
            raise QFormatError(
                f"{self.name}: its weights {weights_name} have no fractional bits; weights need at least one"
            )
        if (weights.rounding, weights.overflow) != (self.rounding, self.overflow):
            raise QFormatError(f"{self.name}: its weights must round and overflow as its values do")

    @property
    def name(self) -> str:
        values = f"{'' if self.signed else 'u'}q{self.integer_bits}.{self.fractional_bits}"
        if self.weights is None:
            return values
        return f"{values}w{self.weights.integer_bits}.{self.weights.fractional_bits}"

    @property
    def weight_format(self) -> QFormat:
        """The format the network's weights and biases are stored in: its own, or the values'."""
        return self.weights or self

    @property
    def value_format(self) -> QFormat:
        """The values' format alone, its weights stored as values (q8.8w2.6 -> q8.8)."""
        return replace(self, weights=None)

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
    weights = None  # stored as float32 too: float32 takes no weight format
    # Reported values are value * 2^16, truncated to an int32 (enough for errors and outputs in [-1, 1]).
    report_fractional_bits: int = 16


FLOAT32 = FloatFormat()
NumberFormat = QFormat | FloatFormat
FLOAT_FORMATS = {FLOAT32.name: FLOAT32}


def parse_qformat(text: str, rounding: Rounding = Rounding.HALF_UP, overflow: Overflow = Overflow.SATURATE) -> QFormat:
    """Parses "q16.16", "Q1.15", "uq8.8" (unsigned) or "q8.8w2.6" (values q8.8, weights and biases q2.6, which
    take the values' rounding and overflow rules; "q8.8w8.8" is q8.8)."""
    match = _FORMAT_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise QFormatError(
            f"{text!r} is not a Q format: expected qI.F (signed) or uqI.F (unsigned) with whole numbers I and F, "
            "e.g. q16.16, q1.15, uq8.8, optionally followed by wI.F for weights in their own narrower format, "
            "e.g. q8.8w2.6"
        )
    if match["weights_unsigned"]:
        raise QFormatError(f"{text.strip()!r}: weights are always signed: write wI.F, e.g. q8.8w2.6")
    weights = None
    if match["weight_integer"] is not None:
        try:
            weights = QFormat(
                int(match["weight_integer"]), int(match["weight_fraction"]), rounding=rounding, overflow=overflow
            )
        except QFormatError as error:
            raise QFormatError(f"{text.strip()!r}: its weights: {error}") from None
    return QFormat(
        int(match["integer"]),
        int(match["fraction"]),
        signed=not match["unsigned"],
        rounding=rounding,
        overflow=overflow,
        weights=weights,
    )


def parse_format(text: str) -> NumberFormat:
    """A Q format ("q16.16", "uq8.8", "q8.8w2.6") or a floating-point one ("float32")."""
    if isinstance(text, str) and text.strip().lower() in FLOAT_FORMATS:
        return FLOAT_FORMATS[text.strip().lower()]
    if isinstance(text, str) and text.strip().lower().partition("w")[0] in FLOAT_FORMATS:
        raise QFormatError(f"{text.strip()!r}: float32 takes no weight format; its weights are float32 too")
    try:
        return parse_qformat(text)
    except QFormatError as error:
        raise QFormatError(f"{error} (or float32)") from None


def usual_format_names() -> list[str]:
    """The formats one usually means, for a mistyped format's nearest valid spelling: every signed and unsigned
    format of 8, 16 and 32 bits, 16-bit values with 8-bit weights, and float32."""
    values = [
        f"{sign}q{integer}.{bits - integer}" for bits in (8, 16, 32) for sign in ("", "u") for integer in range(1, bits)
    ]
    narrow = [f"q{integer}.{16 - integer}w{weight}.{8 - weight}" for integer in range(1, 16) for weight in range(1, 8)]
    return [*values, *narrow, *FLOAT_FORMATS]


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


def rescale(source: QFormat, target: QFormat, raw: int) -> int:
    """A raw value of source at target's resolution, rounded by target's rule; not yet fitted to target's range."""
    dropped = source.fractional_bits - target.fractional_bits
    return shift_right(raw, dropped, target.rounding) if dropped >= 0 else raw << -dropped


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
