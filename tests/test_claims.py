"""The article's claims, computed by hand on small results and symbol tables: each measured on the network's own
bytes (its library's symbol group, activation tables, network object, deployed weights), its threshold printed
with what was found."""

from __future__ import annotations

import pandas as pd
import pytest

from qbench.hardware.targets import Part
from qbench.records.results import ResultRow, SymbolRow, SymbolTable, rows_frame, symbols_frame, training_log_name
from qbench.reporting.analysis import network_bytes
from qbench.reporting.claims import (
    ARTICLE,
    FAILS,
    HOLDS,
    UNMEASURED,
    article_claims,
    claim_symbols,
    code_under_4kb,
    fits_the_parts,
    inference_about_a_third,
    parts_to_check,
    q8_less_smooth,
    tables_only_when_used,
)

IMAGE = {
    "core": ARTICLE["core"],
    "qformat": ARTICLE["qformat"],
    "opt": ARTICLE["opt"],
    "workload": ARTICLE["workload"],
    "network": ARTICLE["network"],
}
ARTICLE_PART = Part(
    "STM32L011K4", "ST", "cortex-m0plus", flash_bytes=16 * 1024, ram_bytes=2 * 1024, clock_hz=32_000_000
)


def own(symbols: list[SymbolRow]) -> pd.DataFrame:
    """Each image's network bytes, as the claims take them."""
    return network_bytes(symbols_frame(symbols))


def result(variant: str, library: str = "qnn", **columns) -> ResultRow:
    return ResultRow(board="b", variant=variant, status="ok", library=library, **{**IMAGE, **columns})


def symbol(variant: str, group: str, category: str, size: int, library: str = "qnn", name: str = "") -> SymbolRow:
    image = {**IMAGE, "variant": variant, "library": library}
    if variant == "baseline":
        image |= {"qformat": "", "library": "", "network": ""}
    return SymbolRow(**image, symbol=name or f"{group} {category}", group=group, category=category, size=size)


def network_symbols(variant: str, code: int, library: str = "qnn") -> list[SymbolRow]:
    """A trainable or inference-only image as qnn's 2-4-1 Q16.16 on Cortex-M0+ links it, with `code` bytes of
    the library's own code; the workload harness is large and is never the network's."""
    harness = symbol(variant, "workload harness", "code", 1028, library)
    if variant == "trainable":
        return [
            symbol(variant, library, "code", code, library),
            symbol(variant, library, "data", 4, library),
            symbol(variant, "activation tables", "rodata", 162, library),
            symbol(variant, "network object", "bss", 172, library),
            harness,
        ]
    return [
        symbol(variant, library, "code", code, library),
        symbol(variant, "activation tables", "rodata", 162, library),
        symbol(variant, "deployed weights", "rodata", 68, library),
        symbol(variant, "network object", "bss", 24, library),
        harness,
    ]


BASELINE = [symbol("baseline", "start-up", "code", 470), symbol("baseline", "reporting", "code", 200)]


def test_under_4kb_is_measured_on_the_networks_own_bytes_not_the_library_cost():
    rows = rows_frame([result("trainable", lib_flash=5000, img_flash=6500)])  # the harness is large
    claim = code_under_4kb(rows, own(network_symbols("trainable", 856)))
    # 856 + 4 (qnn) + 162 (table) + 172 (network object) = 1,194 B
    assert claim.claim_id == "trainable-under-4kb" and claim.verdict == HOLDS
    assert "1,194 B, under 4 KB (< 4,096 B)" in claim.measured
    assert "qnn code 860 + activation tables 162 + network object 172" in claim.measured
    assert "5,000 B" in claim.measured  # the library cost with the harness, as context
    too_big = code_under_4kb(rows, own(network_symbols("trainable", 3800)))  # 4,138 B
    assert too_big.verdict == FAILS and "4,138 B, not under 4 KB" in too_big.measured
    assert code_under_4kb(rows, own([])).verdict == UNMEASURED  # no symbols: never a guess


