// ValueTraits: the few operations the network needs beyond QValue's operators,
// for QValue and for float, so one network template serves both.
//
// A neuron's sum is exact: products are formed at full precision and added in
// an accumulator twice the storage width (at least 32 bits), starting from the
// bias scaled to the products' resolution (plus the rounding offset, so that
// one floor shift rounds); the rounding and overflow policies then apply once,
// to the whole sum. The accumulator is two's complement: it
// is exact while the sum stays within its width (for Q16.16 while the sum of
// |weight * input| stays below 2^31; for Q8.8 below 2^15), far beyond any
// value the format itself can hold.
#ifndef QNN_VALUE_TRAITS_HPP
#define QNN_VALUE_TRAITS_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "arithmetic.hpp"
#include "integer_traits.hpp"
#include "qvalue.hpp"

namespace qnn {

template <typename V, typename Enable = void>
struct ValueTraits;

template <std::size_t I, std::size_t F, bool S, typename R, typename O>
struct ValueTraits<QValue<I, F, S, R, O>> {
    using Value = QValue<I, F, S, R, O>;
    using Accumulator = std::conditional_t<(sizeof(typename Value::WideType) < 4),
                                           std::conditional_t<S, std::int32_t, std::uint32_t>,
                                           typename Value::WideType>;
    using Unsigned = typename detail::IntegerTraits<Accumulator>::Unsigned;

    static constexpr Value fromDouble(double number) { return Value::fromDouble(number); }

    // Where a sum starts: the rounding offset (see QValue::foldsRounding).
    static constexpr Accumulator empty() { return static_cast<Accumulator>(Value::roundingOffset); }

    // A sum that starts from the bias, at the products' resolution (2^-2F).
    static constexpr Accumulator start(Value bias) {
        if constexpr (S && sizeof(Accumulator) == 8 && sizeof(typename Value::StorageType) == 4 && F > 0 && F < 32) {
            // The halves directly: compilers shift 64-bit values the long way round. The
            // offset is below 2^F, where bias << F has zeros, so it adds without a carry.
            const auto raw = static_cast<std::int32_t>(bias.getValue());
            const auto low = (static_cast<std::uint32_t>(raw) << F) | static_cast<std::uint32_t>(empty());
            const auto high = static_cast<std::uint32_t>(raw >> (32 - F));
            return static_cast<Accumulator>((static_cast<std::uint64_t>(high) << 32) | low);
        } else {
            return static_cast<Accumulator>((static_cast<Unsigned>(static_cast<Accumulator>(bias.getValue())) << F) +
                                            static_cast<Unsigned>(empty()));
        }
    }

    // sum + a*b, exact, wrapping at the accumulator's width.
    static constexpr Accumulator multiplyAccumulate(Accumulator sum, Value a, Value b) {
#if QNN_PARTIAL_PRODUCTS
        if constexpr (S && sizeof(typename Value::StorageType) == 4) {
            if (!__builtin_is_constant_evaluated()) {
                return detail::multiplyAccumulate32(sum, a.getValue(), b.getValue());
            }
        }
#endif
        const auto product = static_cast<Accumulator>(static_cast<Accumulator>(a.getValue()) *
                                                      static_cast<Accumulator>(b.getValue()));
        return static_cast<Accumulator>(static_cast<Unsigned>(sum) + static_cast<Unsigned>(product));
    }

    // sum + a[0]*b[0] + ... + a[n-1]*b[n-1].
    static Accumulator dot(Accumulator sum, const Value* a, const Value* b, std::size_t n) {
#if QNN_PARTIAL_PRODUCTS
        if constexpr (S && sizeof(typename Value::StorageType) == 4) {
            static_assert(sizeof(Value) == 4, "QValue holds its storage and nothing else");
            return detail::dotProduct32(sum, reinterpret_cast<const std::int32_t*>(a),
                                        reinterpret_cast<const std::int32_t*>(b), n);
        }
#endif
        for (std::size_t i = 0; i < n; ++i) {
            sum = multiplyAccumulate(sum, a[i], b[i]);
        }
        return sum;
    }

    // The sum at the format's resolution, rounded by the policy and fitted by the overflow policy (from
    // the accumulator, or from a 32-bit sum that holds the same exact value; see kernels.hpp).
    template <typename Sum>
    __attribute__((always_inline)) static constexpr Value narrow(Sum sum) {
        return Value::fromRaw(Value::fitScaled(sum));
    }
};

template <typename V>
struct ValueTraits<V, std::enable_if_t<std::is_floating_point_v<V>>> {
    using Value = V;
    using Accumulator = V;

    static constexpr Value fromDouble(double number) { return static_cast<V>(number); }
    static constexpr Accumulator empty() { return 0; }
    static constexpr Accumulator start(Value bias) { return bias; }
    static constexpr Accumulator multiplyAccumulate(Accumulator sum, Value a, Value b) { return sum + a * b; }

    static Accumulator dot(Accumulator sum, const Value* a, const Value* b, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            sum += a[i] * b[i];
        }
        return sum;
    }

    static constexpr Value narrow(Accumulator sum) { return sum; }
};

}  // namespace qnn

#endif  // QNN_VALUE_TRAITS_HPP
