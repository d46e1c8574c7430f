"""Tables derived from result rows: pure functions, DataFrame in, DataFrame out.

The maths (ratios, percentages, budget verdicts) lives in small functions
tested by hand; the report only renders what these return.
"""

from __future__ import annotations

import pandas as pd

from .targets import Part

KEY_COLUMNS = ["core", "qformat", "variant", "opt"]
LIB_COLUMNS = ["lib_code", "lib_rodata", "lib_data", "lib_bss", "lib_flash", "lib_ram_static"]
IMG_COLUMNS = ["img_code", "img_rodata", "img_data", "img_bss", "img_flash", "img_ram_static"]
# The article's configuration: 2-4-1 Q16.16 on the Cortex-M0+ of an STM32L0, -Os.
HEADLINE = {"core": "cortex-m0plus", "qformat": "q16.16", "opt": "Os"}


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
    for (core, qformat, opt), group in good.groupby(["core", "qformat", "opt"], sort=False):
        by_variant = {row.variant: row for row in group.itertuples()}
        trainable, inference = by_variant.get("trainable"), by_variant.get("inference")
        if trainable is None or inference is None:
            continue
        records.append(
            {
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


def budget_table(rows: pd.DataFrame, parts: dict[str, Part], ram_column: str = "img_ram_static") -> pd.DataFrame:
    """Every successful cell against every part with its core: share of flash and RAM used."""
    good = ok_rows(rows)
    records = []
    for part in parts.values():
        for row in good[good["core"] == part.core].itertuples():
            image_ram = getattr(row, ram_column)
            records.append(
                {
                    "part": part.name,
                    "core": part.core,
                    "flash_kib": part.flash_bytes // 1024,
                    "ram_kib": part.ram_bytes // 1024,
                    "qformat": row.qformat,
                    "variant": row.variant,
                    "opt": row.opt,
                    "lib_flash_pct": percent(row.lib_flash, part.flash_bytes),
                    "lib_ram_pct": percent(row.lib_ram_static, part.ram_bytes),
                    "img_flash_pct": percent(row.img_flash, part.flash_bytes),
                    "img_ram_pct": percent(image_ram, part.ram_bytes),
                    "fits": {True: "fits", False: "does not fit", None: "unknown"}[
                        fits(row.img_flash, image_ram, part)
                    ],
                }
            )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "part",
            "core",
            "flash_kib",
            "ram_kib",
            "qformat",
            "variant",
            "opt",
            "lib_flash_pct",
            "lib_ram_pct",
            "img_flash_pct",
            "img_ram_pct",
            "fits",
        ],
    )


def image_symbols(symbols: pd.DataFrame, core: str, qformat: str, variant: str, opt: str) -> pd.DataFrame:
    chosen = symbols[
        (symbols["core"] == core)
        & (symbols["qformat"] == qformat)
        & (symbols["variant"] == variant)
        & (symbols["opt"] == opt)
    ]
    return chosen[["symbol", "group", "category", "size"]].reset_index(drop=True)


def short_name(name: str) -> str:
    """A symbol name for a table: template arguments shown as <…>, parameters dropped
    ('void ns::A<int, B<c>>::f(x) const' -> 'void ns::A<…>::f')."""
    masked = name.replace("(anonymous namespace)", "\0")
    result, depth = [], 0
    for character in masked:
        if character == "(" and depth == 0:
            break
        if character == "<":
            if depth == 0:
                result.append("<…>")
            depth += 1
        elif character == ">":
            depth -= 1
        elif depth == 0:
            result.append(character)
    return "".join(result).replace("\0", "(anonymous namespace)").strip() or name


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
    return failed[["core", "qformat", "variant", "opt", "status", "message"]].reset_index(drop=True)


def flags_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One flag line per core (cells of a core differ only in -O and the format's -D)."""
    built = rows[rows["flags"] != ""]
    return built.groupby("core", sort=False).first().reset_index()[["core", "toolchain", "flags"]]
