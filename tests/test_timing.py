"""The cycle-estimate model on hand-written instruction sequences, assembled by arm-none-eabi-gcc, with
the cycles worked out by hand from the TRM tables in targets/timing/ (sources in its README):
M0 = ARM DDI 0432C Table 3-1, M0+ = ARM DDI 0484C Table 3-1, M3 = Arm 100165 Table 3-1 and section
3.3.2, M4 = ARM DDI 0439D Tables 3-1, 3-2, 7-1 and section 3.3.2. P is the M3/M4 pipeline refill,
1 (minimum), 2 (central) or 3 (maximum); N the registers in a list, PC and LR included."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qbench.execution.decode import UNCLASSIFIED, CodeImage, TimingError
from qbench.execution.timing import BlockVisit, CycleRange, PricedVisit, TimingModel
from qbench.execution.timing_tables import TIMING, load_timing_models

MODELS = load_timing_models()
ALL_CORES = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m4f")
ARMV7M_CORES = ("cortex-m3", "cortex-m4", "cortex-m4f")
CPU_FLAGS = {
    "cortex-m0": ["-mcpu=cortex-m0"],
    "cortex-m0plus": ["-mcpu=cortex-m0plus"],
    "cortex-m3": ["-mcpu=cortex-m3"],
    "cortex-m4": ["-mcpu=cortex-m4"],
    "cortex-m4f": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
}


def assemble(tmp_path: Path, core: str, code: str) -> Path:
    source, elf = tmp_path / f"{core}.s", tmp_path / f"{core}.elf"
    source.write_text(".syntax unified\n.thumb\n.text\n.global _start\n.thumb_func\n_start:\n" + code)
    command = [
        "arm-none-eabi-gcc",
        *CPU_FLAGS[core],
        "-mthumb",
        "-nostdlib",
        "-Wl,-Ttext=0",
        str(source),
        "-o",
        str(elf),
    ]
    subprocess.run(command, check=True, capture_output=True)
    return elf


def addresses(code: CodeImage, count: int) -> list[int]:
    """The first `count` instructions' addresses, in program order."""
    found, address = [], 0
    for _ in range(count):
        found.append(address)
        address += code.at(address).size
    return found


def run_of(model: TimingModel, code: CodeImage, run: list[int]) -> CycleRange:
    """The cycles of one executed run of instructions, whose neighbours before and after are unknown: one visit,
    every instruction of it priced."""
    [priced] = model.price_visits(code, [BlockVisit(None, tuple(run), None)])
    assert priced.unpriced == 0
    return priced.cycles


def price(tmp_path: Path, core: str, source: str, executed: list[int]) -> CycleRange:
    """The cycles of source assembled for core, executing the instructions of the given program indices."""
    code = CodeImage(assemble(tmp_path, core, source))
    program = addresses(code, max(executed) + 1)
    return run_of(MODELS[core], code, [program[index] for index in executed])


STRAIGHT = """
    movs r0, #1
    adds r0, r0, r1
    muls r0, r1, r0
    push {r4, lr}
    ldr r2, [r1]
    nop
"""


@pytest.mark.parametrize("core", ALL_CORES)
def test_straight_line_code(tmp_path, core):
    # Every core: movs 1 + adds 1 + muls 1 (M0/M0+: the fast multiplier) + push {r4, lr} 1+N = 3
    # + ldr 2 (after a push: no pipelining; its address r1 is no data-processing result) + nop 1.
    assert price(tmp_path, core, STRAIGHT, [0, 1, 2, 3, 4, 5]) == CycleRange(9, 9, 9)


BRANCH = """
    cmp r0, #0
    bne 1f
    movs r0, #2
1:  nop
"""


