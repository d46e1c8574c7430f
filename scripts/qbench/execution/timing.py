"""Cycle estimates from executed instructions: a per-core timing model that prices in ranges.

QEMU counts instructions, not cycles. An estimate comes from decoding every executed instruction
(capstone, Thumb/Thumb-2), putting it in a class, and charging the class's cycles from the core's
Technical Reference Manual (targets/timing/<core>.toml, each value with its source), as a range:
the TRM's best case, a central value, its worst case. The price of an instruction can depend on its
neighbours in the trace: a branch is taken when the next executed instruction is not the one after
it, and the file's context rules (load/store pipelining, IT folding, address-dependency stalls) look
at the previous instruction. What the model leaves out is in targets/timing/README.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import capstone
from capstone import arm

from qbench.common.paths import TARGETS, shown
from qbench.sizes.elfsize import EXEC, open_elf

TIMING = TARGETS / "timing"
M = TypeVar("M", bound="CycleModel")


class TimingError(ValueError):
    """An instruction the model cannot price, or a malformed timing file."""


# Instruction class by capstone's instruction name (condition code and width suffix removed).
_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "alu": (
        "mov movs mvn mvns add adds adc adcs sub subs sbc sbcs rsb rsbs neg negs and ands orr orrs orn eor eors "
        "bic bics cmp cmn tst teq lsl lsls lsr lsrs asr asrs ror rors rrx sxtb sxth uxtb uxth rev rev16 revsh "
        "rbit clz bfi bfc ubfx sbfx adr addw subw movw movt usat ssat clrex sev "
        "nop yield dbg hint"  # hints that execute as a NOP: YIELD, DBG and capstone's "hint #n" (unallocated ones)
    ).split(),
    # The DSP extension's (ARMv7E-M) single-cycle data processing: SIMD, saturating, packing and extend-and-add.
    "dsp_alu": (
        "sxtab sxtah uxtab uxtah sxtab16 uxtab16 sxtb16 uxtb16 usat16 ssat16 sel pkhbt pkhtb qadd qsub qdadd "
        "qdsub sadd16 ssub16 uadd16 usub16 sadd8 ssub8 uadd8 usub8 qadd16 qsub16 qadd8 qsub8 uqadd16 uqsub16 "
        "uqadd8 uqsub8 shadd16 shsub16 uhadd16 uhsub16 shadd8 shsub8 uhadd8 uhsub8 sasx ssax uasx usax qasx qsax "
        "uqasx uqsax shasx shsax uhasx uhsax usad8 usada8"
    ).split(),
    "it": ("it",),
    "mul": ("mul", "muls"),
    "mla": ("mla", "mls"),
    "mul_long": ("umull", "smull"),
    "mla_long": ("umlal", "smlal"),
    "dsp_multiply": (
        "umaal smmul smmulr smmla smmlar smmls smmlsr smulbb smulbt smultb smultt smulwb smulwt smlabb smlabt "
        "smlatb smlatt smlawb smlawt smlad smladx smlsd smlsdx smlald smlaldx smlsld smlsldx smuad smuadx smusd "
        "smusdx smlalbb smlalbt smlaltb smlaltt"
    ).split(),
    "div": ("sdiv", "udiv"),
    "load": "ldr ldrb ldrh ldrsb ldrsh ldrt ldrbt ldrht ldrsbt ldrsht ldrex ldrexb ldrexh".split(),
    "store": "str strb strh strt strbt strht strex strexb strexh".split(),
    "load_double": ("ldrd",),
    "store_double": ("strd",),
    "load_multiple": ("ldm", "ldmia", "ldmdb", "pop"),
    "store_multiple": ("stm", "stmia", "stmdb", "push"),
    "branch": ("b",),
    "compare_branch": ("cbz", "cbnz"),
    "branch_link": ("bl",),
    "branch_exchange": ("bx", "blx"),
    "table_branch": ("tbb", "tbh"),
    "preload": ("pld", "pli", "pldw"),  # memory hints; PLDW, not ARMv7-M, is one of its unallocated hints (a NOP)
    "special_register": ("mrs", "msr"),
    "interrupt_mask": ("cps",),  # CPSID, CPSIE
    "barrier": ("dmb", "dsb"),
    "instruction_barrier": ("isb",),
    "wait": ("wfi", "wfe"),
    "exception": ("svc", "bkpt", "udf", "trap"),  # trap: capstone's name for UDF #254
    # Coprocessor instructions other than the FPU's (which capstone names as VFP instructions).
    "coprocessor": "cdp cdp2 ldc ldc2 ldcl ldc2l stc stc2 stcl stc2l mcr mcr2 mcrr mcrr2 mrc mrc2 mrrc mrrc2".split(),
    "fp_alu": (
        "vadd vsub vabs vneg vcmp vcmpe vcvt vcvtr vcvta vcvtn vcvtp vcvtm vcvtb vcvtt vsel vmaxnm "
        "vminnm vrinta vrintn vrintp vrintm vrintr vrintx vrintz "
        "fconsts fconstd"  # capstone's names for VMOV of an immediate into an FP register
    ).split(),
    "fp_mul": ("vmul", "vnmul"),
    "fp_mac": ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"),
    "fp_div": ("vdiv", "vsqrt"),
    "fp_load": ("vldr",),
    "fp_store": ("vstr",),
    # fldmiax, fldmdbx, fstmiax, fstmdbx: capstone's names for VLDM and VSTM of D registers with an odd imm8
    # (the deprecated FLDMX and FSTMX forms), which transfer the same registers.
    "fp_load_multiple": ("vldmia", "vldmdb", "vldm", "vpop", "fldmiax", "fldmdbx"),
    "fp_store_multiple": ("vstmia", "vstmdb", "vstm", "vpush", "fstmiax", "fstmdbx"),
    "fp_move": ("vmov",),
    "fp_move_half": ("fmdhr", "fmdlr"),  # capstone's names for VMOV.32 Dd[x], Rt
    "fp_status": ("vmrs", "vmsr", "fmstat"),  # fmstat: capstone's name for VMRS APSR_nzcv, FPSCR
}
CLASS_OF_NAME = {name: klass for klass, names in _CLASS_NAMES.items() for name in names}
# The class of an instruction capstone decodes but no class holds (no core with a timing table executes it).
UNCLASSIFIED = "unclassified"
# Classes that classify() derives from a named class by the operands.
_DERIVED_CLASSES = ("alu_pc", "load_literal", "load_pc", "pop_pc")
CLASSES = frozenset(_CLASS_NAMES) | frozenset(_DERIVED_CLASSES)

_MULTIPLE_WITH_BASE = {"ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "vldmia", "vldmdb", "vldm", "vstmia",
                       "vstmdb", "vstm", "fldmiax", "fldmdbx", "fstmiax", "fstmdbx"}  # fmt: skip
_MULTIPLE_FROM_STACK = {"push", "pop", "vpush", "vpop"}
_EXCLUSIVE = {"ldrex", "ldrexb", "ldrexh", "strex", "strexb", "strexh"}
_COUNTED_REGISTERS = {"load_multiple", "store_multiple", "pop_pc", "fp_load_multiple", "fp_store_multiple",
                      "fp_load", "fp_store"}  # fmt: skip


def _is_double(instruction: capstone.CsInsn, register: int) -> bool:
    return instruction.reg_name(register).startswith("d")


def _is_core(instruction: capstone.CsInsn, register: int) -> bool:
    name = instruction.reg_name(register)
    return name.startswith("r") or name in ("sb", "sl", "fp", "ip", "sp", "lr", "pc")


@dataclass(frozen=True)
class Decoded:
    address: int
    size: int
    text: str  # mnemonic and operands, for messages
    klass: str  # a class of CLASSES, or UNCLASSIFIED
    registers: int  # registers a multiple load/store or an FP load/store transfers (S registers for the FPU), else 0
    address_registers: frozenset[int] = frozenset()  # registers a load/store computes its address from
    written: frozenset[int] = frozenset()  # registers it writes (capstone ids)
    immediate_offset: bool = False  # a single non-exclusive load/store addressing [Rn, #imm], no writeback


def _memory_operand(instruction: capstone.CsInsn) -> Any | None:
    return next((op for op in instruction.operands if op.type == arm.ARM_OP_MEM), None)


def _address_registers(instruction: capstone.CsInsn, name: str) -> frozenset[int]:
    memory = _memory_operand(instruction)
    if memory is not None:
        return frozenset(register for register in (memory.mem.base, memory.mem.index) if register)
    if name in _MULTIPLE_FROM_STACK:
        return frozenset({arm.ARM_REG_SP})
    if name in _MULTIPLE_WITH_BASE:
        return frozenset({instruction.operands[0].reg})
    return frozenset()


def _has_immediate_offset(instruction: capstone.CsInsn, name: str) -> bool:
    memory = _memory_operand(instruction)
    return memory is not None and not memory.mem.index and not instruction.writeback and name not in _EXCLUSIVE


def _derived_class(klass: str, instruction: capstone.CsInsn, listed: list[int], written: frozenset[int]) -> str:
    """The class the operands make of a named class: PC writes, literal loads, half-double and FPU-only moves."""
    if klass == "load_multiple" and arm.ARM_REG_PC in listed:
        return "pop_pc"
    if klass == "load" and arm.ARM_REG_PC in written:
        return "load_pc"
    if klass == "load" and _memory_operand(instruction).mem.base == arm.ARM_REG_PC:
        return "load_literal"
    if klass == "alu" and arm.ARM_REG_PC in written:
        return "alu_pc"
    if klass == "fp_move" and any(op.vector_index >= 0 for op in instruction.operands):
        return "fp_move_half"
    if klass == "fp_move" and not any(_is_core(instruction, register) for register in listed):
        return "fp_alu"  # a move within the FPU (register or immediate): one cycle, not a transfer
    return klass


def classify(instruction: capstone.CsInsn) -> Decoded:
    """The instruction's class (UNCLASSIFIED where no class holds its name), size and registers."""
    name = instruction.insn_name()
    if name == "hint":  # capstone's name for nop, wfi, wfe, sev, yield and the unallocated hints ("hint #n")
        name = instruction.mnemonic.split(".")[0]
    klass = CLASS_OF_NAME.get(name, UNCLASSIFIED)
    text = f"{instruction.mnemonic} {instruction.op_str}".strip()
    registers = [op.reg for op in instruction.operands if op.type == arm.ARM_OP_REG]
    listed = registers[1:] if name in _MULTIPLE_WITH_BASE else registers
    written = frozenset(instruction.regs_access()[1])
    klass = _derived_class(klass, instruction, listed, written)
    # The TRM counts multiple transfers by register, the FPU's by single-precision register: a D register is two.
    count = sum(2 if _is_double(instruction, r) else 1 for r in listed) if klass in _COUNTED_REGISTERS else 0
    return Decoded(
        instruction.address, instruction.size, text, klass, count,
        address_registers=_address_registers(instruction, name),
        written=written,
        immediate_offset=_has_immediate_offset(instruction, name),
    )  # fmt: skip


