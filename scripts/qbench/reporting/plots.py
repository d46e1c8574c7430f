"""The report's plots: PNG files beside report.md, from the saved results.

Each figure is planned first, then drawn. Planning (pandas only) turns the results into a Chart: a small record
of exactly what the figure shows (categories, values, labels, colours, titles). Drawing (matplotlib) renders a
Chart and nothing else, so a Chart and the drawing code's identity key its PNG (chart_key): plot_files takes an
unchanged figure from a PlotStore instead of drawing it, and draws the others in worker processes. matplotlib is
imported only when something is drawn.

report_figures plans every figure the results hold data for, one per question, by report section. Every figure
keeps the same rules:

- Cortex-M cores and other targets (the x86-64 host: objects only, static RAM, nothing run) never share axes.
- Legends sit outside the axes, right of them, never over the data.
- Colours come from Okabe and Ito's colour-blind-safe palette; series that outnumber its colours also differ
  in line style, marker or hatch, so no two series look alike.
- A bar chart's value axis is logarithmic when its positive values span a decade or more.
- Flash is deployed flash: library flash without the test set's tables, as in the report's tables.
- Nothing is left out silently: every network, format, variant and library of a results set is drawn.
"""

from __future__ import annotations

import hashlib
import io
import math
import multiprocessing
import os
import threading
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from qbench.records.keys import slug
from qbench.records.results import QNN_LIBRARY, SavedResults, training_log_name
from qbench.reporting.analysis import deployed_flash, fit_line, library_ram, ok_rows
from qbench.reporting.plot_store import PlotStore

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PLOTS = "plots"
SECTIONS = ("footprint", "instructions", "training", "scaling", "weights")
LEARNED_ERROR = 0.1  # the learned criterion: every output within 0.1 of its target
CORTEX_M = "cortex-m"
PREFERRED_CORE = "cortex-m0plus"  # the article's core: the weights plot shows its run when there is one
# Okabe and Ito's colour-blind-safe palette, yellow last (faint on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
# The second way series differ, as many of each kind.
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo")
DECADE = 10.0
BYTES = "bytes"
INSTRUCTIONS = "instructions (QEMU trace)"
DPI = 110
# Packages whose version can change a drawn PNG's bytes: the drawing, and the PNG encoder matplotlib calls.
DRAWING_PACKAGES = ("matplotlib", "pillow")


# Looks.


@dataclass(frozen=True)
class SeriesStyle:
    colour: str
    line_style: str | tuple
    marker: str
    hatch: str


def variation(index: int) -> SeriesStyle:
    """Line style, marker and hatch number index (colour left to the caller)."""
    return SeriesStyle(
        "", LINE_STYLES[index % len(LINE_STYLES)], MARKERS[index % len(MARKERS)], HATCHES[index % len(HATCHES)]
    )


def series_style(index: int) -> SeriesStyle:
    """The index-th series' look: the palette's colours in turn, then again with the next line style, marker
    and hatch (distinct for the first len(PALETTE) * len(LINE_STYLES) series)."""
    varied = variation(index // len(PALETTE))
    return SeriesStyle(PALETTE[index % len(PALETTE)], varied.line_style, varied.marker, varied.hatch)


def paired_styles(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], SeriesStyle]:
    """Series named by two parts (e.g. core and format): colour by the first, line style, marker and hatch by
    the second, while both fit; otherwise one look after another."""
    firsts, seconds = list(dict.fromkeys(key[0] for key in keys)), list(dict.fromkeys(key[1] for key in keys))
    if len(firsts) > len(PALETTE) or len(seconds) > len(LINE_STYLES):
        return {key: series_style(index) for index, key in enumerate(dict.fromkeys(keys))}
    looks = {}
    for first, second in keys:
        varied = variation(seconds.index(second))
        looks[first, second] = SeriesStyle(PALETTE[firsts.index(first)], varied.line_style, varied.marker, varied.hatch)
    return looks


