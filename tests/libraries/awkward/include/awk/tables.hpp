// The activation tables of each Q format awk supports, defined in src/tables.cpp
// (which must be compiled and linked). A format's tables exist only when its
// macro AWK_TABLES_<IntBits>_<FracBits> is set to 1.
#ifndef AWK_TABLES_HPP
#define AWK_TABLES_HPP

#include <cstddef>
#include <cstdint>

namespace awk {

// tanh at x = k/8 and sigmoid at x = k/4, k = 0..32, as raw values of the format.
constexpr std::size_t tableEntries = 33;
constexpr int tanhStepShift = 3;
constexpr int sigmoidStepShift = 2;

template <int IntBits, int FracBits>
struct Tables {
    static_assert(IntBits < 0, "awk: no lookup tables for this Q format: awk has Q16.16 and Q8.8, each "
                               "selected by AWK_TABLES_<I>_<F>=1 when compiling this and src/tables.cpp");
};

#if AWK_TABLES_16_16
template <>
struct Tables<16, 16> {
    static const std::int32_t tanh[tableEntries];
    static const std::int32_t sigmoid[tableEntries];
};
#endif

#if AWK_TABLES_8_8
template <>
struct Tables<8, 8> {
    static const std::int16_t tanh[tableEntries];
    static const std::int16_t sigmoid[tableEntries];
};
#endif

}  // namespace awk

#endif  // AWK_TABLES_HPP
