// qnn through qbench's library contract (docs/libraries.md): qnn already
// speaks the article's vocabulary, so each operation forwards to one call.
#ifndef QNN_QBENCH_ADAPTER_HPP
#define QNN_QBENCH_ADAPTER_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "contract.hpp"
#include "qnn/qnn.hpp"

struct QbenchAdapter {
    template <int IntegerBits, int FractionalBits, bool Signed>
    using FixedPoint = qnn::QValue<IntegerBits, FractionalBits, Signed>;
    using FloatingPoint = float;

    template <typename V>
    static constexpr V fromRaw(std::int64_t raw) { return V::fromRaw(static_cast<typename V::StorageType>(raw)); }
    template <typename V>
    static constexpr std::int64_t toRaw(V value) { return value.getValue(); }

    template <qbench::Activation, typename V> struct Policy;
    template <typename V> struct Policy<qbench::Activation::tanh, V> { using type = qnn::TanhActivationPolicy<V>; };
    template <typename V> struct Policy<qbench::Activation::sigmoid, V> { using type = qnn::SigmoidActivationPolicy<V>; };
    template <typename V> struct Policy<qbench::Activation::relu, V> { using type = qnn::ReluActivationPolicy<V>; };
    template <typename V> struct Policy<qbench::Activation::linear, V> { using type = qnn::LinearActivationPolicy<V>; };

    template <typename V, typename S, typename Random = qnn::XorshiftRandomNumberPolicy<V, S::weightSeed>,
              typename Hidden = typename Policy<S::hiddenActivation, V>::type,
              typename Output = typename Policy<S::outputActivation, V>::type>
    using TransferFunctions = std::conditional_t<std::is_floating_point_v<V>,
                                                 qnn::FloatingPointTransferFunctions<V, Random, Hidden, Output>,
                                                 qnn::FixedPointTransferFunctions<V, Random, Hidden, Output>>;

    template <typename V, typename S>
    using Network = qnn::MultilayerPerceptron<V, S::inputs, S::hiddenLayers, S::hiddenNeurons, S::outputs,
                                              TransferFunctions<V, S>, S::isTrainable>;
    // Weights stored in their own, narrower Q format (inference only).
    template <typename V, typename W, typename S>
    using NetworkWithWeights = qnn::MultilayerPerceptron<V, S::inputs, S::hiddenLayers, S::hiddenNeurons, S::outputs,
                                                         TransferFunctions<V, S>, S::isTrainable, W>;

    // qnn's setWeights order is qbench's "neuron" order; an inference-only network reads them in place.
    template <typename N, typename W> static void loadWeights(N& network, const W* weights) { network.setWeights(weights); }
    template <typename N> static auto weight(const N& network, std::size_t index) { return network.getWeight(index); }
    template <typename N, typename V> static void feedForward(N& network, const V* inputs) { network.feedForward(inputs); }
    template <typename N, typename V> static void getLearnedValues(N& network, V* outputs) { network.getLearnedValues(outputs); }

    // The article's training step: calculateError, then trainNetwork unless the error is within tolerance.
    template <typename N, typename V>
    static void train(N& network, const V* targets) {
        if (!N::NeuralNetworkTransferFunctionsPolicy::isWithinZeroTolerance(network.calculateError(targets))) {
            network.trainNetwork(targets);
        }
    }
};

#endif  // QNN_QBENCH_ADAPTER_HPP
