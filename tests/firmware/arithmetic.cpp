// Exercises qnn's 32-bit products and sums on the device (where Cortex-M0/M0+
// use the partial-product assembly) with edge values, one record per result,
// for tests/test_emulation.py to compare with the Python model.
#include <cstdint>

#include "qnn/qnn.hpp"
#include "report.hpp"

namespace {

using V = qnn::QValue<QBENCH_Q_INTEGER_BITS, QBENCH_Q_FRACTIONAL_BITS, true>;
using Traits = qnn::ValueTraits<V>;

constexpr std::int32_t edges[] = {
    INT32_MIN, INT32_MIN + 1, -0x12345678, -65536, -32768, -1, 0, 1, 32767, 32768, 65535, 65536,
    0x12345678, 0x7FFF0000, INT32_MAX - 1, INT32_MAX,
};
constexpr std::size_t count = sizeof(edges) / sizeof(edges[0]);

struct Vector {
    V at[count];
};

constexpr Vector asValues(bool reversed) {
    Vector vector{};
    for (std::size_t i = 0; i < count; ++i) {
        vector.at[i] = V::fromRaw(edges[reversed ? count - 1 - i : i]);
    }
    return vector;
}

constexpr Vector forward = asValues(false);
constexpr Vector backward = asValues(true);

}  // namespace

int main() {
    for (std::size_t i = 0; i < count; ++i) {
        for (std::size_t j = 0; j < count; ++j) {
            const V a = forward.at[i];
            const V b = forward.at[j];
            qbench::ReportLine("mac")
                .field("a", a.getValue())
                .field("b", b.getValue())
                .field("sum", Traits::multiplyAccumulate(Traits::start(a), a, b))
                .field("product", (a * b).getValue())
                .field("narrowed", Traits::narrow(Traits::multiplyAccumulate(Traits::start(a), a, b)).getValue());
        }
    }
    for (std::size_t n = 0; n <= count; ++n) {
        qbench::ReportLine("dot").field("n", n).field("sum", Traits::dot(Traits::empty(), forward.at, backward.at, n));
    }
    return 0;
}
