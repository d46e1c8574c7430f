"""`qbench verify`: binutils re-read the sizes and Unicorn re-counts the instructions of every row's own ELF."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qbench.commands.cli import main as qbench_main
from qbench.execution import verify

CORES = ("cortex-m0plus", "cortex-m4", "cortex-m55")  # cortex-m55: built and run by QEMU, unmodelled by Unicorn


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `qbench run` of a small matrix, both variants."""
    root = tmp_path_factory.mktemp("verify")
    arguments = ["run", "--cores", ",".join(CORES), "--formats", "q16.16",
                 "--out", str(root / "out"), "--build-dir", str(root / "build")]  # fmt: skip
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
        cells for cells in table
        if cells[0] == result and cells[2] == check and all(word in cells[1].split() for word in row_words.split())
    ]  # fmt: skip


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


def test_untouched_results_pass(results, capsys):
    status, summary, table = _verify(results, capsys)
    assert status == 0, table
    assert ", 0 failed, 2 skipped" in summary
    for core in ("cortex-m0plus", "cortex-m4"):
        for check in ("img_code", "img_rodata", "img_data", "img_bss", "instr_markers", "instr_forward"):
            assert len(_checks(table, "passed", core, check)) == 2, (core, check)
        assert len(_checks(table, "passed", f"{core} trainable", "instr_train_step")) == 1


def test_edited_figures_fail_and_are_named(results, tmp_path, capsys):
    edited: dict[str, float] = {}

    def edit(rows: list[dict]) -> None:
        row = _m4_inference(rows)
        for column, change in (("img_code", 4), ("instr_forward", 1)):
            if row.get(column) is not None:  # an absent figure has nothing to falsify
                row[column] += change
                edited[column] = row[column]

    status, summary, table = _verify(_edited_copy(results, tmp_path, edit), capsys)
    assert status == 1
    assert "img_code" in edited
    assert f", {len(edited)} failed," in summary
    for column, value in edited.items():
        [cells] = _checks(table, "FAILED", "cortex-m4 inference", column)
        assert float(cells[3]) == value and float(cells[4]) == value - (4 if column == "img_code" else 1)
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
#   1e ite gt / addgt.w r2,r2,#0x100 / movle r2,#1        addgt.w fails its condition: Unicorn skips it
#   26 movs r0,#1 / bl end                                 region 1: 8 instructions, the skipped one included
#   2c ldr r1,=message / movs r0,#4 / bkpt 0xab            SYS_WRITE0 "hi\n"
#   32 ldr r1,=block / movs r0,#0x20 / bkpt 0xab           SYS_EXIT_EXTENDED, code 7
#   38 b .    3a begin: bx lr    3c end: bx lr    40 block    48 message
# QEMU (-singlestep -d cpu) logs 23 instructions for it.
PROGRAM = bytes.fromhex(
    "0010002009000000002000f016f8002000f014f8012000f010f801210229ccbf02f58072012201200"
    "0f008f807490420abbe07492020abbefee77047704700bf260002000700000068690a004800000040000000"
)


def _count(code: bytes, wanted: dict[int, int]) -> verify.RegionRun:
    symbols = {"qbench_region_begin": 0x3B, "qbench_region_end": 0x3D, "__stack_top": 0x20001000,
               "__stack_limit": 0x20000000}  # fmt: skip
    firmware = verify.Firmware((verify.Segment(0, 0, len(code), code, executable=True),), symbols)
    return verify.RegionCounter(firmware, verify.UNICORN_MODELS["cortex-m4"], wanted).run()


def test_unicorn_counts_like_qemu_including_it_instructions_that_fail_their_condition():
    run = _count(PROGRAM, {1: 1})
    assert (run.lengths, run.instructions) == ({0: [3], 1: [8]}, 17), "stops at region 1's end"
    ran_to_exit = r"status 7 after 23 instructions \(region 1: 1 of 2 occurrences\); its last line: hi$"
    with pytest.raises(verify.VerifyError, match=ran_to_exit):
        _count(PROGRAM, {1: 2})


def test_an_unknown_semihosting_operation_fails_clearly():
    program = bytearray(PROGRAM)
    program[0x2E] = 0x18  # movs r0,#4 -> movs r0,#0x18 (SYS_ELAPSED, which verify does not implement)
    with pytest.raises(verify.VerifyError, match="unsupported semihosting operation 0x18 at pc 0x30"):
        _count(bytes(program), {1: 2})


def test_it_blocks_span_their_instructions_whatever_their_width():
    # ite gt; addgt.w r2,r2,#0x100 (32-bit); movle r2,#1 -- and a nop (0xbf00), which is a hint, not an IT.
    assert verify.it_blocks(0x1E, bytes.fromhex("ccbf02f580720122" + "00bf")) == {0x1E: (0x20, 0x24)}


@pytest.mark.parametrize(
    ("section_type", "flags", "category"),
    [("PROGBITS", "AX", "code"), ("PROGBITS", "A", "rodata"), ("ARM_EXIDX", "AL", "rodata"),
     ("PROGBITS", "WA", "data"), ("INIT_ARRAY", "WA", "data"), ("NOBITS", "WA", "bss"), ("NOBITS", "A", None)],
)  # fmt: skip
def test_sections_are_classified_by_flags_and_type(section_type, flags, category):
    assert verify.section_category(verify.SectionHeader(".any", section_type, flags)) == category
