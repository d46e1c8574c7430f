"""The markdown report: tables from qbench.analysis rendered through a
template (scripts/qbench/reporting/templates/report.md.j2). Words live in the template,
data in DataFrames.

The report opens with a first screen of at most FIRST_SCREEN_LINES lines that
answers the question (the article's claims for an XOR run, what the network
costs on each core, what failed); details follow, and provenance closes it. A
column with one value on every row is named in the table's caption instead,
and a section the run has no data for is left out."""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from tabulate import tabulate

from qbench.hardware.targets import Part
from qbench.records.keys import CellKey
from qbench.records.results import SavedResults, Status, library_order
from qbench.reporting import analysis, plots
from qbench.reporting.claims import ARTICLE, CLAIM_IMAGES, CONFIGURATION, UNMEASURED, article_claims
from qbench.reporting.plot_store import PlotStore

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TEMPLATES = Path(__file__).with_name("templates")
FIRST_SCREEN_LINES = 40
FIRST_SCREEN_END = "<!-- end of the first screen -->"
MISSING = "–"
# Columns that say which cell a row is: when one value fills a whole table, the caption names it instead.
CONTEXT_COLUMNS = (*CellKey.columns(), "part", "ram")
# Instruction counts are exact per occurrence, the figure a mean over every occurrence of the run.
MEAN_COLUMNS = (
    "instr_forward",
    "instr_train_step",
    "instructions",
    "instructions per inference",
    "instructions per training step",
)
FAILURE_KINDS_SHOWN = 5
QUANTIZATION_DECIMALS = {
    "accuracy_device": 4,
    "accuracy_float_host": 4,
    "mae_device": 4,
    "mae_float_host": 4,
    "quantization_error": 6,
}
PLOT_SECTIONS = plots.SECTIONS  # the template places each
REGRESSION_DECIMALS = {
    f"{figure}_{where}": 4 for figure in ("mae", "rmse", "max_error") for where in ("device", "float_host")
}
FORMAT_DECIMALS = {"accuracy_float_host": 4, "accuracy_device": 4, "flash_vs_float": 2, "instr_vs_float": 2}
SCALING_DECIMALS = {
    f"{metric}_{part}": digits
    for metric in ("flash", "ram", "instructions")
    for part, digits in (("per_connection", 2), ("fixed", 0), ("r2", 4))
}
RATIO_DECIMALS = {column: 2 for column in analysis.RATIO_COLUMNS if column.endswith("_ratio")}
PERCENT_DECIMALS = {c: 1 for c in ("lib_flash_pct", "lib_ram_pct", "img_flash_pct", "img_ram_pct", "share_pct")}


def is_missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def number_text(value: float, decimals: int | None) -> str:
    """A figure with thousands separated: `decimals` places, or (None) bare when whole and one place otherwise."""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 1
    return f"{value:,.{decimals}f}"


def cell_text(value, decimals: int | None = None) -> str:
    if is_missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return number_text(float(value), decimals)
    return str(value)


def is_number_column(column: pd.Series) -> bool:
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return numeric and column.notna().any()


def markdown(frame: pd.DataFrame, decimals: dict[str, int] | None = None) -> str:
    """A table for GitHub markdown ('' for no rows): numbers right-aligned with thousands separated, to the
    given decimals per column (else bare when whole, one place otherwise); missing figures as a dash."""
    if frame.empty:
        return ""
    decimals = decimals or {}
    columns = [[cell_text(value, decimals.get(column)) for value in frame[column].tolist()] for column in frame.columns]
    cells = [list(row) for row in zip(*columns, strict=True)]
    align = ["right" if is_number_column(frame[column]) else "left" for column in frame.columns]
    return tabulate(
        cells, headers=[str(column) for column in frame.columns], tablefmt="pipe", disable_numparse=True, colalign=align
    )


def constant_columns(frame: pd.DataFrame) -> dict[str, object]:
    """The context columns with one value on every row."""
    return {
        column: frame[column].iloc[0]
        for column in frame.columns
        if column in CONTEXT_COLUMNS and frame[column].nunique(dropna=False) == 1
    }


def shown_value(column: str, value) -> str:
    return f"-{value}" if column == "opt" else cell_text(value)


