"""The article's claims, checked against measured results.

Each claim is a pure function of the result tables returning the measured
figures and a verdict: 'holds', 'does not hold', or 'not measured' when the
run lacks what the claim needs (never a guess).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .analysis import budget_ram, is_measured, matching, ok_rows, ratio
from .results import QNN_LIBRARY, library_order, training_log_name
from .targets import Part

HOLDS, FAILS, UNMEASURED = "holds", "does not hold", "not measured"
CODE_BUDGET = 4096  # "a neural network in under 4 KB"
ABOUT_A_THIRD = 0.40  # the largest ratio still "about a third"
ARTICLE_PART = "STM32L011K4"
ARTICLE = {"core": "cortex-m0plus", "qformat": "q16.16", "opt": "Os", "library": QNN_LIBRARY,
           "workload": "xor", "network": "2-4-1 tanh/sigmoid"}  # fmt: skip


@dataclass(frozen=True)
class Claim:
    claim: str
    measured: str
    verdict: str


def _cell(rows: pd.DataFrame, variant: str, **key: str) -> pd.Series | None:
    wanted = {**ARTICLE, **key, "variant": variant}
    good = ok_rows(rows)
    chosen = good[matching(good, wanted)]
    return None if chosen.empty else chosen.iloc[0]


def roughness(errors: Sequence[float]) -> float | None:
    """Total variation of an error curve over its net fall: 1.0 for a curve that
    only falls, more for one that rises on the way; None if it does not fall."""
    if len(errors) < 2 or errors[0] <= errors[-1]:
        return None
    travelled = sum(abs(after - before) for before, after in zip(errors, errors[1:], strict=False))
    return travelled / (errors[0] - errors[-1])


def rises(errors: Sequence[float]) -> int:
    return sum(after > before for before, after in zip(errors, errors[1:], strict=False))


def code_under_4kb(rows: pd.DataFrame, library: str = QNN_LIBRARY) -> Claim:
    claim = "A trainable 2-4-1 Q16.16 network costs under 4 KB of code (Cortex-M0+, -Os)"
    row = _cell(rows, "trainable", library=library)
    if row is None:
        return Claim(claim, "no trainable Q16.16 Cortex-M0+ -Os result", UNMEASURED)
    measured = (
        f"{row.lib_flash:,} B of flash over the empty baseline (code {row.lib_code:,} + read-only data "
        f"{row.lib_rodata:,} + initialised data {row.lib_data:,})"
    )
    return Claim(claim, measured, HOLDS if row.lib_flash < CODE_BUDGET else FAILS)


def inference_about_a_third(rows: pd.DataFrame, library: str = QNN_LIBRARY) -> Claim:
    claim = "An inference-only build is about a third of the trainable one, in code and in RAM"
    trainable, inference = _cell(rows, "trainable", library=library), _cell(rows, "inference", library=library)
    if trainable is None or inference is None:
        return Claim(claim, "needs both Q16.16 Cortex-M0+ -Os variants", UNMEASURED)
    flash = ratio(inference.lib_flash, trainable.lib_flash)
    static = ratio(inference.lib_ram_static, trainable.lib_ram_static)
    parts = [f"flash {inference.lib_flash:,} / {trainable.lib_flash:,} B = {flash:.2f}",
             f"static RAM {inference.lib_ram_static:,} / {trainable.lib_ram_static:,} B = {static:.2f}"]  # fmt: skip
    ratios = [flash, static]
    if is_measured(inference.lib_ram_total) and is_measured(trainable.lib_ram_total):
        total = ratio(inference.lib_ram_total, trainable.lib_ram_total)
        parts.append(f"RAM with stack {inference.lib_ram_total:,} / {trainable.lib_ram_total:,} B = {total:.2f}")
        ratios.append(total)
    bound = max(ratios)
    measured = "; ".join(parts) + f"; the measurement supports: inference-only <= {bound:.2f} x trainable"
    return Claim(claim, measured, HOLDS if bound <= ABOUT_A_THIRD else FAILS)


def fits_the_article_part(rows: pd.DataFrame, parts: dict[str, Part], library: str = QNN_LIBRARY) -> list[Claim]:
    part = parts.get(ARTICLE_PART)
    claims = []
    for variant in ("inference", "trainable"):
        claim = f"The whole {variant} image, stack included, fits an {ARTICLE_PART} (16 KB flash, 2 KB RAM)"
        row = _cell(rows, variant, library=library)
        if part is None or row is None or not is_measured(row.ram_total):
            claims.append(Claim(claim, "needs an emulated Q16.16 Cortex-M0+ -Os run and the part", UNMEASURED))
            continue
        ram = budget_ram(row)
        fits = row.img_flash <= part.flash_bytes and ram <= part.ram_bytes
        measured = (
            f"flash {row.img_flash:,} of {part.flash_bytes:,} B ({100 * row.img_flash / part.flash_bytes:.1f} %); "
            f"RAM {ram:,} of {part.ram_bytes:,} B ({100 * ram / part.ram_bytes:.1f} %: static "
            f"{row.img_ram_static:,} + peak stack {row.stack_peak:,} + one exception frame {row.exception_frame:,})"
        )
        claims.append(Claim(claim, measured, HOLDS if fits else FAILS))
    return claims


@dataclass(frozen=True)
class TrainingRun:
    learned: bool
    iterations: int
    roughness: float | None
    rises: int
    intervals: int

    @property
    def rise_share(self) -> float:
        return self.rises / self.intervals if self.intervals else 0.0

    def describe(self, qformat: str) -> str:
        outcome = (
            f"learned after {self.iterations:,} iterations" if self.learned else f"did not learn in {self.iterations:,}"
        )
        smooth = f"roughness {self.roughness:.2f}" if self.roughness is not None else "its error did not fall"
        return (
            f"{qformat.upper()} {outcome}; its error rose in {self.rises} of {self.intervals} log intervals ({smooth})"
        )


def compare_training(q16: TrainingRun, q8: TrainingRun) -> str:
    """HOLDS when Q16.16 learned and Q8.8 did worse: not at all, more slowly, or with a rougher curve
    (more of its log intervals rising and a larger roughness)."""
    rougher = (
        q8.roughness is None
        or (q16.roughness is not None and q8.roughness > q16.roughness and q8.rise_share > q16.rise_share)
    )  # fmt: skip
    worse = not q8.learned or q8.iterations > q16.iterations or rougher
    return HOLDS if q16.learned and worse else FAILS


def training_run(row: pd.Series, log: pd.DataFrame) -> TrainingRun:
    errors = log["error"].tolist()
    # A run whose outputs are right only through overflow (learned_exact False) did not learn XOR.
    through_overflow = is_measured(row.learned_exact) and not bool(row.learned_exact)
    learned = bool(row.learned) and not through_overflow
    return TrainingRun(learned, int(row.iterations), roughness(errors), rises(errors), len(errors) - 1)


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
            return Claim(claim, f"needs emulated trainable {qformat} runs with their training logs", UNMEASURED)
        runs[qformat] = training_run(row, log)
    measured = f"{runs['q16.16'].describe('q16.16')}. {runs['q8.8'].describe('q8.8')}"
    return Claim(claim, measured, compare_training(runs["q16.16"], runs["q8.8"]))


def tables_only_when_used(symbols: pd.DataFrame, library: str = QNN_LIBRARY) -> Claim:
    claim = "Only the activation tables a network uses are linked (tanh and sigmoid share one)"
    key = {**ARTICLE, "variant": "trainable", "library": library}
    image = symbols[matching(symbols, key)]
    baseline = symbols[(symbols["core"] == ARTICLE["core"]) & (symbols["variant"] == "baseline")]
    if image.empty or baseline.empty:
        return Claim(claim, "needs the Q16.16 Cortex-M0+ -Os trainable image and its baseline", UNMEASURED)
    tables = image[image["group"] == "activation tables"]
    in_baseline = baseline[baseline["group"] == "activation tables"]
    if tables.empty and library != QNN_LIBRARY:
        return Claim(claim, "no symbol of its image is known as an activation table (qbench knows qnn's)", UNMEASURED)
    measured = (
        f"{len(tables)} table ({tables['size'].sum():,} B) in the tanh/sigmoid image, "
        f"{len(in_baseline)} in the empty baseline"
    )
    return Claim(claim, measured, HOLDS if len(tables) == 1 and in_baseline.empty else FAILS)


def libraries_of(rows: pd.DataFrame) -> list[str]:
    """The libraries a run's rows name, qnn always among them, in library_order."""
    return sorted({QNN_LIBRARY, *rows["library"]}, key=library_order)


def library_claims(
    rows: pd.DataFrame, symbols: pd.DataFrame, training: dict[str, pd.DataFrame], parts: dict[str, Part], library: str
) -> list[Claim]:
    return [
        code_under_4kb(rows, library),
        inference_about_a_third(rows, library),
        *fits_the_article_part(rows, parts, library),
        q8_less_smooth(rows, training, library),
        tables_only_when_used(symbols, library),
    ]


def article_claims(
    rows: pd.DataFrame, symbols: pd.DataFrame, training: dict[str, pd.DataFrame], parts: dict[str, Part]
) -> pd.DataFrame:
    """Every claim for every library of the run: one row per claim and library, each claim's libraries together."""
    numbered = [
        (position, library, claim)
        for library in libraries_of(rows)
        for position, claim in enumerate(library_claims(rows, symbols, training, parts, library))
    ]
    records = [{"library": library, **vars(claim)} for _, library, claim in sorted(numbered, key=lambda item: item[0])]
    return pd.DataFrame(records, columns=["claim", "library", "measured", "verdict"])
