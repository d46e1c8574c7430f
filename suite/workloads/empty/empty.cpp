// The empty baseline: a workload's start-up, platform, marker and report code
// (the same report lines, with values nothing computed) and no network.
// Subtracting its size from a workload's leaves what the network costs.
#include <cstdint>

#include "regions.hpp"
#include "report.hpp"

namespace {

// A value the compiler cannot see through, so the report code stays as a workload has it.
template <typename Integer>
Integer opaque(Integer value) {
    __asm__ volatile("" : "+r"(value));
    return value;
}

}  // namespace

int main() {
    qbench::ReportLine("begin").field("workload", "empty").field("qformat", "none").field("variant", "baseline");
    qbench_region_begin(qbenchRegionEmpty);
    qbench_region_end(qbenchRegionEmpty);
    const std::int32_t outputs[4] = {opaque(std::int32_t{0}), opaque(std::int32_t{0}), opaque(std::int32_t{0}),
                                     opaque(std::int32_t{0})};
    qbench::ReportLine("result")
        .field("learned", opaque(0))
        .field("iterations", opaque(std::uint32_t{0}))
        .field("final_error", opaque(std::int32_t{0}))
        .list("outputs", outputs, 4);
    qbench::ReportLine("end").field("status", 0);
    return 0;
}
