// Layer kernels: the exact sums bias * 2^F + sum(weight * input) of several
// neurons of a layer at once, each computed the way the target does it best,
// all chosen at compile time. Every kernel gives the integers the portable sum
// (ValueTraits::dot) gives: the same exact products, added modulo the same
// power of two, in an order that does not matter modulo it.
//
// - Narrow sums, where proven safe. A format whose products are 64 bits wide
//   (storage of 17 to 32 bits) sums in 32 bits when the format, the fan-in and
//   the range of the layer's inputs prove that no sum can leave 32 bits:
//   |bias| * 2^F + rounding offset + fanIn * max|weight| * max|input| < 2^31
//   (2^32 unsigned). Weights may be anything the format holds; a first layer's
//   inputs too; a later layer's inputs are the previous layer's activations,
//   whose ranges OutputRange gives (tanh within +-1, sigmoid within [0, 1]).
//   The exact sum then fits both accumulators, so both hold the same integer.
//   (Formats of up to 16 bits already sum in 32 bits; Q16.16 never proves it:
//   one weight times one input can exceed 2^31 at its resolution of 2^-32.)
// - Register blocking. One pass over the inputs serves B neurons: each input is
//   loaded once per pass, and the loop's overhead is shared by B neurons. When
//   B does not divide the layer, the last pass overlaps the one before
//   (recomputing a few neurons) instead of needing a second, smaller kernel.
// - Per target (arithmetic.hpp): SMLAD on packed 16-bit pairs on DSP cores;
//   SMLAL with LDRD for 64-bit sums on Thumb-2; the Thumb-1 pass with MULS on
//   ARMv6-M for 32-bit sums; ARMv6-M's partial-product loop for 64-bit sums of
//   32-bit values (one neuron per pass: it needs every low register); portable
//   C++ elsewhere, and everywhere with QNN_PORTABLE=1. Helium cores (Cortex-M55) take VMLADAVA on eight
//   16-bit lanes (8-bit weights widened by VLDRB.S16) for 16-bit values with narrow sums, before SMLAD.
// - The kernel and B come from a small cost model of each layer: instructions
//   per inference and, at -Os/-Oz, instructions of code, so that tiny layers
//   keep the compact one-neuron loop (ValueTraits::dot, shared by the layers).
#ifndef QNN_KERNELS_HPP
#define QNN_KERNELS_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "activation.hpp"
#include "arithmetic.hpp"
#include "qvalue.hpp"
#include "value_traits.hpp"

