// Transfer-functions policies: which activations a network uses, where its
// initial weights come from, and its training constants.
#ifndef QNN_TRANSFER_FUNCTIONS_HPP
#define QNN_TRANSFER_FUNCTIONS_HPP

#include <type_traits>

#include "qvalue.hpp"
#include "value_traits.hpp"

namespace qnn {

// Training constants as doubles: they are converted in constant expressions,
// so they cost no floating-point code. Supply another struct with the same
// three members to change them at compile time; the network's setters change
// learning rate and momentum at run time.
struct DefaultTrainingParameters {
    static constexpr double learningRate = 0.5;
    static constexpr double momentum = 0.5;
    // Errors this small are not worth a training step.
    static constexpr double zeroTolerance = 1.0 / 256.0;
};

namespace detail {

template <typename V, typename RandomNumberGenerator, typename HiddenActivation,
          typename OutputActivation, typename TrainingParameters>
struct TransferFunctions {
    using ValueType = V;
    using RandomNumberGeneratorPolicy = RandomNumberGenerator;
    using HiddenNeuronActivationPolicy = HiddenActivation;
    using OutputNeuronActivationPolicy = OutputActivation;
    using TrainingParametersType = TrainingParameters;

    static constexpr V initialLearningRate =
        ValueTraits<V>::fromDouble(TrainingParameters::learningRate);
    static constexpr V initialMomentum = ValueTraits<V>::fromDouble(TrainingParameters::momentum);
    static constexpr V zeroTolerance = ValueTraits<V>::fromDouble(TrainingParameters::zeroTolerance);

    static bool isWithinZeroTolerance(V error) {
        return error <= zeroTolerance && -zeroTolerance <= error;
    }

    static V generateRandomWeight() { return RandomNumberGenerator::generateRandomWeight(); }
};

}  // namespace detail

template <typename V, typename RandomNumberGenerator, typename HiddenActivation,
          typename OutputActivation, typename TrainingParameters = DefaultTrainingParameters>
struct FixedPointTransferFunctions
    : detail::TransferFunctions<V, RandomNumberGenerator, HiddenActivation, OutputActivation,
                                TrainingParameters> {
    static_assert(isQValue<V>, "qnn: FixedPointTransferFunctions needs a QValue type");
};

template <typename V, typename RandomNumberGenerator, typename HiddenActivation,
          typename OutputActivation, typename TrainingParameters = DefaultTrainingParameters>
struct FloatingPointTransferFunctions
    : detail::TransferFunctions<V, RandomNumberGenerator, HiddenActivation, OutputActivation,
                                TrainingParameters> {
    static_assert(std::is_floating_point_v<V>,
                  "qnn: FloatingPointTransferFunctions needs float or double");
};

}  // namespace qnn

#endif  // QNN_TRANSFER_FUNCTIONS_HPP
