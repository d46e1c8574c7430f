"""The report's first screen, on hand-made results: within FIRST_SCREEN_LINES lines it holds the article's claims
(XOR runs only), the cost per core at one stated clock and what failed; constant columns go to captions, and a
section the run has no data for is left out."""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd
import pytest

from qbench.execution.protocol import TrainingLogEntry
from qbench.hardware.targets import Part
from qbench.records.results import InstructionRow, ResultRow, SymbolRow, SymbolTable, TrainingLog, saved_results
from qbench.reporting.report import FIRST_SCREEN_END, FIRST_SCREEN_LINES, render

PARTS = {
    "STM32L011K4": Part(
        "STM32L011K4", "ST", "cortex-m0plus", flash_bytes=16 * 1024, ram_bytes=2 * 1024, clock_hz=32_000_000
    )
}
XOR = "2-4-1 tanh/sigmoid"
ENVIRONMENT = {
    "qbench": "0",
    "git_sha": "f" * 40,
    "git_dirty": False,
    "date": "2026-01-01T00:00:00Z",
    "python": "3",
    "host": "Linux",
    "pyelftools": "0",
    "capstone": "5",
    "packages": {},
    "toolchains": {"gcc": "12"},
    "problems": [],
    "interrupted": False,
    "libraries": {},
}
CORTEX_M = [
    "cortex-m0",
    "cortex-m0plus",
    "cortex-m3",
    "cortex-m4",
    "cortex-m4f",
    "cortex-m7",
    "cortex-m33",
    "cortex-m55",
]


def xor_row(core: str, qformat: str, variant: str, **columns) -> ResultRow:
    trainable = variant == "trainable"
    figures = {
        "lib_flash": 1768 if trainable else 748,
        "lib_ram_static": 180 if trainable else 24,
        "img_flash": 3038 if trainable else 2018,
        "img_ram_static": 180 if trainable else 24,
        "qemu": "qemu",
        "emulated_cpu": core,
        "learned": True,
        "learned_exact": True,
        "iterations": 1352 if trainable else None,
        "final_error": 0.0986,
        "outputs": "0.08;0.9;0.92;0.07",
        "instr_forward": 631.0 if trainable else 350.75,
        "instr_forward_occurrences": 40 if trainable else 4,
        "est_cycles_forward": 824.0,
        "est_cycles_forward_min": 821.0,
        "est_cycles_forward_max": 827.0,
        "instr_train_step": 2457.5 if trainable else None,
        "instr_train_step_occurrences": 8 if trainable else None,
        "est_cycles_train_step": 3436.0 if trainable else None,
        "est_cycles_train_step_min": 3403.0 if trainable else None,
        "est_cycles_train_step_max": 3468.0 if trainable else None,
        "status": "ok",
        "stack_peak": 396,
        "ram_total": 576 if trainable else 348,
        "exception_frame": 32,
        "lib_ram_total": 312 if trainable else 84,
        "flags": f"-Os -mcpu={core} -Ibuild/{core}/{qformat}-{variant}",
        "elf": f"build/{core}/{qformat}-{variant}/firmware.elf",
    }
    return ResultRow(
        core=core,
        board="b",
        qformat=qformat,
        variant=variant,
        opt="Os",
        workload="xor",
        network=XOR,
        **{**figures, **columns},
    )


def image_symbols(core: str, qformat: str, variant: str, library: str = "qnn") -> list[SymbolRow]:
    key = {
        "core": core,
        "qformat": qformat,
        "variant": variant,
        "opt": "Os",
        "workload": "xor",
        "library": library,
        "network": XOR,
    }
    trainable = variant == "trainable"
    groups = [
        (library, "code", 856 if trainable else 232),
        (library, "data", 4 if trainable else 0),
        ("activation tables", "rodata", 162),
        ("network object", "bss", 172 if trainable else 24),
        ("workload harness", "code", 1028),
    ]
    if not trainable:
        groups.append(("deployed weights", "rodata", 68))
    return [
        SymbolRow(**key, symbol=f"{group} symbol", group=group, category=category, size=size)
        for group, category, size in groups
    ]


def baseline_symbols(core: str) -> list[SymbolRow]:
    return [
        SymbolRow(
            core=core,
            qformat="",
            variant="baseline",
            opt="Os",
            workload="xor",
            library="",
            network="",
            symbol="qbench_reset",
            group="start-up",
            category="code",
            size=288,
        )
    ]


