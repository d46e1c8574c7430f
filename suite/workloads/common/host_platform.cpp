// The platform function of a host build of a workload.
#include <cstdio>

#include "platform.h"

extern "C" void qbench_write(const char* text) { std::fputs(text, stdout); }
