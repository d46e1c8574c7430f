// The target-specific arithmetic behind qnn's sums, chosen at compile time from
// the compiler's architecture macros. Every path computes the same integers as
// the portable C++ (the sums are exact, or wrap identically), only faster.
//
// - ARMv6-M (Cortex-M0/M0+) and ARMv8-M Baseline multiply only 32x32->32, so
//   GCC calls a 64x64 library routine (__aeabi_lmul) for every 32-bit
//   fixed-point product. dotProduct32/multiplyAccumulate32 form each signed
//   32x32 product from four 16x16 partial products instead:
//   a*b = ah*bh*2^32 + (ah*bl + al*bh)*2^16 + al*bl, added into a 64-bit sum in
//   registers. thumb1Rows sums several neurons in one pass over the inputs for
//   32-bit sums (one MULS and one ADD per connection, the input loaded once per
//   pass). Both need all eight low registers, hence optimised builds only.
// - Cores with the DSP extension (ARMv7E-M: Cortex-M4/M7; ARMv8-M Mainline with
//   DSP: Cortex-M33/M35P/M55) multiply two packed 16-bit pairs and add both
//   products in one SMLAD: dspRows sums several neurons in one pass, loading two
//   weights and two inputs per 32-bit (possibly unaligned) LDR. (A bias in front
//   of each row leaves every other row's weights 2 bytes off a word: LDR, not
//   LDRD or LDM, takes them there, as long as CCR.UNALIGN_TRP stays clear, its
//   reset value; __ARM_FEATURE_UNALIGNED says the compiler may rely on it.)
// - Thumb-2 M profile (Cortex-M3 and later Mainline cores): longRows sums 64-bit
//   products with SMLAL, two inputs and two weights per LDRD (word-aligned:
//   32-bit values), for one or two neurons per pass.
//
// QNN_PORTABLE=1 turns every one of these off (plain C++ everywhere), which is
// how the tests compare the paths. QNN_DSP=1 on a host without the DSP
// extension runs the DSP path's C++ (packed pairs, odd fan-in) with SMLAD
// emulated, for tests; on Arm it is set from __ARM_FEATURE_DSP.
#ifndef QNN_ARITHMETIC_HPP
#define QNN_ARITHMETIC_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#ifndef QNN_PORTABLE
#define QNN_PORTABLE 0
#endif

#if !QNN_PORTABLE && defined(__OPTIMIZE__) && (defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__))
#define QNN_PARTIAL_PRODUCTS 1
#define QNN_THUMB1_ROWS 1
#else
#define QNN_PARTIAL_PRODUCTS 0
#define QNN_THUMB1_ROWS 0
#endif

#ifndef QNN_DSP
#if !QNN_PORTABLE && defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_UNALIGNED)
#define QNN_DSP 1
#else
#define QNN_DSP 0
#endif
#endif
#if QNN_PORTABLE
#undef QNN_DSP
#define QNN_DSP 0
#endif

// The DSP path's inner loop in assembly where the registers allow it (optimised Thumb-2 builds); the same
// loop with the ACLE intrinsic (or its emulation) elsewhere.
#if QNN_DSP && defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define QNN_DSP_ASSEMBLY 1
#else
#define QNN_DSP_ASSEMBLY 0
#endif

#if QNN_DSP && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

// Thumb-2 M-profile cores (ARMv7-M and later Mainline) sum 64-bit products with SMLAL; longRows feeds it two
// inputs and two weights per LDRD, for one or two neurons per pass.
#if !QNN_PORTABLE && defined(__OPTIMIZE__) && defined(__thumb2__) && defined(__ARM_ARCH_PROFILE) && \
    __ARM_ARCH_PROFILE == 'M'
#define QNN_LONG_ROWS 1
#else
#define QNN_LONG_ROWS 0
#endif

// Helium (M-profile Vector Extension, ARMv8.1-M: Cortex-M55/M85): mveRows sums several neurons per pass over
// eight 16-bit inputs at a time, each input vector loaded once per pass, with VMLADAVA (eight exact 16x16
// products added into a 32-bit sum, modulo 2^32 like the portable sum); 8-bit weights are widened as they
// are loaded (VLDRB.S16). The last, partial vector's loads are tail-predicated (VCTP): their lanes read as
// zero and touch no memory past a row. Compiled only where the compiler says the target has MVE.
#if !QNN_PORTABLE && defined(__OPTIMIZE__) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define QNN_MVE 1
#include <arm_mve.h>
#else
#define QNN_MVE 0
#endif

namespace qnn {

namespace detail {

// Neurons per pass over the inputs, at most: the Thumb-1 loop takes four (eight low registers: the index,
// the inputs, one base per neuron, two scratch), the DSP loop six (eleven registers; eight neurons would need
// thirteen of the fourteen the compiler has, which it cannot always find), the SMLAL loop two (eleven
// registers: two 64-bit sums, two inputs, two weights, three pointers).
inline constexpr std::size_t thumb1MaximumRows = 4;
inline constexpr std::size_t dspMaximumRows = 6;
// With 8-bit weights, five: two more registers hold the reordered inputs.
inline constexpr std::size_t dspByteMaximumRows = 5;
inline constexpr std::size_t longMaximumRows = 2;
// Helium's VMLADAVA sums into an even general register: four sums, four row pointers, the input pointer and
// the count leave the compiler room.
inline constexpr std::size_t mveMaximumRows = 4;

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
          [kept] "=r"(kept)
        :
        : "cc");
    return static_cast<std::int64_t>((static_cast<std::uint64_t>(high) << 32) | low);
}
#endif

