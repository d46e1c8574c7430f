// Activation policies. Each has activationFunction(x) and, for training,
// activationFunctionDerivative(y) expressed through the neuron's output y, so
// backpropagation needs no stored net inputs and no second table.
//
// For QValue, tanh and sigmoid come from the compile-time tanh table
// (lookup_table.hpp) and saturate to the format's range; for float they call
// <cmath>, which is what a float build on the device would cost.
#ifndef QNN_ACTIVATION_HPP
#define QNN_ACTIVATION_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lookup_table.hpp"
#include "qvalue.hpp"
#include "value_traits.hpp"

namespace qnn {

namespace detail {

template <typename V, typename Enable = void>
struct DefaultTanhTableFor {
    using type = void;  // float uses <cmath>
};

template <typename V>
struct DefaultTanhTableFor<V, std::enable_if_t<isQValue<V>>> {
    using type = DefaultTanhTable<V::fractionalBits>;
};

// Holds a table result at V's resolution: up to 2^F, with its sign.
template <typename V>
using TableResult = std::conditional_t<(V::fractionalBits < 31), std::int32_t, typename V::WideType>;

// The sign of a value as 0 or all ones: (x ^ sign) - sign is |x|, and doing the
// same to a result gives it the sign back, without branches (and so without
// the compiler duplicating the lookup for each sign).
template <typename V>
constexpr TableResult<V> signMask(V x) {
    return x.isNegative() ? TableResult<V>(-1) : TableResult<V>(0);
}

template <typename V>
constexpr std::make_unsigned_t<typename V::StorageType> magnitudeOf(V x) {
    using Magnitude = std::make_unsigned_t<typename V::StorageType>;
    const auto sign = static_cast<Magnitude>(signMask(x));
    return static_cast<Magnitude>((static_cast<Magnitude>(x.getValue()) ^ sign) - sign);
}

// A table result scaled by 2^FromBits as a V with the given sign mask, rounding
// to nearest; saturated only for formats that cannot hold 1.0.
template <typename V, std::size_t FromBits>
constexpr V fromTableScale(std::uint32_t scaled, TableResult<V> sign) {
    using Result = TableResult<V>;
    Result magnitude = 0;
    if constexpr (V::fractionalBits >= FromBits) {
        magnitude = static_cast<Result>(static_cast<Result>(scaled) << (V::fractionalBits - FromBits));
    } else {
        magnitude = static_cast<Result>(RoundHalfUp::shiftRight(scaled, FromBits - V::fractionalBits));
    }
    // Negating the rounded magnitude keeps tanh exactly odd.
    const auto value = static_cast<Result>((magnitude ^ sign) - sign);
    if constexpr ((typename V::WideType(1) << V::fractionalBits) > V::maximumRaw) {
        return V::fromRaw(static_cast<typename V::StorageType>(
            Saturate::fit(static_cast<typename V::WideType>(value), V::minimumRaw, V::maximumRaw, V::totalBits)));
    } else {
        return V::fromRaw(static_cast<typename V::StorageType>(value));
    }
}

}  // namespace detail

template <typename V, typename Table = typename detail::DefaultTanhTableFor<V>::type>
struct TanhActivationPolicy {
    using TableType = Table;

    static V activationFunction(V x) {
        if constexpr (isQValue<V>) {
            static_assert(V::isSigned,
                          "qnn: tanh needs a signed Q format (its outputs are negative for "
                          "negative inputs)");
            const std::uint32_t scaled = Table::template lookup<V::fractionalBits>(detail::magnitudeOf(x));
            return detail::fromTableScale<V, Table::entryFractionalBits>(scaled, detail::signMask(x));
        } else {
            return std::tanh(x);
        }
    }

    // d/dx tanh(x) = 1 - tanh(x)^2
    static V activationFunctionDerivative(V output) {
        constexpr V one = ValueTraits<V>::fromDouble(1.0);
        return one - output * output;
    }
};

template <typename V, typename Table = typename detail::DefaultTanhTableFor<V>::type>
struct SigmoidActivationPolicy {
    using TableType = Table;

    static V activationFunction(V x) {
        if constexpr (isQValue<V>) {
            // sigmoid(x) = (1 + tanh(x/2)) / 2; x/2 is x read with one more
            // fractional bit, and the result is 2^15 +- tanh * 2^15 at scale 2^16.
            const std::uint32_t half = Table::template lookup<V::fractionalBits + 1>(detail::magnitudeOf(x));
            const auto sign = static_cast<std::uint32_t>(detail::signMask(x));
            const std::uint32_t scaled = 32768u + ((half ^ sign) - sign);
            return detail::fromTableScale<V, Table::entryFractionalBits + 1>(scaled, 0);
        } else {
            return V(1) / (V(1) + std::exp(-x));
        }
    }

    // d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))
    static V activationFunctionDerivative(V output) {
        constexpr V one = ValueTraits<V>::fromDouble(1.0);
        return output * (one - output);
    }
};

template <typename V>
struct ReluActivationPolicy {
    static V activationFunction(V x) { return x > V() ? x : V(); }

