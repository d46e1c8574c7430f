"""qnn's performance targets (issues 8 and 16), kept as data in reports/performance-targets.toml, against the
committed benchmark baseline, and the checker itself on rows made by hand.

The figures are qbench's own measurements in reports/baseline/all (instruction counts and byte sizes,
deterministic, never timed here); `tox -e regression` re-measures them (scripts/regression) and fails when any
grows by more than 1 % or misses a target.
"""

from __future__ import annotations

import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.common.paths import REPORTS
from qbench.records.results import read_results
from qbench.reporting.performance_targets import (
    PerformanceTarget,
    PerformanceTargetError,
    accuracy_gap,
    judge,
    metric_value,
    read_targets,
)

BASELINE = REPORTS / "baseline" / "all"
Q8_8_ITERATIONS = 5000


@pytest.fixture(scope="module")
def baseline() -> pd.DataFrame:
    return read_results(BASELINE).rows


def test_the_baseline_holds_qnns_rows_for_xor_iris_and_digits_on_the_issues_cores(baseline):
    assert (baseline["status"] == "ok").all(), baseline[baseline["status"] != "ok"][["core", "status", "message"]]
    assert set(baseline["library"]) == {"qnn"}
    for workload in ("xor", "iris", "digits"):
        cores = set(baseline.loc[baseline["workload"] == workload, "core"])
        assert {"cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m55"} <= cores, workload


@pytest.mark.parametrize("target", read_targets(), ids=lambda target: f"{target.label} {target.metric}")
def test_baseline_meets_the_target(baseline, target):
    verdict = judge(baseline, target)
    assert verdict.met, verdict.why


def test_q8_8_learns_xor_on_both_cores(baseline):
    rows = baseline[
        (baseline["workload"] == "xor")
        & (baseline["qformat"] == "q8.8")
        & (baseline["variant"] == "trainable")
        & baseline["core"].isin(["cortex-m0plus", "cortex-m4"])
    ]
    assert len(rows) == 2 and rows["learned"].astype(bool).all()
    assert (rows["iterations"] <= Q8_8_ITERATIONS).all()


# ---- the checker, on rows made by hand --------------------------------------------------------------------


def _row(**columns) -> dict:
    return {
        "workload": "digits",
        "core": "cortex-m4",
        "qformat": "q8.8w3.5",
        "variant": "inference",
        "library": "qnn",
        "opt": "Os",
        "network": "64-32-10 tanh/sigmoid",
        "status": "ok",
        "message": "",
        "lib_flash": 5000,
        "test_data_bytes": 1700,
        "instr_forward": 4000.5,
        "accuracy_device": 0.975,
        "accuracy_float_host": 0.978,
        **columns,
    }


def _target(**fields) -> PerformanceTarget:
    return PerformanceTarget(
        **{
            "issue": 16,
            "workload": "digits",
            "core": "cortex-m4",
            "qformat": "q8.8w3.5",
            "variant": "inference",
            "metric": "deployed_flash",
            "max": 4400,
            **fields,
        }
    )


def test_deployed_flash_is_library_flash_without_the_test_split():
    # rows without the column (made by hand, or by a qbench before issue 23): derived
    assert metric_value(pd.Series(_row()), "deployed_flash") == 3300  # 5000 - 1700
    assert metric_value(pd.Series(_row(test_data_bytes=float("nan"))), "deployed_flash") == 5000
    # rows with it: the column as written
    assert metric_value(pd.Series(_row(deployed_flash=3300)), "deployed_flash") == 3300
    assert metric_value(pd.Series(_row(deployed_flash=4000)), "deployed_flash") == 4000
    assert metric_value(pd.Series(_row(deployed_flash=pd.NA)), "deployed_flash") == 3300
    assert metric_value(pd.Series(_row()), "instr_forward") == 4000.5


def test_the_baseline_reads_deployed_flash_as_the_targets_derived_it(baseline):
    """reports/baseline/all was written before deployed_flash was a column: it is derived on reading, and every
    ok row has it."""
    good = baseline[baseline["status"] == "ok"]
    assert good["deployed_flash"].notna().all()
    assert (good["deployed_flash"] == good["lib_flash"] - good["test_data_bytes"].fillna(0)).all()


def test_the_accuracy_gap_is_in_percentage_points():
    assert accuracy_gap(pd.Series(_row())) == pytest.approx(0.3)  # 97.8 % - 97.5 %
    assert accuracy_gap(pd.Series(_row(accuracy_device=float("nan")))) is None


def test_a_target_is_met_at_its_limit_and_missed_one_above():
    assert judge(pd.DataFrame([_row(lib_flash=6100)]), _target()).met  # 6100 - 1700 = 4400
    missed = judge(pd.DataFrame([_row(lib_flash=6101)]), _target())
    assert not missed.met and missed.why == "deployed_flash 4401 > 4400"


def test_an_accuracy_drop_beyond_the_allowance_misses_the_target():
    assert judge(pd.DataFrame([_row()]), _target(accuracy_within_pp=0.5)).met  # 0.3 pp
    missed = judge(pd.DataFrame([_row(accuracy_device=0.97)]), _target(accuracy_within_pp=0.5))  # 0.8 pp
    assert not missed.met and "0.80 pp below" in missed.why


def test_a_missing_or_failed_row_misses_the_target():
    assert "no row" in judge(pd.DataFrame([_row(core="cortex-m7")]), _target()).why
    failed = judge(pd.DataFrame([_row(status="run-failed", message="timed out")]), _target())
    assert not failed.met and "run-failed" in failed.why


def test_a_bad_targets_file_is_one_message_naming_the_target(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text(
        '[[target]]\nissue = 16\nworkload = "digits"\ncore = "cortex-m4"\nqformat = "q8.8"\n'
        'variant = "inference"\nmetric = "accuracy_device"\nmax = 1\n'
    )
    expected = r"targets.toml: 'target\[0\].metric' is 'accuracy_device'; allowed: 'lib_code'"
    with pytest.raises(PerformanceTargetError, match=expected):
        read_targets(path)


def test_check_targets_exits_1_on_a_missed_target(tmp_path, capsys):
    path = tmp_path / "targets.toml"
    path.write_text(
        '[[target]]\nissue = 8\nworkload = "xor"\ncore = "cortex-m4"\nqformat = "q16.16"\n'
        'variant = "inference"\nmetric = "instr_forward"\nmax = 1\n'
    )
    assert qbench_main(["check-targets", str(BASELINE), "--file", str(path)]) == 1
    assert "**1 of 1 targets missed.**" in capsys.readouterr().out
    assert qbench_main(["check-targets", str(BASELINE)]) == 0
