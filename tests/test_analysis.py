"""The report's maths and tables, on small frames worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from qbench.analysis import (
    budget_table,
    fits,
    group_totals,
    percent,
    ratio,
    symbol_diff_table,
    variant_ratio_table,
)
from qbench.results import ResultRow, rows_frame
from qbench.symbols import group_of, short_name, without_parameters
from qbench.targets import Part

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


def test_variant_ratio_table():
    table = variant_ratio_table(
        rows_frame([row("trainable", 3000, 200, 4000, 300), row("inference", 1000, 50, 2000, 60)])
    )
    assert table.to_dict("records") == [
        {
            "library": "qnn",
            "network": "",
            "core": "cortex-m0plus",
            "qformat": "q16.16",
            "opt": "Os",
            "trainable_flash": 3000,
            "inference_flash": 1000,
            "flash_ratio": pytest.approx(1 / 3),
            "trainable_ram_static": 200,
            "inference_ram_static": 50,
            "ram_ratio": 0.25,
        }
    ]


def test_variant_ratio_needs_both_variants_ok():
    frame = rows_frame([row("trainable", 3000, 200, 4000, 300), row("inference", 1, 1, 1, 1, status="build-failed")])
    assert variant_ratio_table(frame).empty


def test_budget_table():
    frame = rows_frame([row("trainable", 4096, 512, 8192, 2048), row("inference", 1024, 64, 20000, 100)])
    table = budget_table(frame, {"P1": PART}).set_index("variant")
    assert table.loc["trainable", ["lib_flash_pct", "lib_ram_pct", "img_flash_pct", "img_ram_pct"]].tolist() == [
        25.0,
        25.0,
        50.0,
        100.0,
    ]
    assert table.loc["trainable", "fits"] == "fits"
    assert table.loc["inference", "fits"] == "does not fit"  # 20000 bytes of flash > 16 KiB


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
