"""The workloads' report protocol (suite/workloads/common/report.hpp), parsed
into typed records.

One record per line: `name key=value key=value`, integers in decimal, lists
comma-separated. A report is `begin`, any `log` lines, then `result` (XOR) or
`predictions` and `classified` (a classification workload; a regression's `predictions outputs=…` and
`regressed total=N` carry each test sample's first output, raw), `end`, and on a
board the start-up code's `stack` record (or its `fault` record instead, if
the core faulted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD = re.compile(r"^(?P<key>[a-z_]+)=(?P<value>\S*)$")
_INTEGER = re.compile(r"^-?\d+$")


class ProtocolError(ValueError):
    """A report that does not follow the protocol; the message names the line."""


@dataclass(frozen=True)
class Record:
    name: str
    fields: dict[str, str]
    line_number: int

    def text(self, key: str) -> str:
        try:
            return self.fields[key]
        except KeyError:
            raise ProtocolError(f"line {self.line_number}: '{self.name}' record lacks '{key}'") from None

    def integer(self, key: str) -> int:
        value = self.text(key)
        if not _INTEGER.match(value):
            raise ProtocolError(f"line {self.line_number}: {key}={value!r} is not an integer")
        return int(value)

    def integers(self, key: str) -> tuple[int, ...]:
        value = self.text(key)
        items = value.split(",") if value else []
        if not all(_INTEGER.match(item) for item in items):
            raise ProtocolError(f"line {self.line_number}: {key}={value!r} is not a list of integers")
        return tuple(int(item) for item in items)


@dataclass(frozen=True)
class TrainingLogEntry:
    iteration: int
    error: int  # raw: the largest |output - target| over the four patterns
    weights: tuple[int, ...]


@dataclass(frozen=True)
class Classification:
    correct: int
    total: int
    predictions: tuple[int, ...]  # the class of each test sample, in the test split's order
    # A regression: predictions are each sample's output as reported (raw, or a float x 2^16); correct is 0.
    regression: bool = False


@dataclass(frozen=True)
class WorkloadReport:
    workload: str
    qformat: str
    variant: str
    # XOR's result; None for a classification workload.
    learned: bool | None
    iterations: int | None
    final_error: int | None
    outputs: tuple[int, ...]
    log: tuple[TrainingLogEntry, ...]
    status: int
    stack: StackUse | None  # None on the host, which paints no stack
    classification: Classification | None = None


@dataclass(frozen=True)
class StackUse:
    peak_bytes: int
    size_bytes: int
    overflow: bool  # a word below the stack region (in its guard band) was written


def fault_description(text: str) -> str | None:
    """'fault pc=… lr=…' as 'HardFault at pc=0x… (lr=0x… …)', or None when there is no fault record."""
    for record in parse_records(text, strict=False):
        if record.name == "fault":
            registers = " ".join(
                f"{key}={int(value):#010x}" for key, value in record.fields.items() if _INTEGER.match(value)
            )
            return f"HardFault: {registers}"
    return None


def parse_records(text: str, strict: bool = True) -> list[Record]:
    """Every record; a malformed line is a ProtocolError, or skipped when not strict."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        fields = {}
        for word in words[1:]:
            match = _FIELD.match(word)
            if match is None:
                if not strict:
                    break
                raise ProtocolError(f"line {number}: {word!r} is not key=value in {line!r}")
            fields[match["key"]] = match["value"]
        else:
            records.append(Record(words[0], fields, number))
    return records


def parse_report(text: str) -> WorkloadReport:
    records = parse_records(text)
    by_name: dict[str, list[Record]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    outcome = "classified" if "classified" in by_name else "regressed" if "regressed" in by_name else "result"
    for required in ("begin", outcome, "end", *(("predictions",) if outcome != "result" else ())):
        if len(by_name.get(required, [])) != 1:
            found = len(by_name.get(required, []))
            raise ProtocolError(f"expected one '{required}' record, found {found}")
    if sum(name in by_name for name in ("result", "classified", "regressed")) > 1:
        raise ProtocolError("a report has one of a 'result', a 'classified' or a 'regressed' record")
    if len(by_name.get("stack", [])) > 1:
        raise ProtocolError(f"expected at most one 'stack' record, found {len(by_name['stack'])}")
    unknown = sorted(
        set(by_name) - {"begin", "log", "result", "predictions", "classified", "regressed", "end", "stack"}
    )
    if unknown:
        raise ProtocolError(f"unknown record(s): {', '.join(unknown)}")
    begin, end = by_name["begin"][0], by_name["end"][0]
    common = dict(
        workload=begin.text("workload"),
        qformat=begin.text("qformat"),
        variant=begin.text("variant"),
        status=end.integer("status"),
        stack=_stack(by_name.get("stack", [])),
    )
    if outcome != "result":
        classification = _classification(by_name[outcome][0], by_name["predictions"][0])
        return WorkloadReport(
            **common, learned=None, iterations=None, final_error=None, outputs=(), log=(), classification=classification
        )
    result = by_name["result"][0]
    log = tuple(
        TrainingLogEntry(entry.integer("iteration"), entry.integer("error"), entry.integers("weights"))
        for entry in by_name.get("log", [])
    )
    learned = result.integer("learned")
    if learned not in (0, 1):
        raise ProtocolError(f"line {result.line_number}: learned={learned} is not 0 or 1")
    return WorkloadReport(
        **common,
        learned=bool(learned),
        iterations=result.integer("iterations"),
        final_error=result.integer("final_error"),
        outputs=result.integers("outputs"),
        log=log,
    )


def _classification(classified: Record, predictions: Record) -> Classification:
    if classified.name == "regressed":
        total, outputs = classified.integer("total"), predictions.integers("outputs")
        if len(outputs) != total:
            raise ProtocolError(f"line {classified.line_number}: total={total} with {len(outputs)} outputs")
        return Classification(0, total, outputs, regression=True)
    correct, total, classes = (
        classified.integer("correct"),
        classified.integer("total"),
        predictions.integers("classes"),
    )
    if len(classes) != total or not 0 <= correct <= total:
        raise ProtocolError(
            f"line {classified.line_number}: correct={correct} total={total} with {len(classes)} predictions"
        )
    return Classification(correct, total, classes)


def _stack(records: list[Record]) -> StackUse | None:
    if not records:
        return None
    record = records[0]
    return StackUse(record.integer("peak_bytes"), record.integer("size_bytes"), record.integer("overflow") != 0)


def stack_use(text: str) -> StackUse | None:
    """The start-up code's stack record in any run's output (a baseline's too)."""
    return _stack([record for record in parse_records(text) if record.name == "stack"])
