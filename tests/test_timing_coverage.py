"""Every instruction a core can execute has a timing class its TRM table prices (or says why not): checked on
every instruction of the C library and compiler run-time the toolchain ships for the core's compile flags,
and on a catalogue of every instruction form of each architecture (ARMv6-M, ARMv7-M, ARMv7E-M, FPv4-SP)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import capstone
import pytest

from qbench.common.paths import TARGETS
from qbench.execution.decode import UNCLASSIFIED, classify
from qbench.execution.timing_tables import load_timing_models
from qbench.sizes.elfsize import EXEC

MODELS = load_timing_models()
CORES = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m4f")
# Every core here is ARMv6-M or ARMv7(E)-M: Thumb, M profile, without the ARMv8 instructions.
MODE = capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS
LIBRARIES = ("libc.a", "libm.a", "libc_nano.a")
UNDECODABLE = "undecodable"
SHT_PROGBITS, SHT_SYMTAB = 1, 2
# What the TRMs give no cycles for, and so may stay unpriced in the catalogue: SVC, BKPT, UDF.
WITHOUT_CYCLES = {"exception"}


def cflags(core: str) -> list[str]:
    return tomllib.loads((TARGETS / "cores" / f"{core}.toml").read_text())["cflags"]


def gcc_output(core: str, option: str) -> Path:
    run = subprocess.run(["arm-none-eabi-gcc", *cflags(core), option], check=True, capture_output=True, text=True)
    return Path(run.stdout.strip())


def archives(core: str) -> tuple[Path, ...]:
    """The compiler run-time and C libraries the toolchain links for the core's flags (its multilib)."""
    libraries = tuple(gcc_output(core, f"-print-file-name={name}") for name in LIBRARIES)
    return (gcc_output(core, "-print-libgcc-file-name"), *libraries)


def section_headers(image: bytes) -> list[tuple[int, ...]]:
    """Each section's (name, type, flags, addr, offset, size, link, info, addralign, entsize) in an ELF32
    little-endian object, read with struct: pyelftools takes milliseconds an object, seconds a library."""
    (offset,) = struct.unpack_from("<I", image, 0x20)  # e_shoff
    (count,) = struct.unpack_from("<H", image, 0x30)  # e_shnum
    return [struct.unpack_from("<10I", image, offset + 40 * index) for index in range(count)]


