// Firmware that misbehaves on purpose, one way per QBENCH_MISBEHAVIOUR, so the
// tests can check that qbench names each failure and keeps the other rows.
#include "report.hpp"

int main() {
    qbench::ReportLine("begin").field("workload", "misbehaving").field("qformat", "q16.16").field("variant", "inference");
#if QBENCH_MISBEHAVIOUR == 1  // hang: never exits
    for (volatile int spin = 0;; spin = spin + 1) {
    }
#elif QBENCH_MISBEHAVIOUR == 2  // HardFault: a permanently undefined instruction
    __asm__ volatile("udf #7");
#elif QBENCH_MISBEHAVIOUR == 3  // lockup: the stack pointer moved into read-only flash, then a fault
    __asm__ volatile("movs r0, #0\n\tmov sp, r0\n\tudf #8" ::: "r0", "memory");
#elif QBENCH_MISBEHAVIOUR == 4  // a malformed result line
    qbench_write("result learned=maybe iterations=0 final_error=0 outputs=1,2,3,4\n");
    qbench::ReportLine("end").field("status", 0);
#elif QBENCH_MISBEHAVIOUR == 5  // a non-zero exit status
    return 3;
#endif
    return 0;
}
