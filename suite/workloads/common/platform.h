/* What a workload needs from the platform it runs on: a way to print a line
 * of its report. The host build uses the C library (host_platform.cpp);
 * firmware uses semihosting (targets/startup). main()'s return value is the
 * exit status: 0 means the workload ran to completion. */
#ifndef QBENCH_PLATFORM_H
#define QBENCH_PLATFORM_H

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a NUL-terminated string to the report stream. */
void qbench_write(const char* text);

#ifdef __cplusplus
}
#endif

#endif /* QBENCH_PLATFORM_H */
