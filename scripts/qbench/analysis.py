"""Tables derived from result rows: pure functions, DataFrame in, DataFrame out.

The maths (ratios, percentages, budget verdicts) lives in small functions
tested by hand; the report only renders what these return.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .article import ARTICLE_FIGURES
from .results import library_order
from .symbols import short_name
from .targets import Part

KEY_COLUMNS = ["library", "network", "core", "qformat", "variant", "opt"]
LIB_COLUMNS = ["lib_code", "lib_rodata", "lib_data", "lib_bss", "lib_flash", "lib_ram_static"]
IMG_COLUMNS = ["img_code", "img_rodata", "img_data", "img_bss", "img_flash", "img_ram_static"]


def is_measured(value) -> bool:
    """A figure that is there: not None and not NaN."""
    return value is not None and not pd.isna(value)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if not is_measured(numerator) or not is_measured(denominator) or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def percent(used: float | None, available: float | None) -> float | None:
    share = ratio(used, available)
    return None if share is None else 100.0 * share


def ok_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["status"] == "ok"]


def footprint_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Library cost (image minus empty baseline) of every successful cell."""
    return ok_rows(rows)[KEY_COLUMNS + LIB_COLUMNS].reset_index(drop=True)


def image_table(rows: pd.DataFrame) -> pd.DataFrame:
    return ok_rows(rows)[KEY_COLUMNS + IMG_COLUMNS].reset_index(drop=True)


def variant_ratio_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Inference-only over trainable library cost, per core, format and level."""
    good = ok_rows(rows)
    records = []
    for (library, network, core, qformat, opt), group in good.groupby(
        ["library", "network", "core", "qformat", "opt"], sort=False
    ):
        by_variant = {row.variant: row for row in group.itertuples()}
        trainable, inference = by_variant.get("trainable"), by_variant.get("inference")
        if trainable is None or inference is None:
            continue
        records.append(
            {
                "library": library,
                "network": network,
                "core": core,
                "qformat": qformat,
                "opt": opt,
                "trainable_flash": trainable.lib_flash,
                "inference_flash": inference.lib_flash,
                "flash_ratio": ratio(inference.lib_flash, trainable.lib_flash),
                "trainable_ram_static": trainable.lib_ram_static,
                "inference_ram_static": inference.lib_ram_static,
                "ram_ratio": ratio(inference.lib_ram_static, trainable.lib_ram_static),
            }
        )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "library",
            "network",
            "core",
            "qformat",
            "opt",
            "trainable_flash",
            "inference_flash",
            "flash_ratio",
            "trainable_ram_static",
            "inference_ram_static",
            "ram_ratio",
        ],
    )


def fits(image_flash: int | None, image_ram: int | None, part: Part) -> bool | None:
    """Whether an image's flash and RAM fit the part; None when a figure is missing."""
    if not is_measured(image_flash) or not is_measured(image_ram):
        return None
    return bool(image_flash <= part.flash_bytes and image_ram <= part.ram_bytes)


def budget_ram(row) -> int:
    """RAM an image needs on a part: static RAM, the measured peak stack and one exception frame below it
    where the image ran; static RAM alone where it did not."""
    if not is_measured(row.ram_total):
        return row.img_ram_static
    return row.ram_total + (row.exception_frame if is_measured(row.exception_frame) else 0)


def budget_table(rows: pd.DataFrame, parts: dict[str, Part]) -> pd.DataFrame:
    """Every successful cell against every part with its core: share of flash and RAM used (budget_ram)."""
    good = ok_rows(rows)
    good = good.assign(lib_ram=library_ram(good))
    records = []
    for part in parts.values():
        for row in good[good["core"] == part.core].itertuples():
            ran = is_measured(row.ram_total)
            image_ram = budget_ram(row)
            records.append({
                "part": part.name, "core": part.core, "flash_kib": part.flash_bytes // 1024,
                "ram_kib": part.ram_bytes // 1024, "library": row.library, "network": row.network,
                "qformat": row.qformat, "variant": row.variant, "opt": row.opt,
                "ram": f"static + stack + {row.exception_frame} B exception frame" if ran else "static only",
                "lib_flash_pct": percent(row.lib_flash, part.flash_bytes),
                "lib_ram_pct": percent(row.lib_ram, part.ram_bytes),
                "img_flash_pct": percent(row.img_flash, part.flash_bytes),
                "img_ram_pct": percent(image_ram, part.ram_bytes),
                "fits": {True: "fits", False: "does not fit", None: "unknown"}[fits(row.img_flash, image_ram, part)],
            })  # fmt: skip
    return pd.DataFrame.from_records(records, columns=[
        "part", "core", "flash_kib", "ram_kib", "library", "network", "qformat", "variant", "opt", "ram",
        "lib_flash_pct", "lib_ram_pct", "img_flash_pct", "img_ram_pct", "fits",
    ])  # fmt: skip