#if QNN_THUMB1_ROWS
// Thumb-1 passes over the inputs for B neurons at once, in 32 bits (exact, or wrapping as the portable sum
// does): sums[k] = w[k][0] * x[0] + ... + w[k][N-1] * x[N-1] (N >= 1), where row k (its bias, then N
// weights) starts at block + k * Stride. One index counts up to zero and addresses every array (LDRSH has
// only the register-offset form); per input: one load of it, then per neuron a load, MULS and ADD. The
// sums start from zero inside the assembly: for B > 2 they live in high registers, which the compiler could
// not fill from memory with every low register taken.
#define QNN_T1_STEP(LOAD, k) LOAD " %[w], [%[b" #k "], %[i]]\n\tmuls %[w], %[x]\n\tadd %[a" #k "], %[w]\n\t"
#define QNN_T1_LOOP(LOAD, SIZE, STEPS, ZERO)                                                                  \
    ".syntax unified\n\tmovs %[x], #0\n\t" ZERO "1:\n\t" LOAD " %[x], [%[xe], %[i]]\n\t" STEPS            \
    "adds %[i], #" SIZE "\n\tbne 1b\n\t.syntax divided\n"
#define QNN_T1_ZERO(k) "mov %[a" #k "], %[x]\n\t"
// LOOP(STEPS, ZERO) is the whole loop; XE the input pointer's operand ("+l" where the loop steps it).
#define QNN_T1_ROWS_LOW(LOOP, LOAD, XE)                                                                       \
    if constexpr (B == 1) {                                                                                  \
        __asm__(LOOP(QNN_T1_STEP(LOAD, 0), QNN_T1_ZERO(0))                                                   \
                : [i] "+l"(index), [x] "=&l"(x), [w] "=&l"(w), [a0] "=&l"(a0) QNN_T1_XE_OUT_##XE             \
                : [b0] "l"(rowEnds[0]) QNN_T1_XE_IN_##XE                                                     \
                : "cc", "memory");                                                                           \
    } else if constexpr (B == 2) {                                                                           \
        __asm__(LOOP(QNN_T1_STEP(LOAD, 0) QNN_T1_STEP(LOAD, 1), QNN_T1_ZERO(0) QNN_T1_ZERO(1))               \
                : [i] "+l"(index), [x] "=&l"(x), [w] "=&l"(w), [a0] "=&l"(a0), [a1] "=&l"(a1)                \
                      QNN_T1_XE_OUT_##XE                                                                     \
                : [b0] "l"(rowEnds[0]), [b1] "l"(rowEnds[1]) QNN_T1_XE_IN_##XE                               \
                : "cc", "memory");                                                                           \
    }
#define QNN_T1_ROWS_HIGH(LOOP, LOAD, XE)                                                                      \
    if constexpr (B == 3) {                                                                                  \
        __asm__(LOOP(QNN_T1_STEP(LOAD, 0) QNN_T1_STEP(LOAD, 1) QNN_T1_STEP(LOAD, 2),                         \
                     QNN_T1_ZERO(0) QNN_T1_ZERO(1) QNN_T1_ZERO(2))                                           \
                : [i] "+l"(index), [x] "=&l"(x), [w] "=&l"(w), [a0] "=r"(a0), [a1] "=r"(a1),               \
                  [a2] "=r"(a2) QNN_T1_XE_OUT_##XE                                                          \
                : [b0] "l"(rowEnds[0]), [b1] "l"(rowEnds[1]), [b2] "l"(rowEnds[2]) QNN_T1_XE_IN_##XE         \
                : "cc", "memory");                                                                           \
    } else {                                                                                                 \
        __asm__(LOOP(QNN_T1_STEP(LOAD, 0) QNN_T1_STEP(LOAD, 1) QNN_T1_STEP(LOAD, 2) QNN_T1_STEP(LOAD, 3),    \
                     QNN_T1_ZERO(0) QNN_T1_ZERO(1) QNN_T1_ZERO(2) QNN_T1_ZERO(3))                            \
                : [i] "+l"(index), [x] "=&l"(x), [w] "=&l"(w), [a0] "=r"(a0), [a1] "=r"(a1),               \
                  [a2] "=r"(a2), [a3] "=r"(a3) QNN_T1_XE_OUT_##XE                                           \
                : [b0] "l"(rowEnds[0]), [b1] "l"(rowEnds[1]), [b2] "l"(rowEnds[2]),                          \
                  [b3] "l"(rowEnds[3]) QNN_T1_XE_IN_##XE                                                     \
                : "cc", "memory");                                                                           \
    }
