"""Cycle estimates from LLVM's scheduling models (llvm-mca), plus what those models leave out.

Each distinct block of a price_visits call is disassembled by llvm-mc (in execution order, so an IT block
reads as it ran) and timed by one llvm-mca process: a block's cost is the cycles one more pass adds,
(cycles of the block three times - cycles of it once) / 2, both simulated with -iterations=1. A single pass
costs more than that: llvm-mca counts the pipeline's fill, the last instruction's latency and the retire
stage once per simulation (cortex-m4, `ldr r0, [r1]; muls r0, r1, r0`: 4 cycles once, 7 twice, 10 three
times; ARM DDI 0439D Table 3-1 gives 2 + 1 = 3 a pass), which a run of blocks pays once, not once a block.
Two further passes, not one, average a dual-issuing core's pairs across the pass boundary.

Then per visit the file's terms (targets/timing/llvm/<core>.toml, each with its source) add what the
scheduling model does not charge: a pipeline refill for every fetch from anywhere but the next address,
and per-mnemonic adjustments (cycles per transferred register word, a divide's data-dependent range, IT
folding). README.md in that folder says what is still left out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from qbench.common.paths import shown
from qbench.common.schemas import Schema, read_toml, validate
from qbench.execution.decode import CodeImage, TimingError
from qbench.execution.timing import NO_CYCLES, BlockVisit, CycleRange, PricedVisit
from qbench.execution.timing_tables import TIMING, Cycles, by_core

LLVM_BIN = Path("/usr/lib/llvm-19/bin")
_CONDITION = "(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?"
_INVALID = re.compile(r"^<stdin>:(\d+):\d+: warning: invalid instruction encoding", re.MULTILINE)
_IT = re.compile(r"it([te]{0,3})")
_WORDS = {"r": 1, "s": 1, "d": 2, "q": 4}  # 32-bit words per register, by its name's first letter
_REPEATS = 3  # copies of a block in its second region; the cost is the difference over _REPEATS - 1 passes


class McaError(TimingError):
    """A malformed llvm-mca model file, or llvm-mc / llvm-mca missing or failing as a whole."""


Pattern = Annotated[str, Field(min_length=1)]


def _compiled(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as problem:
        raise PydanticCustomError("regex", "a regular expression ({problem})", {"problem": str(problem)}) from None
    return pattern


class Refill(Schema):
    """Cycles a fetch from anywhere but the next address adds after an instruction matching `mnemonics`."""

    mnemonics: Pattern
    cycles: Cycles
    source: Pattern

    _check = field_validator("mnemonics")(_compiled)


class Term(Schema):
    """Cycles added per execution (`cycles`) or per 32-bit register word transferred (`per_word`) of an
    instruction matching `mnemonics`; with `after_16_bit`, only right after a 16-bit instruction it fell
    through from."""

    mnemonics: Pattern
    cycles: Cycles | None = None
    per_word: Cycles | None = None
    after_16_bit: bool = False
    source: Pattern

    _check = field_validator("mnemonics")(_compiled)

    @model_validator(mode="after")
    def _one_amount(self) -> Self:
        if (self.cycles is None) == (self.per_word is None):
            raise PydanticCustomError("one_amount", "exactly one of cycles and per_word")
        return self

    def matches(self, mnemonic: str) -> bool:
        return re.fullmatch(f"(?:{self.mnemonics}){_CONDITION}", mnemonic) is not None

    def amount(self, text: str) -> CycleRange:
        if self.cycles is not None:
            return self.cycles.range
        return self.per_word.range.scaled(_register_words(text))


class McaFile(Schema):
    cores: list[Pattern] = Field(min_length=1)
    source: Pattern
    mcpu: Pattern
    triple: Pattern
    mattr: list[Pattern] = []
    call_latency: Annotated[int, Field(ge=0)]  # llvm-mca's -call-latency; its default, 100, is no core's
    unscheduled: str = ""  # mnemonics the LLVM model has no scheduling class for: llvm-mca skips them
    refill: list[Refill] = Field(min_length=1)
    term: list[Term] = []

    _check = field_validator("unscheduled")(_compiled)

    @model_validator(mode="after")
    def _refill_for_every_jump(self) -> Self:
        if self.refill[-1].mnemonics != ".*":
            raise PydanticCustomError("catch_all", "a last [[refill]] with mnemonics = '.*', for every other jump")
        return self


def _register_words(text: str) -> int:
    """32-bit words in the instruction's register list ({r4, r5, lr}, {d8-d9}): a D register is 2, a Q 4."""
    listed = text[text.find("{") + 1 : text.find("}")] if "{" in text else ""
    words = 0
    for item in filter(None, (part.strip() for part in listed.split(","))):
        first, _, last = item.partition("-")
        count = int(last[1:]) - int(first[1:]) + 1 if last else 1
        words += count * _WORDS.get(first[0], 1)
    return words


