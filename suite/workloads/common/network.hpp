// The network a workload image computes with, through the library's adapter
// (QBENCH_ADAPTER, a header on the library's include path; qnn's is
// suite/libraries/qnn/qbench_adapter.hpp). Chosen by the compiler's -D:
// QBENCH_FLOAT=1 for float, else QBENCH_Q_INTEGER_BITS / _FRACTIONAL_BITS /
// _SIGNED (and QBENCH_W_INTEGER_BITS / _FRACTIONAL_BITS for weights stored
// in their own, narrower signed format: q8.8w2.6); QBENCH_INPUTS, QBENCH_HIDDEN_LAYERS, QBENCH_HIDDEN_NEURONS,
// QBENCH_OUTPUTS, QBENCH_HIDDEN_ACTIVATION, QBENCH_OUTPUT_ACTIVATION (tanh,
// sigmoid, relu, linear), QBENCH_TRAINABLE, QBENCH_WEIGHT_SEED.
//
// The harness never needs a constexpr value from the library: its constants
// are raw integers (or floats), converted by the adapter's fromRaw. Tables
// hold StoredType and become ValueType through fromRaw too; where the
// adapter's fromRaw is constexpr they are constant-initialised and stay in
// flash, otherwise they are converted at start-up into RAM.
#ifndef QBENCH_NETWORK_HPP
#define QBENCH_NETWORK_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "contract.hpp"

#ifndef QBENCH_ADAPTER
#define QBENCH_ADAPTER "qbench_adapter.hpp"
#endif
#include QBENCH_ADAPTER

#ifndef QBENCH_FLOAT
#define QBENCH_FLOAT 0
#endif
#ifndef QBENCH_HIDDEN_ACTIVATION
#define QBENCH_HIDDEN_ACTIVATION tanh
#endif
#ifndef QBENCH_OUTPUT_ACTIVATION
#define QBENCH_OUTPUT_ACTIVATION sigmoid
#endif
#ifndef QBENCH_TRAINABLE
#define QBENCH_TRAINABLE 0
#endif
#ifndef QBENCH_WEIGHT_SEED
#define QBENCH_WEIGHT_SEED 0x2545F491u
#endif

