"""The report's maths and tables, on small frames worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from qbench.hardware.targets import Part
from qbench.records.results import ResultRow, SymbolRow, rows_frame, symbols_frame
from qbench.reporting.analysis import (
    NETWORK_BYTE_COLUMNS,
    attribution_differences,
    budget_table,
    cores_together,
    deployed_flash,
    failure_kinds,
    fits,
    flags_table,
    group_totals,
    headline_table,
    network_bytes,
    percent,
    preferred_formats,
    ratio,
    speed_table,
    symbol_diff_table,
    symbol_figures,
    variant_ratio_table,
)
from qbench.sizes.symbols import group_of, short_name, without_parameters

PART = Part("P1", "vendor", "cortex-m0plus", flash_bytes=16 * 1024, ram_bytes=2 * 1024, clock_hz=32_000_000)


def row(variant: str, lib_flash: int, lib_ram: int, img_flash: int, img_ram: int, status: str = "ok") -> ResultRow:
    return ResultRow(
        core="cortex-m0plus",
        board="b",
        qformat="q16.16",
        variant=variant,
        opt="Os",
        workload="xor",
        status=status,
        lib_flash=lib_flash,
        lib_ram_static=lib_ram,
        img_flash=img_flash,
        img_ram_static=img_ram,
    )


def test_ratio_and_percent():
    assert ratio(1, 3) == pytest.approx(1 / 3)
    assert ratio(5, 0) is None and ratio(None, 3) is None and ratio(pd.NA, 3) is None
    assert percent(4096, 16384) == 25.0
    assert percent(None, 16384) is None


def test_fits_needs_both_flash_and_ram():
    assert fits(16384, 2048, PART) is True  # exactly full still fits
    assert fits(16385, 100, PART) is False
    assert fits(100, 2049, PART) is False
    assert fits(None, 100, PART) is None


def symbol(variant: str, group: str, category: str, size: int, core: str = "cortex-m0plus") -> SymbolRow:
    return SymbolRow(
        core=core,
        qformat="q16.16",
        variant=variant,
        opt="Os",
        workload="xor",
        library="qnn",
        network="",
        symbol=f"{group} {category}",
        group=group,
        category=category,
        size=size,
    )


# qnn's 2-4-1 Q16.16 on Cortex-M0+: the library's code, its table, the network object and (inference-only) the
# deployed weights are the network's; the workload harness is not.
TRAINABLE = [
    symbol("trainable", "qnn", "code", 856),
    symbol("trainable", "qnn", "data", 4),
    symbol("trainable", "activation tables", "rodata", 162),
    symbol("trainable", "network object", "bss", 172),
    symbol("trainable", "workload harness", "code", 1028),
]
INFERENCE = [
    symbol("inference", "qnn", "code", 232),
    symbol("inference", "activation tables", "rodata", 162),
    symbol("inference", "deployed weights", "rodata", 68),
    symbol("inference", "network object", "bss", 24),
    symbol("inference", "workload harness", "code", 612),
]


def test_network_bytes_are_the_networks_own_groups():
    table = network_bytes(symbols_frame(TRAINABLE + INFERENCE)).set_index("variant")
    assert table.loc["trainable", NETWORK_BYTE_COLUMNS].tolist() == [860, 162, 172, 0, 1022, 176, 1194]
    assert table.loc["inference", NETWORK_BYTE_COLUMNS].tolist() == [232, 162, 24, 68, 462, 24, 486]


def test_the_symbols_figures_a_few_images_at_a_time_are_the_whole_tables():
    """An image split between two frames is summed whole, in the symbols' order, and only the named images'
    symbols are kept."""
    helper = replace(TRAINABLE[0], symbol="qnn_helper", prefix_group="workload harness", size=40)  # DWARF says qnn
    every = [*TRAINABLE, helper, *INFERENCE, *(replace(symbol, core="cortex-m4") for symbol in TRAINABLE)]
    frames = [symbols_frame(every[:3]), symbols_frame([]), symbols_frame(every[3:8]), symbols_frame(every[8:])]
    figures = symbol_figures(iter(frames), [{"core": "cortex-m0plus", "variant": "inference"}])
    by_image = figures.network.set_index(["core", "variant"])
    assert by_image.index.tolist() == [
        ("cortex-m0plus", "trainable"),
        ("cortex-m0plus", "inference"),
        ("cortex-m4", "trainable"),
    ]
    assert by_image.loc[("cortex-m0plus", "trainable"), "library_code"] == 856 + 4 + 40
    assert by_image.loc[("cortex-m4", "trainable"), "network_bytes"] == 856 + 4 + 162 + 172
    assert figures.attribution[["variant", "by symbol names", "by source files", "bytes"]].values.tolist() == [
        ["trainable", "workload harness", "qnn", 40]
    ]
    pd.testing.assert_frame_equal(figures.named, symbols_frame(INFERENCE))
    whole = symbols_frame(every)
    pd.testing.assert_frame_equal(figures.network, network_bytes(whole))
    pd.testing.assert_frame_equal(figures.attribution, attribution_differences(whole))


def test_variant_ratio_table():
    rows = rows_frame([row("trainable", 3000, 200, 4000, 300), row("inference", 1000, 50, 2000, 60)])
    (record,) = variant_ratio_table(rows, network_bytes(symbols_frame(TRAINABLE + INFERENCE))).to_dict("records")
    assert record["trainable_code"] == 860 and record["inference_code"] == 232
    assert record["code_ratio"] == pytest.approx(232 / 860)
    assert record["network_ram_ratio"] == pytest.approx(24 / 176)
    assert record["network_flash_ratio"] == pytest.approx(462 / 1022)
    assert record["lib_flash_ratio"] == pytest.approx(1 / 3) and record["lib_ram_ratio"] == 0.25


def test_variant_ratio_needs_both_variants_ok():
    frame = rows_frame([row("trainable", 3000, 200, 4000, 300), row("inference", 1, 1, 1, 1, status="build-failed")])
    assert variant_ratio_table(frame, network_bytes(symbols_frame(TRAINABLE + INFERENCE))).empty


def test_budget_table():
    frame = rows_frame([row("trainable", 4096, 512, 8192, 2048), row("inference", 1024, 64, 20000, 100)])
    table = budget_table(frame, {"P1": PART}).set_index("variant")
    assert table.loc["trainable", ["img_flash_pct", "img_ram_pct"]].tolist() == [50.0, 100.0]
    assert table.loc["trainable", "fits"] == "fits"
    assert table.loc["inference", "fits"] == "does not fit"  # 20000 bytes of flash > 16 KiB


def timed(core: str, cycles: float, core_clock_us: float) -> ResultRow:
    """An emulated inference-only row whose est_us_forward is at its core file's clock."""
    return ResultRow(
        core=core,
        board="b",
        qformat="q16.16",
        variant="inference",
        opt="Os",
        workload="xor",
        status="ok",
        qemu="qemu",
        instr_forward=1200.0,
        instr_forward_occurrences=4,
        est_cycles_forward=cycles,
        est_cycles_forward_min=cycles - 10,
        est_cycles_forward_max=cycles + 10,
        est_us_forward=core_clock_us,
    )


