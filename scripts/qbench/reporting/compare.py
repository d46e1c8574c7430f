"""The regression gate: one results set against a baseline, metric by metric."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from qbench.common.errors import QbenchError
from qbench.records.keys import CellKey
from qbench.records.results import Status
from qbench.reporting.analysis import is_measured, ratio

KEY = CellKey.columns(first=("library",))  # --match's default: the whole key, in the order messages name a cell
DEFAULT_METRICS = ("lib_flash", "lib_ram_static", "lib_ram_total", "ram_total", "instr_forward", "instr_train_step")


class Better(StrEnum):
    """Which way a metric improves."""

    SMALLER = "smaller"
    LARGER = "larger"
    TRUE = "true"  # a yes/no figure: True is better


# The metrics compare accepts, each with the way it improves.
METRICS: dict[str, Better] = {
    # sizes
    **dict.fromkeys(
        (
            "lib_code",
            "lib_rodata",
            "lib_data",
            "lib_bss",
            "lib_flash",
            "lib_ram_static",
            "img_code",
            "img_rodata",
            "img_data",
            "img_bss",
            "img_flash",
            "img_ram_static",
            "test_data_bytes",
            "deployed_flash",
        ),
        Better.SMALLER,
    ),
    # RAM and stack
    **dict.fromkeys(
        ("ram_total", "lib_ram_total", "exception_frame", "stack_peak", "stack_painted", "stack_sp_depth"),
        Better.SMALLER,
    ),
    # instructions, cycles and time
    **dict.fromkeys(
        (
            "instr_forward",
            "instr_train_step",
            "instr_markers",
            "est_cycles_forward",
            "est_cycles_forward_min",
            "est_cycles_forward_max",
            "est_cycles_train_step",
            "est_cycles_train_step_min",
            "est_cycles_train_step_max",
            "est_us_forward",
            "est_us_train_step",
        ),
        Better.SMALLER,
    ),
    # training and deployment: iterations to learn, error left, values clamped
    **dict.fromkeys(("iterations", "final_error", "weights_saturated", "inputs_saturated"), Better.SMALLER),
    "accuracy_float_host": Better.LARGER,
    "accuracy_device": Better.LARGER,
    # regression workloads: errors in the target's units
    **dict.fromkeys(
        ("mae_device", "rmse_device", "max_error_device", "mae_float_host", "rmse_float_host", "max_error_float_host"),
        Better.SMALLER,
    ),
    "learned": Better.TRUE,
    "learned_exact": Better.TRUE,  # False: the device's outputs are right only through overflow
    "matches_reference": Better.TRUE,
}


class CompareError(QbenchError, ValueError):
    """A comparison that cannot be made (an unknown metric, a bad threshold, nothing to compare against)."""


def parse_threshold(text: str) -> float:
    """'2%' or '2' -> 2.0 (percent)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = math.nan
    return _checked_threshold(value, text)


def _checked_threshold(value: float, given: object) -> float:
    # NaN or infinity would let any growth through.
    if not (math.isfinite(value) and value >= 0):
        raise CompareError(f"{given!r} is not a threshold: give a finite percentage of 0 or more, such as 2% or 0.5")
    return value


def change_percent(base: float, new: float) -> float | None:
    """(new - base) / base in percent; None when base is 0."""
    share = ratio(new - base, base)
    return None if share is None else 100.0 * share


@dataclass(frozen=True)
class Comparison:
    table: pd.DataFrame  # one line per changed or failing metric
    regressions: list[str]  # why the gate fails; empty when it passes
    # Set when no row of NEW pairs with a row of BASE: why (the columns they differ in) and which --match would
    # pair them. Every BASE row then counts as disappeared, which says nothing about the code measured.
    unpaired: str | None = None


def _learned(row: pd.Series) -> bool:
    """Whether a row's run learned (or, inference-only, answered right); False when it did not run."""
    value = row.get("learned")
    return bool(value) if is_measured(value) else False


def _no_longer_learns(cell: str, old: pd.Series) -> str:
    if pd.notna(old.get("iterations")):
        return f"{cell}: no longer learns (was learned after {old['iterations']:g} iterations)"
    return f"{cell}: outputs no longer right"


def _check_request(metrics: tuple[str, ...], match: tuple[str, ...]) -> None:
    unknown = [metric for metric in metrics if metric not in METRICS]
    if unknown:
        raise CompareError(f"unknown metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}")
    unmatchable = [column for column in match if column not in KEY]
    if unmatchable or not match:
        raise CompareError(
            f"cannot match rows on {', '.join(unmatchable) or 'no column'}: choose from {', '.join(KEY)}"
        )


def _label(key: tuple, match: tuple[str, ...]) -> str:
    """How a message names a cell: its key, without the network (long, and one per workload in most runs)."""
    shown = [str(value) for column, value in zip(match, key, strict=True) if column != "network"]
    return " ".join(shown or [str(value) for value in key])


def _rows_by_key(frame: pd.DataFrame, match: tuple[str, ...], name: str) -> dict[tuple, pd.Series]:
    """Every row under its key; two rows under one key cannot be told apart, so that is an error."""
    columns = list(match)
    shared = frame[frame.duplicated(columns, keep=False)]
    if not shared.empty:
        key = tuple(shared.iloc[0][columns])
        twins = shared[(shared[columns] == shared.iloc[0][columns]).all(axis=1)]
        differ = [column for column in KEY if column not in match and twins[column].nunique() > 1]
        why = f"they differ in {', '.join(differ)}" if differ else "they are the same cell"
        raise CompareError(
            f"{name} has {len(twins)} rows for {_label(key, match)} when rows are matched on {', '.join(match)}: {why}"
        )
    return {tuple(row[columns]): row for _, row in frame.iterrows()}


