// Markers around the regions qbench measures. They are extern "C", never
// inlined and keep their argument, so any tool finds the same regions by name
// in the ELF: qbench counts the instructions QEMU executes from the entry of
// qbench_region_begin to the entry of qbench_region_end, and a debugger on a
// real board can break on the two symbols (r0 at the first is the region).
#ifndef QBENCH_REGIONS_HPP
#define QBENCH_REGIONS_HPP

// Region numbers, as qbench.trace names them.
enum QbenchRegion : unsigned {
    qbenchRegionEmpty = 0,      // nothing between the markers: their own cost, subtracted from the others
    qbenchRegionForward = 1,    // one feedForward
    qbenchRegionTrainStep = 2,  // one training step: calculateError and trainNetwork
};

// One byte per region. qbench_region_begin stores to its region's byte: QEMU's plugin interface shows where a
// program stores but not its registers, so the address stored to is how qbench's plugin numbers the region.
extern "C" {
inline volatile unsigned char qbench_region_marks[3];
}

extern "C" __attribute__((noinline)) inline void qbench_region_begin(unsigned region) {
    qbench_region_marks[region] = 1;
}

extern "C" __attribute__((noinline)) inline void qbench_region_end(unsigned region) {
    __asm__ volatile("" : : "r"(region) : "memory");
}

#endif  // QBENCH_REGIONS_HPP