def spans_a_decade(values: Iterable[float]) -> bool:
    """True when the positive, finite values reach from some v to at least 10 v."""
    positive = [float(value) for value in values if pd.notna(value) and math.isfinite(value) and value > 0]
    return len(positive) >= 2 and max(positive) >= DECADE * min(positive)


# What a figure shows: plain values only (Python floats and strings), so that a Chart's repr is exactly the data
# it is drawn from, and equal Charts draw equal PNGs.


@dataclass(frozen=True)
class Bars:
    """One series of a bar panel: a value per category (nan: no bar)."""

    label: str
    values: tuple[float, ...]
    colour: str
    hatch: str


@dataclass(frozen=True)
class BarPanel:
    categories: tuple[str, ...]
    series: tuple[Bars, ...]
    ylabel: str
    title: str
    log_scale: bool


@dataclass(frozen=True)
class Line:
    """A line, markers, or both; a label starting with '_' stays out of the legend."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    label: str
    colour: str
    line_style: str | tuple
    marker: str | None = None  # None: matplotlib's default (none)
    linewidth: float | None = None  # None: matplotlib's default


@dataclass(frozen=True)
class Rule:
    """A horizontal line across a panel (a threshold)."""

    y: float
    label: str
    colour: str
    line_style: str | tuple
    linewidth: float


@dataclass(frozen=True)
class LinePanel:
    lines: tuple[Line, ...]
    rules: tuple[Rule, ...]
    xlabel: str
    ylabel: str
    title: str
    log_scale: bool


@dataclass(frozen=True)
class Chart:
    """A whole figure: its panels side by side, the heading above them and one legend right of them."""

    heading: str
    panels: tuple[BarPanel, ...] | tuple[LinePanel, ...]
    width_per_panel: float  # inches
    legend_title: str | None = None
    legend_columns: int = 1


@dataclass(frozen=True)
class PlannedFigure:
    caption: str
    chart: Chart
    file_name: str


def floats(values: Iterable) -> tuple[float, ...]:
    """Values as Python floats, missing ones as nan."""
    return tuple(float(value) if pd.notna(value) else math.nan for value in values)


# Names.


def format_name(qformat: str) -> str:
    """q16.16 -> Q16.16; float32 stays float32."""
    return qformat.upper() if qformat.startswith("q") else qformat


def target_group(core: str) -> str:
    """The axes a core's results go on: every Cortex-M core together, any other target (the host) on its own."""
    return CORTEX_M if core.startswith(CORTEX_M) else core


def is_cortex_m(rows: pd.DataFrame) -> pd.Series:
    return rows["core"].map(target_group) == CORTEX_M


def shown(column: str, value) -> str:
    return format_name(str(value)) if column == "qformat" else str(value)


def common_description(rows: pd.DataFrame, columns: Sequence[str]) -> str:
    """The values of the given columns that are the same on every row, for a heading."""
    return " ".join(shown(column, rows[column].iloc[0]) for column in columns if rows[column].nunique() == 1)


@dataclass(frozen=True)
class Series:
    """The series each row belongs to: its label, and the two parts its colour and its style follow."""

    labels: pd.Series
    styles: dict[str, SeriesStyle]


def row_series(rows: pd.DataFrame, columns: Sequence[str]) -> Series:
    """Series by the given columns that vary between rows (the last column when none does): colour by the last
    varying column, style by the others."""
    named = [column for column in columns if rows[column].nunique() > 1] or [columns[-1]]
    colour_by, style_by = named[-1], named[:-1]
    colours = [shown(colour_by, value) for value in rows[colour_by].tolist()]
    styles = [[shown(column, value) for value in rows[column].tolist()] for column in style_by]
    keys = [(colour, " ".join(parts)) for colour, *parts in zip(colours, *styles, strict=True)]
    labels = [" ".join(filter(None, (style, colour))) for colour, style in keys]
    looks = paired_styles(keys)
    return Series(
        pd.Series(labels, index=rows.index), {label: looks[key] for label, key in zip(labels, keys, strict=True)}
    )