    static V activationFunctionDerivative(V output) {
        constexpr V one = ValueTraits<V>::fromDouble(1.0);
        return output > V() ? one : V();
    }
};

template <typename V>
struct LinearActivationPolicy {
    static V activationFunction(V x) { return x; }

    static V activationFunctionDerivative(V /*output*/) {
        constexpr V one = ValueTraits<V>::fromDouble(1.0);
        return one;
    }
};

namespace detail {

// The raw range of an activation's outputs, which bounds the next layer's inputs (kernels.hpp proves narrow
// sums with it). Any other policy: whatever the format holds.
template <typename Activation, typename V, typename Enable = void>
struct OutputRange {
    static constexpr std::int64_t lowest = static_cast<std::int64_t>(V::minimumRaw);
    static constexpr std::int64_t highest = static_cast<std::int64_t>(V::maximumRaw);
};

// +-1 (2^F raw), within the format's range.
template <typename V>
constexpr std::int64_t oneRawWithin() {
    const auto one = std::int64_t{1} << V::fractionalBits;
    return one < static_cast<std::int64_t>(V::maximumRaw) ? one : static_cast<std::int64_t>(V::maximumRaw);
}

template <typename V>
constexpr std::int64_t minusOneRawWithin() {
    const auto minusOne = -(std::int64_t{1} << V::fractionalBits);
    return minusOne > static_cast<std::int64_t>(V::minimumRaw) ? minusOne : static_cast<std::int64_t>(V::minimumRaw);
}

// tanh: the table's entries are at most 2^15 (tanh * 2^15 rounded), so |result| <= 2^F.
template <typename V, typename Table>
struct OutputRange<TanhActivationPolicy<V, Table>, V,
                   std::enable_if_t<isQValue<V> && (sizeof(typename V::StorageType) <= 4)>> {
    static constexpr std::int64_t lowest = minusOneRawWithin<V>();
    static constexpr std::int64_t highest = oneRawWithin<V>();
};

// sigmoid: 2^15 +- tanh * 2^15 at scale 2^16, so within [0, 2^F].
template <typename V, typename Table>
struct OutputRange<SigmoidActivationPolicy<V, Table>, V,
                   std::enable_if_t<isQValue<V> && (sizeof(typename V::StorageType) <= 4)>> {
    static constexpr std::int64_t lowest = 0;
    static constexpr std::int64_t highest = oneRawWithin<V>();
};

template <typename V>
struct OutputRange<ReluActivationPolicy<V>, V, std::enable_if_t<isQValue<V> && (sizeof(typename V::StorageType) <= 4)>> {
    static constexpr std::int64_t lowest = 0;
    static constexpr std::int64_t highest = static_cast<std::int64_t>(V::maximumRaw);
};

// A neuron's output from its exact sum: the activation of the narrowed sum. For tanh and sigmoid in signed
// formats that saturate and round by a floor shift, the same bits come cheaper from the sum directly:
// - no saturation of the net input: where the format's largest magnitude already lies beyond the table's
//   last entry, an input beyond the format gives that entry too, so the unsaturated floor shift of a 32-bit
//   sum serves (64-bit sums are narrowed first, as before: on their 32-bit halves that costs little);
// - one rounding shift instead of two: the table's interpolation rounds half up to 2^-15, then the result
//   rounds half up to the format; floor((a + floor((b + 2^(k-1)) / 2^k) + 2^(r-1)) / 2^r) equals
//   floor((2^k a + b + 2^(k-1) + 2^(k+r-1)) / 2^(k+r)) for integers a, b >= 0, and sigmoid's negative half
//   (1 - tanh) is the same with ceilings, -floor(x) = floor(-x + 1 - 2^-k) at resolution 2^-k.
// tests/test_qnn_speed.py compares these with the plain composition for every net input of several formats.
// Shift: the fractional bits the sum has beyond the format's, those of the weights (F unless they are narrower).
// The plain composition: the sum narrowed to the format (rounded, fitted), then the activation.
template <typename Activation, typename V, std::size_t Shift, typename Sum>
__attribute__((always_inline)) inline V activateNarrowed(Sum sum) {
    if constexpr (isQValue<V>) {
        return Activation::activationFunction(V::fromRaw(V::template fitShifted<Shift>(sum)));
    } else {
        return Activation::activationFunction(ValueTraits<V>::narrow(sum));
    }
}

template <typename Activation, typename V, std::size_t Shift = fractionalBitsOf<V>, typename Enable = void>
struct SumActivation {
    static constexpr bool fused = false;