def thumb_ranges(image: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(section data, start, end) of each run of Thumb code in an object: from a $t mapping symbol to the next
    mapping symbol ($d: data in code, $a: Arm code) or the section's end."""
    sections = section_headers(image)
    contents = [image[header[4] : header[4] + header[5]] for header in sections]
    symbols = next(index for index, header in enumerate(sections) if header[1] == SHT_SYMTAB)
    names = contents[sections[symbols][6]]
    mappings: dict[int, dict[int, bytes]] = {}
    for name, value, _, _, _, index in struct.iter_unpack("<IIIBBH", contents[symbols]):
        kind = names[name : name + 2]
        if kind in (b"$t", b"$d", b"$a") and names[name + 2 : name + 3] in (b"\0", b"."):
            mappings.setdefault(index, {})[value] = kind
    for index, header in enumerate(sections):
        if header[2] & EXEC and header[1] == SHT_PROGBITS and index in mappings:
            marks = sorted(mappings[index].items())
            ends = [*(offset for offset, _ in marks[1:]), header[5]]
            for (start, kind), end in zip(marks, ends, strict=True):
                if kind == b"$t":
                    yield contents[index], start, end


def instructions(data: bytes, start: int, end: int, disassembler: capstone.Cs) -> Iterator[bytes | None]:
    """Each instruction's bytes, None for two bytes capstone cannot decode (decoding resumes after them)."""
    offset = start
    while offset < end:
        for address, size, _, _ in disassembler.disasm_lite(data[offset:end], offset):
            yield data[address : address + size]
            offset = address + size
        if offset < end:
            yield None
            offset += 2


def classes_of(encodings: set[bytes | None]) -> dict[str, str]:
    """Class -> an instruction of it, for each distinct encoding (a class does not depend on the address)."""
    disassembler = capstone.Cs(capstone.CS_ARCH_ARM, MODE)
    disassembler.detail = True
    found = {UNDECODABLE: "?"} if None in encodings else {}
    for encoding in sorted(encoding for encoding in encodings if encoding is not None):
        decoded = classify(next(disassembler.disasm(encoding, 0)))
        found.setdefault(decoded.klass, f"{decoded.text} ({encoding.hex()})")
    return found


def library_classes(paths: tuple[Path, ...], directory: Path) -> dict[str, str]:
    disassembler = capstone.Cs(capstone.CS_ARCH_ARM, MODE)
    encodings: set[bytes | None] = set()
    for number, archive in enumerate(paths):
        members = directory / str(number)
        members.mkdir()
        subprocess.run(["arm-none-eabi-ar", "x", str(archive)], cwd=members, check=True)
        for member in members.iterdir():
            for data, start, end in thumb_ranges(member.read_bytes()):
                encodings.update(instructions(data, start, end, disassembler))
        shutil.rmtree(members)  # thousands of objects: not left for pytest to keep and clean up
    return classes_of(encodings)


@pytest.fixture(scope="module")
def classes_in_libraries(tmp_path_factory) -> Callable[[str], dict[str, str]]:
    """The classes found in a core's libraries, decoded once per set of archives (cortex-m0 and cortex-m0plus
    share one)."""
    found: dict[tuple[Path, ...], dict[str, str]] = {}

    def classes(core: str) -> dict[str, str]:
        paths = archives(core)
        if paths not in found:
            found[paths] = library_classes(paths, tmp_path_factory.mktemp(core))
        return found[paths]

    return classes


def unexplained(core: str, classes: dict[str, str]) -> dict[str, str]:
    """The classes the core's table neither prices nor gives a reason for, each with an instruction."""
    model = MODELS[core]
    return {klass: text for klass, text in classes.items() if klass not in model.costs | model.unpriced}


@pytest.mark.parametrize("core", CORES)
def test_every_library_instruction_has_a_class_the_core_prices_or_explains(core, classes_in_libraries):
    classes = classes_in_libraries(core)
    assert "load" in classes and "branch" in classes  # the libraries were found and decoded
    assert {klass: classes[klass] for klass in (UNCLASSIFIED, UNDECODABLE) if klass in classes} == {}
    assert unexplained(core, classes) == {}


# Every instruction form of each architecture, for the cores that execute it (';' separates statements).
ARMV6M = """
    movs r0, #1; mov r0, r1; adds r0, r1, r2; adcs r0, r1; add sp, #8; add r0, sp, #8; sub sp, #8
    subs r0, r1, #1; sbcs r0, r1; rsbs r0, r1, #0; muls r0, r1, r0; cmp r0, r1; cmn r0, r1; ands r0, r1
    eors r0, r1; orrs r0, r1; bics r0, r1; mvns r0, r1; tst r0, r1; lsls r0, r1, #2; lsrs r0, r1; asrs r0, r1, #2
    rors r0, r1; sxth r0, r1; sxtb r0, r1; uxth r0, r1; uxtb r0, r1; rev r0, r1; rev16 r0, r1; revsh r0, r1
    adr r0, 2f; ldr r0, [r1, #4]; ldrh r0, [r1, r2]; ldrb r0, [r1, #1]; ldrsh r0, [r1, r2]; ldrsb r0, [r1, r2]
    ldr r0, [sp, #4]; ldr r0, 2f; str r0, [r1, #4]; strh r0, [r1, r2]; strb r0, [r1, #1]; str r0, [sp, #4]
    ldm r0!, {r1, r2}; ldm r0, {r0, r1}; stm r0!, {r1, r2}; push {r4, lr}; pop {r4}; pop {r4, pc}
1:  beq 1b; b 1b; bl 1b; bx lr; blx r0; mov pc, r0; add pc, r0
    mrs r0, primask; msr primask, r0; cpsid i; cpsie i; svc #0; bkpt #0; udf #0
    sev; wfe; wfi; yield; nop; dmb; dsb; isb
    .align 2
2:  .word 0
"""
ARMV7M = """
    ldrd r0, r1, [r2, #8]; strd r0, r1, [r2, #-8]!; ldrd r0, r1, [r2], #8; ldrd r0, r1, 2f
    ldm r0!, {r1, r2}; ldmdb r0!, {r1, r2}; stmdb r0!, {r4, r5}; stm r0, {r1, r2}; ldmia sp!, {r4, pc}
    ldrex r0, [r1]; ldrexb r0, [r1]; ldrexh r0, [r1]; strex r2, r0, [r1]; strexb r2, r0, [r1]; strexh r2, r0, [r1]
    clrex; ldrt r0, [r1, #4]; ldrbt r0, [r1, #4]; ldrht r0, [r1, #4]; ldrsbt r0, [r1, #4]; ldrsht r0, [r1, #4]
    strt r0, [r1, #4]; strbt r0, [r1, #4]; strht r0, [r1, #4]; ldr pc, [r0]; ldrsh.w r0, [r1, #2]
    tbb [r0, r1]; tbh [r0, r1, lsl #1]; pld [r0]; pld [r0, #-4]; pld [r0, r1, lsl #2]; pld 2f; pli [r0, #8]; pli 2f
    mrs r0, basepri; msr basepri_max, r0; cpsid f; udf.w #300; nop.w; dbg #5
    ssat r0, #8, r1; usat r0, #8, r1, lsl #2; mla r0, r1, r2, r3; mls r0, r1, r2, r3
    smull r0, r1, r2, r3; umull r0, r1, r2, r3; smlal r0, r1, r2, r3; umlal r0, r1, r2, r3
    sdiv r0, r1, r2; udiv r0, r1, r2; teq r0, r1; rrx r0, r1; bfc r0, #4, #8; bfi r0, r1, #4, #8
    ubfx r0, r1, #4, #8; sbfx r0, r1, #4, #8; clz r0, r1; rbit r0, r1; orn r0, r1, r2
    movw r0, #0x1234; movt r0, #0x1234; addw r0, r1, #0x123; subw r0, r1, #0x123
1:  cbz r0, 1f; cbnz r0, 1f; it eq; moveq r0, r1; ite ne; addne r0, r0, #1; subeq r0, r0, #1; b.w 1b; nop; nop
1:  nop
    .align 2
2:  .word 0
"""
ARMV7EM = """
    ssat16 r0, #8, r1; usat16 r0, #8, r1; qadd r0, r1, r2; qsub r0, r1, r2; qdadd r0, r1, r2; qdsub r0, r1, r2
    sadd16 r0, r1, r2; sadd8 r0, r1, r2; sasx r0, r1, r2; ssax r0, r1, r2; ssub16 r0, r1, r2; ssub8 r0, r1, r2
    qadd16 r0, r1, r2; qadd8 r0, r1, r2; qasx r0, r1, r2; qsax r0, r1, r2; qsub16 r0, r1, r2; qsub8 r0, r1, r2
    shadd16 r0, r1, r2; shadd8 r0, r1, r2; shasx r0, r1, r2; shsax r0, r1, r2; shsub16 r0, r1, r2
    shsub8 r0, r1, r2; uadd16 r0, r1, r2; uadd8 r0, r1, r2; uasx r0, r1, r2; usax r0, r1, r2; usub16 r0, r1, r2
    usub8 r0, r1, r2; uqadd16 r0, r1, r2; uqadd8 r0, r1, r2; uqasx r0, r1, r2; uqsax r0, r1, r2
    uqsub16 r0, r1, r2; uqsub8 r0, r1, r2; uhadd16 r0, r1, r2; uhadd8 r0, r1, r2; uhasx r0, r1, r2
    uhsax r0, r1, r2; uhsub16 r0, r1, r2; uhsub8 r0, r1, r2; usad8 r0, r1, r2; usada8 r0, r1, r2, r3
    sel r0, r1, r2; pkhbt r0, r1, r2, lsl #4; pkhtb r0, r1, r2, asr #4; sxtab r0, r1, r2; sxtab16 r0, r1, r2
    sxtah r0, r1, r2; sxtb16 r0, r1; uxtab r0, r1, r2; uxtab16 r0, r1, r2, ror #8; uxtah r0, r1, r2; uxtb16 r0, r1
    smlabb r0, r1, r2, r3; smlabt r0, r1, r2, r3; smlatb r0, r1, r2, r3; smlatt r0, r1, r2, r3
    smlad r0, r1, r2, r3; smladx r0, r1, r2, r3; smlalbb r0, r1, r2, r3; smlalbt r0, r1, r2, r3
    smlaltb r0, r1, r2, r3; smlaltt r0, r1, r2, r3; smlald r0, r1, r2, r3; smlaldx r0, r1, r2, r3
    smlawb r0, r1, r2, r3; smlawt r0, r1, r2, r3; smlsd r0, r1, r2, r3; smlsdx r0, r1, r2, r3
    smlsld r0, r1, r2, r3; smlsldx r0, r1, r2, r3; smmla r0, r1, r2, r3; smmlar r0, r1, r2, r3
    smmls r0, r1, r2, r3; smmlsr r0, r1, r2, r3; smmul r0, r1, r2; smmulr r0, r1, r2; smuad r0, r1, r2
    smuadx r0, r1, r2; smulbb r0, r1, r2; smulbt r0, r1, r2; smultb r0, r1, r2; smultt r0, r1, r2
    smulwb r0, r1, r2; smulwt r0, r1, r2; smusd r0, r1, r2; smusdx r0, r1, r2; umaal r0, r1, r2, r3
"""
FPV4_SP = """
    vadd.f32 s0, s1, s2; vsub.f32 s0, s1, s2; vmul.f32 s0, s1, s2; vnmul.f32 s0, s1, s2; vdiv.f32 s0, s1, s2
    vsqrt.f32 s0, s1; vabs.f32 s0, s1; vneg.f32 s0, s1; vmla.f32 s0, s1, s2; vmls.f32 s0, s1, s2
    vnmla.f32 s0, s1, s2; vnmls.f32 s0, s1, s2; vfma.f32 s0, s1, s2; vfms.f32 s0, s1, s2; vfnma.f32 s0, s1, s2
    vfnms.f32 s0, s1, s2; vcmp.f32 s0, s1; vcmp.f32 s0, #0; vcmpe.f32 s0, s1; vcmpe.f32 s0, #0
    vcvt.s32.f32 s0, s1; vcvt.u32.f32 s0, s1; vcvtr.s32.f32 s0, s1; vcvtr.u32.f32 s0, s1
    vcvt.f32.s32 s0, s1; vcvt.f32.u32 s0, s1; vcvt.s32.f32 s0, s0, #16; vcvt.u16.f32 s0, s0, #8
    vcvt.f32.s32 s0, s0, #16; vcvt.f32.u16 s0, s0, #8; vcvtb.f32.f16 s0, s1; vcvtt.f32.f16 s0, s1
    vcvtb.f16.f32 s0, s1; vcvtt.f16.f32 s0, s1; vmov.f32 s0, s1; vmov.f32 s0, #1.0; vmov s0, r0; vmov r0, s0
    vmov s0, s1, r0, r1; vmov r0, r1, s0, s1; vmov d0, r0, r1; vmov r0, r1, d0
    .inst.w 0xee200b10; .inst.w 0xee300b10  @ vmov.32 d0[1], r0 and vmov.32 r0, d0[1], which gas refuses here
    vldr s0, [r0, #4]; vldr d0, [r0, #8]; vldr s0, 2f; vstr s0, [r0, #4]; vstr d0, [r0]
    vldmia r0!, {s0-s3}; vldmdb r0!, {d0-d1}; vstmia r0, {s0-s3}; vstmdb r0!, {d0-d1}
    vpush {s16-s17}; vpush {d8-d9}; vpop {s16-s17}; vpop {d8-d9}
    .inst.w 0xec900b21; .inst.w 0xed200b05  @ fldmiax r0, {d0-d15}; fstmdbx r0!, {d0-d1}: VLDM, VSTM, odd imm8
    vmrs r0, fpscr; vmrs APSR_nzcv, fpscr; vmsr fpscr, r0; vmrs r0, fpexc
    .align 2
2:  .word 0
"""
CATALOGUES = {
    "cortex-m0": (ARMV6M,),
    "cortex-m0plus": (ARMV6M,),
    "cortex-m3": (ARMV6M, ARMV7M),
    "cortex-m4": (ARMV6M, ARMV7M, ARMV7EM),
    "cortex-m4f": (ARMV6M, ARMV7M, ARMV7EM, FPV4_SP),
}


def catalogue_instructions(core: str, directory: Path) -> Iterator[capstone.CsInsn]:
    disassembler = capstone.Cs(capstone.CS_ARCH_ARM, MODE)
    disassembler.detail = True
    for number, catalogue in enumerate(CATALOGUES[core]):
        source, image = directory / f"{number}.s", directory / f"{number}.o"
        source.write_text(".syntax unified\n.thumb\n.text\n" + catalogue)
        compile_flags = [*cflags(core), "-mthumb", "-c", str(source), "-o", str(image)]
        subprocess.run(["arm-none-eabi-gcc", *compile_flags], check=True, capture_output=True)
        for data, start, end in thumb_ranges(image.read_bytes()):
            yield from disassembler.disasm(data[start:end], start)


@pytest.mark.parametrize("core", CORES)
def test_every_instruction_of_the_core_architecture_is_priced(tmp_path, core):
    """Each is priced, but for the classes the TRM gives no cycles (WITHOUT_CYCLES)."""
    model = MODELS[core]
    decoded = [classify(instruction) for instruction in catalogue_instructions(core, tmp_path)]
    assert len(decoded) > 60 * len(CATALOGUES[core])  # each catalogue assembled and decoded whole
    unpriced = [(each.text, each.klass) for each in decoded if each.klass not in model.costs]
    assert [(text, klass) for text, klass in unpriced if klass not in WITHOUT_CYCLES] == []