class CodeImage:
    """The executable bytes of an ELF image, decoded on demand and remembered by address."""

    def __init__(self, elf: Path) -> None:
        self._chunks: list[tuple[int, bytes]] = []
        with elf.open("rb") as stream:
            for section in open_elf(stream).iter_sections():
                if section["sh_flags"] & EXEC and section["sh_type"] == "SHT_PROGBITS":
                    self._chunks.append((section["sh_addr"], section.data()))
        self._disassembler = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
        self._disassembler.detail = True
        self._decoded: dict[int, Decoded] = {}

    def size_at(self, address: int) -> int:
        """The instruction's width in bytes, from its first halfword (Thumb: 32-bit when bits 15..11 are
        0b11101, 0b11110 or 0b11111), whether or not it can be decoded or classified."""
        for start, data in self._chunks:
            if start <= address < start + len(data) - 1:
                first = int.from_bytes(data[address - start : address - start + 2], "little")
                return 4 if first >> 11 in (0b11101, 0b11110, 0b11111) else 2
        raise TimingError(f"{address:#x} is outside the image's code")

    def bytes_at(self, address: int) -> bytes:
        """The raw encoding of the instruction at address (size_at bytes), for a disassembler other than capstone."""
        size = self.size_at(address)
        for start, data in self._chunks:
            if start <= address and address + size <= start + len(data):
                return data[address - start : address - start + size]
        raise TimingError(f"{address:#x} is outside the image's code")

    def at(self, address: int) -> Decoded:
        known = self._decoded.get(address)
        if known is not None:
            return known
        for start, data in self._chunks:
            if start <= address < start + len(data):
                instruction = next(
                    self._disassembler.disasm(data[address - start : address - start + 4], address), None
                )
                if instruction is None:
                    raise TimingError(f"cannot decode the instruction at {address:#x}")
                decoded = self._decoded[address] = classify(instruction)
                return decoded
        raise TimingError(f"{address:#x} is outside the image's code")