#define QNN_T1_XE_OUT_FIXED
#define QNN_T1_XE_IN_FIXED , [xe] "l"(xEnd)
#define QNN_T1_XE_OUT_STEPPED , [xe] "+l"(xNext)
#define QNN_T1_XE_IN_STEPPED
#define QNN_T1_LOOP_SH(STEPS, ZERO) QNN_T1_LOOP("ldrsh", "2", STEPS, ZERO)
#define QNN_T1_LOOP_H(STEPS, ZERO) QNN_T1_LOOP("ldrh", "2", STEPS, ZERO)
#define QNN_T1_LOOP_SB(STEPS, ZERO) QNN_T1_LOOP("ldrsb", "1", STEPS, ZERO)
#define QNN_T1_LOOP_B(STEPS, ZERO) QNN_T1_LOOP("ldrb", "1", STEPS, ZERO)
#define QNN_T1_LOOP_W(STEPS, ZERO) QNN_T1_LOOP("ldr", "4", STEPS, ZERO)
// Mixed widths: 8-bit weights indexed by i, signed 16-bit inputs from a pointer stepped once per input
// (LDRSH has no immediate form; LDRH and SXTH stand in for it).
#define QNN_T1_LOOP_MIXED(STEPS, ZERO)                                                                       \
    ".syntax unified\n\tmovs %[x], #0\n\t" ZERO "1:\n\tldrh %[x], [%[xe]]\n\tsxth %[x], %[x]\n\t"          \
    "adds %[xe], #2\n\t" STEPS "adds %[i], #1\n\tbne 1b\n\t.syntax divided\n"
// The sums in registers: low ones for up to two neurons, else r8-r11, named (the compiler will not choose
// high registers for an operand itself).
#define QNN_T1_RUN(BY_ELEMENT)                                                                                \
    if constexpr (B <= 2) {                                                                                  \
        std::uint32_t a0, a1;                                                                                \
        BY_ELEMENT(QNN_T1_ROWS_LOW)                                                                          \
        sums[0] = a0;                                                                                        \
        if constexpr (B > 1) sums[B > 1 ? 1 : 0] = a1;                                                       \
    } else {                                                                                                 \
        register std::uint32_t a0 __asm__("r8");                                                             \
        register std::uint32_t a1 __asm__("r9");                                                             \
        register std::uint32_t a2 __asm__("r10");                                                            \
        register std::uint32_t a3 __asm__("r11");                                                            \
        BY_ELEMENT(QNN_T1_ROWS_HIGH)                                                                         \
        sums[0] = a0;                                                                                        \
        sums[1] = a1;                                                                                        \
        sums[2] = a2;                                                                                        \
        if constexpr (B > 3) sums[B > 3 ? 3 : 0] = a3;                                                       \
    }

template <std::size_t B, std::size_t Stride, std::size_t N, typename Element>
__attribute__((always_inline)) inline void thumb1Rows(std::uint32_t (&sums)[B], const Element* block,
                                                      const Element* input) {
    static_assert(B >= 1 && B <= thumb1MaximumRows, "qnn: thumb1Rows sums one to four neurons per pass");
    static_assert(N >= 1 && Stride > N, "qnn: thumb1Rows needs at least one input, rows of bias and weights");
    const Element* const rowEnds[4] = {block + Stride, block + (B > 1 ? 2 : 1) * Stride,
                                       block + (B > 2 ? 3 : 1) * Stride, block + (B > 3 ? 4 : 1) * Stride};
    const Element* const xEnd = input + N;
    auto index = -static_cast<std::int32_t>(N * sizeof(Element));
    std::uint32_t x, w;
#define QNN_T1_BY_ELEMENT(QNN_T1_ROWS)                                                                        \
    if constexpr (std::is_same_v<Element, std::int16_t>) {                                                   \
        QNN_T1_ROWS(QNN_T1_LOOP_SH, "ldrsh", FIXED)                                                          \
    } else if constexpr (std::is_same_v<Element, std::uint16_t>) {                                           \
        QNN_T1_ROWS(QNN_T1_LOOP_H, "ldrh", FIXED)                                                            \
    } else if constexpr (std::is_same_v<Element, std::int8_t>) {                                             \
        QNN_T1_ROWS(QNN_T1_LOOP_SB, "ldrsb", FIXED)                                                          \
    } else if constexpr (std::is_same_v<Element, std::uint8_t>) {                                            \
        QNN_T1_ROWS(QNN_T1_LOOP_B, "ldrb", FIXED)                                                            \
    } else {                                                                                                 \
        static_assert(sizeof(Element) == 4, "qnn: thumb1Rows takes 8-, 16- or 32-bit elements");             \
        QNN_T1_ROWS(QNN_T1_LOOP_W, "ldr", FIXED)                                                             \
    }
    QNN_T1_RUN(QNN_T1_BY_ELEMENT)
}

