"""Executed code as the cycle models see it: the image's instructions decoded by capstone (Thumb/Thumb-2, M
profile), each put in an instruction class of the TRM timing tables (targets/timing/README.md lists them), with
its size and the registers it transfers, computes an address from and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import capstone
from capstone import arm

from qbench.common.errors import QbenchError
from qbench.sizes.elfsize import EXEC, open_elf


class TimingError(QbenchError, ValueError):
    """Why executed code has no price: an address outside the image's code, an instruction capstone cannot decode
    or a model has no cycles for, a malformed model file."""


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

_MULTIPLE_WITH_BASE = set(
    "ldm ldmia ldmdb stm stmia stmdb vldmia vldmdb vldm vstmia vstmdb vstm fldmiax fldmdbx fstmiax fstmdbx".split()
)
_MULTIPLE_FROM_STACK = {"push", "pop", "vpush", "vpop"}
_EXCLUSIVE = {"ldrex", "ldrexb", "ldrexh", "strex", "strexb", "strexh"}
_COUNTED_REGISTERS = {
    "load_multiple",
    "store_multiple",
    "pop_pc",
    "fp_load_multiple",
    "fp_store_multiple",
    "fp_load",
    "fp_store",
}


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
        instruction.address,
        instruction.size,
        text,
        klass,
        count,
        address_registers=_address_registers(instruction, name),
        written=written,
        immediate_offset=_has_immediate_offset(instruction, name),
    )


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
