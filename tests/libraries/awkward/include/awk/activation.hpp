// Activation functions: activate(x), and derivative(y) through the neuron's
// output y. tanh and sigmoid interpolate the tables of src/tables.cpp.
#ifndef AWK_ACTIVATION_HPP
#define AWK_ACTIVATION_HPP

#include "awk/tables.hpp"

namespace awk {

namespace detail {

template <typename V>
using TablesOf = Tables<V::integerBits, V::fractionalBits>;

template <typename V>
V one() { return V(1, 0); }

// f(x) for raw x >= 0 from a table of f at x = k / 2^StepShift, interpolated
// linearly between entries; the last entry beyond the table.
template <typename V, int StepShift, typename Entry>
V interpolate(const Entry* table, typename V::Wide x) {
    using Wide = typename V::Wide;
    constexpr int shift = V::fractionalBits - StepShift;
    static_assert(shift >= 0, "awk: too few fractional bits for the tables");
    const Wide index = x >> shift;
    if (index >= Wide(tableEntries - 1)) {
        return V::fromRaw(table[tableEntries - 1]);
    }
    const Wide low = table[index];
    const Wide high = table[index + 1];
    const Wide part = x & ((Wide(1) << shift) - 1);
    return V::fromRaw(static_cast<typename V::Raw>(low + (((high - low) * part) >> shift)));
}

}  // namespace detail

template <typename V>
struct TanhActivation {
    static V activate(V x) {
        const typename V::Wide raw = x.raw();
        const V y = detail::interpolate<V, tanhStepShift>(detail::TablesOf<V>::tanh, raw < 0 ? -raw : raw);
        return raw < 0 ? -y : y;
    }
    static V derivative(V y) { return detail::one<V>() - y * y; }
};

template <typename V>
struct SigmoidActivation {
    static V activate(V x) {
        const typename V::Wide raw = x.raw();
        const V y = detail::interpolate<V, sigmoidStepShift>(detail::TablesOf<V>::sigmoid, raw < 0 ? -raw : raw);
        return raw < 0 ? detail::one<V>() - y : y;
    }
    static V derivative(V y) { return y * (detail::one<V>() - y); }
};

template <typename V>
struct ReluActivation {
    static V activate(V x) { return x < V() ? V() : x; }
    static V derivative(V y) { return V() < y ? detail::one<V>() : V(); }
};

template <typename V>
struct LinearActivation {
    static V activate(V x) { return x; }
    static V derivative(V) { return detail::one<V>(); }
};

}  // namespace awk

#endif  // AWK_ACTIVATION_HPP
