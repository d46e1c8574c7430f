// Minimal start-up for every Cortex-M profile: vector table, FPU enable where
// the build uses one, .data copy, .bss zero, stack painting (for the peak-stack
// measurement), static constructors, main, then qbench_exit with its result.
// Symbols come from the linker script qbench generates (targets/linker.ld.in).
#include <cstdint>

#include "platform.h"
#include "startup.h"

extern "C" {
extern std::uint32_t __data_load_start[], __data_start[], __data_end[];
extern std::uint32_t __bss_start[], __bss_end[];
extern std::uint32_t __stack_limit[], __stack_top[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
int main();
void qbench_reset();
void qbench_hardfault();
}

namespace {

void unexpectedException() { qbench_exit(qbench_unexpected_exception_exit_code); }

}  // namespace

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
    for (std::uint32_t* word = __stack_limit; word < stackPointer;) {
        *word++ = qbench_stack_paint;
    }
    for (void (**constructor)() = __init_array_start; constructor < __init_array_end; ++constructor) {
        (*constructor)();
    }
    qbench_exit(main());
}
