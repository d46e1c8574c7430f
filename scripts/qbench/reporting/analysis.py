"""Tables derived from result rows: pure functions, DataFrame in, DataFrame out.

The maths (ratios, percentages, budget verdicts) lives in small functions
tested by hand; the report only renders what these return.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from qbench.hardware.targets import Part
from qbench.images.article import ARTICLE_FIGURES
from qbench.records.keys import CellKey
from qbench.records.results import QNN_LIBRARY, REGION_COLUMNS, Status, concatenated, library_order
from qbench.sizes.symbols import short_name

# A cell in the tables: library and network lead; the workload is left out (its network names it).
KEY_COLUMNS = list(CellKey.columns(first=("library", "network"), without=("workload",)))
IMAGE_COLUMNS = list(CellKey.columns(first=("workload", "library", "network")))  # one image each


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


COMPARISON_CLOCK_HZ = 32_000_000  # every core's cycles read as time at one clock: the article's STM32L011K4's


def microseconds(cycles: float | None, clock_hz: float) -> float | None:
    """Time for `cycles` at `clock_hz`, in µs; None when not estimated."""
    return float(cycles) / clock_hz * 1e6 if is_measured(cycles) else None


def clock_label(clock_hz: float) -> str:
    """A clock in a column name: 32 MHz -> '32mhz'."""
    return f"{clock_hz / 1e6:g}mhz"


def tuples_of(frame: pd.DataFrame) -> list:
    """The rows of a frame as named tuples (DataFrame.itertuples without the index, and much faster on
    nullable columns)."""
    row = namedtuple("Row", [str(column) for column in frame.columns], rename=True)
    return [row(*values) for values in zip(*(frame[column].tolist() for column in frame.columns), strict=True)]


def variants_by_cell(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, dict[str, tuple]]:
    """The rows of a frame by their values of `keys` (in order of appearance), each cell's rows by variant."""
    cells: dict[tuple, dict[str, tuple]] = {}
    for row in tuples_of(frame):
        cells.setdefault(tuple(getattr(row, key) for key in keys), {})[row.variant] = row
    return cells


def ok_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["status"] == Status.OK]


# The network's own bytes: the library's code (its symbol group, named after the library), its activation tables,
# the network object and the deployed weights; the workload harness, start-up and reporting code are not in them.
NETWORK_GROUPS = ("activation tables", "network object", "deployed weights")
FLASH_CATEGORIES = ("code", "rodata", "data")
RAM_CATEGORIES = ("data", "bss")
NETWORK_BYTE_COLUMNS = [
    "library_code",
    "activation_tables",
    "network_object",
    "deployed_weights",
    "network_flash",
    "network_ram",
    "network_bytes",
]


def network_bytes(symbols: pd.DataFrame) -> pd.DataFrame:
    """Per image (IMAGE_COLUMNS): the bytes of each of the network's own groups (every category), its flash (code,
    rodata, data), its static RAM (data, bss) and all its bytes (each byte once)."""
    own = symbols[
        symbols["variant"].ne("baseline")
        & (symbols["group"].eq(symbols["library"]) | symbols["group"].isin(NETWORK_GROUPS))
    ]
    size = own["size"]
    sized = own[IMAGE_COLUMNS].assign(
        library_code=size.where(own["group"].eq(own["library"]), 0),
        activation_tables=size.where(own["group"].eq("activation tables"), 0),
        network_object=size.where(own["group"].eq("network object"), 0),
        deployed_weights=size.where(own["group"].eq("deployed weights"), 0),
        network_flash=size.where(own["category"].isin(FLASH_CATEGORIES), 0),
        network_ram=size.where(own["category"].isin(RAM_CATEGORIES), 0),
        network_bytes=size,
    )
    return sized.groupby(IMAGE_COLUMNS, as_index=False, sort=False)[NETWORK_BYTE_COLUMNS].sum()


ATTRIBUTION_GROUPS = ["by symbol names", "by source files"]


def attribution_differences(symbols: pd.DataFrame) -> pd.DataFrame:
    """Per image, the bytes the symbol names give to another group than the source files (DWARF) do: the
    cross-check of the attribution, empty where the two agree (and for files written before it was kept)."""
    named = symbols["prefix_group"].ne("")
    differ = symbols[named & symbols["prefix_group"].ne(symbols["group"])]
    keys = [*IMAGE_COLUMNS, "prefix_group", "group"]
    table = differ.groupby(keys, as_index=False, sort=False)["size"].sum()
    return table.rename(
        columns={"prefix_group": ATTRIBUTION_GROUPS[0], "group": ATTRIBUTION_GROUPS[1], "size": "bytes"}
    )


