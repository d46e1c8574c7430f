"""`qbench verify DIR`: re-checks every row's figures on the row's own ELF with engines independent of the
ones that produced them, and prints a pass/fail table.

Sizes: GNU binutils (`size -A` for section sizes, `readelf -S -W` for flags and type) instead of
pyelftools, each allocated section classified by its flags and type as qbench.elfsize does.

Instructions: Unicorn instead of QEMU runs the ELF from reset (SP and PC from the vector table at the flash
origin) to its semihosting exit, answering the firmware's semihosting calls. A region occurrence runs from
the first instruction executed at qbench_region_begin (inclusive) to the next one executed at
qbench_region_end (exclusive), everything called included; r0 at the begin entry numbers it. Every
occurrence of the whole run counts: a row's instr_<region> is their mean, instr_<region>_min and _max the
shortest and longest, each minus instr_markers (the mean of the empty region's occurrences), and
instr_<region>_occurrences how many there were. Rows from before whole-run figures record no _min and _max:
those checks are skipped.

Unicorn counts by translated block: a block hook, called as each block starts, adds the block's instructions
(walked halfword by halfword once per block address and size). A block runs straight through: a branch ends
it, and so does an instruction that raises an exception, so a semihosting bkpt, the exit's included, is the
last of its block and counts once (a fault inside a block stops the run as a failure). An instruction inside
an IT block whose condition fails executes as a no-op and counts, as QEMU counts it (Unicorn's per-instruction
code hook never fires for it: counted that way, an xor training run on cortex-m4 in q8.8 at -Os misses
146,239 of its 3,087,429 instructions). Unicorn's Cortex-M7 has no double-precision FPU: a row whose code
needs one is skipped, as is a core Unicorn does not model at all (cortex-m55).
"""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pandas as pd
import unicorn
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from unicorn import arm_const as arm

from qbench.common.paths import REPO, shown
from qbench.records.results import QNN_LIBRARY, REGION_COLUMNS, RegionColumns, Status, read_results

HOST_CORE = "host"  # its image is an x86-64 object: the build machine's binutils read it, nothing runs
CROSS_BINUTILS = "arm-none-eabi-"

SIZE_COLUMNS = {"code": "img_code", "rodata": "img_rodata", "data": "img_data", "bss": "img_bss"}

# Unicorn's CPU model per core; a core missing here (cortex-m55: Unicorn 2 has no ARMv8.1-M) is skipped.
UNICORN_MODELS = {
    "cortex-m0": arm.UC_CPU_ARM_CORTEX_M0,
    "cortex-m0plus": arm.UC_CPU_ARM_CORTEX_M0,  # ARMv6-M like the M0; Unicorn has no M0+ of its own
    "cortex-m3": arm.UC_CPU_ARM_CORTEX_M3,
    "cortex-m4": arm.UC_CPU_ARM_CORTEX_M4,
    "cortex-m4f": arm.UC_CPU_ARM_CORTEX_M4,
    "cortex-m7": arm.UC_CPU_ARM_CORTEX_M7,  # single-precision FPU only, unlike the real M7's double
    "cortex-m33": arm.UC_CPU_ARM_CORTEX_M33,
}
# The FPU needs no enabling: Unicorn's M4, M7 and M33 run FP instructions whatever CPACR holds (even 0), so the
# start-up code's CPACR write, landing in the mapped SCS page as plain memory, is all m4f, m7 and m33 need.

EMPTY_REGION = 0
# Region name -> number. A region's columns (REGION_COLUMNS): the mean occurrence, the shortest and longest, each
# net of the markers, and how many occurrences the whole run had.
REGIONS = {"forward": 1, "train_step": 2}
MARKERS_COLUMN = "instr_markers"  # the mean of the empty region's occurrences
TOLERANCE = 1e-9  # the figures are means of integers: equal up to floating-point rounding