@dataclass(frozen=True)
class CycleRange:
    """Cycles as the TRM's best case, a central value and its worst case."""

    minimum: float
    central: float
    maximum: float

    @classmethod
    def exact(cls, cycles: float) -> CycleRange:
        return cls(cycles, cycles, cycles)

    def __add__(self, other: CycleRange) -> CycleRange:
        return CycleRange(self.minimum + other.minimum, self.central + other.central, self.maximum + other.maximum)

    def __sub__(self, other: CycleRange) -> CycleRange:
        return CycleRange(self.minimum - other.minimum, self.central - other.central, self.maximum - other.maximum)

    def scaled(self, factor: float) -> CycleRange:
        return CycleRange(self.minimum * factor, self.central * factor, self.maximum * factor)

    @property
    def ordered(self) -> bool:
        """What a price (unlike a difference of prices) always is: 0 <= minimum <= central <= maximum."""
        return 0 <= self.minimum <= self.central <= self.maximum


NO_CYCLES = CycleRange.exact(0)


@dataclass(frozen=True)
class Cost:
    """A class's cycles: fixed, plus per_register for each register transferred, or taken when it branches."""

    fixed: CycleRange
    per_register: int = 0
    taken: CycleRange | None = None  # branches: the cycles when taken (fixed: when not taken)

    def of(self, instruction: Decoded, taken: bool) -> CycleRange:
        if self.taken is not None and taken:
            return self.taken
        return self.fixed + CycleRange.exact(self.per_register * instruction.registers)