// The same for 8-bit weights and signed 16-bit inputs (8-bit weights with 16-bit values).
template <std::size_t B, std::size_t Stride, std::size_t N>
__attribute__((always_inline)) inline void thumb1Rows(std::uint32_t (&sums)[B], const std::int8_t* block,
                                                      const std::int16_t* input) {
    static_assert(B >= 1 && B <= thumb1MaximumRows, "qnn: thumb1Rows sums one to four neurons per pass");
    static_assert(N >= 1 && Stride > N, "qnn: thumb1Rows needs at least one input, rows of bias and weights");
    const std::int8_t* const rowEnds[4] = {block + Stride, block + (B > 1 ? 2 : 1) * Stride,
                                           block + (B > 2 ? 3 : 1) * Stride, block + (B > 3 ? 4 : 1) * Stride};
    const std::int16_t* xNext = input;
    auto index = -static_cast<std::int32_t>(N);
    std::uint32_t x, w;
#define QNN_T1_MIXED(QNN_T1_ROWS) QNN_T1_ROWS(QNN_T1_LOOP_MIXED, "ldrsb", STEPPED)
    QNN_T1_RUN(QNN_T1_MIXED)
}
#undef QNN_T1_MIXED
#undef QNN_T1_RUN
#undef QNN_T1_LOOP_MIXED
#undef QNN_T1_LOOP_W
#undef QNN_T1_LOOP_B
#undef QNN_T1_LOOP_SB
#undef QNN_T1_LOOP_H
#undef QNN_T1_LOOP_SH
#undef QNN_T1_XE_OUT_FIXED
#undef QNN_T1_XE_IN_FIXED
#undef QNN_T1_XE_OUT_STEPPED
#undef QNN_T1_XE_IN_STEPPED
#undef QNN_T1_BY_ELEMENT
#undef QNN_T1_ROWS_HIGH
#undef QNN_T1_ROWS_LOW
#undef QNN_T1_ZERO
#undef QNN_T1_LOOP
#undef QNN_T1_STEP
#endif

#if QNN_DSP
// Two 16-bit values from memory as one 32-bit word, the first in the low half (LDR; unaligned is allowed
// wherever QNN_DSP is set on Arm).
__attribute__((always_inline)) inline std::uint32_t loadPair(const std::int16_t* pair) {
    std::uint32_t word;
    __builtin_memcpy(&word, pair, sizeof(word));
    return word;
}

// sum + low(a)*low(b) + high(a)*high(b), the halves signed, modulo 2^32: SMLAD (its Q flag aside).
__attribute__((always_inline)) inline std::int32_t dualMultiplyAccumulate(std::uint32_t a, std::uint32_t b,
                                                                          std::int32_t sum) {
#if defined(__ARM_FEATURE_DSP)
    return __smlad(static_cast<std::int32_t>(a), static_cast<std::int32_t>(b), sum);
#else
    const auto low = static_cast<std::int32_t>(static_cast<std::int16_t>(a & 0xFFFFu)) *
                     static_cast<std::int32_t>(static_cast<std::int16_t>(b & 0xFFFFu));
    const auto high = static_cast<std::int32_t>(static_cast<std::int16_t>(a >> 16)) *
                      static_cast<std::int32_t>(static_cast<std::int16_t>(b >> 16));
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(sum) + static_cast<std::uint32_t>(low) +
                                     static_cast<std::uint32_t>(high));
#endif
}

// Four 8-bit weights as two pairs of signed 16-bit halves, SXTB16's way: bytes 0 and 2, then bytes 1 and 3.
__attribute__((always_inline)) inline std::uint32_t evenBytesWidened(std::uint32_t word) {
#if defined(__ARM_FEATURE_DSP)
    return static_cast<std::uint32_t>(__sxtb16(word));
#else
    const auto low = static_cast<std::uint16_t>(static_cast<std::int16_t>(static_cast<std::int8_t>(word & 0xFFu)));
    const auto high = static_cast<std::uint16_t>(static_cast<std::int16_t>(static_cast<std::int8_t>((word >> 16) & 0xFFu)));
    return low | (static_cast<std::uint32_t>(high) << 16);
#endif
}

__attribute__((always_inline)) inline std::uint32_t oddBytesWidened(std::uint32_t word) {
    return evenBytesWidened((word >> 8) | (word << 24));
}

#if QNN_DSP_ASSEMBLY
// B neurons per pass over input pairs: sums[k] += the SMLAD of row k's pair with the inputs' pair, for each
// of Pairs pairs (at least one); row k's next pair is at row + k * Stride. Per pair: one LDR of the inputs,
// then per neuron one LDR and one SMLAD (row 0 last, post-incrementing); the loop's compare and branch once
// per Unroll pairs (an odd count enters the unrolled loop half-way). Leaves row and x at the pair after the
// last.
#define QNN_DSP_ROW(k) "ldr %[w], [%[row], #%c[s]*" #k "]\n\tsmlad %[a" #k "], %[w], %[x], %[a" #k "]\n\t"
#define QNN_DSP_UNIT(ROWS)                                                                                    \
    "ldr %[x], [%[xp]], #4\n\t" ROWS "ldr %[w], [%[row]], #4\n\tsmlad %[a0], %[w], %[x], %[a0]\n\t"
