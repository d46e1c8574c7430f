"""`qbench verify`: binutils re-read the sizes and Unicorn re-counts the instructions of every row's own ELF."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.execution import verify
from qbench.execution.protocol import parse_report

CORES = ("cortex-m0plus", "cortex-m4", "cortex-m55")  # cortex-m55: built and run by QEMU, unmodelled by Unicorn


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `qbench run` of a small matrix, both variants."""
    root = tmp_path_factory.mktemp("verify")
    arguments = [
        "run",
        "--cores",
        ",".join(CORES),
        "--formats",
        "q16.16",
        "--out",
        str(root / "out"),
        "--build-dir",
        str(root / "build"),
    ]
    assert qbench_main(arguments) == 0
    return root / "out"


def _verify(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[list[str]]]:
    """Exit status, summary line and the table's rows as cells (result, row, check, expected, found, note)."""
    status = qbench_main(["verify", str(directory)])
    lines = capsys.readouterr().out.splitlines()
    summary = next(line for line in lines if "checks passed" in line)
    table = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines if line.startswith("| ")]
    return status, summary, table[1:]  # under the header


def _checks(table: list[list[str]], result: str, row_words: str, check: str) -> list[list[str]]:
    """The table rows with this result and check whose row label holds every word of row_words."""
    return [
        cells
        for cells in table
        if cells[0] == result and cells[2] == check and all(word in cells[1].split() for word in row_words.split())
    ]


def _edited_copy(results: Path, destination: Path, edit) -> Path:
    """The results directory again, its results.json rows passed through edit(rows)."""
    copy = destination / "edited"
    shutil.copytree(results, copy)
    document = json.loads((copy / "results.json").read_text())
    edit(document["rows"])
    (copy / "results.json").write_text(json.dumps(document))
    return copy


def _m4_inference(rows: list[dict]) -> dict:
    return next(row for row in rows if row["core"] == "cortex-m4" and row["variant"] == "inference")


REGION_CHECKS = ("", "_min", "_max", "_occurrences")  # after instr_<region>: the whole run's figures


def test_untouched_results_pass(results, capsys):
    status, summary, table = _verify(results, capsys)
    assert status == 0, table
    assert ", 0 failed, 2 skipped" in summary
    for core in ("cortex-m0plus", "cortex-m4"):
        for check in (
            "img_code",
            "img_rodata",
            "img_data",
            "img_bss",
            "instr_markers",
            *(f"instr_forward{suffix}" for suffix in REGION_CHECKS),
        ):
            assert len(_checks(table, "passed", core, check)) == 2, (core, check)
        for suffix in REGION_CHECKS:
            assert len(_checks(table, "passed", f"{core} trainable", f"instr_train_step{suffix}")) == 1, suffix


CHANGES = {"img_code": 4, "instr_forward": 1, "instr_forward_max": -1, "instr_forward_occurrences": 2}


def test_edited_figures_fail_and_are_named(results, tmp_path, capsys):
    edited: dict[str, float] = {}

    def edit(rows: list[dict]) -> None:
        row = _m4_inference(rows)
        for column, change in CHANGES.items():
            if row.get(column) is not None:  # an absent figure has nothing to falsify
                row[column] += change
                edited[column] = row[column]

    status, summary, table = _verify(_edited_copy(results, tmp_path, edit), capsys)
    assert status == 1
    assert "img_code" in edited
    assert f", {len(edited)} failed," in summary
    for column, value in edited.items():
        [cells] = _checks(table, "FAILED", "cortex-m4 inference", column)
        assert float(cells[3]) == value and float(cells[4]) == value - CHANGES[column]
    assert [cells[0] for cells in table[: len(edited)]] == ["FAILED"] * len(edited), "failures come first"


def test_cortex_m55_is_skipped_with_the_reason(results, capsys):
    _, _, table = _verify(results, capsys)
    skipped = _checks(table, "skipped", "cortex-m55", "instructions")
    assert [cells[5] for cells in skipped] == ["Unicorn has no model of cortex-m55"] * 2
    assert not [cells for cells in table if "cortex-m55" in cells[1] and cells[2].startswith("instr_")]
    assert len(_checks(table, "passed", "cortex-m55", "img_code")) == 2


def test_a_missing_elf_fails_naming_its_path(results, tmp_path, capsys):
    missing = tmp_path / "gone" / "firmware.elf"

    def edit(rows: list[dict]) -> None:
        _m4_inference(rows)["elf"] = str(missing)

    status, _, table = _verify(_edited_copy(results, tmp_path, edit), capsys)
    assert status == 1
    for check in ("sizes", "instructions"):
        [cells] = _checks(table, "FAILED", "cortex-m4 inference", check)
        assert cells[5] == f"{missing}: no such file"


