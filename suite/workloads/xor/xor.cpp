// XOR on a 2-4-1 network (tanh hidden, sigmoid output by default), the article's workload.
//
// Trainable build: trains from a fixed seed until every output is within 0.1
// of its target or the iteration budget runs out, logging the error and the
// weights every QBENCH_LOG_EVERY iterations. Inference-only build: loads
// weights trained on the host (QBENCH_WEIGHTS_INCLUDE) and evaluates the four
// patterns. Both report through report.hpp; values are raw Q-format integers.
//
// Configuration (compiler -D): the value type, library and activations as
// workload_value.hpp reads them; QBENCH_FORMAT_NAME, QBENCH_TRAINABLE,
// QBENCH_HIDDEN_LAYERS, QBENCH_HIDDEN_NEURONS, and optionally
// QBENCH_MAX_ITERATIONS, QBENCH_LOG_EVERY, QBENCH_SAMPLE_SEED, QBENCH_WEIGHT_SEED.
#include <cstddef>
#include <cstdint>

#include "regions.hpp"
#include "report.hpp"
#include "workload_value.hpp"

#ifndef QBENCH_MAX_ITERATIONS
#define QBENCH_MAX_ITERATIONS 20000
#endif
#ifndef QBENCH_LOG_EVERY
#define QBENCH_LOG_EVERY 100
#endif
#ifndef QBENCH_SAMPLE_SEED
#define QBENCH_SAMPLE_SEED 0x9E3779B9u
#endif
#ifndef QBENCH_WEIGHT_SEED
#define QBENCH_WEIGHT_SEED 0x2545F491u
#endif
#ifndef QBENCH_HIDDEN_LAYERS
#define QBENCH_HIDDEN_LAYERS 1
#endif
#ifndef QBENCH_HIDDEN_NEURONS
#define QBENCH_HIDDEN_NEURONS 4
#endif

namespace {

using workload::ValueType;
using RandomNumberGenerator = nn::XorshiftRandomNumberPolicy<ValueType, QBENCH_WEIGHT_SEED>;
using TransferFunctionsType = workload::TransferFunctions<RandomNumberGenerator>;
using NeuralNetworkType = nn::MultilayerPerceptron<ValueType, 2, QBENCH_HIDDEN_LAYERS, QBENCH_HIDDEN_NEURONS, 1,
                                                   TransferFunctionsType, QBENCH_TRAINABLE != 0>;

constexpr std::size_t patternCount = 4;

NeuralNetworkType network;

constexpr ValueType zero = workload::fromDouble(0.0);
constexpr ValueType one = workload::fromDouble(1.0);

ValueType bit(unsigned value) { return value != 0 ? one : zero; }

// Every feedForward runs between the markers, so the instruction counts cover
// the workload's own calls.
void forward(const ValueType* inputs) {
    qbench_region_begin(qbenchRegionForward);
    network.feedForward(inputs);
    qbench_region_end(qbenchRegionForward);
}

struct Evaluation {
    workload::ReportedType outputs[patternCount];
    workload::ReportedType worstError;
    int learned;
};

// Runs the four XOR patterns; pattern p has inputs (p & 1, p >> 1).
void evaluate(Evaluation& evaluation) {
    ValueType worst = zero;
    for (unsigned pattern = 0; pattern < patternCount; ++pattern) {
        const ValueType inputs[2] = {bit(pattern & 1u), bit(pattern >> 1)};
        const ValueType target = bit((pattern & 1u) ^ (pattern >> 1));
        ValueType output;
        forward(inputs);
        network.getLearnedValues(&output);
        const ValueType error = output > target ? output - target : target - output;
        worst = error > worst ? error : worst;
        evaluation.outputs[pattern] = workload::reported(output);
    }
    evaluation.worstError = workload::reported(worst);
    evaluation.learned = worst <= workload::learnedTolerance;
}

void reportOutputs(const Evaluation& evaluation, std::uint32_t iterations) {
    qbench::ReportLine("result")
        .field("learned", evaluation.learned)
        .field("iterations", iterations)
        .field("final_error", evaluation.worstError)
        .list("outputs", evaluation.outputs, patternCount);
}

#if QBENCH_TRAINABLE

void logProgress(std::uint32_t iteration, const Evaluation& evaluation) {
    qbench::ReportLine("log")
        .field("iteration", iteration)
        .field("error", evaluation.worstError)
        .listOf("weights", NeuralNetworkType::NumberOfWeights,
                [](std::size_t i) { return workload::reported(network.getWeight(i)); });
}

void run() {
    nn::Xorshift32 samples(QBENCH_SAMPLE_SEED);
    Evaluation evaluation;
    evaluate(evaluation);
    logProgress(0, evaluation);
    std::uint32_t iteration = 0;
    while (!evaluation.learned && iteration < QBENCH_MAX_ITERATIONS) {
        ++iteration;
        const std::uint32_t draw = samples.next();
        const ValueType inputs[2] = {bit(draw & 1u), bit(draw & 2u)};
        const ValueType target = bit((draw ^ (draw >> 1)) & 1u);
        forward(inputs);
        qbench_region_begin(qbenchRegionTrainStep);
        const ValueType error = network.calculateError(&target);
        if (!NeuralNetworkType::NeuralNetworkTransferFunctionsPolicy::isWithinZeroTolerance(error)) {
            network.trainNetwork(&target);
        }
        qbench_region_end(qbenchRegionTrainStep);
        evaluate(evaluation);
        if (iteration % QBENCH_LOG_EVERY == 0 || evaluation.learned) {
            logProgress(iteration, evaluation);
        }
    }
    reportOutputs(evaluation, iteration);
}

#else

// Weights in setWeights order, trained on the host (qbench.reference, or
// qbench.training for float), converted at compile time: the table sits in
// flash as ValueType, and the inference-only network reads it there.
constexpr workload::StoredType deployedStored[] = {
#include QBENCH_WEIGHTS_INCLUDE
};
static_assert(sizeof(deployedStored) / sizeof(deployedStored[0]) == NeuralNetworkType::NumberOfWeights,
              "the weights file does not match the network");
constexpr auto deployedWeights = workload::tableOf(deployedStored);

void run() {
    network.setWeights(deployedWeights.at);
    Evaluation evaluation;
    evaluate(evaluation);
    reportOutputs(evaluation, 0);
}

#endif

}  // namespace

int main() {
    qbench::ReportLine("begin")
        .field("workload", "xor")
        .field("qformat", QBENCH_FORMAT_NAME)
        .field("variant", QBENCH_TRAINABLE ? "trainable" : "inference");
    qbench_region_begin(qbenchRegionEmpty);
    qbench_region_end(qbenchRegionEmpty);
    run();
    qbench::ReportLine("end").field("status", 0);
    return 0;
}