@pytest.mark.parametrize(
    ("core", "taken", "not_taken"),
    [
        # taken: cmp 1 + bne taken + nop 1; not taken: cmp 1 + bne 1 + movs 1 + nop 1
        ("cortex-m0", CycleRange(5, 5, 5), CycleRange(4, 4, 4)),  # B<cc> "1 or 3": 3 taken
        ("cortex-m0plus", CycleRange(4, 4, 4), CycleRange(4, 4, 4)),  # B<cc> "1 or 2": 2 taken
        ("cortex-m3", CycleRange(4, 5, 6), CycleRange(4, 4, 4)),  # B<cc> "1 or 1+P": 2, 3, 4 taken
        ("cortex-m4", CycleRange(4, 5, 6), CycleRange(4, 4, 4)),
        ("cortex-m4f", CycleRange(4, 5, 6), CycleRange(4, 4, 4)),
    ],
)
def test_a_branch_is_taken_when_the_next_instruction_is_not_the_following_one(tmp_path, core, taken, not_taken):
    assert price(tmp_path, core, BRANCH, [0, 1, 3]) == taken
    assert price(tmp_path, core, BRANCH, [0, 1, 2, 3]) == not_taken


def test_m0_and_m0plus_price_the_same_steps_differently(tmp_path):
    code = CodeImage(assemble(tmp_path, "cortex-m0", BRANCH))
    cmp, bne, _movs, nop = addresses(code, 4)
    taken = [cmp, bne, nop]
    # cmp 1 + taken branch (M0: 3, its 3-stage pipeline; M0+: 2, its 2-stage one) + nop 1
    assert run_of(MODELS["cortex-m0"], code, taken) == CycleRange(5, 5, 5)
    assert run_of(MODELS["cortex-m0plus"], code, taken) == CycleRange(4, 4, 4)


CALL = """
    push {r4, lr}
    bl 1f
    pop {r4, pc}
1:  bx lr
"""


@pytest.mark.parametrize(
    ("core", "cycles"),
    [
        # push {r4, lr} 1+N = 3, bl, bx lr, pop {r4, pc} with N = 2 (PC counted)
        ("cortex-m0", CycleRange(3 + 4 + 3 + 5, 3 + 4 + 3 + 5.5, 3 + 4 + 3 + 6)),  # pop: 4+N, 3+N if N left PC out
        ("cortex-m0plus", CycleRange(3 + 3 + 2 + 4, 3 + 3 + 2 + 4.5, 3 + 3 + 2 + 5)),  # pop: 3+N, or 2+N
        ("cortex-m3", CycleRange(3 + 2 + 2 + 4, 3 + 3 + 3 + 5, 3 + 4 + 4 + 6)),  # bl, bx 1+P; pop 1+N+P
        ("cortex-m4", CycleRange(3 + 2 + 2 + 4, 3 + 3 + 3 + 5, 3 + 4 + 4 + 6)),
        ("cortex-m4f", CycleRange(3 + 2 + 2 + 4, 3 + 3 + 3 + 5, 3 + 4 + 4 + 6)),
    ],
)
def test_bl_bx_and_pop_pc_refill_the_pipeline(tmp_path, core, cycles):
    push, bl, pop, bx = 0, 1, 2, 3
    assert price(tmp_path, core, CALL, [push, bl, bx, pop]) == cycles


LOADS_AND_STORES = """
    ldr r0, [r1]
    ldr r2, [r3]
    str r0, [r4, r5]
    str r0, [r4, r5]
    ldr r1, [r0]
    ldr r2, [r1]
    str r2, [r4, #4]
"""


@pytest.mark.parametrize(
    ("core", "cycles"),
    [
        ("cortex-m0", CycleRange(14, 14, 14)),  # seven single loads and stores, 2 each
        ("cortex-m0plus", CycleRange(14, 14, 14)),
        # ldr 2 (nothing before it), ldr after an ldr whose r0 it does not address with: 1 (max 2),
        # str [r4, r5] after an ldr: 1 (max 2), str [r4, r5] after a store: 2, ldr after a store: 2,
        # ldr [r1] after the ldr that loaded r1: 2, str [r4, #4]: 1 (max 2), also after an ldr (no double saving)
        ("cortex-m3", CycleRange(2 + 1 + 1 + 2 + 2 + 2 + 1, 2 + 1 + 1 + 2 + 2 + 2 + 1, 14)),
        ("cortex-m4", CycleRange(11, 11, 14)),
        ("cortex-m4f", CycleRange(11, 11, 14)),
    ],
)
def test_loads_pipeline_a_following_load_or_store_and_str_immediate_is_one_cycle(tmp_path, core, cycles):
    assert price(tmp_path, core, LOADS_AND_STORES, [0, 1, 2, 3, 4, 5, 6]) == cycles