def _emulated(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows["status"] == "ok") & rows["qemu"].ne("")]


def cycle_range_text(central, minimum, maximum) -> str:
    """An estimate with its range: '1,234 (1,100–1,400)'; '' when not estimated."""
    if not is_measured(central):
        return ""
    return f"{central:,.0f} ({minimum:,.0f}–{maximum:,.0f})"


def speed_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Instructions (exact, mean over the traced occurrences) and cycles (estimated: central value and
    the TRM's best-to-worst range) per inference and per training step, with the CPU the emulator modelled."""
    good = _emulated(rows)
    table = good[KEY_COLUMNS + ["emulated_cpu"]].copy()
    for region in ("forward", "train_step"):
        table[f"instr_{region}"] = good[f"instr_{region}"]
        table[f"{region}_occurrences"] = good[f"instr_{region}_occurrences"]
        table[f"est_cycles_{region}"] = [
            cycle_range_text(*values) for values in zip(
                good[f"est_cycles_{region}"], good[f"est_cycles_{region}_min"], good[f"est_cycles_{region}_max"],
                strict=True)
        ]  # fmt: skip
        table[f"est_us_{region}"] = good[f"est_us_{region}"]
    return table.reset_index(drop=True)


def emulated_elsewhere(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """(core, emulated CPU) where the emulator modelled another CPU than the row's core."""
    good = _emulated(rows)
    pairs = good[good["emulated_cpu"].ne("") & good["emulated_cpu"].ne(good["core"])][["core", "emulated_cpu"]]
    return sorted(set(pairs.itertuples(index=False, name=None)))


def article_table(article: pd.DataFrame) -> pd.DataFrame:
    """The article's own host configuration per library beside the article's figures."""
    records = []
    for row in article.itertuples():
        reference = ARTICLE_FIGURES[row.variant]
        records.append({
            "library": row.library, "variant": row.variant, "text": row.text, "article_text": reference.text,
            "text_ratio": row.text / reference.text, "bss": row.bss, "article_bss": reference.bss,
            "bss_ratio": row.bss / reference.bss, "data": row.data,
        })  # fmt: skip
    return pd.DataFrame.from_records(records, columns=["library", "variant", "text", "article_text", "text_ratio",
                                                       "bss", "article_bss", "bss_ratio", "data"])  # fmt: skip


def part_time_table(rows: pd.DataFrame, parts: dict[str, Part]) -> pd.DataFrame:
    """Estimated time per inference and per training step at each part's clock."""
    good = _emulated(rows)
    records = []
    for part in parts.values():
        for row in good[good["core"] == part.core].itertuples():
            if not is_measured(row.est_cycles_forward):
                continue
            records.append({
                "part": part.name, "clock_mhz": part.clock_hz / 1e6, "core": part.core, "library": row.library,
                "network": row.network, "qformat": row.qformat,
                "variant": row.variant, "opt": row.opt, "est_us_forward": row.est_cycles_forward / part.clock_hz * 1e6,
                "est_us_train_step": row.est_cycles_train_step / part.clock_hz * 1e6
                if is_measured(row.est_cycles_train_step) else None,
            })  # fmt: skip
    return pd.DataFrame.from_records(records, columns=[
        "part", "clock_mhz", "core", "library", "network", "qformat", "variant", "opt", "est_us_forward",
        "est_us_train_step",
    ])  # fmt: skip


def ram_table(rows: pd.DataFrame) -> pd.DataFrame:
    columns = ["img_data", "img_bss", "stack_painted", "stack_sp_depth", "stack_peak", "ram_total", "lib_ram_static",
               "lib_ram_total"]  # fmt: skip
    return _emulated(rows)[KEY_COLUMNS + columns].reset_index(drop=True)


def learning_table(rows: pd.DataFrame) -> pd.DataFrame:
    """XOR's runs: learned (or outputs right), after how many iterations, with what error."""
    columns = ["learned", "learned_exact", "iterations", "final_error", "outputs"]
    emulated = _emulated(rows)
    return emulated[emulated["learned"].notna()][KEY_COLUMNS + columns].reset_index(drop=True)


def function_share_table(instructions: pd.DataFrame, key: dict, region: str, count: int = 8) -> pd.DataFrame:
    """Where one region's instructions go: the top functions with their share."""
    chosen = instructions[matching(instructions, key) & (instructions["region"] == region)]
    total = chosen["instructions"].sum()
    top = chosen.sort_values(["instructions", "function"], ascending=[False, True]).head(count)
    return pd.DataFrame({
        "function": top["function"], "instructions": top["instructions"],
        "share_pct": [percent(value, total) for value in top["instructions"]],
    }).reset_index(drop=True)  # fmt: skip


def matching(frame: pd.DataFrame, key: dict) -> pd.Series:
    """Rows of frame whose columns equal every value in key."""
    chosen = pd.Series(True, index=frame.index)
    for column, value in key.items():
        chosen &= frame[column] == value
    return chosen


def image_symbols(symbols: pd.DataFrame, key: dict) -> pd.DataFrame:
    """The symbols of one image; key names its cell (core, qformat, variant, opt, library)."""
    return symbols[matching(symbols, key)][["symbol", "group", "category", "size"]].reset_index(drop=True)


def largest_symbols(symbols: pd.DataFrame, count: int = 15) -> pd.DataFrame:
    largest = symbols.sort_values(["size", "symbol"], ascending=[False, True]).head(count).reset_index(drop=True)
    return largest.assign(symbol=largest["symbol"].map(short_name))


def group_totals(symbols: pd.DataFrame) -> pd.DataFrame:
    """Bytes per group and category; the groups sum to the image's section totals."""
    table = symbols.pivot_table(index="group", columns="category", values="size", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=["code", "rodata", "data", "bss"], fill_value=0)
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False).reset_index()


def symbol_diff_table(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Symbols added, removed, grown or shrunk from `before` to `after` (categories summed)."""
    old = before.groupby("symbol").agg(group=("group", "first"), size=("size", "sum"))
    new = after.groupby("symbol").agg(group=("group", "first"), size=("size", "sum"))
    joined = old.merge(new, how="outer", left_index=True, right_index=True, suffixes=("_before", "_after"))
    joined["before"] = joined["size_before"].fillna(0).astype("int64")
    joined["after"] = joined["size_after"].fillna(0).astype("int64")
    joined["group"] = joined["group_after"].fillna(joined["group_before"])
    joined["change"] = joined["after"] - joined["before"]
    joined = joined[joined["change"] != 0].reset_index()
    joined["kind"] = [
        "added" if b == 0 else "removed" if a == 0 else "grown" if a > b else "shrunk"
        for b, a in zip(joined["before"], joined["after"], strict=True)
    ]
    joined["order"] = joined["change"].abs()
    ordered = joined.sort_values(["order", "symbol"], ascending=[False, True])
    ordered = ordered.assign(symbol=ordered["symbol"].map(short_name))
    return ordered[["kind", "symbol", "group", "before", "after", "change"]].reset_index(drop=True)


def failures_table(rows: pd.DataFrame) -> pd.DataFrame:
    failed = rows[rows["status"] != "ok"]
    return failed[[*KEY_COLUMNS, "status", "message"]].reset_index(drop=True)


def flags_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One flag line per core (cells of a core differ only in -O and the format's -D)."""
    built = rows[rows["flags"] != ""]
    return built.groupby("core", sort=False).first().reset_index()[["core", "toolchain", "flags"]]


def deployed_flash(rows: pd.DataFrame) -> pd.Series:
    """Library flash without the test split's tables: what deploying the network costs."""
    return rows["lib_flash"] - rows["test_data_bytes"].fillna(0)


def library_ram(rows: pd.DataFrame) -> pd.Series:
    """Library RAM with the measured stack where the image ran, static RAM alone otherwise."""
    return rows["lib_ram_total"].where(rows["lib_ram_total"].notna(), rows["lib_ram_static"])


FLOAT_FORMAT = "float32"


def format_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Inference-only images by workload, network, core and number format: accuracy on the device against
    the float network on the host, deployed flash, RAM, instructions and estimated cycles per inference,
    and flash and instructions as a share of the float32 build of the same network on the same core."""
    good = ok_rows(rows)
    good = good[good["variant"] == "inference"]
    good = good.assign(deployed_flash=deployed_flash(good), lib_ram=library_ram(good))
    records = []
    context = ["workload", "network", "library", "core", "opt"]
    for _, group in good.groupby(context, sort=False):
        floats = group[group["qformat"] == FLOAT_FORMAT]
        reference = floats.iloc[0] if not floats.empty else None
        for row in group.itertuples():
            records.append({
                "workload": row.workload, "network": row.network, "library": row.library, "core": row.core,
                "qformat": row.qformat, "opt": row.opt, "accuracy_float_host": row.accuracy_float_host,
                "accuracy_device": row.accuracy_device, "weights_saturated": row.weights_saturated,
                "deployed_flash": row.deployed_flash, "lib_ram": row.lib_ram, "instr_forward": row.instr_forward,
                "est_cycles_forward": row.est_cycles_forward,
                "flash_vs_float": None if reference is None else ratio(row.deployed_flash, reference.deployed_flash),
                "instr_vs_float": None if reference is None else ratio(row.instr_forward, reference.instr_forward),
            })  # fmt: skip
    return pd.DataFrame.from_records(records, columns=[
        "workload", "network", "library", "core", "qformat", "opt", "accuracy_float_host", "accuracy_device",
        "weights_saturated", "deployed_flash", "lib_ram", "instr_forward", "est_cycles_forward", "flash_vs_float",
        "instr_vs_float",
    ])  # fmt: skip


def libraries_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Every library's inference-only images side by side, core by core: each in the formats it computes in
    (a float-only library's float32 beside qnn's Q formats), with deployed flash, library RAM (stack included
    where the image ran), instructions and estimated cycles (central, with the range) per inference, and
    accuracy on the device against the float host's. Empty unless the run has several libraries."""
    good = ok_rows(rows)
    good = good[good["variant"] == "inference"]
    if good["library"].nunique() < 2:
        return pd.DataFrame()
    order = {name: position for position, name in enumerate(sorted(good["library"].unique(), key=library_order))}
    good = good.assign(deployed_flash=deployed_flash(good), lib_ram=library_ram(good),
                       library_rank=good["library"].map(order))  # fmt: skip
    good = good.sort_values(["workload", "network", "core", "opt", "library_rank"], kind="stable")
    table = good[["workload", "network", "core", "opt", "library", "qformat", "deployed_flash", "lib_ram",
                  "instr_forward"]].copy()  # fmt: skip
    table["est_cycles_forward"] = [
        cycle_range_text(*values) for values in zip(
            good["est_cycles_forward"], good["est_cycles_forward_min"], good["est_cycles_forward_max"], strict=True)
    ]  # fmt: skip
    table["accuracy_device"] = good["accuracy_device"]
    table["accuracy_float_host"] = good["accuracy_float_host"]
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class Line:
    slope: float
    intercept: float
    r_squared: float | None  # None when every y is the same


def fit_line(xs: list[float], ys: list[float]) -> Line:
    """Least-squares y = slope * x + intercept over at least two distinct x."""
    if len(set(xs)) < 2:
        raise ValueError("a line needs at least two distinct x values")
    count = len(xs)
    mean_x, mean_y = sum(xs) / count, sum(ys) / count
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - slope * x - intercept) ** 2 for x, y in zip(xs, ys, strict=True))
    return Line(slope, intercept, None if total == 0 else 1.0 - residual / total)


