// QValue: a Q-format fixed-point number with IntegerBits + FractionalBits bits.
//
// The sign bit, if any, is one of the IntegerBits: signed Q16.16 spans
// [-32768, 32768) in steps of 2^-16. Storage is the smallest standard integer
// that holds the bits; products and quotients are computed exactly in the next
// wider integer, then rounded (RoundingPolicy) and fitted to the format's range
// (OverflowPolicy). No floating point is used at run time.
#ifndef QNN_QVALUE_HPP
#define QNN_QVALUE_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "arithmetic.hpp"
#include "integer_traits.hpp"
#include "policies.hpp"

namespace qnn {

template <std::size_t IntegerBits, std::size_t FractionalBits, bool IsSigned,
          typename RoundingPolicy = RoundHalfUp, typename OverflowPolicy = Saturate>
class QValue {
    static_assert(IntegerBits + FractionalBits >= 1, "qnn: a Q format needs at least one bit");
    static_assert(IntegerBits + FractionalBits <= 64,
                  "qnn: Q formats wider than 64 bits are not supported");

public:
    static constexpr std::size_t integerBits = IntegerBits;
    static constexpr std::size_t fractionalBits = FractionalBits;
    static constexpr std::size_t totalBits = IntegerBits + FractionalBits;
    static constexpr bool isSigned = IsSigned;

    using RoundingPolicyType = RoundingPolicy;
    using OverflowPolicyType = OverflowPolicy;
    using StorageType = detail::IntegerOfWidthType<totalBits, IsSigned>;
    // Holds any product or scaled dividend of two stored values exactly.
    using WideType = detail::IntegerOfWidthType<sizeof(StorageType) * 16, IsSigned>;
    // Integer parts may be negative even for unsigned formats (they saturate).
    using IntegerPartType = typename detail::IntegerTraits<WideType>::Signed;

    static constexpr WideType minimumRaw =
        IsSigned ? static_cast<WideType>(-(static_cast<WideType>(1) << (totalBits - 1))) : 0;
    static constexpr WideType maximumRaw =
        static_cast<WideType>((static_cast<WideType>(1) << (IsSigned ? totalBits - 1 : totalBits)) - 1);

    // Like a built-in integer: uninitialised unless value-initialised (QValue{} is
    // zero), so arrays of QValue cost no clearing code where nothing needs it.
    QValue() = default;

    // value = integerPart + fractionalPart / 2^FractionalBits, as in
    // QValue<16,16,true>(1, 0x8000) == 1.5. The fractional part adds, so -1.5
    // is QValue(-2, 0x8000).
    constexpr QValue(IntegerPartType integerPart, StorageType fractionalPart)
        : value(fitSigned(integerPart * (IntegerPartType(1) << FractionalBits) +
                          static_cast<IntegerPartType>(fractionalPart))) {}

    static constexpr QValue fromRaw(StorageType raw) { return QValue(RawTag{}, raw); }

    // For constants and host tools only: called in a constant expression it
    // folds to an integer, so no floating-point code reaches an image. Values
    // outside the range clamp, whatever the overflow policy.
    static constexpr QValue fromDouble(double number) {
        double scaled = number;
        for (std::size_t bit = 0; bit < FractionalBits; ++bit) {
            scaled *= 2.0;
        }
        if constexpr (std::is_same_v<RoundingPolicy, RoundHalfUp>) {
            scaled += 0.5;
        }
        if (scaled <= static_cast<double>(minimumRaw)) {
            return fromRaw(static_cast<StorageType>(minimumRaw));
        }
        if (scaled >= static_cast<double>(maximumRaw)) {
            return fromRaw(static_cast<StorageType>(maximumRaw));
        }
        auto whole = static_cast<IntegerPartType>(scaled);
        if (static_cast<double>(whole) > scaled) {
            --whole;  // the cast truncated toward zero; floor is wanted
        }
        return fromRaw(static_cast<StorageType>(whole));
    }

    // For host tools and tests.
    constexpr double toDouble() const {
        double result = static_cast<double>(value);
        for (std::size_t bit = 0; bit < FractionalBits; ++bit) {
            result /= 2.0;
        }
        return result;
    }

    constexpr StorageType getValue() const { return value; }
    constexpr void setValue(StorageType raw) { value = raw; }

