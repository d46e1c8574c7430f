// awk::Fixed<IntBits, FracBits>: a signed Q number in the smallest integer that
// holds it. Like many embedded libraries' Q types it is not a literal type: its
// constructors are ordinary functions, so no Fixed is a compile-time constant.
// A product is truncated toward zero, as C's integer division does, and every
// result wraps (keeps the low bits), as the hardware does.
#ifndef AWK_FIXED_HPP
#define AWK_FIXED_HPP

#include <cstdint>
#include <type_traits>

namespace awk {

template <int IntBits, int FracBits>
class Fixed {
    static_assert(IntBits >= 1 && FracBits >= 1 && IntBits + FracBits <= 32, "awk: a Fixed has 2 to 32 bits");

public:
    using Raw = std::conditional_t<(IntBits + FracBits > 16), std::int32_t,
                std::conditional_t<(IntBits + FracBits > 8), std::int16_t, std::int8_t>>;
    using Wide = std::conditional_t<(IntBits + FracBits > 16), std::int64_t, std::int32_t>;
    static constexpr int integerBits = IntBits;
    static constexpr int fractionalBits = FracBits;

    Fixed() : value(0) {}
    // whole + fraction / 2^FracBits
    Fixed(int whole, unsigned fraction) : value(wrap((Wide(whole) << FracBits) + Wide(fraction))) {}

    static Fixed fromRaw(Raw raw) {
        Fixed result;
        result.value = raw;
        return result;
    }
    Raw raw() const { return value; }

    Fixed operator+(Fixed other) const { return fromRaw(wrap(Wide(value) + other.value)); }
    Fixed operator-(Fixed other) const { return fromRaw(wrap(Wide(value) - other.value)); }
    Fixed operator-() const { return fromRaw(wrap(-Wide(value))); }
    Fixed operator*(Fixed other) const { return fromRaw(wrap(Wide(value) * other.value / (Wide(1) << FracBits))); }
    Fixed& operator+=(Fixed other) { return *this = *this + other; }

    bool operator<(Fixed other) const { return value < other.value; }
    bool operator>(Fixed other) const { return value > other.value; }
    bool operator<=(Fixed other) const { return value <= other.value; }

private:
    static Raw wrap(Wide wide) { return static_cast<Raw>(wide); }  // two's complement: the low bits

    Raw value;
};

}  // namespace awk

#endif  // AWK_FIXED_HPP
