// awk::NeuralNetwork: a fully connected network of awk::Fixed values, trained
// by backpropagation with momentum, or inference-only (IsTrainable = false:
// no training state, and the training functions do not compile).
//
// Weights are set and read a layer at a time. Layer l of weights feeds neuron
// layer l + 1 from neuron layer l (neuron layer 0 is the inputs); its weights
// are stored input-major, weight[input][neuron] row by row, then one bias per
// neuron. Every product is truncated toward zero on its own; every sum wraps.
#ifndef AWK_NETWORK_HPP
#define AWK_NETWORK_HPP

#include <cstddef>
#include <cstdint>

// TransferFunctions' momentum in sixteenths: 8 (0.5) unless the build defines it. 16 (1) keeps every
// change forever (tests/libraries/awkward-wrapping uses it).
#ifndef AWK_MOMENTUM_SIXTEENTHS
#define AWK_MOMENTUM_SIXTEENTHS 8
#endif

namespace awk {

// The activations, initial weights and training constants of a network. Like
// the article's FixedPointTransferFunctions it takes the number of outputs,
// which its calculateError walks.
template <typename V, typename HiddenActivation, typename OutputActivation, std::size_t NumberOfOutputs,
          std::uint32_t Seed = 0x9A3B1F5Du>
struct TransferFunctions {
    using Hidden = HiddenActivation;
    using Output = OutputActivation;

    static V learningRate() { return V(1, 0); }                           // 1
    static V momentum() {  // 0.5 by default
        using Wide = typename V::Wide;
        return V::fromRaw(static_cast<typename V::Raw>((Wide(AWK_MOMENTUM_SIXTEENTHS) << V::fractionalBits) / 16));
    }
    static V zeroTolerance() {  // 1/256, or the format's step if coarser
        return V::fromRaw(typename V::Raw(1) << (V::fractionalBits > 8 ? V::fractionalBits - 8 : 0));
    }
    static bool isWithinZeroTolerance(V error) { return error <= zeroTolerance(); }

    // The largest |target - output|.
    static V calculateError(const V* targets, const V* outputs) {
        V largest;
        for (std::size_t i = 0; i < NumberOfOutputs; ++i) {
            const V error = targets[i] > outputs[i] ? targets[i] - outputs[i] : outputs[i] - targets[i];
            largest = error > largest ? error : largest;
        }
        return largest;
    }

    // Uniform in [-0.5, 0.5), from xorshift32 (13, 17, 5) seeded with Seed.
    static void randomWeights(V* weights, std::size_t count) {
        using Wide = typename V::Wide;
        std::uint32_t state = Seed != 0 ? Seed : 1u;
        for (std::size_t i = 0; i < count; ++i) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            const Wide fraction = Wide(state >> (32 - V::fractionalBits));
            weights[i] = V::fromRaw(static_cast<typename V::Raw>(fraction - (Wide(1) << (V::fractionalBits - 1))));
        }
    }
};

namespace detail {

template <std::size_t Inputs, std::size_t HiddenLayers, std::size_t HiddenNeurons, std::size_t Outputs>
struct Layout {
    static constexpr std::size_t size(std::size_t layer) {
        return layer == 0 ? Inputs : (layer <= HiddenLayers ? HiddenNeurons : Outputs);
    }
    static constexpr std::size_t weightsOf(std::size_t layer) { return (size(layer) + 1) * size(layer + 1); }
    static constexpr std::size_t firstWeight(std::size_t layer) {
        return layer == 0 ? 0 : firstWeight(layer - 1) + weightsOf(layer - 1);
    }
    static constexpr std::size_t firstNeuron(std::size_t layer) { return (layer - 1) * HiddenNeurons; }  // layer >= 1
    static constexpr std::size_t largest() {
        std::size_t most = 0;
        for (std::size_t layer = 0; layer <= HiddenLayers; ++layer) {
            most = weightsOf(layer) > most ? weightsOf(layer) : most;
        }
        return most;
    }
};

template <typename V, std::size_t Inputs, std::size_t Weights, bool IsTrainable>
struct Training {};

template <typename V, std::size_t Inputs, std::size_t Weights>
struct Training<V, Inputs, Weights, true> {
    V previousChanges[Weights];
    V lastInputs[Inputs];  // of the last feedForward
};

}  // namespace detail

template <typename V, std::size_t Inputs, std::size_t HiddenLayers, std::size_t HiddenNeurons, std::size_t Outputs,
          typename Functions, bool IsTrainable = true>
