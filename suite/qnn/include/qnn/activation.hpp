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

}  // namespace qnn

#endif  // QNN_ACTIVATION_HPP