@dataclass(frozen=True)
class SymbolFigures:
    """What the report takes from the symbols, small whatever the number of images: each image's network bytes
    (network_bytes), the bytes its two attributions place in different groups (attribution_differences), and
    every symbol of the few images the report names (`named`)."""

    network: pd.DataFrame
    attribution: pd.DataFrame
    named: pd.DataFrame


def symbol_figures(chunks: Iterable[pd.DataFrame], named: Sequence[dict]) -> SymbolFigures:
    """The figures of every image's symbols, a frame at a time (SymbolTable.chunks); `named`: keys (columns to
    values) of the images whose symbols are kept. An image split between frames is summed whole again; `chunks`
    holds at least one frame."""
    network, attribution, kept = [], [], []
    for chunk in chunks:
        network.append(network_bytes(chunk))
        attribution.append(attribution_differences(chunk))
        chosen = pd.Series(False, index=chunk.index)
        for key in named:
            chosen |= matching(chunk, key)
        kept.append(chunk[chosen])
    return SymbolFigures(
        _summed(network, IMAGE_COLUMNS, NETWORK_BYTE_COLUMNS),
        _summed(attribution, [*IMAGE_COLUMNS, *ATTRIBUTION_GROUPS], ["bytes"]),
        concatenated(kept),
    )


def _summed(parts: list[pd.DataFrame], keys: list[str], values: list[str]) -> pd.DataFrame:
    """Per-frame sums summed again per key, in order of first appearance."""
    return concatenated(parts).groupby(keys, as_index=False, sort=False)[values].sum()


def with_network_bytes(rows: pd.DataFrame, network: pd.DataFrame) -> pd.DataFrame:
    """rows with the network's own bytes of each row's image (`network`: network_bytes; missing where the image's
    symbols are not known)."""
    merged = rows.merge(network, on=IMAGE_COLUMNS, how="left")
    merged.index = rows.index
    for column in NETWORK_BYTE_COLUMNS:
        merged[column] = merged[column].astype("Int64")
    return merged


def is_cortex_m(rows: pd.DataFrame) -> pd.Series:
    return rows["core"].str.startswith("cortex-m")


def learned_text(row) -> str | None:
    """A trainable row's learning in a few words: 'yes, 1,352 iterations', 'no, 20,000 iterations', or 'only
    through overflow' (the device's outputs were right, its weights in exact arithmetic are not)."""
    if row is None or not is_measured(row.learned):
        return None
    if row.learned and is_measured(row.learned_exact) and not row.learned_exact:
        return "only through overflow"
    return f"{'yes' if row.learned else 'no'}, {row.iterations:,} iterations"


def deployed_outputs_text(row) -> str | None:
    """An inference-only XOR row: whether the deployed weights' outputs were right on the device."""
    if row is None or not is_measured(row.learned):
        return None
    return "right" if row.learned else "wrong"


def _figure(row, column: str):
    return None if row is None else getattr(row, column)


def _with_stack(row) -> int | None:
    return _figure(row, "lib_ram_total")


def _static_only(row) -> int | None:
    """Library static RAM of a row whose stack was not measured (it did not run)."""
    return None if row is None or is_measured(row.lib_ram_total) else row.lib_ram_static


def _percent(fraction) -> float | None:
    return 100.0 * float(fraction) if is_measured(fraction) else None


HEADLINE_KEYS = list(CellKey.columns(first=("workload", "network", "library"), without=("variant",)))  # a cell's images