    // Maps an exact result (in the wide type) to the format's range.
    static constexpr StorageType fitExact(WideType exact) {
        return static_cast<StorageType>(
            OverflowPolicy::fit(exact, minimumRaw, maximumRaw, totalBits));
    }

    // As fitExact, for an exact result held in the signed wide type (which an
    // unsigned format's negative results need).
    static constexpr StorageType fitSigned(IntegerPartType exact) {
        if constexpr (!IsSigned) {
            if (exact < 0) {
                return static_cast<StorageType>(OverflowPolicy::underflow(
                    static_cast<WideType>(exact), minimumRaw, totalBits));
            }
        }
        return fitExact(static_cast<WideType>(exact));
    }

    constexpr bool isNegative() const {
        if constexpr (IsSigned) {
            return value < 0;
        } else {
            return false;
        }
    }

    // Rounding folded into sums: a sum that starts at roundingOffset needs only a
    // floor shift to be rounded by the policy (floor(x + 1/2) rounds half up).
    // Other, user-defined policies round in fitScaled instead.
    static constexpr bool foldsRounding =
        std::is_same_v<RoundingPolicy, RoundHalfUp> || std::is_same_v<RoundingPolicy, Truncate>;
    static constexpr WideType roundingOffset =
        (std::is_same_v<RoundingPolicy, RoundHalfUp> && FractionalBits > 0)
            ? static_cast<WideType>(WideType(1) << (FractionalBits - 1))
            : WideType(0);

    // fit(round(sum / 2^F)) for an exact sum at the products' resolution 2^-2F,
    // holding roundingOffset when foldsRounding.
    template <typename Sum>
    __attribute__((always_inline)) static constexpr StorageType fitScaled(Sum sum) {
        return fitShifted<FractionalBits>(sum);
    }

    // fit(round(sum / 2^Shift)) for an exact sum at 2^-(F + Shift): products with
    // weights of Shift fractional bits (see kernels.hpp), the rounding offset
    // 2^(Shift - 1) already in the sum when foldsRounding.
    template <std::size_t Shift, typename Sum>
    __attribute__((always_inline)) static constexpr StorageType fitShifted(Sum sum) {
        if constexpr (IsSigned && totalBits == 32 && sizeof(Sum) == 8 && Shift > 0 && Shift < 32 && foldsRounding &&
                      (std::is_same_v<OverflowPolicy, Saturate> || std::is_same_v<OverflowPolicy, Wrap>)) {
            // On the 32-bit halves: the same result without 64-bit compares.
            const auto low = static_cast<std::uint32_t>(sum);
            const auto high = static_cast<std::int32_t>(sum >> 32);
            auto result =
                static_cast<std::int32_t>((low >> Shift) | (static_cast<std::uint32_t>(high) << (32 - Shift)));
            if constexpr (std::is_same_v<OverflowPolicy, Saturate>) {
                const auto top = static_cast<std::int32_t>(high >> Shift);
                if (top != (result >> 31)) {  // more than 32 bits
                    result = top < 0 ? static_cast<std::int32_t>(minimumRaw) : static_cast<std::int32_t>(maximumRaw);
                }
            }
            return static_cast<StorageType>(result);
        } else {
            const Sum scaled =
                foldsRounding ? static_cast<Sum>(sum >> Shift) : RoundingPolicy::shiftRight(sum, Shift);
            return static_cast<StorageType>(OverflowPolicy::fit(scaled, static_cast<Sum>(minimumRaw),
                                                                static_cast<Sum>(maximumRaw), totalBits));
        }
    }

    // a * b, exact.
    static constexpr WideType product(QValue a, QValue b) {
#if QNN_PARTIAL_PRODUCTS
        if constexpr (IsSigned && sizeof(StorageType) == 4) {
            if (!__builtin_is_constant_evaluated()) {
                return detail::multiplyAccumulate32(0, a.value, b.value);
            }
        }
#endif
        return static_cast<WideType>(static_cast<WideType>(a.value) * static_cast<WideType>(b.value));
    }

