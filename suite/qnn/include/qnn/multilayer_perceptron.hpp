// MultilayerPerceptron: a fully connected network, trained on the device by
// backpropagation with momentum, or inference-only when IsTrainable = false.
//
// Arithmetic (mirrored bit for bit by qbench.models.reference; see value_traits.hpp):
// - A neuron's net input is the exact sum bias + sum(weight * input), rounded
//   and fitted once. Its output is the activation of the net input.
// - Training (after feedForward): output deltas (target - y) * f'(y); hidden
//   deltas f'(y) * (the exact sum of weight * downstream delta, rounded and
//   fitted once), using the weights before this step's update; each neuron's
//   delta is scaled by the learning rate once, then every connection changes by
//   (scaledDelta * source + momentum * previousChange), summed exactly and
//   fitted once, and weight += change.
//
// Weights live in one flat array, layer by layer from the inputs; within a
// layer, neuron by neuron; for each neuron its bias first, then one weight per
// neuron of the layer before. setWeights/getWeights use this order.
//
// State: a trainable network owns its weights, the neuron outputs, per
// connection only the previous change (momentum needs it across steps), and a
// copy of the inputs; gradients and current changes are computed and applied
// in one pass, and deltas live on the stack during trainNetwork. An
// inference-only network owns only the neuron outputs and a pointer to its
// weights: setWeights does not copy, so the weights stay where they are (a
// const table in flash, typically) and must outlive the network's use.
//
// Narrow weights (inference-only): W, a signed QValue no wider than V with the
// same rounding and overflow, stores the weights and biases (8-bit weights
// halve a Q8.8 network's table). A net input is then the exact sum
// bias * 2^F + sum(weight * input) at 2^-(F + W's fractional bits), rounded
// and fitted into V once, as before.
#ifndef QNN_MULTILAYER_PERCEPTRON_HPP
#define QNN_MULTILAYER_PERCEPTRON_HPP

#include <cstddef>
#include <type_traits>
#include <utility>

#include "kernels.hpp"
#include "value_traits.hpp"

// GCC turns copy and clearing loops into memcpy/memset calls, which on a
// microcontroller links a few hundred bytes of C library for a dozen words.
#if defined(__GNUC__) && !defined(__clang__)
#define QNN_NO_LOOP_TO_LIBRARY_CALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define QNN_NO_LOOP_TO_LIBRARY_CALL
#endif

namespace qnn {

namespace detail {

template <std::size_t Inputs, std::size_t HiddenLayers, std::size_t NeuronsPerHiddenLayer,
          std::size_t Outputs>
struct PerceptronShape {
    static_assert(Inputs >= 1 && Outputs >= 1, "qnn: a network needs inputs and outputs");
    static_assert(HiddenLayers == 0 || NeuronsPerHiddenLayer >= 1,
                  "qnn: hidden layers need at least one neuron");

    static constexpr std::size_t weightLayerCount = HiddenLayers + 1;

    // Layer 0 is the inputs, layer HiddenLayers + 1 the outputs.
    static constexpr std::size_t layerSize(std::size_t layer) {
        return layer == 0 ? Inputs : (layer <= HiddenLayers ? NeuronsPerHiddenLayer : Outputs);
    }

    // First weight of the connections into layer + 1.
    static constexpr std::size_t weightOffset(std::size_t layer) {
        return layer == 0 ? 0
                          : NeuronsPerHiddenLayer * (Inputs + 1) +
                                (layer - 1) * NeuronsPerHiddenLayer * (NeuronsPerHiddenLayer + 1);
    }

    // First output of layer (>= 1) among the non-input neurons.
    static constexpr std::size_t neuronOffset(std::size_t layer) {
        return (layer - 1) * NeuronsPerHiddenLayer;
    }