@pytest.mark.parametrize("core", ARMV7M_CORES)
@pytest.mark.parametrize(
    ("source", "normally"),
    [
        # Section 3.3.2's own examples, "normally" (the central case) this many cycles in total:
        ("ldr r0, [r1]\n ldr r1, [r2]", 3),
        ("ldr r0, [r1, r2]\n str r0, [r3, #20]", 3),
        ("ldr r0, [r1, r2]\n str r1, [r3, r2]", 3),
        ("ldr r0, [r1, r5]\n ldr r1, [r2]\n ldr r2, [r3, #4]", 4),
    ],
)
def test_the_trm_load_store_examples(tmp_path, core, source, normally):
    count = source.count("\n") + 1
    cycles = price(tmp_path, core, source + "\n", list(range(count)))
    assert cycles == CycleRange(normally, normally, 2 * count)  # worst case: no pipelining, 2 each


@pytest.mark.parametrize("core", ("cortex-m0", "cortex-m3", "cortex-m4"))
def test_an_address_computed_by_the_previous_instruction_stalls_a_cycle(tmp_path, core):
    source = """
    adds r1, r1, #4
    ldr r0, [r1]
    str r0, [r1, #4]
"""
    # M3/M4: adds 1 + ldr 2 and the section 3.3.2 stall 1 (its address r1 is the adds' result)
    # + str [r1, #4] 1 (max 2): after an ldr that did not load r1, and an immediate offset.
    # M0: 1 + 2 + 2, no stall documented.
    expected = CycleRange(5, 5, 5) if core == "cortex-m0" else CycleRange(5, 5, 6)
    assert price(tmp_path, core, source, [0, 1, 2]) == expected


@pytest.mark.parametrize(("core", "cycles"), [("cortex-m0", CycleRange(3, 3, 3)), ("cortex-m3", CycleRange(3, 3.5, 4))])
def test_a_literal_load_may_contend_with_the_fetch(tmp_path, core, cycles):
    # ldr r0, [pc, #imm] 2 (M3: "might add a cycle": 2 to 3) + nop 1
    assert price(tmp_path, core, "ldr r0, =0x12345678\n nop\n", [0, 1]) == cycles


IT_BLOCKS = """
    cmp r0, #1
    it eq
    moveq r0, #2
    cmp.w r0, #1
    it eq
    moveq r0, #3
    b 1f
    nop
1:  it eq
    moveq r0, #4
"""


@pytest.mark.parametrize("core", ARMV7M_CORES)
def test_an_it_folds_onto_a_preceding_16_bit_instruction(tmp_path, core):
    # cmp (16-bit) 1 + it folded 0 (max 1) + mov 1 + cmp.w (32-bit) 1 + it 1 + mov 1
    assert price(tmp_path, core, IT_BLOCKS, [0, 1, 2, 3, 4, 5]) == CycleRange(5, 5, 6)
    # b (16-bit, taken: 1+P) + it 1 (reached by the branch, not fetched after it) + mov 1
    assert price(tmp_path, core, IT_BLOCKS, [6, 8, 9]) == CycleRange(2 + 1 + 1, 3 + 1 + 1, 4 + 1 + 1)


MULTIPLY_AND_DIVIDE = """
    smlal r0, r1, r2, r3
    umull r0, r1, r2, r3
    sdiv r0, r1, r2
"""


