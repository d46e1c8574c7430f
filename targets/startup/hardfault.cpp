// HardFault: report the stacked registers (and, on cores that have them, the
// fault status registers) as a `fault` record, then exit non-zero, so a
// faulting image fails loudly instead of hanging.
#include <cstdint>

#include "platform.h"
#include "report.hpp"
#include "startup.h"

// The exception frame is on the main or the process stack: EXC_RETURN (in lr)
// bit 2 says which. Thumb-1 instructions only, so every profile can run it.
extern "C" __attribute__((naked)) void qbench_hardfault() {
    __asm__ volatile(
        "movs r0, #4\n\t"
        "mov r1, lr\n\t"
        "tst r0, r1\n\t"
        "beq 1f\n\t"
        "mrs r0, psp\n\t"
        "b 2f\n"
        "1:\n\t"
        "mrs r0, msp\n"
        "2:\n\t"
        "ldr r1, =qbench_report_fault\n\t"
        "bx r1\n");
}

// frame: r0, r1, r2, r3, r12, lr, pc, xpsr as the core stacked them.
extern "C" __attribute__((used, noreturn)) void qbench_report_fault(const std::uint32_t* frame) {
    {
        qbench::ReportLine line("fault");
        line.field("pc", frame[6]).field("lr", frame[5]).field("xpsr", frame[7]);
#if QBENCH_HAS_FAULT_STATUS
        // Configurable, HardFault, MemManage-address and BusFault-address registers (v7-M, v8-M Mainline).
        const auto reg = [](std::uint32_t address) { return *reinterpret_cast<volatile std::uint32_t*>(address); };
        line.field("cfsr", reg(0xE000ED28u)).field("hfsr", reg(0xE000ED2Cu));
        line.field("mmfar", reg(0xE000ED34u)).field("bfar", reg(0xE000ED38u));
#endif
    }
    qbench_exit(qbench_fault_exit_code);
}