def headline_table(rows: pd.DataFrame, clock_hz: float = COMPARISON_CLOCK_HZ) -> pd.DataFrame:
    """What the network costs on each core, one row per core (and workload, network, library, format, level):
    deployed flash (the image less the empty baseline and the test split: the library, its tables, the weights,
    the harness and the run-time helpers it calls, such as soft-float; not the network's own bytes alone, which
    leave out those helpers), library RAM with the measured stack (static RAM where the image did not run),
    instructions and estimated time at one clock per inference (the inference-only image's, else the trainable
    one's) and per training step, whether it learned, the deployed outputs and accuracy. Cortex-M cores only
    when the run has any (the host's x86-64 objects are sizes only). Columns nothing filled are left out."""
    good = ok_rows(rows)
    if is_cortex_m(good).any():
        good = good[is_cortex_m(good)]
    good = good.assign(deployed_flash=deployed_flash(good))
    clock = f"{clock_hz / 1e6:g} MHz"
    records = []
    for key, variants in variants_by_cell(good, HEADLINE_KEYS).items():
        trainable, inference = variants.get("trainable"), variants.get("inference")
        deployed = inference if inference is not None else trainable
        records.append(
            {
                **dict(zip(HEADLINE_KEYS, key, strict=True)),
                "deployed flash, trainable": _figure(trainable, "deployed_flash"),
                "deployed flash, inference": _figure(inference, "deployed_flash"),
                "RAM with stack, trainable": _with_stack(trainable),
                "RAM with stack, inference": _with_stack(inference),
                "static RAM, trainable": _static_only(trainable),
                "static RAM, inference": _static_only(inference),
                "instructions per inference": deployed.instr_forward,
                f"µs per inference at {clock}": microseconds(deployed.est_cycles_forward, clock_hz),
                f"worst µs per inference at {clock}": microseconds(
                    _figure(deployed, "est_cycles_forward_worst_max"), clock_hz
                ),
                "instructions per training step": _figure(trainable, "instr_train_step"),
                f"µs per training step at {clock}": microseconds(_figure(trainable, "est_cycles_train_step"), clock_hz),
                "learned": learned_text(trainable),
                "deployed outputs": deployed_outputs_text(inference) if deployed.workload == "xor" else None,
                "accuracy on device %": _percent(_figure(inference, "accuracy_device")),
                "float64 on host %": _percent(_figure(inference, "accuracy_float_host")),
            }
        )
    frame = pd.DataFrame.from_records(records)
    return frame.dropna(axis="columns", how="all") if not frame.empty else frame


def preferred_formats(rows: pd.DataFrame, preferred: str) -> pd.DataFrame:
    """Each library's rows in one number format: `preferred` where the library has it, else its first."""
    chosen = []
    for _, group in rows.groupby("library", sort=False):
        formats = list(dict.fromkeys(group["qformat"]))
        chosen.append(group[group["qformat"] == (preferred if preferred in formats else formats[0])])
    return pd.concat(chosen).sort_index() if chosen else rows


def first_networks(rows: pd.DataFrame) -> pd.DataFrame:
    """Each workload's rows of its first network only."""
    first = rows.groupby("workload", sort=False)["network"].transform("first")
    return rows[rows["network"] == first]


def footprint_table(rows: pd.DataFrame, network: pd.DataFrame) -> pd.DataFrame:
    """Flash and static RAM of every successful cell at three scopes: the network's own bytes (its symbol
    groups), the library cost (the image minus the empty baseline: the workload harness included) and the whole
    image; and the deployed flash (the library cost less the test split's tables)."""
    good = with_network_bytes(ok_rows(rows), network)
    good = good.assign(deployed_flash=deployed_flash(good).astype("Int64"))
    columns = [
        "network_flash",
        "deployed_flash",
        "lib_flash",
        "img_flash",
        "network_ram",
        "lib_ram_static",
        "img_ram_static",
    ]
    return good[KEY_COLUMNS + columns].reset_index(drop=True)


RATIO_KEY = [column for column in KEY_COLUMNS if column != "variant"]  # the cell a variant ratio is of
RATIO_COLUMNS = [
    *RATIO_KEY,
    "trainable_code",
    "inference_code",
    "code_ratio",
    "trainable_network_ram",
    "inference_network_ram",
    "network_ram_ratio",
    "network_flash_ratio",
    "lib_flash_ratio",
    "lib_ram_ratio",
]


def variant_ratio_table(rows: pd.DataFrame, network: pd.DataFrame) -> pd.DataFrame:
    """Inference-only over trainable, per library, network, core, format and level: the library's own code
    (its symbol group), the network's static RAM and its flash (code, tables, weights), and as context the
    library cost over the empty image (with the workload harness) in flash and static RAM."""
    good = with_network_bytes(ok_rows(rows), network)
    records = []
    for cell, by_variant in variants_by_cell(good, RATIO_KEY).items():
        trainable, inference = by_variant.get("trainable"), by_variant.get("inference")
        if trainable is None or inference is None:
            continue
        records.append(
            {
                **dict(zip(RATIO_KEY, cell, strict=True)),
                "trainable_code": trainable.library_code,
                "inference_code": inference.library_code,
                "code_ratio": ratio(inference.library_code, trainable.library_code),
                "trainable_network_ram": trainable.network_ram,
                "inference_network_ram": inference.network_ram,
                "network_ram_ratio": ratio(inference.network_ram, trainable.network_ram),
                "network_flash_ratio": ratio(inference.network_flash, trainable.network_flash),
                "lib_flash_ratio": ratio(inference.lib_flash, trainable.lib_flash),
                "lib_ram_ratio": ratio(inference.lib_ram_static, trainable.lib_ram_static),
            }
        )
    return pd.DataFrame.from_records(records, columns=RATIO_COLUMNS)


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