class NeuralNetwork
    : private detail::Training<V, Inputs, detail::Layout<Inputs, HiddenLayers, HiddenNeurons, Outputs>::firstWeight(
                                              HiddenLayers + 1), IsTrainable> {
    using Layout = detail::Layout<Inputs, HiddenLayers, HiddenNeurons, Outputs>;
    using Hidden = typename Functions::Hidden;
    using Output = typename Functions::Output;

public:
    using ValueType = V;
    using TransferFunctionsPolicy = Functions;
    static constexpr std::size_t NumberOfLayers = HiddenLayers + 1;  // layers of weights
    static constexpr std::size_t NumberOfWeights = Layout::firstWeight(NumberOfLayers);
    static constexpr std::size_t LargestLayerWeights = Layout::largest();
    static constexpr std::size_t NumberOfNeurons = HiddenLayers * HiddenNeurons + Outputs;  // besides the inputs

    // Neurons in neuron layer `layer` (0: the inputs) and weights in weight layer `layer`.
    static constexpr std::size_t layerSize(std::size_t layer) { return Layout::size(layer); }
    static constexpr std::size_t layerWeightCount(std::size_t layer) { return Layout::weightsOf(layer); }

    NeuralNetwork() {
        if constexpr (IsTrainable) {
            Functions::randomWeights(weights, NumberOfWeights);
        }
    }
    // Forgets the weights, so trained weights do not outlive the network.
    ~NeuralNetwork() {
        for (V& weight : weights) {
            weight = V();
        }
    }

    // Weight layer `layer`, in awk's order: weight[input][neuron], then the biases.
    void setLayerWeights(std::size_t layer, const V* source) {
        for (std::size_t i = 0; i < layerWeightCount(layer); ++i) {
            weights[Layout::firstWeight(layer) + i] = source[i];
            if constexpr (IsTrainable) {
                this->previousChanges[Layout::firstWeight(layer) + i] = V();
            }
        }
    }
    void getLayerWeights(std::size_t layer, V* destination) const {
        for (std::size_t i = 0; i < layerWeightCount(layer); ++i) {
            destination[i] = weights[Layout::firstWeight(layer) + i];
        }
    }

    void feedForward(const V* inputs) {
        if constexpr (IsTrainable) {
            for (std::size_t i = 0; i < Inputs; ++i) {
                this->lastInputs[i] = inputs[i];
            }
        }
        const V* source = inputs;
        for (std::size_t layer = 0; layer < NumberOfLayers; ++layer) {
            const std::size_t in = layerSize(layer), out = layerSize(layer + 1);
            const V* weight = weights + Layout::firstWeight(layer);
            V* destination = outputs + Layout::firstNeuron(layer + 1);
            for (std::size_t neuron = 0; neuron < out; ++neuron) {
                V sum = weight[in * out + neuron];
                for (std::size_t i = 0; i < in; ++i) {
                    sum += weight[i * out + neuron] * source[i];
                }
                destination[neuron] = layer + 1 == NumberOfLayers ? Output::activate(sum) : Hidden::activate(sum);
            }
            source = destination;
        }
    }

    void getLearnedValues(V* results) const {
        for (std::size_t i = 0; i < Outputs; ++i) {
            results[i] = outputs[Layout::firstNeuron(NumberOfLayers) + i];
        }
    }

    V calculateError(const V* targets) const {
        static_assert(IsTrainable, "awk: calculateError is training; this network has IsTrainable = false");
        return Functions::calculateError(targets, outputs + Layout::firstNeuron(NumberOfLayers));
    }

    // One backpropagation step with momentum towards targets, for the last feedForward.
    void trainNetwork(const V* targets) {
        static_assert(IsTrainable, "awk: trainNetwork is training; this network has IsTrainable = false");
        V deltas[NumberOfNeurons];
        const std::size_t last = Layout::firstNeuron(NumberOfLayers);
        for (std::size_t i = 0; i < Outputs; ++i) {
            deltas[last + i] = (targets[i] - outputs[last + i]) * Output::derivative(outputs[last + i]);
        }
        for (std::size_t layer = NumberOfLayers - 1; layer >= 1; --layer) {  // with the weights before this step
            const std::size_t in = layerSize(layer), out = layerSize(layer + 1);
            const V* weight = weights + Layout::firstWeight(layer);
            for (std::size_t i = 0; i < in; ++i) {
                V sum;
                for (std::size_t neuron = 0; neuron < out; ++neuron) {
                    sum += weight[i * out + neuron] * deltas[Layout::firstNeuron(layer + 1) + neuron];
                }
                const std::size_t index = Layout::firstNeuron(layer) + i;
                deltas[index] = sum * Hidden::derivative(outputs[index]);
            }
        }
        const V rate = Functions::learningRate(), momentum = Functions::momentum();
        for (std::size_t layer = 0; layer < NumberOfLayers; ++layer) {
            const std::size_t in = layerSize(layer), out = layerSize(layer + 1);
            const V* source = layer == 0 ? this->lastInputs : outputs + Layout::firstNeuron(layer);
            V* weight = weights + Layout::firstWeight(layer);
            V* previous = this->previousChanges + Layout::firstWeight(layer);
            for (std::size_t neuron = 0; neuron < out; ++neuron) {
                const V scaled = rate * deltas[Layout::firstNeuron(layer + 1) + neuron];
                for (std::size_t i = 0; i <= in; ++i) {  // i == in: the bias, whose input is 1
                    const std::size_t at = i * out + neuron;
                    const V change = (i == in ? scaled : scaled * source[i]) + momentum * previous[at];
                    weight[at] += change;
                    previous[at] = change;
                }
            }
        }
    }

private:
    V weights[NumberOfWeights];
    V outputs[NumberOfNeurons];  // every neuron's but the inputs', layer by layer
};

}  // namespace awk

#endif  // AWK_NETWORK_HPP
