"""The article's claims, checked against measured results.

Each claim is a pure function of the result tables returning the measured
figures, worded as what was found with the threshold it is held to, and a
verdict: 'holds', 'does not hold', or 'not measured' when the run lacks what
the claim needs (never a guess). Sizes are the network's own bytes: the
library's code (its symbol group, named after the library), its activation
tables, the network object and the deployed weights (qbench.analysis
.network_bytes); the library cost over the empty image (lib_*, which holds
the workload harness too) and the whole image (img_*) are given as context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from qbench.hardware.targets import Part
from qbench.records.keys import BASELINE_VARIANT
from qbench.records.results import QNN_LIBRARY, SymbolTable, library_order, training_log_name
from qbench.reporting.analysis import (
    IMAGE_COLUMNS,
    SymbolFigures,
    budget_ram,
    is_measured,
    matching,
    ok_rows,
    percent,
    ratio,
    symbol_figures,
)
from qbench.sizes.symbols import short_name

HOLDS, FAILS, UNMEASURED = "holds", "does not hold", "not measured"
CODE_BUDGET = 4096  # "a neural network in under 4 KB"
ABOUT_A_THIRD = 0.40  # the largest ratio still "about a third"
ARTICLE_FLASH_SHARE = 25.0  # "a 4KB trainable neural network consumes 25% of flash" of the STM32L0's 16 KB
ARTICLE_PART = "STM32L011K4"
ARTICLE = {
    "core": "cortex-m0plus",
    "qformat": "q16.16",
    "opt": "Os",
    "library": QNN_LIBRARY,
    "workload": "xor",
    "network": "2-4-1 tanh/sigmoid",
}
CONFIGURATION = "2-4-1 Q16.16 on Cortex-M0+ at -Os"

# The images whose symbols the claims read by name: the article's cells of every library, and the empty baselines
# on its core.
CLAIM_IMAGES = (
    {column: value for column, value in ARTICLE.items() if column != "library"},
    {"core": ARTICLE["core"], "variant": BASELINE_VARIANT},
)


@dataclass(frozen=True)
class Claim:
    claim_id: str  # stable: Robot scenarios and readers select claims by it
    claim: str
    measured: str
    verdict: str


def _cell(rows: pd.DataFrame, variant: str, **key: str) -> pd.Series | None:
    wanted = {**ARTICLE, **key, "variant": variant}
    good = ok_rows(rows)
    chosen = good[matching(good, wanted)]
    return None if chosen.empty else chosen.iloc[0]


def own_bytes(networks: pd.DataFrame, row: pd.Series | None) -> pd.Series | None:
    """The network's own bytes of a row's image (`networks`: qbench.analysis.network_bytes of the symbols), None
    without its symbols."""
    if row is None or networks.empty:
        return None
    found = networks[matching(networks, {column: row[column] for column in IMAGE_COLUMNS})]
    return None if found.empty else found.iloc[0]


def byte_parts(own: pd.Series, library: str) -> str:
    """The network's bytes by group, those it has: 'qnn code 860 + activation tables 162 + network object 172'."""
    parts = [
        (f"{library} code", own.library_code),
        ("activation tables", own.activation_tables),
        ("network object", own.network_object),
        ("deployed weights", own.deployed_weights),
    ]
    return " + ".join(f"{name} {size:,}" for name, size in parts if size)


def roughness(errors: Sequence[float]) -> float | None:
    """Total variation of an error curve over its net fall: 1.0 for a curve that
    only falls, more for one that rises on the way; None if it does not fall."""
    if len(errors) < 2 or errors[0] <= errors[-1]:
        return None
    travelled = sum(abs(after - before) for before, after in zip(errors, errors[1:], strict=False))
    return travelled / (errors[0] - errors[-1])


def rises(errors: Sequence[float]) -> int:
    return sum(after > before for before, after in zip(errors, errors[1:], strict=False))


