"""Performance targets: limits on result rows, kept as data (reports/performance-targets.toml) and checked
against any results folder, so that `tox -e regression` fails when a re-measured row misses one.

Each target names one row (workload, core, Q format, variant, library, -O level and optionally the network)
and a metric that must not exceed `max`; `accuracy_within_pp` adds that the device's accuracy may fall at
most that many percentage points below the float network's on the host. The metric is any results column that
grows worse, `deployed_flash` among them (the library's flash without the test split an image carries): results
written before it was a column have it derived from lib_flash and test_data_bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import Field

from qbench.common.errors import QbenchError
from qbench.common.paths import REPORTS, shown
from qbench.common.schemas import Schema, read_toml, validate
from qbench.records.results import Status
from qbench.reporting.compare import METRICS

TARGETS_FILE = REPORTS / "performance-targets.toml"
Metric = Literal[tuple(name for name, better in METRICS.items() if better == "smaller")]


class PerformanceTargetError(QbenchError, ValueError):
    """A targets file that cannot be read or checked."""


class PerformanceTarget(Schema):
    issue: Annotated[int, Field(ge=1)]
    workload: str
    core: str
    qformat: str
    variant: Literal["inference", "trainable"]
    metric: Metric
    max: Annotated[float, Field(ge=0)]
    library: str = "qnn"
    opt: str = "Os"
    network: str | None = None
    accuracy_within_pp: Annotated[float, Field(ge=0)] | None = None

    @property
    def label(self) -> str:
        network = f" {self.network}" if self.network else ""
        return f"{self.workload}{network} {self.core} {self.library} {self.qformat} {self.variant} -{self.opt}"


class TargetsDocument(Schema):
    target: list[PerformanceTarget] = Field(min_length=1)


def read_targets(path: Path = TARGETS_FILE) -> list[PerformanceTarget]:
    document = read_toml(path, PerformanceTargetError)
    return validate(TargetsDocument, document, PerformanceTargetError, lambda loc: shown(path)).target


@dataclass(frozen=True)
class Verdict:
    target: PerformanceTarget
    value: float | None  # None: no such row, or the row has no figure
    accuracy_gap_pp: float | None  # host accuracy minus device accuracy, where the target asks
    met: bool
    why: str  # what failed, "" when met


def metric_value(row: pd.Series, metric: str) -> float | None:
    """A row's figure for a target's metric; deployed_flash from its column, or where a row has none (made by hand
    or by an earlier qbench) lib_flash less the test split."""
    if metric == "deployed_flash" and _missing(row.get("deployed_flash")):
        flash, test = row.get("lib_flash"), row.get("test_data_bytes")
        return None if _missing(flash) else float(flash) - (0.0 if _missing(test) else float(test))
    value = row.get(metric)
    return None if value is None or pd.isna(value) else float(value)


def _missing(value) -> bool:
    return value is None or bool(pd.isna(value))


def accuracy_gap(row: pd.Series) -> float | None:
    """How many percentage points the device's accuracy falls below the host float network's."""
    device, host = row.get("accuracy_device"), row.get("accuracy_float_host")
    if device is None or host is None or pd.isna(device) or pd.isna(host):
        return None
    return 100.0 * (float(host) - float(device))


def _rows_of(rows: pd.DataFrame, target: PerformanceTarget) -> pd.DataFrame:
    key = {
        "workload": target.workload,
        "core": target.core,
        "qformat": target.qformat,
        "variant": target.variant,
        "library": target.library,
        "opt": target.opt,
    }
    if target.network is not None:
        key["network"] = target.network
    chosen = rows
    for column, wanted in key.items():
        chosen = chosen[chosen[column].astype(str) == wanted]
    return chosen


def judge(rows: pd.DataFrame, target: PerformanceTarget) -> Verdict:
    matching = _rows_of(rows, target)
    if len(matching) != 1:
        found = "no row" if matching.empty else f"{len(matching)} rows (name the network)"
        return Verdict(target, None, None, False, f"the results have {found} for {target.label}")
    row = matching.iloc[0]
    if row["status"] != Status.OK:
        return Verdict(target, None, None, False, f"the row's status is {row['status']}: {row.get('message', '')}")
    value = metric_value(row, target.metric)
    if value is None:
        return Verdict(target, None, None, False, f"the row has no {target.metric}")
    gap = accuracy_gap(row) if target.accuracy_within_pp is not None else None
    problems = []
    if value > target.max:
        problems.append(f"{target.metric} {value:g} > {target.max:g}")
    if target.accuracy_within_pp is not None and (gap is None or gap > target.accuracy_within_pp):
        shown_gap = "no accuracy" if gap is None else f"accuracy {gap:.2f} pp below the host's"
        problems.append(f"{shown_gap} (at most {target.accuracy_within_pp:g} pp)")
    return Verdict(target, value, gap, not problems, "; ".join(problems))


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "issue": v.target.issue,
                "target": v.target.label,
                "metric": v.target.metric,
                "max": v.target.max,
                "measured": v.value,
                "accuracy drop pp": v.accuracy_gap_pp,
                "met": "yes" if v.met else "NO",
                "why": v.why,
            }
            for v in verdicts
        ]
    )
