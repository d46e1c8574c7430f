// awk's activation tables, one pair per Q format, each compiled only when the
// format's macro is set (AWK_TABLES_<I>_<F>, from the build; qbench's
// descriptor sets it with "{I}" and "{F}"). Generated: round(f(x) * 2^F) at
// x = k/8 for tanh and x = k/4 for sigmoid, k = 0..32. Do not edit.
#include "awk/tables.hpp"

namespace awk {
#if AWK_TABLES_16_16
const std::int32_t Tables<16, 16>::tanh[tableEntries] = {
    0, 8150, 16051, 23485, 30285, 36346, 41625, 46131,
    49912, 53038, 55593, 57660, 59320, 60643, 61694, 62524,
    63179, 63693, 64096, 64412, 64659, 64852, 65003, 65120,
    65212, 65283, 65339, 65383, 65417, 65443, 65464, 65480,
    65492,
};
const std::int32_t Tables<16, 16>::sigmoid[tableEntries] = {
    32768, 36843, 40793, 44511, 47911, 50941, 53581, 55834,
    57724, 59287, 60565, 61598, 62428, 63090, 63615, 64030,
    64357, 64614, 64816, 64974, 65097, 65194, 65269, 65328,
    65374, 65410, 65438, 65459, 65476, 65489, 65500, 65508,
    65514,
};
#endif

#if AWK_TABLES_8_8
const std::int16_t Tables<8, 8>::tanh[tableEntries] = {
    0, 32, 63, 92, 118, 142, 163, 180,
    195, 207, 217, 225, 232, 237, 241, 244,
    247, 249, 250, 252, 253, 253, 254, 254,
    255, 255, 255, 255, 256, 256, 256, 256,
    256,
};
const std::int16_t Tables<8, 8>::sigmoid[tableEntries] = {
    128, 144, 159, 174, 187, 199, 209, 218,
    225, 232, 237, 241, 244, 246, 248, 250,
    251, 252, 253, 254, 254, 255, 255, 255,
    255, 256, 256, 256, 256, 256, 256, 256,
    256,
};
#endif

}  // namespace awk
