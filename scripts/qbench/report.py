"""The markdown report: tables from qbench.analysis rendered through a
template (scripts/qbench/templates/report.md.j2). Words live in the template,
data in DataFrames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import analysis
from .results import SavedResults
from .targets import Part

TEMPLATES = Path(__file__).with_name("templates")
NO_DATA = "_No data._"


def markdown(frame: pd.DataFrame, decimals: dict[str, int] | None = None) -> str:
    """A table for GitHub markdown, or a visible 'no data' line."""
    if frame.empty:
        return NO_DATA
    return frame.round(decimals or {}).to_markdown(index=False)


def _headline(saved: SavedResults) -> dict:
    rows = analysis.ok_rows(saved.rows)
    chosen = rows[
        (rows["core"] == analysis.HEADLINE["core"])
        & (rows["qformat"] == analysis.HEADLINE["qformat"])
        & (rows["opt"] == analysis.HEADLINE["opt"])
    ]
    if chosen.empty:
        chosen = rows
    if chosen.empty:
        return {"label": "no successful image", "diff_label": "no successful image", "symbols": None, "diff": None}
    first = chosen.iloc[0]
    key = (first.core, first.qformat, first.opt)
    trainable = analysis.image_symbols(saved.symbols, *key[:2], "trainable", key[2])
    inference = analysis.image_symbols(saved.symbols, *key[:2], "inference", key[2])
    shown = trainable if not trainable.empty else inference
    variant = "trainable" if not trainable.empty else "inference"
    both = not trainable.empty and not inference.empty
    return {
        "label": f"{first.core} {first.qformat} {variant} -{first.opt}",
        "diff_label": f"{first.core} {first.qformat} -{first.opt}",
        "symbols": shown,
        "diff": analysis.symbol_diff_table(inference, trainable) if both else pd.DataFrame(),
    }


def render(saved: SavedResults, parts: dict[str, Part]) -> str:
    rows = saved.rows
    headline = _headline(saved)
    symbols = headline["symbols"]
    percentages = {c: 1 for c in ("lib_flash_pct", "lib_ram_pct", "img_flash_pct", "img_ram_pct")}
    template = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    ).get_template("report.md.j2")
    ok = int((rows["status"] == "ok").sum())
    return template.render(
        counts={"ok": ok, "total": len(rows), "failed": len(rows) - ok},
        workloads=", ".join(sorted(rows["workload"].unique())) or "none",
        environment=saved.environment,
        problems=saved.environment["problems"],
        footprint=markdown(analysis.footprint_table(rows)),
        ratios=markdown(analysis.variant_ratio_table(rows), {"flash_ratio": 2, "ram_ratio": 2}),
        images=markdown(analysis.image_table(rows)),
        budgets=markdown(analysis.budget_table(rows, parts), percentages),
        headline=headline,
        groups=markdown(analysis.group_totals(symbols)) if symbols is not None else NO_DATA,
        largest=markdown(analysis.largest_symbols(symbols)) if symbols is not None else NO_DATA,
        diff=markdown(headline["diff"]) if headline["diff"] is not None else NO_DATA,
        failures=markdown(analysis.failures_table(rows)) if ok < len(rows) else "None.",
        flags=markdown(analysis.flags_table(rows)),
    )


def write_report(directory: Path, saved: SavedResults, parts: dict[str, Part]) -> Path:
    path = directory / "report.md"
    path.write_text(render(saved, parts))
    return path
