"""The markdown report: tables from qbench.analysis rendered through a
template (scripts/qbench/templates/report.md.j2). Words live in the template,
data in DataFrames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from matplotlib.figure import Figure

from . import analysis, plots
from .claims import ARTICLE, article_claims
from .results import SavedResults, library_order, training_log_name
from .targets import Part
from .timing import load_timing_models

TEMPLATES = Path(__file__).with_name("templates")
NO_DATA = "_No data._"
FORMAT_DECIMALS = {"accuracy_float_host": 4, "accuracy_device": 4, "instr_forward": 1, "est_cycles_forward": 1,
                   "flash_vs_float": 2, "instr_vs_float": 2}  # fmt: skip
SCALING_DECIMALS = {f"{metric}_{part}": digits for metric in ("flash", "ram", "instructions")
                    for part, digits in (("per_connection", 2), ("fixed", 0), ("r2", 4))}  # fmt: skip
SPEED_DECIMALS = ("instr_forward", "est_us_forward", "instr_train_step", "est_us_train_step")


def markdown(frame: pd.DataFrame, decimals: dict[str, int] | None = None) -> str:
    """A table for GitHub markdown, or a visible 'no data' line."""
    if frame.empty:
        return NO_DATA
    rounded = frame.round(decimals or {})
    # Missing figures (not measured, or not applicable) show as a dash, never as 0 or "nan".
    return rounded.astype(object).where(rounded.notna(), None).to_markdown(index=False, missingval="–")


def _headline(saved: SavedResults) -> dict:
    """The image whose symbols the report lists: the article's cell when it ran, else the first success."""
    rows = analysis.ok_rows(saved.rows)
    chosen = rows[analysis.matching(rows, ARTICLE)]
    if chosen.empty:
        chosen = rows
    if chosen.empty:
        return {"key": None, "label": "no successful image", "diff_label": "no successful image", "symbols": None,
                "diff": None}  # fmt: skip
    first = chosen.iloc[0]
    image = {"library": first.library, "core": first.core, "qformat": first.qformat, "opt": first.opt}
    trainable = analysis.image_symbols(saved.symbols, {**image, "variant": "trainable"})
    inference = analysis.image_symbols(saved.symbols, {**image, "variant": "inference"})
    shown = trainable if not trainable.empty else inference
    variant = "trainable" if not trainable.empty else "inference"
    both = not trainable.empty and not inference.empty
    library = "" if first.library == ARTICLE["library"] else f" [{first.library}]"
    return {
        "key": {**image, "variant": variant},
        "label": f"{first.core} {first.qformat} {variant} -{first.opt}{library}",
        "diff_label": f"{first.core} {first.qformat} -{first.opt}{library}",
        "symbols": shown,
        "diff": analysis.symbol_diff_table(inference, trainable) if both else pd.DataFrame(),
    }


def plot_figures(saved: SavedResults) -> dict[str, tuple[Figure | None, str]]:
    """The report's plots by name: each figure (None: nothing to draw) and its file name."""
    rows, core, opt, qformat = saved.rows, ARTICLE["core"], ARTICLE["opt"], ARTICLE["qformat"]
    weights_log = saved.training.get(
        training_log_name("xor", ARTICLE["library"], ARTICLE["network"], core, qformat, "trainable", opt)
    )
    weights_label = plots.series_label(
        ARTICLE["library"], f"{core} {qformat.upper()} -{opt}", plots.several_libraries(rows)
    )
    return {
        "footprint": (plots.footprint_by_core(rows, qformat, opt), f"footprint_by_core_{qformat}_{opt}.png"),
        "instructions": (plots.instructions_by_core(rows, opt), f"instructions_by_core_{opt}.png"),
        "training": (plots.training_error(saved.training, rows, core, opt), f"training_error_{core}_{opt}.png"),
        "scaling": (plots.scaling(rows), "scaling.png"),
        "weights": (plots.weights_over_time(weights_log, weights_label), "weights.png"),
    }


def draw_plots(saved: SavedResults, directory: Path) -> dict[str, str | None]:
    return {key: plots.save(figure, directory, name) for key, (figure, name) in plot_figures(saved).items()}


def library_table(libraries: dict[str, dict[str, str]]) -> pd.DataFrame:
    """One row per library of the run: where it was, its revision and, for a registry package, its version."""
    return pd.DataFrame(
        [{"library": name, **libraries[name]} for name in sorted(libraries, key=library_order)],
        columns=["library", "path", "revision", "version"],
    )


def render(saved: SavedResults, parts: dict[str, Part], figures: dict[str, str | None]) -> str:
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

    def functions(region: str) -> str:
        if headline["key"] is None:
            return NO_DATA
        table = analysis.function_share_table(saved.instructions, headline["key"], region)
        return markdown(table, {"instructions": 1, "share_pct": 1})

    return template.render(
        counts={"ok": ok, "total": len(rows), "failed": len(rows) - ok},
        claims=markdown(article_claims(rows, saved.symbols, saved.training, parts)),
        article=markdown(analysis.article_table(saved.article), {"text_ratio": 2, "bss_ratio": 2})
        if not saved.article.empty else None,
        emulated_elsewhere=analysis.emulated_elsewhere(rows),
        plots=figures,
        workloads=", ".join(sorted(rows["workload"].unique())) or "none",
        environment=saved.environment,
        libraries=markdown(library_table(saved.environment["libraries"])) if saved.environment["libraries"] else None,
        problems=saved.environment["problems"],
        footprint=markdown(analysis.footprint_table(rows)),
        ratios=markdown(analysis.variant_ratio_table(rows), {"flash_ratio": 2, "ram_ratio": 2}),
        images=markdown(analysis.image_table(rows)),
        budgets=markdown(analysis.budget_table(rows, parts), percentages),
        headline=headline,
        groups=markdown(analysis.group_totals(symbols)) if symbols is not None else NO_DATA,
        largest=markdown(analysis.largest_symbols(symbols)) if symbols is not None else NO_DATA,
        diff=markdown(headline["diff"]) if headline["diff"] is not None else NO_DATA,
        speed=markdown(analysis.speed_table(rows), {c: 1 for c in SPEED_DECIMALS}),
        part_times=markdown(analysis.part_time_table(rows, parts), {"est_us_forward": 1, "est_us_train_step": 1}),
        ram=markdown(analysis.ram_table(rows)),
        learning=markdown(analysis.learning_table(rows), {"final_error": 4}),
        formats=markdown(analysis.format_table(rows), FORMAT_DECIMALS),
        side_by_side=markdown(analysis.libraries_table(rows), FORMAT_DECIMALS)
        if rows["library"].nunique() > 1 else None,
        scaling=markdown(analysis.scaling_table(rows), SCALING_DECIMALS),
        forward_functions=functions("forward"),
        train_functions=functions("train_step"),
        timing_sources=sorted({model.source for model in load_timing_models().values()}),
        failures=markdown(analysis.failures_table(rows)) if ok < len(rows) else "None.",
        flags=markdown(analysis.flags_table(rows)),
    )


def write_report(directory: Path, saved: SavedResults, parts: dict[str, Part]) -> Path:
    path = directory / "report.md"
    path.write_text(render(saved, parts, draw_plots(saved, directory)))
    return path