# Bars.


def bar_table(rows: pd.DataFrame, x_column: str, labels: pd.Series, values: pd.Series) -> pd.DataFrame:
    """index = x categories in order of appearance, one column per series in order of appearance."""
    frame = pd.DataFrame(
        {
            "x": rows[x_column].map(lambda value: shown(x_column, value)).to_numpy(),
            "series": labels.to_numpy(),
            "value": pd.to_numeric(values, errors="coerce").to_numpy(dtype=float),
        }
    )
    table = frame.pivot(index="x", columns="series", values="value")
    return table.reindex(index=list(dict.fromkeys(frame["x"])), columns=list(dict.fromkeys(frame["series"])))


def bars_width(rows: pd.DataFrame, x_column: str, labels: pd.Series) -> float:
    """A panel's width in inches, so that many bars stay readable."""
    return max(4.6, 1.4 + 0.3 * rows[x_column].nunique() * labels.nunique())


def bar_panel(table: pd.DataFrame, styles: dict[str, SeriesStyle], ylabel: str, title: str) -> BarPanel:
    series = tuple(
        Bars(str(label), floats(table[label]), styles[label].colour, styles[label].hatch) for label in table.columns
    )
    return BarPanel(tuple(str(x) for x in table.index), series, ylabel, title, spans_a_decade(table.to_numpy().ravel()))


# Footprint: what the network costs, per core and format.

FOOTPRINT_SERIES = ("library", "network", "variant")


def flash_title(rows: pd.DataFrame) -> str:
    holds_test_set = rows["test_data_bytes"].fillna(0).gt(0).any()
    return "Deployed flash (test set excluded)" if holds_test_set else "Library flash"


def ram_title(rows: pd.DataFrame) -> str:
    measured = rows["lib_ram_total"].notna()
    if measured.all():
        return "Library RAM (static + stack peak)"
    return "Library RAM (static only: not run)" if not measured.any() else "Library RAM (static + stack where run)"


def footprint_figure(rows: pd.DataFrame, x_column: str, where: str, file_name: str) -> PlannedFigure:
    """Flash and RAM bars by x_column (core or format), one bar per library, network and variant; where says
    which target(s) and what the rows share."""
    series = row_series(rows, FOOTPRINT_SERIES)
    flash = bar_panel(
        bar_table(rows, x_column, series.labels, deployed_flash(rows)), series.styles, BYTES, flash_title(rows)
    )
    ram = bar_panel(bar_table(rows, x_column, series.labels, library_ram(rows)), series.styles, BYTES, ram_title(rows))
    chart = Chart(f"What the network costs {where}", (flash, ram), bars_width(rows, x_column, series.labels))
    return PlannedFigure(f"{flash.title} and {ram.title[0].lower()}{ram.title[1:]} {where}", chart, file_name)


def subject(rows: pd.DataFrame, *details: str) -> str:
    """What a figure's rows share (workload, library, network) and the given details."""
    return " ".join(filter(None, [common_description(rows, ("workload", "library", "network")), *details]))


def footprint_figures(rows: pd.DataFrame) -> list[PlannedFigure]:
    """Per workload and level: one figure per format for the Cortex-M cores, one per other target by format."""
    good = ok_rows(rows)
    good = good[good["lib_flash"].notna()]
    figures = []
    for (workload, opt), chosen in good.groupby(["workload", "opt"], sort=False):
        cortex_m = is_cortex_m(chosen)
        for (qformat,), per_format in chosen[cortex_m].groupby(["qformat"], sort=False):
            where = f"per Cortex-M core, {subject(per_format, format_name(qformat), f'-{opt}')}"
            file_name = f"footprint_{workload}_{CORTEX_M}_{qformat}_{opt}.png"
            figures.append(footprint_figure(per_format, "core", where, file_name))
        for (core,), per_target in chosen[~cortex_m].groupby(["core"], sort=False):
            where = f"as {core} objects, by format (sizes only, not run), {subject(per_target, f'-{opt}')}"
            figures.append(footprint_figure(per_target, "qformat", where, f"footprint_{workload}_{core}_{opt}.png"))
    return figures