def test_a_third_is_the_librarys_code_and_the_networks_ram():
    rows = rows_frame([result("trainable", lib_flash=1768), result("inference", lib_flash=748)])
    symbols = own(network_symbols("trainable", 856) + network_symbols("inference", 232))
    claim = inference_about_a_third(rows, symbols)
    # code 232 / 860 = 0.27, RAM 24 / 176 = 0.14; flash with tables and weights 462 / 1,022 = 0.45 (context)
    assert claim.claim_id == "inference-about-a-third" and claim.verdict == HOLDS
    assert "inference-only code is 0.27 of trainable (qnn code 232 / 860 B)" in claim.measured
    assert "RAM 0.14 (network RAM 24 / 176 B)" in claim.measured and "≤ 0.40" in claim.measured
    assert "0.45 (462 / 1,022 B)" in claim.measured and "0.42 in flash" in claim.measured
    half = own(network_symbols("trainable", 856) + network_symbols("inference", 426))  # 426 / 860
    assert inference_about_a_third(rows, half).verdict == FAILS
    alone = rows_frame([result("trainable", lib_flash=1768)])
    assert inference_about_a_third(alone, symbols).verdict == UNMEASURED


def fitting_row(**columns) -> ResultRow:
    figures = {
        "img_flash": 3038,
        "img_ram_static": 180,
        "stack_peak": 396,
        "ram_total": 576,
        "exception_frame": 32,
        "qemu": "qemu",
    }
    return result("trainable", **{**figures, **columns})


def test_fits_a_part_per_part_checked_with_its_id():
    symbols = own(network_symbols("trainable", 856))
    (claim,) = fits_the_parts(rows_frame([fitting_row()]), symbols, {"STM32L011K4": ARTICLE_PART})
    assert claim.claim_id == "fits-stm32l011k4" and claim.verdict == HOLDS
    # 576 + 32 = 608 of 2,048 B; the network's own flash 1,022 of 16,384 B
    assert "RAM 608 of 2,048 B (29.7 %" in claim.measured and "1,022 B, is 6.2 %" in claim.measured
    (deep,) = fits_the_parts(
        rows_frame([fitting_row(stack_peak=1900, ram_total=2080)]), symbols, {"STM32L011K4": ARTICLE_PART}
    )
    assert deep.verdict == FAILS and "does not fit" in deep.measured
    small = Part("TINY-1", "v", "cortex-m0plus", flash_bytes=2048, ram_bytes=4096, clock_hz=1_000_000)
    (tiny,) = fits_the_parts(rows_frame([fitting_row()]), symbols, {"TINY-1": small})
    assert tiny.claim_id == "fits-tiny-1" and tiny.verdict == FAILS  # 3,038 B of flash > 2,048
    (unknown,) = fits_the_parts(rows_frame([fitting_row()]), symbols, {})
    assert unknown.claim_id == "fits-stm32l011k4" and unknown.verdict == UNMEASURED


def test_the_parts_checked_are_the_articles_else_those_of_its_core():
    other = Part("OTHER", "v", "cortex-m0plus", flash_bytes=1, ram_bytes=1, clock_hz=1)
    elsewhere = Part("M4", "v", "cortex-m4", flash_bytes=1, ram_bytes=1, clock_hz=1)
    assert parts_to_check({"OTHER": other, "STM32L011K4": ARTICLE_PART, "M4": elsewhere}) == ["STM32L011K4"]
    assert parts_to_check({"OTHER": other, "M4": elsewhere}) == ["OTHER"]


def test_only_the_tables_used_are_linked():
    image = network_symbols("trainable", 856)
    claim = tables_only_when_used(symbols_frame(image + BASELINE))
    assert claim.verdict == HOLDS
    assert "1 table (162 B)" in claim.measured and "0 in the empty baseline" in claim.measured
    second = [symbol("trainable", "activation tables", "rodata", 162, name="qnn::TanhTable<8u>::entries")]
    assert tables_only_when_used(symbols_frame(image + second + BASELINE)).verdict == FAILS
    in_baseline = [symbol("baseline", "activation tables", "rodata", 162)]
    assert tables_only_when_used(symbols_frame(image + BASELINE + in_baseline)).verdict == FAILS
    assert tables_only_when_used(symbols_frame(image)).verdict == UNMEASURED  # no baseline to compare with