def test_speed_table_compares_cores_at_one_clock():
    # The same cycles: 100 µs at the M0 file's 16 MHz, 50 µs at the M0+ file's 32 MHz; one clock makes them equal.
    rows = rows_frame([timed("cortex-m0", 1600.0, 100.0), timed("cortex-m0plus", 1600.0, 50.0)])
    table = speed_table(rows, "forward", clock_hz=32_000_000)
    assert table["est_us_forward_32mhz"].tolist() == [50.0, 50.0]
    assert table["est_cycles_forward"].tolist() == ["1,600 (1,590–1,610)"] * 2
    assert "est_us_forward" not in table.columns and speed_table(rows, "train_step").empty
    assert speed_table(rows, "forward", clock_hz=16_000_000)["est_us_forward_16mhz"].tolist() == [100.0, 100.0]


def test_part_budgets_time_each_part_at_its_own_clock():
    slow = Part("SLOW", "v", "cortex-m0", flash_bytes=16384, ram_bytes=2048, clock_hz=16_000_000)
    fast = Part("FAST", "v", "cortex-m0plus", flash_bytes=16384, ram_bytes=2048, clock_hz=48_000_000)
    rows = rows_frame([timed("cortex-m0", 1600.0, 100.0), timed("cortex-m0plus", 1600.0, 50.0)])
    table = budget_table(rows, {"SLOW": slow, "FAST": fast}).set_index("part")
    # Zero wait states (the parts' default): the core's best to worst case, 1,590 to 1,610 cycles, at each clock.
    slow_range = table.loc["SLOW (16 KiB flash, 2 KiB RAM, 16 MHz)", ["est_us_forward_min", "est_us_forward_max"]]
    fast_range = table.loc["FAST (16 KiB flash, 2 KiB RAM, 48 MHz)", ["est_us_forward_min", "est_us_forward_max"]]
    assert slow_range.tolist() == pytest.approx([1590 / 16, 1610 / 16])
    assert fast_range.tolist() == pytest.approx([1590 / 48, 1610 / 48])


