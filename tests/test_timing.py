"""The cycle-estimate model on hand-written instruction sequences, with the
cycles worked out by hand from the TRM tables in targets/timing/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qbench.timing import CodeImage, TimingError, load_timing_models

MODELS = load_timing_models()

STRAIGHT = """
    movs r0, #1
    adds r0, r0, r1
    muls r0, r1, r0
    ldr r2, [r1]
    str r2, [r1]
    push {r4, lr}
    pop {r4, pc}
"""
BRANCH = """
    cmp r0, #0
    bne 1f
    movs r0, #2
1:  bx lr
"""
MAINLINE = """
    umull r0, r1, r2, r3
    sdiv r0, r1, r2
    ldrd r0, r1, [r2]
    ldmia r4!, {r0, r1, r2}
    cbz r0, 1f
    nop
1:  bx lr
"""
FPU = """
    vpush {d8}
    vmov.f32 s0, s1
    vmov.f32 s2, #1.0
    vmov r0, s0
    vmrs APSR_nzcv, fpscr
    vadd.f32 s0, s0, s1
    vdiv.f32 s0, s0, s1
    vpop {s16, s17}
"""
CPU_FLAGS = {
    "cortex-m0": ["-mcpu=cortex-m0"], "cortex-m0plus": ["-mcpu=cortex-m0plus"], "cortex-m3": ["-mcpu=cortex-m3"],
    "cortex-m4": ["-mcpu=cortex-m4"], "cortex-m4f": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
}  # fmt: skip


def assemble(tmp_path: Path, core: str, code: str) -> Path:
    source, elf = tmp_path / f"{core}.s", tmp_path / f"{core}.elf"
    source.write_text(".syntax unified\n.thumb\n.text\n.global _start\n.thumb_func\n_start:\n" + code)
    subprocess.run(["arm-none-eabi-gcc", *CPU_FLAGS[core], "-mthumb", "-nostdlib", "-Wl,-Ttext=0", str(source),
                    "-o", str(elf)], check=True, capture_output=True)  # fmt: skip
    return elf


def addresses(code: CodeImage, count: int) -> list[int]:
    """The first `count` instructions' addresses, in program order."""
    found, address = [], 0
    for _ in range(count):
        found.append(address)
        address += code.at(address).size
    return found


@pytest.mark.parametrize(
    ("core", "cycles"),
    [
        # alu 1 + alu 1 + muls 1 + ldr 2 + str 2 + push{r4,lr} 1+2 + pop{r4,pc} 4+2 (M0) / 3+2 (M0+) / 4+2 (M3, M4)
        ("cortex-m0", 1 + 1 + 1 + 2 + 2 + 3 + 6),
        ("cortex-m0plus", 1 + 1 + 1 + 2 + 2 + 3 + 5),
        ("cortex-m3", 1 + 1 + 1 + 2 + 2 + 3 + 6),
        ("cortex-m4", 1 + 1 + 1 + 2 + 2 + 3 + 6),
    ],
)
def test_straight_line_sequence(tmp_path, core, cycles):
    code = CodeImage(assemble(tmp_path, core, STRAIGHT))
    assert MODELS[core].estimate(code, addresses(code, 7), None) == cycles


@pytest.mark.parametrize(
    ("core", "taken", "not_taken"),
    [
        # taken: cmp 1 + bne taken + bx;   not taken: cmp 1 + bne 1 + movs 1 + bx
        ("cortex-m0", 1 + 3 + 3, 1 + 1 + 1 + 3),
        ("cortex-m0plus", 1 + 2 + 2, 1 + 1 + 1 + 2),
        ("cortex-m4", 1 + 2 + 4, 1 + 1 + 1 + 4),
    ],
)
def test_branches_are_taken_when_the_next_instruction_is_not_the_following_one(tmp_path, core, taken, not_taken):
    code = CodeImage(assemble(tmp_path, core, BRANCH))
    cmp, bne, movs, bx = addresses(code, 4)
    assert MODELS[core].estimate(code, [cmp, bne, bx], None) == taken
    assert MODELS[core].estimate(code, [cmp, bne, movs, bx], None) == not_taken


@pytest.mark.parametrize(
    ("core", "cycles"),
    [
        # umull + sdiv 12 + ldrd 3 + ldmia 1+3 + cbz taken 2 + bx 4; umull 5 on the M3, 1 on the M4
        ("cortex-m3", 5 + 12 + 3 + 4 + 2 + 4),
        ("cortex-m4", 1 + 12 + 3 + 4 + 2 + 4),
    ],
)
def test_mainline_instructions(tmp_path, core, cycles):
    code = CodeImage(assemble(tmp_path, core, MAINLINE))
    umull, sdiv, ldrd, ldmia, cbz, _nop, bx = addresses(code, 7)
    assert MODELS[core].estimate(code, [umull, sdiv, ldrd, ldmia, cbz, bx], None) == cycles


def test_fpu_instructions_on_the_m4f(tmp_path):
    code = CodeImage(assemble(tmp_path, "cortex-m4f", FPU))
    # vpush {d8}: 1 + 2 single registers; vmov within the FPU 1; vmov of an immediate 1 (capstone: fconsts);
    # vmov to a core register 2; vmrs of the flags, a transfer like it (capstone: fmstat) 2; vadd 1; vdiv 14;
    # vpop {s16, s17}: 1 + 2
    assert MODELS["cortex-m4f"].estimate(code, addresses(code, 8), None) == 3 + 1 + 1 + 2 + 2 + 1 + 14 + 3


def test_a_class_the_core_lacks_is_an_error_not_a_guess(tmp_path):
    code = CodeImage(assemble(tmp_path, "cortex-m4", MAINLINE))
    with pytest.raises(TimingError, match="cortex-m0plus.toml has no cycles for class 'mul_long'"):
        MODELS["cortex-m0plus"].estimate(code, addresses(code, 1), None)


def test_cores_without_a_published_table_have_no_model():
    assert {"cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m4f"} == set(MODELS)
    for model in MODELS.values():
        assert model.source.startswith(("ARM DDI", "Arm 100165")), model.source
