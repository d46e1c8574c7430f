// Rounding and overflow policies for QValue.
//
// Every operation first computes its exact result in a wider integer, then a
// rounding policy drops the surplus fractional bits and an overflow policy maps
// the result into the format's range. Both are types, so the choice costs no
// RAM and no run-time branch. qbench.models.qformat models the same rules in Python.
#ifndef QNN_POLICIES_HPP
#define QNN_POLICIES_HPP

#include <cstddef>
#include "integer_traits.hpp"

namespace qnn {

// Drops the surplus bits: rounds toward minus infinity (floor), which is what
// an arithmetic shift of a two's-complement value does.
struct Truncate {
    template <typename Wide>
    static constexpr Wide shiftRight(Wide value, std::size_t bits) {
        return bits == 0 ? value : static_cast<Wide>(value >> bits);
    }

    // floor(numerator / denominator), denominator != 0.
    template <typename Wide>
    static constexpr Wide divide(Wide numerator, Wide denominator) {
        const Wide quotient = static_cast<Wide>(numerator / denominator);
        if constexpr (detail::IntegerTraits<Wide>::isSigned) {
            // C++ division truncates toward zero; step down when the exact
            // quotient was negative and not whole.
            const Wide remainder = static_cast<Wide>(numerator - quotient * denominator);
            if (remainder != 0 && ((remainder < 0) != (denominator < 0))) {
                return static_cast<Wide>(quotient - 1);
            }
        }
        return quotient;
    }
};

// Rounds to nearest, ties toward plus infinity: floor(x + 1/2).
struct RoundHalfUp {
    template <typename Wide>
    static constexpr Wide shiftRight(Wide value, std::size_t bits) {
        // Adding the bit just below the cut avoids the overflow of value + half.
        return bits == 0 ? value
                         : static_cast<Wide>((value >> bits) + ((value >> (bits - 1)) & 1));
    }

    template <typename Wide>
    static constexpr Wide divide(Wide numerator, Wide denominator) {
        if constexpr (detail::IntegerTraits<Wide>::isSigned) {
            if (denominator < 0) {
                numerator = static_cast<Wide>(-numerator);
                denominator = static_cast<Wide>(-denominator);
            }
        }
        const Wide floor = Truncate::divide(numerator, denominator);
        // 0 <= remainder < denominator, so twice it cannot overflow the wide type.
        const Wide remainder = static_cast<Wide>(numerator - floor * denominator);
        return (remainder >= denominator - remainder) ? static_cast<Wide>(floor + 1) : floor;
    }
};

// Clamps to the format's range.
struct Saturate {
    template <typename Wide>
    static constexpr Wide fit(Wide value, Wide minimum, Wide maximum, std::size_t /*totalBits*/) {
        return value < minimum ? minimum : (value > maximum ? maximum : value);
    }

    // An unsigned format's exact result went below zero (the unsigned wide
    // value has wrapped): the nearest representable value is the minimum.
    template <typename Wide>
    static constexpr Wide underflow(Wide /*modularValue*/, Wide minimum, std::size_t /*totalBits*/) {
        return minimum;
    }
};

// Keeps the low totalBits bits (two's complement wrap-around, as integer
// hardware does), sign-extending for signed formats.
struct Wrap {
    template <typename Wide>
    static constexpr Wide fit(Wide value, Wide minimum, Wide /*maximum*/, std::size_t totalBits) {
        using Unsigned = typename detail::IntegerTraits<Wide>::Unsigned;
        const Unsigned mask = totalBits >= sizeof(Wide) * 8
                                  ? static_cast<Unsigned>(~Unsigned(0))
                                  : static_cast<Unsigned>((Unsigned(1) << totalBits) - 1);
        const Unsigned low = static_cast<Unsigned>(static_cast<Unsigned>(value) & mask);
        if (minimum == 0 || totalBits >= sizeof(Wide) * 8) {
            return static_cast<Wide>(low);
        }
        const Unsigned signBit = static_cast<Unsigned>(Unsigned(1) << (totalBits - 1));
        // (low ^ sign) - sign sign-extends without relying on shifts of negatives.
        return static_cast<Wide>(static_cast<Wide>(low ^ signBit) - static_cast<Wide>(signBit));
    }

    // Unsigned wide arithmetic already wrapped modulo 2^width; keep the low bits.
    template <typename Wide>
    static constexpr Wide underflow(Wide modularValue, Wide minimum, std::size_t totalBits) {
        return fit(modularValue, minimum, minimum, totalBits);
    }
};

}  // namespace qnn

#endif  // QNN_POLICIES_HPP
