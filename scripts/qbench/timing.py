"""Cycle estimates from executed instructions: a per-core timing model.

QEMU counts instructions, not cycles. An estimate comes from decoding every
executed instruction (capstone, Thumb/Thumb-2), putting it in a class, and
charging the class's cycles from the core's Technical Reference Manual
(targets/timing/<core>.toml, each value with its source). A branch is taken
when the next executed instruction is not the one after it; multiple loads
and stores cost by register count. What the model leaves out (wait states,
pipelined load/store pairs, bus contention) is in targets/timing/README.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import capstone
from capstone import arm

from .elfsize import EXEC, open_elf
from .paths import TARGETS

TIMING = TARGETS / "timing"


class TimingError(ValueError):
    """An instruction the model cannot price, or a malformed timing file."""


# Instruction class by capstone's instruction name (condition code and width suffix removed).
_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "alu": (
        "mov movs mvn mvns add adds adc adcs sub subs sbc sbcs rsb rsbs neg negs and ands orr orrs orn eor eors "
        "bic bics cmp cmn tst teq lsl lsls lsr lsrs asr asrs ror rors rrx sxtb sxth uxtb uxth sxtab sxtah uxtab "
        "uxtah sxtb16 uxtb16 rev rev16 revsh rbit clz bfi bfc ubfx sbfx adr addw subw nop it movw movt usat ssat "
        "usat16 ssat16 sel pkhbt pkhtb qadd qsub qdadd qdsub sadd16 ssub16 uadd16 usub16 sadd8 ssub8 uadd8 usub8 "
        "qadd16 qsub16 qadd8 qsub8 uqadd16 uqsub16 uqadd8 uqsub8 shadd16 shsub16 uhadd16 uhsub16 shadd8 shsub8 "
        "uhadd8 uhsub8 sasx ssax uasx usax qasx qsax uqasx uqsax shasx shsax uhasx uhsax usad8 usada8 "
        "cps clrex"  # cpsid/cpsie and clrex: one cycle, as the TRMs list them
    ).split(),
    "mul": ("mul", "muls"),
    "mla": ("mla", "mls"),
    "mul_long": (
        "umull smull umlal smlal umaal smmul smmulr smmla smmlar smmls smmlsr smulbb smulbt smultb smultt smulwb "
        "smulwt smlabb smlabt smlatb smlatt smlawb smlawt smlad smladx smlsd smlsdx smlald smlaldx smlsld smlsldx "
        "smuad smuadx smusd smusdx smlalbb smlalbt smlaltb smlaltt"
    ).split(),
    "div": ("sdiv", "udiv"),
    "load": ("ldr ldrb ldrh ldrsb ldrsh ldrt ldrbt ldrht ldrsbt ldrsht ldrex ldrexb ldrexh").split(),
    "store": ("str strb strh strt strbt strht strex strexb strexh").split(),
    "load_double": ("ldrd",),
    "store_double": ("strd",),
    "load_multiple": ("ldm", "ldmia", "ldmdb", "pop"),
    "store_multiple": ("stm", "stmia", "stmdb", "push"),
    "branch": ("b",),
    "compare_branch": ("cbz", "cbnz"),
    "branch_link": ("bl",),
    "branch_exchange": ("bx", "blx"),
    "table_branch": ("tbb", "tbh"),
    "system": ("mrs msr dmb dsb isb svc bkpt wfi wfe sev yield udf").split(),
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
    "fp_load_multiple": ("vldmia", "vldmdb", "vldm", "vpop"),
    "fp_store_multiple": ("vstmia", "vstmdb", "vstm", "vpush"),
    "fp_move": ("vmov", "vmrs", "vmsr", "fmstat"),  # fmstat: capstone's name for VMRS APSR_nzcv, FPSCR
}
CLASS_OF_NAME = {name: klass for klass, names in _CLASS_NAMES.items() for name in names}
_MULTIPLE_WITH_BASE = {"ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "vldmia", "vldmdb", "vldm", "vstmia",
                       "vstmdb", "vstm"}  # fmt: skip


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
    klass: str
    registers: int  # registers transferred by a multiple load/store, else 0


def classify(instruction: capstone.CsInsn) -> Decoded:
    name = instruction.insn_name()
    if name == "hint":  # capstone's name for nop, wfi, wfe, sev and yield
        name = instruction.mnemonic.split(".")[0]
    klass = CLASS_OF_NAME.get(name)
    text = f"{instruction.mnemonic} {instruction.op_str}".strip()
    if klass is None:
        raise TimingError(f"no timing class for '{text}' at {instruction.address:#x}")
    registers = [op.reg for op in instruction.operands if op.type == arm.ARM_OP_REG]
    writes_pc = bool(registers) and registers[0] == arm.ARM_REG_PC
    count = 0
    if klass in ("load_multiple", "store_multiple", "fp_load_multiple", "fp_store_multiple"):
        listed = registers[1:] if name in _MULTIPLE_WITH_BASE else registers
        # The FPU timings count single-precision registers: a D register is two.
        count = sum(2 if _is_double(instruction, register) else 1 for register in listed)
        if klass == "load_multiple" and arm.ARM_REG_PC in listed:
            klass = "pop_pc"
    elif klass == "fp_move" and name == "vmov" and not any(_is_core(instruction, r) for r in registers):
        klass = "fp_alu"  # a move within the FPU (register or immediate): one cycle, not a transfer
    elif klass == "load" and writes_pc:
        klass = "load_pc"
    elif klass == "alu" and writes_pc and name not in ("cmp", "cmn", "tst", "teq", "it"):
        klass = "alu_pc"
    return Decoded(instruction.address, instruction.size, text, klass, count)


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
class Cost:
    cycles: int = 0
    taken: int | None = None  # branches: cycles when taken (cycles then means not taken)
    per_register: int = 0  # multiple loads/stores: cycles += per_register * N

    @classmethod
    def parse(cls, value: Any, where: str) -> Cost:
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if isinstance(value, dict):
            if {"taken", "not_taken"} <= value.keys():
                return cls(int(value["not_taken"]), taken=int(value["taken"]))
            if {"base", "per_register"} <= value.keys():
                return cls(int(value["base"]), per_register=int(value["per_register"]))
            if "cycles" in value:
                return cls(int(value["cycles"]))
        raise TimingError(f"{where}: expected cycles as an integer, {{taken, not_taken}}, {{base, per_register}} "
                          f"or {{cycles, min, max}}, not {value!r}")  # fmt: skip


@dataclass(frozen=True)
class TimingModel:
    cores: tuple[str, ...]
    source: str
    costs: dict[str, Cost]
    path: Path

    def cycles(self, instruction: Decoded, taken: bool) -> int:
        cost = self.costs.get(instruction.klass)
        if cost is None:
            raise TimingError(
                f"{self.path.name} has no cycles for class '{instruction.klass}' "
                f"('{instruction.text}' at {instruction.address:#x})"
            )
        if cost.taken is not None and taken:
            return cost.taken
        return cost.cycles + cost.per_register * instruction.registers

    def estimate(self, code: CodeImage, program_counters: Sequence[int], next_counter: int | None) -> int:
        """Cycles of an executed run of instructions; next_counter follows the last one."""
        total = 0
        following = [*program_counters[1:], next_counter]
        for address, after in zip(program_counters, following, strict=True):
            instruction = code.at(address)
            taken = after is not None and after != address + instruction.size
            total += self.cycles(instruction, taken)
        return total


def load_timing_models(directory: Path = TIMING) -> dict[str, TimingModel]:
    """Timing model by core name; cores without a file get no estimate."""
    models: dict[str, TimingModel] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise TimingError(f"{path.name}: not valid TOML: {error}") from None
        if not isinstance(data.get("cores"), list) or not isinstance(data.get("cycles"), dict):
            raise TimingError(f"{path.name}: needs 'cores' (a list) and a [cycles] table")
        unknown = sorted(set(data["cycles"]) - {*_CLASS_NAMES, "pop_pc", "load_pc", "alu_pc"})
        if unknown:
            raise TimingError(f"{path.name}: unknown instruction classes {', '.join(unknown)}")
        costs = {klass: Cost.parse(value, f"{path.name}: cycles.{klass}") for klass, value in data["cycles"].items()}
        model = TimingModel(tuple(data["cores"]), str(data.get("source", "")), costs, path)
        for core in model.cores:
            models[core] = model
    return models
