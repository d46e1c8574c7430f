// awk: a small fixed-point neural-network library, qbench's test data. It has
// the traits that make third-party libraries awkward to adapt: a Q type that
// is not a literal type (awk/fixed.hpp), weights set and read per layer in an
// order of its own (awk/network.hpp), transfer functions that take the number
// of outputs, a network with a non-trivial destructor, and activation tables
// in a source file, selected per Q format by a macro (src/tables.cpp).
// Header-only otherwise; no heap, no exceptions, no RTTI.
#ifndef AWK_AWK_HPP
#define AWK_AWK_HPP

#include "awk/activation.hpp"
#include "awk/fixed.hpp"
#include "awk/network.hpp"

#endif  // AWK_AWK_HPP
