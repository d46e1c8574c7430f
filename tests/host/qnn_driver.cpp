// Test driver: answers one request per line on stdin with one line on stdout,
// so pytest can compare qnn with the Python reference model (qbench.models.qformat,
// qbench.models.lut, qbench.models.reference) on the same raw values.
//
//   <format> <rounding> <overflow> <op> <args...>   e.g. q16.16 half-up saturate mul 98304 -65536
//   net <name> <command> <args...>                  e.g. net xor_q16.16 forward 65536 0
//
// Values are raw integers. Unknown requests answer "error ...".
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "qnn/qnn.hpp"

namespace {

constexpr int maxArguments = 64;

struct Request {
    const char* words[maxArguments + 4];
    int count = 0;
};

long long integer(const char* word) { return std::strtoll(word, nullptr, 10); }

void printList(const long long* values, int count) {
    for (int i = 0; i < count; ++i) {
        std::printf(i == 0 ? "%lld" : " %lld", values[i]);
    }
    std::printf("\n");
}

template <typename V>
long long raw(V value) {
    return static_cast<long long>(value.getValue());
}

template <typename V>
V value(const char* word) {
    return V::fromRaw(static_cast<typename V::StorageType>(integer(word)));
}

template <typename V>
using Function = V (*)(V);

template <typename V>
void sweep(Function<V> function, const Request& request) {
    const long long stop = integer(request.words[5]);
    const long long stride = integer(request.words[6]);
    bool first = true;
    for (long long x = integer(request.words[4]); x <= stop; x += stride) {
        std::printf(first ? "%lld" : " %lld", raw(function(V::fromRaw(static_cast<typename V::StorageType>(x)))));
        first = false;
    }
    std::printf("\n");
}

// Operations on one value type; words[3] is the operation.
template <typename V>
bool arithmetic(const Request& request) {
    const char* op = request.words[3];
    const char* const* args = request.words + 4;
    long long result = 0;
    if (std::strcmp(op, "add") == 0) {
        result = raw(value<V>(args[0]) + value<V>(args[1]));
    } else if (std::strcmp(op, "sub") == 0) {
        result = raw(value<V>(args[0]) - value<V>(args[1]));
    } else if (std::strcmp(op, "mul") == 0) {
        result = raw(value<V>(args[0]) * value<V>(args[1]));
    } else if (std::strcmp(op, "div") == 0) {
        result = raw(value<V>(args[0]) / value<V>(args[1]));
    } else if (std::strcmp(op, "neg") == 0) {
        result = raw(-value<V>(args[0]));
    } else if (std::strcmp(op, "lt") == 0) {
        result = value<V>(args[0]) < value<V>(args[1]);
    } else if (std::strcmp(op, "parts") == 0) {
        result = raw(V(static_cast<typename V::IntegerPartType>(integer(args[0])),
                       static_cast<typename V::StorageType>(integer(args[1]))));
    } else if (std::strcmp(op, "from_double") == 0) {
        result = raw(V::fromDouble(std::strtod(args[0], nullptr)));
    } else if (std::strcmp(op, "relu") == 0) {
        result = raw(qnn::ReluActivationPolicy<V>::activationFunction(value<V>(args[0])));
    } else if (std::strcmp(op, "sigmoid_sweep") == 0) {
        sweep<V>(&qnn::SigmoidActivationPolicy<V>::activationFunction, request);
        return true;
    } else if (std::strcmp(op, "tanh_sweep") == 0) {
        if constexpr (V::isSigned) {
            sweep<V>(&qnn::TanhActivationPolicy<V>::activationFunction, request);
            return true;
        }
        return false;
    } else if (std::strcmp(op, "table") == 0) {
        using Table = qnn::DefaultTanhTable<V::fractionalBits>;
        long long entries[Table::entryCount];
        for (std::size_t i = 0; i < Table::entryCount; ++i) {
            entries[i] = Table::entries.at[i];
        }
        printList(entries, static_cast<int>(Table::entryCount));
        return true;
    } else {
        return false;
    }
    std::printf("%lld\n", result);
    return true;
}

using Handler = bool (*)(const Request&);

struct FormatEntry {
    const char* format;
    const char* rounding;
    const char* overflow;
    Handler handler;
};

#define QNN_DRIVER_FORMAT(NAME, I, F, S)                                                       \
    {NAME, "half-up", "saturate", &arithmetic<qnn::QValue<I, F, S, qnn::RoundHalfUp, qnn::Saturate>>}, \
        {NAME, "half-up", "wrap", &arithmetic<qnn::QValue<I, F, S, qnn::RoundHalfUp, qnn::Wrap>>},     \
        {NAME, "truncate", "saturate", &arithmetic<qnn::QValue<I, F, S, qnn::Truncate, qnn::Saturate>>}, \
        {NAME, "truncate", "wrap", &arithmetic<qnn::QValue<I, F, S, qnn::Truncate, qnn::Wrap>>},

const FormatEntry formats[] = {
    QNN_DRIVER_FORMAT("q4.4", 4, 4, true)
    QNN_DRIVER_FORMAT("q8.8", 8, 8, true)
    QNN_DRIVER_FORMAT("q1.15", 1, 15, true)
    QNN_DRIVER_FORMAT("q4.12", 4, 12, true)
    QNN_DRIVER_FORMAT("q16.16", 16, 16, true)
    QNN_DRIVER_FORMAT("q24.8", 24, 8, true)
    QNN_DRIVER_FORMAT("q3.4", 3, 4, true)
    QNN_DRIVER_FORMAT("q32.32", 32, 32, true)
    QNN_DRIVER_FORMAT("uq8.8", 8, 8, false)
    QNN_DRIVER_FORMAT("uq4.4", 4, 4, false)
    QNN_DRIVER_FORMAT("uq0.16", 0, 16, false)
};

#undef QNN_DRIVER_FORMAT

// Networks under test, each with its own value type and shape.
template <typename V, typename Hidden, typename Output, std::size_t Inputs, std::size_t Layers,
          std::size_t Width, std::size_t Outputs>
struct NetworkUnderTest {
    using TransferFunctions =
        qnn::FixedPointTransferFunctions<V, qnn::XorshiftRandomNumberPolicy<V>, Hidden, Output>;
    using Network = qnn::MultilayerPerceptron<V, Inputs, Layers, Width, Outputs, TransferFunctions>;

