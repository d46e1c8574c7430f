// Constants shared by the start-up code and the workloads.
#ifndef QBENCH_STARTUP_H
#define QBENCH_STARTUP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Unused stack holds this word; the first other word from the bottom marks
// the deepest the stack has reached. Its bytes differ, so no compiler turns
// the painting loop into memset.
#define qbench_stack_paint 0x5AC3E10Fu

// Exit codes of the start-up code, distinct from a workload's own.
#define qbench_fault_exit_code 70
#define qbench_unexpected_exception_exit_code 71

// Ends the program with an exit code the emulator passes on (semihosting.cpp).
void qbench_exit(int code) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif  // QBENCH_STARTUP_H
