/* What a workload needs from the platform it runs on: a way to print a line
 * of its report and a way to stop with an exit code. The host build uses the
 * C library (host_platform.cpp); firmware uses semihosting (targets/common). */
#ifndef QBENCH_PLATFORM_H
#define QBENCH_PLATFORM_H

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a NUL-terminated string to the report stream. */
void qbench_write(const char* text);

/* Ends the program; code 0 means the workload ran to completion. */
void qbench_exit(int code) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* QBENCH_PLATFORM_H */