namespace qnn {

// How a layer computes its sums (MultilayerPerceptron::layerKernel reports it, for tests and the curious).
enum class KernelKind {
    portable,         // C++ (the compiler's own multiply-accumulate)
    muls,             // ARMv6-M / ARMv8-M Baseline: the Thumb-1 pass, one MULS and ADD per connection
    partialProducts,  // ARMv6-M / ARMv8-M Baseline: 64-bit sums of 32-bit values from 16x16 partial products
    smlad,            // DSP extension: two 16-bit connections per SMLAD
    smlal,            // Thumb-2 M profile: 64-bit sums with SMLAL, two weights per LDRD
    smladBytes,       // DSP extension, 8-bit weights: four weights per LDR, widened by two SXTB16, two SMLAD
    mve,              // Helium (MVE): eight 16-bit connections per VLDRH and VMLADAVA, the last eight tail-predicated
    mveBytes,         // Helium, 8-bit weights: eight widened by one VLDRB.S16, one VMLADAVA
};

struct LayerKernel {
    KernelKind kind;
    std::size_t neuronsPerPass;   // neurons summed in one pass over the inputs
    std::size_t sumBits;          // the accumulator's width: 32 where narrow sums are proven safe
    bool fusedActivation;         // the activation taken straight from the sum (activation.hpp)
};

namespace detail {

// The raw range of a format (first layers' inputs, and the weights).
template <typename V>
struct FullRange {
    static constexpr std::int64_t lowest = static_cast<std::int64_t>(V::minimumRaw);
    static constexpr std::int64_t highest = static_cast<std::int64_t>(V::maximumRaw);
};

constexpr std::uint64_t magnitude(std::int64_t value) {
    return value < 0 ? static_cast<std::uint64_t>(-(value + 1)) + 1 : static_cast<std::uint64_t>(value);
}

// Whether every sum of a neuron with FanIn inputs in InputRange, from any weights of W, fits below Limit:
// max|bias| * 2^F + offset + FanIn * max|weight| * max|input| <= Limit, with overflow-checked arithmetic.
template <typename V, typename W, std::size_t FanIn, typename InputRange>
constexpr bool sumsFitIn32Bits() {
    if constexpr (!isQValue<V>) {
        return false;
    } else if constexpr (sizeof(typename V::StorageType) > 4) {
        return false;
    } else {
        constexpr std::uint64_t limit = V::isSigned ? 0x7FFFFFFFull : 0xFFFFFFFFull;
        const std::uint64_t weight = magnitude(FullRange<W>::lowest) > magnitude(FullRange<W>::highest)
                                         ? magnitude(FullRange<W>::lowest)
                                         : magnitude(FullRange<W>::highest);
        const std::uint64_t input = magnitude(InputRange::lowest) > magnitude(InputRange::highest)
                                        ? magnitude(InputRange::lowest)
                                        : magnitude(InputRange::highest);
        constexpr std::size_t f = V::fractionalBits;
        if (f >= 32 || weight > (limit >> f)) {
            return false;
        }
        std::uint64_t total = (weight << f) + static_cast<std::uint64_t>(W::roundingOffset);
        if (total > limit) {
            return false;
        }
        if (weight != 0 && input > limit / weight) {
            return false;
        }
        const std::uint64_t product = weight * input;
        if (product != 0 && FanIn > (limit - total) / product) {
            return false;
        }
        total += FanIn * product;
        return total <= limit;
    }
}

// The accumulator a layer's sums use: 32 bits where sumsFitIn32Bits proves it, else ValueTraits' own.
template <typename V, typename W, std::size_t FanIn, typename InputRange, typename Enable = void>
struct LayerSumType {
    using type = typename ValueTraits<V>::Accumulator;
};

template <typename V, typename W, std::size_t FanIn, typename InputRange>
struct LayerSumType<V, W, FanIn, InputRange,
                    std::enable_if_t<isQValue<V> && (sizeof(typename ValueTraits<V>::Accumulator) > 4) &&
                                     sumsFitIn32Bits<V, W, FanIn, InputRange>()>> {
    using type = std::conditional_t<V::isSigned, std::int32_t, std::uint32_t>;
};

// At -Os and -Oz an instruction of code weighs as much as an instruction executed per inference, so a small
// layer (XOR's) keeps the compact one-neuron loop and a large one (digits') takes the fast kernel; at other
// levels speed alone decides.
#if defined(__OPTIMIZE_SIZE__)
inline constexpr std::size_t codeWeight = 1;
#else
inline constexpr std::size_t codeWeight = 0;
#endif

// The activation, narrowing and store of one neuron, in instructions, for the cost model (the same for
// every kernel: it only prices the neurons an overlapping last pass recomputes).
inline constexpr std::size_t neuronCost = 25;

// The kernels a layer can use, with a model of the code each compiles to (instructions executed per pass of
// `b` neurons, and instructions of code), good enough to choose the kernel and b.
template <typename V, typename W, typename Sum, std::size_t FanIn, typename Enable = void>
struct Kernels {
    static constexpr KernelKind fast = KernelKind::portable;  // float: one neuron at a time, as ever
    static constexpr std::size_t maximumRows(KernelKind) { return 1; }
    static constexpr std::size_t passCost(KernelKind, std::size_t) { return 0; }
    static constexpr std::size_t codeCost(KernelKind, std::size_t) { return 0; }
    static constexpr std::size_t dspUnroll = 1;
};

template <typename V, typename W, typename Sum, std::size_t FanIn>
struct Kernels<V, W, Sum, FanIn, std::enable_if_t<isQValue<V>>> {
    using Storage = typename V::StorageType;
    using WeightStorage = typename W::StorageType;
    static constexpr bool sameWidths = std::is_same_v<Storage, WeightStorage>;
    static constexpr bool narrowSum = sizeof(Sum) == 4;
    // 8-bit weights against 16-bit values: the mixed Thumb-1 pass and the SXTB16 kernel serve them.
    static constexpr bool byteWeights = std::is_same_v<WeightStorage, std::int8_t> && sizeof(Storage) == 2;
    // The target's fast kernel for this layer, if any.
    static constexpr KernelKind fast =
        (QNN_MVE && std::is_same_v<Storage, std::int16_t> && sameWidths && narrowSum)  ? KernelKind::mve
        : (QNN_MVE && std::is_same_v<Storage, std::int16_t> && byteWeights && narrowSum) ? KernelKind::mveBytes
        : (QNN_DSP && std::is_same_v<Storage, std::int16_t> && sameWidths && narrowSum && FanIn >= 2 &&
         (FanIn + 1) * 2 * (dspMaximumRows - 1) <= 4095)
            ? KernelKind::smlad
        : (QNN_DSP && std::is_same_v<Storage, std::int16_t> && byteWeights && narrowSum && FanIn >= 4 &&
           (FanIn + 1) * (dspByteMaximumRows - 1) <= 4095)
            ? KernelKind::smladBytes
        : (QNN_THUMB1_ROWS && narrowSum && sizeof(Storage) != 8 && (sameWidths || byteWeights)) ? KernelKind::muls
        : (QNN_PARTIAL_PRODUCTS && V::isSigned && sizeof(Storage) == 4 && sameWidths && !narrowSum)
            ? KernelKind::partialProducts
        : (QNN_LONG_ROWS && std::is_same_v<Storage, std::int32_t> && sameWidths && std::is_same_v<Sum, std::int64_t> &&
           FanIn >= 2 && (FanIn + 1) * 4 * (longMaximumRows - 1) <= 1020)
            ? KernelKind::smlal
            : KernelKind::portable;
    static constexpr std::size_t quads = FanIn / 4;
    // Helium: eight inputs per vector step, the last one (a partial vector) predicated.
    static constexpr std::size_t vectors = (FanIn + 7) / 8;
    static constexpr bool vectorTail = FanIn % 8 != 0;

