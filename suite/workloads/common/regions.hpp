// Markers around the regions qbench measures. They are extern "C", never
// inlined and keep their argument, so any tool finds the same regions by name
// in the ELF: qbench counts the instructions QEMU executes from the entry of
// qbench_region_begin to the entry of qbench_region_end, and a debugger on a
// real board can break on the two symbols.
#ifndef QBENCH_REGIONS_HPP
#define QBENCH_REGIONS_HPP

// Region numbers, as qbench.trace names them.
enum QbenchRegion : unsigned {
    qbenchRegionEmpty = 0,      // nothing between the markers: their own cost, subtracted from the others
    qbenchRegionForward = 1,    // one feedForward
    qbenchRegionTrainStep = 2,  // one training step: calculateError and trainNetwork
};

extern "C" __attribute__((noinline)) inline void qbench_region_begin(unsigned region) {
    __asm__ volatile("" : : "r"(region) : "memory");
}

extern "C" __attribute__((noinline)) inline void qbench_region_end(unsigned region) {
    __asm__ volatile("" : : "r"(region) : "memory");
}

#endif  // QBENCH_REGIONS_HPP