# Instructions: per inference and per training step, per core and format.

INSTRUCTION_SERIES = ("library", "network", "qformat")


def instruction_figure(rows: pd.DataFrame, workload: str, opt: str) -> PlannedFigure | None:
    forward = rows[(rows["variant"] == "inference") & rows["instr_forward"].notna()]
    step = rows[(rows["variant"] == "trainable") & rows["instr_train_step"].notna()]
    chosen_panels = [
        (chosen, column, title)
        for chosen, column, title in (
            (forward, "instr_forward", "Per inference (inference-only image)"),
            (step, "instr_train_step", "Per training step (trainable image)"),
        )
        if not chosen.empty
    ]
    if not chosen_panels:
        return None
    drawn = pd.concat([chosen for chosen, _, _ in chosen_panels])
    series = row_series(drawn, INSTRUCTION_SERIES)
    panels = tuple(
        bar_panel(
            bar_table(chosen, "core", series.labels[chosen.index], chosen[column]), series.styles, INSTRUCTIONS, title
        )
        for chosen, column, title in chosen_panels
    )
    width = max(bars_width(chosen, "core", series.labels[chosen.index]) for chosen, _, _ in chosen_panels)
    heading = f"Instructions executed per Cortex-M core, {subject(drawn, f'-{opt}')}"
    what = " and ".join(title.split(" (")[0].lower() for _, _, title in chosen_panels)
    return PlannedFigure(
        f"{heading}: {what}", Chart(heading, panels, width), f"instructions_{workload}_{CORTEX_M}_{opt}.png"
    )


def instruction_figures(rows: pd.DataFrame) -> list[PlannedFigure]:
    """Per workload and level, the Cortex-M cores only (other targets are not run)."""
    good = ok_rows(rows)
    good = good[is_cortex_m(good)]
    figures = [
        instruction_figure(chosen, workload, opt)
        for (workload, opt), chosen in good.groupby(["workload", "opt"], sort=False)
    ]
    return [figure for figure in figures if figure is not None]


# Training: the error over the iterations, per format and library.


@dataclass(frozen=True)
class TrainingCurve:
    library: str
    qformat: str
    cores: tuple[str, ...]  # every core that logged this very run
    log: pd.DataFrame


def training_curves(runs: pd.DataFrame, training: dict[str, pd.DataFrame]) -> list[TrainingCurve]:
    """One curve per library, format and distinct log; cores that logged the same run share a curve."""
    curves: dict[tuple, TrainingCurve] = {}
    for row in runs.itertuples():
        log = training.get(
            training_log_name(row.workload, row.library, row.network, row.core, row.qformat, row.variant, row.opt)
        )
        if log is None or log.empty:
            continue
        key = (row.library, row.qformat, tuple(log["iteration"]), tuple(log["error_raw"]))
        known = curves.get(key)
        curves[key] = TrainingCurve(row.library, row.qformat, (*known.cores, row.core) if known else (row.core,), log)
    return list(curves.values())


def curve_label(curve: TrainingCurve, with_library: bool) -> str:
    library = f" {curve.library}" if with_library else ""
    return f"{format_name(curve.qformat)}{library} ({', '.join(curve.cores)})"


