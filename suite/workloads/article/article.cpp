// The article's host size measurement ("A Neural Network in Under 4KB",
// "Trainable vs. Inference-Only Footprint"): one translation unit that
// instantiates the 2-4-1 Q16.16 network (tanh hidden, sigmoid output) and
// exercises it, compiled with g++ -O3 to an object that GNU size measures.
// qbench.images.article builds it for each library of a run.
//
// Trainable (QBENCH_TRAINABLE=1): the article's training loop as printed:
// feedForward, calculateError, trainNetwork unless the error is within the
// zero tolerance, getLearnedValues. Inference-only (QBENCH_TRAINABLE=0):
// feedForward and getLearnedValues, on weights deployed as a const table.
// The patterns start at argc, so the compiler cannot fold the network away,
// and main returns the learned value's raw bits, so it cannot drop it.
//
// The library through its adapter (QBENCH_ADAPTER; docs/libraries.md), as every workload reaches it.
#include <cstddef>
#include <cstdint>

#ifndef QBENCH_TRAINABLE
#define QBENCH_TRAINABLE 1
#endif
#ifndef QBENCH_ADAPTER
#define QBENCH_ADAPTER "qbench_adapter.hpp"
#endif

#include "contract.hpp"
#include QBENCH_ADAPTER
#include "layers.hpp"

namespace {

// Q-Format value type: signed Q16.16, the article's.
constexpr int NUMBER_OF_FIXED_BITS = 16;
constexpr int NUMBER_OF_FRACTIONAL_BITS = 16;
using ValueType = QbenchAdapter::FixedPoint<NUMBER_OF_FIXED_BITS, NUMBER_OF_FRACTIONAL_BITS, true>;

// Neural network architecture: 2-4-1, tanh hidden, sigmoid output.
constexpr std::size_t NUMBER_OF_INPUTS = 2;
constexpr std::size_t NUMBER_OF_HIDDEN_LAYERS = 1;
constexpr std::size_t NUMBER_OF_NEURONS_PER_HIDDEN_LAYER = 4;
constexpr std::size_t NUMBER_OF_OUTPUTS = 1;
using Architecture = qbench::NetworkShape<NUMBER_OF_INPUTS, NUMBER_OF_HIDDEN_LAYERS, NUMBER_OF_NEURONS_PER_HIDDEN_LAYER,
                                          NUMBER_OF_OUTPUTS, qbench::Activation::tanh, qbench::Activation::sigmoid,
                                          QBENCH_TRAINABLE != 0, 0x2545F491u>;
static_assert(qbench::contract::meetsNetworkContract<QbenchAdapter, ValueType, Architecture>());
using NeuralNetworkType = QbenchAdapter::Network<ValueType, Architecture>;

// Internal linkage, like the article's `static NeuralNetworkType testNeuralNet`.
NeuralNetworkType testNeuralNet;

ValueType bit(unsigned value) {
    return QbenchAdapter::fromRaw<ValueType>(std::int64_t{value & 1u} << NUMBER_OF_FRACTIONAL_BITS);
}

#if QBENCH_TRAINABLE

constexpr unsigned TRAINING_ITERATIONS = 5000;

// Pattern p has inputs (p & 1, p >> 1 & 1) and target their XOR.
ValueType train(unsigned firstPattern) {
    ValueType learnedValues[NUMBER_OF_OUTPUTS];
    for (unsigned i = 0; i < TRAINING_ITERATIONS; ++i) {
        const unsigned pattern = firstPattern + i;
        const ValueType values[NUMBER_OF_INPUTS] = {bit(pattern), bit(pattern >> 1)};
        const ValueType output[NUMBER_OF_OUTPUTS] = {bit(pattern ^ (pattern >> 1))};
        QbenchAdapter::feedForward(testNeuralNet, &values[0]);
        QbenchAdapter::train(testNeuralNet, &output[0]);  // calculateError, then trainNetwork unless within tolerance
        QbenchAdapter::getLearnedValues(testNeuralNet, &learnedValues[0]);
    }
    return learnedValues[0];
}

}  // namespace

int main(int argc, char**) { return static_cast<int>(QbenchAdapter::toRaw(train(static_cast<unsigned>(argc)))); }

#else

// What the trainable network reaches on qbench's XOR workload in Q16.16
// (qbench.models.reference.train_xor), raw, in qbench's neuron order (the adapter's
// loadWeights takes that order).
constexpr std::int32_t trainedRaw[Architecture::weightCount] = {
    -8858, 61465, -60803, 41291, -108864, 132985, 35200, -87022, 65592, -100735, -210729, 207893,
    192109, 64679, -132473, -87377, 250172,
};

struct Weights {
    ValueType at[Architecture::weightCount];
};

// Where the adapter's fromRaw is constexpr this is constant-initialised: a const table, as the article's is.
// (A template, so a value type that is not a literal type still compiles.)
template <typename Raw>
constexpr Weights weightsOf(const Raw (&raw)[Architecture::weightCount]) {
    Weights weights{};
    for (std::size_t i = 0; i < Architecture::weightCount; ++i) {
        weights.at[i] = QbenchAdapter::fromRaw<ValueType>(raw[i]);
    }
    return weights;
}
const Weights trainedWeights = weightsOf(trainedRaw);

constexpr unsigned PATTERN_COUNT = 4;

// The four XOR patterns from firstPattern on; their outputs' raw bits, combined.
unsigned evaluate(unsigned firstPattern) {
    workload::loadWeights<QbenchAdapter, Architecture>(testNeuralNet, trainedWeights.at);  // or per layer
    unsigned combined = 0;
    for (unsigned i = 0; i < PATTERN_COUNT; ++i) {
        const unsigned pattern = firstPattern + i;
        const ValueType values[NUMBER_OF_INPUTS] = {bit(pattern), bit(pattern >> 1)};
        ValueType learnedValues[NUMBER_OF_OUTPUTS];
        QbenchAdapter::feedForward(testNeuralNet, &values[0]);
        QbenchAdapter::getLearnedValues(testNeuralNet, &learnedValues[0]);
        combined ^= static_cast<unsigned>(QbenchAdapter::toRaw(learnedValues[0]));
    }
    return combined;
}

}  // namespace

int main(int argc, char**) { return static_cast<int>(evaluate(static_cast<unsigned>(argc))); }

#endif