# Each region's time on a part, fastest and slowest (part_latency_us).
BUDGET_SPEED_COLUMNS = {
    "forward": ("est_us_forward_min", "est_us_forward_max"),
    "train_step": ("est_us_train_step_min", "est_us_train_step_max"),
}
BUDGET_COLUMNS = [
    "part",
    "core",
    "library",
    "network",
    "qformat",
    "variant",
    "opt",
    "ram",
    "img_flash_pct",
    "img_ram_pct",
    "fits",
    "flash_fetch",
    *(column for columns in BUDGET_SPEED_COLUMNS.values() for column in columns),
]


def fetch_text(part: Part) -> str:
    """The flash facts that set a part's speed: '1 WS, prefetch', '3 WS, prefetch, cache', '0 WS'."""
    return ", ".join(
        [
            f"{part.flash_wait_states} WS",
            *(["prefetch"] if part.prefetch else []),
            *(["cache"] if part.instruction_cache else []),
        ]
    )


def _measured_or_none(value) -> float | None:
    return float(value) if is_measured(value) else None


def part_cycles(row, part: Part, region: str) -> tuple[float | None, float | None]:
    """A row's estimated cycles for one region (forward, train_step) on the part, flash wait states counted
    (Part.cycle_range): (fastest, slowest). The fastest is the mean occurrence at best, the slowest the worst
    occurrence at worst (the mean's worst case in results from before the worst occurrence was recorded).
    None where not estimated, and the slowest None where the part has wait states but the row has no count of
    non-sequential fetches."""
    names, figure = REGION_COLUMNS[region], partial(_row_figure, row)
    worst = figure(names.worst_max) is not None
    maximum = figure(names.worst_max if worst else names.cycles_max)
    if maximum is None:
        return None, None
    minimum, mean_jumps = figure(names.cycles_min), figure(names.nonsequential)
    jumps = figure(names.worst_nonsequential if worst else names.nonsequential)
    instructions = figure(names.worst_instructions if worst else names.instructions)
    fastest = None if minimum is None else part.cycle_range(minimum, maximum, mean_jumps, instructions)[0]
    slowest = part.cycle_range(minimum or 0.0, maximum, jumps, instructions)[1]
    if part.flash_wait_states and jumps is None:
        return (fastest if part.fetch_hidden else None), None
    return fastest, slowest


def _row_figure(row, column: str) -> float | None:
    """A row's figure in column, or None where it has none (or the results predate the column)."""
    return _measured_or_none(getattr(row, column, None))


def part_latency_us(row, part: Part, region: str = "forward") -> tuple[float | None, float | None]:
    """part_cycles as µs at the part's clock."""
    return tuple(microseconds(cycles, part.clock_hz) for cycles in part_cycles(row, part, region))  # type: ignore


def part_label(part: Part) -> str:
    """A part with what a budget is measured against: 'STM32L011K4 (16 KiB flash, 2 KiB RAM, 32 MHz)'."""
    return (
        f"{part.name} ({part.flash_bytes // 1024} KiB flash, {part.ram_bytes // 1024} KiB RAM, "
        f"{part.clock_hz / 1e6:g} MHz)"
    )


def budget_table(rows: pd.DataFrame, parts: dict[str, Part]) -> pd.DataFrame:
    """Every successful cell against every part with its core: the share of the part's flash and RAM the whole
    image takes (budget_ram), whether it fits, and the estimated time per inference and per training step at
    the part's own clock, fastest to slowest with its flash wait states (part_cycles)."""
    good = tuples_of(ok_rows(rows))
    records = []
    for part in parts.values():
        for row in (row for row in good if row.core == part.core):
            ran = is_measured(row.ram_total)
            image_ram = budget_ram(row)
            records.append(
                {
                    "part": part_label(part),
                    "core": part.core,
                    "library": row.library,
                    "network": row.network,
                    "qformat": row.qformat,
                    "variant": row.variant,
                    "opt": row.opt,
                    "ram": f"static + stack + {row.exception_frame} B exception frame" if ran else "static only",
                    "img_flash_pct": percent(row.img_flash, part.flash_bytes),
                    "img_ram_pct": percent(image_ram, part.ram_bytes),
                    "fits": {True: "fits", False: "does not fit", None: "unknown"}[
                        fits(row.img_flash, image_ram, part)
                    ],
                    "flash_fetch": fetch_text(part),
                    **{
                        column: time
                        for region, columns in BUDGET_SPEED_COLUMNS.items()
                        for column, time in zip(columns, part_latency_us(row, part, region), strict=True)
                    },
                }
            )
    return pd.DataFrame.from_records(records, columns=BUDGET_COLUMNS)