@pytest.mark.parametrize(
    ("core", "cycles"),
    [
        # M3: smlal 4 to 7, umull 3 to 5 (early termination), sdiv 2 to 12; midpoints 5.5, 4, 7
        ("cortex-m3", CycleRange(4 + 3 + 2, 5.5 + 4 + 7, 7 + 5 + 12)),
        # M4: smlal 1, umull 1, sdiv 2 to 12
        ("cortex-m4", CycleRange(1 + 1 + 2, 1 + 1 + 7, 1 + 1 + 12)),
    ],
)
def test_long_multiplies_and_divides(tmp_path, core, cycles):
    assert price(tmp_path, core, MULTIPLY_AND_DIVIDE, [0, 1, 2]) == cycles


def test_fpu_instructions_on_the_m4f(tmp_path):
    source = """
    vpush {d8}
    vmov.f32 s0, s1
    vmov.f32 s2, #1.0
    vmov r0, s0
    vmrs APSR_nzcv, fpscr
    vadd.f32 s0, s0, s1
    vdiv.f32 s0, s0, s1
    vldr d1, [r1]
    vldr s4, [r1, #8]
    vpop {s16, s17}
"""
    # vpush {d8} 1+N with N = 2 single registers; vmov within the FPU 1; vmov of an immediate 1; vmov to a
    # core register 2; vmrs 1; vadd 1; vdiv 14, or 1 when no FP instruction follows soon (midpoint 7.5);
    # vldr.64 3; vldr.32 2; vpop {s16, s17} 1+2
    fixed = 3 + 1 + 1 + 2 + 1 + 1 + 3 + 2 + 3
    assert price(tmp_path, "cortex-m4f", source, list(range(10))) == CycleRange(fixed + 1, fixed + 7.5, fixed + 14)


def test_each_pass_of_a_loop_is_priced_with_its_neighbours(tmp_path):
    code = CodeImage(assemble(tmp_path, "cortex-m3", "1:  subs r0, r0, #1\n bne 1b\n nop\n"))
    subs, bne, nop = addresses(code, 3)
    # Three passes through the loop's block, as a trace records them, then the nop's block.
    passes = [
        BlockVisit(None, (subs, bne), subs),
        BlockVisit(bne, (subs, bne), subs),
        BlockVisit(bne, (subs, bne), nop),
    ]
    priced = MODELS["cortex-m3"].price_visits(code, [*passes, BlockVisit(bne, (nop,), None)])
    # Each taken pass: subs 1 + bne taken 1+P; the last pass: subs 1 + bne not taken 1; then nop 1.
    taken = PricedVisit(CycleRange(1 + 2, 1 + 3, 1 + 4), 1)
    assert priced == [taken, taken, PricedVisit(CycleRange(2, 2, 2), 0), PricedVisit(CycleRange(1, 1, 1), 0)]
    # subs 3 x 1 + bne taken 2 x (1+P) + bne not taken 1 + nop 1
    total = sum((visit.cycles for visit in priced), CycleRange.exact(0))
    assert total == CycleRange(3 + 4 + 2, 3 + 6 + 2, 3 + 8 + 2)


def test_cycle_ranges_add_and_scale_component_by_component():
    assert (CycleRange(4, 6, 8) + CycleRange(1, 2, 3)).scaled(0.5) == CycleRange(2.5, 4, 5.5)


def test_the_central_value_is_the_midpoint_of_every_class_range():
    for model in MODELS.values():
        for klass, cost in model.costs.items():
            for cycles in (cost.fixed, cost.taken or cost.fixed):
                assert cycles.central == (cycles.minimum + cycles.maximum) / 2, (model.path.name, klass)


@pytest.mark.parametrize("core", ("cortex-m3", "cortex-m4"))
def test_every_pipeline_refill_spans_p_from_1_to_3(tmp_path, core):
    costs = MODELS[core].costs
    refills = [costs[klass].fixed for klass in ("alu_pc", "load_pc", "pop_pc", "branch_link", "branch_exchange")]
    refills += [costs[klass].taken for klass in ("branch", "compare_branch")]
    assert all(cycles.maximum - cycles.minimum == 2 and cycles.central - cycles.minimum == 1 for cycles in refills)