def headline_row(core: str, variant: str, **columns) -> ResultRow:
    return ResultRow(
        core=core,
        board="b",
        qformat="q16.16",
        variant=variant,
        opt="Os",
        workload="xor",
        status="ok",
        qemu="qemu",
        **columns,
    )


def test_headline_table_is_one_row_per_core_at_one_clock():
    rows = rows_frame(
        [
            headline_row(
                "cortex-m0plus",
                "trainable",
                lib_ram_total=312,
                instr_forward=631.0,
                est_cycles_forward=824.0,
                instr_train_step=2457.5,
                est_cycles_train_step=3200.0,
                learned=True,
                learned_exact=True,
                iterations=1352,
                lib_flash=1768,
                deployed_flash=1768,
            ),
            headline_row(
                "cortex-m0plus",
                "inference",
                lib_ram_total=84,
                instr_forward=627.0,
                est_cycles_forward=800.0,
                learned=True,
                lib_flash=748,
            ),  # no deployed_flash column filled: derived from lib_flash
            headline_row("host", "inference", lib_ram_static=40),  # an x86-64 object: not beside the Cortex-M rows
        ]
    )
    (record,) = headline_table(rows, clock_hz=32_000_000).to_dict("records")
    assert (record["core"], record["deployed flash, trainable"], record["deployed flash, inference"]) == (
        "cortex-m0plus",
        1768,
        748,
    )
    assert (record["RAM with stack, trainable"], record["RAM with stack, inference"]) == (312, 84)
    assert record["instructions per inference"] == 627.0  # the inference-only image's
    assert record["µs per inference at 32 MHz"] == 25.0 and record["µs per training step at 32 MHz"] == 100.0
    assert record["learned"] == "yes, 1,352 iterations" and record["deployed outputs"] == "right"
    assert "static RAM, trainable" not in record and "accuracy on device %" not in record  # nothing in them


def test_headline_says_learned_only_through_overflow():
    rows = rows_frame([headline_row("cortex-m0plus", "trainable", learned=True, learned_exact=False, iterations=9)])
    assert headline_table(rows)["learned"].tolist() == ["only through overflow"]


def test_deployed_flash_is_the_column_else_library_flash_without_the_test_split():
    rows = rows_frame(
        [
            headline_row("cortex-m0plus", "inference", lib_flash=5000, test_data_bytes=1700, deployed_flash=3300),
            headline_row("cortex-m0plus", "inference", lib_flash=5000, test_data_bytes=1700),
            headline_row("cortex-m0plus", "inference", lib_flash=748),
        ]
    )
    assert deployed_flash(rows).tolist() == [3300, 3300, 748]  # 5000 - 1700, then lib_flash with no test split