def _emulated(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows["status"] == Status.OK) & rows["qemu"].ne("")]


def cycle_range_text(central, minimum, maximum) -> str:
    """An estimate with its range: '1,234 (1,100–1,400)'; '' when not estimated."""
    if not is_measured(central):
        return ""
    return f"{central:,.0f} ({minimum:,.0f}–{maximum:,.0f})"


def span_text(fewest, most) -> str:
    """The smallest and largest occurrence: '252–294', '618' when all are equal; '' when not counted."""
    if not is_measured(fewest) or not is_measured(most):
        return ""
    return f"{fewest:,.0f}" if fewest == most else f"{fewest:,.0f}–{most:,.0f}"


REGIONS = {"forward": "inference", "train_step": "trainable"}  # a region and the variant that always has it


def deployed_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Each network's deployed image: the inference-only row of a cell where it has one, else its trainable row."""
    inference = rows["variant"] == "inference"
    has_inference = inference.groupby([rows[column] for column in HEADLINE_KEYS], sort=False).transform("any")
    return rows[inference | ~has_inference.astype(bool)]


def speed_table(rows: pd.DataFrame, region: str, clock_hz: float = COMPARISON_CLOCK_HZ) -> pd.DataFrame:
    """One region (`forward`: one inference, of each network's deployed image; `train_step`: one training step) of
    every emulated row that has it: instructions (exact, the mean over every occurrence of the run, with the
    fewest and the most), cycles (estimated: the mean's central value and best-to-worst range, and the worst
    occurrence's worst case) and the central estimate as time at one clock for every core."""
    names = REGION_COLUMNS[region]
    good = _emulated(rows)
    good = good[good[names.instructions].notna()]
    if region == "forward":
        good = deployed_rows(good)
    table = good[KEY_COLUMNS].copy()
    table[names.instructions] = good[names.instructions]
    fewest, most = good.get(names.minimum, pd.NA), good.get(names.maximum, pd.NA)
    table["fewest–most"] = [span_text(*values) for values in zip(fewest, most, strict=True)]
    table["occurrences"] = good[names.occurrences]
    ranges = zip(good[names.cycles], good[names.cycles_min], good[names.cycles_max], strict=True)
    table[names.cycles] = [cycle_range_text(*values) for values in ranges]
    table["worst_max"] = good.get(names.worst_max, pd.NA)
    # Instructions the model had no price for: their cycles are missing, so the estimate is incomplete.
    unpriced = good.get(names.unpriced, pd.Series(0, index=good.index))
    table["unpriced"] = unpriced.where(unpriced.fillna(0) > 0)
    table[speed_column(region, clock_hz)] = [microseconds(cycles, clock_hz) for cycles in good[names.cycles]]
    return table.reset_index(drop=True)


def speed_column(region: str, clock_hz: float) -> str:
    """The speed table's time column: the region's µs column with the clock it is at (est_us_forward_72MHz)."""
    return f"{REGION_COLUMNS[region].us}_{clock_label(clock_hz)}"