def code_under_4kb(rows: pd.DataFrame, networks: pd.DataFrame, library: str = QNN_LIBRARY) -> Claim:
    claim = "A trainable 2-4-1 Q16.16 network costs under 4 KB of code and data"
    row = _cell(rows, "trainable", library=library)
    own = own_bytes(networks, row)
    if row is None or own is None:
        return Claim("trainable-under-4kb", claim, "needs the trainable image and its symbols", UNMEASURED)
    under = own.network_bytes < CODE_BUDGET
    measured = (
        f"the network's own bytes are {own.network_bytes:,} B, {'under' if under else 'not under'} 4 KB "
        f"(< {CODE_BUDGET:,} B): {byte_parts(own, library)}; with the workload harness the library adds "
        f"{row.lib_flash:,} B of flash to the empty image, the whole image is {row.img_flash:,} B"
    )
    return Claim("trainable-under-4kb", claim, measured, HOLDS if under else FAILS)


def _two_decimals(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def inference_about_a_third(rows: pd.DataFrame, networks: pd.DataFrame, library: str = QNN_LIBRARY) -> Claim:
    """The article's table compares code (text) and RAM (bss): here the library's own code and the network's
    static RAM; the network's whole flash (tables and weights too) and the library cost are given as context."""
    claim = "An inference-only build is about a third of the trainable one, in code and in RAM"
    trainable, inference = _cell(rows, "trainable", library=library), _cell(rows, "inference", library=library)
    mine, theirs = own_bytes(networks, inference), own_bytes(networks, trainable)
    if mine is None or theirs is None:
        return Claim("inference-about-a-third", claim, "needs both variants' images and their symbols", UNMEASURED)
    code = ratio(mine.library_code, theirs.library_code)
    memory = ratio(mine.network_ram, theirs.network_ram)
    third = code is not None and memory is not None and max(code, memory) <= ABOUT_A_THIRD
    measured = (
        f"inference-only code is {_two_decimals(code)} of trainable ({library} code {mine.library_code:,} / "
        f"{theirs.library_code:,} B) and its RAM {_two_decimals(memory)} (network RAM {mine.network_ram:,} / "
        f"{theirs.network_ram:,} B); about a third: ≤ {ABOUT_A_THIRD:.2f} each; "
        f"context: the network's flash with tables and weights "
        f"{_two_decimals(ratio(mine.network_flash, theirs.network_flash))} ({mine.network_flash:,} / "
        f"{theirs.network_flash:,} B), library cost with the workload harness "
        f"{_two_decimals(ratio(inference.lib_flash, trainable.lib_flash))} in flash"
    )
    return Claim("inference-about-a-third", claim, measured, HOLDS if third else FAILS)


def parts_to_check(parts: dict[str, Part]) -> list[str]:
    """The article's part when the parts file has it, else every part with the article's core."""
    if ARTICLE_PART in parts:
        return [ARTICLE_PART]
    return [name for name, part in parts.items() if part.core == ARTICLE["core"]]


def fits_a_part(rows: pd.DataFrame, networks: pd.DataFrame, part: Part, library: str = QNN_LIBRARY) -> Claim:
    claim_id = f"fits-{part.name.lower()}"
    claim = (
        f"A trainable network fits an {part.name} ({part.flash_bytes // 1024} KB flash, "
        f"{part.ram_bytes // 1024} KB RAM), stack included"
    )
    row = _cell(rows, "trainable", library=library)
    if row is None or not is_measured(row.ram_total):
        return Claim(claim_id, claim, "needs an emulated trainable image", UNMEASURED)
    ram = budget_ram(row)
    fits = row.img_flash <= part.flash_bytes and ram <= part.ram_bytes
    own = own_bytes(networks, row)
    network = (
        f"; the network's own flash, {own.network_flash:,} B, is {percent(own.network_flash, part.flash_bytes):.1f} "
        f"% of the part's (the article: about {ARTICLE_FLASH_SHARE:.0f} %)"
        if own is not None
        else ""
    )
    measured = (
        f"the whole trainable image {'fits' if fits else 'does not fit'}: flash {row.img_flash:,} of "
        f"{part.flash_bytes:,} B ({percent(row.img_flash, part.flash_bytes):.1f} %), RAM {ram:,} of "
        f"{part.ram_bytes:,} B ({percent(ram, part.ram_bytes):.1f} %: static {row.img_ram_static:,} + peak stack "
        f"{row.stack_peak:,} + one exception frame {row.exception_frame:,}){network}"
    )
    return Claim(claim_id, claim, measured, HOLDS if fits else FAILS)


def fits_the_parts(
    rows: pd.DataFrame, networks: pd.DataFrame, parts: dict[str, Part], library: str = QNN_LIBRARY
) -> list[Claim]:
    names = parts_to_check(parts)
    if not names:
        claim = f"A trainable network fits an {ARTICLE_PART} (16 KB flash, 2 KB RAM), stack included"
        return [Claim(f"fits-{ARTICLE_PART.lower()}", claim, "needs the part in the parts file", UNMEASURED)]
    return [fits_a_part(rows, networks, parts[name], library) for name in names]


@dataclass(frozen=True)
class TrainingRun:
    learned: bool
    iterations: int
    roughness: float | None
    rises: int
    intervals: int
    through_overflow: bool = False  # the device's outputs were right only through overflow (learned_exact false)

    @property
    def rise_share(self) -> float:
        return self.rises / self.intervals if self.intervals else 0.0

    def describe(self, qformat: str) -> str:
        outcome = (
            f"learned after {self.iterations:,} iterations"
            if self.learned
            else f"learned only through overflow after {self.iterations:,} iterations"
            if self.through_overflow
            else f"did not learn in {self.iterations:,} iterations"
        )
        smooth = f"roughness {self.roughness:.2f}" if self.roughness is not None else "its error did not fall"
        return (
            f"{qformat.upper()} {outcome}; its error rose in {self.rises} of {self.intervals} log intervals ({smooth})"
        )


def rougher(q16: TrainingRun, q8: TrainingRun) -> bool:
    """Q8.8's curve is rougher: its error did not fall, or more of its log intervals rose and its roughness is
    larger."""
    if q8.roughness is None:
        return True
    return q16.roughness is not None and q8.roughness > q16.roughness and q8.rise_share > q16.rise_share


def compare_training(q16: TrainingRun, q8: TrainingRun) -> str:
    """HOLDS when Q16.16 learned and Q8.8 did worse: not at all, more slowly, or with a rougher curve."""
    worse = not q8.learned or q8.iterations > q16.iterations or rougher(q16, q8)
    return HOLDS if q16.learned and worse else FAILS


def training_run(row: pd.Series, log: pd.DataFrame) -> TrainingRun:
    errors = log["error"].tolist()
    # A run whose outputs are right only through overflow (learned_exact False) did not learn XOR.
    through_overflow = is_measured(row.learned_exact) and not bool(row.learned_exact)
    learned = bool(row.learned) and not through_overflow
    return TrainingRun(
        learned, int(row.iterations), roughness(errors), rises(errors), len(errors) - 1, through_overflow
    )


def training_finding(q16: TrainingRun, q8: TrainingRun) -> str:
    """What the comparison found, in words: how Q8.8 did against Q16.16."""
    for name, run in (("Q16.16", q16), ("Q8.8", q8)):
        if run.through_overflow:
            return f"{name} learned only through overflow"
        if not run.learned:
            return f"{name} did not learn"
    slower = q8.iterations > q16.iterations
    return (
        f"Q8.8 learned {'more slowly' if slower else 'no more slowly'} and "
        f"{'more' if rougher(q16, q8) else 'no more'} roughly"
    )


def q8_less_smooth(rows: pd.DataFrame, training: dict[str, pd.DataFrame], library: str = QNN_LIBRARY) -> Claim:
    claim = "Q16.16 learns XOR on the device; Q8.8 trains less smoothly (or more slowly, or not at all)"
    runs = {}
    for qformat in ("q16.16", "q8.8"):
        row = _cell(rows, "trainable", qformat=qformat, library=library)
        name = (
            training_log_name(row.workload, row.library, row.network, row.core, qformat, "trainable", row.opt)
            if row is not None
            else ""
        )
        log = training.get(name)
        if row is None or log is None or not is_measured(row.learned):
            return Claim(
                "q8.8-less-smooth",
                claim,
                f"needs emulated trainable {qformat} runs with their training logs",
                UNMEASURED,
            )
        runs[qformat] = training_run(row, log)
    q16, q8 = runs["q16.16"], runs["q8.8"]
    measured = (
        f"{training_finding(q16, q8)} (holds if Q16.16 learns and Q8.8 does not, takes more iterations, or rises in "
        f"more of its log intervals with a larger roughness): {q16.describe('q16.16')}. {q8.describe('q8.8')}"
    )
    return Claim("q8.8-less-smooth", claim, measured, compare_training(q16, q8))


# The activations of the article's network that read a table; qnn's tanh and sigmoid share one.
TABLE_ACTIVATIONS = ("tanh", "sigmoid")


def table_limit(library: str) -> int:
    """The most tables the article's network may link: qnn's one shared table, else one per activation."""
    activations = [name for name in TABLE_ACTIVATIONS if name in ARTICLE["network"]]
    return 1 if library == QNN_LIBRARY else len(activations)


def _tables(image: pd.DataFrame) -> pd.DataFrame:
    """An image's activation tables: read-only data its library's own files define (qbench.sizes.symbols)."""
    return image[image["group"] == "activation tables"]


def _table_names(tables: pd.DataFrame) -> str:
    return ", ".join(sorted(short_name(name) for name in tables["symbol"])) or "none"


def tables_only_when_used(symbols: pd.DataFrame, library: str = QNN_LIBRARY) -> Claim:
    """The tanh/sigmoid trainable image links at least one table and at most table_limit, the inference-only image
    (same activations) the same ones where it was built, the empty baseline none."""
    claim = "Only the activation tables a network uses are linked (tanh and sigmoid share one)"
    key = {**ARTICLE, "library": library}
    trainable = symbols[matching(symbols, {**key, "variant": "trainable"})]
    baseline = symbols[(symbols["core"] == ARTICLE["core"]) & (symbols["variant"] == BASELINE_VARIANT)]
    if trainable.empty or baseline.empty:
        return Claim("tables-only-when-used", claim, "needs the trainable image and its baseline", UNMEASURED)
    inference_image = symbols[matching(symbols, {**key, "variant": "inference"})]
    tables, inference, in_baseline = _tables(trainable), _tables(inference_image), _tables(baseline)
    built = not inference_image.empty
    limit = table_limit(library)
    same = not built or set(inference["symbol"]) == set(tables["symbol"])
    holds = 1 <= len(tables) <= limit and same and in_baseline.empty
    why = "tanh and sigmoid share one" if library == QNN_LIBRARY else "one per activation"
    measured = (
        f"{len(tables)} table{'' if len(tables) == 1 else 's'} ({tables['size'].sum():,} B) in the tanh/sigmoid "
        f"trainable image ({_table_names(tables)}), "
        + (f"{len(inference)} ({_table_names(inference)}) in the inference-only image, " if built else "")
        + f"{len(in_baseline)} in the empty baseline (holds if {'one' if limit == 1 else f'1 to {limit}'} ({why})"
        + (", the same in both variants" if built else "")
        + " and none in the baseline; tables: the read-only data of the library's own source files)"
    )
    return Claim("tables-only-when-used", claim, measured, HOLDS if holds else FAILS)


def libraries_of(rows: pd.DataFrame) -> list[str]:
    """The libraries a run's rows name, qnn always among them, in library_order."""
    return sorted({QNN_LIBRARY, *rows["library"]}, key=library_order)


def library_claims(
    rows: pd.DataFrame, symbols: SymbolFigures, training: dict[str, pd.DataFrame], parts: dict[str, Part], library: str
) -> list[Claim]:
    return [
        code_under_4kb(rows, symbols.network, library),
        inference_about_a_third(rows, symbols.network, library),
        *fits_the_parts(rows, symbols.network, parts, library),
        q8_less_smooth(rows, training, library),
        tables_only_when_used(symbols.named, library),
    ]


CLAIM_COLUMNS = ["claim_id", "claim", "library", "measured", "verdict"]


def article_claims(
    rows: pd.DataFrame, symbols: SymbolFigures, training: dict[str, pd.DataFrame], parts: dict[str, Part]
) -> pd.DataFrame:
    """Every claim for every library of the run: one row per claim and library, each claim's libraries together
    (`symbols`: at least CLAIM_IMAGES' symbols named, as claim_symbols gives)."""
    numbered = [
        (position, library, claim)
        for library in libraries_of(rows)
        for position, claim in enumerate(library_claims(rows, symbols, training, parts, library))
    ]
    records = [{"library": library, **vars(claim)} for _, library, claim in sorted(numbered, key=lambda item: item[0])]
    return pd.DataFrame(records, columns=CLAIM_COLUMNS)


def claim_symbols(symbols: SymbolTable) -> SymbolFigures:
    """What the claims take from a results set's symbols."""
    return symbol_figures(symbols.chunks(), CLAIM_IMAGES)
