// Integer type helpers that also cover the 128-bit integers 64-bit formats
// need for their products (std::make_signed and std::is_signed do not, in
// strict ISO mode).
#ifndef QNN_INTEGER_TRAITS_HPP
#define QNN_INTEGER_TRAITS_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace qnn {
namespace detail {

#ifdef __SIZEOF_INT128__
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;
#else
// 32-bit Arm GCC has no 128-bit integer: formats wider than 32 bits cannot
// form their products there, and say so at compile time.
struct Int128Unavailable;
using Int128 = Int128Unavailable;
using UInt128 = Int128Unavailable;
#endif

template <typename T>
struct IntegerTraits {
    using Signed = std::make_signed_t<T>;
    using Unsigned = std::make_unsigned_t<T>;
    static constexpr bool isSigned = std::is_signed_v<T>;
};

#ifdef __SIZEOF_INT128__
template <>
struct IntegerTraits<Int128> {
    using Signed = Int128;
    using Unsigned = UInt128;
    static constexpr bool isSigned = true;
};

template <>
struct IntegerTraits<UInt128> {
    using Signed = Int128;
    using Unsigned = UInt128;
    static constexpr bool isSigned = false;
};
#endif

template <std::size_t Bits, bool IsSigned>
struct IntegerOfWidth {
    static_assert(Bits <= 128, "qnn: no integer type is that wide");
    using type = std::conditional_t<
        (Bits <= 8), std::conditional_t<IsSigned, std::int8_t, std::uint8_t>,
        std::conditional_t<
            (Bits <= 16), std::conditional_t<IsSigned, std::int16_t, std::uint16_t>,
            std::conditional_t<
                (Bits <= 32), std::conditional_t<IsSigned, std::int32_t, std::uint32_t>,
                std::conditional_t<(Bits <= 64),
                                   std::conditional_t<IsSigned, std::int64_t, std::uint64_t>,
                                   std::conditional_t<IsSigned, Int128, UInt128>>>>>;
};

template <std::size_t Bits, bool IsSigned>
using IntegerOfWidthType = typename IntegerOfWidth<Bits, IsSigned>::type;

}  // namespace detail
}  // namespace qnn

#endif  // QNN_INTEGER_TRAITS_HPP