#define QNN_DSP_LOOP "cmp %[xp], %[end]\n\tbne 1b\n"
#define QNN_DSP_RUN(ROWS, ...)                                                                                \
    if constexpr (Unroll == 1) {                                                                             \
        __asm__("1:\n\t" QNN_DSP_UNIT(ROWS) QNN_DSP_LOOP                                                      \
                : QNN_DSP_POINTERS, __VA_ARGS__                                                              \
                : QNN_DSP_INPUTS                                                                             \
                : "cc", "memory");                                                                           \
    } else if constexpr (Pairs % 2 == 0) {                                                                   \
        __asm__("1:\n\t" QNN_DSP_UNIT(ROWS) QNN_DSP_UNIT(ROWS) QNN_DSP_LOOP                                   \
                : QNN_DSP_POINTERS, __VA_ARGS__                                                              \
                : QNN_DSP_INPUTS                                                                             \
                : "cc", "memory");                                                                           \
    } else {                                                                                                 \
        __asm__("b 2f\n1:\n\t" QNN_DSP_UNIT(ROWS) "2:\n\t" QNN_DSP_UNIT(ROWS) QNN_DSP_LOOP                   \
                : QNN_DSP_POINTERS, __VA_ARGS__                                                              \
                : QNN_DSP_INPUTS                                                                             \
                : "cc", "memory");                                                                           \
    }
#define QNN_DSP_POINTERS [row] "+r"(row), [xp] "+r"(x), [x] "=&r"(xv), [w] "=&r"(wv)
#define QNN_DSP_INPUTS [end] "r"(xEnd), [s] "i"(2 * Stride)

template <std::size_t B, std::size_t Stride, std::size_t Pairs, std::size_t Unroll>
__attribute__((always_inline)) inline void dspRows(std::int32_t (&sums)[B], const std::int16_t*& row,
                                                   const std::int16_t*& x) {
    static_assert(B >= 1 && B <= dspMaximumRows, "qnn: dspRows sums one to six neurons per pass");
    static_assert(Pairs >= 1 && Stride > 2 * Pairs, "qnn: dspRows needs a pair of inputs, rows of bias and weights");
    static_assert(Unroll == 1 || Unroll == 2, "qnn: dspRows unrolls by one or two pairs");
    static_assert(2 * Stride * (B - 1) <= 4095, "qnn: rows too far apart for LDR's immediate offset");
    const std::int16_t* const xEnd = x + 2 * Pairs;
    std::uint32_t xv, wv;
    std::int32_t a0 = sums[0], a1 = sums[B > 1 ? 1 : 0], a2 = sums[B > 2 ? 2 : 0], a3 = sums[B > 3 ? 3 : 0],
                 a4 = sums[B > 4 ? 4 : 0], a5 = sums[B > 5 ? 5 : 0];
    if constexpr (B == 1) {
        QNN_DSP_RUN("", [a0] "+r"(a0))
    } else if constexpr (B == 2) {
        QNN_DSP_RUN(QNN_DSP_ROW(1), [a0] "+r"(a0), [a1] "+r"(a1))
    } else if constexpr (B == 3) {
        QNN_DSP_RUN(QNN_DSP_ROW(1) QNN_DSP_ROW(2), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2))
    } else if constexpr (B == 4) {
        QNN_DSP_RUN(QNN_DSP_ROW(1) QNN_DSP_ROW(2) QNN_DSP_ROW(3), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2),
                    [a3] "+r"(a3))
    } else if constexpr (B == 5) {
        QNN_DSP_RUN(QNN_DSP_ROW(1) QNN_DSP_ROW(2) QNN_DSP_ROW(3) QNN_DSP_ROW(4), [a0] "+r"(a0), [a1] "+r"(a1),
                    [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4))
    } else {
        QNN_DSP_RUN(QNN_DSP_ROW(1) QNN_DSP_ROW(2) QNN_DSP_ROW(3) QNN_DSP_ROW(4) QNN_DSP_ROW(5), [a0] "+r"(a0),
                    [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [a5] "+r"(a5))
    }
    sums[0] = a0;
    if constexpr (B > 1) sums[B > 1 ? 1 : 0] = a1;
    if constexpr (B > 2) sums[B > 2 ? 2 : 0] = a2;
    if constexpr (B > 3) sums[B > 3 ? 3 : 0] = a3;
    if constexpr (B > 4) sums[B > 4 ? 4 : 0] = a4;
    if constexpr (B > 5) sums[B > 5 ? 5 : 0] = a5;
}
#undef QNN_DSP_INPUTS
#undef QNN_DSP_POINTERS
#undef QNN_DSP_RUN
#undef QNN_DSP_LOOP
#undef QNN_DSP_UNIT
#undef QNN_DSP_ROW
#endif

// B neurons per pass over groups of four 16-bit inputs with 8-bit weights: sums[k] += w[k][j] * x[j] for the
// 4 * Quads inputs (Quads >= 1). Per group: the inputs' two words reordered once by PKHBT/PKHTB into pairs
// (x0, x2) and (x1, x3); per neuron one LDR of four weights, two SXTB16 into (w0, w2) and (w1, w3), two
// SMLAD. Row k's next four weights are at row + k * Stride (unaligned LDR); row and x are left after the last.
#define QNN_DSPB_ROW(k)                                                                                       \
    "ldr %[w], [%[row], #%c[s]*" #k "]\n\tsxtb16 %[v], %[w]\n\tsxtb16 %[w], %[w], ror #8\n\t"                 \
    "smlad %[a" #k "], %[v], %[x02], %[a" #k "]\n\tsmlad %[a" #k "], %[w], %[x13], %[a" #k "]\n\t"