    // The DSP and SMLAL loops take two pairs of inputs per iteration where there are enough of them to pay
    // for the code.
    static constexpr std::size_t pairs = FanIn / 2;
    static constexpr std::size_t dspUnroll = pairs >= 4 ? 2 : 1;

#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
    static constexpr std::size_t portablePerInput = 8;  // two loads, MULS, ADD, two pointer steps, compare, branch
#else
    static constexpr std::size_t portablePerInput = 5;  // two loads, MLA or SMLAL, compare, branch
#endif

    static constexpr std::size_t maximumRows(KernelKind kind) {
        switch (kind) {
        case KernelKind::smlad:
            return dspMaximumRows;
        case KernelKind::smladBytes:
            return dspByteMaximumRows;
        case KernelKind::mve:
        case KernelKind::mveBytes:
            return mveMaximumRows;
        case KernelKind::muls:
            return thumb1MaximumRows;
        case KernelKind::partialProducts:
            return 1;  // it needs every low register for one 64-bit sum
        case KernelKind::smlal:
            return longMaximumRows;
        case KernelKind::portable:
        default:
            // The compiler keeps a few sums in registers (a 64-bit one takes two); ARMv6-M (without its
            // assembly) and unoptimised builds keep one.
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__) || !defined(__OPTIMIZE__)
            return 1;
#else
            return narrowSum ? 4 : 2;
#endif
        }
    }

