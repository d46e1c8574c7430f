"""`qbench explore`: which network to put on a part. The sweep's inference rows on the part's core, kept when
they fit the part, and the Pareto front of accuracy against latency and flash among those that fit.

- Flash: deployed flash, as the report reads it (library flash without the test split's tables).
- RAM: static RAM, the measured stack peak and one exception frame below it (qbench.analysis.budget_ram, as
  the part budgets and the claims count it).
- Latency: one inference at the part's clock, with the part's flash wait states (qbench.analysis.part_cycles):
  `latency_us` the slowest case (the worst occurrence over the whole test set, at its worst-case cycles, the
  wait states paid on every non-sequential fetch; on every fetch for a part with neither prefetch buffer nor
  cache), which the budget and the choice use, and `latency_min_us` the fastest (the mean inference's best-case
  cycles, every fetch hidden); unknown on a core without a cycle model (targets/timing/), where the front is of
  accuracy against flash alone.
- Accuracy: on the device, over the test split; for xor, 1 when all four outputs are right, else 0.

The recommended network is the most accurate that fits; ties go to the lower latency, then the smaller flash.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from qbench.common.errors import UsageError
from qbench.hardware.targets import Part, load_targets, select
from qbench.images.matrix import expand
from qbench.images.workloads import WORKLOADS
from qbench.orchestration.run import RunRequest, all_parts, refusal
from qbench.records.results import SavedResults
from qbench.reporting.analysis import (
    budget_ram,
    deployed_flash,
    fetch_text,
    is_measured,
    ok_rows,
    part_label,
    part_latency_us,
    tuples_of,
)

DEFAULT_FORMATS = "q16.16,q8.8"
DEFAULT_HIDDEN_LAYERS = "1,2"
DEFAULT_HIDDEN_NEURONS = "4,8,16,32"
COLUMNS = [
    "library",
    "network",
    "qformat",
    "connections",
    "accuracy",
    "latency_us",
    "latency_min_us",
    "deployed_flash",
    "ram",
    "flash_pct",
    "ram_pct",
]
CHOICE_ORDER = ["accuracy", "latency_us", "deployed_flash", "ram"]  # best first: accuracy down, the rest up
FRONT_DECIMALS = {"accuracy": 3, "latency_us": 1, "latency_min_us": 1, "flash_pct": 1, "ram_pct": 1}
EXPLORE_PLOT = "pareto.png"


class NothingFits(Exception):
    """No network of the sweep fits the part; the message says how far the nearest one is."""


@dataclass(frozen=True)
class Budget:
    part: Part
    max_latency_us: float | None = None

    def describe(self) -> str:
        latency = f", within {self.max_latency_us:g} µs" if self.max_latency_us is not None else ""
        return f"{part_label(self.part)}{latency}"


def candidates(rows: pd.DataFrame, part: Part) -> pd.DataFrame:
    """Every successful inference row on the part's core with what decides the choice (COLUMNS)."""
    good = ok_rows(rows)
    good = good[(good["variant"] == "inference") & (good["core"] == part.core)]
    flash, records = deployed_flash(good).tolist(), []
    for row, deployed in zip(tuples_of(good), flash, strict=True):
        ram = budget_ram(row)
        fastest, slowest = part_latency_us(row, part)
        records.append(
            {
                "library": row.library,
                "network": row.network,
                "qformat": row.qformat,
                "connections": row.connections,
                "accuracy": _accuracy(row),
                "latency_us": slowest,
                "latency_min_us": fastest,
                "deployed_flash": deployed,
                "ram": ram,
                "flash_pct": 100.0 * deployed / part.flash_bytes,
                "ram_pct": 100.0 * ram / part.ram_bytes,
            }
        )
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def _accuracy(row) -> float | None:
    if is_measured(row.accuracy_device):
        return float(row.accuracy_device)
    return None if not is_measured(row.learned) else float(bool(row.learned))


def fitting(table: pd.DataFrame, budget: Budget) -> pd.DataFrame:
    fits = (table["deployed_flash"] <= budget.part.flash_bytes) & (table["ram"] <= budget.part.ram_bytes)
    fits &= table["accuracy"].notna()
    if budget.max_latency_us is not None:
        fits &= table["latency_us"].notna() & (table["latency_us"] <= budget.max_latency_us)
    return table[fits]