SCALED_METRICS = {"flash": deployed_flash, "ram": library_ram, "instructions": lambda rows: rows["instr_forward"]}


def scaling_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per workload, core, format and variant run at several network sizes: the cost per connection (weight
    or bias) of deployed flash, library RAM and instructions per inference, fitted by least squares, with the
    fixed part (intercept) and the fit's R²."""
    good = ok_rows(rows)
    records = []
    for (workload, library, core, qformat, variant, opt), group in good.groupby(
        ["workload", "library", "core", "qformat", "variant", "opt"], sort=False
    ):
        if group["connections"].nunique() < 2:
            continue
        record = {"workload": workload, "library": library, "core": core, "qformat": qformat, "variant": variant,
                  "opt": opt, "networks": len(group), "connections": f"{group['connections'].min()}-"
                  f"{group['connections'].max()}"}  # fmt: skip
        for metric, values in SCALED_METRICS.items():
            series = values(group)
            known = series.notna() & group["connections"].notna()
            if known.sum() < 2 or group["connections"][known].nunique() < 2:
                record |= {f"{metric}_per_connection": None, f"{metric}_fixed": None, f"{metric}_r2": None}
                continue
            line = fit_line([float(x) for x in group["connections"][known]], [float(y) for y in series[known]])
            record |= {f"{metric}_per_connection": line.slope, f"{metric}_fixed": line.intercept,
                       f"{metric}_r2": line.r_squared}  # fmt: skip
        records.append(record)
    columns = ["workload", "library", "core", "qformat", "variant", "opt", "networks", "connections"]
    columns += [f"{metric}_{part}" for metric in SCALED_METRICS for part in ("per_connection", "fixed", "r2")]
    return pd.DataFrame.from_records(records, columns=columns)