def _mnemonic(text: str | None) -> str:
    """The mnemonic without a .w/.n width qualifier; '' for an instruction not disassembled."""
    if text is None:
        return ""
    mnemonic = text.split(None, 1)[0]
    return mnemonic.removesuffix(".w").removesuffix(".n")


@dataclass(frozen=True)
class _Block:
    """One distinct block's cycles per pass from llvm-mca, its instructions' text, and those left unpriced."""

    texts: tuple[str | None, ...]
    cycles: float
    unpriced: int


@dataclass(frozen=True)
class McaModel:
    cores: tuple[str, ...]
    source: str
    settings: McaFile
    path: Path

    def price_visits(self, code: CodeImage, visits: Sequence[BlockVisit]) -> list[PricedVisit]:
        distinct = list(dict.fromkeys(visit.pcs for visit in visits))
        blocks = dict(zip(distinct, self._time_blocks(code, distinct), strict=True))
        return [self._price_visit(code, visit, blocks[visit.pcs]) for visit in visits]

    def _time_blocks(self, code: CodeImage, pcs: list[tuple[int, ...]]) -> list[_Block]:
        texts = _disassemble(code, pcs, self._target_flags("-triple"))
        regions = "".join(_regions(index, lines) for index, lines in enumerate(texts))
        timed = _run_mca(regions, [*self._target_flags("-mtriple"), f"-call-latency={self.settings.call_latency}"])
        unscheduled = re.compile(f"(?:{self.settings.unscheduled}){_CONDITION}") if self.settings.unscheduled else None
        return [_block(index, lines, timed, unscheduled) for index, lines in enumerate(texts)]

    def _target_flags(self, triple_option: str) -> list[str]:
        """llvm-mc spells the triple option -triple, llvm-mca -mtriple."""
        flags = [f"{triple_option}={self.settings.triple}", f"-mcpu={self.settings.mcpu}"]
        return flags + ([f"-mattr={','.join(self.settings.mattr)}"] if self.settings.mattr else [])

    def _price_visit(self, code: CodeImage, visit: BlockVisit, block: _Block) -> PricedVisit:
        total, jumps = CycleRange.exact(block.cycles), 0
        previous = visit.previous
        for address, text, following in zip(visit.pcs, block.texts, (*visit.pcs[1:], visit.following), strict=True):
            mnemonic = _mnemonic(text)
            total += self._terms(code, previous, address, mnemonic, text or "")
            if following is not None and following != address + code.size_at(address):
                jumps += 1
                total += next(r for r in self.settings.refill if re.fullmatch(r.mnemonics, mnemonic)).cycles.range
            previous = address
        return PricedVisit(total, jumps, block.unpriced)

    def _terms(self, code: CodeImage, previous: int | None, address: int, mnemonic: str, text: str) -> CycleRange:
        total = NO_CYCLES
        for term in self.settings.term:
            if term.matches(mnemonic) and (not term.after_16_bit or _fell_through_from_16_bit(code, previous, address)):
                total += term.amount(text)
        return total


def _fell_through_from_16_bit(code: CodeImage, previous: int | None, address: int) -> bool:
    return previous is not None and previous + 2 == address and code.size_at(previous) == 2


def llvm_tool(name: str) -> str:
    found = LLVM_BIN / name if (LLVM_BIN / name).exists() else shutil.which(f"{name}-19")
    if found is None:
        raise McaError(f"{name} (LLVM 19) is not installed: scripts/setup installs the llvm-19 package")
    return str(found)


