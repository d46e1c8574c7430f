// awk through qbench's library contract (docs/libraries.md, which walks through this file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "awk/awk.hpp"
#include "contract.hpp"

struct QbenchAdapter {
    template <int IntegerBits, int FractionalBits, bool Signed>
    using FixedPoint = std::enable_if_t<Signed, awk::Fixed<IntegerBits, FractionalBits>>;

    // Not constexpr (awk::Fixed cannot be): qbench converts its tables into RAM at start-up.
    template <typename V> static V fromRaw(std::int64_t raw) { return V::fromRaw(static_cast<typename V::Raw>(raw)); }
    template <typename V> static std::int64_t toRaw(V value) { return value.raw(); }

    template <qbench::Activation, typename V> struct Pick;
    template <typename V> struct Pick<qbench::Activation::tanh, V> { using type = awk::TanhActivation<V>; };
    template <typename V> struct Pick<qbench::Activation::sigmoid, V> { using type = awk::SigmoidActivation<V>; };
    template <typename V> struct Pick<qbench::Activation::relu, V> { using type = awk::ReluActivation<V>; };
    template <typename V> struct Pick<qbench::Activation::linear, V> { using type = awk::LinearActivation<V>; };

    template <typename V, typename S>
    using Network = awk::NeuralNetwork<V, S::inputs, S::hiddenLayers, S::hiddenNeurons, S::outputs,
                                       awk::TransferFunctions<V, typename Pick<S::hiddenActivation, V>::type,
                                                              typename Pick<S::outputActivation, V>::type,
                                                              S::outputs, S::weightSeed>,
                                       S::isTrainable>;

    // A layer at a time, as awk keeps it: its weights input-major, then its biases. qbench passes the biases
    // right after the weights, so awk takes the one buffer.
    template <typename N, typename V> static void setLayer(N& network, std::size_t layer, const V* weights, const V*) {
        network.setLayerWeights(layer, weights);
    }
    template <typename N, typename V> static void getLayer(const N& network, std::size_t layer, V* weights, V*) {
        network.getLayerWeights(layer, weights);
    }

    template <typename N, typename V> static void feedForward(N& network, const V* inputs) { network.feedForward(inputs); }
    template <typename N, typename V> static void getLearnedValues(N& network, V* outputs) { network.getLearnedValues(outputs); }
    // The article's training step: calculateError, then trainNetwork unless the error is within tolerance.
    template <typename N, typename V> static void train(N& network, const V* targets) {
        if (!N::TransferFunctionsPolicy::isWithinZeroTolerance(network.calculateError(targets)))
            network.trainNetwork(targets);
    }
};