def test_a_class_the_core_lacks_is_an_error_not_a_guess(tmp_path):
    code = CodeImage(assemble(tmp_path, "cortex-m4", MULTIPLY_AND_DIVIDE))
    umull = addresses(code, 2)[1]
    with pytest.raises(TimingError, match=r"cortex-m0plus.toml has no cycles for class 'mul_long' .*SMULL or UMULL"):
        MODELS["cortex-m0plus"].cycles(code.at(umull), None, None)


SYSTEM = """
    dmb
    isb
    nop
"""


@pytest.mark.parametrize(
    ("core", "cycles"),
    [
        ("cortex-m0", CycleRange(4 + 4 + 1, 4 + 4 + 1, 4 + 4 + 1)),  # "DMB 4", "ISB 4", "NOP 1"
        ("cortex-m0plus", CycleRange(3 + 3 + 1, 3 + 3 + 1, 3 + 3 + 1)),  # "DMB 3", "ISB 3", "NOP 1"
        # DMB 1+B, B from 0 (the TRM's minimum) to 1 (a buffered store); ISB 1+B, B a refill P; NOP 1
        ("cortex-m3", CycleRange(1 + 2 + 1, 1.5 + 3 + 1, 2 + 4 + 1)),
        ("cortex-m4", CycleRange(1 + 2 + 1, 1.5 + 3 + 1, 2 + 4 + 1)),
    ],
)
def test_barriers_are_priced(tmp_path, core, cycles):
    assert price(tmp_path, core, SYSTEM, [0, 1, 2]) == cycles


@pytest.mark.parametrize("core", ARMV7M_CORES)
def test_a_preload_costs_between_a_nop_and_a_load(tmp_path, core):
    # pld, pli: no Table 3-1 row; from a NOP's 1 to a single load's 2, each
    assert price(tmp_path, core, "pld [r0]\n pli [r1, #8]\n", [0, 1]) == CycleRange(2, 3, 4)


def test_a_dsp_result_used_as_an_address_stalls_like_an_alu_one(tmp_path):
    # qadd 1 (Table 3-2) + ldr 2 + the section 3.3.2 stall 1 (its address r1 is the qadd's result)
    assert price(tmp_path, "cortex-m4", "qadd r1, r1, r2\n ldr r0, [r1]\n", [0, 1]) == CycleRange(4, 4, 4)


NO_CLASS = """
    movs r0, #1
    .inst.w 0xe840f000  @ tt r0, r0: ARMv8-M (Test Target), which no ARMv6-M or ARMv7-M core executes
    adds r0, r0, r1
"""
UNDECODABLE = """
    movs r0, #1
    .short 0xffff, 0xffff  @ no Thumb instruction
    adds r0, r0, r1
"""


def test_an_instruction_of_no_class_is_decoded_but_has_no_cycles(tmp_path):
    code = CodeImage(assemble(tmp_path, "cortex-m4", NO_CLASS))
    tt = addresses(code, 2)[1]
    decoded = code.at(tt)
    assert (decoded.klass, decoded.size, decoded.text) == (UNCLASSIFIED, 4, "tt r0, r0")
    message = r"no cycles for class 'unclassified' \('tt r0, r0' at 0x2\): no timing class holds it"
    with pytest.raises(TimingError, match=message):
        MODELS["cortex-m4"].cycles(decoded, None, None)


def test_an_instruction_capstone_cannot_decode_is_an_error(tmp_path):
    code = CodeImage(assemble(tmp_path, "cortex-m4", UNDECODABLE))
    with pytest.raises(TimingError, match=r"cannot decode the instruction at 0x2"):
        code.at(2)


@pytest.mark.parametrize("source", [NO_CLASS, UNDECODABLE])
@pytest.mark.parametrize("core", ALL_CORES)
def test_a_visit_counts_an_instruction_it_cannot_price_and_prices_the_others(tmp_path, core, source):
    code = CodeImage(assemble(tmp_path, "cortex-m4", source))
    movs, unknown, adds = 0, 2, 6
    visit = BlockVisit(previous=None, pcs=(movs, unknown, adds), following=None)
    # movs 1 + adds 1 on every core (no context rule applies after an instruction of no class)
    assert MODELS[core].price_visits(code, [visit]) == [PricedVisit(CycleRange(2, 2, 2), 0, unpriced=1)]


