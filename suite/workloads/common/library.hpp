// The network library an image is built against: qnn unless the build names
// another one's header (QBENCH_NN_HEADER) and namespace (QBENCH_NN), as
// qbench run --library does. Its namespace is `nn` from here on.
#ifndef QBENCH_LIBRARY_HPP
#define QBENCH_LIBRARY_HPP

#ifndef QBENCH_NN_HEADER
#define QBENCH_NN_HEADER "qnn/qnn.hpp"
#endif
#ifndef QBENCH_NN
#define QBENCH_NN qnn
#endif

#include QBENCH_NN_HEADER

namespace nn = QBENCH_NN;

#endif  // QBENCH_LIBRARY_HPP
