// A forward region whose path depends on its data: occurrence k (from 1 to 4) runs a loop k times, so
// occurrence k executes a + b * k instructions for the same a and b, and the four occurrences differ.
#include <cstdint>

#include "regions.hpp"
#include "report.hpp"

namespace {

__attribute__((noinline)) void spin(std::uint32_t times) {
    for (volatile std::uint32_t turn = 0; turn < times; turn = turn + 1) {
    }
}

}  // namespace

int main() {
    qbench::ReportLine("begin").field("workload", "data_dependent").field("qformat", "q16.16").field("variant", "inference");
    qbench_region_begin(qbenchRegionEmpty);
    qbench_region_end(qbenchRegionEmpty);
    for (std::uint32_t times = 1; times <= 4; ++times) {
        qbench_region_begin(qbenchRegionForward);
        spin(times);
        qbench_region_end(qbenchRegionForward);
    }
    qbench_write("result learned=1 iterations=0 final_error=0 outputs=1,2,3,4\n");
    qbench::ReportLine("end").field("status", 0);
    return 0;
}
