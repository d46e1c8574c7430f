"""Cycle estimates from executed instructions: a per-core timing model that prices in ranges.

QEMU counts instructions, not cycles. An estimate comes from decoding every executed instruction (decode.py),
putting it in a class, and charging the class's cycles from the core's Technical Reference Manual (a timing
table, timing_tables.py), as a range: the TRM's best case, a central value, its worst case. The price of an
instruction can depend on its neighbours in the trace: a branch is taken when the next executed instruction is
not the one after it, and the table's context rules (load/store pipelining, IT folding, address-dependency
stalls) look at the previous instruction. What the model leaves out is in targets/timing/README.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qbench.execution.decode import CodeImage, Decoded, TimingError


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
            reason = self.unpriced.get(instruction.klass, "no timing class holds it")
            raise TimingError(
                f"{self.path.name} has no cycles for class '{instruction.klass}' "
                f"('{instruction.text}' at {instruction.address:#x}): {reason}"
            )
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
        return PricedVisit(total, nonsequential_fetches(visit, code), unpriced)


def _decoded_or_none(code: CodeImage, address: int | None) -> Decoded | None:
    """The instruction at address, or None where there is none or it cannot be classified (no context then)."""
    if address is None:
        return None
    try:
        return code.at(address)
    except TimingError:
        return None


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


def nonsequential_fetches(visit: BlockVisit, code: CodeImage) -> int:
    """The visit's fetches from anywhere but the next address: taken branches, calls, returns and every other
    write of the PC (what a flash wait state costs once per, when a prefetch buffer hides the sequential
    fetches). An unknown successor counts as sequential, as a branch not taken."""
    successors = (*visit.pcs[1:], visit.following)
    jumps = 0
    for address, following in zip(visit.pcs, successors, strict=True):
        if following is not None:
            jumps += following != address + code.size_at(address)
    return jumps
