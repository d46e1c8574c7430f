"""The report's plots: PNG files beside report.md, from the saved results.

Each function draws one figure from DataFrames and returns the file's path
relative to the report, or None when the results hold nothing to draw.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .analysis import deployed_flash, library_ram, ok_rows  # noqa: E402
from .results import QNN_LIBRARY, training_log_name  # noqa: E402

PLOTS = "plots"
LEARNED_ERROR = 0.1  # the learned criterion: every output within 0.1 of its target


def _save(figure, directory: Path, name: str) -> str:
    (directory / PLOTS).mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    # No software version in the file: the same results give the same bytes.
    figure.savefig(directory / PLOTS / name, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return f"{PLOTS}/{name}"


def training_error(training: dict[str, pd.DataFrame], rows: pd.DataFrame, core: str, opt: str, directory: Path):
    """Error over iterations of every trainable run on one core, one line per Q format."""
    runs = rows[(rows["core"] == core) & (rows["opt"] == opt) & (rows["variant"] == "trainable")]
    names = {
        series_label(row.library, row.qformat.upper()): training_log_name(
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
    return _save(figure, directory, f"training_error_{core}_{opt}.png")


def weights_over_time(log: pd.DataFrame | None, label: str, directory: Path):
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
    return _save(figure, directory, "weights.png")


def series_label(library: str, name: str) -> str:
    """A plot series: qnn's carry no library name, another library's do."""
    return name if library == QNN_LIBRARY else f"{library} {name}"


def _by_core(chosen: pd.DataFrame, series: str, values: pd.Series) -> pd.DataFrame:
    """index = cores in order of appearance, one column per (library, series) value."""
    order = list(dict.fromkeys(chosen["core"]))
    labels = [
        series_label(library, str(value)) for library, value in zip(chosen["library"], chosen[series], strict=True)
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


def footprint_by_core(rows: pd.DataFrame, qformat: str, opt: str, directory: Path):
    """Library flash and RAM per core, trainable against inference-only."""
    good = ok_rows(rows)
    chosen = good[(good["qformat"] == qformat) & (good["opt"] == opt)]
    chosen = _first_network(chosen) if not chosen.empty else chosen
    if chosen.empty:
        return None
    flash = _by_core(chosen, "variant", chosen["lib_flash"])
    memory = _by_core(chosen, "variant", library_ram(chosen))
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    _grouped_bars(left, flash, "bytes", f"Library flash, {_network_of(chosen)} {qformat.upper()} -{opt}")
    _grouped_bars(right, memory, "bytes", f"Library RAM (static + stack where run), {qformat.upper()} -{opt}")
    return _save(figure, directory, f"footprint_by_core_{qformat}_{opt}.png")


def instructions_by_core(rows: pd.DataFrame, opt: str, directory: Path):
    """Instructions per inference (inference-only images) by core and Q format."""
    good = ok_rows(rows)
    chosen = good[(good["variant"] == "inference") & (good["opt"] == opt) & good["instr_forward"].notna()]
    if chosen.empty:
        return None
    chosen = _first_network(chosen)
    table = _by_core(chosen, "qformat", chosen["instr_forward"])
    figure, axes = plt.subplots(figsize=(9, 4.2))
    _grouped_bars(
        axes, table, "instructions (exact, QEMU)", f"Instructions per inference, {_network_of(chosen)} -{opt}"
    )
    return _save(figure, directory, f"instructions_by_core_{opt}.png")


def _network_of(chosen: pd.DataFrame) -> str:
    return f"{chosen['workload'].iloc[0]} {chosen['network'].iloc[0]}"


def scaling(rows: pd.DataFrame, directory: Path):
    """Deployed flash and instructions per inference against the network's connections, one line per
    core and format, for every workload run at several network sizes."""
    good = ok_rows(rows)
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
        label = series_label(library, f"{workload} {core} {qformat} {variant} -{opt}")
        left.plot(group["connections"], deployed_flash(group), marker="o", linewidth=1.2, label=label)
        if group["instr_forward"].notna().any():
            right.plot(group["connections"], group["instr_forward"], marker="o", linewidth=1.2, label=label)
    left.set(xlabel="connections (weights and biases)", ylabel="bytes", title="Deployed flash (test data excluded)")
    right.set(xlabel="connections (weights and biases)", ylabel="instructions (exact, QEMU)",
              title="Instructions per inference")  # fmt: skip
    for axes in (left, right):
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return _save(figure, directory, "scaling.png")