def training_figure(
    runs: pd.DataFrame, training: dict[str, pd.DataFrame], workload: str, network: str, opt: str
) -> PlannedFigure | None:
    curves = training_curves(runs, training)
    if not curves:
        return None
    with_library = len({curve.library for curve in curves}) > 1
    looks = paired_styles([(curve.qformat, curve.library if with_library else "") for curve in curves])
    repeated = len(looks) < len(curves)  # one format and library on cores that differ: one look each
    lines = []
    for index, curve in enumerate(curves):
        style = series_style(index) if repeated else looks[curve.qformat, curve.library if with_library else ""]
        lines.append(
            Line(
                floats(curve.log["iteration"]),
                floats(curve.log["error"]),
                curve_label(curve, with_library),
                style.colour,
                style.line_style,
                linewidth=1.3,
            )
        )
    learned = (Rule(LEARNED_ERROR, f"learned (every output within {LEARNED_ERROR})", "grey", (0, (1, 3)), 1.0),)
    errors = pd.concat([curve.log["error"] for curve in curves])
    panel = LinePanel(
        tuple(lines),
        learned if workload == "xor" else (),
        "training iteration",
        "largest |output - target| over the training patterns",
        "",
        bool(errors.gt(0).all()) and spans_a_decade(errors),
    )
    heading = f"Training error on the device, {workload} {network} -{opt}"
    return PlannedFigure(
        f"{heading}, per format and library",
        Chart(heading, (panel,), 7.0, legend_title="format (cores)"),
        f"training_{workload}_{slug(network)}_{opt}.png",
    )


def training_figures(training: dict[str, pd.DataFrame], rows: pd.DataFrame) -> list[PlannedFigure]:
    trainable = rows[rows["variant"] == "trainable"]
    figures = [
        training_figure(runs, training, workload, network, opt)
        for (workload, network, opt), runs in trainable.groupby(["workload", "network", "opt"], sort=False)
    ]
    return [figure for figure in figures if figure is not None]


# Weights: every weight of one training run over the iterations (the article's `make plot`).

WEIGHTS_PER_LEGEND_COLUMN = 12


def weights_figure(log: pd.DataFrame, description: str, file_name: str) -> PlannedFigure:
    weights = [column for column in log.columns if column.startswith("w")]
    iterations = floats(log["iteration"])
    lines = tuple(
        Line(
            iterations,
            floats(log[column]),
            column,
            series_style(index).colour,
            series_style(index).line_style,
            linewidth=1.1,
        )
        for index, column in enumerate(weights)
    )
    panel = LinePanel(lines, (), "training iteration", "weight value", "", False)
    chart = Chart(
        f"Weights while training, {description}",
        (panel,),
        7.0,
        legend_title="weight",
        legend_columns=1 + (len(weights) - 1) // WEIGHTS_PER_LEGEND_COLUMN,
    )
    return PlannedFigure(f"Every weight over the iterations, {description}", chart, file_name)


def weight_figures(training: dict[str, pd.DataFrame], rows: pd.DataFrame) -> list[PlannedFigure]:
    """Per workload, network, library, format and level, the run on the article's core (else the first core)."""
    trainable = rows[rows["variant"] == "trainable"]
    figures = []
    for (workload, network, library, qformat, opt), runs in trainable.groupby(
        ["workload", "network", "library", "qformat", "opt"], sort=False
    ):
        names = {
            core: training_log_name(workload, library, network, core, qformat, "trainable", opt)
            for core in runs["core"]
        }
        logged = [core for core, name in names.items() if name in training and not training[name].empty]
        if not logged:
            continue
        core = PREFERRED_CORE if PREFERRED_CORE in logged else logged[0]
        named_library = f"{library} " if trainable["library"].nunique() > 1 or library != QNN_LIBRARY else ""
        description = f"{workload} {network}, {named_library}{core} {format_name(qformat)} -{opt}"
        figures.append(weights_figure(training[names[core]], description, f"weights_{Path(names[core]).stem}.png"))
    return figures


# Scaling: cost against connections, every network of a sweep.

SCALING_SERIES = ["core", "qformat", "library"]


def scaling_metrics(rows: pd.DataFrame, group: str) -> list[tuple[str, pd.Series, str]]:
    """(title, values, y label) per panel; instructions only where the cores run."""
    panels = [
        ("Deployed flash (test set excluded)", deployed_flash(rows), BYTES),
        (ram_title(rows), library_ram(rows), BYTES),
    ]
    if group == CORTEX_M:
        panels.append(("Instructions per inference", rows["instr_forward"], INSTRUCTIONS))
    return [(title, values, label) for title, values, label in panels if values.notna().any()]


