// Deterministic, seedable random numbers for weight initialisation: no rand(),
// no C library, the same sequence on every target (qbench.models.reference mirrors it).
#ifndef QNN_RANDOM_HPP
#define QNN_RANDOM_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qvalue.hpp"

namespace qnn {

// Marsaglia's xorshift32 (13, 17, 5). A zero state would stay zero forever,
// so a zero seed selects the default seed.
class Xorshift32 {
public:
    static constexpr std::uint32_t defaultSeed = 0x2545F491u;

    constexpr explicit Xorshift32(std::uint32_t seed = defaultSeed)
        : state(seed != 0 ? seed : defaultSeed) {}

    constexpr void seed(std::uint32_t newSeed) { state = newSeed != 0 ? newSeed : defaultSeed; }

    constexpr std::uint32_t next() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }

private:
    std::uint32_t state;
};

// Weights uniform in [-0.5, 0.5): the top F bits of a 32-bit draw give
// [0, 1) at the format's resolution, then 0.5 is subtracted.
template <typename V, std::uint32_t Seed = Xorshift32::defaultSeed>
class XorshiftRandomNumberPolicy {
public:
    static void seed(std::uint32_t newSeed) { generator.seed(newSeed); }

    static V generateRandomWeight() {
        const std::uint32_t draw = generator.next();
        if constexpr (isQValue<V>) {
            static_assert(V::isSigned, "qnn: random weights in [-0.5, 0.5) need a signed Q format");
            static_assert(V::fractionalBits >= 1,
                          "qnn: random weights in [-0.5, 0.5) need at least one fractional bit");
            using Wide = typename V::WideType;
            constexpr std::size_t bits = V::fractionalBits;
            Wide unit = 0;
            if constexpr (bits <= 32) {
                unit = static_cast<Wide>(draw >> (32 - bits));
            } else {
                unit = static_cast<Wide>(static_cast<Wide>(draw) << (bits - 32));
            }
            return V::fromRaw(static_cast<typename V::StorageType>(unit - (Wide(1) << (bits - 1))));
        } else {
            // 24 random bits fill a float mantissa exactly.
            return static_cast<V>(draw >> 8) * static_cast<V>(1.0 / 16777216.0) - static_cast<V>(0.5);
        }
    }

private:
    static inline Xorshift32 generator{Seed};
};

}  // namespace qnn

#endif  // QNN_RANDOM_HPP
