// The empty baseline: the same start-up, platform and report code as a
// workload, and no network. Subtracting its size from a workload's gives what
// the network costs.
#include "report.hpp"

int main() {
    qbench::ReportLine("begin").field("workload", "empty").field("status", 0);
    qbench::ReportLine("end").field("status", 0);
    qbench_exit(0);
}