def scaling_lines(connections: pd.Series, values: pd.Series, style: SeriesStyle, label: str) -> tuple[Line, ...]:
    """The measured networks as markers, and the least-squares line through them (as the report's table fits),
    and the legend's entry: marker and line style together. Linear axes: a straight line is what a fixed cost per
    connection looks like."""
    known = values.notna() & connections.notna()
    xs, ys = [float(x) for x in connections[known]], [float(y) for y in values[known]]
    if len(set(xs)) < 2:
        return ()
    line = fit_line(xs, ys)
    ends = (min(xs), max(xs))
    return (
        Line(tuple(xs), tuple(ys), f"_{label} measured", style.colour, "none", marker=style.marker),
        Line(
            ends,
            tuple(line.slope * x + line.intercept for x in ends),
            f"_{label} fit",
            style.colour,
            style.line_style,
            linewidth=1.1,
        ),
        Line((), (), label, style.colour, style.line_style, marker=style.marker),
    )


def scaling_figure(rows: pd.DataFrame, workload: str, variant: str, opt: str, group: str) -> PlannedFigure | None:
    if rows["connections"].nunique() < 2:
        return None  # one network size: no series can have two (and the grouping below is most of a run's planning)
    sized = rows.groupby(SCALING_SERIES, sort=False).filter(lambda chosen: chosen["connections"].nunique() >= 2)
    if sized.empty:
        return None
    several = sized["library"].nunique() > 1
    keys = {
        key: (key[0], f"{format_name(key[1])}{' ' + key[2] if several else ''}")
        for key in sized.groupby(SCALING_SERIES, sort=False).groups
    }
    styles = paired_styles(list(keys.values()))
    panels = tuple(
        LinePanel(
            tuple(
                line
                for key, chosen in sized.groupby(SCALING_SERIES, sort=False)
                for line in scaling_lines(
                    chosen["connections"], values[chosen.index], styles[keys[key]], " ".join(keys[key])
                )
            ),
            (),
            "connections (weights and biases)",
            ylabel,
            title,
            False,
        )
        for title, values, ylabel in scaling_metrics(sized, group)
    )
    networks = ", ".join(dict.fromkeys(sized.sort_values("connections", kind="stable")["network"]))
    where = "Cortex-M cores" if group == CORTEX_M else f"{group} objects (sizes only, not run)"
    heading = f"Cost against network size, {where}, {workload} {variant} -{opt}"
    caption = f"{heading}: every network ({networks}) measured, with its least-squares line"
    return PlannedFigure(
        caption,
        Chart(heading, panels, 4.4, legend_title="core format"),
        f"scaling_{workload}_{group}_{variant}_{opt}.png",
    )


def scaling_figures(rows: pd.DataFrame) -> list[PlannedFigure]:
    """Per workload, variant, level and target group run at several network sizes."""
    good = ok_rows(rows)
    good = good[good["connections"].notna()].assign(group=lambda frame: frame["core"].map(target_group))
    figures = [
        scaling_figure(chosen, workload, variant, opt, group)
        for (workload, variant, opt, group), chosen in good.groupby(["workload", "variant", "opt", "group"], sort=False)
    ]
    return [figure for figure in figures if figure is not None]


def planned_figures(saved: SavedResults) -> dict[str, list[PlannedFigure]]:
    """Every figure the results hold data for, by report section (SECTIONS); a section with nothing to draw has
    an empty list. The same results give the same file names."""
    rows = saved.rows
    return {
        "footprint": footprint_figures(rows),
        "instructions": instruction_figures(rows),
        "training": training_figures(saved.training, rows),
        "scaling": scaling_figures(rows),
        "weights": weight_figures(saved.training, rows),
    }


# Drawing: matplotlib, imported on first use (it is most of a warm run's start-up otherwise).


