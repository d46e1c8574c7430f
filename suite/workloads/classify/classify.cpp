// Classification with a network trained on the host (iris, digits): an
// inference-only image carries the deployed weights and the test split as
// const tables in flash, classifies every test sample (its class: the first
// output with the largest value) and reports how many it got right, with
// every prediction so qbench can check them against its bit-exact model.
//
// Configuration (compiler -D): the value type, library and activations as
// workload_value.hpp reads them; QBENCH_FORMAT_NAME, QBENCH_WORKLOAD_NAME,
// QBENCH_INPUTS, QBENCH_HIDDEN_LAYERS, QBENCH_HIDDEN_NEURONS, QBENCH_OUTPUTS,
// QBENCH_SAMPLES (how many test samples to classify: all, or a few in the
// image whose instructions are traced), and the generated tables
// QBENCH_WEIGHTS_INCLUDE, QBENCH_INPUTS_INCLUDE, QBENCH_LABELS_INCLUDE.
#include <cstddef>
#include <cstdint>

#include "regions.hpp"
#include "report.hpp"
#include "workload_value.hpp"

namespace {

using workload::ValueType;
// Deployed networks never draw random weights; the policy only completes the type.
using TransferFunctionsType = workload::TransferFunctions<nn::XorshiftRandomNumberPolicy<ValueType>>;
using NeuralNetworkType = nn::MultilayerPerceptron<ValueType, QBENCH_INPUTS, QBENCH_HIDDEN_LAYERS,
                                                   QBENCH_HIDDEN_NEURONS, QBENCH_OUTPUTS, TransferFunctionsType, false>;

constexpr workload::StoredType deployedStored[] = {
#include QBENCH_WEIGHTS_INCLUDE
};
static_assert(sizeof(deployedStored) / sizeof(deployedStored[0]) == NeuralNetworkType::NumberOfWeights,
              "the weights file does not match the network");
constexpr auto deployedWeights = workload::tableOf(deployedStored);

// The test split: QBENCH_SAMPLES rows of QBENCH_INPUTS values, and their classes.
constexpr workload::StoredType testStored[] = {
#include QBENCH_INPUTS_INCLUDE
};
static_assert(sizeof(testStored) / sizeof(testStored[0]) == QBENCH_SAMPLES * QBENCH_INPUTS,
              "the test inputs do not match the network");
constexpr auto testInputs = workload::tableOf(testStored);

constexpr std::uint8_t testLabels[QBENCH_SAMPLES] = {
#include QBENCH_LABELS_INCLUDE
};

NeuralNetworkType network;

// The first output with the largest value, as numpy.argmax picks it.
std::int32_t classify(const ValueType* inputs) {
    ValueType outputs[QBENCH_OUTPUTS];
    qbench_region_begin(qbenchRegionForward);
    network.feedForward(inputs);
    qbench_region_end(qbenchRegionForward);
    network.getLearnedValues(outputs);
    std::int32_t best = 0;
    for (std::int32_t output = 1; output < QBENCH_OUTPUTS; ++output) {
        if (outputs[output] > outputs[best]) {
            best = output;
        }
    }
    return best;
}

}  // namespace

int main() {
    qbench::ReportLine("begin")
        .field("workload", QBENCH_WORKLOAD_NAME)
        .field("qformat", QBENCH_FORMAT_NAME)
        .field("variant", "inference");
    qbench_region_begin(qbenchRegionEmpty);
    qbench_region_end(qbenchRegionEmpty);
    network.setWeights(deployedWeights.at);
    // Each prediction is printed as it is made: no array of them in RAM.
    std::uint32_t correct = 0;
    qbench::ReportLine("predictions").listOf("classes", QBENCH_SAMPLES, [&correct](std::size_t sample) {
        const std::int32_t predicted = classify(testInputs.at + sample * QBENCH_INPUTS);
        correct += predicted == testLabels[sample] ? 1u : 0u;
        return predicted;
    });
    qbench::ReportLine("classified").field("correct", correct).field("total", std::uint32_t{QBENCH_SAMPLES});
    qbench::ReportLine("end").field("status", 0);
    return 0;
}