    // Instructions executed for one pass of b neurons: their starts, the loop, the stores of the sums.
    static constexpr std::size_t passCost(KernelKind kind, std::size_t b) {
        switch (kind) {
        case KernelKind::smlad:
            return 4 * b + 3 + pairs * (2 * b + 1) + pairs / dspUnroll * 2 + (dspUnroll == 2 && pairs % 2) +
                   (FanIn % 2) * (2 * b + 1);
        case KernelKind::smladBytes:  // per four inputs: two loads, two PKH; per neuron a load, two SXTB16, two SMLAD
            return 4 * b + 3 + quads * (5 * b + 6) + (FanIn % 4) * (3 * b + 1);
        case KernelKind::mve:  // per vector: the inputs' load and pointer step, per neuron a load, a step, VMLADAVA
        case KernelKind::mveBytes:
            return 3 * b + 3 + vectors * (3 * b + 2) + (FanIn / 8 > 0) * 2 * (FanIn / 8) + vectorTail;
        case KernelKind::muls:  // mixed widths load each input with LDRH, SXTH and a pointer step
            return 6 * b + 5 + FanIn * (3 * b + (sameWidths ? 3 : 5)) + 2 * b;
        case KernelKind::partialProducts:
            return FanIn * 26 + 12;
        case KernelKind::smlal:
            return 5 * b + 3 + pairs * (3 * b + 1) + pairs / dspUnroll * 2 + (dspUnroll == 2 && pairs % 2) +
                   (FanIn % 2) * (2 * b + 1);
        case KernelKind::portable:
        default:
            return b == 1 ? 4 + FanIn * portablePerInput : 4 * b + 3 + FanIn * ((narrowSum ? 2 : 3) * b + 3);
        }
    }

    // Instructions of code for the same, in the layer's own code. The one-neuron loop is a function every
    // layer calls (ValueTraits::dot), so a layer that uses it adds little more than the call.
    static constexpr std::size_t codeCost(KernelKind kind, std::size_t b) {
        switch (kind) {
        case KernelKind::smlad:
            return 5 * b + 9 + dspUnroll * (2 * b + 1) + 2 + (dspUnroll == 2 && pairs % 2) + (FanIn % 2) * (2 * b + 1);
        case KernelKind::smladBytes:
            return 5 * b + 9 + 5 * b + 6 + (FanIn % 4) * (3 * b + 1);
        case KernelKind::mve:  // and the layer's own four-at-a-time activation (activation.hpp), some 30
        case KernelKind::mveBytes:
            return 4 * b + 6 + (FanIn / 8 > 0) * (3 * b + 4) + vectorTail * (2 * b + 3) + 30;
        case KernelKind::muls:
            return 8 * b + 12 + 3 * b + (sameWidths ? 3 : 5) + (b > 2 ? 12 : 0);  // r8-r11 saved and restored
        case KernelKind::partialProducts:
            return 2;
        case KernelKind::smlal:
            return 6 * b + 9 + dspUnroll * (3 * b + 1) + 2 + (dspUnroll == 2 && pairs % 2) + (FanIn % 2) * (2 * b + 1);
        case KernelKind::portable:
        default:
            return b == 1 ? 2 : 5 * b + 9 + (narrowSum ? 2 : 3) * b + 3;
        }
    }
};

template <typename V, typename W, std::size_t FanIn, std::size_t Count, typename InputRange>
struct LayerPlan {
    using Sum = typename LayerSumType<V, W, FanIn, InputRange>::type;
    using Kernel = Kernels<V, W, Sum, FanIn>;

    static constexpr std::size_t cost(KernelKind kind, std::size_t b) {
        const std::size_t passes = (Count + b - 1) / b;
        return passes * (Kernel::passCost(kind, b) + b * neuronCost) + codeWeight * Kernel::codeCost(kind, b);
    }