def _fell_through_from_16_bit(previous: Decoded | None, instruction: Decoded) -> bool:
    return previous is not None and previous.size == 2 and previous.address + 2 == instruction.address


def _address_independent_of_previous(previous: Decoded | None, instruction: Decoded) -> bool:
    return previous is not None and not previous.written & instruction.address_registers


def _address_from_previous_result(previous: Decoded | None, instruction: Decoded) -> bool:
    return previous is not None and bool(previous.written & instruction.address_registers)


def _immediate_offset(previous: Decoded | None, instruction: Decoded) -> bool:
    return instruction.immediate_offset


# The conditions a context rule can name ("when"): each decided from the instruction and the one before it.
CONDITIONS: dict[str, Callable[[Decoded | None, Decoded], bool]] = {
    "fell_through_from_16_bit": _fell_through_from_16_bit,
    "address_independent_of_previous": _address_independent_of_previous,
    "address_from_previous_result": _address_from_previous_result,
    "immediate_offset": _immediate_offset,
}


@dataclass(frozen=True)
class ContextRule:
    """Cycles an instruction of `classes` saves (best and central case) or adds (every case) in a context."""

    classes: frozenset[str]
    after: frozenset[str] | None  # the previous instruction's class must be one of these; None: any
    when: str | None  # a CONDITIONS name
    saves: int = 0
    adds: int = 0

    def applies(self, previous: Decoded | None, instruction: Decoded) -> bool:
        if instruction.klass not in self.classes:
            return False
        if self.after is not None and (previous is None or previous.klass not in self.after):
            return False
        return self.when is None or CONDITIONS[self.when](previous, instruction)


