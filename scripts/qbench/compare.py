"""The regression gate: one results set against a baseline, metric by metric."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .analysis import is_measured, ratio

KEY = ["library", "core", "qformat", "variant", "opt", "workload", "network"]
DEFAULT_METRICS = ("lib_flash", "lib_ram_static", "lib_ram_total", "ram_total", "instr_forward", "instr_train_step")


class CompareError(ValueError):
    """A comparison that cannot be made (an unknown metric, a bad threshold)."""


def parse_threshold(text: str) -> float:
    """'2%' or '2' -> 2.0 (percent)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise CompareError(f"{text!r} is not a threshold: give a percentage such as 2% or 0.5") from None
    if value < 0:
        raise CompareError(f"{text!r}: a threshold cannot be negative")
    return value


def change_percent(base: float, new: float) -> float | None:
    """(new - base) / base in percent; None when base is 0."""
    share = ratio(new - base, base)
    return None if share is None else 100.0 * share


@dataclass(frozen=True)
class Comparison:
    table: pd.DataFrame  # one line per changed or failing metric
    regressions: list[str]  # why the gate fails; empty when it passes


def _learned(row: pd.Series) -> bool:
    """Whether a row's run learned (or, inference-only, answered right); False when it did not run."""
    value = row.get("learned")
    return bool(value) if is_measured(value) else False


def compare(base: pd.DataFrame, new: pd.DataFrame, metrics: tuple[str, ...], threshold: float) -> Comparison:
    unknown = [metric for metric in metrics if metric not in base.columns]
    if unknown:
        raise CompareError(f"unknown metric(s) {', '.join(unknown)}")
    new_by_key = {tuple(row[KEY]): row for _, row in new.iterrows()}
    lines, regressions = [], []
    for _, old in base.iterrows():
        key = tuple(old[KEY])
        cell = " ".join(str(part) for part in key[:6])
        current = new_by_key.get(key)
        if current is None:
            regressions.append(f"{cell}: the row disappeared")
            lines.append({"cell": cell, "metric": "(row)", "verdict": "disappeared"})
            continue
        if current["status"] != "ok":
            regressions.append(f"{cell}: {current['status']} ({current['message']})")
            lines.append({"cell": cell, "metric": "(status)", "verdict": f"{current['status']}"})
            continue
        if _learned(old) and not _learned(current):
            regressions.append(f"{cell}: no longer learns (was learned after {old['iterations']:g} iterations)"
                               if pd.notna(old.get("iterations")) else f"{cell}: outputs no longer right")  # fmt: skip
            lines.append({"cell": cell, "metric": "learned", "verdict": "regression"})
        for metric in metrics:
            before, after = old[metric], current[metric]
            if pd.isna(before):
                continue
            if pd.isna(after):
                regressions.append(f"{cell}: {metric} is no longer measured")
                lines.append({"cell": cell, "metric": metric, "base": before, "verdict": "missing"})
                continue
            if after == before:
                continue
            change = change_percent(float(before), float(after))
            worse = after > before and (change is None or change > threshold)
            if worse:
                growth = "from 0" if change is None else f"+{change:.2f} %"
                regressions.append(f"{cell}: {metric} {before:g} -> {after:g} ({growth})")
            lines.append({
                "cell": cell, "metric": metric, "base": before, "new": after, "change": after - before,
                "change_pct": change, "verdict": "regression" if worse else ("better" if after < before else "within"),
            })  # fmt: skip
    base_keys = {tuple(row[KEY]) for _, row in base.iterrows()}
    for key in new_by_key.keys() - base_keys:
        lines.append({"cell": " ".join(str(part) for part in key[:6]), "metric": "(row)", "verdict": "new"})
    table = pd.DataFrame(lines, columns=["cell", "metric", "base", "new", "change", "change_pct", "verdict"])
    return Comparison(table, regressions)
