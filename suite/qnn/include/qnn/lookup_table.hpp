// The tanh lookup table behind TanhActivationPolicy and SigmoidActivationPolicy.
//
// One table of tanh on [0, InputLimit] in steps of 2^-StepShift, entries in
// unsigned Q1.15 (tanh(x) * 2^15, rounded to nearest). Odd symmetry gives
// negative inputs, and sigmoid(x) = (1 + tanh(x / 2)) / 2 reuses the same table,
// so a network using both links a single table. Between entries the value is
// interpolated linearly; beyond InputLimit it is the last entry.
//
// The entries are computed at compile time (constexpr, for any Q format), so
// no generated header or macro is needed. The table is a static member of a
// class template: it is emitted only into images whose networks use tanh or
// sigmoid. qbench.models.lut reproduces the entries and the lookup bit for bit.
#ifndef QNN_LOOKUP_TABLE_HPP
#define QNN_LOOKUP_TABLE_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "policies.hpp"

namespace qnn {

namespace detail {

// exp(x) in double, usable in constant expressions: x = k ln2 + r with
// |r| <= ln2 / 2, a 20-term Taylor series for e^r, then exact scaling by 2^k.
constexpr double constexprExp(double x) {
    const double ln2 = 0.6931471805599453;
    const double n = x / ln2;
    long k = n >= 0.0 ? static_cast<long>(n + 0.5) : -static_cast<long>(0.5 - n);
    const double r = x - static_cast<double>(k) * ln2;
    double term = 1.0;
    double sum = 1.0;
    for (int i = 1; i <= 20; ++i) {
        term = term * (r / static_cast<double>(i));
        sum = sum + term;
    }
    for (; k > 0; --k) {
        sum = sum * 2.0;
    }
    for (; k < 0; ++k) {
        sum = sum * 0.5;
    }
    return sum;
}

// tanh(x) for x >= 0, in a form that does not cancel for large x.
constexpr double constexprTanh(double x) {
    const double e = constexprExp(-2.0 * x);
    return (1.0 - e) / (1.0 + e);
}

}  // namespace detail

template <std::size_t StepShift, std::size_t InputLimit>
struct TanhTable {
    static_assert(StepShift <= 12, "qnn: a tanh table finer than 2^-12 would be very large");
    static constexpr std::size_t stepShift = StepShift;
    static constexpr std::size_t inputLimit = InputLimit;
    static constexpr std::size_t entryCount = (InputLimit << StepShift) + 1;
    static constexpr std::size_t entryFractionalBits = 15;

    struct Entries {
        std::uint16_t at[entryCount];
    };

    static constexpr Entries generate() {
        Entries entries{};
        for (std::size_t i = 0; i < entryCount; ++i) {
            const double x = static_cast<double>(i) / static_cast<double>(std::size_t(1) << StepShift);
            entries.at[i] = static_cast<std::uint16_t>(detail::constexprTanh(x) * 32768.0 + 0.5);
        }
        return entries;
    }

    static constexpr Entries entries = generate();

    // tanh(m / 2^InputFractionalBits) * 2^15 for a raw magnitude m >= 0.
    // Interpolation uses at most 16 bits of the position between two entries
    // and rounds half up, whatever the value type's rounding policy.
    template <std::size_t InputFractionalBits, typename Magnitude>
    static constexpr std::uint32_t lookup(Magnitude rawMagnitude) {
        // At least 32 bits, so that sigmoid's extra input bit always fits.
        using Wide = std::conditional_t<(sizeof(Magnitude) < 4), std::uint32_t, Magnitude>;
        const Wide magnitude = rawMagnitude;
        constexpr std::size_t last = entryCount - 1;
        if constexpr (InputFractionalBits >= StepShift) {
            constexpr std::size_t positionBits = InputFractionalBits - StepShift;
            static_assert(positionBits < sizeof(Wide) * 8, "qnn: input too fine for this table");
            const Wide index = magnitude >> positionBits;
            if (index >= last) {
                return entries.at[last];
            }
            constexpr std::size_t keptBits = positionBits > 16 ? 16 : positionBits;
            const auto position = static_cast<std::uint32_t>(
                (magnitude >> (positionBits - keptBits)) & ((Wide(1) << keptBits) - 1));
            return interpolate(static_cast<std::size_t>(index), position, keptBits);
        } else {
            // Coarser than the table: every input falls on an entry.
            constexpr std::size_t spread = StepShift - InputFractionalBits;
            if (magnitude > (last >> spread)) {
                return entries.at[last];
            }
            return entries.at[static_cast<std::size_t>(magnitude) << spread];
        }
    }

    // For fusing the lookup's rounding with the caller's (activation.hpp): the interpolated value before its
    // rounding, scaled by 2^positionBits, so that lookup(m) == (scaledLookup(m) + half) >> positionBits with
    // half = 2^(positionBits - 1) (0 without position bits); for inputs at least as fine as the table and
    // magnitudes of at most 32 bits.
    template <std::size_t InputFractionalBits>
    static constexpr std::size_t positionBits =
        InputFractionalBits - StepShift > 16 ? 16 : InputFractionalBits - StepShift;

    template <std::size_t InputFractionalBits>
    static constexpr std::uint32_t scaledLookup(std::uint32_t magnitude) {
        static_assert(InputFractionalBits >= StepShift && InputFractionalBits - StepShift < 32,
                      "qnn: scaledLookup needs inputs as fine as the table");
        constexpr std::size_t shift = InputFractionalBits - StepShift;
        constexpr std::size_t kept = positionBits<InputFractionalBits>;
        constexpr std::size_t last = entryCount - 1;
        const std::uint32_t index = magnitude >> shift;
        if (index >= last) {
            return std::uint32_t{entries.at[last]} << kept;
        }
        const std::uint32_t lower = entries.at[index];
        if constexpr (kept == 0) {
            return lower;
        } else {
            const std::uint32_t position = (magnitude >> (shift - kept)) & ((std::uint32_t{1} << kept) - 1);
            return (lower << kept) + (entries.at[index + 1] - lower) * position;
        }
    }

private:
    static constexpr std::uint32_t interpolate(std::size_t index, std::uint32_t position,
                                               std::size_t positionBits) {
        const std::uint32_t lower = entries.at[index];
        if (positionBits == 0) {
            return lower;
        }
        // tanh rises, so the step is >= 0; step < 2^15 and position < 2^16.
        const std::uint32_t step = entries.at[index + 1] - lower;
        return lower + RoundHalfUp::shiftRight(step * position, positionBits);
    }
};

// Step 2^-4 (2^-ceil(F/2) for coarser formats) up to x = 5: 81 entries, 162
// bytes; interpolation error about 3.8e-4 and tail error 9.1e-5 (tanh(5) is
// 1 - 9.1e-5), so the whole LUT error stays under 5e-4 plus the rounding of
// the result to the format. tests/test_lut.py asserts the bound per format.
template <std::size_t FractionalBits>
using DefaultTanhTable =
    TanhTable<((FractionalBits + 1) / 2 < 4 ? (FractionalBits + 1) / 2 : 4), 5>;

}  // namespace qnn

#endif  // QNN_LOOKUP_TABLE_HPP