@dataclass(frozen=True)
class TimingModel:
    cores: tuple[str, ...]
    source: str
    costs: dict[str, Cost]
    unpriced: dict[str, str]  # class -> why the file gives it no cycles
    rules: tuple[ContextRule, ...]
    path: Path

    def cycles(self, instruction: Decoded, previous: Decoded | None, following: int | None) -> CycleRange:
        """One execution of instruction, after previous and before the instruction at following (None: unknown).

        Savings never add up (the largest applies: each says the instruction takes one cycle less, not
        two); stalls do. The worst case counts on no saving."""
        cost = self.costs.get(instruction.klass)
        if cost is None:
            raise TimingError(f"{self.path.name} has no cycles for class '{instruction.klass}' "
                              f"('{instruction.text}' at {instruction.address:#x}): "
                              f"{self.unpriced.get(instruction.klass, 'no timing class holds it')}")  # fmt: skip
        taken = following is not None and following != instruction.address + instruction.size
        applying = [rule for rule in self.rules if rule.applies(previous, instruction)]
        saving = max((rule.saves for rule in applying), default=0)
        stall = sum(rule.adds for rule in applying)
        return cost.of(instruction, taken) + CycleRange(stall - saving, stall - saving, stall)

    def price_visits(self, code: CodeImage, visits: Sequence[BlockVisit]) -> list[PricedVisit]:
        return [self._price_visit(code, visit) for visit in visits]

    def _price_visit(self, code: CodeImage, visit: BlockVisit) -> PricedVisit:
        total, unpriced = NO_CYCLES, 0
        neighbours = (visit.previous, *visit.pcs, visit.following)
        for before, address, after in zip(neighbours, neighbours[1:], neighbours[2:], strict=False):
            try:
                total += self.cycles(code.at(address), _decoded_or_none(code, before), after)
            except TimingError:
                unpriced += 1
        return PricedVisit(total, _jumps(visit, code), unpriced)

    def price(self, code: CodeImage, steps: Mapping[tuple[int | None, int, int | None], int]) -> CycleRange:
        """Cycles of executed steps: (previous pc, pc, next pc) -> how many times the instruction at pc ran
        between those neighbours (None where the trace does not say)."""
        total = NO_CYCLES
        for (previous, address, following), count in steps.items():
            before = None if previous is None else code.at(previous)
            total += self.cycles(code.at(address), before, following).scaled(count)
        return total


def _decoded_or_none(code: CodeImage, address: int | None) -> Decoded | None:
    """The instruction at address, or None where there is none or it cannot be classified (no context then)."""
    if address is None:
        return None
    try:
        return code.at(address)
    except TimingError:
        return None


def nonsequential_fetches(code: CodeImage, steps: Mapping[tuple[int | None, int, int | None], int]) -> int:
    """How many executed steps fetched their successor from anywhere but the next address: taken branches,
    calls, returns and every other write of the PC (what a flash wait state costs once per, when a prefetch
    buffer hides the sequential fetches). An unknown successor counts as sequential, as a branch not taken."""
    jumps = 0
    for (_, address, following), count in steps.items():
        if following is not None:
            instruction = code.at(address)
            jumps += count * (following != instruction.address + instruction.size)
    return jumps


@dataclass(frozen=True)
class BlockVisit:
    """Instructions executed one after another (one pass through a translated block), with the instruction
    executed just before them (None at reset) and just after (None at the end): what a counted run records
    and the unit every cycle model prices."""

    previous: int | None
    pcs: tuple[int, ...]
    following: int | None


