// The workloads' report: one line per record, `record key=value key=value`,
// integers in decimal, lists comma-separated. qbench.protocol parses it.
//
// Decimal digits come from subtracting powers of ten, so reporting links no
// division helper (ARMv6-M has no divide instruction) and the empty baseline
// image, which reports through the same code, carries the same cost.
#ifndef QBENCH_REPORT_HPP
#define QBENCH_REPORT_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "platform.h"

namespace qbench {

namespace detail {

template <typename Unsigned>
struct PowersOfTen {
    static constexpr std::size_t count = sizeof(Unsigned) == 8 ? 20 : 10;
    struct Table {
        Unsigned at[count];
    };
    static constexpr Table make() {
        Table table{};
        Unsigned power = 1;
        for (std::size_t i = count; i-- > 0;) {
            table.at[i] = power;
            power = static_cast<Unsigned>(power * 10u);
        }
        return table;
    }
    static constexpr Table table = make();  // largest first
};

}  // namespace detail

class ReportLine {
public:
    explicit ReportLine(const char* record) { text(record); }

    ReportLine(const ReportLine&) = delete;
    ReportLine& operator=(const ReportLine&) = delete;

    ~ReportLine() {
        put('\n');
        flush();
    }

    ReportLine& field(const char* key, const char* value) {
        begin(key);
        text(value);
        return *this;
    }

    // The templates only split a value into sign and magnitude; the digits come
    // from one function per width, shared by every caller and type.
    template <typename Integer>
    __attribute__((always_inline)) ReportLine& field(const char* key, Integer value) {
        begin(key);
        integer(value);
        return *this;
    }

    template <typename Integer>
    __attribute__((always_inline)) ReportLine& list(const char* key, const Integer* values, std::size_t count) {
        return listOf(key, count, [values](std::size_t i) { return values[i]; });
    }

    // A list whose i-th integer is valueAt(i), so callers need no array to print from.
    template <typename Function>
    ReportLine& listOf(const char* key, std::size_t count, Function valueAt) {
        begin(key);
        for (std::size_t i = 0; i < count; ++i) {
            if (i != 0) {
                put(',');
            }
            integer(valueAt(i));
        }
        return *this;
    }

private:
    void begin(const char* key) {
        put(' ');
        text(key);
        put('=');
    }

    void text(const char* characters) {
        while (*characters != '\0') {
            put(*characters++);
        }
    }

    template <typename Integer>
    __attribute__((always_inline)) void integer(Integer value) {
        static_assert(std::is_integral_v<Integer>, "report values are integers");
        using Unsigned = std::conditional_t<(sizeof(Integer) > 4), std::uint64_t, std::uint32_t>;
        bool negative = false;
        if constexpr (std::is_signed_v<Integer>) {
            negative = value < 0;
        }
        const auto magnitude = static_cast<Unsigned>(value);
        signedDigits(negative, negative ? static_cast<Unsigned>(Unsigned(0) - magnitude) : magnitude);
    }

    template <typename Unsigned>
    void signedDigits(bool negative, Unsigned magnitude) {
        if (negative) {
            put('-');
        }
        bool leading = true;
        for (const Unsigned power : detail::PowersOfTen<Unsigned>::table.at) {
            char digit = '0';
            while (magnitude >= power) {
                magnitude = static_cast<Unsigned>(magnitude - power);
                ++digit;
            }
            leading = leading && digit == '0' && power != 1;
            if (!leading) {
                put(digit);
            }
        }
    }

    void put(char character) {
        if (used == sizeof(buffer) - 1) {
            flush();
        }
        buffer[used++] = character;
    }

    void flush() {
        buffer[used] = '\0';
        qbench_write(buffer);
        used = 0;
    }

    char buffer[64];
    std::size_t used = 0;
};

}  // namespace qbench

#endif  // QBENCH_REPORT_HPP