def test_an_unreadable_directory_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        qbench_main(["verify", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


# A hand-assembled Cortex-M image (arm-none-eabi-as), vector table at 0:
#   08 movs r0,#0 / bl begin / movs r0,#0 / bl end        the empty region: 3 instructions
#   14 movs r0,#1 / bl begin / movs r1,#1 / cmp r1,#2
#   1e ite gt / addgt.w r2,r2,#0x100 / movle r2,#1        addgt.w fails its condition: QEMU counts it
#   26 movs r0,#1 / bl end                                 region 1: 8 instructions, the no-op one included
#   2c ldr r1,=message / movs r0,#4 / bkpt 0xab            SYS_WRITE0 "hi\n"
#   32 ldr r1,=block / movs r0,#0x20 / bkpt 0xab           SYS_EXIT_EXTENDED, code 7
#   38 b .    3a begin: bx lr    3c end: bx lr    40 block    48 message
# QEMU (-singlestep -d cpu) logs 23 instructions for it.
PROGRAM = bytes.fromhex(
    "0010002009000000002000f016f8002000f014f8012000f010f801210229ccbf02f58072012201200"
    "0f008f807490420abbe07492020abbefee77047704700bf260002000700000068690a004800000040000000"
)


def _counter(code: bytes, budget: int = verify.INSTRUCTION_BUDGET) -> verify.RegionCounter:
    symbols = {
        "qbench_region_begin": 0x3B,
        "qbench_region_end": 0x3D,
        "__stack_top": 0x20001000,
        "__stack_limit": 0x20000000,
    }
    firmware = verify.Firmware((verify.Segment(0, 0, len(code), code),), symbols)
    return verify.RegionCounter(firmware, verify.UNICORN_MODELS["cortex-m4"], budget)


def test_unicorn_counts_the_whole_run_like_qemu_including_it_instructions_that_fail_their_condition():
    counter = _counter(PROGRAM)
    run = counter.run()
    assert (run.lengths, run.instructions) == ({0: [3], 1: [8]}, 23), "to the exit, both bkpts counted once"
    assert (counter.exit_code, counter.output) == (7, ["hi\n"])


def test_a_run_past_its_instruction_budget_fails_clearly():
    with pytest.raises(
        verify.VerifyError,
        match=r"ran past its budget of 20 instructions without exiting; "
        r"its last line: hi$",
    ):
        _counter(PROGRAM, budget=20).run()


def test_a_marker_entered_without_a_branch_to_it_fails_clearly():
    counter = _counter(PROGRAM)
    counter.begin = 0x0A  # as if qbench_region_begin were the bl inside the first block (0x08: movs, bl)
    with pytest.raises(verify.VerifyError, match=r"block at 0x8 \(6 bytes\) runs into qbench_region_begin without"):
        counter.run()


def test_an_unknown_semihosting_operation_fails_clearly():
    program = bytearray(PROGRAM)
    program[0x2E] = 0x18  # movs r0,#4 -> movs r0,#0x18 (SYS_ELAPSED, which verify does not implement)
    with pytest.raises(verify.VerifyError, match="unsupported semihosting operation 0x18 at pc 0x30"):
        _counter(bytes(program)).run()


@pytest.mark.parametrize(
    ("code", "instructions"),
    [
        ("0020", 1),  # movs r0,#0
        ("00f016f8", 1),  # bl: first halfword 0b11110...
        ("2de9f04fbde8f08f", 2),  # push.w / pop.w: 0b11101...
        ("d0f80000", 1),  # ldr.w r0,[r0]: 0b11111...
        ("fee7", 1),  # b . : 0b11100, still 16-bit
        ("ccbf02f580720122abbe", 4),  # ite gt / addgt.w / movle / bkpt 0xab
        ("", 0),
    ],
)
def test_a_blocks_instructions_are_counted_by_their_first_halfwords(code, instructions):
    assert verify.instruction_count(bytes.fromhex(code)) == instructions


def test_a_block_ending_inside_an_instruction_has_no_count():
    assert verify.instruction_count(bytes.fromhex("002000f0")) is None  # movs, then half a bl


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built, not run: xor q8.8 on a core without IT (cortex-m0plus) and one with it (cortex-m4)."""
    build = tmp_path_factory.mktemp("images")
    arguments = ["build", "--cores", "cortex-m0plus,cortex-m4", "--formats", "q8.8", "--build-dir", str(build)]
    assert qbench_main(arguments) == 0
    return build


@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m4"])
@pytest.mark.parametrize("variant", ["inference", "trainable"])
def test_a_whole_run_counts_every_occurrence_the_firmware_ran(images, core, variant):
    [elf] = images.glob(f"xor/{core}/*/*/*-{variant}/firmware.elf")
    counter = verify.RegionCounter(verify.Firmware.read(elf), verify.UNICORN_MODELS[core])
    run = counter.run()
    report = parse_report("".join(counter.output))
    assert counter.exit_code == 0 and report.status == 0
    iterations = report.iterations if variant == "trainable" else 0
    assert iterations > 0 or variant == "inference"
    # Four forwards before training, then per iteration one forward, one train step and four forwards.
    expected = {verify.EMPTY_REGION: 1, 1: 4 + 5 * iterations, **({2: iterations} if iterations else {})}
    assert {region: len(lengths) for region, lengths in run.lengths.items()} == expected
    for lengths in run.lengths.values():
        assert 0 < min(lengths) <= sum(lengths) / len(lengths) <= max(lengths)
    assert sum(sum(lengths) for lengths in run.lengths.values()) < run.instructions


RUN = verify.RegionRun({0: [6, 6], 1: [190, 200, 213], 2: [850, 861]}, instructions=10_000)
# The figures RUN gives: net of the markers (6), forward's mean 201 - 6, its extremes 190 - 6 and 213 - 6.
RIGHT = {
    "instr_markers": 6.0,
    "instr_forward": 195.0,
    "instr_forward_min": 184.0,
    "instr_forward_max": 207.0,
    "instr_forward_occurrences": 3.0,
    "instr_train_step": 849.5,
    "instr_train_step_min": 844.0,
    "instr_train_step_max": 855.0,
    "instr_train_step_occurrences": 2.0,
}


def _outcomes(figures: dict[str, float]) -> dict[str, tuple[verify.Outcome, str]]:
    checks = verify.instruction_comparisons(pd.Series(figures), "row", RUN)
    return {check.check: (check.outcome, check.note) for check in checks}


def test_a_rows_whole_run_figures_pass_when_right():
    outcomes = _outcomes(RIGHT)
    assert set(outcomes) == set(RIGHT)
    assert {outcome for outcome, _ in outcomes.values()} == {verify.Outcome.PASSED}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("instr_forward_occurrences", 4.0),
        ("instr_forward_min", 183.0),
        ("instr_forward_max", 208.0),
        ("instr_forward", 196.0),
        ("instr_train_step_occurrences", 1.0),
        ("instr_train_step_max", 856.0),
        ("instr_markers", 5.0),
    ],
)
def test_a_wrong_whole_run_figure_fails_alone(column, value):
    outcomes = _outcomes({**RIGHT, column: value})
    failed = [check for check, (outcome, _) in outcomes.items() if outcome == verify.Outcome.FAILED]
    assert failed == [column]


def test_a_row_without_extremes_skips_them_with_a_note():
    old = {column: value for column, value in RIGHT.items() if not column.endswith(("_min", "_max"))}
    outcomes = _outcomes(old)
    skipped = {check: note for check, (outcome, note) in outcomes.items() if outcome == verify.Outcome.SKIPPED}
    assert skipped == {
        f"instr_{region}_{end}": f"the row records no instr_{region}_{end}"
        for region in ("forward", "train_step")
        for end in ("min", "max")
    }
    assert {outcomes[column][0] for column in old} == {verify.Outcome.PASSED}


def test_a_region_the_row_has_but_the_run_never_reached_fails():
    run = verify.RegionRun({0: [6], 1: [200]}, instructions=1_000)
    checks = verify.instruction_comparisons(pd.Series(RIGHT), "row", run)
    [missing] = [check for check in checks if check.check.startswith("instr_train_step")]
    assert (missing.check, missing.outcome, missing.note) == (
        "instr_train_step",
        verify.Outcome.FAILED,
        "the region never ran",
    )


@pytest.mark.parametrize(
    ("section_type", "flags", "category"),
    [
        ("PROGBITS", "AX", "code"),
        ("PROGBITS", "A", "rodata"),
        ("ARM_EXIDX", "AL", "rodata"),
        ("PROGBITS", "WA", "data"),
        ("INIT_ARRAY", "WA", "data"),
        ("NOBITS", "WA", "bss"),
        ("NOBITS", "A", None),
    ],
)
def test_sections_are_classified_by_flags_and_type(section_type, flags, category):
    assert verify.section_category(verify.SectionHeader(".any", section_type, flags)) == category
