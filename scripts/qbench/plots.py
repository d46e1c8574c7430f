"""The report's plots: PNG files beside report.md, from the saved results.

Each function draws one figure from DataFrames and returns it, or None when
the results hold nothing to draw; `save` writes it beside the report. When a
run has more than one library, every series names its library.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .analysis import deployed_flash, library_ram, ok_rows  # noqa: E402
from .results import training_log_name  # noqa: E402

PLOTS = "plots"
LEARNED_ERROR = 0.1  # the learned criterion: every output within 0.1 of its target


def save(figure: Figure | None, directory: Path, name: str) -> str | None:
    """Writes figure to the report's plots folder; its path relative to the report, None for no figure."""
    if figure is None:
        return None
    (directory / PLOTS).mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    # No software version in the file: the same results give the same bytes.
    figure.savefig(directory / PLOTS / name, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return f"{PLOTS}/{name}"


def training_error(training: dict[str, pd.DataFrame], rows: pd.DataFrame, core: str, opt: str) -> Figure | None:
    """Error over iterations of every trainable run on one core, one line per Q format and library."""
    runs = rows[(rows["core"] == core) & (rows["opt"] == opt) & (rows["variant"] == "trainable")]
    names = {
        f"{row.qformat.upper()} {row.library}": training_log_name(
            row.workload, row.library, row.network, row.core, row.qformat, "trainable", row.opt
        )
        for row in runs.itertuples()
    }
    logs = {label: training[name] for label, name in names.items() if name in training}
    if not logs:
        return None
    figure, axes = plt.subplots(figsize=(8, 4.2))
    for label, log in sorted(logs.items()):
        axes.plot(log["iteration"], log["error"], label=label, linewidth=1.2)
    axes.axhline(LEARNED_ERROR, color="grey", linestyle="--", linewidth=0.8, label="learned (0.1)")
    axes.set(xlabel="training iteration", ylabel="largest |output - target| over the 4 patterns",
             title=f"XOR training error on the device ({core}, -{opt})")  # fmt: skip
    axes.legend()
    axes.grid(alpha=0.3)
    return figure


def weights_over_time(log: pd.DataFrame | None, label: str) -> Figure | None:
    """Every weight of one training run over the iterations (the article's `make plot`)."""
    if log is None or log.empty:
        return None
    weights = [column for column in log.columns if column.startswith("w")]
    figure, axes = plt.subplots(figsize=(8, 4.2))
    for column in weights:
        axes.plot(log["iteration"], log[column], linewidth=1.0, label=column)
    axes.set(xlabel="training iteration", ylabel="weight value", title=f"Weights while training ({label})")
    axes.legend(ncol=6, fontsize="x-small", loc="upper left")
    axes.grid(alpha=0.3)
    return figure


def several_libraries(rows: pd.DataFrame) -> bool:
    return rows["library"].nunique() > 1


def series_label(library: str, name: str, named: bool) -> str:
    """A plot series, named by its library when the run has several."""
    return f"{library} {name}" if named else name


def _by_core(chosen: pd.DataFrame, series: str, values: pd.Series, named: bool) -> pd.DataFrame:
    """index = cores in order of appearance, one column per (library, series) value."""
    order = list(dict.fromkeys(chosen["core"]))
    labels = [
        series_label(library, str(value), named)
        for library, value in zip(chosen["library"], chosen[series], strict=True)
    ]
    frame = pd.DataFrame({"core": chosen["core"], "series": labels, "value": values.to_numpy()})
    return frame.pivot(index="core", columns="series", values="value").reindex(order)


def _grouped_bars(axes, table: pd.DataFrame, ylabel: str, title: str) -> None:
    """table: index = cores (x), columns = series (bars)."""
    width = 0.8 / max(1, len(table.columns))
    positions = range(len(table.index))
    for offset, column in enumerate(table.columns):
        axes.bar([p + offset * width for p in positions], table[column].astype(float), width, label=str(column))
    axes.set_xticks([p + width * (len(table.columns) - 1) / 2 for p in positions], table.index, rotation=30,
                    ha="right")  # fmt: skip
    axes.set(ylabel=ylabel, title=title)
    axes.legend()
    axes.grid(axis="y", alpha=0.3)


def _first_network(chosen: pd.DataFrame) -> pd.DataFrame:
    """The rows of one network (the first in the results), so bars per core compare like with like."""
    return chosen[(chosen["workload"] == chosen["workload"].iloc[0]) & (chosen["network"] == chosen["network"].iloc[0])]


def footprint_by_core(rows: pd.DataFrame, qformat: str, opt: str) -> Figure | None:
    """Library flash and RAM per core, trainable against inference-only."""
    good, named = ok_rows(rows), several_libraries(rows)
    chosen = good[(good["qformat"] == qformat) & (good["opt"] == opt)]
    chosen = _first_network(chosen) if not chosen.empty else chosen
    if chosen.empty:
        return None
    flash = _by_core(chosen, "variant", chosen["lib_flash"], named)
    memory = _by_core(chosen, "variant", library_ram(chosen), named)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    _grouped_bars(left, flash, "bytes", f"Library flash, {_network_of(chosen)} {qformat.upper()} -{opt}")
    _grouped_bars(right, memory, "bytes", f"Library RAM (static + stack where run), {qformat.upper()} -{opt}")
    return figure


def instructions_by_core(rows: pd.DataFrame, opt: str) -> Figure | None:
    """Instructions per inference (inference-only images) by core and Q format."""
    good, named = ok_rows(rows), several_libraries(rows)
    chosen = good[(good["variant"] == "inference") & (good["opt"] == opt) & good["instr_forward"].notna()]
    if chosen.empty:
        return None
    chosen = _first_network(chosen)
    table = _by_core(chosen, "qformat", chosen["instr_forward"], named)
    figure, axes = plt.subplots(figsize=(9, 4.2))
    _grouped_bars(
        axes, table, "instructions (exact, QEMU)", f"Instructions per inference, {_network_of(chosen)} -{opt}"
    )
    return figure


def _network_of(chosen: pd.DataFrame) -> str:
    return f"{chosen['workload'].iloc[0]} {chosen['network'].iloc[0]}"


def scaling(rows: pd.DataFrame) -> Figure | None:
    """Deployed flash and instructions per inference against the network's connections, one line per
    core and format, for every workload run at several network sizes."""
    good, named = ok_rows(rows), several_libraries(rows)
    good = good[good["connections"].notna()]
    series = {
        key: group.sort_values("connections")
        for key, group in good.groupby(["workload", "library", "core", "qformat", "variant", "opt"], sort=False)
        if group["connections"].nunique() >= 2
    }
    if not series:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for (workload, library, core, qformat, variant, opt), group in series.items():
        label = series_label(library, f"{workload} {core} {qformat} {variant} -{opt}", named)
        left.plot(group["connections"], deployed_flash(group), marker="o", linewidth=1.2, label=label)
        if group["instr_forward"].notna().any():
            right.plot(group["connections"], group["instr_forward"], marker="o", linewidth=1.2, label=label)
    left.set(xlabel="connections (weights and biases)", ylabel="bytes", title="Deployed flash (test data excluded)")
    right.set(xlabel="connections (weights and biases)", ylabel="instructions (exact, QEMU)",
              title="Instructions per inference")  # fmt: skip
    for axes in (left, right):
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return figure