def caption(constants: dict[str, object]) -> str:
    """'Every row: library qnn, opt -Os.' for the columns a table leaves out; '' for none."""
    if not constants:
        return ""
    named = ", ".join(f"{column} {shown_value(column, value)}" for column, value in constants.items())
    return f"Every row: {named}."


def named_as_means(frame: pd.DataFrame) -> pd.DataFrame:
    """Instruction columns holding a fractional mean named as means ('mean instr_forward')."""
    renamed = {}
    for column in frame.columns:
        values = frame[column].dropna() if column in MEAN_COLUMNS else ()
        if len(values) and not all(float(value).is_integer() for value in values):
            renamed[column] = f"mean {column}" if " " in column else f"mean_{column}"
    return frame.rename(columns=renamed)


@dataclass(frozen=True)
class Table:
    """A markdown table and its caption (the context its rows share); as text, the caption's line above the
    table; false when there is no table."""

    caption: str
    text: str

    def __str__(self) -> str:
        return f"{self.caption}\n\n{self.text}" if self.caption else self.text

    def __bool__(self) -> bool:
        return bool(self.text)


def table(frame: pd.DataFrame, decimals: dict[str, int] | None = None) -> Table:
    """A table with its caption: constant context columns named in the caption, instruction means named as
    such, columns with nothing in them left out; an empty Table for no rows."""
    if frame.empty:
        return Table("", "")
    frame = frame.dropna(axis="columns", how="all")
    constants = constant_columns(frame)
    shown = named_as_means(frame.drop(columns=list(constants)))
    decimals = {**(decimals or {}), **{f"mean {c}": d for c, d in (decimals or {}).items()}}
    return Table(caption(constants), markdown(shown, decimals))


