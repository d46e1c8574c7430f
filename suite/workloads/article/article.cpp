// The article's host size measurement ("A Neural Network in Under 4KB",
// "Trainable vs. Inference-Only Footprint"): one translation unit that
// instantiates the 2-4-1 Q16.16 network (tanh hidden, sigmoid output) and
// exercises it, compiled with g++ -O3 to an object that GNU size measures.
// qbench.article builds it for each library of a run.
//
// Trainable (QBENCH_TRAINABLE=1): the article's training loop as printed:
// feedForward, calculateError, trainNetwork unless the error is within the
// zero tolerance, getLearnedValues. Inference-only (QBENCH_TRAINABLE=0):
// feedForward and getLearnedValues, on weights deployed as a const table.
// The patterns start at argc, so the compiler cannot fold the network away,
// and main returns the learned value's raw bits, so it cannot drop it.
//
// The library as every workload chooses it (workloads/common/library.hpp).
#include <cstddef>

#ifndef QBENCH_TRAINABLE
#define QBENCH_TRAINABLE 1
#endif

#include "library.hpp"

namespace {

// Q-Format value type: signed Q16.16, the article's.
constexpr std::size_t NUMBER_OF_FIXED_BITS = 16;
constexpr std::size_t NUMBER_OF_FRACTIONAL_BITS = 16;
using ValueType = nn::QValue<NUMBER_OF_FIXED_BITS, NUMBER_OF_FRACTIONAL_BITS, true>;

using RandomNumberGenerator = nn::XorshiftRandomNumberPolicy<ValueType>;

// Neural network architecture: 2-4-1.
constexpr std::size_t NUMBER_OF_INPUTS = 2;
constexpr std::size_t NUMBER_OF_HIDDEN_LAYERS = 1;
constexpr std::size_t NUMBER_OF_NEURONS_PER_HIDDEN_LAYER = 4;
constexpr std::size_t NUMBER_OF_OUTPUTS = 1;

using TransferFunctionsType = nn::FixedPointTransferFunctions<ValueType, RandomNumberGenerator,
                                                              nn::TanhActivationPolicy<ValueType>,
                                                              nn::SigmoidActivationPolicy<ValueType>>;
using NeuralNetworkType =
    nn::MultilayerPerceptron<ValueType, NUMBER_OF_INPUTS, NUMBER_OF_HIDDEN_LAYERS, NUMBER_OF_NEURONS_PER_HIDDEN_LAYER,
                             NUMBER_OF_OUTPUTS, TransferFunctionsType, QBENCH_TRAINABLE != 0>;

// Internal linkage, like the article's `static NeuralNetworkType testNeuralNet`.
NeuralNetworkType testNeuralNet;

ValueType bit(unsigned value) { return ValueType(static_cast<int>(value & 1u), 0); }

#if QBENCH_TRAINABLE

constexpr unsigned TRAINING_ITERATIONS = 5000;

// Pattern p has inputs (p & 1, p >> 1 & 1) and target their XOR.
ValueType train(unsigned firstPattern) {
    ValueType learnedValues[NUMBER_OF_OUTPUTS];
    for (unsigned i = 0; i < TRAINING_ITERATIONS; ++i) {
        const unsigned pattern = firstPattern + i;
        const ValueType values[NUMBER_OF_INPUTS] = {bit(pattern), bit(pattern >> 1)};
        const ValueType output[NUMBER_OF_OUTPUTS] = {bit(pattern ^ (pattern >> 1))};
        testNeuralNet.feedForward(&values[0]);
        const ValueType error = testNeuralNet.calculateError(&output[0]);
        if (!NeuralNetworkType::NeuralNetworkTransferFunctionsPolicy::isWithinZeroTolerance(error)) {
            testNeuralNet.trainNetwork(&output[0]);
        }
        testNeuralNet.getLearnedValues(&learnedValues[0]);
    }
    return learnedValues[0];
}

}  // namespace

int main(int argc, char**) { return static_cast<int>(train(static_cast<unsigned>(argc)).getValue()); }

#else

// What the trainable network reaches on qbench's XOR workload in Q16.16
// (qbench.reference.train_xor), raw, in setWeights order.
constexpr ValueType trainedWeights[NeuralNetworkType::NumberOfWeights] = {
    ValueType::fromRaw(-8858),   ValueType::fromRaw(61465),   ValueType::fromRaw(-60803), ValueType::fromRaw(41291),
    ValueType::fromRaw(-108864), ValueType::fromRaw(132985),  ValueType::fromRaw(35200),  ValueType::fromRaw(-87022),
    ValueType::fromRaw(65592),   ValueType::fromRaw(-100735), ValueType::fromRaw(-210729), ValueType::fromRaw(207893),
    ValueType::fromRaw(192109),  ValueType::fromRaw(64679),   ValueType::fromRaw(-132473), ValueType::fromRaw(-87377),
    ValueType::fromRaw(250172),
};

constexpr unsigned PATTERN_COUNT = 4;

// The four XOR patterns from firstPattern on; their outputs' raw bits, combined.
unsigned evaluate(unsigned firstPattern) {
    testNeuralNet.setWeights(trainedWeights);
    unsigned combined = 0;
    for (unsigned i = 0; i < PATTERN_COUNT; ++i) {
        const unsigned pattern = firstPattern + i;
        const ValueType values[NUMBER_OF_INPUTS] = {bit(pattern), bit(pattern >> 1)};
        ValueType learnedValues[NUMBER_OF_OUTPUTS];
        testNeuralNet.feedForward(&values[0]);
        testNeuralNet.getLearnedValues(&learnedValues[0]);
        combined ^= static_cast<unsigned>(learnedValues[0].getValue());
    }
    return combined;
}

}  // namespace

int main(int argc, char**) { return static_cast<int>(evaluate(static_cast<unsigned>(argc))); }

#endif
