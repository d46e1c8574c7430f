"""`qbench compare` between runs of different configurations: runs that share no rows are told so, with the
--match that pairs them, instead of a regression per row; --match pairs them; an unknown metric gets the list."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.reporting.compare import KEY, METRICS, compare, unpaired

HOST = ["--cores", "host", "--formats", "q16.16", "--no-emulate"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same footprint-only matrix built at -Os and at -O2."""
    root = tmp_path_factory.mktemp("compare-match")
    for level in ("Os", "O2"):
        arguments = ["run", *HOST, "--opt", level, "--build-dir", str(root / "build"), "--out", str(root / level)]
        assert qbench_main(arguments) == 0
    return root / "Os", root / "O2"


def test_runs_that_share_no_rows_are_told_so_with_the_match_that_pairs_them(runs, capsys):
    os_run, o2_run = runs
    with pytest.raises(SystemExit) as stopped:
        qbench_main(["compare", str(os_run), str(o2_run)])
    captured = capsys.readouterr()
    assert stopped.value.code == 2 and captured.out == ""
    assert captured.err == (
        f"qbench: error: {os_run} and {o2_run} share no rows when rows are matched on library, core, qformat, "
        f"variant, opt, workload, network (opt: {os_run} has Os, {o2_run} has O2): to compare them anyway, match "
        "on the other columns: --match library,core,qformat,variant,workload,network\n"
    )


def test_the_suggested_match_compares_each_cell_with_its_counterpart(runs, capsys):
    os_run, o2_run = runs
    match = ",".join(column for column in KEY if column != "opt")  # the two runs differ in their level only
    status = qbench_main(["compare", str(os_run), str(o2_run), "--metric", "lib_flash,img_flash", "--match", match])
    printed = capsys.readouterr().out
    assert "disappeared" not in printed
    # What the gate must find, worked out here from the two results files.
    base, new = (
        {row["variant"]: row for row in json.loads((run / "results.json").read_text())["rows"]} for run in runs
    )
    assert set(base) == set(new) == {"trainable", "inference"}
    grown = [
        f"qnn host q16.16 {variant} xor: {metric} {base[variant][metric]} -> {new[variant][metric]}"
        for variant in base
        for metric in ("lib_flash", "img_flash")
        if new[variant][metric] > base[variant][metric] * 1.02
    ]
    listed = [line.removeprefix("- ").split(" (")[0] for line in printed.splitlines() if line.startswith("- ")]
    assert sorted(listed) == sorted(grown)
    assert status == (1 if grown else 0)


def test_an_unknown_metric_is_answered_with_the_valid_ones(runs, capsys):
    os_run, _ = runs
    with pytest.raises(SystemExit) as stopped:
        qbench_main(["compare", str(os_run), str(os_run), "--metric", "flash"])
    error = capsys.readouterr().err
    assert stopped.value.code == 2
    assert error == f"qbench: error: unknown metric(s) flash: choose from {', '.join(METRICS)}\n"
    assert "lib_flash" in METRICS and "img_flash" in METRICS


def test_deployed_flash_compares_against_results_written_before_it_was_a_column(runs, tmp_path, capsys):
    """An earlier qbench's results (no deployed_flash in results.json) are read with it derived, so BASE and NEW
    compare on it: the same images give no change."""
    os_run, _ = runs
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    for name in ("results.csv", "symbols.csv", "instructions.csv", "article.csv"):
        (earlier / name).write_bytes((os_run / name).read_bytes())
    document = json.loads((os_run / "results.json").read_text())
    assert all("deployed_flash" in row for row in document["rows"])
    for row in document["rows"]:
        del row["deployed_flash"]
    (earlier / "results.json").write_text(json.dumps(document))
    assert qbench_main(["compare", str(earlier), str(os_run), "--metric", "deployed_flash"]) == 0
    assert "deployed_flash" in METRICS and METRICS["deployed_flash"] == "smaller"
    capsys.readouterr()


def test_deployed_flash_growing_is_a_regression():
    comparison = compare(frame({"deployed_flash": 1000}), frame({"deployed_flash": 1100}), ("deployed_flash",), 2.0)
    assert comparison.regressions == [
        "qnn cortex-m0plus q16.16 trainable Os xor: deployed_flash 1000 -> 1100 (+10.00 %)"
    ]


ROW = dict(zip(KEY, ("qnn", "cortex-m0plus", "q16.16", "trainable", "Os", "xor", "2-4-1 tanh/sigmoid"), strict=True))


def frame(*changes: dict) -> pd.DataFrame:
    return pd.DataFrame([{**ROW, "status": "ok", "message": "", "lib_flash": 1000, **change} for change in changes])


def test_runs_sharing_some_rows_still_report_the_missing_ones():
    base = frame({}, {"variant": "inference"})
    new = frame({})
    comparison = compare(base, new, ("lib_flash",), 2.0)
    assert comparison.unpaired is None
    assert comparison.regressions == ["qnn cortex-m0plus q16.16 inference Os xor: the row disappeared"]


def test_no_match_is_suggested_when_none_pairs_the_rows_one_to_one():
    base = frame({"core": "cortex-m0"}, {"core": "cortex-m4"})
    new = frame({"core": "cortex-m3"})
    assert unpaired(base, new, KEY) == (
        "BASE and NEW share no rows when rows are matched on library, core, qformat, variant, opt, workload, network "
        "(core: BASE has cortex-m0, cortex-m4, NEW has cortex-m3): they measure different cells, and no --match "
        "pairs them one to one"
    )


def test_runs_that_differ_only_in_combination_get_a_match_that_pairs_them():
    # Both runs hold cortex-m0 and cortex-m4 rows at Os and O2, never the same core at the same level.
    base = frame({"core": "cortex-m0"}, {"core": "cortex-m4", "opt": "O2"})
    new = frame({"core": "cortex-m0", "opt": "O2", "lib_flash": 1100}, {"core": "cortex-m4"})
    message = unpaired(base, new, KEY)
    assert message is not None
    assert "(each column's values are in both, in other combinations): to compare them anyway" in message
    suggested = tuple(message.split("--match ")[1].split(","))
    assert len(suggested) == len(KEY) - 1
    comparison = compare(base, new, ("lib_flash",), 2.0, match=suggested)
    assert comparison.unpaired is None and len(comparison.regressions) == 1
    assert "disappeared" not in comparison.regressions[0]


def test_an_empty_new_run_is_not_compared():
    assert unpaired(frame({}), frame({}).iloc[:0], KEY) == "NEW holds no rows: nothing to compare"