def model_comparison_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows priced by two models (cortex-m4: the TRM table, and LLVM's scheduling model beside it): each region's
    central mean by both, and LLVM's over the table's."""
    good = _emulated(rows)
    records = []
    for row in tuples_of(good):
        for region in REGIONS:
            names = REGION_COLUMNS[region]
            table, llvm = getattr(row, names.cycles, None), getattr(row, names.llvm, None)
            if is_measured(table) and is_measured(llvm):
                records.append(
                    {
                        **{column: getattr(row, column) for column in KEY_COLUMNS},
                        "region": region,
                        "TRM table": table,
                        "LLVM model": llvm,
                        "LLVM / TRM": ratio(llvm, table),
                    }
                )
    return pd.DataFrame.from_records(records)


def emulated_elsewhere(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """(core, emulated CPU) where the emulator modelled another CPU than the row's core."""
    good = _emulated(rows)
    pairs = good[good["emulated_cpu"].ne("") & good["emulated_cpu"].ne(good["core"])][["core", "emulated_cpu"]]
    return sorted(set(pairs.itertuples(index=False, name=None)))


def article_table(article: pd.DataFrame) -> pd.DataFrame:
    """The article's own host configuration per library beside the article's figures."""
    records = []
    for row in tuples_of(article):
        reference = ARTICLE_FIGURES[row.variant]
        records.append(
            {
                "library": row.library,
                "variant": row.variant,
                "text": row.text,
                "article_text": reference.text,
                "text_ratio": row.text / reference.text,
                "bss": row.bss,
                "article_bss": reference.bss,
                "bss_ratio": row.bss / reference.bss,
                "data": row.data,
            }
        )
    return pd.DataFrame.from_records(
        records,
        columns=["library", "variant", "text", "article_text", "text_ratio", "bss", "article_bss", "bss_ratio", "data"],
    )


def ram_table(rows: pd.DataFrame) -> pd.DataFrame:
    """RAM of every emulated cell: the measured peak stack, the image's static RAM with it, and the library's share
    (over the empty baseline's static RAM and peak stack); static RAM alone is in footprint_table."""
    columns = ["stack_peak", "ram_total", "lib_ram_total"]
    return _emulated(rows)[KEY_COLUMNS + columns].reset_index(drop=True)


def learning_outcome(variant: str, learned) -> str:
    """What a row's `learned` means: a trainable image learned XOR on the device; an inference-only image ran
    weights trained on the host, and its outputs were right or not."""
    if not is_measured(learned):
        return ""
    if variant == "trainable":
        return "learned" if learned else "did not learn"
    return "outputs right" if learned else "outputs wrong"


def learning_table(rows: pd.DataFrame) -> pd.DataFrame:
    """XOR's runs: learned (trainable) or outputs right (inference-only), right in exact arithmetic, after how
    many iterations, with what error."""
    emulated = _emulated(rows)
    emulated = emulated[emulated["learned"].notna()]
    table = emulated[KEY_COLUMNS].copy()
    table["outcome"] = [
        learning_outcome(variant, learned)
        for variant, learned in zip(emulated["variant"], emulated["learned"], strict=True)
    ]
    table["right_in_exact_arithmetic"] = emulated["learned_exact"]
    for column in ("iterations", "final_error", "outputs"):
        table[column] = emulated[column]
    return table.reset_index(drop=True)


def cores_together(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that agree on every column but `core` as one row naming their cores ('cortex-m0, cortex-m3'), in
    order of first appearance."""
    others = [column for column in frame.columns if column != "core"]
    cores: dict[tuple[str, ...], list[str]] = {}
    first: dict[tuple[str, ...], int] = {}
    for position, (core, *values) in enumerate(zip(frame["core"], *(frame[c].tolist() for c in others), strict=True)):
        key = tuple(str(value) for value in values)
        cores.setdefault(key, []).append(core)
        first.setdefault(key, position)
    kept = frame.iloc[list(first.values())].copy()
    kept["core"] = [", ".join(names) for names in cores.values()]
    return kept.reset_index(drop=True)


def function_share_table(instructions: pd.DataFrame, key: dict, region: str, count: int = 8) -> pd.DataFrame:
    """Where one region's instructions go: the top functions with their share."""
    chosen = instructions[matching(instructions, key) & (instructions["region"] == region)]
    total = chosen["instructions"].sum()
    top = chosen.sort_values(["instructions", "function"], ascending=[False, True]).head(count)
    return pd.DataFrame(
        {
            "function": top["function"],
            "instructions": top["instructions"],
            "share_pct": [percent(value, total) for value in top["instructions"]],
        }
    ).reset_index(drop=True)


def matching(frame: pd.DataFrame, key: dict) -> pd.Series:
    """Rows of frame whose columns equal every value in key."""
    chosen = pd.Series(True, index=frame.index)
    for column, value in key.items():
        chosen &= frame[column] == value
    return chosen


def image_symbols(symbols: pd.DataFrame, image: CellKey) -> pd.DataFrame:
    """The symbols of one image."""
    return symbols[matching(symbols, image.as_dict())][["symbol", "group", "category", "size"]].reset_index(drop=True)


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
    failed = rows[rows["status"] != Status.OK]
    return failed[[*KEY_COLUMNS, "status", "message"]].reset_index(drop=True)


def cell_label(row) -> str:
    """A cell in a sentence: 'cortex-m0plus q16.16 trainable', its library named unless it is qnn."""
    library = "" if row.library == QNN_LIBRARY else f" [{row.library}]"
    return f"{row.core} {row.qformat} {row.variant}{library}"


@dataclass(frozen=True)
class FailureKind:
    status: Status
    message: str
    cells: tuple[str, ...]


def failure_kinds(rows: pd.DataFrame) -> list[FailureKind]:
    """The failed cells grouped by status and message (first line), most cells first."""
    failed = rows[rows["status"] != Status.OK]
    first_lines = failed["message"].fillna("").map(lambda message: message.splitlines()[0] if message else "")
    kinds = [
        FailureKind(status, message, tuple(cell_label(row) for row in tuples_of(group)))
        for (status, message), group in failed.assign(first_line=first_lines).groupby(
            ["status", "first_line"], sort=False
        )
    ]
    return sorted(kinds, key=lambda kind: -len(kind.cells))


def flag_tokens(row) -> list[str]:
    """A row's compiler and linker flags, its own build folder written <cell> (so cells can share a line)."""
    folder = str(Path(row.elf).parent) if row.elf else ""
    flags = row.flags.replace(folder, "<cell>") if folder and folder != "." else row.flags
    return flags.split()


FLAG_KEYS = CellKey.columns(first=("core", "library"))  # the order the flags table gives each key's flags in


def _ordered(tokens: list[list[str]], wanted: set[str]) -> list[str]:
    """The wanted tokens in the order the flag lines give them."""
    return list(dict.fromkeys(token for line in tokens for token in line if token in wanted))


def flags_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Every built cell's flags, one row per distinct flag set: the flags every cell has ('every cell'), then for
    each key (core, library, Q format, ...) the flags that key's value decides, one row per value, then what
    no single key decides, one row per distinct set with its cells."""
    built = rows[rows["flags"] != ""]
    if built.empty:
        return pd.DataFrame(columns=["cells", "flags"])
    lines = [flag_tokens(row) for row in tuples_of(built)]
    present = [set(line) for line in lines]
    common = set.intersection(*present)
    left = set.union(*present) - common
    records = [{"cells": "every cell", "flags": " ".join(_ordered(lines, common))}] if common else []
    for key in FLAG_KEYS:
        values = built[key].tolist()
        if len(set(values)) < 2:
            continue
        decided = {token for token in left if _decided_by(token, values, present)}
        for value in dict.fromkeys(values):
            chosen = [line for line, own in zip(lines, values, strict=True) if own == value]
            tokens = _ordered(chosen, decided)
            if tokens:
                records.append({"cells": f"{key} {value}", "flags": " ".join(tokens)})
        left -= decided
    if left:
        sets: dict[tuple[str, ...], list[str]] = {}
        for row, line in zip(tuples_of(built), lines, strict=True):
            sets.setdefault(tuple(token for token in line if token in left), []).append(cell_label(row))
        records += [{"cells": ", ".join(cells), "flags": " ".join(tokens)} for tokens, cells in sets.items() if tokens]
    return pd.DataFrame.from_records(records, columns=["cells", "flags"])


def _decided_by(token: str, values: list[str], present: list[set[str]]) -> bool:
    """Whether a key decides a flag: every cell with the same key value has it, or none has."""
    having: dict[str, set[bool]] = {}
    for value, tokens in zip(values, present, strict=True):
        having.setdefault(value, set()).add(token in tokens)
    return all(len(seen) == 1 for seen in having.values())


def deployed_flash(rows: pd.DataFrame) -> pd.Series:
    """Library flash without the test split's tables: what deploying the network costs (the library, its tables,
    the weights, the harness and every run-time helper they call). The rows' deployed_flash column where it is
    filled, derived from lib_flash and test_data_bytes where it is not (rows made without it)."""
    derived = rows["lib_flash"] - rows["test_data_bytes"].fillna(0)
    if "deployed_flash" not in rows:
        return derived
    return rows["deployed_flash"].where(rows["deployed_flash"].notna(), derived)


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
    groups: dict[tuple, list] = {}
    for row in tuples_of(good):
        groups.setdefault((row.workload, row.network, row.library, row.core, row.opt), []).append(row)
    for group in groups.values():
        reference = next((row for row in group if row.qformat == FLOAT_FORMAT), None)
        for row in group:
            records.append(
                {
                    "workload": row.workload,
                    "network": row.network,
                    "library": row.library,
                    "core": row.core,
                    "qformat": row.qformat,
                    "opt": row.opt,
                    "accuracy_float_host": row.accuracy_float_host,
                    "accuracy_device": row.accuracy_device,
                    "weights_saturated": row.weights_saturated,
                    "deployed_flash": row.deployed_flash,
                    "lib_ram": row.lib_ram,
                    "instr_forward": row.instr_forward,
                    "est_cycles_forward": row.est_cycles_forward,
                    "flash_vs_float": None
                    if reference is None
                    else ratio(row.deployed_flash, reference.deployed_flash),
                    "instr_vs_float": None if reference is None else ratio(row.instr_forward, reference.instr_forward),
                }
            )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "workload",
            "network",
            "library",
            "core",
            "qformat",
            "opt",
            "accuracy_float_host",
            "accuracy_device",
            "weights_saturated",
            "deployed_flash",
            "lib_ram",
            "instr_forward",
            "est_cycles_forward",
            "flash_vs_float",
            "instr_vs_float",
        ],
    )


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
    good = good.assign(
        deployed_flash=deployed_flash(good), lib_ram=library_ram(good), library_rank=good["library"].map(order)
    )
    good = good.sort_values(["workload", "network", "core", "opt", "library_rank"], kind="stable")
    table = good[
        ["workload", "network", "core", "opt", "library", "qformat", "deployed_flash", "lib_ram", "instr_forward"]
    ].copy()
    table["est_cycles_forward"] = [
        cycle_range_text(*values)
        for values in zip(
            good["est_cycles_forward"], good["est_cycles_forward_min"], good["est_cycles_forward_max"], strict=True
        )
    ]
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
    columns = ["workload", "library", "core", "qformat", "variant", "opt", "networks", "connections"]
    columns += [f"{metric}_{part}" for metric in SCALED_METRICS for part in ("per_connection", "fixed", "r2")]
    good = ok_rows(rows)
    records = []
    if good["connections"].nunique() < 2:  # one network size in the whole run: no group has two (and grouping costs)
        return pd.DataFrame.from_records(records, columns=columns)
    for (workload, library, core, qformat, variant, opt), group in good.groupby(
        ["workload", "library", "core", "qformat", "variant", "opt"], sort=False
    ):
        if group["connections"].nunique() < 2:
            continue
        record = {
            "workload": workload,
            "library": library,
            "core": core,
            "qformat": qformat,
            "variant": variant,
            "opt": opt,
            "networks": len(group),
            "connections": f"{group['connections'].min()}-{group['connections'].max()}",
        }
        for metric, values in SCALED_METRICS.items():
            series = values(group)
            known = series.notna() & group["connections"].notna()
            if known.sum() < 2 or group["connections"][known].nunique() < 2:
                record |= {f"{metric}_per_connection": None, f"{metric}_fixed": None, f"{metric}_r2": None}
                continue
            line = fit_line([float(x) for x in group["connections"][known]], [float(y) for y in series[known]])
            record |= {
                f"{metric}_per_connection": line.slope,
                f"{metric}_fixed": line.intercept,
                f"{metric}_r2": line.r_squared,
            }
        records.append(record)
    return pd.DataFrame.from_records(records, columns=columns)


def test_sets_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The test set every accuracy (or error) of a data-driven workload was measured on: a file used as given, or
    qbench's own split (which: fraction, seed, sizes; `qbench split` writes it), with the samples the device ran."""
    if "test_set" not in rows.columns:
        return pd.DataFrame()
    named = rows[rows["test_set"].fillna("").astype(str) != ""]
    if named.empty:
        return pd.DataFrame()
    table = (
        named.groupby(["workload", "test_set"], sort=True, dropna=False)
        .agg(test_samples=("test_samples", "max"), rows=("status", "size"))
        .reset_index()
    )
    return table


def quantization_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per format on each test set: the device's figure beside the float network's, and the quantisation error
    that bounds how far apart they can be (columns a run has no value in are left out)."""
    if "quantization_error" not in rows.columns:
        return pd.DataFrame()
    good = ok_rows(rows)
    good = good[good["quantization_error"].notna()]
    columns = [
        "workload",
        "network",
        "library",
        "core",
        "qformat",
        "test_samples",
        "accuracy_device",
        "accuracy_float_host",
        "mae_device",
        "mae_float_host",
        "quantization_error",
    ]
    table = good[[column for column in columns if column in good.columns]]
    return table.dropna(axis="columns", how="all").reset_index(drop=True)


def regression_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Regression workloads: the device's MAE, RMSE and largest error on the test set, in the target's units,
    beside the float network's on the host."""
    if "mae_device" not in rows.columns and "mae_float_host" not in rows.columns:
        return pd.DataFrame()
    good = ok_rows(rows)
    good = good[good["mae_float_host"].notna()] if "mae_float_host" in good.columns else good.iloc[0:0]
    columns = [
        "workload",
        "network",
        "library",
        "core",
        "qformat",
        "opt",
        "test_samples",
        "mae_device",
        "mae_float_host",
        "rmse_device",
        "rmse_float_host",
        "max_error_device",
        "max_error_float_host",
        "matches_reference",
    ]
    return good[[column for column in columns if column in good.columns]].reset_index(drop=True)
