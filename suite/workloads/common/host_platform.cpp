// The platform functions for a host build of a workload.
#include <cstdio>
#include <cstdlib>

#include "platform.h"

extern "C" void qbench_write(const char* text) { std::fputs(text, stdout); }

extern "C" void qbench_exit(int code) {
    std::fflush(stdout);
    std::exit(code);
}