def _values(frame: pd.DataFrame, column: str) -> str:
    values = sorted({str(value) for value in frame[column]})
    return ", ".join(values[:4]) + (f" and {len(values) - 4} more" if len(values) > 4 else "")


def _pairs_uniquely(base: pd.DataFrame, new: pd.DataFrame, match: list[str]) -> bool:
    """Whether matching on these columns pairs at least one row, each frame holding one row per key."""
    if not match or base.duplicated(match).any() or new.duplicated(match).any():
        return False
    return not base[match].astype(str).merge(new[match].astype(str)).empty


def unpaired(
    base: pd.DataFrame, new: pd.DataFrame, match: tuple[str, ...], base_name: str = "BASE", new_name: str = "NEW"
) -> str | None:
    """None when a row of NEW pairs with a row of BASE on the match columns; else why none does (the columns whose
    values differ between the two) and a --match that pairs them one to one, when one does."""
    columns = list(match)
    if new.empty:
        return f"{new_name} holds no rows: nothing to compare"
    if not base[columns].astype(str).merge(new[columns].astype(str)).empty:
        return None
    differ = [column for column in columns if set(base[column].astype(str)) != set(new[column].astype(str))]
    disjoint = [column for column in differ if not set(base[column].astype(str)) & set(new[column].astype(str))]
    why = (
        "; ".join(
            f"{column}: {base_name} has {_values(base, column)}, {new_name} has {_values(new, column)}"
            for column in (disjoint or differ)
        )
        or "each column's values are in both, in other combinations"
    )
    message = f"{base_name} and {new_name} share no rows when rows are matched on {', '.join(columns)} ({why})"
    # Leave out the columns that set the runs apart, else any one column, until the rows pair one to one.
    for dropped in (disjoint, differ, *([column] for column in columns)):
        keep = [column for column in columns if column not in dropped]
        if dropped and _pairs_uniquely(base, new, keep):
            return f"{message}: to compare them anyway, match on the other columns: --match {','.join(keep)}"
    return f"{message}: they measure different cells, and no --match pairs them one to one"


def _metric_change(
    cell: str, metric: str, old: pd.Series, current: pd.Series, threshold: float
) -> tuple[dict | None, str | None]:
    """One metric of one cell: its table line (None when unchanged) and its regression (None when there is none)."""
    before, after = old[metric], current[metric]
    if not is_measured(before):
        return None, None
    if not is_measured(after):
        missing = {"cell": cell, "metric": metric, "base": before, "verdict": "missing"}
        return missing, f"{cell}: {metric} is no longer measured"
    if after == before:
        return None, None
    line = {"cell": cell, "metric": metric, "base": before, "new": after}
    if METRICS[metric] is Better.TRUE:
        worse = bool(before) and not bool(after)
        lost = _no_longer_learns(cell, old) if metric == "learned" else f"{cell}: {metric} was true, now false"
        return {**line, "verdict": "regression" if worse else "better"}, lost if worse else None
    change = change_percent(float(before), float(after))
    direction = 1 if METRICS[metric] is Better.SMALLER else -1  # + when the change is for the worse
    worse = direction * (after - before) > 0 and (change is None or direction * change > threshold)
    verdict = "regression" if worse else ("better" if direction * (after - before) < 0 else "within")
    line |= {"change": after - before, "change_pct": change, "verdict": verdict}
    growth = "from 0" if change is None else f"{change:+.2f} %"
    return line, f"{cell}: {metric} {before:g} -> {after:g} ({growth})" if worse else None


def compare(
    base: pd.DataFrame,
    new: pd.DataFrame,
    metrics: tuple[str, ...],
    threshold: float,
    match: tuple[str, ...] = KEY,
    base_name: str = "BASE",
    new_name: str = "NEW",
) -> Comparison:
    """NEW's rows against BASE's, paired by the match columns (e.g. core, qformat, variant to compare an -Os run with
    an -O2 one); base_name and new_name are how messages name the two."""
    _checked_threshold(threshold, threshold)
    _check_request(metrics, match)
    if base.empty:
        raise CompareError(f"{base_name} holds no rows: nothing to compare against")
    base_rows, new_rows = _rows_by_key(base, match, base_name), _rows_by_key(new, match, new_name)
    no_pairs = unpaired(base, new, match, base_name, new_name)
    lines, regressions = [], []
    for key, old in base_rows.items():
        cell = _label(key, match)
        current = new_rows.get(key)
        if current is None:
            regressions.append(f"{cell}: the row disappeared")
            lines.append({"cell": cell, "metric": "(row)", "verdict": "disappeared"})
            continue
        if current["status"] != Status.OK:
            regressions.append(f"{cell}: {current['status']} ({current['message']})")
            lines.append({"cell": cell, "metric": "(status)", "verdict": f"{current['status']}"})
            continue
        # A run that stops learning fails the gate whatever the metrics chosen.
        if "learned" not in metrics and _learned(old) and not _learned(current):
            regressions.append(_no_longer_learns(cell, old))
            lines.append({"cell": cell, "metric": "learned", "verdict": "regression"})
        for metric in metrics:
            line, regression = _metric_change(cell, metric, old, current, threshold)
            lines += [line] if line else []
            regressions += [regression] if regression else []
    for key in (key for key in new_rows if key not in base_rows):
        lines.append({"cell": _label(key, match), "metric": "(row)", "verdict": "new"})
    table = pd.DataFrame(lines, columns=["cell", "metric", "base", "new", "change", "change_pct", "verdict"])
    return Comparison(table, regressions, no_pairs)
