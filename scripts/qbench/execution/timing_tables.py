"""The TRM timing tables (targets/timing/*.toml, their schema in the README there) read into timing models.

Each file goes through the schema base of every input file (common/schemas), so a bad one fails naming the file,
the key and why: every instruction class priced ([cycles]) or given a reason ([unpriced]), once; cycles a number
or {min, central, max} with 0 <= min <= central <= max; context rules naming classes the table prices and a known
condition. Also what every cycle model's loading shares: the models by the cores they name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import AfterValidator, Field, ValidationInfo, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from qbench.common.paths import TARGETS, shown
from qbench.common.schemas import Schema, read_toml, validate
from qbench.execution.decode import CLASSES, TimingError
from qbench.execution.timing import CONDITIONS, ContextRule, Cost, CycleModel, CycleRange, TimingModel

TIMING = TARGETS / "timing"
M = TypeVar("M", bound=CycleModel)
Text = Annotated[str, Field(min_length=1)]


class Cycles(Schema):
    """A number of cycles as best case, central value and worst case (an adjustment may be negative)."""

    min: float
    central: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min <= self.central <= self.max:
            raise PydanticCustomError("cycle_order", "min <= central <= max")
        return self

    @property
    def range(self) -> CycleRange:
        return CycleRange(self.min, self.central, self.max)


def _as_range(value: Any) -> Any:
    """A number of cycles as the range it is exactly ({min, central, max} all that number); a table as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"min": value, "central": value, "max": value}
    if isinstance(value, dict):
        return value
    raise PydanticCustomError("cycles_type", "a number of cycles or {min, central, max}")


def _price_order() -> PydanticCustomError:
    return PydanticCustomError("cycle_order", "0 <= min <= central <= max")


class Price(Cycles):
    """Cycles an instruction takes: a number, or {min, central, max}; never below zero."""

    _exact = model_validator(mode="before")(_as_range)

    @model_validator(mode="after")
    def _ordered(self) -> Self:  # replaces Cycles' check: a price is never negative
        if not self.range.ordered:
            raise _price_order()
        return self


# The ways a table gives a class's cycles, by the keys written.
_SHAPES = (frozenset({"min", "central", "max"}), frozenset({"base", "per_register"}), frozenset({"taken", "not_taken"}))


class ClassCost(Schema):
    """A class's cycles as a table gives them: a number or {min, central, max}; {base, per_register} for a
    register list (base + per_register x N); {taken, not_taken} for a branch. One table for all three shapes,
    so a wrong key is named where the file has it."""

    min: float | None = None
    central: float | None = None
    max: float | None = None
    base: Price | None = None
    per_register: int | None = Field(None, ge=0)
    taken: Price | None = None
    not_taken: Price | None = None

    _exact = model_validator(mode="before")(_as_range)

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if self.model_fields_set not in _SHAPES:
            raise PydanticCustomError(
                "cost_shape", "cycles, {min, central, max}, {base, per_register} or {taken, not_taken}"
            )
        if self.min is not None and not CycleRange(self.min, self.central, self.max).ordered:
            raise _price_order()
        return self

    @property
    def cost(self) -> Cost:
        if self.taken is not None:
            return Cost(self.not_taken.range, taken=self.taken.range)
        if self.base is not None:
            return Cost(self.base.range, per_register=self.per_register)
        return Cost(CycleRange(self.min, self.central, self.max))


def _by_class(name: str, entry: Any) -> type[Schema]:
    """A table keyed by instruction class: any class, no other key."""
    return create_model(name, __base__=Schema, **{klass: (entry | None, None) for klass in sorted(CLASSES)})


ClassCycles = _by_class("ClassCycles", ClassCost)
ClassReasons = _by_class("ClassReasons", Text)


def _costs(cycles: Schema) -> dict[str, Cost]:
    return {klass: getattr(cycles, klass).cost for klass in sorted(cycles.model_fields_set)}


class Rule(Schema):
    """A [[context]] rule as written: the classes it prices, the previous instruction's classes, a condition,
    and the cycles it saves or adds."""

    classes: list[str] = Field(min_length=1)
    after: list[str] | None = Field(None, min_length=1)
    when: Literal[tuple(CONDITIONS)] | None = None
    saves: int | None = Field(None, ge=1)
    adds: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_amount(self) -> Self:
        if (self.saves is None) == (self.adds is None):
            raise PydanticCustomError("one_amount", "exactly one of saves and adds")
        return self

    @property
    def rule(self) -> ContextRule:
        after = None if self.after is None else frozenset(self.after)
        return ContextRule(frozenset(self.classes), after, self.when, self.saves or 0, self.adds or 0)


def _within_the_table(rule: Rule, info: ValidationInfo) -> Rule:
    """The rule names classes the table prices, none a branch, and saves no more than their best case."""
    if "cycles" not in info.data:  # the [cycles] table is wrong itself: that is the problem reported
        return rule
    costs = _costs(info.data["cycles"])
    unpriced = sorted((set(rule.classes) | set(rule.after or ())) - set(costs))
    if unpriced:
        raise PydanticCustomError(
            "unpriced_class", "classes [cycles] prices (not {names})", {"names": ", ".join(unpriced)}
        )
    saves = rule.saves or 0
    beyond = [
        klass for klass in sorted(rule.classes) if costs[klass].taken is not None or costs[klass].fixed.minimum < saves
    ]
    if beyond:
        raise PydanticCustomError(
            "saving", "no branch, and no saving beyond the best case (not {names})", {"names": ", ".join(beyond)}
        )
    return rule


class TimingFile(Schema):
    """targets/timing/<core>.toml: the cores it prices, the TRM, each class's cycles or why none, context rules."""

    cores: list[Text] = Field(min_length=1)
    source: Text
    cycles: ClassCycles
    unpriced: ClassReasons = Field(default_factory=ClassReasons, validate_default=True)
    context: list[Annotated[Rule, AfterValidator(_within_the_table)]] = []

    @field_validator("unpriced")
    @classmethod
    def _every_class_once(cls, unpriced: Schema, info: ValidationInfo) -> Schema:
        """Every class is priced or has a reason, never both (checked after [cycles], which pydantic validates
        first)."""
        if "cycles" not in info.data:
            return unpriced
        priced, reasons = info.data["cycles"].model_fields_set, unpriced.model_fields_set
        if priced & reasons:
            raise PydanticCustomError(
                "priced_twice", "classes without cycles (not {names})", {"names": ", ".join(sorted(priced & reasons))}
            )
        if CLASSES - priced - reasons:
            raise PydanticCustomError(
                "class_missing",
                "a reason for every class [cycles] does not price (missing {names})",
                {"names": ", ".join(sorted(CLASSES - priced - reasons))},
            )
        return unpriced

    def model(self, path: Path) -> TimingModel:
        reasons = {klass: getattr(self.unpriced, klass) for klass in sorted(self.unpriced.model_fields_set)}
        rules = tuple(rule.rule for rule in self.context)
        return TimingModel(tuple(self.cores), self.source, _costs(self.cycles), reasons, rules, path)


def _load(path: Path) -> TimingModel:
    table: TimingFile = validate(TimingFile, read_toml(path, TimingError), TimingError, lambda loc: shown(path))
    return table.model(path)


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
    return by_core((_load(path) for path in sorted(directory.glob("*.toml"))), TimingError)
