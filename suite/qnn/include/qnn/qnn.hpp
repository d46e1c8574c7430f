// qnn: header-only fixed-point multilayer perceptrons for microcontrollers.
// Include this header and compile with -I suite/qnn/include; nothing else is
// needed for any Q format. See suite/qnn/README.md.
#ifndef QNN_QNN_HPP
#define QNN_QNN_HPP

#include "activation.hpp"
#include "arithmetic.hpp"
#include "integer_traits.hpp"
#include "kernels.hpp"
#include "lookup_table.hpp"
#include "multilayer_perceptron.hpp"
#include "policies.hpp"
#include "qvalue.hpp"
#include "random.hpp"
#include "transfer_functions.hpp"
#include "value_traits.hpp"

#endif  // QNN_QNN_HPP