def training_log(core: str, qformat: str, errors: list[float]) -> TrainingLog:
    entries = tuple(TrainingLogEntry(10 * step, int(error * 65536), (0, 0)) for step, error in enumerate(errors))
    return TrainingLog(
        core=core,
        qformat=qformat,
        variant="trainable",
        opt="Os",
        workload="xor",
        library="qnn",
        network=XOR,
        fractional_bits=16,
        entries=entries,
    )


def xor_results(cores: list[str], formats: tuple[str, ...] = ("q16.16", "q8.8"), extra: list[ResultRow] = ()):
    variants = ("trainable", "inference")
    cells = [(core, qformat, variant) for core in cores for qformat in formats for variant in variants]
    rows = [xor_row(*cell) for cell in cells] + list(extra)
    symbols = [symbol for cell in cells for symbol in image_symbols(*cell)]
    symbols += [symbol for core in cores for symbol in baseline_symbols(core)]
    logs = [training_log(core, qformat, [0.5, 0.3, 0.2, 0.09]) for core in cores for qformat in formats]
    instructions = [
        InstructionRow(
            core=cores[0],
            qformat="q16.16",
            variant="trainable",
            opt="Os",
            workload="xor",
            library="qnn",
            network=XOR,
            region="forward",
            function="qnn::dot",
            instructions=631.0,
        )
    ]
    return saved_results(rows, symbols, ENVIRONMENT, instructions, logs)


def first_screen(report: str) -> list[str]:
    return report.split(FIRST_SCREEN_END, 1)[0].rstrip("\n").splitlines()


def section(report: str, title: str) -> str:
    return report.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def headers(text: str) -> list[str]:
    """The column names of the (last) table in text."""
    lines = text.splitlines()
    header = [line for line, below in zip(lines, lines[1:], strict=False) if below.startswith(("|:", "|-"))]
    return [name.strip() for name in header[-1].strip("|").split("|")]


def test_the_first_screen_holds_the_claims_and_the_cost_per_core():
    report = render(xor_results(["cortex-m0plus", "cortex-m4"]), PARTS, {})
    screen = first_screen(report)
    assert len(screen) <= FIRST_SCREEN_LINES
    text = "\n".join(screen)
    claims = section(text, "The article's claims")
    assert claims.count("| holds ") + claims.count("| does not hold ") == 5  # each claim once: one library
    assert "| A trainable 2-4-1 Q16.16 network costs under 4 KB of code and data " in claims
    assert "1,194 B, under 4 KB (< 4,096 B)" in claims  # measured on the network's own bytes
    cost = section(text, "Cost per core")
    assert "at 32 MHz on every core" in cost and "µs per inference at 32 MHz" in headers(cost)
    for core in ("cortex-m0plus", "cortex-m4"):
        assert f"| {core} " in cost
    # 824 cycles at 32 MHz, whatever each core file's clock
    assert len(re.findall(r"\|\s+25\.8 \|", cost)) == 4
    assert "nothing failed" in screen[2] and "## What failed" not in text


def test_constant_columns_are_named_in_the_caption_instead():
    report = render(xor_results(["cortex-m0plus", "cortex-m4"]), PARTS, {})
    cost = section(report, "Cost per core")
    assert "Every row: workload xor, network 2-4-1 tanh/sigmoid, library qnn, opt -Os." in cost
    assert headers(cost)[:2] == ["core", "qformat"]  # two cores and two formats: columns
    assert not {"library", "network", "opt", "workload"} & set(headers(cost))
    claims = section(report, "The article's claims")
    assert "Every row: library qnn." in claims and "| library " not in claims


def test_instruction_means_are_named_and_not_falsely_precise():
    report = render(xor_results(["cortex-m0plus"]), PARTS, {})
    cost = section(report, "Cost per core")
    assert "mean instructions per inference" in headers(cost) and re.search(r"\|\s+350\.8 \|", cost)
    speed = section(report, "Speed")
    assert "mean_instr_forward" in headers(speed.split("One training step")[0]) and "350.8" in speed
    assert "350.75" not in speed
    assert "824 (821–827)" in speed  # cycles: the central estimate with its range
    assert "learned" in headers(cost) and "True" not in cost and "| right " in cost  # never "learned True"