@dataclass(frozen=True)
class PricedVisit:
    """One visit's cycles, its fetches from anywhere but the next address, and how many of its instructions
    the model could not price (their cycles are missing from `cycles`: the row's range is then incomplete)."""

    cycles: CycleRange
    nonsequential: int
    unpriced: int = 0


class CycleModel(Protocol):
    """What prices executed instructions for some cores: a TRM table (TimingModel) or a scheduling model."""

    cores: tuple[str, ...]
    source: str  # the document or model the estimates come from, with its version
    path: Path  # the file it was read from

    def price_visits(self, code: CodeImage, visits: Sequence[BlockVisit]) -> list[PricedVisit]:
        """Each visit priced on its own, in the order given."""


def _jumps(visit: BlockVisit, code: CodeImage) -> int:
    """The visit's fetches from anywhere but the next address (a taken branch, a call, a return)."""
    successors = (*visit.pcs[1:], visit.following)
    jumps = 0
    for address, following in zip(visit.pcs, successors, strict=True):
        if following is not None:
            jumps += following != address + code.size_at(address)
    return jumps


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise TimingError(f"{where}: unknown key {', '.join(repr(key) for key in unknown)} "
                          f"(allowed: {', '.join(sorted(allowed))})")  # fmt: skip


def _parse_range(value: Any, where: str) -> CycleRange:
    """A number of cycles, or {min, central, max}."""
    if _is_number(value):
        cycles = CycleRange.exact(value)
    elif isinstance(value, dict):
        _check_keys(value, {"min", "central", "max"}, where)
        numbers = [value.get(key) for key in ("min", "central", "max")]
        if not all(_is_number(number) for number in numbers):
            raise TimingError(f"{where}: needs min, central and max, each a number of cycles, not {value!r}")
        cycles = CycleRange(*numbers)
    else:
        raise TimingError(f"{where}: expected cycles as a number or {{min, central, max}}, not {value!r}")
    if not cycles.ordered:
        raise TimingError(f"{where}: needs 0 <= min <= central <= max, not min {cycles.minimum}, "
                          f"central {cycles.central}, max {cycles.maximum}")  # fmt: skip
    return cycles


def _parse_cost(value: Any, where: str) -> Cost:
    """Cycles; {base, per_register}; or {taken, not_taken}; each cycles value a number or {min, central, max}."""
    if isinstance(value, dict) and {"taken", "not_taken"} & value.keys():
        _check_keys(value, {"taken", "not_taken"}, where)
        if value.keys() != {"taken", "not_taken"}:
            raise TimingError(f"{where}: a branch needs both taken and not_taken")
        return Cost(_parse_range(value["not_taken"], f"{where}.not_taken"),
                    taken=_parse_range(value["taken"], f"{where}.taken"))  # fmt: skip
    if isinstance(value, dict) and {"base", "per_register"} & value.keys():
        _check_keys(value, {"base", "per_register"}, where)
        per_register = value.get("per_register")
        if "base" not in value or not isinstance(per_register, int) or isinstance(per_register, bool):
            raise TimingError(f"{where}: needs base (cycles) and per_register (a whole number of cycles)")
        return Cost(_parse_range(value["base"], f"{where}.base"), per_register=per_register)
    return Cost(_parse_range(value, where))


