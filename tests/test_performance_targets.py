"""qnn's performance targets (issue 8) against the committed benchmark baseline.

The figures are qbench's own measurements in reports/baseline/ (instruction
counts and byte sizes, deterministic, never timed here); `tox -e regression`
re-measures them and fails when any grows by more than 1 %.
"""

from __future__ import annotations

import pandas as pd
import pytest

from qbench.paths import REPORTS
from qbench.results import read_results

BASELINE = REPORTS / "baseline"
ARTICLE_CELL = {"library": "qnn", "qformat": "q16.16", "opt": "Os", "network": "2-4-1 tanh/sigmoid"}

# (core, variant, metric): the largest value allowed.
TARGETS = {
    ("cortex-m0plus", "trainable", "lib_flash"): 2000,
    ("cortex-m0plus", "trainable", "lib_ram_static"): 340,
    ("cortex-m0plus", "inference", "lib_flash"): 800,
    ("cortex-m0plus", "inference", "lib_ram_static"): 110,
    ("cortex-m0plus", "inference", "instr_forward"): 700,
    ("cortex-m0plus", "trainable", "instr_forward"): 700,
    ("cortex-m0plus", "trainable", "instr_train_step"): 3000,
    ("cortex-m4", "trainable", "lib_flash"): 1800,
    ("cortex-m4", "trainable", "lib_ram_static"): 340,
    ("cortex-m4", "inference", "lib_flash"): 700,
    ("cortex-m4", "inference", "lib_ram_static"): 110,
    ("cortex-m4", "inference", "instr_forward"): 250,
    ("cortex-m4", "trainable", "instr_forward"): 250,
    ("cortex-m4", "trainable", "instr_train_step"): 900,
}
Q8_8_ITERATIONS = 5000


@pytest.fixture(scope="module")
def baseline() -> pd.DataFrame:
    return read_results(BASELINE).rows


def _row(rows: pd.DataFrame, **key: str) -> pd.Series:
    wanted = {**ARTICLE_CELL, **key}
    chosen = rows[(rows[list(wanted)] == pd.Series(wanted)).all(axis=1)]
    assert len(chosen) == 1, f"the baseline has {len(chosen)} rows for {wanted}"
    return chosen.iloc[0]


def test_baseline_rows_all_succeeded_with_qnn_on_the_article_network(baseline):
    assert len(baseline) == 8
    assert (baseline["status"] == "ok").all(), baseline[baseline["status"] != "ok"][["core", "status", "message"]]
    assert set(baseline["library"]) == {"qnn"} and set(baseline["network"]) == {ARTICLE_CELL["network"]}


@pytest.mark.parametrize(("core", "variant", "metric"), list(TARGETS))
def test_baseline_meets_the_target(baseline, core, variant, metric):
    row = _row(baseline, core=core, variant=variant)
    assert row[metric] <= TARGETS[(core, variant, metric)], f"{core} {variant} {metric} = {row[metric]}"


@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m4"])
def test_both_formats_learn_xor_on_the_device(baseline, core):
    assert _row(baseline, core=core, variant="trainable")["learned"]
    q8_8 = _row(baseline, core=core, variant="trainable", qformat="q8.8")
    assert q8_8["learned"] and q8_8["iterations"] <= Q8_8_ITERATIONS
    for variant in ("trainable", "inference"):
        assert _row(baseline, core=core, variant=variant)["learned"]
