// emlearn's float MLP (eml_net.h) through qbench's library contract (docs/libraries.md), set up as emlearn's
// code generator sets up a "loadable" network: an EmlNetLayer per layer pointing into the const weight table
// (it stays in flash), two activation buffers as wide as the widest layer, and inference by eml_net_infer.
#ifndef EMLEARN_QBENCH_ADAPTER_HPP
#define EMLEARN_QBENCH_ADAPTER_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "contract.hpp"

// eml_net.h is C meant for one translation unit: it defines static helpers a program need not use
// (eml_error_str, the activation names), which -Wall -Wextra report as unused. The warnings are about
// emlearn's header, not this adapter, so they are silenced around the include only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#include <eml_net.h>
#pragma GCC diagnostic pop

struct QbenchAdapter {
    using FloatingPoint = float;  // emlearn's fixed-point network is unimplemented (qbench-library.toml)

    static constexpr EmlNetActivationFunction activation(qbench::Activation f) {
        using A = qbench::Activation;
        return f == A::tanh ? EmlNetActivationTanh : f == A::sigmoid ? EmlNetActivationLogistic
               : f == A::relu ? EmlNetActivationRelu : EmlNetActivationIdentity;
    }

    template <typename V, typename S>
    struct Network {
        using Shape = S;
        static_assert(S::hiddenLayers >= 1, "eml_net_infer runs networks of two layers or more");
        static constexpr std::size_t layers = S::hiddenLayers + 1;
        static constexpr std::size_t width = std::max({S::inputs, S::hiddenNeurons, S::outputs});  // widest layer
        EmlNetLayer layer[layers];
        float activations1[width];
        float activations2[width];  // where eml_net_infer leaves the outputs
        EmlNet net;
    };

    // Input-major order (qbench-library.toml): per layer, weights[i * n_outputs + o], then its biases.
    template <typename N>
    static void loadWeights(N& network, const float* weights) {
        for (std::size_t l = 0; l < N::layers; ++l) {
            const bool last = l + 1 == N::layers;
            const std::size_t inputs = l == 0 ? N::Shape::inputs : N::Shape::hiddenNeurons;
            const std::size_t outputs = last ? N::Shape::outputs : N::Shape::hiddenNeurons;
            network.layer[l] = {std::int32_t(outputs), std::int32_t(inputs), weights, weights + inputs * outputs,
                                activation(last ? N::Shape::outputActivation : N::Shape::hiddenActivation)};
            weights += (inputs + 1) * outputs;
        }
        network.net = {std::int32_t(N::layers), network.layer, network.activations1, network.activations2,
                       std::int32_t(N::width)};
    }

    // eml_net_infer runs the layers in turn (a hidden layer's outputs copied back into activations1).
    template <typename N>
    static void feedForward(N& network, const float* inputs) { eml_net_infer(&network.net, inputs, N::Shape::inputs); }
    template <typename N>
    static void getLearnedValues(N& network, float* outputs) {
        std::copy_n(network.activations2, N::Shape::outputs, outputs);
    }
};

#endif  // EMLEARN_QBENCH_ADAPTER_HPP
