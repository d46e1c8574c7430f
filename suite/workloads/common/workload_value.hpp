// The value type a workload image computes in, chosen by the compiler's -D:
// QBENCH_FLOAT=1 for float, else QBENCH_Q_INTEGER_BITS / QBENCH_Q_FRACTIONAL_BITS /
// QBENCH_Q_SIGNED for a qnn QValue. Also the network library (QBENCH_NN_HEADER,
// QBENCH_NN, for qbench run --library) and the activations
// (QBENCH_HIDDEN_ACTIVATION, QBENCH_OUTPUT_ACTIVATION: policy templates).
//
// Generated tables hold StoredType (raw integers, or floats as hex literals),
// turned into ValueType at compile time, so they sit in flash as the network reads them.
#ifndef QBENCH_WORKLOAD_VALUE_HPP
#define QBENCH_WORKLOAD_VALUE_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#ifndef QBENCH_FLOAT
#define QBENCH_FLOAT 0
#endif
#ifndef QBENCH_HIDDEN_ACTIVATION
#define QBENCH_HIDDEN_ACTIVATION TanhActivationPolicy
#endif
#ifndef QBENCH_OUTPUT_ACTIVATION
#define QBENCH_OUTPUT_ACTIVATION SigmoidActivationPolicy
#endif

#include "library.hpp"

namespace workload {

#if QBENCH_FLOAT

using ValueType = float;
using StoredType = float;
using ReportedType = std::int32_t;

template <typename Random>
using TransferFunctions = nn::FloatingPointTransferFunctions<ValueType, Random, nn::QBENCH_HIDDEN_ACTIVATION<ValueType>,
                                                             nn::QBENCH_OUTPUT_ACTIVATION<ValueType>>;

constexpr ValueType fromStored(StoredType value) { return value; }
constexpr ValueType fromDouble(double number) { return static_cast<ValueType>(number); }

// Reported as value * 2^16 in an int32 (qbench reads float32 reports at 16 fractional bits).
inline ReportedType reported(ValueType value) { return static_cast<ReportedType>(value * 65536.0f); }

// Within 0.1 of the target counts as learned.
constexpr ValueType learnedTolerance = 0.1f;

#else

using ValueType = nn::QValue<QBENCH_Q_INTEGER_BITS, QBENCH_Q_FRACTIONAL_BITS, QBENCH_Q_SIGNED != 0>;
using StoredType = typename ValueType::StorageType;
// Raw values widened to at least 32 bits, so the report code is the empty baseline's.
using ReportedType = std::conditional_t<(sizeof(StoredType) > 4), std::int64_t, std::int32_t>;

template <typename Random>
using TransferFunctions = nn::FixedPointTransferFunctions<ValueType, Random, nn::QBENCH_HIDDEN_ACTIVATION<ValueType>,
                                                          nn::QBENCH_OUTPUT_ACTIVATION<ValueType>>;

constexpr ValueType fromStored(StoredType raw) { return ValueType::fromRaw(raw); }
constexpr ValueType fromDouble(double number) { return ValueType::fromDouble(number); }

inline ReportedType reported(ValueType value) { return static_cast<ReportedType>(value.getValue()); }

// The largest raw error still within 0.1 of the target (1/10 of one, rounded down).
constexpr ValueType learnedTolerance = ValueType::fromRaw(
    static_cast<StoredType>((typename ValueType::WideType(1) << ValueType::fractionalBits) / 10));

#endif

// A generated table of N values, as ValueType in flash.
template <std::size_t N>
struct Table {
    ValueType at[N];
};

template <std::size_t N>
constexpr Table<N> tableOf(const StoredType (&stored)[N]) {
    Table<N> table{};
    for (std::size_t i = 0; i < N; ++i) {
        table.at[i] = fromStored(stored[i]);
    }
    return table;
}

}  // namespace workload

#endif  // QBENCH_WORKLOAD_VALUE_HPP