BEGIN_MARKER, END_MARKER = "qbench_region_begin", "qbench_region_end"
STACK_TOP, STACK_LIMIT = "__stack_top", "__stack_limit"
SYSTEM_CONTROL_SPACE = (0xE000E000, 0x1000)  # the start-up code writes CPACR (0xE000ED88) there
RAM_MARGIN = 0x10000  # mapped beyond the RAM the linker symbols show: generous, as a board's RAM is
PAGE = 0x1000
# Where a run that never exits is cut off, counted in executed instructions so that where it stops does not hang
# on the machine's speed: over twice what the slowest case qbench builds needs for a 20,000-iteration training
# run (xor at -O0 in float32 on cortex-m0: about 117,000 instructions an iteration, 2.35 billion in all).
INSTRUCTION_BUDGET = 5_000_000_000
EMULATION_TIMEOUT_SECONDS = 7200  # a backstop only: Unicorn runs several million instructions a second

SEMIHOSTING_BKPT = 0xBEAB  # bkpt 0xab
SYS_WRITE0, SYS_EXIT_EXTENDED = 0x04, 0x20
APPLICATION_EXIT = 0x20026  # ADP_Stopped_ApplicationExit


class Outcome(StrEnum):
    FAILED = "FAILED"
    SKIPPED = "skipped"
    PASSED = "passed"


@dataclass(frozen=True)
class Check:
    row: str
    check: str
    outcome: Outcome
    expected: str = ""
    found: str = ""
    note: str = ""


class VerifyError(RuntimeError):
    """A check that could not be made: a tool failed, the ELF is unusable or the firmware misbehaved."""


class EngineLimit(VerifyError):
    """Unicorn cannot execute an instruction of a row QEMU ran (status ok): the figures are unverifiable
    here, which is a skip, never a pass."""


# --- Sizes with GNU binutils -------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionHeader:
    name: str
    type: str
    flags: str  # readelf's letters: A alloc, W write, X execute, ...