#define QNN_DSPB_RUN(ROWS, ...)                                                                               \
    __asm__("1:\n\tldr %[x02], [%[xp]], #4\n\tldr %[w], [%[xp]], #4\n\tpkhtb %[x13], %[w], %[x02], asr #16\n\t"  \
            "pkhbt %[x02], %[x02], %[w], lsl #16\n\t" ROWS "ldr %[w], [%[row]], #4\n\tsxtb16 %[v], %[w]\n\t"      \
            "sxtb16 %[w], %[w], ror #8\n\tsmlad %[a0], %[v], %[x02], %[a0]\n\tsmlad %[a0], %[w], %[x13], %[a0]\n\t" \
            "cmp %[xp], %[end]\n\tbne 1b\n"                                                                    \
            : [row] "+r"(row), [xp] "+r"(x), [x02] "=&r"(x02), [x13] "=&r"(x13), [w] "=&r"(wv), [v] "=&r"(vv),    \
              __VA_ARGS__                                                                                     \
            : [end] "r"(xEnd), [s] "i"(Stride)                                                                \
            : "cc", "memory")

template <std::size_t B, std::size_t Stride, std::size_t Quads>
__attribute__((always_inline)) inline void dspByteRows(std::int32_t (&sums)[B], const std::int8_t*& row,
                                                       const std::int16_t*& x) {
    static_assert(B >= 1 && B <= dspByteMaximumRows, "qnn: dspByteRows sums one to five neurons per pass");
    static_assert(Quads >= 1 && Stride > 4 * Quads, "qnn: dspByteRows needs four inputs, rows of bias and weights");
    static_assert(Stride * (B - 1) <= 4095, "qnn: rows too far apart for LDR's immediate offset");
    const std::int16_t* const xEnd = x + 4 * Quads;
#if QNN_DSP_ASSEMBLY
    std::uint32_t x02, x13, wv, vv;
    std::int32_t a0 = sums[0], a1 = sums[B > 1 ? 1 : 0], a2 = sums[B > 2 ? 2 : 0], a3 = sums[B > 3 ? 3 : 0],
                 a4 = sums[B > 4 ? 4 : 0];
    if constexpr (B == 1) {
        QNN_DSPB_RUN("", [a0] "+r"(a0));
    } else if constexpr (B == 2) {
        QNN_DSPB_RUN(QNN_DSPB_ROW(1), [a0] "+r"(a0), [a1] "+r"(a1));
    } else if constexpr (B == 3) {
        QNN_DSPB_RUN(QNN_DSPB_ROW(1) QNN_DSPB_ROW(2), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2));
    } else if constexpr (B == 4) {
        QNN_DSPB_RUN(QNN_DSPB_ROW(1) QNN_DSPB_ROW(2) QNN_DSPB_ROW(3), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2),
                     [a3] "+r"(a3));
    } else {
        QNN_DSPB_RUN(QNN_DSPB_ROW(1) QNN_DSPB_ROW(2) QNN_DSPB_ROW(3) QNN_DSPB_ROW(4), [a0] "+r"(a0), [a1] "+r"(a1),
                     [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4));
    }
    sums[0] = a0;
    if constexpr (B > 1) sums[B > 1 ? 1 : 0] = a1;
    if constexpr (B > 2) sums[B > 2 ? 2 : 0] = a2;
    if constexpr (B > 3) sums[B > 3 ? 3 : 0] = a3;
    if constexpr (B > 4) sums[B > 4 ? 4 : 0] = a4;
#else
    while (x != xEnd) {
        const std::uint32_t x01 = loadPair(x), x23 = loadPair(x + 2);
        const std::uint32_t x02 = (x01 & 0xFFFFu) | (x23 << 16);
        const std::uint32_t x13 = (x01 >> 16) | (x23 & 0xFFFF0000u);
        for (std::size_t k = 0; k < B; ++k) {
            std::uint32_t weights;
            __builtin_memcpy(&weights, row + k * Stride, sizeof(weights));
            sums[k] = dualMultiplyAccumulate(evenBytesWidened(weights), x02, sums[k]);
            sums[k] = dualMultiplyAccumulate(oddBytesWidened(weights), x13, sums[k]);
        }
        x += 4;
        row += 4;
    }
#endif
}
#undef QNN_DSPB_RUN
#undef QNN_DSPB_ROW
#endif

#if QNN_LONG_ROWS
// B neurons (one or two) per pass over signed 32-bit inputs with 64-bit sums: per two inputs one LDRD of them,
// then per neuron one LDRD of its two weights and two SMLAL; Unroll such steps per loop iteration (an odd
// count enters the unrolled loop half-way). Row k's next weight is at row + k * Stride; Steps two-input
// steps (at least one); row and x are left after the last. LDRD needs word alignment, which int32 arrays have.
#define QNN_LONG_ROW1                                                                                         \
    "ldrd %[w0], %[w1], [%[row], #%c[s]]\n\tsmlal %[l1], %[h1], %[w0], %[x0]\n\t"                              \
    "smlal %[l1], %[h1], %[w1], %[x1]\n\t"
#define QNN_LONG_UNIT(ROW1)                                                                                   \
    "ldrd %[x0], %[x1], [%[xp]], #8\n\t" ROW1 "ldrd %[w0], %[w1], [%[row]], #8\n\t"                            \
    "smlal %[l0], %[h0], %[w0], %[x0]\n\tsmlal %[l0], %[h0], %[w1], %[x1]\n\t"
