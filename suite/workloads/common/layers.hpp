// Weights through the adapter, in either of the contract's forms (docs/libraries.md#weights):
//
// - flat: loadWeights(Network&, const Weight*) takes the table as it is, in the descriptor's weight_order, and
//   weight(const Network&, index) reads one weight in qbench's neuron order;
// - per layer: setLayer(Network&, layer, const Weight* weights, const Weight* biases) and
//   getLayer(const Network&, layer, Value* weights, Value* biases), a layer's weights input-major
//   (weights[input * neurons + neuron]) and its biases; qbench maps its neuron-order table (weight_order
//   "neuron") to them, so the adapter never computes an index.
//
// Selected at compile time: an adapter with loadWeights (or weight) uses it. No heap, no division (a `/` pulls
// the run-time's division helpers into an ARMv6-M image).
#ifndef QBENCH_LAYERS_HPP
#define QBENCH_LAYERS_HPP

#include <cstddef>

#include "contract.hpp"

namespace workload {

// The layers of a Shape: layer l maps inputs(l) values to neurons(l).
template <typename Shape>
struct Layers {
    static constexpr std::size_t count = Shape::hiddenLayers + 1;
    static constexpr std::size_t inputs(std::size_t layer) { return layer == 0 ? Shape::inputs : Shape::hiddenNeurons; }
    static constexpr std::size_t neurons(std::size_t layer) {
        return layer == Shape::hiddenLayers ? Shape::outputs : Shape::hiddenNeurons;
    }
    static constexpr std::size_t values(std::size_t layer) { return (inputs(layer) + 1) * neurons(layer); }
    static constexpr std::size_t largest() {
        std::size_t largest = 0;
        for (std::size_t layer = 0; layer < count; ++layer) largest = values(layer) > largest ? values(layer) : largest;
        return largest;
    }
};

// One layer as setLayer and getLayer see it: its weights input-major, its biases right after them. Static (one
// per value type and size): on the stack, digits' 65 x 32 layer would overflow the images' 4 KB.
template <typename T, std::size_t Size>
inline T layerBuffer[Size];

template <typename A, typename Shape, typename N, typename W>
void loadWeights(N& network, const W* table) {
    if constexpr (qbench::contract::Has_loadWeights<A, N, W>::value) {
        A::loadWeights(network, table);
    } else {
        W* buffer = layerBuffer<W, Layers<Shape>::largest()>;
        for (std::size_t layer = 0; layer < Layers<Shape>::count; ++layer) {
            const std::size_t in = Layers<Shape>::inputs(layer), out = Layers<Shape>::neurons(layer);
            for (std::size_t neuron = 0; neuron < out; ++neuron) {  // neuron order: its bias, then its weights
                buffer[in * out + neuron] = *table++;
                for (std::size_t input = 0; input < in; ++input) buffer[input * out + neuron] = *table++;
            }
            A::setLayer(network, layer, static_cast<const W*>(buffer), static_cast<const W*>(buffer + in * out));
        }
    }
}

// Weight `index` in qbench's neuron order.
template <typename A, typename Shape, typename N, typename V>
V weight(const N& network, std::size_t index) {
    if constexpr (qbench::contract::Has_weight<A, N, V>::value) {
        return A::weight(network, index);
    } else {
        std::size_t layer = 0, neuron = 0;
        for (; index >= Layers<Shape>::values(layer); ++layer) index -= Layers<Shape>::values(layer);
        const std::size_t in = Layers<Shape>::inputs(layer), out = Layers<Shape>::neurons(layer);
        for (; index > in; ++neuron) index -= in + 1;
        V* buffer = layerBuffer<V, Layers<Shape>::largest()>;
        A::getLayer(network, layer, buffer, buffer + in * out);
        return index == 0 ? buffer[in * out + neuron] : buffer[(index - 1) * out + neuron];
    }
}

}  // namespace workload

#endif  // QBENCH_LAYERS_HPP