@cache
def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def new_figure(panels: int, width_per_panel: float = 5.2, height: float = 4.2) -> tuple[Figure, list[Axes]]:
    figure, axes = pyplot().subplots(
        1, panels, figsize=(2.2 + width_per_panel * panels, height), layout="constrained", squeeze=False
    )
    return figure, list(axes[0])


def head(figure: Figure, heading: str) -> None:
    """The figure's heading: above its panels, or in the one panel's title."""
    if len(figure.axes) == 1:
        axes = figure.axes[0]
        axes.set_title(f"{heading}\n{axes.get_title()}" if axes.get_title() else heading)
    else:
        figure.suptitle(heading)


def legend_outside(figure: Figure, title: str | None = None, columns: int = 1) -> None:
    """One legend for every panel of the figure, right of them (the constrained layout keeps room for it);
    level with the panels' middle when a heading runs above them, so the two never meet."""
    entries: dict[str, object] = {}
    for axes in figure.axes:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    if entries:
        where = "outside right center" if figure.get_suptitle() else "outside right upper"
        figure.legend(
            list(entries.values()),
            list(entries),
            loc=where,
            title=title,
            ncols=columns,
            fontsize="small",
            title_fontsize="small",
        )


def label_points(axes: Axes, xs: Iterable, ys: Iterable, labels: Iterable[str]) -> None:
    """A small label beside each point with a value on both axes (explore's plot: network and format). Points at
    the same place share one label, their texts joined, so none is drawn over another."""
    at: dict[tuple[float, float], list[str]] = {}
    for x, y, label in zip(xs, ys, labels, strict=True):
        if pd.notna(x) and pd.notna(y):
            at.setdefault((float(x), float(y)), []).append(label)
    middle = (min(x for x, _ in at) + max(x for x, _ in at)) / 2 if at else 0.0
    for (x, y), texts in at.items():
        right = x > middle  # labels of the right half go left of their point, so none runs off the panel
        axes.annotate(
            "\n".join(dict.fromkeys(texts)),
            (x, y),
            xytext=(-4 if right else 4, 4),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize="x-small",
            color="#444444",
        )


def log_scale(axes: Axes) -> None:
    """So that one large value does not flatten the others."""
    axes.set_yscale("log")
    axes.grid(axis="y", which="minor", alpha=0.15)


def draw_bars(axes: Axes, panel: BarPanel) -> None:
    width = 0.8 / max(1, len(panel.series))
    for offset, bars in enumerate(panel.series):
        positions = [index + (offset - (len(panel.series) - 1) / 2) * width for index in range(len(panel.categories))]
        axes.bar(
            positions,
            bars.values,
            width,
            label=bars.label,
            color=bars.colour,
            hatch=bars.hatch,
            edgecolor="#333333",
            linewidth=0.4,
        )
    axes.set_xticks(range(len(panel.categories)), list(panel.categories), rotation=30, ha="right")
    axes.set(ylabel=panel.ylabel, title=panel.title)
    axes.grid(axis="y", alpha=0.3)
    if panel.log_scale:
        log_scale(axes)


def draw_lines(axes: Axes, panel: LinePanel) -> None:
    for line in panel.lines:
        axes.plot(
            line.xs,
            line.ys,
            label=line.label,
            color=line.colour,
            linestyle=line.line_style,
            marker=line.marker,
            linewidth=line.linewidth,
        )
    for rule in panel.rules:
        axes.axhline(rule.y, color=rule.colour, linestyle=rule.line_style, linewidth=rule.linewidth, label=rule.label)
    if panel.log_scale:
        log_scale(axes)
    axes.set(xlabel=panel.xlabel, ylabel=panel.ylabel, title=panel.title)
    axes.grid(alpha=0.3)


def drawn(chart: Chart) -> Figure:
    figure, axes = new_figure(len(chart.panels), chart.width_per_panel)
    for panel_axes, panel in zip(axes, chart.panels, strict=True):
        (draw_bars if isinstance(panel, BarPanel) else draw_lines)(panel_axes, panel)
    head(figure, chart.heading)
    legend_outside(figure, chart.legend_title, chart.legend_columns)
    return figure


