// The XOR listing of "A Neural Network in Under 4KB", as printed, for
// tests/test_network.py: the test renames tinymind:: to qnn:: and compiles it
// against qnn. Only the random-number policy is named here (the article uses
// one without showing it) and main() wraps the loop and prints the outcome.
#include <cstdio>
#include <cstdlib>

#include "qnn/qnn.hpp"

// Q-Format value type
static const size_t NUMBER_OF_FIXED_BITS = 16;
static const size_t NUMBER_OF_FRACTIONAL_BITS = 16;
typedef tinymind::QValue<NUMBER_OF_FIXED_BITS, NUMBER_OF_FRACTIONAL_BITS, true> ValueType;

typedef tinymind::XorshiftRandomNumberPolicy<ValueType> RandomNumberGenerator;

// Neural network architecture
static const size_t NUMBER_OF_INPUTS = 2;
static const size_t NUMBER_OF_HIDDEN_LAYERS = 1;
static const size_t NUMBER_OF_NEURONS_PER_HIDDEN_LAYER = 4;
static const size_t NUMBER_OF_OUTPUTS = 1;
static const unsigned TRAINING_ITERATIONS = 5000;

// Typedef of transfer functions for the fixed-point neural network
typedef tinymind::FixedPointTransferFunctions< ValueType,
RandomNumberGenerator,
tinymind::TanhActivationPolicy<ValueType>,
tinymind::SigmoidActivationPolicy<ValueType>> TransferFunctionsType;
// typedef the neural network itself
typedef tinymind::MultilayerPerceptron< ValueType,
NUMBER_OF_INPUTS,
NUMBER_OF_HIDDEN_LAYERS,
NUMBER_OF_NEURONS_PER_HIDDEN_LAYER,
NUMBER_OF_OUTPUTS,
TransferFunctionsType> NeuralNetworkType;

static NeuralNetworkType testNeuralNet;

static void generateXorTrainingValue(ValueType& x, ValueType& y, ValueType& z)
{
const int randX = rand() & 0x1;
const int randY = rand() & 0x1;
const int result = (randX ^ randY);
x = ValueType(randX, 0);
y = ValueType(randY, 0);
z = ValueType(result, 0);
}

int main()
{
ValueType values[NUMBER_OF_INPUTS];
ValueType output[NUMBER_OF_OUTPUTS];
ValueType learnedValues[NUMBER_OF_OUTPUTS];
ValueType error;
srand(1);
for (unsigned i = 0; i < TRAINING_ITERATIONS; ++i)
{
generateXorTrainingValue(values[0], values[1], output[0]);
testNeuralNet.feedForward(&values[0]);
error = testNeuralNet.calculateError(&output[0]);
if (!NeuralNetworkType::NeuralNetworkTransferFunctionsPolicy::isWithinZeroTolerance(error))
{
testNeuralNet.trainNetwork(&output[0]);
}
testNeuralNet.getLearnedValues(&learnedValues[0]);
}
// The outcome: the network's answer for each of the four patterns.
for (int pattern = 0; pattern < 4; ++pattern)
{
values[0] = ValueType(pattern & 1, 0);
values[1] = ValueType(pattern >> 1, 0);
testNeuralNet.feedForward(&values[0]);
testNeuralNet.getLearnedValues(&learnedValues[0]);
std::printf("%d %d %f\n", pattern & 1, pattern >> 1, learnedValues[0].toDouble());
}
return 0;
}
