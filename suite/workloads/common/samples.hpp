// The harness's own random draws (which XOR pattern each training step
// sees), so a library needs no random-number generator of its own for them:
// Marsaglia's xorshift32, the 13/17/5 triple.
#ifndef QBENCH_SAMPLES_HPP
#define QBENCH_SAMPLES_HPP

#include <cstdint>

namespace qbench {

class Xorshift32 {
public:
    constexpr explicit Xorshift32(std::uint32_t seed) : state(seed != 0 ? seed : 1u) {}

    constexpr std::uint32_t next() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }

private:
    std::uint32_t state;
};

}  // namespace qbench

#endif  // QBENCH_SAMPLES_HPP