RULE = "[[context]]\nclasses = {classes}\n{amount}\n\n[unpriced]\n"  # a context rule, before [unpriced]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{ min = 3, central = 3.5, max = 4 }",
            "{ min = 4, central = 3.5, max = 3 }",
            r"'cycles.pop_pc.base' is \{'min': 4, 'central': 3.5, 'max': 3\}; allowed: 0 <= min <= central <= max$",
        ),
        ("\nalu = 1 ", "\nalu = -1 ", r"'cycles.alu' is -1; allowed: 0 <= min <= central <= max$"),
        (
            "\nalu = 1 ",
            "\nalu = 'one' ",
            r"'cycles.alu' is 'one'; allowed: a number of cycles or \{min, central, max\}$",
        ),
        ("[cycles]\n", "[cycles]\nfrobnicate = 1\n", r"'cycles.frobnicate' is not a known key \(known: alu, alu_pc, "),
        (
            "\nalu = 1 ",
            "\nalu = { min = 1, central = 1, max = 1, typical = 1 } ",
            r"'cycles.alu.typical' is not a known key \(known: min, central, max, base, per_register, taken, ",
        ),
        (
            "branch = {",
            "branch = { base = 1, ",
            r"'cycles.branch' is .*; allowed: cycles, \{min, central, max\}, \{base, per_register\} or \{taken, ",
        ),
        (
            "per_register = 1",
            "per_register = 1.5",
            r"'cycles.load_multiple.per_register' is 1.5; allowed: a whole number$",
        ),
        (
            "\nwait = 2 ",
            "\n# wait = 2 ",
            r"'unpriced' is .*; allowed: a reason for every class \[cycles\] does not price \(missing wait\)$",
        ),
        (
            "[unpriced]\n",
            "[unpriced]\nalu = 'twice'\n",
            r"'unpriced' is .*; allowed: classes without cycles \(not alu\)$",
        ),
        (
            "[unpriced]\n",
            RULE.format(classes="['load']", amount="when = 'sometimes'\nsaves = 1"),
            r"'context\[0\].when' is 'sometimes'; allowed: 'fell_through_from_16_bit', .* or 'immediate_offset'$",
        ),
        (
            "[unpriced]\n",
            RULE.format(classes="['load', 'fp_mac']", amount="saves = 1"),
            r"'context\[0\]' is .*; allowed: classes \[cycles\] prices \(not fp_mac\)$",
        ),
        (
            "[unpriced]\n",
            RULE.format(classes="['load', 'alu']", amount="saves = 2"),  # alu: 1 cycle at best
            r"'context\[0\]' is .*; allowed: no branch, and no saving beyond the best case \(not alu\)$",
        ),
        (
            "[unpriced]\n",
            RULE.format(classes="['load']", amount="saves = 1\nadds = 1"),
            r"'context\[0\]' is .*; allowed: exactly one of saves and adds$",
        ),
        (
            "[unpriced]\n",
            RULE.format(classes="['load']", amount="adds = 0"),
            r"'context\[0\].adds' is 0; allowed: >= 1$",
        ),
        (
            "cores =",
            "typo = 1\ncores =",
            r"'typo' is not a known key \(known: cores, source, cycles, unpriced, context\)$",
        ),
    ],
)
def test_loading_rejects_a_malformed_file_in_one_line_naming_the_file_and_key(tmp_path, old, new, message):
    text = (TIMING / "cortex-m0.toml").read_text()
    assert old in text
    (tmp_path / "cortex-m0.toml").write_text(text.replace(old, new, 1))
    with pytest.raises(TimingError, match=r"^\S*/cortex-m0.toml: " + message) as raised:
        load_timing_models(tmp_path)
    assert "\n" not in str(raised.value)


def test_cores_without_a_published_table_have_no_model():
    assert set(ALL_CORES) == set(MODELS)
    for model in MODELS.values():
        assert model.source.startswith(("ARM DDI", "Arm 100165")), model.source
