// Products without a 32x32->64 multiplier: ARMv6-M (Cortex-M0/M0+) and
// ARMv8-M Baseline multiply only 32x32->32, so GCC calls a 64x64 library
// routine (__aeabi_lmul) for every 32-bit fixed-point product. These helpers
// form each signed 32x32 product from four 16x16 partial products instead:
// a*b = ah*bh*2^32 + (ah*bl + al*bh)*2^16 + al*bl, added into a 64-bit sum in
// registers. They need all eight low registers, hence optimised builds only;
// elsewhere the compiler's own multiply is used.
#ifndef QNN_ARITHMETIC_HPP
#define QNN_ARITHMETIC_HPP

#include <cstddef>
#include <cstdint>

#if defined(__OPTIMIZE__) && (defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__))
#define QNN_PARTIAL_PRODUCTS 1
#else
#define QNN_PARTIAL_PRODUCTS 0
#endif

namespace qnn {

namespace detail {

#if QNN_PARTIAL_PRODUCTS
// sum + a[0]*b[0] + ... + a[n-1]*b[n-1].
inline std::int64_t dotProduct32(std::int64_t sum, const std::int32_t* a, const std::int32_t* b, std::size_t n) {
    if (n == 0) {
        return sum;
    }
    auto low = static_cast<std::uint32_t>(sum);
    auto high = static_cast<std::uint32_t>(static_cast<std::uint64_t>(sum) >> 32);
    const std::int32_t* const end = a + n;
    std::uint32_t x, y, t0, t1;
    __asm__ volatile(
        ".syntax unified\n"  // GCC hands Thumb-1 inline assembly over in divided syntax
        "1:\n\t"
        "ldmia %[a]!, {%[x]}\n\t"
        "ldmia %[b]!, {%[y]}\n\t"
        "uxth %[t0], %[x]\n\t"          // al
        "uxth %[t1], %[y]\n\t"          // bl
        "asrs %[x], %[x], #16\n\t"      // ah
        "asrs %[y], %[y], #16\n\t"      // bh
        "muls %[t1], %[t0]\n\t"         // al*bl, unsigned, < 2^32
        "adds %[low], %[low], %[t1]\n\t"
        "movs %[t1], #0\n\t"
        "adcs %[high], %[t1]\n\t"
        "muls %[t0], %[y]\n\t"          // al*bh, signed, << 16
        "lsls %[t1], %[t0], #16\n\t"
        "asrs %[t0], %[t0], #16\n\t"
        "adds %[low], %[low], %[t1]\n\t"
        "adcs %[high], %[t0]\n\t"
        "subs %[t1], %[b], #4\n\t"      // bl again, from memory: no ninth register
        "ldrh %[t0], [%[t1]]\n\t"
        "muls %[t0], %[x]\n\t"          // bl*ah, signed, << 16
        "lsls %[t1], %[t0], #16\n\t"
        "asrs %[t0], %[t0], #16\n\t"
        "adds %[low], %[low], %[t1]\n\t"
        "adcs %[high], %[t0]\n\t"
        "muls %[x], %[y]\n\t"           // ah*bh, << 32
        "adds %[high], %[high], %[x]\n\t"
        "cmp %[a], %[end]\n\t"
        "bne 1b\n\t"
        ".syntax divided\n"
        : [a] "+l"(a), [b] "+l"(b), [low] "+l"(low), [high] "+l"(high), [x] "=&l"(x), [y] "=&l"(y),
          [t0] "=&l"(t0), [t1] "=&l"(t1)
        : [end] "h"(end)
        : "cc", "memory");
    return static_cast<std::int64_t>((static_cast<std::uint64_t>(high) << 32) | low);
}

// One product of the same kind: sum + a*b.
inline std::int64_t multiplyAccumulate32(std::int64_t sum, std::int32_t a, std::int32_t b) {
    auto low = static_cast<std::uint32_t>(sum);
    auto high = static_cast<std::uint32_t>(static_cast<std::uint64_t>(sum) >> 32);
    auto x = static_cast<std::uint32_t>(a);
    auto y = static_cast<std::uint32_t>(b);
    std::uint32_t t0, t1, kept;
    __asm__(
        ".syntax unified\n\t"
        "uxth %[t0], %[x]\n\t"
        "uxth %[t1], %[y]\n\t"
        "asrs %[x], %[x], #16\n\t"
        "asrs %[y], %[y], #16\n\t"
        "mov %[kept], %[t1]\n\t"
        "muls %[t1], %[t0]\n\t"
        "adds %[low], %[low], %[t1]\n\t"
        "movs %[t1], #0\n\t"
        "adcs %[high], %[t1]\n\t"
        "muls %[t0], %[y]\n\t"
        "lsls %[t1], %[t0], #16\n\t"
        "asrs %[t0], %[t0], #16\n\t"
        "adds %[low], %[low], %[t1]\n\t"
        "adcs %[high], %[t0]\n\t"
        "mov %[t0], %[kept]\n\t"
        "muls %[t0], %[x]\n\t"
        "lsls %[t1], %[t0], #16\n\t"
        "asrs %[t0], %[t0], #16\n\t"
        "adds %[low], %[low], %[t1]\n\t"
        "adcs %[high], %[t0]\n\t"
        "muls %[x], %[y]\n\t"
        "adds %[high], %[high], %[x]\n\t"
        ".syntax divided\n"
        : [low] "+l"(low), [high] "+l"(high), [x] "+l"(x), [y] "+l"(y), [t0] "=&l"(t0), [t1] "=&l"(t1),
          [kept] "=h"(kept)
        :
        : "cc");
    return static_cast<std::int64_t>((static_cast<std::uint64_t>(high) << 32) | low);
}
#endif

}  // namespace detail

}  // namespace qnn

#endif  // QNN_ARITHMETIC_HPP