def test_a_section_without_data_is_left_out():
    report = render(xor_results(["cortex-m0plus"]), PARTS, {})
    for absent in (
        "## Scaling",
        "## Number formats against float32",
        "## Libraries side by side",
        "## Failures",
        "## What failed",
        "## The article's host table",
    ):
        assert absent not in report
    assert "_No data._" not in report and "No data" not in report
    not_run = xor_results(["cortex-m0plus"])
    for column in ("qemu", "emulated_cpu", "outputs", "flags", "elf"):
        not_run.rows[column] = ""
    for column in (
        "learned",
        "learned_exact",
        "lib_ram_total",
        "ram_total",
        "instr_forward",
        "est_cycles_forward",
        "instr_train_step",
        "est_cycles_train_step",
        "stack_peak",
    ):
        not_run.rows[column] = pd.NA
    report = render(not_run, PARTS, {})
    for absent in ("## Speed", "## RAM", "## Learning", "Compiler and linker flags"):
        assert absent not in report
    assert {"static RAM, trainable", "static RAM, inference"} <= set(headers(section(report, "Cost per core")))


def test_a_wide_run_narrows_the_cost_table_to_fit_the_first_screen():
    report = render(xor_results(CORTEX_M, ("q16.16", "q8.8", "q4.12")), PARTS, {})
    screen = first_screen(report)
    assert len(screen) <= FIRST_SCREEN_LINES
    cost = section("\n".join(screen), "Cost per core")
    assert "each library in one format (Q16.16 where it has it); the others are in the details below" in cost
    assert "qformat q16.16" in cost
    assert all(f"| {core} " in cost for core in CORTEX_M)
    assert "| q8.8 " in section(report, "Speed") and "| q4.12 " in section(report, "Speed")  # still below


def test_what_failed_is_on_the_first_screen():
    failed = [
        xor_row("cortex-m4", "q4.12", "trainable", status="build-failed", message="error: no\nmore"),
        xor_row("cortex-m4", "q4.12", "inference", status="timeout", message="hung after 60 s"),
    ]
    report = render(xor_results(["cortex-m0plus"], extra=failed), PARTS, {})
    screen = "\n".join(first_screen(report))
    assert "**2 failed**" in screen
    kinds = section(screen, "What failed")
    assert "- **build-failed**, 1 cell (cortex-m4 q4.12 trainable): error: no" in kinds and "more" not in kinds
    assert "- **timeout**, 1 cell (cortex-m4 q4.12 inference): hung after 60 s" in kinds
    assert "## Failures" in report  # the whole rows below


def test_invalid_cells_are_counted_on_the_first_line_not_passed_over_as_nothing_failed():
    invalid = [xor_row("cortex-m0plus", "q40.24", "trainable", status="invalid", message="q40.24 is 64 bits wide")]
    report = render(xor_results(["cortex-m0plus"], extra=invalid), PARTS, {})
    opening = first_screen(report)[2]
    assert opening.startswith("4 ok, 0 failed, **1 invalid** (cannot be built as asked) of 5 matrix cells ([why]")
    assert "nothing failed" not in opening


def classification_results() -> object:
    rows = [
        ResultRow(
            core=core,
            board="b",
            qformat=qformat,
            variant="inference",
            opt="Os",
            workload="iris",
            status="ok",
            network="4-8-3 tanh/sigmoid",
            lib_flash=1200,
            lib_ram_static=40,
            qemu="qemu",
            lib_ram_total=84,
            instr_forward=2107.0,
            est_cycles_forward=2636.0,
            accuracy_device=43 / 45,
            accuracy_float_host=43 / 45,
            test_data_bytes=405,
            test_samples=45,
        )
        for core in ("cortex-m0plus", "cortex-m4")
        for qformat in ("q16.16", "q8.8")
    ]
    return saved_results(rows, [], ENVIRONMENT)


def test_a_classification_run_opens_with_accuracy_not_xor_claims():
    report = render(classification_results(), PARTS, {})
    screen = "\n".join(first_screen(report))
    assert "The article's claims" not in report and "not measured" not in screen
    cost = section(screen, "Cost per core")
    assert {"accuracy on device %", "µs per inference at 32 MHz"} <= set(headers(cost)) and " 95.6 |" in cost
    assert "training step" not in cost and "learned" not in headers(cost)  # nothing in those columns: left out


def test_the_cost_per_core_gives_deployed_flash_and_says_what_it_holds():
    report = render(xor_results(["cortex-m0plus", "cortex-m4"]), PARTS, {})
    cost = section("\n".join(first_screen(report)), "Cost per core")
    assert {"deployed flash, trainable", "deployed flash, inference"} <= set(headers(cost))
    assert "flash, trainable" not in headers(cost) and "network flash" not in cost.lower()
    assert "Deployed flash: the image less the empty image and the test split" in cost
    assert "soft-float and libm" in cost and "`deployed_flash` in results.csv" in cost
    assert re.search(r"\|\s+1,768 \|\s+748 \|", cost)  # lib_flash, no test split: the deployed flash


