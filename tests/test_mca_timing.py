"""The llvm-mca cycle models on hand-written blocks, assembled by arm-none-eabi-gcc, with the cycles worked out
by hand: what LLVM 19's scheduling model charges a pass (in-order issue, each instruction's unit cycles, and
in-order writeback: an instruction after one of longer latency waits for it), plus the terms of
targets/timing/llvm/<core>.toml. P is the refill range of the file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from qbench.execution.decode import CodeImage
from qbench.execution.mca import LLVM_BIN, McaError, load_mca_models
from qbench.execution.timing import BlockVisit, CycleRange
from qbench.execution.timing_tables import TIMING
from qbench.reporting.analysis import model_comparison_table

pytestmark = pytest.mark.skipif(
    not (LLVM_BIN / "llvm-mca").exists() and not shutil.which("llvm-mca-19"), reason="llvm-19 is not installed"
)

MODELS = load_mca_models()
CPU_FLAGS = {
    "cortex-m4": ["-mcpu=cortex-m4"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"],
    "cortex-m33": ["-mcpu=cortex-m33", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mfloat-abi=hard"],
}


def image(tmp_path: Path, core: str, source: str) -> tuple[CodeImage, list[int]]:
    """The assembled code and its instructions' addresses, in program order (the end address last)."""
    text, elf = tmp_path / f"{core}.s", tmp_path / f"{core}.elf"
    text.write_text(".syntax unified\n.thumb\n.text\n.global _start\n.thumb_func\n_start:\n" + source)
    subprocess.run(
        ["arm-none-eabi-gcc", *CPU_FLAGS[core], "-mthumb", "-nostdlib", "-Wl,-Ttext=0", str(text), "-o", str(elf)],
        check=True,
        capture_output=True,
    )
    code, addresses = CodeImage(elf), [0]
    for _ in range(source.strip().count("\n") + 1):
        addresses.append(addresses[-1] + code.size_at(addresses[-1]))
    return code, addresses


def price(tmp_path: Path, core: str, source: str, executed: list[int], following: int | None = None):
    """One visit of the instructions at the given program indices, followed by the one at index `following`."""
    code, addresses = image(tmp_path, core, source)
    after = None if following is None else addresses[following]
    visit = BlockVisit(None, tuple(addresses[index] for index in executed), after)
    [priced] = MODELS[core].price_visits(code, [visit])
    return priced


MULTIPLIES = "ldr r0, [r1]\n muls r0, r1, r0\n muls r0, r1, r0\n"


@pytest.mark.parametrize("core", ("cortex-m4", "cortex-m33", "cortex-m7"))
def test_a_load_and_dependent_multiplies(tmp_path, core):
    # M4/M33 (CortexM4Model: one unit, LDR latency 2, MUL latency 1): ldr issues at 0, muls waits for r0 until
    # 2, the second muls (needs the first's r0) at 3, the next pass's ldr at 4: 4 cycles a pass.
    # M7: ldr latency 1 (WriteLd) and MUL latency 2: ldr at 0, muls at 1, muls at 3 (r0 from the first), the
    # next ldr pairs with nothing before 4: 4.
    priced = price(tmp_path, core, MULTIPLIES, [0, 1, 2])
    assert priced == type(priced)(CycleRange.exact(4), 0, 0)


BRANCH = "cmp r0, #0\n bne 1f\n movs r0, #2\n1: nop\n"


@pytest.mark.parametrize(
    ("core", "taken"),
    [
        ("cortex-m4", CycleRange(3, 4, 5)),  # cmp 1 + bne 1 (llvm-mca) + P 1 to 3
        ("cortex-m7", CycleRange(2, 5, 8)),  # cmp 1 + bne 1 + 0 (predicted) to 6 (mispredicted)
        ("cortex-m55", CycleRange(3, 4, 5)),  # cmp 1 + bne 1 + 1 to 3 (no predictor, MispredictPenalty 3)
    ],
)
def test_a_taken_branch_refills_and_an_untaken_one_does_not(tmp_path, core, taken):
    cmp, bne, movs, nop = 0, 1, 2, 3
    untaken = price(tmp_path, core, BRANCH, [cmp, bne], following=movs)
    assert (untaken.cycles, untaken.nonsequential) == (CycleRange.exact(2), 0)
    priced = price(tmp_path, core, BRANCH, [cmp, bne], following=nop)
    assert (priced.cycles, priced.nonsequential) == (taken, 1)