def png(chart: Chart) -> bytes:
    """The chart drawn as a PNG file's bytes, with matplotlib's default style whatever the user's matplotlibrc
    says (the key holds no settings) and no software version in the file: the same chart gives the same bytes."""
    plt = pyplot()
    with plt.style.context("default"):
        figure = drawn(chart)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        plt.close(figure)
    return buffer.getvalue()


def report_figures(saved: SavedResults) -> dict[str, list[tuple[str, Figure, str]]]:
    """Every figure of planned_figures drawn as a matplotlib Figure, to look at: (caption, figure, file name)."""
    return {
        section: [(planned.caption, drawn(planned.chart), planned.file_name) for planned in figures]
        for section, figures in planned_figures(saved).items()
    }


def save(figure: Figure | None, directory: Path, name: str) -> str | None:
    """Writes figure to the report's plots folder; its path relative to the report, None for no figure."""
    if figure is None:
        return None
    (directory / PLOTS).mkdir(parents=True, exist_ok=True)
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    # No software version in the file: the same results give the same bytes.
    figure.savefig(directory / PLOTS / name, dpi=DPI, metadata={"Software": None})
    pyplot().close(figure)
    return f"{PLOTS}/{name}"


# Keys and drawing many.


@cache
def drawing_identity() -> str:
    """What besides a Chart decides its PNG's bytes: this file's code and the drawing packages' versions."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    packages = " ".join(f"{package} {version(package)}" for package in DRAWING_PACKAGES)
    return f"{code} {packages} zlib {zlib.ZLIB_RUNTIME_VERSION}"


def chart_key(chart: Chart) -> str:
    """The key of chart's PNG: exactly what it is drawn from (a Chart's repr holds every value) and by what."""
    return hashlib.sha256(f"{drawing_identity()}\n{chart!r}".encode()).hexdigest()


def start_method() -> str:
    """fork starts a worker at once, with matplotlib already imported, but is safe only while no other thread
    could hold a lock; forkserver otherwise."""
    return "fork" if threading.active_count() == 1 else "forkserver"


def pngs(charts: Sequence[Chart]) -> list[bytes]:
    """Each chart drawn, in order: in worker processes when there are several (drawing is CPU-bound and
    matplotlib not thread-safe), at most one per CPU and none started for a single chart."""
    workers = min(len(charts), os.cpu_count() or 1)
    if workers <= 1:
        return [png(chart) for chart in charts]
    pyplot()  # once here, before the workers fork, rather than once in each
    context = multiprocessing.get_context(start_method())
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(png, charts))


@dataclass(frozen=True)
class PlotFile:
    section: str
    caption: str
    name: str
    png: bytes
    drawn: bool  # False: taken from the store unchanged


def plot_files(saved: SavedResults, store: PlotStore | None = None) -> list[PlotFile]:
    """Every figure's PNG, by section in report order: from the store when its chart is there, else drawn (and
    stored). The bytes are the same either way."""
    planned = [(section, figure) for section, figures in planned_figures(saved).items() for figure in figures]
    keys = [chart_key(figure.chart) for _, figure in planned]
    stored = {} if store is None else {key: store.fetch(key) for key in keys}
    found = {key: png_bytes for key, png_bytes in stored.items() if png_bytes is not None}
    missing = {key: figure.chart for key, (_, figure) in zip(keys, planned, strict=True) if key not in found}
    drawn_now = dict(zip(missing, pngs(list(missing.values())), strict=True))
    if store is not None:
        for key, png_bytes in drawn_now.items():
            store.store(key, png_bytes)
    by_key = found | drawn_now
    return [
        PlotFile(section, figure.caption, figure.file_name, by_key[key], key in drawn_now)
        for key, (section, figure) in zip(keys, planned, strict=True)
    ]
