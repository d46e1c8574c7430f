// The article's footprint measurement, reproduced: one translation unit that
// instantiates the 2-4-1 Q16.16 network and exercises it (feedForward, and
// for the trainable build calculateError and trainNetwork), compiled to an
// object whose `size` is compared with the article's figures.
#include "qnn/qnn.hpp"

using V = qnn::QValue<16, 16, true>;
using TF = qnn::FixedPointTransferFunctions<V, qnn::XorshiftRandomNumberPolicy<V>,
                                            qnn::TanhActivationPolicy<V>, qnn::SigmoidActivationPolicy<V>>;

#if QBENCH_TRAINABLE
qnn::MultilayerPerceptron<V, 2, 1, 4, 1, TF, true> network;

void exercise(const V* inputs, const V* targets, V* outputs) {
    network.feedForward(inputs);
    if (!TF::isWithinZeroTolerance(network.calculateError(targets))) {
        network.trainNetwork(targets);
    }
    network.getLearnedValues(outputs);
}
#else
qnn::MultilayerPerceptron<V, 2, 1, 4, 1, TF, false> network;

void deploy(const V* weights) { network.setWeights(weights); }

void exercise(const V* inputs, V* outputs) {
    network.feedForward(inputs);
    network.getLearnedValues(outputs);
}
#endif