    static constexpr std::size_t weightCount =
        weightOffset(weightLayerCount - 1) + Outputs * (layerSize(weightLayerCount - 1) + 1);
    static constexpr std::size_t neuronCount = HiddenLayers * NeuronsPerHiddenLayer + Outputs;
};

template <typename V, std::size_t Inputs, std::size_t Weights, typename TransferFunctions,
          bool IsTrainable>
struct TrainingState {};

template <typename V, std::size_t Inputs, std::size_t Weights, typename TransferFunctions>
struct TrainingState<V, Inputs, Weights, TransferFunctions, true> {
    V previousChanges[Weights];
    V inputValues[Inputs];
    V learningRate = TransferFunctions::initialLearningRate;
    V momentum = TransferFunctions::initialMomentum;
};

}  // namespace detail

template <typename V, std::size_t Inputs, std::size_t HiddenLayers,
          std::size_t NeuronsPerHiddenLayer, std::size_t Outputs, typename TransferFunctions,
          bool IsTrainable = true, typename W = V>
class MultilayerPerceptron
    : private detail::TrainingState<
          V, Inputs,
          detail::PerceptronShape<Inputs, HiddenLayers, NeuronsPerHiddenLayer, Outputs>::weightCount,
          TransferFunctions, IsTrainable> {
    using Shape = detail::PerceptronShape<Inputs, HiddenLayers, NeuronsPerHiddenLayer, Outputs>;
    using Traits = ValueTraits<V>;
    using Accumulator = typename Traits::Accumulator;
    using HiddenActivation = typename TransferFunctions::HiddenNeuronActivationPolicy;
    using OutputActivation = typename TransferFunctions::OutputNeuronActivationPolicy;

    static_assert(std::is_same_v<W, V> || !IsTrainable,
                  "qnn: narrow weights serve inference-only networks (IsTrainable = false): training updates "
                  "weights at the values' resolution");
    static_assert(std::is_same_v<W, V> || narrowWeightsFit<V, W>,
                  "qnn: narrow weights need a signed QValue of signed values, no wider than the values, with "
                  "the same rounding and overflow policies");

public:
    using ValueType = V;
    using WeightType = W;
    using NeuralNetworkTransferFunctionsPolicy = TransferFunctions;
    static constexpr bool isTrainable = IsTrainable;
    static constexpr std::size_t NumberOfInputs = Inputs;
    static constexpr std::size_t NumberOfOutputs = Outputs;
    static constexpr std::size_t NumberOfWeights = Shape::weightCount;

    // An inference-only network starts with no weights and costs no start-up
    // code; it needs setWeights before feedForward.
    template <bool Trainable = IsTrainable, std::enable_if_t<!Trainable, int> = 0>
    constexpr MultilayerPerceptron() : weights{}, neuronOutputs{} {}

    // A trainable network starts from random weights and no momentum. (One loop
    // for both, kept whole: split, the zeroing would link the C library's memset.)
    template <bool Trainable = IsTrainable, std::enable_if_t<Trainable, int> = 0>
    QNN_NO_LOOP_TO_LIBRARY_CALL MultilayerPerceptron() {
        for (std::size_t i = 0; i < NumberOfWeights; ++i) {
            weights[i] = TransferFunctions::generateRandomWeight();
            this->previousChanges[i] = V{};
        }
    }

    void feedForward(const V* inputs) {
        if constexpr (IsTrainable) {
            for (std::size_t i = 0; i < Inputs; ++i) {
                this->inputValues[i] = inputs[i];
            }
        }
        forwardLayers(inputs, std::make_index_sequence<Shape::weightLayerCount>{});
    }

    void getLearnedValues(V* outputs) const {
        const V* results = neuronOutputs + Shape::neuronOffset(Shape::weightLayerCount);
        for (std::size_t i = 0; i < Outputs; ++i) {
            outputs[i] = results[i];
        }
    }

    // The largest |target - output| over the outputs of the last feedForward.
    V calculateError(const V* targets) const {
        static_assert(IsTrainable,
                      "qnn: calculateError() is part of training; this network was built with "
                      "IsTrainable = false");
        V largest{};
        if constexpr (IsTrainable) {
            const V* results = neuronOutputs + Shape::neuronOffset(Shape::weightLayerCount);
            for (std::size_t i = 0; i < Outputs; ++i) {
                const V error = targets[i] > results[i] ? targets[i] - results[i]
                                                        : results[i] - targets[i];
                largest = error > largest ? error : largest;
            }
        }
        return largest;
    }

    // One backpropagation step towards targets, for the last feedForward.
    void trainNetwork(const V* targets) {
        static_assert(IsTrainable,
                      "qnn: trainNetwork() is part of training; this network was built with "
                      "IsTrainable = false");
        if constexpr (IsTrainable) {
            V deltas[Shape::neuronCount];
            computeDeltas(targets, deltas);
            updateWeights(deltas);
        }
    }

    // Trainable: copies the weights (and forgets momentum). Inference-only:
    // uses them where they are, without copying.
    QNN_NO_LOOP_TO_LIBRARY_CALL void setWeights(const W* source) {
        if constexpr (IsTrainable) {
            for (std::size_t i = 0; i < NumberOfWeights; ++i) {
                weights[i] = source[i];
                this->previousChanges[i] = V{};  // momentum from the old weights no longer applies
            }
        } else {
            weights = source;
        }
    }

    void getWeights(W* destination) const {
        for (std::size_t i = 0; i < NumberOfWeights; ++i) {
            destination[i] = weights[i];
        }
    }

    W getWeight(std::size_t index) const { return weights[index]; }

    // How layer `layer` (0: the connections from the inputs) computes its sums on this target: the kernel,
    // neurons per pass, the sums' width, whether the activation is taken from the sum directly.
    static constexpr LayerKernel layerKernel(std::size_t layer) {
        return kernelOf(layer, std::make_index_sequence<Shape::weightLayerCount>{});
    }

    void setLearningRate(V rate) {
        static_assert(IsTrainable, "qnn: an inference-only network has no learning rate");
        if constexpr (IsTrainable) {
            this->learningRate = rate;
        }
    }

    void setMomentum(V momentum) {
        static_assert(IsTrainable, "qnn: an inference-only network has no momentum");
        if constexpr (IsTrainable) {
            this->momentum = momentum;
        }
    }

private:
    // Layer by layer at compile time: sizes and activations are constants, so
    // no layer pays for another's activation or loop bounds.
    template <std::size_t... Layers>
    void forwardLayers(const V* inputs, std::index_sequence<Layers...>) {
        const W* weight = weights;
        ((weight = forwardLayer<Layers>(Layers == 0 ? inputs : neuronOutputs + Shape::neuronOffset(Layers), weight)),
         ...);
    }

    // What layer `Layer` (the connections into layer Layer + 1) computes with: its activation, the range of
    // its inputs (anything for the first layer, the hidden activation's outputs after it), and the kernel
    // kernels.hpp chooses for its fan-in, its size, that range and the target.
    template <std::size_t Layer>
    struct LayerTypes {
        static constexpr std::size_t sourceCount = Shape::layerSize(Layer);
        static constexpr std::size_t count = Shape::layerSize(Layer + 1);
        using Activation =
            std::conditional_t<Layer + 1 == Shape::weightLayerCount, OutputActivation, HiddenActivation>;
        using InputRange = std::conditional_t<Layer == 0, detail::FullRange<V>,
                                              detail::OutputRange<HiddenActivation, V>>;
        using Plan = detail::LayerPlan<V, W, sourceCount, count, InputRange>;
        using Sums = detail::RowSums<V, W, sourceCount, InputRange, Plan::kind, Plan::rows>;
        using Output = detail::SumActivation<Activation, V, fractionalBitsOf<W>>;
    };

    template <std::size_t Layer>
    static constexpr LayerKernel kernelOf() {
        using L = LayerTypes<Layer>;
        constexpr std::size_t sumBits = sizeof(typename L::Sums::Sum) * 8;
        return LayerKernel{L::Plan::kind, L::Plan::rows, sumBits, L::Output::fused && sumBits <= 32};
    }

    template <std::size_t... Layers>
    static constexpr LayerKernel kernelOf(std::size_t layer, std::index_sequence<Layers...>) {
        LayerKernel result{};
        ((result = layer == Layers ? kernelOf<Layers>() : result), ...);
        return result;
    }

    // Returns where the next layer's weights start. `rows` neurons per pass over the inputs; a last pass
    // that would run past the layer starts earlier instead, recomputing a few neurons.
    template <std::size_t Layer>
    const W* forwardLayer(const V* source, const W* weight) {
        using L = LayerTypes<Layer>;
        using Plan = typename L::Plan;
        constexpr std::size_t sourceCount = L::sourceCount;
        constexpr std::size_t count = L::count;
        V* destination = neuronOutputs + Shape::neuronOffset(Layer + 1);
#if QNN_MVE
        // Helium: the layer's sums first, then the activation four neurons at a time (activation.hpp).
        if constexpr ((Plan::kind == KernelKind::mve || Plan::kind == KernelKind::mveBytes) && L::Output::vectorised) {
            using Sum = typename L::Sums::Sum;
            static_assert(sizeof(Sum) == 4, "qnn: the Helium kernels take 32-bit sums");
            Sum sums[count];
            for (std::size_t block = 0; block < Plan::blocks; ++block) {
                std::size_t first = block * Plan::rows;
                if constexpr (count % Plan::rows != 0) {
                    first = block + 1 == Plan::blocks ? count - Plan::rows : first;
                }
                L::Sums::compute(*reinterpret_cast<Sum(*)[Plan::rows]>(sums + first), weight + first * (sourceCount + 1),
                                 source);
            }
            L::Output::template applyAll<count>(destination, sums);
            return weight + count * (sourceCount + 1);
        }
#endif
        for (std::size_t block = 0; block < Plan::blocks; ++block) {
            std::size_t first = block * Plan::rows;
            if constexpr (count % Plan::rows != 0) {
                first = block + 1 == Plan::blocks ? count - Plan::rows : first;
            }
            typename L::Sums::Sum sums[Plan::rows];
            L::Sums::compute(sums, weight + first * (sourceCount + 1), source);
            for (std::size_t k = 0; k < Plan::rows; ++k) {
                destination[first + k] = L::Output::apply(sums[k]);
            }
        }
        return weight + count * (sourceCount + 1);
    }

    void computeDeltas(const V* targets, V* deltas) const {
        const std::size_t outputOffset = Shape::neuronOffset(Shape::weightLayerCount);
        for (std::size_t i = 0; i < Outputs; ++i) {
            const V output = neuronOutputs[outputOffset + i];
            deltas[outputOffset + i] =
                (targets[i] - output) * OutputActivation::activationFunctionDerivative(output);
        }
        // Weight layer `layer` feeds layer + 1 from the hidden layer `layer`.
        for (std::size_t layer = Shape::weightLayerCount - 1; layer >= 1; --layer) {
            const std::size_t sourceCount = Shape::layerSize(layer);
            const std::size_t destinationCount = Shape::layerSize(layer + 1);
            const V* downstream = deltas + Shape::neuronOffset(layer + 1);
            const V* layerWeights = weights + Shape::weightOffset(layer);
            for (std::size_t source = 0; source < sourceCount; ++source) {
                Accumulator sum = Traits::empty();
                for (std::size_t neuron = 0; neuron < destinationCount; ++neuron) {
                    sum = Traits::multiplyAccumulate(
                        sum, layerWeights[neuron * (sourceCount + 1) + 1 + source], downstream[neuron]);
                }
                const std::size_t index = Shape::neuronOffset(layer) + source;
                deltas[index] = Traits::narrow(sum) *
                                HiddenActivation::activationFunctionDerivative(neuronOutputs[index]);
            }
        }
    }

    void updateWeights(const V* deltas) {
        V* weight = weights;
        V* previousChange = this->previousChanges;
        const V* source = this->inputValues;
        for (std::size_t layer = 0; layer < Shape::weightLayerCount; ++layer) {
            const std::size_t sourceCount = Shape::layerSize(layer);
            const V* layerDeltas = deltas + Shape::neuronOffset(layer + 1);
            for (std::size_t neuron = 0; neuron < Shape::layerSize(layer + 1); ++neuron) {
                const V scaledDelta = this->learningRate * layerDeltas[neuron];
                for (std::size_t i = 0; i <= sourceCount; ++i) {
                    // i == 0 is the bias, whose input is 1.
                    const Accumulator gradient = i == 0 ? Traits::start(scaledDelta)
                                                        : Traits::multiplyAccumulate(Traits::empty(), scaledDelta,
                                                                                     source[i - 1]);
                    const V change =
                        Traits::narrow(Traits::multiplyAccumulate(gradient, this->momentum, *previousChange));
                    *weight = *weight + change;
                    *previousChange = change;
                    ++weight;
                    ++previousChange;
                }
            }
            source = neuronOutputs + Shape::neuronOffset(layer + 1);
        }
    }

    // Trainable: the weights themselves; inference-only: where they are.
    std::conditional_t<IsTrainable, V[NumberOfWeights], const W*> weights;
    // Outputs of every non-input neuron, layer by layer.
    V neuronOutputs[Shape::neuronCount];
};

}  // namespace qnn

#endif  // QNN_MULTILAYER_PERCEPTRON_HPP
