// ValueTraits: the few operations the network needs beyond QValue's operators,
// for QValue and for float, so one network template serves both.
#ifndef QNN_VALUE_TRAITS_HPP
#define QNN_VALUE_TRAITS_HPP

#include <cstdint>
#include <type_traits>

#include "qvalue.hpp"

namespace qnn {

template <typename V, typename Enable = void>
struct ValueTraits;

template <std::size_t I, std::size_t F, bool S, typename R, typename O>
struct ValueTraits<QValue<I, F, S, R, O>> {
    using Value = QValue<I, F, S, R, O>;
    // A neuron's sum of rounded products, held exactly; at least 32 bits so
    // that narrow formats (Q4.4) can sum many products without wrapping.
    using Accumulator = std::conditional_t<(sizeof(typename Value::WideType) < 4),
                                           std::conditional_t<S, std::int32_t, std::uint32_t>,
                                           typename Value::WideType>;

    static constexpr Value fromDouble(double number) { return Value::fromDouble(number); }

    static constexpr Accumulator widen(Value v) { return static_cast<Accumulator>(v.getValue()); }

    static constexpr Accumulator multiplyAccumulate(Accumulator sum, Value a, Value b) {
        return static_cast<Accumulator>(sum + static_cast<Accumulator>(Value::roundedProduct(a, b)));
    }

    // The overflow policy applies once, to the whole sum.
    static constexpr Value narrow(Accumulator sum) {
        return Value::fromRaw(static_cast<typename Value::StorageType>(
            O::fit(sum, static_cast<Accumulator>(Value::minimumRaw),
                   static_cast<Accumulator>(Value::maximumRaw), Value::totalBits)));
    }
};

template <typename V>
struct ValueTraits<V, std::enable_if_t<std::is_floating_point_v<V>>> {
    using Value = V;
    using Accumulator = V;

    static constexpr Value fromDouble(double number) { return static_cast<V>(number); }
    static constexpr Accumulator widen(Value v) { return v; }
    static constexpr Accumulator multiplyAccumulate(Accumulator sum, Value a, Value b) {
        return sum + a * b;
    }
    static constexpr Value narrow(Accumulator sum) { return sum; }
};

}  // namespace qnn

#endif  // QNN_VALUE_TRAITS_HPP
