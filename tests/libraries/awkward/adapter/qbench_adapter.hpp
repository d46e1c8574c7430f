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

    // Where qbench's weight `index` (neuron by neuron, bias first) is in awk: its layer, and its place there
    // (input-major, weight[input][neuron], then the biases).
    struct Place { std::size_t layer, at; };
    template <typename N> static Place place(std::size_t index) {
        std::size_t layer = 0;
        for (; index >= N::layerWeightCount(layer); ++layer) index -= N::layerWeightCount(layer);
        const std::size_t in = N::layerSize(layer), out = N::layerSize(layer + 1);
        const std::size_t neuron = index / (in + 1), column = index % (in + 1);
        return {layer, column == 0 ? in * out + neuron : (column - 1) * out + neuron};
    }

    // One layer in awk's order. Static: on the stack, digits' 65 x 32 layer would overflow qbench's 4 KB.
    template <typename N> static inline typename N::ValueType layerBuffer[N::LargestLayerWeights];
    template <typename N, typename V> static void loadWeights(N& network, const V* weights) {
        for (std::size_t layer = 0, first = 0; layer < N::NumberOfLayers; first += N::layerWeightCount(layer++)) {
            for (std::size_t i = first; i < first + N::layerWeightCount(layer); ++i)
                layerBuffer<N>[place<N>(i).at] = weights[i];
            network.setLayerWeights(layer, layerBuffer<N>);
        }
    }
    template <typename N> static auto weight(const N& network, std::size_t index) {
        network.getLayerWeights(place<N>(index).layer, layerBuffer<N>);
        return layerBuffer<N>[place<N>(index).at];
    }

    template <typename N, typename V> static void feedForward(N& network, const V* inputs) { network.feedForward(inputs); }
    template <typename N, typename V> static void getLearnedValues(N& network, V* outputs) { network.getLearnedValues(outputs); }
    // The article's training step: calculateError, then trainNetwork unless the error is within tolerance.
    template <typename N, typename V> static void train(N& network, const V* targets) {
        if (!N::TransferFunctionsPolicy::isWithinZeroTolerance(network.calculateError(targets)))
            network.trainNetwork(targets);
    }
};