IT_BLOCKS = "adds r0, #1\n it eq\n moveq r0, #2\n cmp.w r0, #1\n it eq\n moveq r0, #3\n"


def test_an_it_folds_onto_a_preceding_16_bit_instruction_on_the_m4(tmp_path):
    # CortexM4Model charges each of the six one cycle: 6; the first IT follows the 16-bit adds and folds
    # (saves 1 in the minimum and central values); the second follows the 32-bit cmp.w and does not.
    assert price(tmp_path, "cortex-m4", IT_BLOCKS, [0, 1, 2, 3, 4, 5]).cycles == CycleRange(5, 5, 6)


def test_the_m7_prices_it_itself(tmp_path):
    # ARMScheduleM7.td has no class for IT (llvm-mca skips it, no instruction unpriced): adds and moveq pair
    # on the dual-issue core only across passes: 2 a pass; plus IT 0 to 1.
    priced = price(tmp_path, "cortex-m7", "adds r0, #1\n it eq\n moveq r0, #2\n", [0, 1, 2])
    assert (priced.cycles, priced.unpriced) == (CycleRange(2, 2.5, 3), 0)


@pytest.mark.parametrize(
    ("core", "push"),
    [
        ("cortex-m4", CycleRange.exact(1 + 4)),  # llvm-mca 1 + 1 per word: the TRM's 1 + N, N = 4
        ("cortex-m7", CycleRange(2 + 2, 2 + 3, 2 + 4)),  # llvm-mca 2 (SingleIssue, after the last pass) + 4 x 1/2 to 1
    ],
)
def test_push_costs_a_cycle_per_register(tmp_path, core, push):
    assert price(tmp_path, core, "push {r4, r5, r6, lr}\n", [0]).cycles == push


def test_pop_pc_is_a_load_per_register_and_a_refill(tmp_path):
    # M4: llvm-mca 2 (LDM latency 2 holds the next pass) + 4 words + P 1 to 3
    source = "push {r4, r5, r6, lr}\n pop {r4, r5, r6, pc}\n"
    priced = price(tmp_path, "cortex-m4", source, [1], following=0)
    assert (priced.cycles, priced.nonsequential) == (CycleRange(7, 8, 9), 1)


@pytest.mark.parametrize(
    ("core", "cycles"),
    [
        ("cortex-m4", CycleRange(3, 8, 13)),  # sdiv latency 2 holds adds until 2, +1: 3; + 0 to 10 (TRM 2 to 12)
        ("cortex-m7", CycleRange(3, 8, 13)),  # sdiv latency 7 holds adds: 8; -5 to +5 (2 to 12 around 7)
        ("cortex-m55", CycleRange(3, 8, 13)),  # as the M4: WriteDIV latency 2, + 0 to 10
    ],
)
def test_a_divide_is_a_range(tmp_path, core, cycles):
    assert price(tmp_path, core, "sdiv r0, r1, r2\n adds r3, r3, #1\n", [0, 1]).cycles == cycles


LOOP = "1: vldrh.u16 q0, [r0], #16\n vmladav.s16 r2, q0, q1\n le lr, 1b\n"


