// What qbench gives a library adapter, and the checks that name what an
// adapter misses. The contract itself, with a worked example, is
// docs/libraries.md; each message below names its section.
//
// An adapter header defines `struct QbenchAdapter` at global scope. Every
// member is looked up through a template parameter, so a missing one fails a
// check with the contract's words instead of a compiler error deep in a
// workload.
#ifndef QBENCH_CONTRACT_HPP
#define QBENCH_CONTRACT_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace qbench {

enum class Activation { tanh, sigmoid, relu, linear };

// The network a build asks for: Network<Value, Shape> reads these.
template <std::size_t Inputs, std::size_t HiddenLayers, std::size_t HiddenNeurons, std::size_t Outputs,
          Activation Hidden, Activation Output, bool IsTrainable, std::uint32_t WeightSeed>
struct NetworkShape {
    static constexpr std::size_t inputs = Inputs;
    static constexpr std::size_t hiddenLayers = HiddenLayers;
    static constexpr std::size_t hiddenNeurons = HiddenNeurons;
    static constexpr std::size_t outputs = Outputs;
    static constexpr Activation hiddenActivation = Hidden;
    static constexpr Activation outputActivation = Output;
    static constexpr bool isTrainable = IsTrainable;
    // Seeds the library's own initial weights, where it takes a seed (qbench's are loaded over them unless a run
    // says --initial-weights library).
    static constexpr std::uint32_t weightSeed = WeightSeed;
    // Weights and biases, in the order the descriptor's weight_order names.
    static constexpr std::size_t weightCount =
        HiddenLayers == 0 ? (Inputs + 1) * Outputs
                          : (Inputs + 1) * HiddenNeurons + (HiddenLayers - 1) * (HiddenNeurons + 1) * HiddenNeurons +
                                (HiddenNeurons + 1) * Outputs;
};