    struct Choice {
        KernelKind kind;
        std::size_t rows;
    };

    static constexpr Choice choose() {
        // Where the fast kernel is the partial-product loop, the one-neuron portable sum is that same loop.
        constexpr KernelKind first = Kernel::fast == KernelKind::partialProducts ? Kernel::fast : KernelKind::portable;
        Choice best{first, 1};
        for (const KernelKind kind : {first, Kernel::fast}) {
            const std::size_t most = Kernel::maximumRows(kind) < Count ? Kernel::maximumRows(kind) : Count;
            for (std::size_t b = 1; b <= most; ++b) {
                if (cost(kind, b) < cost(best.kind, best.rows)) {
                    best = Choice{kind, b};
                }
            }
        }
        return best;
    }

    // The kernel, neurons per pass over the inputs, and passes per layer.
    static constexpr KernelKind kind = choose().kind;
    static constexpr std::size_t rows = choose().rows;
    static constexpr std::size_t blocks = (Count + rows - 1) / rows;
};

// Where a neuron's sum starts: its bias at the products' resolution 2^-(F + weight bits), plus the rounding
// offset at that resolution (W's own: its fractional bits are the ones the net input drops).
template <typename V, typename W, typename Sum>
__attribute__((always_inline)) constexpr Sum startOf(W bias) {
    if constexpr (std::is_same_v<V, W> && std::is_same_v<Sum, typename ValueTraits<V>::Accumulator>) {
        return ValueTraits<V>::start(bias);
    } else {
        using Unsigned = std::make_unsigned_t<Sum>;
        return static_cast<Sum>(
            static_cast<Unsigned>(static_cast<Unsigned>(static_cast<Sum>(bias.getValue())) << V::fractionalBits) +
            static_cast<Unsigned>(W::roundingOffset));
    }
}

// sum + weight*input in Sum: ValueTraits' own for its accumulator, else modulo 2^width (exact where a narrow
// sum is used).
template <typename V, typename W, typename Sum>
__attribute__((always_inline)) constexpr Sum multiplyAccumulateIn(Sum sum, W weight, V input) {
    if constexpr (std::is_same_v<V, W> && std::is_same_v<Sum, typename ValueTraits<V>::Accumulator>) {
        return ValueTraits<V>::multiplyAccumulate(sum, weight, input);
    } else {
        using Unsigned = std::make_unsigned_t<Sum>;
        return static_cast<Sum>(static_cast<Unsigned>(sum) +
                                static_cast<Unsigned>(static_cast<Unsigned>(static_cast<Sum>(weight.getValue())) *
                                                      static_cast<Unsigned>(static_cast<Sum>(input.getValue()))));
    }
}

template <typename V>
__attribute__((always_inline)) inline const typename V::StorageType* rawOf(const V* values) {
    static_assert(sizeof(V) == sizeof(typename V::StorageType), "QValue holds its storage and nothing else");
    return reinterpret_cast<const typename V::StorageType*>(values);
}

// The sums of Rows consecutive neurons whose weights start at `rows` (each: bias, then FanIn weights), over
// the FanIn values at `source`.
template <typename V, typename W, std::size_t FanIn, typename InputRange, KernelKind Kind, std::size_t Rows>
struct RowSums {
    using Sum = typename LayerSumType<V, W, FanIn, InputRange>::type;
    using Kernel = Kernels<V, W, Sum, FanIn>;
    static constexpr std::size_t stride = FanIn + 1;