def test_the_first_screen_ranks_float_against_fixed_point_by_deployed_flash():
    """Issue 23: a float32 network's own bytes are fewer than Q16.16's on cortex-m0plus, but it calls soft-float
    and libm, which its own bytes leave out; deployed, float32 is the larger. The headline must say so."""
    common = {
        "core": "cortex-m0plus",
        "board": "b",
        "variant": "inference",
        "opt": "Os",
        "workload": "iris",
        "network": "4-8-3 tanh/sigmoid",
        "status": "ok",
        "qemu": "qemu",
        "instr_forward": 2107.0,
    }
    rows = rows_frame(
        [
            ResultRow(qformat="float32", lib_flash=15659 + 405, test_data_bytes=405, deployed_flash=15659, **common),
            ResultRow(qformat="q16.16", lib_flash=10293 + 405, test_data_bytes=405, deployed_flash=10293, **common),
        ]
    )
    image = {key: value for key, value in common.items() if key in ("core", "variant", "opt", "workload", "network")}
    own = [("qnn", "code", 2000), ("activation tables", "rodata", 0), ("deployed weights", "rodata", 140)]
    symbols = symbols_frame(
        [
            SymbolRow(
                **image,
                qformat="float32",
                library="qnn",
                symbol=f"{group} f",
                group=group,
                category=category,
                size=size,
            )
            for group, category, size in own
        ]  # 2,140 B of the network's own
        + [
            SymbolRow(
                **image,
                qformat="float32",
                library="qnn",
                symbol="__aeabi_fadd",
                group="compiler run-time",
                category="code",
                size=5600,
            )
        ]  # soft-float: not the network's own bytes
        + [
            SymbolRow(
                **image,
                qformat="q16.16",
                library="qnn",
                symbol=f"{group} q",
                group=group,
                category=category,
                size=size + 500,
            )
            for group, category, size in own
        ]  # 3,640 B of the network's own
    )
    own_flash = network_bytes(symbols).set_index("qformat")["network_flash"]
    assert own_flash["float32"] < own_flash["q16.16"]  # the network's own bytes: float32 looks the smaller
    table = headline_table(rows).set_index("qformat")
    assert "flash, inference" not in table and "deployed flash, inference" in table
    assert table.loc["float32", "deployed flash, inference"] == 15659
    assert table.loc["q16.16", "deployed flash, inference"] == 10293
    assert table.loc["float32", "deployed flash, inference"] > table.loc["q16.16", "deployed flash, inference"]


def test_preferred_formats_keep_each_librarys_own():
    frame = rows_frame([row("trainable", 1, 1, 1, 1), row("inference", 1, 1, 1, 1)])
    frame = pd.concat([frame, frame.assign(qformat="q8.8"), frame.assign(qformat="float32", library="emlearn")])
    kept = preferred_formats(frame, "q16.16")
    assert sorted(set(zip(kept["library"], kept["qformat"], strict=True))) == [
        ("emlearn", "float32"),
        ("qnn", "q16.16"),
    ]


def test_cores_together_joins_rows_equal_but_for_the_core():
    frame = pd.DataFrame(
        {
            "core": ["m0", "m3", "m4", "m0"],
            "qformat": ["a", "a", "a", "b"],
            "iterations": pd.array([10, 10, 12, None], dtype="Int64"),
        }
    )
    together = cores_together(frame)
    assert together[["core", "qformat"]].to_dict("list") == {"core": ["m0, m3", "m4", "m0"], "qformat": ["a", "a", "b"]}
    assert together["iterations"].tolist()[:2] == [10, 12] and pd.isna(together["iterations"].iloc[2])


def test_failure_kinds_group_cells_by_status_and_message():
    rows = rows_frame(
        [row("trainable", 1, 1, 1, 1, status="invalid") for _ in range(2)]
        + [row("inference", 1, 1, 1, 1, status="timeout")]
    )
    rows["message"] = ["trainable cells are invalid\nsecond line", "trainable cells are invalid", "hung"]
    kinds = failure_kinds(rows)
    assert [(kind.status, kind.message, len(kind.cells)) for kind in kinds] == [
        ("invalid", "trainable cells are invalid", 2),
        ("timeout", "hung", 1),
    ]
    assert kinds[1].cells == ("cortex-m0plus q16.16 inference",)


def flagged(core: str, qformat: str, flags: str) -> ResultRow:
    return ResultRow(
        core=core,
        board="b",
        qformat=qformat,
        variant="inference",
        opt="Os",
        workload="xor",
        status="ok",
        flags=flags,
        elf=f"build/{core}/{qformat}/firmware.elf",
    )


