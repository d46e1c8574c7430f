"""The workloads' report protocol (suite/workloads/common/report.hpp), parsed
into typed records.

One record per line: `name key=value key=value`, integers in decimal, lists
comma-separated. A report is `begin`, any `log` lines, `result`, `end`.
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
class WorkloadReport:
    workload: str
    qformat: str
    variant: str
    learned: bool
    iterations: int
    final_error: int
    outputs: tuple[int, ...]
    log: tuple[TrainingLogEntry, ...]
    status: int


def parse_records(text: str) -> list[Record]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        fields = {}
        for word in words[1:]:
            match = _FIELD.match(word)
            if match is None:
                raise ProtocolError(f"line {number}: {word!r} is not key=value in {line!r}")
            fields[match["key"]] = match["value"]
        records.append(Record(words[0], fields, number))
    return records


def parse_report(text: str) -> WorkloadReport:
    records = parse_records(text)
    by_name: dict[str, list[Record]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    for required in ("begin", "result", "end"):
        if len(by_name.get(required, [])) != 1:
            found = len(by_name.get(required, []))
            raise ProtocolError(f"expected one '{required}' record, found {found}")
    unknown = sorted(set(by_name) - {"begin", "log", "result", "end"})
    if unknown:
        raise ProtocolError(f"unknown record(s): {', '.join(unknown)}")
    begin, result, end = by_name["begin"][0], by_name["result"][0], by_name["end"][0]
    log = tuple(
        TrainingLogEntry(entry.integer("iteration"), entry.integer("error"), entry.integers("weights"))
        for entry in by_name.get("log", [])
    )
    learned = result.integer("learned")
    if learned not in (0, 1):
        raise ProtocolError(f"line {result.line_number}: learned={learned} is not 0 or 1")
    return WorkloadReport(
        workload=begin.text("workload"),
        qformat=begin.text("qformat"),
        variant=begin.text("variant"),
        learned=bool(learned),
        iterations=result.integer("iterations"),
        final_error=result.integer("final_error"),
        outputs=result.integers("outputs"),
        log=log,
        status=end.integer("status"),
    )