#define QNN_LONG_LOOP "cmp %[xp], %[end]\n\tbne 1b\n"
#define QNN_LONG_RUN(ROW1, ...)                                                                               \
    if constexpr (Unroll == 1) {                                                                             \
        __asm__("1:\n\t" QNN_LONG_UNIT(ROW1) QNN_LONG_LOOP                                                    \
                : QNN_LONG_POINTERS, __VA_ARGS__                                                             \
                : QNN_LONG_INPUTS                                                                            \
                : "cc", "memory");                                                                           \
    } else if constexpr (Steps % 2 == 0) {                                                                   \
        __asm__("1:\n\t" QNN_LONG_UNIT(ROW1) QNN_LONG_UNIT(ROW1) QNN_LONG_LOOP                                \
                : QNN_LONG_POINTERS, __VA_ARGS__                                                             \
                : QNN_LONG_INPUTS                                                                            \
                : "cc", "memory");                                                                           \
    } else {                                                                                                 \
        __asm__("b 2f\n1:\n\t" QNN_LONG_UNIT(ROW1) "2:\n\t" QNN_LONG_UNIT(ROW1) QNN_LONG_LOOP                \
                : QNN_LONG_POINTERS, __VA_ARGS__                                                             \
                : QNN_LONG_INPUTS                                                                            \
                : "cc", "memory");                                                                           \
    }
#define QNN_LONG_POINTERS                                                                                     \
    [row] "+r"(row), [xp] "+r"(x), [x0] "=&r"(x0), [x1] "=&r"(x1), [w0] "=&r"(w0), [w1] "=&r"(w1)
#define QNN_LONG_INPUTS [end] "r"(xEnd), [s] "i"(4 * Stride)

template <std::size_t B, std::size_t Stride, std::size_t Steps, std::size_t Unroll>
__attribute__((always_inline)) inline void longRows(std::int64_t (&sums)[B], const std::int32_t*& row,
                                                    const std::int32_t*& x) {
    static_assert(B == 1 || B == 2, "qnn: longRows sums one or two neurons per pass");
    static_assert(Steps >= 1 && Stride > 2 * Steps, "qnn: longRows needs two inputs, rows of bias and weights");
    static_assert(Unroll == 1 || Unroll == 2, "qnn: longRows unrolls by one or two steps");
    static_assert(4 * Stride * (B - 1) <= 1020, "qnn: rows too far apart for LDRD's immediate offset");
    const std::int32_t* const xEnd = x + 2 * Steps;
    std::uint32_t x0, x1, w0, w1;
    auto l0 = static_cast<std::uint32_t>(sums[0]);
    auto h0 = static_cast<std::uint32_t>(static_cast<std::uint64_t>(sums[0]) >> 32);
    auto l1 = static_cast<std::uint32_t>(sums[B - 1]);
    auto h1 = static_cast<std::uint32_t>(static_cast<std::uint64_t>(sums[B - 1]) >> 32);
    if constexpr (B == 1) {
        QNN_LONG_RUN("", [l0] "+r"(l0), [h0] "+r"(h0))
    } else {
        QNN_LONG_RUN(QNN_LONG_ROW1, [l0] "+r"(l0), [h0] "+r"(h0), [l1] "+r"(l1), [h1] "+r"(h1))
    }
    sums[0] = static_cast<std::int64_t>((static_cast<std::uint64_t>(h0) << 32) | l0);
    if constexpr (B == 2) {
        sums[B - 1] = static_cast<std::int64_t>((static_cast<std::uint64_t>(h1) << 32) | l1);
    }
}
#undef QNN_LONG_INPUTS
#undef QNN_LONG_POINTERS
#undef QNN_LONG_RUN
#undef QNN_LONG_LOOP
#undef QNN_LONG_UNIT
#undef QNN_LONG_ROW1
#endif

#if QNN_MVE
// B neurons per pass over N 16-bit inputs (N >= 1), Element the weights' storage (int16_t, or int8_t widened
// by VLDRB.S16): sums[k] += w[k][0] * x[0] + ... + w[k][N-1] * x[N-1] modulo 2^32, row k's first weight at
// row + k * Stride. Per eight inputs: one VLDRH of them, then per neuron one (post-incrementing) load of its
// eight weights and one VMLADAVA; a low-overhead loop (DLS/LE), tail-predicated (DLSTP.16/LETP) where N is not
// a multiple of eight: the last iteration's inactive lanes load nothing and add nothing (no loop for N = 8). The sums live in
// even registers (VMLADAVA's accumulator: the "Te" constraint). QNN_MVE_LOAD, defined where the loop is
// expanded, is the weights' load, and QNN_MVE_ROW_REGISTER the constraint on a row's pointer.
#define QNN_MVE_ROW(k, q) QNN_MVE_LOAD " " q ", [%[r" #k "]], #%c[step]\n\tvmladava.s16 %[a" #k "], " q ", q0\n\t"
#define QNN_MVE_RUN(ROWS, ...)                                                                                \
    if constexpr (N == 8) {                                                                                  \
        __asm__("vldrh.16 q0, [%[x]], #16\n\t" ROWS                                                          \
                : [x] "+r"(x), __VA_ARGS__                                                                   \
                : [step] "i"(8 * sizeof(Element))                                                            \
                : "q0", "q1", "q2", "memory");                                                               \
    } else if constexpr (N % 8 == 0) {                                                                       \
        __asm__("dls lr, %[n]\n1:\n\tvldrh.16 q0, [%[x]], #16\n\t" ROWS "le lr, 1b\n"                     \
                : [x] "+r"(x), __VA_ARGS__                                                                   \
                : [n] "r"(N / 8), [step] "i"(8 * sizeof(Element))                             \
                : "q0", "q1", "q2", "lr", "memory");                                                         \
    } else {                                                                                                 \
        __asm__("dlstp.16 lr, %[n]\n1:\n\tvldrh.16 q0, [%[x]], #16\n\t" ROWS "letp lr, 1b\n"              \
                : [x] "+r"(x), __VA_ARGS__                                                                   \
                : [n] "r"(N), [step] "i"(8 * sizeof(Element))                                 \
                : "q0", "q1", "q2", "lr", "memory");                                                         \
    }

