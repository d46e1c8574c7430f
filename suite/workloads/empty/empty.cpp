// The empty baseline: the same start-up, platform, report and marker code as
// a workload, and no network. Subtracting its size from a workload's gives what
// the network costs.
#include "regions.hpp"
#include "report.hpp"

int main() {
    qbench::ReportLine("begin").field("workload", "empty").field("status", 0);
    qbench_region_begin(qbenchRegionEmpty);
    qbench_region_end(qbenchRegionEmpty);
    qbench::ReportLine("end").field("status", 0);
    return 0;
}