def _tool_output(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise VerifyError(f"{command[0]} is not installed") from None
    if completed.returncode != 0:
        raise VerifyError(f"{' '.join(command)} failed: {completed.stderr.strip()}")
    return completed.stdout


def section_headers(elf: Path, binutils: str) -> list[SectionHeader]:
    """Every section but the null one, in section-table order, from `readelf -S -W`."""
    headers = []
    for line in _tool_output([f"{binutils}readelf", "-S", "-W", str(elf)]).splitlines():
        index, bracket, rest = line.strip().partition("]")
        if not bracket or not index.startswith("[") or index[1:].strip() in ("Nr", "0"):
            continue
        # name type address offset size entry-size [flags] link info alignment
        fields = rest.split()
        headers.append(SectionHeader(fields[0], fields[1], fields[6] if len(fields) == 10 else ""))
    return headers


def section_sizes(elf: Path, binutils: str) -> list[tuple[str, int]]:
    """(name, size) of the sections `size -A` lists, in section-table order."""
    sizes = []
    for line in _tool_output([f"{binutils}size", "-A", str(elf)]).splitlines()[2:]:
        fields = line.split()
        if len(fields) == 3 and fields[1].isdigit():
            sizes.append((fields[0], int(fields[1])))
    return sizes


def section_category(header: SectionHeader) -> str | None:
    """qbench's classes by flags and type, never by name; None for an allocated section none fits."""
    flags = header.flags
    if "X" in flags:
        return "code"
    if "W" not in flags:
        return "rodata" if header.type != "NOBITS" else None
    return "bss" if header.type == "NOBITS" else "data"  # data: PROGBITS, INIT_ARRAY, ...


def binutils_sizes(elf: Path, core: str) -> dict[str, int]:
    """Bytes per category of the image's allocated sections."""
    binutils = "" if core == HOST_CORE else CROSS_BINUTILS
    # An object file may repeat a section name: pair the two listings in order, name by name.
    headers: dict[str, deque[SectionHeader]] = {}
    for header in section_headers(elf, binutils):
        headers.setdefault(header.name, deque()).append(header)
    totals = dict.fromkeys(SIZE_COLUMNS, 0)
    for name, size in section_sizes(elf, binutils):
        if not headers.get(name):
            raise VerifyError(f"{shown(elf)}: size -A lists {name}, readelf -S does not")
        header = headers[name].popleft()
        if "A" not in header.flags:
            continue
        category = section_category(header)
        if category is None:
            raise VerifyError(f"allocated section {name} (type {header.type}, flags {header.flags}) fits no category")
        totals[category] += size
    return totals


# --- Instructions with Unicorn -----------------------------------------------------------------------


def _instruction_length(halfword: int) -> int:
    """Thumb: a first halfword 0b11101, 0b11110 or 0b11111 in its top bits starts a 32-bit instruction."""
    return 4 if halfword >> 11 in (0b11101, 0b11110, 0b11111) else 2


def instruction_count(code: bytes) -> int | None:
    """Thumb instructions in code that starts on an instruction, walked halfword by halfword; None when its
    last instruction runs past its end."""
    count = offset = 0
    while offset < len(code):
        offset += _instruction_length(int.from_bytes(code[offset : offset + 2], "little"))
        count += 1
    return count if offset == len(code) else None


@dataclass(frozen=True)
class Segment:
    load_address: int  # where the image sits in flash at reset (p_paddr)
    run_address: int  # where it runs (p_vaddr): RAM for .data, which the start-up code copies there
    size: int  # bytes in memory
    data: bytes


@dataclass(frozen=True)
class Firmware:
    segments: tuple[Segment, ...]
    symbols: dict[str, int]  # the few named above

    @classmethod
    def read(cls, elf: Path) -> Firmware:
        wanted = (BEGIN_MARKER, END_MARKER, STACK_TOP, STACK_LIMIT)
        try:
            with elf.open("rb") as stream:
                image = ELFFile(stream)
                segments = tuple(
                    Segment(segment["p_paddr"], segment["p_vaddr"], segment["p_memsz"], segment.data())
                    for segment in image.iter_segments()
                    if segment["p_type"] == "PT_LOAD"
                )
                table = image.get_section_by_name(".symtab")
                symbols = {
                    symbol.name: symbol["st_value"]
                    for symbol in (table.iter_symbols() if table else ())
                    if symbol.name in wanted
                }
        except (ELFError, OSError, ValueError) as error:
            raise VerifyError(f"{shown(elf)}: not a readable ELF file ({error})") from None
        missing = [name for name in wanted if name not in symbols]
        if not segments or missing:
            raise VerifyError(f"{shown(elf)}: no loadable segment or no symbol {', '.join(missing)}")
        return cls(segments, symbols)

    @property
    def flash_origin(self) -> int:
        return min(segment.load_address for segment in self.segments)

    def memory_ranges(self) -> list[tuple[int, int]]:
        """Page-aligned, merged (start, end) ranges: the image, RAM around the stack, the SCS."""
        stack_top, stack_limit = self.symbols[STACK_TOP], self.symbols[STACK_LIMIT]
        ram_start = min([stack_limit, *(s.run_address for s in self.segments if s.run_address != s.load_address)])
        wanted = [
            *((s.load_address, s.load_address + len(s.data)) for s in self.segments),
            *((s.run_address, s.run_address + s.size) for s in self.segments),
            (max(ram_start - RAM_MARGIN, 0), stack_top + RAM_MARGIN),
            (SYSTEM_CONTROL_SPACE[0], SYSTEM_CONTROL_SPACE[0] + SYSTEM_CONTROL_SPACE[1]),
        ]
        merged: list[tuple[int, int]] = []
        for start, end in sorted((start // PAGE * PAGE, -(-end // PAGE) * PAGE) for start, end in wanted):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


@dataclass(frozen=True)
class RegionRun:
    lengths: dict[int, list[int]]  # region number -> instructions of each completed occurrence, in order
    instructions: int  # executed in all, from reset to the exit


class RegionCounter:
    """Runs one image in Unicorn from reset to its semihosting exit, measuring every region occurrence.

    A block hook counts: Unicorn calls it before each translated block runs, with the block's address and
    size in bytes; the block's instruction count is walked once per (address, size) and kept."""

    def __init__(self, firmware: Firmware, model: int, budget: int = INSTRUCTION_BUDGET) -> None:
        self.firmware = firmware
        self.budget = budget
        self.begin, self.end = firmware.symbols[BEGIN_MARKER] & ~1, firmware.symbols[END_MARKER] & ~1
        self.executed = 0
        self.block_lengths: dict[tuple[int, int], int] = {}  # (address, size) -> instructions
        self.lengths: dict[int, list[int]] = {}
        self.open_region: tuple[int, int] | None = None  # (region, instructions executed before its begin)
        self.output: list[str] = []  # what the firmware printed
        self.exit_code: int | None = None
        self.failure = ""
        self.uc = self._machine(model)

    def _machine(self, model: int) -> unicorn.Uc:
        uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(model)
        for start, end in self.firmware.memory_ranges():
            uc.mem_map(start, end - start)
        for segment in self.firmware.segments:
            uc.mem_write(segment.load_address, segment.data)
        uc.hook_add(unicorn.UC_HOOK_BLOCK, self._on_block)
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_exception)
        return uc

    def run(self) -> RegionRun:
        vectors = self.uc.mem_read(self.firmware.flash_origin, 8)
        stack_pointer, reset = int.from_bytes(vectors[:4], "little"), int.from_bytes(vectors[4:], "little")
        self.uc.reg_write(arm.UC_ARM_REG_SP, stack_pointer)
        try:
            self.uc.emu_start(reset, 0xFFFFFFFF, timeout=EMULATION_TIMEOUT_SECONDS * 1_000_000)
        except unicorn.UcError as error:
            pc = self.uc.reg_read(arm.UC_ARM_REG_PC)
            if error.errno == unicorn.UC_ERR_INSN_INVALID:
                code = self.uc.mem_read(pc, 4).hex()
                raise EngineLimit(
                    f"Unicorn's model of this core cannot execute the instruction at pc {pc:#x} ({code})"
                ) from None
            raise VerifyError(f"Unicorn stopped at pc {pc:#x} after {self.executed} instructions: {error}") from None
        if self.failure:
            raise VerifyError(self.failure)
        if self.exit_code is None:
            raise VerifyError(
                f"the program ran {EMULATION_TIMEOUT_SECONDS} s without exiting, {self.executed} "
                f"instructions{self._last_words()}"
            )
        return RegionRun(self.lengths, self.executed)

    def _last_words(self) -> str:
        printed = "".join(self.output).strip().splitlines()
        return f"; its last line: {printed[-1]}" if printed else ""  # a fault record says why

    def _stop(self, failure: str = "") -> None:
        self.failure = self.failure or failure
        self.uc.emu_stop()

    def _on_block(self, uc: unicorn.Uc, address: int, size: int, user_data: object) -> None:
        instructions = self.block_lengths.get((address, size))
        if instructions is None:
            instructions = self._new_block(address, size)
        if address == self.begin:
            self._begin_region(uc.reg_read(arm.UC_ARM_REG_R0))
        elif address == self.end:
            self._end_region()
        self.executed += instructions
        if self.executed > self.budget:
            self._stop(
                f"the program ran past its budget of {self.budget:,} instructions without exiting{self._last_words()}"
            )

    def _new_block(self, address: int, size: int) -> int:
        instructions = instruction_count(bytes(self.uc.mem_read(address, size)))
        if instructions is None:
            self._stop(f"the block at {address:#x} ({size} bytes) ends inside an instruction")
            return 0
        for name, marker in ((BEGIN_MARKER, self.begin), (END_MARKER, self.end)):
            if address < marker < address + size:  # entered by falling into it: its entry would go unseen
                self._stop(f"the block at {address:#x} ({size} bytes) runs into {name} without branching to it")
        self.block_lengths[address, size] = instructions
        return instructions

    def _begin_region(self, region: int) -> None:
        if self.open_region is not None:
            self._stop(f"region {region} began inside region {self.open_region[0]}")
        self.open_region = (region, self.executed)

    def _end_region(self) -> None:
        if self.open_region is None:
            self._stop(f"{END_MARKER} ran outside a region (after {self.executed} instructions)")
            return
        region, start = self.open_region
        self.lengths.setdefault(region, []).append(self.executed - start)
        self.open_region = None

    def _on_exception(self, uc: unicorn.Uc, number: int, user_data: object) -> None:
        pc = uc.reg_read(arm.UC_ARM_REG_PC)
        if int.from_bytes(uc.mem_read(pc, 2), "little") != SEMIHOSTING_BKPT:
            self._stop(f"the firmware raised exception {number} at pc {pc:#x}")
            return
        operation, argument = uc.reg_read(arm.UC_ARM_REG_R0), uc.reg_read(arm.UC_ARM_REG_R1)
        if operation == SYS_WRITE0:
            self.output.append(self._string_at(argument))
            uc.reg_write(arm.UC_ARM_REG_PC, (pc + 2) | 1)  # past the bkpt, staying in Thumb state
        elif operation == SYS_EXIT_EXTENDED:
            self._exit(uc.mem_read(argument, 8))
        else:
            self._stop(f"unsupported semihosting operation {operation:#x} at pc {pc:#x}")

    def _exit(self, block: bytes) -> None:
        reason, code = int.from_bytes(block[:4], "little"), int.from_bytes(block[4:], "little")
        if reason == APPLICATION_EXIT:
            self.exit_code = code
            self._stop()
        else:
            self._stop(f"the firmware exited with reason {reason:#x}")

    def _string_at(self, address: int) -> str:
        text = bytearray()
        while True:
            byte = self.uc.mem_read(address + len(text), 1)
            if byte == b"\0":
                return text.decode(errors="replace")
            text += byte


def count_regions(elf: Path, core: str) -> RegionRun:
    firmware = Firmware.read(elf)
    try:
        counter = RegionCounter(firmware, UNICORN_MODELS[core])
    except unicorn.UcError as error:
        raise VerifyError(f"Unicorn cannot load {shown(elf)}: {error}") from None
    return counter.run()


# --- Checks per row ----------------------------------------------------------------------------------


def _value(row: pd.Series, column: str):
    value = row.get(column)
    return None if value is None or pd.isna(value) else value


def _number(value: float) -> str:
    return f"{float(value):.10g}"  # enough digits to show any difference between means of integers


def row_label(row: pd.Series) -> str:
    library = _value(row, "library")
    parts = (
        row["workload"],
        _value(row, "network"),
        library if library != QNN_LIBRARY else None,
        row["core"],
        row["opt"],
        row["qformat"],
        row["variant"],
    )
    return " ".join(str(part) for part in parts if part)


def elf_path(row: pd.Series) -> Path | None:
    text = _value(row, "elf")
    if not text:
        return None
    path = Path(str(text))
    return path if path.is_absolute() else REPO / path


def _compare(label: str, check: str, expected: float, found: float) -> Check:
    outcome = Outcome.PASSED if abs(float(expected) - float(found)) <= TOLERANCE else Outcome.FAILED
    return Check(label, check, outcome, _number(expected), _number(found))


def size_checks(row: pd.Series, label: str) -> list[Check]:
    elf = elf_path(row)
    if elf is None:
        return [Check(label, "sizes", Outcome.SKIPPED, note=f"the row has no ELF (status {row['status']})")]
    recorded = {category: _value(row, column) for category, column in SIZE_COLUMNS.items()}
    if all(value is None for value in recorded.values()):
        return [Check(label, "sizes", Outcome.SKIPPED, note="the row records no sizes")]
    if not elf.is_file():
        return [Check(label, "sizes", Outcome.FAILED, note=f"{shown(elf)}: no such file")]
    try:
        found = binutils_sizes(elf, row["core"])
    except VerifyError as error:
        return [Check(label, "sizes", Outcome.FAILED, note=str(error))]
    return [
        _compare(label, SIZE_COLUMNS[category], value, found[category])
        for category, value in recorded.items()
        if value is not None
    ]


def _skip_instructions(row: pd.Series, regions: list[str]) -> str:
    """Why the row's instructions cannot be re-counted, or "" when they can."""
    if row["status"] != Status.OK:
        return f"status is {row['status']}"
    if not regions and _value(row, MARKERS_COLUMN) is None:
        return "the row has no instruction figure"
    if row["core"] == HOST_CORE:
        return "the host image is an object file: nothing runs"
    if row["core"] not in UNICORN_MODELS:
        return f"Unicorn has no model of {row['core']}"
    return ""


def instruction_checks(row: pd.Series, label: str) -> list[Check]:
    regions = [name for name in REGIONS if _value(row, REGION_COLUMNS[name].instructions) is not None]
    reason = _skip_instructions(row, regions)
    if reason:
        return [Check(label, "instructions", Outcome.SKIPPED, note=reason)]
    elf = elf_path(row)
    if elf is None or not elf.is_file():
        return [Check(label, "instructions", Outcome.FAILED, note=f"{shown(elf) if elf else 'no ELF'}: no such file")]
    try:
        run = count_regions(elf, row["core"])
    except EngineLimit as error:
        return [Check(label, "instructions", Outcome.SKIPPED, note=str(error))]
    except VerifyError as error:
        return [Check(label, "instructions", Outcome.FAILED, note=str(error))]
    return instruction_comparisons(row, label, run)


def instruction_comparisons(row: pd.Series, label: str, run: RegionRun) -> list[Check]:
    """The row's instruction figures against a whole run's occurrences, every region figure net of the
    markers (the mean of the empty region's occurrences)."""
    empty = run.lengths.get(EMPTY_REGION)
    if not empty:
        return [Check(label, "instructions", Outcome.FAILED, note=f"region {EMPTY_REGION} (the markers) never ran")]
    markers = sum(empty) / len(empty)
    checks = []
    if _value(row, MARKERS_COLUMN) is not None:
        checks.append(_compare(label, MARKERS_COLUMN, row[MARKERS_COLUMN], markers))
    for name, region in REGIONS.items():
        names = REGION_COLUMNS[name]
        if _value(row, names.instructions) is not None:
            checks += _region_checks(row, label, names, run.lengths.get(region, []), markers)
    return checks


def _region_checks(row: pd.Series, label: str, names: RegionColumns, lengths: list[int], markers: float) -> list[Check]:
    if not lengths:
        return [
            Check(
                label, names.instructions, Outcome.FAILED, _number(row[names.instructions]), note="the region never ran"
            )
        ]
    checks = []
    occurrences = _value(row, names.occurrences)
    if occurrences is None:
        checks.append(Check(label, names.occurrences, Outcome.SKIPPED, note="the row records none"))
    else:
        outcome = Outcome.PASSED if float(occurrences) == len(lengths) else Outcome.FAILED
        checks.append(Check(label, names.occurrences, outcome, _number(occurrences), str(len(lengths))))
    found = {
        names.instructions: sum(lengths) / len(lengths),
        names.minimum: min(lengths),
        names.maximum: max(lengths),
    }
    for figure, instructions in found.items():
        recorded = _value(row, figure)
        if recorded is None:  # results from before whole-run figures record the mean alone
            checks.append(Check(label, figure, Outcome.SKIPPED, note=f"the row records no {figure}"))
        else:
            checks.append(_compare(label, figure, recorded, instructions - markers))
    return checks


# --- The table ---------------------------------------------------------------------------------------


def verify_rows(rows: pd.DataFrame) -> list[Check]:
    checks = []
    for _, row in rows.iterrows():
        label = row_label(row)
        checks += [*size_checks(row, label), *instruction_checks(row, label)]
    return checks


def report(directory: Path, checks: list[Check]) -> str:
    counts = {outcome: sum(check.outcome == outcome for check in checks) for outcome in Outcome}
    summary = (
        f"{counts[Outcome.PASSED]} checks passed, {counts[Outcome.FAILED]} failed, {counts[Outcome.SKIPPED]} skipped"
    )
    ordered = sorted(checks, key=lambda check: list(Outcome).index(check.outcome))  # failures first, stable
    table = pd.DataFrame(
        [
            [check.outcome, check.row, check.check, check.expected, check.found, check.note.replace("|", "\\|")]
            for check in ordered
        ],
        columns=["result", "row", "check", "expected", "found", "note"],
    )
    body = table.to_markdown(index=False, disable_numparse=True) if checks else "No row to check."  # as written
    return f"### qbench verify: {shown(directory)}\n\n{summary}\n\n{body}\n"


def verify(directory: Path) -> int:
    """Prints the checks of every row in DIR/results.json; 1 when any failed, else 0."""
    checks = verify_rows(read_results(directory).rows)
    sys.stdout.write(report(directory, checks))
    return 1 if any(check.outcome == Outcome.FAILED for check in checks) else 0
