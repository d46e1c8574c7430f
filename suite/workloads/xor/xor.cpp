// XOR on a 2-4-1 network (tanh hidden, sigmoid output by default), the article's workload.
//
// Trainable build: trains from a fixed seed until every output is within 0.1
// of its target or the iteration budget runs out, logging the error and the
// weights every QBENCH_LOG_EVERY iterations. Inference-only build: loads
// weights trained on the host (QBENCH_WEIGHTS_INCLUDE) and evaluates the four
// patterns. Both report through report.hpp; values are raw Q-format integers.
//
// Configuration (compiler -D): QBENCH_Q_INTEGER_BITS, QBENCH_Q_FRACTIONAL_BITS,
// QBENCH_Q_SIGNED, QBENCH_FORMAT_NAME, QBENCH_TRAINABLE, and optionally
// QBENCH_HIDDEN_ACTIVATION and QBENCH_OUTPUT_ACTIVATION (activation policy
// templates), QBENCH_MAX_ITERATIONS, QBENCH_LOG_EVERY, QBENCH_SAMPLE_SEED,
// QBENCH_WEIGHT_SEED; and QBENCH_NN_HEADER and QBENCH_NN to build against
// another library with qnn's API (qbench run --library).
#include <cstddef>
#include <cstdint>

#ifndef QBENCH_NN_HEADER
#define QBENCH_NN_HEADER "qnn/qnn.hpp"
#endif
#ifndef QBENCH_NN
#define QBENCH_NN qnn
#endif

#include QBENCH_NN_HEADER
#include "regions.hpp"
#include "report.hpp"

namespace nn = QBENCH_NN;

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
#ifndef QBENCH_HIDDEN_ACTIVATION
#define QBENCH_HIDDEN_ACTIVATION TanhActivationPolicy
#endif
#ifndef QBENCH_OUTPUT_ACTIVATION
#define QBENCH_OUTPUT_ACTIVATION SigmoidActivationPolicy
#endif

namespace {

using ValueType = nn::QValue<QBENCH_Q_INTEGER_BITS, QBENCH_Q_FRACTIONAL_BITS, QBENCH_Q_SIGNED != 0>;
using RandomNumberGenerator = nn::XorshiftRandomNumberPolicy<ValueType, QBENCH_WEIGHT_SEED>;
using TransferFunctionsType =
    nn::FixedPointTransferFunctions<ValueType, RandomNumberGenerator, nn::QBENCH_HIDDEN_ACTIVATION<ValueType>,
                                    nn::QBENCH_OUTPUT_ACTIVATION<ValueType>>;
using NeuralNetworkType =
    nn::MultilayerPerceptron<ValueType, 2, 1, 4, 1, TransferFunctionsType, QBENCH_TRAINABLE != 0>;

constexpr std::size_t patternCount = 4;

// The largest raw error that is still within 0.1 of the target.
constexpr auto learnedToleranceRaw = static_cast<typename ValueType::StorageType>(
    (typename ValueType::WideType(1) << ValueType::fractionalBits) / 10);

NeuralNetworkType network;

constexpr ValueType zero = ValueType::fromDouble(0.0);
constexpr ValueType one = ValueType::fromDouble(1.0);

ValueType bit(unsigned value) { return value != 0 ? one : zero; }

// Every feedForward runs between the markers, so the instruction counts cover
// the workload's own calls.
void forward(const ValueType* inputs) {
    qbench_region_begin(qbenchRegionForward);
    network.feedForward(inputs);
    qbench_region_end(qbenchRegionForward);
}

// Raw values widened to 32 bits, so the report code is the empty baseline's.
struct Evaluation {
    std::int32_t outputs[patternCount];
    std::int32_t worstError;
    int learned;
};

// Runs the four XOR patterns; pattern p has inputs (p & 1, p >> 1).
void evaluate(Evaluation& evaluation) {
    ValueType worst{};
    for (unsigned pattern = 0; pattern < patternCount; ++pattern) {
        const ValueType inputs[2] = {bit(pattern & 1u), bit(pattern >> 1)};
        const ValueType target = bit((pattern & 1u) ^ (pattern >> 1));
        ValueType output;
        forward(inputs);
        network.getLearnedValues(&output);
        const ValueType error = output > target ? output - target : target - output;
        worst = error > worst ? error : worst;
        evaluation.outputs[pattern] = output.getValue();
    }
    evaluation.worstError = worst.getValue();
    evaluation.learned = worst.getValue() <= learnedToleranceRaw;
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
                [](std::size_t i) { return network.getWeight(i).getValue(); });
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

// Raw weights in setWeights order, trained on the host by qbench.reference.
constexpr typename ValueType::StorageType deployedRaw[] = {
#include QBENCH_WEIGHTS_INCLUDE
};
static_assert(sizeof(deployedRaw) / sizeof(deployedRaw[0]) == NeuralNetworkType::NumberOfWeights,
              "the weights file does not match the network");

struct DeployedWeights {
    ValueType at[NeuralNetworkType::NumberOfWeights];
};

// Converted at compile time: the table sits in flash as ValueType, and the
// inference-only network reads it there.
constexpr DeployedWeights deployedWeights = [] {
    DeployedWeights weights{};
    for (std::size_t i = 0; i < NeuralNetworkType::NumberOfWeights; ++i) {
        weights.at[i] = ValueType::fromRaw(deployedRaw[i]);
    }
    return weights;
}();

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
