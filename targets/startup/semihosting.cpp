// qbench_write (suite/workloads/common/platform.h) and qbench_exit
// (startup.h) on a Cortex-M board, through Arm semihosting (bkpt 0xab): QEMU,
// a debugger or a probe carries the text to the host and the exit code out.
#include <cstdint>

#include "platform.h"
#include "startup.h"

namespace {

constexpr int sysWrite0 = 0x04;         // NUL-terminated string to the console
constexpr int sysExitExtended = 0x20;   // exit with a full 32-bit code
constexpr std::uint32_t applicationExit = 0x20026;  // ADP_Stopped_ApplicationExit

int semihostingCall(int operation, const void* argument) {
    register int r0 __asm__("r0") = operation;
    register const void* r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

}  // namespace

extern "C" void qbench_write(const char* text) { semihostingCall(sysWrite0, text); }

extern "C" void qbench_exit(int code) {
    const std::uint32_t block[2] = {applicationExit, static_cast<std::uint32_t>(code)};
    semihostingCall(sysExitExtended, block);
    for (;;) {
        // Without a debugger attached there is nowhere to go.
    }
}
