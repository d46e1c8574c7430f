// Minimal start-up for every Cortex-M profile: vector table, FPU enable where
// the build uses one, .data copy, .bss zero, stack painting, static
// constructors, main; then the stack's high-water mark as a `stack` record and
// qbench_exit with main's result. Symbols come from the linker script qbench
// generates (targets/linker.ld.in).
#include <cstdint>

#include "report.hpp"
#include "startup.h"

extern "C" {
extern std::uint32_t __data_load_start[], __data_start[], __data_end[];
extern std::uint32_t __bss_start[], __bss_end[];
extern std::uint32_t __stack_guard[], __stack_limit[], __stack_top[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
int main();
void qbench_reset();
void qbench_hardfault();
}

namespace {

void unexpectedException() { qbench_exit(qbench_unexpected_exception_exit_code); }

// The deepest the stack has reached: from the top down to the lowest word,
// guard band included, that no longer holds the paint. Painted words that
// were written with the paint value itself would hide, which no real data
// pattern makes likely.
void reportStack() {
    const std::uint32_t* word = __stack_guard;
    while (word < __stack_top && *word == qbench_stack_paint) {
        ++word;
    }
    const auto peak = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(__stack_top) -
                                                 reinterpret_cast<std::uintptr_t>(word));
    const auto size = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(__stack_top) -
                                                 reinterpret_cast<std::uintptr_t>(__stack_limit));
    // A word written below the limit: the stack overflowed into its guard band (or past it). Without
    // room for a guard band, reaching the bottom word is all that can be seen.
    const std::uint32_t* const limit = __stack_limit;
    const bool overflow = word < limit || (word == limit && __stack_guard == limit);
    qbench::ReportLine("stack")
        .field("peak_bytes", peak)
        .field("size_bytes", size)
        .field("overflow", overflow ? 1 : 0);
}

}  // namespace

// C++ start-up support crtbegin.o would bring (-nostartfiles leaves it out), for libraries whose global objects
// have destructors. The image never returns from qbench_exit, so no destructor ever runs: registering one is
// a no-op, and newlib's atexit list is never linked. Unused, --gc-sections drops both.
extern "C" {
void* __dso_handle = nullptr;
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
}

// Only the core exceptions: the workloads enable no interrupt.
extern "C" __attribute__((section(".vectors"), used)) void (*const qbench_vectors[16])() = {
    reinterpret_cast<void (*)()>(__stack_top),
    qbench_reset,
    unexpectedException,  // NMI
    qbench_hardfault,
    unexpectedException,  // MemManage (v7-M and later)
    unexpectedException,  // BusFault
    unexpectedException,  // UsageFault
    nullptr, nullptr, nullptr, nullptr,
    unexpectedException,  // SVCall
    unexpectedException,  // DebugMonitor
    nullptr,
    unexpectedException,  // PendSV
    unexpectedException,  // SysTick
};

// The loops stay loops: no call to a C library the baseline would then carry.
extern "C" __attribute__((optimize("no-tree-loop-distribute-patterns"), noreturn)) void qbench_reset() {
#if defined(__ARM_FP)
    // Full access to CP10 and CP11, before any floating-point instruction.
    volatile std::uint32_t* const cpacr = reinterpret_cast<volatile std::uint32_t*>(0xE000ED88u);
    *cpacr = *cpacr | (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    for (std::uint32_t *source = __data_load_start, *target = __data_start; target < __data_end;) {
        *target++ = *source++;
    }
    for (std::uint32_t* target = __bss_start; target < __bss_end;) {
        *target++ = 0;
    }
    std::uint32_t* stackPointer;
    __asm__ volatile("mov %0, sp" : "=r"(stackPointer));
    for (std::uint32_t* word = __stack_guard; word < stackPointer;) {
        *word++ = qbench_stack_paint;
    }
    for (void (**constructor)() = __init_array_start; constructor < __init_array_end; ++constructor) {
        (*constructor)();
    }
    const int status = main();
    reportStack();
    qbench_exit(status);
}