def _disassemble(code: CodeImage, blocks: list[tuple[int, ...]], flags: list[str]) -> list[list[str | None]]:
    """Each block's instructions as llvm-mc prints them (None: outside the code, or not a valid encoding)."""
    encodings: list[bytes | None] = []
    for pcs in blocks:
        for pc in pcs:
            try:
                encodings.append(code.bytes_at(pc))
            except TimingError:
                encodings.append(None)
    lines = ["[" + ",".join(f"0x{byte:02x}" for byte in encoding) + "]" for encoding in encodings if encoding]
    command = [llvm_tool("llvm-mc"), "--disassemble", *flags]
    done = subprocess.run(command, input="\n".join(lines) + "\n", capture_output=True, text=True, check=False)
    invalid = {int(line) - 1 for line in _INVALID.findall(done.stderr)}
    printed = iter(
        line.split("@")[0].strip()
        for line in done.stdout.splitlines()
        if line.startswith("\t") and not line.strip().startswith(".")
    )
    decoded = iter([None if index in invalid else next(printed, None) for index in range(len(lines))])
    texts = [next(decoded) if encoding else None for encoding in encodings]
    sizes = [len(pcs) for pcs in blocks]
    starts = [sum(sizes[:index]) for index in range(len(blocks))]
    return [texts[start : start + size] for start, size in zip(starts, sizes, strict=True)]


def _closed_it(lines: list[str]) -> list[str]:
    """The lines with an IT block cut short at the block's end narrowed to what follows it (a block can end
    inside one), so the assembler's IT state never leaks into the next region."""
    closed = list(lines)
    for index, line in enumerate(lines):
        match = _IT.fullmatch(_mnemonic(line))
        following = len(lines) - index - 1
        if match and following < len(match.group(1)) + 1:
            if following == 0:
                return closed[:index]
            closed[index] = f"it{match.group(1)[: following - 1]}" + line[match.end() :]
    return closed


def _regions(index: int, texts: list[str | None]) -> str:
    lines = _closed_it([text for text in texts if text is not None])
    once = "\n".join(lines)
    repeated = "\n".join([once] * _REPEATS)
    return (
        f"# LLVM-MCA-BEGIN {index}x1\n{once}\n# LLVM-MCA-END\n"
        f"# LLVM-MCA-BEGIN {index}x{_REPEATS}\n{repeated}\n# LLVM-MCA-END\n"
    )


def _run_mca(regions: str, flags: list[str]) -> dict[str, tuple[int, int]]:
    """Region name -> (instructions llvm-mca kept, total cycles); a region it could keep nothing of is absent."""
    command = [
        llvm_tool("llvm-mca"),
        *flags,
        "-iterations=1",
        "--json",
        "--instruction-info=0",
        "--resource-pressure=0",
        "-skip-unsupported-instructions=any",
        "-",
    ]
    done = subprocess.run(command, input=regions, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        if "no assembly instructions found" in done.stderr:
            return {}
        raise McaError(f"llvm-mca failed: {done.stderr.strip().splitlines()[-1:]}")
    return {
        region["Name"]: (len(region["Instructions"]), region["SummaryView"]["TotalCycles"])
        for region in json.loads(done.stdout)["CodeRegions"]
    }


def _block(
    index: int, texts: list[str | None], timed: dict[str, tuple[int, int]], unscheduled: re.Pattern | None
) -> _Block:
    kept, once = timed.get(f"{index}x1", (0, 0))
    _, repeated = timed.get(f"{index}x{_REPEATS}", (0, 0))
    skipped = sum(
        text is not None and unscheduled is not None and unscheduled.fullmatch(_mnemonic(text)) is not None
        for text in texts
    )
    return _Block(tuple(texts), (repeated - once) / (_REPEATS - 1), max(0, len(texts) - kept - skipped))


def _load(path: Path) -> McaModel:
    settings: McaFile = validate(McaFile, read_toml(path, McaError), McaError, lambda loc: shown(path))
    return McaModel(tuple(settings.cores), settings.source, settings, path)


def load_mca_models(directory: Path = TIMING / "llvm") -> dict[str, McaModel]:
    """llvm-mca model by core name, one file per LLVM scheduling model's use."""
    return by_core((_load(path) for path in sorted(directory.glob("*.toml"))), McaError)