    friend constexpr QValue operator+(QValue a, QValue b) {
        if constexpr (IsSigned && totalBits == 32 && std::is_same_v<OverflowPolicy, Saturate>) {
            std::int32_t sum = 0;  // the overflow flag instead of a 64-bit sum and compares
            if (__builtin_add_overflow(static_cast<std::int32_t>(a.value), static_cast<std::int32_t>(b.value), &sum)) {
                sum = a.value < 0 ? static_cast<std::int32_t>(minimumRaw) : static_cast<std::int32_t>(maximumRaw);
            }
            return fromRaw(static_cast<StorageType>(sum));
        } else {
            return fromRaw(fitExact(static_cast<WideType>(static_cast<WideType>(a.value) + b.value)));
        }
    }

    friend constexpr QValue operator-(QValue a, QValue b) {
        const auto difference = static_cast<WideType>(static_cast<WideType>(a.value) - b.value);
        if constexpr (!IsSigned) {
            if (a.value < b.value) {
                return fromRaw(static_cast<StorageType>(
                    OverflowPolicy::underflow(difference, minimumRaw, totalBits)));
            }
        }
        return fromRaw(fitExact(difference));
    }

    constexpr QValue operator-() const { return QValue{} - *this; }

    friend constexpr QValue operator*(QValue a, QValue b) {
        if constexpr (foldsRounding) {
            return fromRaw(fitScaled(static_cast<WideType>(product(a, b) + roundingOffset)));
        } else {
            return fromRaw(fitScaled(product(a, b)));
        }
    }

    // Division by zero gives the format's maximum (dividend >= 0) or minimum.
    friend constexpr QValue operator/(QValue a, QValue b) {
        if (b.value == 0) {
            return fromRaw(static_cast<StorageType>(a.isNegative() ? minimumRaw : maximumRaw));
        }
        const auto dividend =
            static_cast<WideType>(static_cast<WideType>(a.value) * (WideType(1) << FractionalBits));
        return fromRaw(fitExact(RoundingPolicy::divide(dividend, static_cast<WideType>(b.value))));
    }

    constexpr QValue& operator+=(QValue other) { return *this = *this + other; }
    constexpr QValue& operator-=(QValue other) { return *this = *this - other; }
    constexpr QValue& operator*=(QValue other) { return *this = *this * other; }
    constexpr QValue& operator/=(QValue other) { return *this = *this / other; }

    friend constexpr bool operator==(QValue a, QValue b) { return a.value == b.value; }
    friend constexpr bool operator!=(QValue a, QValue b) { return a.value != b.value; }
    friend constexpr bool operator<(QValue a, QValue b) { return a.value < b.value; }
    friend constexpr bool operator<=(QValue a, QValue b) { return a.value <= b.value; }
    friend constexpr bool operator>(QValue a, QValue b) { return a.value > b.value; }
    friend constexpr bool operator>=(QValue a, QValue b) { return a.value >= b.value; }

private:
    struct RawTag {};
    constexpr QValue(RawTag, StorageType raw) : value(raw) {}

    StorageType value;
};

template <typename T>
struct IsQValue : std::false_type {};

template <std::size_t I, std::size_t F, bool S, typename R, typename O>
struct IsQValue<QValue<I, F, S, R, O>> : std::true_type {};

template <typename T>
inline constexpr bool isQValue = IsQValue<T>::value;

// A value type's fractional bits (0 for floating point): the resolution a product with it adds.
template <typename T, typename Enable = void>
inline constexpr std::size_t fractionalBitsOf = 0;

template <typename T>
inline constexpr std::size_t fractionalBitsOf<T, std::enable_if_t<isQValue<T>>> = T::fractionalBits;

// Whether W can store the weights of a network of V values (MultilayerPerceptron's narrow weights): both
// signed, W no wider than V, the same rounding and overflow policies, at least one fractional bit.
template <typename V, typename W, typename Enable = void>
inline constexpr bool narrowWeightsFit = false;

template <typename V, typename W>
inline constexpr bool narrowWeightsFit<V, W, std::enable_if_t<isQValue<V> && isQValue<W>>> =
    V::isSigned && W::isSigned && sizeof(typename W::StorageType) <= sizeof(typename V::StorageType) &&
    W::fractionalBits >= 1 && std::is_same_v<typename V::RoundingPolicyType, typename W::RoundingPolicyType> &&
    std::is_same_v<typename V::OverflowPolicyType, typename W::OverflowPolicyType>;

}  // namespace qnn

#endif  // QNN_QVALUE_HPP