namespace workload {

using Adapter = QbenchAdapter;
using Shape = qbench::NetworkShape<QBENCH_INPUTS, QBENCH_HIDDEN_LAYERS, QBENCH_HIDDEN_NEURONS, QBENCH_OUTPUTS,
                                   qbench::Activation::QBENCH_HIDDEN_ACTIVATION,
                                   qbench::Activation::QBENCH_OUTPUT_ACTIVATION, QBENCH_TRAINABLE != 0,
                                   QBENCH_WEIGHT_SEED>;

#if QBENCH_FLOAT

static_assert(qbench::contract::HasFloatingPoint<Adapter>::value,
              "qbench library contract: QbenchAdapter has no FloatingPoint type, so it cannot build float32 "
              "images (docs/libraries.md#value-types)");
using ValueType = typename Adapter::FloatingPoint;
using StoredType = ValueType;
using ReportedType = std::int32_t;

constexpr ValueType fromStored(StoredType value) { return value; }
// What the harness compares: the value itself.
using Number = ValueType;
inline Number number(ValueType value) { return value; }
inline ValueType valueOf(Number number) { return number; }
// Reported as value * 2^16 in an int32 (qbench reads float32 reports at 16 fractional bits).
inline ReportedType reportedNumber(Number number) { return static_cast<ReportedType>(number * 65536.0f); }
constexpr Number oneNumber = 1.0f;
constexpr Number learnedToleranceNumber = 0.1f;  // within 0.1 of the target counts as learned

#else

static_assert(qbench::contract::HasFixedPoint<Adapter, QBENCH_Q_INTEGER_BITS, QBENCH_Q_FRACTIONAL_BITS,
                                              QBENCH_Q_SIGNED != 0>::value,
              "qbench library contract: QbenchAdapter has no FixedPoint<IntegerBits, FractionalBits, Signed> "
              "for this Q format (docs/libraries.md#value-types)");
using ValueType =
    typename Adapter::template FixedPoint<QBENCH_Q_INTEGER_BITS, QBENCH_Q_FRACTIONAL_BITS, QBENCH_Q_SIGNED != 0>;
static_assert(qbench::contract::HasRawConversions<Adapter, ValueType>::value,
              "qbench library contract: QbenchAdapter needs fromRaw<Value>(std::int64_t) -> Value and "
              "toRaw(Value) -> std::int64_t (docs/libraries.md#value-types)");

constexpr int totalBits = QBENCH_Q_INTEGER_BITS + QBENCH_Q_FRACTIONAL_BITS;
using SignedStoredType = std::conditional_t<(totalBits > 32), std::int64_t,
                         std::conditional_t<(totalBits > 16), std::int32_t,
                         std::conditional_t<(totalBits > 8), std::int16_t, std::int8_t>>>;
// The smallest integer that holds a raw value: how generated tables are written.
using StoredType = std::conditional_t<QBENCH_Q_SIGNED != 0, SignedStoredType, std::make_unsigned_t<SignedStoredType>>;
// Raw values widened to at least 32 bits, so the report code is the empty baseline's.
using ReportedType = std::conditional_t<(totalBits > 32), std::int64_t, std::int32_t>;

// A template, so that a value type that is not a literal type (a non-constexpr fromRaw) still compiles.
template <typename Stored = StoredType>
constexpr ValueType fromStored(Stored raw) { return Adapter::template fromRaw<ValueType>(raw); }
// What the harness compares: raw integers, exactly (a difference of two raw values fits), so it needs no
// arithmetic of the library's value type.
using Number = std::conditional_t<(totalBits > 16), std::int64_t, std::int32_t>;
inline Number number(const ValueType& value) { return Adapter::toRaw(value); }
inline ValueType valueOf(Number raw) { return Adapter::template fromRaw<ValueType>(raw); }
inline ReportedType reportedNumber(Number raw) { return static_cast<ReportedType>(raw); }
constexpr Number oneNumber = Number{1} << QBENCH_Q_FRACTIONAL_BITS;
// The largest raw error still within 0.1 of the target (1/10 of one, rounded down).
constexpr Number learnedToleranceNumber = oneNumber / 10;

#endif

#if defined(QBENCH_W_INTEGER_BITS) && !QBENCH_FLOAT

// Weights (and biases) in their own signed Q format, written as the smallest integer that holds them.
static_assert(qbench::contract::HasFixedPoint<Adapter, QBENCH_W_INTEGER_BITS, QBENCH_W_FRACTIONAL_BITS, true>::value,
              "qbench library contract: QbenchAdapter has no FixedPoint<IntegerBits, FractionalBits, true> for "
              "the weights' Q format (docs/libraries.md#narrow-weights)");
using WeightType = typename Adapter::template FixedPoint<QBENCH_W_INTEGER_BITS, QBENCH_W_FRACTIONAL_BITS, true>;
constexpr int weightTotalBits = QBENCH_W_INTEGER_BITS + QBENCH_W_FRACTIONAL_BITS;
using WeightStoredType = std::conditional_t<(weightTotalBits > 32), std::int64_t,
                         std::conditional_t<(weightTotalBits > 16), std::int32_t,
                         std::conditional_t<(weightTotalBits > 8), std::int16_t, std::int8_t>>>;
static_assert(qbench::contract::meetsNetworkContract<Adapter, ValueType, Shape, WeightType>());
using NetworkType = typename Adapter::template NetworkWithWeights<ValueType, WeightType, Shape>;

#else

using WeightType = ValueType;
using WeightStoredType = StoredType;
static_assert(qbench::contract::meetsNetworkContract<Adapter, ValueType, Shape>());
using NetworkType = typename Adapter::template Network<ValueType, Shape>;

#endif

inline ReportedType reported(const ValueType& value) { return reportedNumber(number(value)); }

// A generated table of N values as T, ValueType or WeightType (in flash where fromRaw is constexpr).
template <typename T, std::size_t N>
struct Table {
    T at[N];
};

// (A: the adapter, named through a template parameter so that a float-only adapter needs no fromRaw.)
template <typename T, typename Stored, std::size_t N, typename A = Adapter>
constexpr Table<T, N> tableOf(const Stored (&stored)[N]) {
    Table<T, N> table{};
    for (std::size_t i = 0; i < N; ++i) {
        if constexpr (std::is_floating_point_v<T>) {
            table.at[i] = stored[i];
        } else {
            table.at[i] = A::template fromRaw<T>(stored[i]);
        }
    }
    return table;
}

}  // namespace workload

#endif  // QBENCH_NETWORK_HPP