template <std::size_t B, std::size_t Stride, std::size_t N, typename Element>
__attribute__((always_inline)) inline void mveRows(std::int32_t (&sums)[B], const Element* row,
                                                   const std::int16_t* x) {
    static_assert(B >= 1 && B <= mveMaximumRows, "qnn: mveRows sums one to four neurons per pass");
    static_assert(N >= 1 && Stride > N, "qnn: mveRows needs an input, rows of bias and weights");
    static_assert(std::is_same_v<Element, std::int16_t> || std::is_same_v<Element, std::int8_t>,
                  "qnn: mveRows takes 16-bit or 8-bit weights");
    const Element* r0 = row;
    const Element* r1 = row + (B > 1 ? 1 : 0) * Stride;
    const Element* r2 = row + (B > 2 ? 2 : 0) * Stride;
    const Element* r3 = row + (B > 3 ? 3 : 0) * Stride;
    std::int32_t a0 = sums[0], a1 = sums[B > 1 ? 1 : 0], a2 = sums[B > 2 ? 2 : 0], a3 = sums[B > 3 ? 3 : 0];
#define QNN_MVE_BY_LOAD                                                                                       \
    if constexpr (B == 1) {                                                                                  \
        QNN_MVE_RUN(QNN_MVE_ROW(0, "q1"), [r0] QNN_MVE_ROW_REGISTER(r0), [a0] "+Te"(a0))                                      \
    } else if constexpr (B == 2) {                                                                           \
        QNN_MVE_RUN(QNN_MVE_ROW(0, "q1") QNN_MVE_ROW(1, "q2"), [r0] QNN_MVE_ROW_REGISTER(r0), [r1] QNN_MVE_ROW_REGISTER(r1), [a0] "+Te"(a0),    \
                    [a1] "+Te"(a1))                                                                          \
    } else if constexpr (B == 3) {                                                                           \
        QNN_MVE_RUN(QNN_MVE_ROW(0, "q1") QNN_MVE_ROW(1, "q2") QNN_MVE_ROW(2, "q1"), [r0] QNN_MVE_ROW_REGISTER(r0),              \
                    [r1] QNN_MVE_ROW_REGISTER(r1), [r2] QNN_MVE_ROW_REGISTER(r2), [a0] "+Te"(a0), [a1] "+Te"(a1), [a2] "+Te"(a2))             \
    } else {                                                                                                 \
        QNN_MVE_RUN(QNN_MVE_ROW(0, "q1") QNN_MVE_ROW(1, "q2") QNN_MVE_ROW(2, "q1") QNN_MVE_ROW(3, "q2"),        \
                    [r0] QNN_MVE_ROW_REGISTER(r0), [r1] QNN_MVE_ROW_REGISTER(r1), [r2] QNN_MVE_ROW_REGISTER(r2), [r3] QNN_MVE_ROW_REGISTER(r3), [a0] "+Te"(a0), [a1] "+Te"(a1), \
                    [a2] "+Te"(a2), [a3] "+Te"(a3))                                                          \
    }
    if constexpr (std::is_same_v<Element, std::int16_t>) {
#define QNN_MVE_LOAD "vldrh.16"
#define QNN_MVE_ROW_REGISTER(r) "+r"(r)
        QNN_MVE_BY_LOAD
#undef QNN_MVE_ROW_REGISTER
#undef QNN_MVE_LOAD
    } else {
#define QNN_MVE_LOAD "vldrb.s16"
#define QNN_MVE_ROW_REGISTER(r) "+l"(r)  // the widening loads take low base registers
        QNN_MVE_BY_LOAD
#undef QNN_MVE_ROW_REGISTER
#undef QNN_MVE_LOAD
    }
    sums[0] = a0;
    if constexpr (B > 1) sums[B > 1 ? 1 : 0] = a1;
    if constexpr (B > 2) sums[B > 2 ? 2 : 0] = a2;
    if constexpr (B > 3) sums[B > 3 ? 3 : 0] = a3;
}
#undef QNN_MVE_BY_LOAD
#undef QNN_MVE_RUN
#undef QNN_MVE_ROW
#endif

}  // namespace detail

}  // namespace qnn

#endif  // QNN_ARITHMETIC_HPP