    // The sums are kept in locals (registers) until the end: `sums` is the caller's array in memory.
    template <std::size_t... K>
    __attribute__((always_inline)) static void compute(Sum (&sums)[Rows], const W* rows, const V* source,
                                                       std::index_sequence<K...>) {
        if constexpr (Kind == KernelKind::muls) {
#if QNN_THUMB1_ROWS
            // The sums of products first (every low register is the loop's), then the starts.
            std::uint32_t products[Rows];
            thumb1Rows<Rows, stride, FanIn>(products, rawOf(rows), rawOf(source));
            ((sums[K] = static_cast<Sum>(static_cast<std::uint32_t>(startOf<V, W, Sum>(rows[K * stride])) +
                                         products[K])),
             ...);
#endif
            return;
        }
        Sum acc[Rows] = {startOf<V, W, Sum>(rows[K * stride])...};
        if constexpr (Kind == KernelKind::smlad) {
#if QNN_DSP
            constexpr std::size_t pairs = FanIn / 2;
            const std::int16_t* weight = rawOf(rows) + 1;
            const std::int16_t* input = rawOf(source);
#if QNN_DSP_ASSEMBLY
            dspRows<Rows, stride, pairs, Kernel::dspUnroll>(acc, weight, input);
#else
            for (std::size_t pair = 0; pair < pairs; ++pair) {
                const std::uint32_t inputs = loadPair(input);
                ((acc[K] = dualMultiplyAccumulate(loadPair(weight + K * stride), inputs, acc[K])), ...);
                input += 2;
                weight += 2;
            }
#endif
            if constexpr (FanIn % 2 != 0) {
                const std::int32_t last = input[0];
                ((acc[K] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[K]) +
                                                     static_cast<std::uint32_t>(weight[K * stride] * last))),
                 ...);
            }
#endif
        } else if constexpr (Kind == KernelKind::smladBytes) {
#if QNN_DSP
            constexpr std::size_t quads = FanIn / 4;
            const std::int8_t* weight = rawOf(rows) + 1;
            const std::int16_t* input = rawOf(source);
            dspByteRows<Rows, stride, quads>(acc, weight, input);
            for (std::size_t i = 0; i < FanIn % 4; ++i) {
                const std::int32_t last = input[i];
                ((acc[K] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[K]) +
                                                     static_cast<std::uint32_t>(weight[K * stride + i] * last))),
                 ...);
            }
#endif
        } else if constexpr (Kind == KernelKind::mve || Kind == KernelKind::mveBytes) {
#if QNN_MVE
            mveRows<Rows, stride, FanIn>(acc, rawOf(rows) + 1, rawOf(source));
#endif
        } else if constexpr (Kind == KernelKind::smlal) {
#if QNN_LONG_ROWS
            constexpr std::size_t steps = FanIn / 2;
            const std::int32_t* weight = rawOf(rows) + 1;
            const std::int32_t* input = rawOf(source);
            longRows<Rows, stride, steps, Kernel::dspUnroll>(acc, weight, input);
            if constexpr (FanIn % 2 != 0) {
                const std::int64_t last = input[0];
                ((acc[K] = static_cast<std::int64_t>(static_cast<std::uint64_t>(acc[K]) +
                                                     static_cast<std::uint64_t>(weight[K * stride] * last))),
                 ...);
            }
#endif
        } else if constexpr (Rows == 1 && std::is_same_v<V, W> && std::is_same_v<Sum, typename ValueTraits<V>::Accumulator>) {
            // The partial-product loop, or the portable sum of one neuron.
            acc[0] = ValueTraits<V>::dot(acc[0], rows + 1, source, FanIn);
        } else {
            for (std::size_t i = 0; i < FanIn; ++i) {
                const V input = source[i];
                ((acc[K] = multiplyAccumulateIn<V, W, Sum>(acc[K], rows[K * stride + 1 + i], input)), ...);
            }
        }
        ((sums[K] = acc[K]), ...);
    }

    __attribute__((always_inline)) static void compute(Sum (&sums)[Rows], const W* rows, const V* source) {
        compute(sums, rows, source, std::make_index_sequence<Rows>{});
    }
};

}  // namespace detail

}  // namespace qnn

#endif  // QNN_KERNELS_HPP