def test_flags_table_has_one_row_per_distinct_set():
    rows = rows_frame(
        [
            flagged("cortex-m0", "q8.8", "-Os -mcpu=cortex-m0 -DQ=8 -Ibuild/cortex-m0/q8.8"),
            flagged("cortex-m0", "q16.16", "-Os -mcpu=cortex-m0 -DQ=16 -Ibuild/cortex-m0/q16.16"),
            flagged("cortex-m4", "q8.8", "-Os -mcpu=cortex-m4 -mthumb -DQ=8 -Ibuild/cortex-m4/q8.8"),
        ]
    )
    assert analysis_flags(rows) == [
        ("every cell", "-Os -I<cell>"),
        ("core cortex-m0", "-mcpu=cortex-m0"),
        ("core cortex-m4", "-mcpu=cortex-m4 -mthumb"),
        ("qformat q8.8", "-DQ=8"),
        ("qformat q16.16", "-DQ=16"),
    ]


def analysis_flags(rows: pd.DataFrame) -> list[tuple[str, str]]:
    return list(flags_table(rows).itertuples(index=False, name=None))


def test_group_totals_and_symbol_diff():
    before = pd.DataFrame(
        {"symbol": ["a", "b", "c"], "group": ["g", "g", "h"], "category": ["code", "code", "bss"], "size": [10, 20, 8]}
    )
    after = pd.DataFrame(
        {
            "symbol": ["a", "c", "d", "c"],
            "group": ["g", "h", "g", "h"],
            "category": ["code", "bss", "code", "data"],
            "size": [10, 16, 5, 4],
        }
    )
    totals = group_totals(after).set_index("group")
    assert totals.loc["h", ["code", "rodata", "data", "bss", "total"]].tolist() == [0, 0, 4, 16, 20]
    diff = symbol_diff_table(before, after)
    assert diff[["kind", "symbol", "before", "after", "change"]].values.tolist() == [
        ["removed", "b", 20, 0, -20],
        ["grown", "c", 8, 20, 12],
        ["added", "d", 0, 5, 5],
    ]


@pytest.mark.parametrize(
    ("name", "short"),
    [
        (
            "qnn::MultilayerPerceptron<qnn::QValue<16u, 16u, true>, 2u>::feedForward(qnn::QValue<16u> const*)",
            "qnn::MultilayerPerceptron<…>::feedForward",
        ),
        ("(anonymous namespace)::logProgress(unsigned long)", "(anonymous namespace)::logProgress"),
        ("main", "main"),
    ],
)
def test_short_names(name, short):
    assert short_name(name) == short


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("qnn::TanhTable<4u, 5u>::entries", "activation tables"),
        ("qnn::MultilayerPerceptron<qnn::QValue<16u>>::feedForward(qnn::QValue<16u> const*)", "qnn"),
        ("qnn::QValue<16u> qnn::operator*(qnn::QValue<16u>, qnn::QValue<16u>)", "qnn"),
        ("void qbench::ReportLine::digits<unsigned int>(unsigned int)", "reporting"),
        ("void (anonymous namespace)::f(qnn::QValue<16u>)", "workload harness"),  # qnn only in the parameters
        ("(anonymous namespace)::network", "network object"),
        ("(anonymous namespace)::deployedWeights", "deployed weights"),
        ("__aeabi_lmul", "compiler run-time"),
        ("__udivsi3", "compiler run-time"),
        ("memcpy", "C library"),
        ("qbench_reset", "start-up"),
        ("_GLOBAL__sub_I_main", "static constructors"),
        ("main", "workload harness"),
        ("__gesf2", "compiler run-time"),  # soft-float
        ("__fixsfsi", "compiler run-time"),
        ("tanhf", "C library"),  # libm
        ("__ieee754_expf", "C library"),
        ("__errno", "C library"),
        ("__dso_handle", "start-up"),
        ("QbenchAdapter::train<qnn::MultilayerPerceptron<x>, qnn::QValue<16u>>", "qnn"),  # the adapter's
    ],
)
def test_symbol_groups(name, group):
    assert group_of(name) == group


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("eml_net_forward", "emlearn"),  # a C prefix, at the start of the name only
        ("my_eml_helper", "workload harness"),
        ("awk::Network<2u>::train()", "emlearn"),
        ("void f(awk::Fixed<8, 8>)", "workload harness"),
    ],
)
def test_a_librarys_declared_symbol_prefixes_group_its_code(name, group):
    assert group_of(name, "emlearn", ("eml_", "awk::")) == group


def test_without_parameters_keeps_anonymous_namespaces():
    assert without_parameters("(anonymous namespace)::evaluate()") == "(anonymous namespace)::evaluate"