namespace contract {

template <typename A, int I, int F, bool S, typename = void>
struct HasFixedPoint : std::false_type {};
template <typename A, int I, int F, bool S>
struct HasFixedPoint<A, I, F, S, std::void_t<typename A::template FixedPoint<I, F, S>>> : std::true_type {};

template <typename A, typename = void>
struct HasFloatingPoint : std::false_type {};
template <typename A>
struct HasFloatingPoint<A, std::void_t<typename A::FloatingPoint>> : std::true_type {};

template <typename A, typename V, typename = void>
struct HasRawConversions : std::false_type {};
template <typename A, typename V>
struct HasRawConversions<A, V, std::void_t<decltype(A::template fromRaw<V>(std::int64_t{})),
                                           decltype(std::int64_t{A::toRaw(std::declval<const V&>())})>>
    : std::is_same<decltype(A::template fromRaw<V>(std::int64_t{})), V> {};

template <typename A, typename V, typename Shape, typename = void>
struct HasNetwork : std::false_type {};
template <typename A, typename V, typename Shape>
struct HasNetwork<A, V, Shape, std::void_t<typename A::template Network<V, Shape>>> : std::true_type {};

template <typename A, typename V, typename W, typename Shape, typename = void>
struct HasNetworkWithWeights : std::false_type {};
template <typename A, typename V, typename W, typename Shape>
struct HasNetworkWithWeights<A, V, W, Shape, std::void_t<typename A::template NetworkWithWeights<V, W, Shape>>>
    : std::true_type {};

// The network an image builds: Network<V, Shape>, or NetworkWithWeights<V, W, Shape> for narrow weights W.
// (Named only once hasNetworkFor says it exists.)
template <typename A, typename V, typename Shape, typename W, bool Narrow = !std::is_same_v<V, W>>
struct NetworkOf {
    using type = typename A::template Network<V, Shape>;
};
template <typename A, typename V, typename Shape, typename W>
struct NetworkOf<A, V, Shape, W, true> {
    using type = typename A::template NetworkWithWeights<V, W, Shape>;
};

template <typename A, typename V, typename Shape, typename W>
constexpr bool hasNetworkFor() {
    if constexpr (std::is_same_v<V, W>) {
        return HasNetwork<A, V, Shape>::value;
    } else {
        return HasNetworkWithWeights<A, V, W, Shape>::value;
    }
}

// One detector per operation: does A::op(Network&, ...) (or A::op(const Network&, ...)) compile with these
// arguments, as the workloads pass them?
#define QBENCH_CONTRACT_OPERATION(name, network, ...)                                                      \
    template <typename A, typename N, typename V, typename = void>                                         \
    struct Has_##name : std::false_type {};                                                                \
    template <typename A, typename N, typename V>                                                          \
    struct Has_##name<A, N, V, std::void_t<decltype(A::name(std::declval<network>(), __VA_ARGS__))>> : std::true_type {};

QBENCH_CONTRACT_OPERATION(loadWeights, N&, std::declval<const V*>())
QBENCH_CONTRACT_OPERATION(setLayer, N&, std::size_t{}, std::declval<const V*>(), std::declval<const V*>())
QBENCH_CONTRACT_OPERATION(feedForward, N&, std::declval<const V*>())
QBENCH_CONTRACT_OPERATION(getLearnedValues, N&, std::declval<V*>())
QBENCH_CONTRACT_OPERATION(train, N&, std::declval<const V*>())
QBENCH_CONTRACT_OPERATION(weight, const N&, std::size_t{})
QBENCH_CONTRACT_OPERATION(getLayer, const N&, std::size_t{}, std::declval<V*>(), std::declval<V*>())
#undef QBENCH_CONTRACT_OPERATION

template <typename A, typename N, typename V>
constexpr bool weightIsValue() {
    if constexpr (Has_weight<A, N, V>::value) {
        return std::is_convertible_v<decltype(A::weight(std::declval<const N&>(), std::size_t{})), V>;
    }
    return Has_getLayer<A, N, V>::value;
}

// The network type and its operations, checked in the contract's words (each message names the docs' section).
// Returns true so a caller can static_assert on it; the checks are the static_asserts inside. W: the weights'
// type, V's own unless the image stores narrow weights.
template <typename A, typename V, typename Shape, typename W = V>
constexpr bool meetsNetworkContract() {
    static_assert(std::is_same_v<V, W> || HasNetworkWithWeights<A, V, W, Shape>::value,
                  "qbench library contract: QbenchAdapter has no NetworkWithWeights<Value, Weight, Shape> type, "
                  "which images with narrow weights need (docs/libraries.md#narrow-weights)");
    static_assert(!std::is_same_v<V, W> || HasNetwork<A, V, Shape>::value,
                  "qbench library contract: QbenchAdapter has no Network<Value, Shape> type "
                  "(docs/libraries.md#the-network)");
    if constexpr (hasNetworkFor<A, V, Shape, W>()) {
        using N = typename NetworkOf<A, V, Shape, W>::type;
        static_assert(Has_feedForward<A, N, V>::value,
                      "qbench library contract: QbenchAdapter has no feedForward(Network&, const Value* inputs) "
                      "(docs/libraries.md#operations)");
        static_assert(Has_getLearnedValues<A, N, V>::value,
                      "qbench library contract: QbenchAdapter has no getLearnedValues(Network&, Value* outputs) "
                      "(docs/libraries.md#operations)");
        static_assert(Has_loadWeights<A, N, W>::value || Has_setLayer<A, N, W>::value,
                      "qbench library contract: QbenchAdapter has neither loadWeights(Network&, const Weight* "
                      "weights) nor setLayer(Network&, std::size_t layer, const Weight* weights, const Weight* "
                      "biases) (Weight: the Value type unless weights are narrow) (docs/libraries.md#weights)");
        static_assert(!Shape::isTrainable || Has_train<A, N, V>::value,
                      "qbench library contract: QbenchAdapter has no train(Network&, const Value* targets), "
                      "which trainable images need (docs/libraries.md#operations)");
        static_assert(!Shape::isTrainable || weightIsValue<A, N, V>(),
                      "qbench library contract: QbenchAdapter has neither weight(const Network&, std::size_t "
                      "index) -> Value nor getLayer(const Network&, std::size_t layer, Value* weights, Value* "
                      "biases), which trainable images need to report their weights (docs/libraries.md#weights)");
    }
    return true;
}

}  // namespace contract
}  // namespace qbench

#endif  // QBENCH_CONTRACT_HPP
