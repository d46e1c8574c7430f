// Firmware that misbehaves on purpose, one way per QBENCH_MISBEHAVIOUR, so the
// tests can check that qbench names each failure and keeps the other rows.
#include <cstdint>

#include "regions.hpp"
#include "report.hpp"

namespace {

// A frame far larger than the 4 KB stack that writes only its deepest word, skipping the stack's bottom.
__attribute__((noinline)) void skipOverTheStackBottom() {
    volatile std::uint32_t frame[1408];  // 5.5 KB
    frame[0] = 1;
}

// A frame whose deepest words are reserved but never written: only the stack pointer shows them.
__attribute__((noinline)) void reserveWithoutWriting() {
    volatile std::uint32_t frame[256];
    frame[255] = 1;
}

void reportValidResult() {
    qbench_region_begin(qbenchRegionEmpty);
    qbench_region_end(qbenchRegionEmpty);
    qbench_write("result learned=1 iterations=0 final_error=0 outputs=1,2,3,4\n");
    qbench::ReportLine("end").field("status", 0);
}

}  // namespace

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
#elif QBENCH_MISBEHAVIOUR == 6  // a stack overflow that skips the stack's bottom word
    skipOverTheStackBottom();
    reportValidResult();
#elif QBENCH_MISBEHAVIOUR == 7  // stack reserved deeper than it is written
    reserveWithoutWriting();
    reportValidResult();
#endif
    return 0;
}