def test_float_against_fixed_point_on_the_first_screen_is_ranked_by_deployed_flash():
    """Issue 23: on cortex-m0plus float32's own bytes (9,644 B) are fewer than Q16.16's (10,022 B), but float32
    calls soft-float and libm; deployed it is 15,659 B against 10,293 B. The first screen must show that."""
    common = {
        "core": "cortex-m0plus",
        "board": "b",
        "variant": "inference",
        "opt": "Os",
        "workload": "iris",
        "status": "ok",
        "network": "4-8-3 tanh/sigmoid",
        "lib_ram_static": 40,
        "qemu": "qemu",
        "lib_ram_total": 84,
        "instr_forward": 2107.0,
        "est_cycles_forward": 2636.0,
        "accuracy_device": 43 / 45,
        "accuracy_float_host": 43 / 45,
        "test_data_bytes": 405,
        "test_samples": 45,
    }
    rows = [
        ResultRow(qformat="float32", lib_flash=15659 + 405, deployed_flash=15659, **common),
        ResultRow(qformat="q16.16", lib_flash=10293 + 405, deployed_flash=10293, **common),
    ]
    key = {
        "core": "cortex-m0plus",
        "variant": "inference",
        "opt": "Os",
        "workload": "iris",
        "library": "qnn",
        "network": "4-8-3 tanh/sigmoid",
    }
    symbols = [
        SymbolRow(**key, qformat="float32", symbol="qnn f", group="qnn", category="code", size=9644),
        SymbolRow(
            **key, qformat="float32", symbol="__aeabi_fmul", group="compiler run-time", category="code", size=6015
        ),  # soft-float and libm: not the network's own bytes
        SymbolRow(**key, qformat="q16.16", symbol="qnn q", group="qnn", category="code", size=10022),
    ]
    report = render(saved_results(rows, symbols, ENVIRONMENT), PARTS, {})
    cost = section("\n".join(first_screen(report)), "Cost per core")
    flash = {
        line.split("|")[1].strip(): line
        for line in cost.splitlines()
        if line.startswith("| float32 ") or line.startswith("| q16.16 ")
    }
    assert headers(cost)[:2] == ["qformat", "deployed flash, inference"]
    assert re.search(r"\|\s+15,659 \|", flash["float32"]) and re.search(r"\|\s+10,293 \|", flash["q16.16"])
    assert "9,644" not in cost and "10,022" not in cost  # the network's own bytes are not the first screen's flash
    footprint = section(report, "Footprint")  # they stay in the details, labelled network_flash
    assert "network_flash" in headers(footprint) and re.search(r"\|\s+9,644 \|\s+15,659 \|", footprint)


def test_figures_render_under_their_sections_and_missing_ones_leave_no_line():
    figures = {
        "footprint": [("Flash by core", "plots/a.png"), ("RAM by core", "plots/b.png")],
        "instructions": [],
        "training": [("Error", "plots/c.png")],
    }
    report = render(xor_results(["cortex-m0plus"]), PARTS, figures)
    assert "![Flash by core](plots/a.png)" in section(report, "Footprint")
    assert "![RAM by core](plots/b.png)" in section(report, "Footprint")
    assert "![Error](plots/c.png)" in section(report, "Learning")
    assert report.count("![") == 3 and "No data for this plot" not in report


def test_the_report_reads_the_symbols_once_a_few_at_a_time_and_never_whole(monkeypatch):
    """A long sweep's symbols are never in memory whole: the report takes its figures from one pass over them, a
    frame at a time (images split between frames), and says what it says from the whole frame."""
    saved = xor_results(["cortex-m0plus", "cortex-m4"])
    whole = render(saved, PARTS, {})
    frame, passes = saved.symbols.frame(), []

    def a_few_at_a_time():
        passes.append(len(passes))
        return (frame.iloc[start : start + 3].reset_index(drop=True) for start in range(0, len(frame), 3))

    monkeypatch.setattr(SymbolTable, "frame", lambda table: pytest.fail("the report read every symbol at once"))
    assert render(replace(saved, symbols=SymbolTable(a_few_at_a_time)), PARTS, {}) == whole
    assert passes == [0]
