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

#include "arithmetic.hpp"
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
    static constexpr bool vectorised = false;  // (see VectorActivation below)

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

#if QNN_MVE
// Helium: the fused table activations of four 32-bit sums at a time, lane for lane the integers of the scalar
// code below (the same shifts, the same wrapping additions; VABS gives (net ^ sign) - sign, 2^31 included),
// the table read by gathers (VLDRH.U32), and the results stored narrowed (VSTRH.32: the low 16 bits, the
// scalar code's cast). A layer's sums in memory, Count of them; the last vector tail-predicated.
namespace mve {

template <typename V>
__attribute__((always_inline)) inline typename V::StorageType* storageOf(V* values) {
    static_assert(sizeof(V) == sizeof(typename V::StorageType), "qnn: a QValue holds its storage and nothing else");
    return reinterpret_cast<typename V::StorageType*>(values);
}

template <std::size_t N>
__attribute__((always_inline)) inline uint32x4_t shiftRight(uint32x4_t value) {
    if constexpr (N == 0) {
        return value;
    } else {
        return vshrq_n_u32(value, N);
    }
}

template <std::size_t Shift>
__attribute__((always_inline)) inline int32x4_t netOf(int32x4_t sum) {
    if constexpr (Shift == 0) {
        return sum;
    } else {
        return vshrq_n_s32(sum, Shift);
    }
}

// Table::scaledLookup, four magnitudes at once.
template <typename Table, std::size_t InputFractionalBits>
__attribute__((always_inline)) inline uint32x4_t scaledLookup(uint32x4_t magnitude) {
    constexpr std::size_t shift = InputFractionalBits - Table::stepShift;
    constexpr std::size_t kept = Table::template positionBits<InputFractionalBits>;
    constexpr std::uint32_t last = Table::entryCount - 1;
    const uint32x4_t index = shiftRight<shift>(magnitude);
    const mve_pred16_t beyond = vcmpcsq_n_u32(index, last);  // index >= last: the last entry
    const std::uint16_t* const entries = Table::entries.at;
    constexpr std::uint32_t saturated = std::uint32_t{Table::entries.at[last]} << kept;
    if constexpr (kept == 0) {
        const uint32x4_t lower = vldrhq_gather_shifted_offset_u32(entries, vminq_u32(index, vdupq_n_u32(last)));
        return vpselq_u32(vdupq_n_u32(saturated), lower, beyond);
    } else {
        const uint32x4_t inside = vminq_u32(index, vdupq_n_u32(last - 1));
        const uint32x4_t lower = vldrhq_gather_shifted_offset_u32(entries, inside);
        const uint32x4_t upper = vldrhq_gather_shifted_offset_u32(entries + 1, inside);
        const uint32x4_t position =
            vandq_u32(shiftRight<shift - kept>(magnitude), vdupq_n_u32((std::uint32_t{1} << kept) - 1));
        const uint32x4_t t = vaddq_u32(vshlq_n_u32(lower, kept), vmulq_u32(vsubq_u32(upper, lower), position));
        return vpselq_u32(vdupq_n_u32(saturated), t, beyond);
    }
}

// Applies Result(sign, magnitude) (each a uint32x4_t) to the Count sums and stores the results narrowed: four
// at a time, the last (partial) four predicated.
template <std::size_t Shift, std::size_t Count, typename Storage, typename Result>
__attribute__((always_inline)) inline void apply(Storage* destination, const std::int32_t* sums, Result result) {
    static_assert(sizeof(Storage) == 2, "qnn: the Helium activations store 16-bit values");
    const auto activate = [&](int32x4_t sum) __attribute__((always_inline)) {
        const int32x4_t net = netOf<Shift>(sum);
        const uint32x4_t sign = vreinterpretq_u32_s32(vshrq_n_s32(net, 31));
        const uint32x4_t magnitude = vreinterpretq_u32_s32(vabsq_s32(net));
        return vreinterpretq_s32_u32(result(sign, magnitude));
    };
    auto* out = reinterpret_cast<std::int16_t*>(destination);
    for (std::size_t i = 0; i < Count / 4; ++i) {
        vstrhq_s32(out + 4 * i, activate(vldrwq_s32(sums + 4 * i)));
    }
    if constexpr (Count % 4 != 0) {
        constexpr std::size_t done = Count / 4 * 4;
        // VCTP.32's predicate for Count % 4 lanes, as a constant: four bits per 32-bit lane.
        constexpr auto lanes = static_cast<mve_pred16_t>((1u << (4 * (Count % 4))) - 1);
        vstrhq_p_s32(out + done, activate(vldrwq_z_s32(sums + done, lanes)), lanes);
    }
}

}  // namespace mve
#endif

template <typename V, typename Table, std::size_t Shift>
struct SumActivation<TanhActivationPolicy<V, Table>, V, Shift,
                     std::enable_if_t<fusesTableActivation<V, Table, V::fractionalBits>()>> {
    using ActivationPolicy = TanhActivationPolicy<V, Table>;
    static constexpr bool fused = true;  // for 32-bit sums
    static constexpr bool vectorised = QNN_MVE && sizeof(typename V::StorageType) == 2;

#if QNN_MVE
    // apply() for Count 32-bit sums, the results stored at `destination`.
    template <std::size_t Count>
    __attribute__((always_inline)) static void applyAll(V* destination, const std::int32_t* sums) {
        constexpr std::size_t f = V::fractionalBits;
        constexpr std::size_t k = Table::template positionBits<f>;
        constexpr std::uint32_t half = halfPosition<k>;
        mve::apply<Shift, Count>(mve::storageOf(destination), sums, [](uint32x4_t sign, uint32x4_t magnitude) __attribute__((always_inline)) {
            const uint32x4_t t = mve::scaledLookup<Table, f>(magnitude);
            uint32x4_t result;
            if constexpr (f < 15) {
                constexpr std::size_t r = 15 - f;
                result = mve::shiftRight<k + r>(vaddq_n_u32(t, half + (std::uint32_t{1} << (k + r - 1))));
            } else {
                result = vshlq_n_u32(mve::shiftRight<k>(vaddq_n_u32(t, half)), f - 15);
            }
            return vsubq_u32(veorq_u32(result, sign), sign);
        });
    }
#endif

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
    static constexpr bool vectorised = QNN_MVE && sizeof(typename V::StorageType) == 2;

#if QNN_MVE
    // apply() for Count 32-bit sums, the results stored at `destination`.
    template <std::size_t Count>
    __attribute__((always_inline)) static void applyAll(V* destination, const std::int32_t* sums) {
        constexpr std::size_t f = V::fractionalBits;
        constexpr std::size_t k = Table::template positionBits<f + 1>;
        constexpr std::size_t r = 16 - f;
        constexpr std::uint32_t half = halfPosition<k>;
        constexpr std::uint32_t offset = (std::uint32_t{1} << (15 + k)) + (r > 0 ? std::uint32_t{1} << (k + r - 1) : 0u);
        mve::apply<Shift, Count>(mve::storageOf(destination), sums, [](uint32x4_t sign, uint32x4_t magnitude) __attribute__((always_inline)) {
            const uint32x4_t lookup = mve::scaledLookup<Table, f + 1>(magnitude);
            const uint32x4_t t = vaddq_n_u32(lookup, half);
            const uint32x4_t scaled =
                vaddq_u32(vaddq_n_u32(veorq_u32(t, sign), offset), vandq_u32(sign, vdupq_n_u32(std::uint32_t{1} << k)));
            return mve::shiftRight<k + r>(scaled);
        });
    }
#endif

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