def test_an_mve_loop_body_on_the_m55(tmp_path):
    # VLDRH: 4 beats on the load/store pipe, VMLADAV (llvm-mc prints its alias VMLAV) 4 beats on the
    # multiply pipe, 2 beats a cycle: 2 cycles each, overlapping by one, so the next pass's VLDRH issues at 2.
    # LE has no LLVM class: 0 to 1 (a cached loop end issues nothing); branching back: 0 to 3.
    priced = price(tmp_path, "cortex-m55", LOOP, [0, 1, 2], following=0)
    assert priced == type(priced)(CycleRange(2, 4, 6), 1, 0)
    two_loads = "1: vldrh.u16 q0, [r0], #16\n vldrh.u16 q1, [r1], #16\n vmladava.s16 r2, q0, q1\n le lr, 1b\n"
    # Two loads share the load/store pipe: 4 cycles; the multiply overlaps them; LE and the branch as above.
    assert price(tmp_path, "cortex-m55", two_loads, [0, 1, 2, 3], following=0).cycles == CycleRange(4, 6, 8)


def test_an_instruction_llvm_cannot_decode_is_unpriced_not_an_error(tmp_path):
    # nop 1 + nop 1; the word in between is no instruction
    priced = price(tmp_path, "cortex-m4", "nop\n .word 0xffffffff\n nop\n", [0, 1, 2])
    assert (priced.cycles, priced.unpriced) == (CycleRange.exact(2), 1)


def test_each_distinct_block_is_priced_once_and_every_visit_gets_its_terms(tmp_path):
    code, (cmp, bne, movs, nop, _) = image(tmp_path, "cortex-m4", BRANCH)
    visits = [BlockVisit(None, (cmp, bne), nop), BlockVisit(nop, (cmp, bne), movs), BlockVisit(None, (movs,), nop)]
    prices = MODELS["cortex-m4"].price_visits(code, visits)
    assert [p.cycles for p in prices] == [CycleRange(3, 4, 5), CycleRange.exact(2), CycleRange.exact(1)]


def test_the_four_files_load_and_say_which_model_made_the_estimates():
    assert set(MODELS) == {"cortex-m4", "cortex-m4f", "cortex-m7", "cortex-m33", "cortex-m55"}
    for core, model in MODELS.items():
        assert model.source.startswith("LLVM 19.1.7 scheduling model ARMSchedule"), core
    assert "LLVM has no Cortex-M33 model" in MODELS["cortex-m33"].source


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{ min = 0, central = 5, max = 10 }",
            "{ min = 10, central = 5, max = 0 }",
            r"^\S*cortex-m4.toml: 'term\[1\].cycles' is \{'min': 10, .*\}; allowed: min <= central <= max$",
        ),
        ('mcpu = "cortex-m4"', "mcpu = 4", r"^[^\n]*cortex-m4.toml: 'mcpu' is 4; allowed: a string$"),
        ("call_latency = 1", "call_latency = 1\nlatency = 2", r"^[^\n]*cortex-m4.toml: 'latency' is not a known key"),
        (
            'mnemonics = "sdiv|udiv"',
            'mnemonics = "sdiv|(udiv"',
            r"^\S*cortex-m4.toml: 'term\[1\].mnemonics' is .*; allowed: a regular expression",
        ),
    ],
)
def test_a_malformed_file_is_one_clear_line(tmp_path, old, new, message):
    text = (TIMING / "llvm" / "cortex-m4.toml").read_text()
    assert old in text
    (tmp_path / "cortex-m4.toml").write_text(text.replace(old, new, 1))
    with pytest.raises(McaError, match=message) as raised:
        load_mca_models(tmp_path)
    assert "\n" not in str(raised.value)


def test_the_gap_between_the_models_is_the_ratio_of_central_values():
    # TRM 10 / 12 / 14 cycles, LLVM 8 / 9 / 10: a row records the central values, 12 and 9; the gap is 9 / 12
    row = {"status": "ok", "qemu": "qemu 7.2", "library": "qnn", "network": "2-4-1", "core": "cortex-m4"}
    row |= {"qformat": "q8.8", "variant": "inference", "opt": "Os", "est_cycles_forward": 12.0}
    row |= {"est_cycles_forward_llvm": 9.0, "est_cycles_train_step": None, "est_cycles_train_step_llvm": None}
    table = model_comparison_table(pd.DataFrame([row]))
    assert table[["region", "TRM table", "LLVM model", "LLVM / TRM"]].values.tolist() == [["forward", 12.0, 9.0, 0.75]]