def claims_for_report(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims as the report shows them: a library with no claim measured gets one row saying so."""
    unmeasured = [
        library for library, group in claims.groupby("library", sort=False) if (group["verdict"] == UNMEASURED).all()
    ]
    kept = claims[~claims["library"].isin(unmeasured)]
    nothing = pd.DataFrame(
        {
            "claim": ["every claim"] * len(unmeasured),
            "library": unmeasured,
            "measured": [f"the run has no image of it in the article's configuration ({CONFIGURATION})"]
            * len(unmeasured),
            "verdict": [UNMEASURED] * len(unmeasured),
        }
    )
    shown = pd.concat([kept, nothing]) if unmeasured else kept
    return shown[["claim", "library", "measured", "verdict"]].reset_index(drop=True)


@dataclass(frozen=True)
class SymbolsImage:
    """The image whose symbols the report lists (key None: no image), and its trainable against inference diff."""

    key: dict | None
    label: str = ""
    diff_label: str = ""
    symbols: pd.DataFrame | None = None
    diff: pd.DataFrame = field(default_factory=pd.DataFrame)


def listed_row(rows: pd.DataFrame) -> pd.Series | None:
    """The row whose image's symbols the report lists: the article's cell when it ran, else the first success."""
    good = analysis.ok_rows(rows)
    chosen = good[analysis.matching(good, ARTICLE)]
    if chosen.empty:
        chosen = good
    return None if chosen.empty else chosen.iloc[0]


def report_symbols(saved: SavedResults) -> analysis.SymbolFigures:
    """What the report takes from the symbols, in one pass over them: the claims' images and every variant of the
    listed image named."""
    first = listed_row(saved.rows)
    image = {} if first is None else CellKey.of_row(first).as_dict()
    listed = [{column: value for column, value in image.items() if column != "variant"}] if image else []
    return analysis.symbol_figures(saved.symbols.chunks(), [*CLAIM_IMAGES, *listed])


def symbols_image(rows: pd.DataFrame, named: pd.DataFrame) -> SymbolsImage:
    """The listed image (listed_row) and its symbols, from the symbols of the images the report names."""
    first = listed_row(rows)
    if first is None:
        return SymbolsImage(None)
    image = CellKey.of_row(first)
    trainable = analysis.image_symbols(named, replace(image, variant="trainable"))
    inference = analysis.image_symbols(named, replace(image, variant="inference"))
    shown = trainable if not trainable.empty else inference
    variant = "trainable" if not trainable.empty else "inference"
    both = not trainable.empty and not inference.empty
    library = "" if first.library == ARTICLE["library"] else f" [{first.library}]"
    return SymbolsImage(
        key=replace(image, variant=variant).as_dict(),
        label=f"{first.workload} {first.network}, {first.core} {first.qformat} {variant} -{first.opt}{library}",
        diff_label=f"{first.workload} {first.network}, {first.core} {first.qformat} -{first.opt}{library}",
        symbols=shown if not shown.empty else None,
        diff=analysis.symbol_diff_table(inference, trainable) if both else pd.DataFrame(),
    )


def plot_figures(saved: SavedResults) -> dict[str, list[tuple[str, Figure, str]]]:
    """The report's figures by section (qbench.plots.report_figures): (caption, figure, file name) each."""
    return plots.report_figures(saved)


Figures = dict[str, list[tuple[str, str]]]  # section -> (caption, path relative to the report) of each figure


def draw_plots(saved: SavedResults, directory: Path, store: PlotStore | None = None) -> Figures:
    """Writes every figure beside the report, from the store when it holds it: (caption, path relative to the
    report) by section."""
    figures: Figures = {section: [] for section in plots.SECTIONS}
    for plot in plots.plot_files(saved, store):
        (directory / plots.PLOTS).mkdir(parents=True, exist_ok=True)
        (directory / plots.PLOTS / plot.name).write_bytes(plot.png)
        figures[plot.section].append((plot.caption, f"{plots.PLOTS}/{plot.name}"))
    return figures


def figure_markdown(figures: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"![{text}]({path})" for text, path in figures if path)


def library_table(libraries: dict[str, dict[str, str]]) -> pd.DataFrame:
    """One row per library of the run: where it was, its revision and, for a registry package, its version."""
    return pd.DataFrame(
        [{"library": name, **libraries[name]} for name in sorted(libraries, key=library_order)],
        columns=["library", "path", "revision", "version"],
    )


def flags_markdown(rows: pd.DataFrame) -> str:
    flags = analysis.flags_table(rows)
    return markdown(flags.assign(flags=[f"`{line}`" for line in flags["flags"]]))


def compares_formats(rows: pd.DataFrame) -> bool:
    """Whether the run has something to set number formats against: a float32 build or a measured accuracy."""
    good = analysis.ok_rows(rows)
    return bool((good["qformat"] == analysis.FLOAT_FORMAT).any() or good["accuracy_device"].notna().any())


def headline_candidates(rows: pd.DataFrame) -> list[tuple[pd.DataFrame, str]]:
    """The rows the headline table may show, richest first, with what each leaves for the details: every format
    and network, then each library's preferred format (the article's), then each workload's first network too."""
    formats = analysis.preferred_formats(rows, ARTICLE["qformat"])
    networks = analysis.first_networks(formats)
    one_format = f"each library in one format ({ARTICLE['qformat'].upper()} where it has it)"
    candidates = [
        (rows, ""),
        (formats, f"{one_format}; the others are in the details below"),
        (networks, f"{one_format} and each workload's first network; the others are in the details below"),
    ]
    # A narrowing that leaves out nothing is no candidate (its note would be wrong).
    return [candidates[0]] + [
        candidate
        for candidate, wider in zip(candidates[1:], candidates, strict=False)
        if len(candidate[0]) < len(wider[0])
    ]


def timing_sources(rows: pd.DataFrame) -> list[str]:
    """The cycle models the rows' estimates come from, as the rows record them."""
    return sorted(set(rows.get("cycle_model", pd.Series(dtype=str)).dropna()) - {""})


def starting_weights(rows: pd.DataFrame) -> str:
    """Where the trainable rows' weights started (their initial_weights), as the learning section says it."""
    trainable = rows[rows["variant"] == "trainable"] if "variant" in rows.columns else rows.iloc[:0]
    sources = sorted(set(trainable.get("initial_weights", pd.Series(dtype=str)).dropna().astype(str)) - {""})
    if sources == ["library"]:
        return (
            "Each library's trainable images started from its own generator's initial weights "
            "(`--initial-weights library`): iterations to learn reflect the generators too."
        )
    if len(sources) == 1:
        return (
            f"Every library's trainable images started from the same initial weights, drawn on the host by "
            f"qbench's seeded generator (`initial_weights`: {sources[0]}): iterations to learn compare the "
            "libraries' training, not their random generators."
        )
    return (
        (
            f"Trainable images started from different initial weights ({', '.join(sources)}): compare "
            "iterations to learn only between rows with the same `initial_weights`."
        )
        if sources
        else ""
    )


@dataclass(frozen=True)
class Details:
    """Everything the report shows below the first screen, each "" or an empty Table (left out) when the run has
    no data for it."""

    article: str
    emulated_elsewhere: list[tuple[str, str]]  # (core, the CPU QEMU modelled for it)
    plots: dict[str, str]  # section -> its figures' markdown
    footprint: Table
    attribution: Table
    host: bool  # the run has host (x86-64) rows
    ratios: Table
    budgets: Table
    image: SymbolsImage
    groups: str
    largest: str
    diff: str
    speed_forward: Table
    speed_train_step: Table
    model_comparison: Table
    clock_mhz: str
    ram: Table
    learning: Table
    initial_weights: str
    formats: Table
    side_by_side: Table
    test_sets: str
    quantization: Table
    regression: Table
    scaling: Table
    forward_functions: Table
    train_functions: Table
    failures: Table
    environment: dict  # as results.json holds it
    timing_sources: list[str]
    libraries: str
    flags: str


def details(
    saved: SavedResults,
    symbols: analysis.SymbolFigures,
    parts: dict[str, Part],
    figures: dict[str, list[tuple[str, str]]],
) -> Details:
    """Everything below the first screen."""
    rows = saved.rows
    image = symbols_image(rows, symbols.named)
    listed = image.symbols is not None
    speed_decimals = dict.fromkeys(
        (column for columns in analysis.BUDGET_SPEED_COLUMNS.values() for column in columns), 1
    )
    return Details(
        article=markdown(analysis.article_table(saved.article), {"text_ratio": 2, "bss_ratio": 2}),
        emulated_elsewhere=analysis.emulated_elsewhere(rows),
        plots={section: figure_markdown(figures.get(section, [])) for section in PLOT_SECTIONS},
        footprint=table(analysis.footprint_table(rows, symbols.network)),
        attribution=table(symbols.attribution),
        host=bool((analysis.ok_rows(rows)["core"] == "host").any()),
        ratios=table(analysis.variant_ratio_table(rows, symbols.network), RATIO_DECIMALS),
        budgets=table(analysis.budget_table(rows, parts), {**PERCENT_DECIMALS, **speed_decimals}),
        image=image,
        groups=markdown(analysis.group_totals(image.symbols)) if listed else "",
        largest=markdown(analysis.largest_symbols(image.symbols)) if listed else "",
        diff=markdown(image.diff),
        speed_forward=table(analysis.speed_table(rows, "forward"), _us_decimals("forward")),
        speed_train_step=table(analysis.speed_table(rows, "train_step"), _us_decimals("train_step")),
        model_comparison=table(analysis.model_comparison_table(rows), {"LLVM / TRM": 2}),
        clock_mhz=f"{analysis.COMPARISON_CLOCK_HZ / 1e6:g}",
        ram=table(analysis.ram_table(rows)),
        learning=table(analysis.cores_together(analysis.learning_table(rows)), {"final_error": 4}),
        initial_weights=starting_weights(rows),
        formats=table(analysis.format_table(rows), FORMAT_DECIMALS) if compares_formats(rows) else Table("", ""),
        side_by_side=table(analysis.libraries_table(rows), FORMAT_DECIMALS),
        test_sets=markdown(analysis.test_sets_table(rows)),
        quantization=table(analysis.quantization_table(rows), QUANTIZATION_DECIMALS),
        regression=table(analysis.regression_table(rows), REGRESSION_DECIMALS),
        scaling=table(analysis.scaling_table(rows), SCALING_DECIMALS),
        forward_functions=function_table(saved, image, "forward"),
        train_functions=function_table(saved, image, "train_step"),
        failures=table(analysis.failures_table(rows)),
        environment=as_written(saved.environment),
        timing_sources=timing_sources(rows),
        libraries=markdown(library_table(saved.environment["libraries"])) if saved.environment["libraries"] else "",
        flags=flags_markdown(rows),
    )


def function_table(saved: SavedResults, image: SymbolsImage, region: str) -> Table:
    """The functions one region of the listed image spends its instructions in (an empty Table for no image)."""
    if image.key is None:
        return Table("", "")
    return table(analysis.function_share_table(saved.instructions, image.key, region), PERCENT_DECIMALS)


def as_written(environment: dict) -> dict:
    """The environment as results.json holds it (every mapping's keys sorted): a report from a run's rows in memory
    is byte for byte the report from its files."""
    return json.loads(json.dumps(environment, sort_keys=True))


def _us_decimals(region: str) -> dict[str, int]:
    return {analysis.speed_column(region, analysis.COMPARISON_CLOCK_HZ): 1}


@dataclass(frozen=True)
class Counts:
    """The matrix's cells: ok, invalid (cannot be built as asked), and the others, which failed."""

    ok: int
    invalid: int
    total: int

    @property
    def failed(self) -> int:
        return self.total - self.ok - self.invalid


@dataclass(frozen=True)
class FirstScreen:
    """The first screen but its cost-per-core table: the counts, the claims (XOR runs only) and what failed."""

    counts: Counts
    workloads: str
    claims: Table
    configuration: str
    failure_kinds: list[analysis.FailureKind]  # the first FAILURE_KINDS_SHOWN
    more_failure_kinds: int  # the kinds left out
    problems: list[str]  # the request's, from the environment


def first_screen(saved: SavedResults, symbols: analysis.SymbolFigures, parts: dict[str, Part]) -> FirstScreen:
    rows = saved.rows
    counts = Counts(
        ok=int((rows["status"] == Status.OK).sum()),
        invalid=int((rows["status"] == Status.INVALID).sum()),
        total=len(rows),
    )
    xor = bool((rows["workload"] == ARTICLE["workload"]).any())
    claims = claims_for_report(article_claims(rows, symbols, saved.training, parts)) if xor else pd.DataFrame()
    kinds = analysis.failure_kinds(rows)
    return FirstScreen(
        counts=counts,
        workloads=", ".join(sorted(rows["workload"].unique())) or "none",
        claims=table(claims),
        configuration=CONFIGURATION,
        failure_kinds=kinds[:FAILURE_KINDS_SHOWN],
        more_failure_kinds=max(len(kinds) - FAILURE_KINDS_SHOWN, 0),
        problems=saved.environment["problems"],
    )


def headline_decimals() -> dict[str, int]:
    clock = f"{analysis.COMPARISON_CLOCK_HZ / 1e6:g} MHz"
    return {
        f"µs per inference at {clock}": 1,
        f"worst µs per inference at {clock}": 1,
        f"µs per training step at {clock}": 1,
        "accuracy on device %": 1,
        "float64 on host %": 1,
    }


def render(saved: SavedResults, parts: dict[str, Part], figures: dict[str, list[tuple[str, str]]]) -> str:
    """The report: the richest headline whose first screen fits FIRST_SCREEN_LINES lines (the narrowest when
    none does), then the details."""
    template = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    ).get_template("report.md.j2")
    symbols = report_symbols(saved)
    screen, below = first_screen(saved, symbols, parts), details(saved, symbols, parts, figures)
    text = ""
    for rows, narrowed in headline_candidates(saved.rows):
        cost = table(analysis.headline_table(rows), headline_decimals())
        text = template.render(screen=screen, details=below, cost=cost, narrowed=narrowed)
        if first_screen_lines(text) <= FIRST_SCREEN_LINES:
            break
    return text


def first_screen_lines(text: str) -> int:
    """Lines before the first screen's end mark (the whole text's when it has none)."""
    return len(text.split(FIRST_SCREEN_END, 1)[0].rstrip("\n").splitlines())


def write_report(
    directory: Path, saved: SavedResults, parts: dict[str, Part], plot_store: PlotStore | None = None
) -> Path:
    """report.md and its plots into directory; plot_store: figures drawn before (by key), None to draw them all."""
    path = directory / "report.md"
    path.write_text(render(saved, parts, draw_plots(saved, directory, plot_store)))
    return path