def test_another_librarys_tables_are_counted_one_per_activation_and_alike_in_both_variants():
    def tables(variant: str, *names: str) -> list[SymbolRow]:
        return [symbol(variant, "activation tables", "rodata", 132, "other", f"other::{name}") for name in names]

    trainable = network_symbols("trainable", 900, "other")[:1] + tables("trainable", "tanh", "sigmoid")
    inference = network_symbols("inference", 300, "other")[:1] + tables("inference", "tanh", "sigmoid")
    claim = tables_only_when_used(symbols_frame(trainable + inference + BASELINE), "other")
    assert claim.verdict == HOLDS, claim.measured
    assert claim.measured.startswith("2 tables (264 B) in the tanh/sigmoid trainable image")
    assert "1 to 2 (one per activation)" in claim.measured
    third = tables("trainable", "relu")
    assert tables_only_when_used(symbols_frame(trainable + third + inference + BASELINE), "other").verdict == FAILS
    fewer = inference[:1] + tables("inference", "tanh")
    assert tables_only_when_used(symbols_frame(trainable + fewer + BASELINE), "other").verdict == FAILS
    none = network_symbols("trainable", 900, "other")[:1]
    assert tables_only_when_used(symbols_frame(none + BASELINE), "other").verdict == FAILS


def training(rows: pd.DataFrame, curves: dict[str, list[float]]) -> dict[str, pd.DataFrame]:
    logs = {}
    for row in rows.itertuples():
        name = training_log_name(row.workload, row.library, row.network, row.core, row.qformat, row.variant, row.opt)
        errors = curves[row.qformat]
        logs[name] = pd.DataFrame({"iteration": range(0, 10 * len(errors), 10), "error": errors})
    return logs


def learned_in(q16: int, q8: int) -> pd.DataFrame:
    learned = {"learned": True, "learned_exact": True}
    return rows_frame(
        [result("trainable", **learned, iterations=q16), result("trainable", qformat="q8.8", **learned, iterations=q8)]
    )


def test_q8_less_smooth_says_what_was_found():
    rows = learned_in(300, 500)
    falling = [0.5, 0.4, 0.3, 0.2, 0.09]
    claim = q8_less_smooth(rows, training(rows, {"q16.16": falling, "q8.8": falling}))
    assert claim.claim_id == "q8.8-less-smooth" and claim.verdict == HOLDS
    assert claim.measured.startswith("Q8.8 learned more slowly and no more roughly")
    faster = learned_in(300, 200)
    smooth = q8_less_smooth(faster, training(faster, {"q16.16": falling, "q8.8": falling}))
    assert smooth.verdict == FAILS and smooth.measured.startswith("Q8.8 learned no more slowly and no more roughly")
    assert q8_less_smooth(rows, {}).verdict == UNMEASURED  # no training logs


def test_article_claims_have_stable_ids_for_every_library():
    rows = rows_frame(
        [fitting_row(lib_flash=1768), result("inference", lib_flash=748), fitting_row(library="other", lib_flash=1768)]
    )
    symbols = symbols_frame(
        network_symbols("trainable", 856)
        + network_symbols("inference", 232)
        + BASELINE
        + network_symbols("trainable", 856, library="other")
    )
    claims = article_claims(rows, claim_symbols(SymbolTable.of(symbols)), {}, {"STM32L011K4": ARTICLE_PART})
    assert list(claims.columns) == ["claim_id", "claim", "library", "measured", "verdict"]
    ids = [
        "trainable-under-4kb",
        "inference-about-a-third",
        "fits-stm32l011k4",
        "q8.8-less-smooth",
        "tables-only-when-used",
    ]
    assert list(claims["claim_id"]) == [claim_id for claim_id in ids for _ in ("qnn", "other")]
    assert list(claims["library"]) == ["qnn", "other"] * len(ids)
    by_id = claims.set_index(["claim_id", "library"])["verdict"]
    assert by_id[("trainable-under-4kb", "other")] == HOLDS  # measured on the other library's own group
    assert by_id[("inference-about-a-third", "other")] == UNMEASURED  # no inference-only image of it
    assert set(claims["verdict"]) <= {HOLDS, FAILS, UNMEASURED}


@pytest.mark.parametrize("workload", ["iris", "digits"])
def test_a_classification_run_measures_none_of_the_xor_claims(workload):
    rows = rows_frame([result("inference", workload=workload, network="4-8-3 tanh/sigmoid", lib_flash=900)])
    claims = article_claims(rows, claim_symbols(SymbolTable.of(symbols_frame([]))), {}, {"STM32L011K4": ARTICLE_PART})
    assert set(claims["verdict"]) == {UNMEASURED}
