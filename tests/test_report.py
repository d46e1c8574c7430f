"""The report's claims, plots and progress display."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pandas as pd
import pytest

from qbench.claims import (
    FAILS,
    HOLDS,
    UNMEASURED,
    TrainingRun,
    code_under_4kb,
    compare_training,
    inference_about_a_third,
    rises,
    roughness,
)
from qbench.cli import main as qbench_main
from qbench.paths import REPO
from qbench.progress import LogProgress, TerminalProgress
from qbench.results import ResultRow, rows_frame


def test_roughness_and_rises_by_hand():
    assert roughness([1.0, 0.5, 0.2]) == pytest.approx(1.0)  # falls only
    assert roughness([1.0, 0.4, 0.6, 0.2]) == pytest.approx((0.6 + 0.2 + 0.4) / 0.8)
    assert roughness([0.2, 0.5]) is None and roughness([0.3]) is None
    assert rises([1.0, 0.4, 0.6, 0.2, 0.3]) == 2


def run(learned=True, iterations=1000, rough=2.0, up=10, intervals=100) -> TrainingRun:
    return TrainingRun(learned, iterations, rough, up, intervals)


@pytest.mark.parametrize(
    ("q16", "q8", "verdict"),
    [
        (run(), run(learned=False, iterations=5000), HOLDS),  # Q8.8 did not learn
        (run(), run(iterations=1500), HOLDS),  # more slowly
        (run(), run(iterations=900, rough=3.0, up=20), HOLDS),  # faster but rougher on both measures
        (run(), run(iterations=900, rough=3.0, up=5), FAILS),  # rougher by one measure only
        (run(), run(iterations=700, rough=1.5), FAILS),  # better in every way
        (run(learned=False), run(learned=False), FAILS),  # Q16.16 must learn
    ],
)
def test_training_comparison(q16, q8, verdict):
    assert compare_training(q16, q8) == verdict


def row(variant: str, **columns) -> ResultRow:
    return ResultRow(core="cortex-m0plus", board="b", qformat="q16.16", variant=variant, opt="Os", workload="xor",
                     network="2-4-1 tanh/sigmoid", status="ok", **columns)  # fmt: skip


def test_code_claim_by_hand():
    holds = code_under_4kb(rows_frame([row("trainable", lib_code=3000, lib_rodata=500, lib_data=8, lib_flash=3508)]))
    assert holds.verdict == HOLDS and "3,508 B" in holds.measured
    fails = code_under_4kb(rows_frame([row("trainable", lib_code=4000, lib_rodata=96, lib_data=0, lib_flash=4096)]))
    assert fails.verdict == FAILS
    assert code_under_4kb(rows_frame([row("inference", lib_flash=1)])).verdict == UNMEASURED


def test_a_third_claim_states_the_supported_bound():
    frame = rows_frame([
        row("trainable", lib_flash=3000, lib_ram_static=300), row("inference", lib_flash=900, lib_ram_static=90),
    ])  # fmt: skip
    claim = inference_about_a_third(frame)
    assert claim.verdict == HOLDS and "inference-only <= 0.30 x trainable" in claim.measured
    frame = rows_frame([
        row("trainable", lib_flash=3000, lib_ram_static=300), row("inference", lib_flash=1500, lib_ram_static=90),
    ])  # fmt: skip
    assert inference_about_a_third(frame).verdict == FAILS


def test_log_progress_lines():
    stream = io.StringIO()
    progress = LogProgress(stream)
    progress.begin("build", 2)
    progress.done("build", "cortex-m0plus baseline -Os")
    progress.done("build", "cortex-m0plus xor q8.8 trainable -Os", "error: x", failed=True)
    assert stream.getvalue().splitlines() == [
        "[build 1/2] cortex-m0plus baseline -Os",
        "[build 2/2] FAILED cortex-m0plus xor q8.8 trainable -Os: error: x",
    ]


def test_terminal_progress_redraws_one_line_and_keeps_failures():
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress.begin("build", 2)
    progress.begin("run", 1)
    progress.done("build", "a")
    progress.done("run", "b", "timeout", failed=True)
    progress.finish()
    text = stream.getvalue()
    assert "\rFAILED b: timeout\n" in text.replace("\x1b[K", "")
    final = text.replace("\x1b[K", "").split("\r")[-1]
    assert re.fullmatch(r"build 1/2 · run 1/1 · 1 failed · 0:0\d\n", final)


def test_emulated_report_has_claims_and_plots(emulated_run):
    _, root, _ = emulated_run
    out = root / "out"
    report = (out / "report.md").read_text()
    assert "## The article's claims" in report
    claims = report[report.index("## The article's claims") : report.index("## Footprint")]
    assert claims.count("| holds") + claims.count("| does not hold") == 6 and "not measured" not in claims
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", report)
    assert len(links) == 4
    for link in links:
        assert not link.startswith("/") and (out / link).stat().st_size > 10_000
    first = {link: (out / link).read_bytes() for link in links}
    assert qbench_main(["report", str(out)]) == 0
    assert {link: (out / link).read_bytes() for link in links} == first  # same results, same bytes


def test_robot_suite_parses():
    completed = subprocess.run(
        [sys.executable, "-m", "robot", "--dryrun", "--output", "NONE", "--report", "NONE", "--log", "NONE",
         str(REPO / "tests" / "robot")], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "6 tests, 6 passed" in completed.stdout


def test_report_tables_show_missing_values_as_dashes():
    from qbench.report import markdown

    table = markdown(pd.DataFrame({"a": [1.0, None], "b": ["x", None]}))
    assert "nan" not in table and "<NA>" not in table and "–" in table