    static Network& network() {
        static Network instance;
        return instance;
    }

    static void printWeights() {
        V weights[Network::NumberOfWeights];
        long long raws[Network::NumberOfWeights];
        network().getWeights(weights);
        for (std::size_t i = 0; i < Network::NumberOfWeights; ++i) {
            raws[i] = raw(weights[i]);
        }
        printList(raws, static_cast<int>(Network::NumberOfWeights));
    }

    // words: net <name> <command> <args...>
    static bool handle(const Request& request) {
        const char* command = request.words[2];
        const char* const* args = request.words + 3;
        const int argc = request.count - 3;
        V values[maxArguments];
        for (int i = 0; i < argc && i < maxArguments; ++i) {
            values[i] = value<V>(args[i]);
        }
        if (std::strcmp(command, "reset") == 0) {
            qnn::XorshiftRandomNumberPolicy<V>::seed(static_cast<std::uint32_t>(integer(args[0])));
            network() = Network();
            printWeights();
        } else if (std::strcmp(command, "set") == 0) {
            network().setWeights(values);
            printWeights();
        } else if (std::strcmp(command, "forward") == 0) {
            V outputs[Outputs];
            long long raws[Outputs];
            network().feedForward(values);
            network().getLearnedValues(outputs);
            for (std::size_t i = 0; i < Outputs; ++i) {
                raws[i] = raw(outputs[i]);
            }
            printList(raws, static_cast<int>(Outputs));
        } else if (std::strcmp(command, "error") == 0) {
            std::printf("%lld\n", raw(network().calculateError(values)));
        } else if (std::strcmp(command, "train") == 0) {
            network().trainNetwork(values);
            printWeights();
        } else {
            return false;
        }
        return true;
    }
};

using Q16 = qnn::QValue<16, 16, true>;
using Q8 = qnn::QValue<8, 8, true>;
using Q4_12 = qnn::QValue<4, 12, true>;
using Q8Wrap = qnn::QValue<8, 8, true, qnn::Truncate, qnn::Wrap>;

struct NetworkEntry {
    const char* name;
    Handler handler;
};

const NetworkEntry networks[] = {
    {"xor_q16.16", &NetworkUnderTest<Q16, qnn::TanhActivationPolicy<Q16>, qnn::SigmoidActivationPolicy<Q16>, 2, 1, 4, 1>::handle},
    {"xor_q8.8", &NetworkUnderTest<Q8, qnn::TanhActivationPolicy<Q8>, qnn::SigmoidActivationPolicy<Q8>, 2, 1, 4, 1>::handle},
    {"deep_q4.12", &NetworkUnderTest<Q4_12, qnn::TanhActivationPolicy<Q4_12>, qnn::SigmoidActivationPolicy<Q4_12>, 3, 2, 5, 2>::handle},
    {"relu_q8.8_truncate_wrap", &NetworkUnderTest<Q8Wrap, qnn::ReluActivationPolicy<Q8Wrap>, qnn::LinearActivationPolicy<Q8Wrap>, 2, 1, 3, 2>::handle},
};

bool dispatch(const Request& request) {
    if (request.count >= 3 && std::strcmp(request.words[0], "net") == 0) {
        for (const NetworkEntry& entry : networks) {
            if (std::strcmp(entry.name, request.words[1]) == 0) {
                return entry.handler(request);
            }
        }
        return false;
    }
    if (request.count < 4) {
        return false;
    }
    for (const FormatEntry& entry : formats) {
        if (std::strcmp(entry.format, request.words[0]) == 0 &&
            std::strcmp(entry.rounding, request.words[1]) == 0 &&
            std::strcmp(entry.overflow, request.words[2]) == 0) {
            return entry.handler(request);
        }
    }
    return false;
}

}  // namespace

int main() {
    static char line[8192];
    while (std::fgets(line, sizeof(line), stdin) != nullptr) {
        Request request;
        for (char* word = std::strtok(line, " \t\r\n"); word != nullptr && request.count < maxArguments + 4;
             word = std::strtok(nullptr, " \t\r\n")) {
            request.words[request.count++] = word;
        }
        if (request.count > 0 && !dispatch(request)) {
            std::printf("error unknown request\n");
        }
        std::fflush(stdout);
    }
    return 0;
}
