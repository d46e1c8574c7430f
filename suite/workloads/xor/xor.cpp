// XOR on a 2-4-1 network (tanh hidden, sigmoid output by default), the article's workload.
//
// Trainable build: loads qbench's initial weights (QBENCH_WEIGHTS_INCLUDE; none
// with --initial-weights library: the library's own), then trains on samples
// from a fixed seed until every output is within 0.1 of its target or the
// iteration budget runs out, logging the error and the weights every
// QBENCH_LOG_EVERY iterations. Inference-only build: loads weights trained on
// the host (QBENCH_WEIGHTS_INCLUDE) and evaluates the four patterns. Both
// report through report.hpp; values are raw Q-format integers.
//
// The network goes through the library's adapter (network.hpp): the harness
// compares raw numbers, never the library's value type.
//
// Configuration (compiler -D): the value type, network and library as
// network.hpp reads them; QBENCH_FORMAT_NAME, and optionally
// QBENCH_MAX_ITERATIONS, QBENCH_LOG_EVERY, QBENCH_SAMPLE_SEED.
#include <cstddef>
#include <cstdint>

#include "layers.hpp"
#include "network.hpp"
#include "regions.hpp"
#include "report.hpp"
#include "samples.hpp"

#ifndef QBENCH_MAX_ITERATIONS
#define QBENCH_MAX_ITERATIONS 20000
#endif
#ifndef QBENCH_LOG_EVERY
#define QBENCH_LOG_EVERY 100
#endif
#ifndef QBENCH_SAMPLE_SEED
#define QBENCH_SAMPLE_SEED 0x9E3779B9u
#endif

namespace {

using workload::Adapter;
using workload::Number;
using workload::ValueType;
static_assert(workload::Shape::inputs == 2 && workload::Shape::outputs == 1, "xor is a 2-input, 1-output network");

constexpr std::size_t patternCount = 4;

workload::NetworkType network;

Number bitNumber(unsigned value) { return value != 0 ? workload::oneNumber : Number{}; }
ValueType bit(unsigned value) { return workload::valueOf(bitNumber(value)); }

// Every feedForward runs between the markers, so the instruction counts cover
// the workload's own calls.
void forward(const ValueType* inputs) {
    qbench_region_begin(qbenchRegionForward);
    Adapter::feedForward(network, inputs);
    qbench_region_end(qbenchRegionForward);
}

struct Evaluation {
    workload::ReportedType outputs[patternCount];
    workload::ReportedType worstError;
    int learned;
};

// Runs the four XOR patterns; pattern p has inputs (p & 1, p >> 1).
void evaluate(Evaluation& evaluation) {
    Number worst{};
    for (unsigned pattern = 0; pattern < patternCount; ++pattern) {
        const ValueType inputs[2] = {bit(pattern & 1u), bit(pattern >> 1)};
        const Number target = bitNumber((pattern & 1u) ^ (pattern >> 1));
        ValueType output[1];
        forward(inputs);
        Adapter::getLearnedValues(network, output);
        const Number value = workload::number(output[0]);
        const Number error = value > target ? value - target : target - value;
        worst = error > worst ? error : worst;
        evaluation.outputs[pattern] = workload::reportedNumber(value);
    }
    evaluation.worstError = workload::reportedNumber(worst);
    evaluation.learned = worst <= workload::learnedToleranceNumber;
}

void reportOutputs(const Evaluation& evaluation, std::uint32_t iterations) {
    qbench::ReportLine("result")
        .field("learned", evaluation.learned)
        .field("iterations", iterations)
        .field("final_error", evaluation.worstError)
        .list("outputs", evaluation.outputs, patternCount);
}

#if QBENCH_TRAINABLE && defined(QBENCH_WEIGHTS_INCLUDE)

// The initial weights qbench draws for every library (qbench.models.reference.initial_weights), in the
// library's weight order: the harness's table, not the network's own bytes (a run with --initial-weights
// library has none; the library's constructor chooses).
constexpr workload::WeightStoredType initialStored[] = {
#include QBENCH_WEIGHTS_INCLUDE
};
static_assert(sizeof(initialStored) / sizeof(initialStored[0]) == workload::Shape::weightCount,
              "the weights file does not match the network");
const auto initialWeights = workload::tableOf<workload::WeightType>(initialStored);

void loadWeights() { workload::loadWeights<Adapter, workload::Shape>(network, initialWeights.at); }

#elif QBENCH_TRAINABLE

void loadWeights() {}

#else

// Weights in the library's weight order, trained on the host (qbench.models.reference,
// or qbench.models.training for float), converted by the adapter's fromRaw: constexpr
// there, the table sits in flash as ValueType and qnn reads it in place.
constexpr workload::WeightStoredType deployedStored[] = {
#include QBENCH_WEIGHTS_INCLUDE
};
static_assert(sizeof(deployedStored) / sizeof(deployedStored[0]) == workload::Shape::weightCount,
              "the weights file does not match the network");
const auto deployedWeights = workload::tableOf<workload::WeightType>(deployedStored);

void loadWeights() { workload::loadWeights<Adapter, workload::Shape>(network, deployedWeights.at); }

#endif

#if QBENCH_TRAINABLE

ValueType weight(std::size_t index) {
    return workload::weight<Adapter, workload::Shape, workload::NetworkType, ValueType>(network, index);
}

void logProgress(std::uint32_t iteration, const Evaluation& evaluation) {
    qbench::ReportLine("log")
        .field("iteration", iteration)
        .field("error", evaluation.worstError)
        .listOf("weights", workload::Shape::weightCount,
                [](std::size_t i) { return workload::reported(weight(i)); });
}

void run() {
    loadWeights();
    qbench::Xorshift32 samples(QBENCH_SAMPLE_SEED);
    Evaluation evaluation;
    evaluate(evaluation);
    logProgress(0, evaluation);
    std::uint32_t iteration = 0;
    while (!evaluation.learned && iteration < QBENCH_MAX_ITERATIONS) {
        ++iteration;
        const std::uint32_t draw = samples.next();
        const ValueType inputs[2] = {bit(draw & 1u), bit(draw & 2u)};
        const ValueType target[1] = {bit((draw ^ (draw >> 1)) & 1u)};
        forward(inputs);
        qbench_region_begin(qbenchRegionTrainStep);
        Adapter::train(network, target);
        qbench_region_end(qbenchRegionTrainStep);
        evaluate(evaluation);
        if (iteration % QBENCH_LOG_EVERY == 0 || evaluation.learned) {
            logProgress(iteration, evaluation);
        }
    }
    reportOutputs(evaluation, iteration);
}

#else

void run() {
    loadWeights();
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