def pareto_front(table: pd.DataFrame) -> pd.DataFrame:
    """The networks no other beats: none at least as accurate, as fast and as small and better in one (latency
    left out when unknown), best first."""
    costs = ["latency_us", "deployed_flash"] if table["latency_us"].notna().all() else ["deployed_flash"]
    values = table[["accuracy", *costs]].astype(float).to_numpy()
    kept = []
    for accuracy, *cost in values:
        beaten = any(
            other[0] >= accuracy
            and all(o <= c for o, c in zip(other[1:], cost, strict=True))
            and (other[0] > accuracy or any(o < c for o, c in zip(other[1:], cost, strict=True)))
            for other in values
        )
        kept.append(not beaten)
    return best_first(table[kept])


def best_first(table: pd.DataFrame) -> pd.DataFrame:
    ascending = [False, True, True, True]
    return table.sort_values(CHOICE_ORDER, ascending=ascending, kind="stable", na_position="last")


@dataclass(frozen=True)
class Exploration:
    budget: Budget
    swept: pd.DataFrame  # every candidate on the part's core
    front: pd.DataFrame
    recommended: pd.Series


def explore(rows: pd.DataFrame, budget: Budget) -> Exploration:
    """The front and the recommendation; NothingFits when no network fits."""
    swept = candidates(rows, budget.part)
    fit = fitting(swept, budget)
    if fit.empty:
        raise NothingFits(_nothing_fits(swept, budget))
    return Exploration(budget, swept, pareto_front(fit), best_first(fit).iloc[0])


def _nothing_fits(swept: pd.DataFrame, budget: Budget) -> str:
    if swept.empty:
        return f"no network of the sweep ran successfully on {budget.part.core}; see the report for why"
    smallest = swept.sort_values(["deployed_flash", "ram"]).iloc[0]
    fastest = swept["latency_us"].min()
    latency = f", the fastest {fastest:,.1f} µs" if budget.max_latency_us is not None and pd.notna(fastest) else ""
    return (
        f"none of the {len(swept)} networks fits {budget.describe()}: the smallest ({smallest.network} "
        f"{smallest.qformat}) takes {smallest.deployed_flash:,.0f} B flash and {smallest.ram:,.0f} B RAM{latency}"
    )


def recommendation(exploration: Exploration) -> str:
    best = exploration.recommended
    fastest = "" if pd.isna(best.latency_min_us) else f"{best.latency_min_us:,.1f} to "
    latency = (
        "latency unknown (no cycle model for the core)"
        if pd.isna(best.latency_us)
        else f"{fastest}{best.latency_us:,.1f} µs per inference (the worst case counts)"
    )
    return (
        f"Recommended for {exploration.budget.describe()}: {best.library} {best.network} in {best.qformat}, "
        f"accuracy {best.accuracy:.3f}, {latency}, {best.deployed_flash:,.0f} B flash "
        f"({best.flash_pct:.1f} %), {best.ram:,.0f} B RAM ({best.ram_pct:.1f} %)."
    )


def front_figure(exploration: Exploration):
    """Accuracy against latency and against flash: every network of the sweep, those that fit, and the front."""
    from qbench.reporting.plots import PALETTE, head, label_points, legend_outside, new_figure

    swept, front = exploration.swept, exploration.front
    fit = fitting(swept, exploration.budget)
    axes_by_cost = [
        ("latency_us", "µs per inference (slowest, flash wait states counted)"),
        ("deployed_flash", "deployed flash (bytes)"),
    ]
    axes_by_cost = [(column, label) for column, label in axes_by_cost if swept[column].notna().any()]
    figure, panels = new_figure(len(axes_by_cost))
    for axes, (column, label) in zip(panels, axes_by_cost, strict=True):
        misfits = swept.drop(index=fit.index)
        if not misfits.empty:
            axes.scatter(misfits[column], misfits["accuracy"], color="#BBBBBB", marker="x", label="does not fit")
        axes.scatter(fit[column], fit["accuracy"], color=PALETTE[0], marker="o", label="fits")
        ordered = front.sort_values(column)
        axes.step(ordered[column], ordered["accuracy"], where="post", color=PALETTE[3], label="Pareto front")
        axes.scatter(
            [exploration.recommended[column]],
            [exploration.recommended["accuracy"]],
            s=160,
            facecolors="none",
            edgecolors=PALETTE[2],
            linewidths=2,
            label="recommended",
        )
        label_points(axes, swept[column], swept["accuracy"], point_labels(swept))
        axes.set_xlabel(label)
        axes.set_ylabel("accuracy on the device")
        axes.grid(alpha=0.3)
    head(figure, f"Which network for {exploration.budget.describe()}")
    legend_outside(figure)
    return figure


