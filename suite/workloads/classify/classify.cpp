// Classification with a network trained on the host (iris, digits): an
// inference-only image carries the deployed weights and the test split as
// const tables in flash, classifies every test sample (its class: the first
// output with the largest value) and reports how many it got right, with
// every prediction so qbench can check them against its bit-exact model.
//
// Configuration (compiler -D): the value type, network and library as
// network.hpp reads them; QBENCH_FORMAT_NAME, QBENCH_WORKLOAD_NAME,
// QBENCH_SAMPLES (how many test samples to classify: all, or a few in the
// image whose instructions are traced), and the generated tables
// QBENCH_WEIGHTS_INCLUDE, QBENCH_INPUTS_INCLUDE, QBENCH_LABELS_INCLUDE.
#include <cstddef>
#include <cstdint>

#include "layers.hpp"
#include "network.hpp"
#include "regions.hpp"
#include "report.hpp"

namespace {

using workload::Adapter;
using workload::ValueType;
static_assert(!workload::Shape::isTrainable, "classification images are inference-only");

// Where the adapter's fromRaw is constexpr, both tables sit in flash as ValueType.
constexpr workload::WeightStoredType deployedStored[] = {
#include QBENCH_WEIGHTS_INCLUDE
};
static_assert(sizeof(deployedStored) / sizeof(deployedStored[0]) == workload::Shape::weightCount,
              "the weights file does not match the network");
const auto deployedWeights = workload::tableOf<workload::WeightType>(deployedStored);

// The test split: QBENCH_SAMPLES rows of QBENCH_INPUTS values, and their classes. Kept as stored (raw
// integers, or floats) and converted one sample at a time, so it stays in flash whatever the value type.
constexpr workload::StoredType testStored[] = {
#include QBENCH_INPUTS_INCLUDE
};
static_assert(sizeof(testStored) / sizeof(testStored[0]) == QBENCH_SAMPLES * QBENCH_INPUTS,
              "the test inputs do not match the network");

#ifndef QBENCH_REGRESSION
constexpr std::uint8_t testLabels[QBENCH_SAMPLES] = {
#include QBENCH_LABELS_INCLUDE
};
#endif

workload::NetworkType network;

// GCC would turn this copy into a memcpy call where the stored and value types share a layout, linking a
// C library function the baseline does not carry.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void loadSample(std::size_t sample,
                                                                                ValueType* inputs) {
    for (std::size_t input = 0; input < QBENCH_INPUTS; ++input) {
        inputs[input] = workload::fromStored(testStored[sample * QBENCH_INPUTS + input]);
    }
}

// One inference, the forward region measured around it; its outputs.
static inline void forwardMeasured(const ValueType* inputs, ValueType* outputs) {
    qbench_region_begin(qbenchRegionForward);
    Adapter::feedForward(network, inputs);
    qbench_region_end(qbenchRegionForward);
    Adapter::getLearnedValues(network, outputs);
}

#ifdef QBENCH_REGRESSION
// A regression (QBENCH_REGRESSION): the first output as reported (raw, or a float x 2^16); the host reads it
// back in the target's units.
workload::ReportedType regress(const ValueType* inputs) {
    ValueType outputs[QBENCH_OUTPUTS];
    forwardMeasured(inputs, outputs);
    return workload::reported(outputs[0]);
}
#else
// The first output with the largest value, as numpy.argmax picks it.
std::int32_t classify(const ValueType* inputs) {
    ValueType outputs[QBENCH_OUTPUTS];
    forwardMeasured(inputs, outputs);
    std::int32_t best = 0;
    workload::Number largest = workload::number(outputs[0]);
    for (std::int32_t output = 1; output < QBENCH_OUTPUTS; ++output) {
        const workload::Number value = workload::number(outputs[output]);
        if (value > largest) {
            best = output;
            largest = value;
        }
    }
    return best;
}
#endif

}  // namespace

int main() {
    qbench::ReportLine("begin")
        .field("workload", QBENCH_WORKLOAD_NAME)
        .field("qformat", QBENCH_FORMAT_NAME)
        .field("variant", "inference");
    qbench_region_begin(qbenchRegionEmpty);
    qbench_region_end(qbenchRegionEmpty);
    workload::loadWeights<Adapter, workload::Shape>(network, deployedWeights.at);
#ifdef QBENCH_REGRESSION
    qbench::ReportLine("predictions").listOf("outputs", QBENCH_SAMPLES, [](std::size_t sample) {
        ValueType inputs[QBENCH_INPUTS];
        loadSample(sample, inputs);
        return regress(inputs);
    });
    qbench::ReportLine("regressed").field("total", std::uint32_t{QBENCH_SAMPLES});
#else
    // Each prediction is printed as it is made: no array of them in RAM.
    std::uint32_t correct = 0;
    qbench::ReportLine("predictions").listOf("classes", QBENCH_SAMPLES, [&correct](std::size_t sample) {
        ValueType inputs[QBENCH_INPUTS];
        loadSample(sample, inputs);
        const std::int32_t predicted = classify(inputs);
        correct += predicted == testLabels[sample] ? 1u : 0u;
        return predicted;
    });
    qbench::ReportLine("classified").field("correct", correct).field("total", std::uint32_t{QBENCH_SAMPLES});
#endif
    qbench::ReportLine("end").field("status", 0);
    return 0;
}
