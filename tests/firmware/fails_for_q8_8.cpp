// The XOR workload, except that the Q8.8 cell fails to compile on purpose, so
// the tests can check that one broken cell does not stop the others.
#if QBENCH_Q_FRACTIONAL_BITS == 8
#error "this cell does not compile, on purpose"
#endif
#include "../../suite/workloads/xor/xor.cpp"
