"""The report's tables, claims and figures (a warm run's taken from the cache), and the progress display."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.common.paths import REPO
from qbench.orchestration.progress import LogProgress, TerminalProgress
from qbench.reporting import plots
from qbench.reporting.claims import (
    FAILS,
    HOLDS,
    UNMEASURED,
    TrainingRun,
    compare_training,
    rises,
    roughness,
    training_finding,
)
from qbench.reporting.report import (
    FIRST_SCREEN_END,
    FIRST_SCREEN_LINES,
    Counts,
    claims_for_report,
    markdown,
    table,
)


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


def test_terminal_progress_draws_stages_and_keeps_failures():
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress.begin("build", 2)
    progress.begin("cells", 4)
    progress.done("build", "a")
    progress.done("cells", "b [emlearn]", "timeout", failed=True)
    progress.finish()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "FAILED b [emlearn]: timeout\n" in text  # a line of its own, brackets kept as they are
    final = text.splitlines()[-2:]
    assert re.search(r"build .* 1/2", final[0]) and re.search(r"cells .* 1/4 1 failed \d+\.\d\d/s", final[1]), final


def test_log_progress_counts_failed_cells_and_the_rate():
    stream = io.StringIO()
    progress = LogProgress(stream)
    progress.begin("cells", 2)
    progress.done("cells", "a")
    progress.done("cells", "b", "timeout", failed=True)
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"\[cells 1/2, 0 failed, \d+\.\d\d/s\] a", lines[0]), lines
    assert re.fullmatch(r"\[cells 2/2, 1 failed, \d+\.\d\d/s\] FAILED b: timeout", lines[1]), lines


def test_emulated_report_opens_with_the_claims_and_keeps_every_figure(emulated_run):
    _, root, _ = emulated_run
    out = root / "out"
    report = (out / "report.md").read_text()
    screen = report.split(FIRST_SCREEN_END, 1)[0].splitlines()
    assert len(screen) <= FIRST_SCREEN_LINES
    claims = report[report.index("## The article's claims") : report.index("## Cost per core")]
    assert report.index("## Cost per core") < report.index(FIRST_SCREEN_END)
    assert claims.count("| holds") + claims.count("| does not hold") == 5 and "not measured" not in claims
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", report)
    assert links and "No data" not in report
    for link in links:
        assert not link.startswith("/") and (out / link).stat().st_size > 10_000
    drawn = {path.relative_to(out).as_posix() for path in (out / "plots").glob("*.png")}
    assert set(links) == drawn  # every figure drawn is in the report, once
    first = {link: (out / link).read_bytes() for link in links}
    assert qbench_main(["report", str(out)]) == 0
    assert (out / "report.md").read_text() == report
    assert {link: (out / link).read_bytes() for link in links} == first  # same results, same bytes


def test_a_warm_run_takes_every_plot_from_the_cache_byte_for_byte(emulated_run, monkeypatch):
    _, root, arguments = emulated_run
    drawn = {path.name: path.read_bytes() for path in (root / "out" / "plots").glob("*.png")}
    assert drawn and len(list((root / "build" / "cache" / "plots").iterdir())) >= len(drawn)

    def nothing_drawn(charts):
        assert not charts, f"{len(charts)} figures drawn again"
        return []

    monkeypatch.setattr(plots, "pngs", nothing_drawn)
    warm = root / "warm"
    assert qbench_main([*arguments[: arguments.index("--out") + 1], str(warm), "--build-dir", str(root / "build")]) == 0
    assert {path.name: path.read_bytes() for path in (warm / "plots").glob("*.png")} == drawn


def test_robot_suite_parses():
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--dryrun",
            "--output",
            "NONE",
            "--report",
            "NONE",
            "--log",
            "NONE",
            str(REPO / "tests" / "robot"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert re.search(r"(\d+) tests?, \1 passed, 0 failed", completed.stdout), completed.stdout


def test_report_tables_show_missing_values_as_dashes():
    table = markdown(pd.DataFrame({"a": [1.0, None], "b": ["x", None]}))
    assert "nan" not in table and "<NA>" not in table and "–" in table


def test_figures_have_separated_thousands_and_whole_numbers_bare():
    frame = pd.DataFrame(
        {
            "flash": pd.array([1768, 20000], dtype="Int64"),
            "instr": [631.0, 350.75],
            "ratio": [0.4231, 1.0],
            "ok": [True, False],
        }
    )
    lines = markdown(frame, {"ratio": 2}).splitlines()
    assert [cell.strip() for cell in lines[2].strip("|").split("|")] == ["1,768", "631", "0.42", "yes"]
    assert [cell.strip() for cell in lines[3].strip("|").split("|")] == ["20,000", "350.8", "1.00", "no"]
    alignments = lines[1].strip("|").split("|")
    assert [rule.endswith(":") for rule in alignments] == [True, True, True, False]  # numbers right, the rest left


def test_constant_context_columns_go_to_the_caption_and_means_are_named():
    frame = pd.DataFrame(
        {
            "library": ["qnn", "qnn"],
            "opt": ["Os", "Os"],
            "core": ["m0", "m4"],
            "instr_forward": [631.0, 219.75],
            "lib_flash": [1, 1],
        }
    )
    shown = table(frame)
    assert shown.caption == "Every row: library qnn, opt -Os."
    header = shown.text.splitlines()[0]
    assert "library" not in header and "opt" not in header and "core" in header
    assert "mean_instr_forward" in header and "lib_flash" in header  # a measured figure stays, even constant
    assert str(shown).startswith("Every row: library qnn, opt -Os.\n\n|")
    whole = table(pd.DataFrame({"core": ["m0", "m4"], "instr_forward": [631.0, 219.0]}))
    assert "mean" not in whole.text and not whole.caption
    assert not table(pd.DataFrame({"core": []}))  # no rows: nothing to show


def test_a_library_with_no_claim_measured_gets_one_row():
    claims = pd.DataFrame(
        {
            "claim_id": ["a", "a", "b", "b"],
            "claim": ["A", "A", "B", "B"],
            "library": ["qnn", "emlearn", "qnn", "emlearn"],
            "measured": ["1", "x", "2", "y"],
            "verdict": [HOLDS, UNMEASURED, FAILS, UNMEASURED],
        }
    )
    shown = claims_for_report(claims)
    assert shown["library"].tolist() == ["qnn", "qnn", "emlearn"]
    assert shown.iloc[2]["claim"] == "every claim" and shown.iloc[2]["verdict"] == UNMEASURED
    assert list(shown.columns) == ["claim", "library", "measured", "verdict"]


def test_a_run_right_only_through_overflow_says_so_not_that_it_ran_out():
    wrapped = TrainingRun(False, 3509, 2.0, 10, 100, through_overflow=True)
    assert wrapped.describe("q8.8").startswith("Q8.8 learned only through overflow after 3,509 iterations; ")
    assert run(learned=False, iterations=5000).describe("q8.8").startswith("Q8.8 did not learn in 5,000 iterations; ")
    assert training_finding(run(), wrapped) == "Q8.8 learned only through overflow"
    assert training_finding(run(), run(learned=False)) == "Q8.8 did not learn"


def test_the_cells_that_are_neither_ok_nor_invalid_failed():
    assert Counts(ok=3, invalid=1, total=6).failed == 2
    assert Counts(ok=4, invalid=0, total=4).failed == 0