    template <typename Sum>
    __attribute__((always_inline)) static V apply(Sum sum) {
        return activateNarrowed<Activation, V, Shift>(sum);
    }
};

// Whether a table activation read at InputFractionalBits can be taken from the sum (see above).
template <typename V, typename Table, std::size_t InputFractionalBits>
constexpr bool fusesTableActivation() {
    if constexpr (!isQValue<V>) {
        return false;
    } else {
        constexpr std::size_t f = V::fractionalBits;
        if constexpr (!V::isSigned || !V::foldsRounding || !std::is_same_v<typename V::OverflowPolicyType, Saturate> ||
                      sizeof(typename V::StorageType) > 4 || InputFractionalBits < Table::stepShift || f > 30) {
            return false;
        } else {
            constexpr std::size_t kept = Table::template positionBits<InputFractionalBits>;
            constexpr std::size_t shift = InputFractionalBits - Table::stepShift;
            constexpr std::uint64_t maximum = static_cast<std::uint64_t>(V::maximumRaw);
            return shift < 32 && (maximum >> shift) >= Table::entryCount - 1  // saturation changes nothing
                   && (std::uint64_t{1} << f) <= maximum                        // the result needs no saturation
                   && kept + 17 <= 32;                                         // the sums below fit 32 bits
        }
    }
}

// The net input (its floor shift, unsaturated, from a 32-bit sum) as the tables take it: its sign (all ones
// when negative) and its magnitude.
struct SignedNet {
    std::uint32_t sign;
    std::uint32_t magnitude;
};

template <std::size_t Shift, typename Sum>
__attribute__((always_inline)) inline SignedNet signedNetOf(Sum sum) {
    static_assert(sizeof(Sum) == 4, "qnn: the fused activations take 32-bit sums");
    const std::int32_t net = static_cast<std::int32_t>(sum) >> Shift;
    const auto sign = static_cast<std::uint32_t>(net >> 31);
    return {sign, (static_cast<std::uint32_t>(net) ^ sign) - sign};
}

// Half of the table's last position bit: what rounds a lookup k bits finer than wanted.
template <std::size_t k>
constexpr std::uint32_t halfPosition = k > 0 ? std::uint32_t{1} << (k > 0 ? k - 1 : 0) : 0u;

template <typename V, typename Table, std::size_t Shift>
struct SumActivation<TanhActivationPolicy<V, Table>, V, Shift,
                     std::enable_if_t<fusesTableActivation<V, Table, V::fractionalBits>()>> {
    using ActivationPolicy = TanhActivationPolicy<V, Table>;
    static constexpr bool fused = true;  // for 32-bit sums

    template <typename Sum>
    __attribute__((always_inline)) static V apply(Sum sum) {
        if constexpr (sizeof(Sum) > 4) {  // 64-bit sums: narrowing saturates cheaply on the 32-bit halves
            return activateNarrowed<ActivationPolicy, V, Shift>(sum);
        } else {
            constexpr std::size_t f = V::fractionalBits;
            constexpr std::size_t k = Table::template positionBits<f>;
            const auto [sign, magnitude] = signedNetOf<Shift>(sum);
            constexpr std::uint32_t half = halfPosition<k>;
            const std::uint32_t t = Table::template scaledLookup<f>(magnitude);
            std::uint32_t result;
            if constexpr (f < 15) {
                constexpr std::size_t r = 15 - f;
                result = (t + half + (std::uint32_t{1} << (k + r - 1))) >> (k + r);
            } else {
                result = ((t + half) >> k) << (f - 15);
            }
            const auto value = static_cast<std::int32_t>(result ^ sign) - static_cast<std::int32_t>(sign);
            return V::fromRaw(static_cast<typename V::StorageType>(value));
        }
    }
};

template <typename V, typename Table, std::size_t Shift>
struct SumActivation<SigmoidActivationPolicy<V, Table>, V, Shift,
                     std::enable_if_t<(V::fractionalBits <= 16) &&
                                      fusesTableActivation<V, Table, V::fractionalBits + 1>()>> {
    using ActivationPolicy = SigmoidActivationPolicy<V, Table>;
    static constexpr bool fused = true;  // for 32-bit sums

    template <typename Sum>
    __attribute__((always_inline)) static V apply(Sum sum) {
        if constexpr (sizeof(Sum) > 4) {  // 64-bit sums: narrowing saturates cheaply on the 32-bit halves
            return activateNarrowed<ActivationPolicy, V, Shift>(sum);
        } else {
            constexpr std::size_t f = V::fractionalBits;
            constexpr std::size_t k = Table::template positionBits<f + 1>;
            constexpr std::size_t r = 16 - f;
            const auto [sign, magnitude] = signedNetOf<Shift>(sum);
            constexpr std::uint32_t half = halfPosition<k>;
            // t + half is tanh(x/2) * 2^15 times 2^k before its rounding. (1 +- tanh(x/2)) / 2 at 2^-16, times
            // 2^k: 2^(15+k) +- (t + half), where -floor((t + half) / 2^k) becomes ~(t + half) + 2^k.
            const std::uint32_t t = Table::template scaledLookup<f + 1>(magnitude) + half;
            constexpr std::uint32_t offset = (std::uint32_t{1} << (15 + k)) + (r > 0 ? std::uint32_t{1} << (k + r - 1) : 0u);
            const std::uint32_t scaled = offset + (t ^ sign) + (sign & (std::uint32_t{1} << k));
            return V::fromRaw(static_cast<typename V::StorageType>(scaled >> (k + r)));
        }
    }
};

}  // namespace detail

}  // namespace qnn

#endif  // QNN_ACTIVATION_HPP