def _class_list(value: Any, where: str, allowed: frozenset[str]) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise TimingError(f"{where}: expected a non-empty list of class names, not {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise TimingError(f"{where}: {', '.join(unknown)} not among the classes this file prices")
    return frozenset(value)


def _parse_rule(value: Any, where: str, costs: dict[str, Cost]) -> ContextRule:
    if not isinstance(value, dict):
        raise TimingError(f"{where}: expected a table, not {value!r}")
    _check_keys(value, {"classes", "after", "when", "saves", "adds"}, where)
    classes = _class_list(value.get("classes"), f"{where}.classes", frozenset(costs))
    after = None if "after" not in value else _class_list(value["after"], f"{where}.after", frozenset(costs))
    when = value.get("when")
    if when is not None and when not in CONDITIONS:
        raise TimingError(f"{where}.when: unknown condition {when!r} (known: {', '.join(CONDITIONS)})")
    amounts = {key: value[key] for key in ("saves", "adds") if key in value}
    if len(amounts) != 1 or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in amounts.values()):
        raise TimingError(f"{where}: needs exactly one of saves or adds, a whole number of cycles above 0")
    rule = ContextRule(classes, after, when, **amounts)
    for klass in sorted(classes):
        cost = costs[klass]
        if cost.taken is not None or cost.fixed.minimum < rule.saves:
            raise TimingError(f"{where}: cannot save {rule.saves} cycle(s) on class '{klass}' "
                              f"(a branch, or fewer cycles at best)")  # fmt: skip
    return rule


def _check_class_coverage(name: str, priced: dict, unpriced: dict) -> None:
    """Every class is priced or unpriced (with a reason), never both, and no other name appears."""
    unknown = [f"{table}.{klass}" for table, entries in (("cycles", priced), ("unpriced", unpriced))
               for klass in sorted(set(entries) - CLASSES)]  # fmt: skip
    if unknown:
        raise TimingError(f"{name}: {', '.join(unknown)}: unknown instruction class "
                          f"(known: {', '.join(sorted(CLASSES))})")  # fmt: skip
    both = sorted(set(priced) & set(unpriced))
    if both:
        raise TimingError(f"{name}: {', '.join(f'unpriced.{klass}' for klass in both)}: the class also has cycles")
    missing = sorted(CLASSES - set(priced) - set(unpriced))
    if missing:
        raise TimingError(f"{name}: classes in neither [cycles] nor [unpriced]: {', '.join(missing)}")
    for klass, reason in unpriced.items():
        if not isinstance(reason, str) or not reason:
            raise TimingError(f"{name}: unpriced.{klass}: expected the reason, a string")


def _load_model(path: Path) -> TimingModel:
    name = path.name
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise TimingError(f"{name}: not valid TOML: {error}") from None
    _check_keys(data, {"cores", "source", "cycles", "unpriced", "context"}, name)
    cores, source = data.get("cores"), data.get("source")
    if not isinstance(cores, list) or not cores or not all(isinstance(core, str) for core in cores):
        raise TimingError(f"{name}: cores: expected a non-empty list of core names")
    if not isinstance(source, str) or not source:
        raise TimingError(f"{name}: source: expected the TRM, a string")
    priced, unpriced, rules = data.get("cycles", {}), data.get("unpriced", {}), data.get("context", [])
    if not isinstance(priced, dict) or not isinstance(unpriced, dict) or not isinstance(rules, list):
        raise TimingError(f"{name}: expected tables [cycles] and [unpriced], and an array of tables [[context]]")
    _check_class_coverage(name, priced, unpriced)
    costs = {klass: _parse_cost(value, f"{name}: cycles.{klass}") for klass, value in priced.items()}
    parsed = tuple(_parse_rule(rule, f"{name}: context[{index}]", costs) for index, rule in enumerate(rules))
    return TimingModel(tuple(cores), source, costs, dict(unpriced), parsed, path)


def by_core(models: Iterable[M], error: type[TimingError]) -> dict[str, M]:
    """Models (each with `cores` and the `path` it was read from) by the cores they name; a core two files name
    is an error naming both."""
    found: dict[str, M] = {}
    for model in models:
        for core in model.cores:
            if core in found:
                raise error(f"{shown(model.path)}: cores: {core} already has a model, {shown(found[core].path)}")
            found[core] = model
    return found


def load_timing_models(directory: Path = TIMING) -> dict[str, TimingModel]:
    """Timing model by core name; cores without a file get no estimate."""
    return by_core((_load_model(path) for path in sorted(directory.glob("*.toml"))), TimingError)
