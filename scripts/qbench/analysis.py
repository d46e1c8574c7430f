"""Tables derived from result rows: pure functions, DataFrame in, DataFrame out.

The maths (ratios, percentages, budget verdicts) lives in small functions
tested by hand; the report only renders what these return.
"""

from __future__ import annotations

import pandas as pd

from .symbols import short_name
from .targets import Part

KEY_COLUMNS = ["library", "core", "qformat", "variant", "opt"]
LIB_COLUMNS = ["lib_code", "lib_rodata", "lib_data", "lib_bss", "lib_flash", "lib_ram_static"]
IMG_COLUMNS = ["img_code", "img_rodata", "img_data", "img_bss", "img_flash", "img_ram_static"]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or pd.isna(numerator) or pd.isna(denominator) or denominator == 0:
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
    for (library, core, qformat, opt), group in good.groupby(["library", "core", "qformat", "opt"], sort=False):
        by_variant = {row.variant: row for row in group.itertuples()}
        trainable, inference = by_variant.get("trainable"), by_variant.get("inference")
        if trainable is None or inference is None:
            continue
        records.append(
            {
                "library": library,
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
    if image_flash is None or image_ram is None or pd.isna(image_flash) or pd.isna(image_ram):
        return None
    return bool(image_flash <= part.flash_bytes and image_ram <= part.ram_bytes)


def _measured(value) -> bool:
    return value is not None and not pd.isna(value)


def budget_table(rows: pd.DataFrame, parts: dict[str, Part]) -> pd.DataFrame:
    """Every successful cell against every part with its core: share of flash and RAM used.
    RAM is static RAM plus the measured peak stack where the image ran, static RAM alone otherwise."""
    good = ok_rows(rows)
    records = []
    for part in parts.values():
        for row in good[good["core"] == part.core].itertuples():
            ran = _measured(row.ram_total)
            image_ram = row.ram_total if ran else row.img_ram_static
            lib_ram = row.lib_ram_total if ran and _measured(row.lib_ram_total) else row.lib_ram_static
            records.append({
                "part": part.name, "core": part.core, "flash_kib": part.flash_bytes // 1024,
                "ram_kib": part.ram_bytes // 1024, "library": row.library, "qformat": row.qformat,
                "variant": row.variant, "opt": row.opt,
                "ram": "static + stack" if ran else "static only",
                "lib_flash_pct": percent(row.lib_flash, part.flash_bytes),
                "lib_ram_pct": percent(lib_ram, part.ram_bytes),
                "img_flash_pct": percent(row.img_flash, part.flash_bytes),
                "img_ram_pct": percent(image_ram, part.ram_bytes),
                "fits": {True: "fits", False: "does not fit", None: "unknown"}[fits(row.img_flash, image_ram, part)],
            })  # fmt: skip
    return pd.DataFrame.from_records(records, columns=[
        "part", "core", "flash_kib", "ram_kib", "library", "qformat", "variant", "opt", "ram",
        "lib_flash_pct", "lib_ram_pct", "img_flash_pct", "img_ram_pct", "fits",
    ])  # fmt: skip


def _emulated(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows["status"] == "ok") & rows["qemu"].ne("")]


def speed_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Instructions (exact) and cycles (estimated) per inference and per training step."""
    columns = ["instr_forward", "est_cycles_forward", "est_us_forward",
               "instr_train_step", "est_cycles_train_step", "est_us_train_step"]  # fmt: skip
    return _emulated(rows)[KEY_COLUMNS + columns].reset_index(drop=True)


def part_time_table(rows: pd.DataFrame, parts: dict[str, Part]) -> pd.DataFrame:
    """Estimated time per inference and per training step at each part's clock."""
    good = _emulated(rows)
    records = []
    for part in parts.values():
        for row in good[good["core"] == part.core].itertuples():
            if not _measured(row.est_cycles_forward):
                continue
            records.append({
                "part": part.name, "clock_mhz": part.clock_hz / 1e6, "core": part.core, "library": row.library,
                "qformat": row.qformat,
                "variant": row.variant, "opt": row.opt, "est_us_forward": row.est_cycles_forward / part.clock_hz * 1e6,
                "est_us_train_step": row.est_cycles_train_step / part.clock_hz * 1e6
                if _measured(row.est_cycles_train_step) else None,
            })  # fmt: skip
    return pd.DataFrame.from_records(records, columns=[
        "part", "clock_mhz", "core", "library", "qformat", "variant", "opt", "est_us_forward", "est_us_train_step",
    ])  # fmt: skip


def ram_table(rows: pd.DataFrame) -> pd.DataFrame:
    columns = ["img_data", "img_bss", "stack_peak", "ram_total", "lib_ram_static", "lib_ram_total"]
    return _emulated(rows)[KEY_COLUMNS + columns].reset_index(drop=True)


def learning_table(rows: pd.DataFrame) -> pd.DataFrame:
    columns = ["learned", "iterations", "final_error", "outputs"]
    return _emulated(rows)[KEY_COLUMNS + columns].reset_index(drop=True)


def function_share_table(instructions: pd.DataFrame, key: dict, region: str, count: int = 8) -> pd.DataFrame:
    """Where one region's instructions go: the top functions with their share."""
    chosen = instructions[_matches(instructions, key) & (instructions["region"] == region)]
    total = chosen["instructions"].sum()
    top = chosen.sort_values(["instructions", "function"], ascending=[False, True]).head(count)
    return pd.DataFrame({
        "function": top["function"], "instructions": top["instructions"],
        "share_pct": [percent(value, total) for value in top["instructions"]],
    }).reset_index(drop=True)  # fmt: skip


def _matches(frame: pd.DataFrame, key: dict) -> pd.Series:
    """Rows of frame whose columns equal every value in key."""
    chosen = pd.Series(True, index=frame.index)
    for column, value in key.items():
        chosen &= frame[column] == value
    return chosen


def image_symbols(symbols: pd.DataFrame, key: dict) -> pd.DataFrame:
    """The symbols of one image; key names its cell (core, qformat, variant, opt, library)."""
    return symbols[_matches(symbols, key)][["symbol", "group", "category", "size"]].reset_index(drop=True)


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