def point_labels(table: pd.DataFrame) -> list[str]:
    """What the plot writes beside each point: its network and format ('13-16-3 q8.8'), and its library when the
    sweep has more than one."""
    several = table["library"].nunique() > 1
    return [
        f"{library + ' ' if several else ''}{network} {qformat}"
        for library, network, qformat in zip(table["library"], table["network"], table["qformat"], strict=True)
    ]


def latency_assumption(part: Part) -> str:
    """The assumption latency_us and latency_min_us rest on, for explore.md."""
    facts = fetch_text(part)
    if not part.flash_wait_states:
        return f"{part.name} reads flash with no wait state at its clock ({facts}), so the range is the core's."
    if part.fetch_hidden:
        return (
            f"{part.name} has {facts}: latency_min_us assumes the prefetch buffer or cache hides every fetch "
            f"(the core's best case), latency_us that every non-sequential fetch (taken branch, call, return) "
            f"pays the {part.flash_wait_states} wait state(s) on top of the core's worst case."
        )
    return (
        f"{part.name} has {facts} and nothing to hide them: latency_min_us has every non-sequential fetch pay "
        f"the {part.flash_wait_states} wait state(s), latency_us every instruction's fetch."
    )


def write_exploration(directory: Path, exploration: Exploration, table_markdown: str) -> str:
    """explore.md and its plot into a results folder; returns explore.md's text."""
    from qbench.reporting.plots import save

    plot = save(front_figure(exploration), directory, EXPLORE_PLOT)
    swept, budget = exploration.swept, exploration.budget
    text = "\n".join(
        [
            f"# Which network for {budget.describe()}",
            "",
            f"{len(fitting(swept, budget))} of the {len(swept)} networks swept on {budget.part.core} "
            "fit. Flash is deployed flash (the test split left out); RAM is static RAM, the measured stack peak and "
            "one exception frame; latency is one inference at the part's clock, estimated from the core's cycle "
            "range, with the part's flash fetch priced in: " + latency_assumption(budget.part) + " The whole sweep "
            "is in results.csv.",
            "",
            "## Pareto front: accuracy against latency and flash",
            "",
            table_markdown,
            "",
            recommendation(exploration),
            "",
            f"![The front]({plot})",
            "",
        ]
    )
    (directory / "explore.md").write_text(text)
    return text


def chosen_part(name: str, request: RunRequest, max_latency_us: float | None) -> Part:
    """The part explore chooses for, once it is known that the sweep has inference cells on its core and that a
    latency budget can be checked there."""
    from qbench.execution.cycle_models import cycle_models

    part = select([name], all_parts(request.targets, request.parts_files), "part")[0]
    matrix = expand(load_targets(request.targets), WORKLOADS, replace(request.matrix, cores=(part.core,)))
    if matrix.problems:
        raise refusal(matrix.problems)
    if not matrix.cells:
        why = "; ".join(dict.fromkeys(rejected.reason for rejected in matrix.rejected))
        raise UsageError(
            f"nothing to explore: no inference cell of {request.matrix.workload} on {part.core} "
            f"({part.name}'s core) can be built: {why or 'the request names none'}"
        )
    if max_latency_us is not None and part.core not in cycle_models():
        raise UsageError(
            f"--max-latency-us cannot be checked on {part.name}: its core {part.core} has no cycle "
            "model (targets/timing/), so its cycles are not estimated"
        )
    return part


def on_part(request: RunRequest, part: Part) -> RunRequest:
    """The sweep's request narrowed to the part: its core's cells, its budget in the report."""
    return replace(request, matrix=replace(request.matrix, cores=(part.core,)), parts=(part.name,))


@dataclass(frozen=True)
class Explored:
    """What explore adds beside the sweep's results: explore.md's text, or why no network fits the part."""

    text: str = ""
    nothing_fits: str = ""


def add_exploration(budget: Budget, directory: Path, saved: SavedResults) -> Explored:
    """explore.md and its plot into the results folder being written (a run's `then`)."""
    from qbench.reporting.report import markdown

    try:
        exploration = explore(saved.rows, budget)
    except NothingFits as error:
        return Explored(nothing_fits=str(error))
    table = markdown(exploration.front[COLUMNS], FRONT_DECIMALS)
    return Explored(text=write_exploration(directory, exploration, table))
