"""Bit-exact model of qnn's tanh lookup table and the activations built on it.

Mirrors suite/qnn/include/qnn/lookup_table.hpp and activation.hpp: the same
double-precision operations generate the entries (so they match the C++
compile-time table exactly), and the same integer steps look them up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, cached_property

from qbench.models.qformat import QFormat, Rounding, saturate, shift_right

ENTRY_FRACTIONAL_BITS = 15
_LN2 = 0.6931471805599453


def _exp(x: float) -> float:
    """detail::constexprExp, operation for operation."""
    n = x / _LN2
    k = int(n + 0.5) if n >= 0.0 else -int(0.5 - n)
    r = x - float(k) * _LN2
    term = 1.0
    total = 1.0
    for i in range(1, 21):
        term = term * (r / float(i))
        total = total + term
    while k > 0:
        total = total * 2.0
        k -= 1
    while k < 0:
        total = total * 0.5
        k += 1
    return total


def _tanh(x: float) -> float:
    e = _exp(-2.0 * x)
    return (1.0 - e) / (1.0 + e)


@dataclass(frozen=True)
class TanhTable:
    """tanh on [0, input_limit] in steps of 2**-step_shift, entries in Q1.15."""

    step_shift: int
    input_limit: int

    @property
    def entry_count(self) -> int:
        return (self.input_limit << self.step_shift) + 1

    @property
    def size_bytes(self) -> int:
        return 2 * self.entry_count

    @cached_property
    def entries(self) -> tuple[int, ...]:
        step = float(1 << self.step_shift)
        return tuple(int(_tanh(float(i) / step) * 32768.0 + 0.5) for i in range(self.entry_count))

    def lookup(self, magnitude: int, input_fractional_bits: int) -> int:
        """tanh(magnitude / 2**input_fractional_bits) * 2**15."""
        last = self.entry_count - 1
        if input_fractional_bits >= self.step_shift:
            position_bits = input_fractional_bits - self.step_shift
            index = magnitude >> position_bits
            if index >= last:
                return self.entries[last]
            kept = min(position_bits, 16)
            position = (magnitude >> (position_bits - kept)) & ((1 << kept) - 1)
            lower = self.entries[index]
            if kept == 0:
                return lower
            step = self.entries[index + 1] - lower
            return lower + shift_right(step * position, kept, Rounding.HALF_UP)
        spread = self.step_shift - input_fractional_bits
        if magnitude > last >> spread:
            return self.entries[last]
        return self.entries[magnitude << spread]


@cache
def default_table(fractional_bits: int) -> TanhTable:
    """DefaultTanhTable<F>: step 2**-min(4, ceil(F/2)), limit 5."""
    return TanhTable(step_shift=min(4, (fractional_bits + 1) // 2), input_limit=5)


def _from_table_scale(fmt: QFormat, scaled: int, from_bits: int, negative: bool) -> int:
    if fmt.fractional_bits >= from_bits:
        magnitude = scaled << (fmt.fractional_bits - from_bits)
    else:
        magnitude = shift_right(scaled, from_bits - fmt.fractional_bits, Rounding.HALF_UP)
    return saturate(fmt, -magnitude if negative else magnitude)


def tanh(fmt: QFormat, raw: int, table: TanhTable | None = None) -> int:
    if not fmt.signed:
        raise ValueError(f"tanh needs a signed Q format, not {fmt.name}")
    table = table or default_table(fmt.fractional_bits)
    scaled = table.lookup(abs(raw), fmt.fractional_bits)
    return _from_table_scale(fmt, scaled, ENTRY_FRACTIONAL_BITS, raw < 0)


def sigmoid(fmt: QFormat, raw: int, table: TanhTable | None = None) -> int:
    table = table or default_table(fmt.fractional_bits)
    half = table.lookup(abs(raw), fmt.fractional_bits + 1)
    scaled = 32768 - half if raw < 0 else 32768 + half
    return _from_table_scale(fmt, scaled, ENTRY_FRACTIONAL_BITS + 1, False)


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class ErrorBound:
    function: str
    fmt: QFormat
    max_abs_error: float
    at_input: float
    inputs_checked: int


def max_abs_error(fmt: QFormat, function: str, raws: range | None = None) -> ErrorBound:
    """Largest |LUT(x) - exact(x)| over raw inputs (default: every input within
    [-8, 8] at the format's resolution, at most 2**20 of them evenly spaced)."""
    approximate, exact = {"tanh": (tanh, math.tanh), "sigmoid": (sigmoid, logistic)}[function]
    if raws is None:
        limit = min(8 << fmt.fractional_bits, fmt.max_raw)
        low = max(-limit, fmt.min_raw)
        stride = max(1, (limit - low) >> 20)
        raws = range(low, limit + 1, stride)
    worst, worst_at = -1.0, 0.0
    for raw in raws:
        x = raw / float(1 << fmt.fractional_bits)
        error = abs(approximate(fmt, raw) / float(1 << fmt.fractional_bits) - exact(x))
        if error > worst:
            worst, worst_at = error, x
    return ErrorBound(function, fmt, worst, worst_at, len(raws))


def header_text(fmt: QFormat, function: str) -> str:
    """A C++ header with the table qnn computes for fmt, for inspection or for
    use with another library: entries, configuration and the measured error."""
    table = default_table(fmt.fractional_bits)
    bound = max_abs_error(fmt, function)
    identifier = fmt.name.replace(".", "_")
    rows = [
        ", ".join(str(entry) for entry in table.entries[start : start + 12])
        for start in range(0, table.entry_count, 12)
    ]
    body = ",\n    ".join(rows)
    usage = "tanh(x)" if function == "tanh" else "sigmoid(x) = (1 + tanh(x / 2)) / 2"
    return (
        f"// qnn {function} lookup table for {fmt.name}, as qnn computes it at compile time.\n"
        f"// {usage}; tanh entries on [0, {table.input_limit}] in steps of 2^-{table.step_shift},\n"
        f"// unsigned Q1.15, linear interpolation, last entry beyond the range.\n"
        f"// Maximum |error| against the exact function over {bound.inputs_checked} inputs: "
        f"{bound.max_abs_error:.3e} (at x = {bound.at_input:g}).\n"
        f"#pragma once\n#include <cstdint>\n\n"
        f"inline constexpr std::uint16_t qnn_tanh_table_{identifier}[{table.entry_count}] = {{\n"
        f"    {body}\n}};\n"
    )
