"""The Robot suite's scenarios (tests/robot/) can fail.

The suite runs once as tox runs it (its own matrix, `--skiponfailure known-gap`): a scenario passes, or, tagged
known-gap, is reported as skipped with the measured reason. Then each scenario is fed a results set (the suite's own,
altered) in which its claim does not hold, selected with --test and pointed at the set with RESULTS, and must
fail with the measured figures in its message and the evidence attached; each known-gap scenario is also fed a set
in which its claim holds, and must pass. Every altered set is first checked through qbench.reporting.claims
itself, so a test here fails when an alteration no longer does what it says rather than passing for the wrong reason.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
from robot.api import ExecutionResult
from robot.api import TestSuiteBuilder as SuiteBuilder
from robot.result import TestCase as RobotTest
from robot.run import run as run_robot

from host_build import REPO
from qbench.hardware.targets import load_parts, load_targets
from qbench.images.libraries import LibraryError, parse_library
from qbench.images.workloads import WorkloadSettings
from qbench.records.results import (
    QNN_LIBRARY,
    SavedResults,
    SymbolTable,
    read_results,
    training_log_name,
    write_results,
)
from qbench.reporting.claims import ARTICLE, FAILS, HOLDS, article_claims, claim_symbols

SUITE = REPO / "tests" / "robot"
KNOWN_GAP = "known-gap"
SKIPPED_ON_FAILURE = "Failed test skipped using 'known-gap' tag."
GROWTH = 4096  # bytes: enough to take any measure of a 2-4-1 network's size past the article's 4 KB


@dataclass(frozen=True)
class Scenario:
    name: str
    tags: tuple[str, ...]

    def tag(self, kind: str) -> str:
        (value,) = [tag.split(":", 1)[1] for tag in self.tags if tag.startswith(f"{kind}:")]
        return value

    @property
    def claim_id(self) -> str:
        return self.tag("claim")

    @property
    def library(self) -> str:
        return self.tag("library")

    @property
    def known_gap(self) -> bool:
        return KNOWN_GAP in self.tags


def _scenarios() -> list[Scenario]:
    """The suite's scenarios as written (parsed, not run)."""
    return [Scenario(test.name, tuple(test.tags)) for test in SuiteBuilder().build(str(SUITE)).all_tests]


SCENARIOS = _scenarios()


def _installed(library: str) -> bool:
    if library == QNN_LIBRARY:
        return True
    try:
        parse_library(library)
    except LibraryError:
        return False
    return True


def run_suite(
    output: Path,
    *,
    results: Path | None = None,
    test: str | None = None,
    skip_known_gaps: bool = True,
    suite: Path = SUITE,
):
    """Runs the suite in-process into output; returns its result (robot.api.ExecutionResult)."""
    console = io.StringIO()
    options = {
        "outputdir": str(output),
        "report": "NONE",
        "stdout": console,
        "stderr": console,
        "variable": [f"RESULTS:{results}"] if results is not None else [],
        "test": [test] if test is not None else [],
        "skiponfailure": [KNOWN_GAP] if skip_known_gaps else [],
    }
    run_robot(str(suite), **options)
    assert (output / "output.xml").is_file(), console.getvalue()
    return ExecutionResult(str(output / "output.xml"))


def result_of(result, name: str) -> RobotTest:
    (test,) = [test for test in result.suite.all_tests if test.name == name]
    return test


def messages(item) -> list[str]:
    """Every message logged under a test, its set-up, body or teardown, however deep."""
    found = []
    for child in [*getattr(item, "body", ()), *([item.teardown] if getattr(item, "has_teardown", False) else [])]:
        found += [child.message] if child.type == "MESSAGE" else messages(child)
    return found


def claim_of(saved: SavedResults, claim_id: str, library: str) -> pd.Series:
    claims = article_claims(saved.rows, claim_symbols(saved.symbols), saved.training, load_parts(load_targets()))
    (row,) = [row for _, row in claims.iterrows() if row.claim_id == claim_id and row.library == library]
    return row


@dataclass(frozen=True)
class LiveRun:
    result: object
    results: Path
    saved: SavedResults


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    """The suite as tox runs it: its own matrix (about ten seconds on two cores), --skiponfailure known-gap."""
    output = tmp_path_factory.mktemp("robot-live")
    result = run_suite(output)
    return LiveRun(result, output / "results", read_results(output / "results"))


# ---- results sets in which a claim does not hold, or holds -------------------------------------------------------

SIZE_COLUMNS = ("lib_code", "lib_rodata", "lib_data", "lib_bss", "lib_flash", "lib_ram_static", "lib_ram_total")
STACK_COLUMNS = ("stack_peak", "stack_painted", "stack_sp_depth")


def _image(frame: pd.DataFrame, library: str, qformat: str | None = None, variant: str | None = None) -> pd.Series:
    """Which rows of a results or symbols table belong to the library's images on the article's core and level."""
    mask = (frame["library"] == library) & (frame["workload"] == ARTICLE["workload"])
    mask &= (frame["core"] == ARTICLE["core"]) & (frame["opt"] == ARTICLE["opt"])
    if qformat is not None:
        mask &= frame["qformat"] == qformat
    if variant is not None:
        mask &= frame["variant"] == variant
    return mask


def _one(frame: pd.DataFrame, mask: pd.Series) -> int:
    (index,) = frame.index[mask]
    return index


def _altered(
    saved: SavedResults,
    rows: pd.DataFrame | None = None,
    symbols: pd.DataFrame | None = None,
    training: dict[str, pd.DataFrame] | None = None,
) -> SavedResults:
    return replace(
        saved,
        rows=saved.rows if rows is None else rows,
        symbols=saved.symbols if symbols is None else SymbolTable.of(symbols.reset_index(drop=True)),
        training=saved.training if training is None else training,
    )


def trainable_code_grows(saved: SavedResults, library: str) -> SavedResults:
    """The article's trainable image carries 4 KB more of the library's own code."""
    rows, symbols = saved.rows.copy(), saved.symbols.frame()
    image = _image(rows, library, ARTICLE["qformat"], "trainable")
    for column in ("lib_code", "lib_flash", "img_code", "img_flash"):
        rows.loc[image, column] += GROWTH
    in_image = symbols[_image(symbols, library, ARTICLE["qformat"], "trainable")]
    grown = in_image.iloc[[0]].assign(symbol=f"{library}::grown()", group=library, category="code", size=GROWTH)
    return _altered(saved, rows, pd.concat([symbols, grown]))


def _inference_like_trainable(saved: SavedResults, library: str, scale: Callable[[int], int]) -> SavedResults:
    """The article's inference-only image given the trainable one's sizes and symbols, each scaled."""
    rows, symbols = saved.rows.copy(), saved.symbols.frame()
    qformat = ARTICLE["qformat"]
    trainable = _one(rows, _image(rows, library, qformat, "trainable"))
    inference = _one(rows, _image(rows, library, qformat, "inference"))
    for column in (*SIZE_COLUMNS, *(c for c in rows.columns if c.startswith("img_")), "ram_total", *STACK_COLUMNS):
        rows.loc[inference, column] = scale(rows.loc[trainable, column])
    copied = symbols[_image(symbols, library, qformat, "trainable")].copy()
    copied["variant"] = "inference"
    copied["size"] = copied["size"].map(scale)
    kept = symbols[~_image(symbols, library, qformat, "inference")]
    return _altered(saved, rows, pd.concat([kept, copied]))


def inference_as_large_as_trainable(saved: SavedResults, library: str) -> SavedResults:
    """The inference-only image is exactly as large as the trainable one, in flash and in RAM."""
    return _inference_like_trainable(saved, library, lambda size: size)


def inference_a_third_of_trainable(saved: SavedResults, library: str) -> SavedResults:
    """The inference-only image is a third of the trainable one, figure by figure and symbol by symbol."""
    return _inference_like_trainable(saved, library, lambda size: size // 3)


def stack_overflows_the_part(saved: SavedResults, library: str) -> SavedResults:
    """Every image of the library needs a 4 KB stack, twice the STM32L011K4's RAM."""
    rows = saved.rows.copy()
    image = _image(rows, library)
    added = GROWTH - rows.loc[image, "stack_peak"]
    for column in STACK_COLUMNS:
        rows.loc[image, column] = GROWTH
    rows.loc[image, "ram_total"] += added
    rows.loc[image, "lib_ram_total"] += added
    return _altered(saved, rows)


def _training_logs(rows: pd.DataFrame, library: str) -> tuple[int, int, str, str]:
    """The trainable Q16.16 and Q8.8 rows and their training logs' names."""
    indexes = [_one(rows, _image(rows, library, qformat, "trainable")) for qformat in ("q16.16", "q8.8")]
    names = [
        training_log_name(row.workload, row.library, row.network, row.core, row.qformat, row.variant, row.opt)
        for row in (rows.loc[index] for index in indexes)
    ]
    return indexes[0], indexes[1], names[0], names[1]


def q8_trains_as_q16_does(saved: SavedResults, library: str) -> SavedResults:
    """Q8.8 learns in the same iterations as Q16.16 did, along the same error curve."""
    rows, training = saved.rows.copy(), dict(saved.training)
    q16, q8, q16_log, q8_log = _training_logs(rows, library)
    for column in ("learned", "learned_exact", "iterations", "final_error", "outputs"):
        rows.loc[q8, column] = rows.loc[q16, column]
    training[q8_log] = training[q16_log].copy()
    return _altered(saved, rows, training=training)


def q8_does_not_learn(saved: SavedResults, library: str) -> SavedResults:
    """Q8.8 runs its whole training budget without learning XOR (Q16.16 as measured)."""
    rows = saved.rows.copy()
    _, q8, _, _ = _training_logs(rows, library)
    rows.loc[q8, ["learned", "learned_exact"]] = False
    rows.loc[q8, "iterations"] = WorkloadSettings().max_iterations
    return _altered(saved, rows)


def unused_table_linked(saved: SavedResults, library: str) -> SavedResults:
    """Every image of the library links a second activation table beside the one its network uses."""
    rows, symbols = saved.rows.copy(), saved.symbols.frame()
    tables = symbols[_image(symbols, library) & (symbols["group"] == "activation tables")]
    unused = tables.assign(symbol=tables["symbol"] + "::unused")
    for _, table in unused.iterrows():
        image = _image(rows, library, table.qformat, table.variant)
        for column in ("lib_rodata", "lib_flash", "img_rodata", "img_flash"):
            rows.loc[image, column] += table["size"]
    return _altered(saved, rows, pd.concat([symbols, unused]))


# For each claim: a results set in which it does not hold; for a claim a scenario tags known-gap, also one in
# which it holds.
BREAKS = {
    "trainable-under-4kb": trainable_code_grows,
    "inference-about-a-third": inference_as_large_as_trainable,
    "fits-stm32l011k4": stack_overflows_the_part,
    "q8.8-less-smooth": q8_trains_as_q16_does,
    "tables-only-when-used": unused_table_linked,
}
MENDS = {
    "inference-about-a-third": inference_a_third_of_trainable,
    "q8.8-less-smooth": q8_does_not_learn,
}


def _fed(live: LiveRun, scenario: Scenario, alteration, verdict: str, tmp_path: Path):
    """Runs the scenario alone on live's results altered; first checks the claim's verdict on them."""
    saved = alteration(live.saved, scenario.library)
    claim = claim_of(saved, scenario.claim_id, scenario.library)
    assert claim.verdict == verdict, f"{alteration.__name__} does not make the claim's verdict {verdict!r}: {claim}"
    write_results(tmp_path / "results", saved)
    result = run_suite(tmp_path / "robot", results=tmp_path / "results", test=scenario.name, skip_known_gaps=False)
    return result_of(result, scenario.name), claim


# ---- the tests ---------------------------------------------------------------------------------------------------


def test_the_suite_has_scenarios_with_every_tag():
    assert SCENARIOS
    names = [scenario.name for scenario in SCENARIOS]
    assert len(set(names)) == len(names)
    for scenario in SCENARIOS:
        for kind in ("claim", "core", "library", "workload"):
            assert scenario.tag(kind), f"{scenario.name} has no {kind}: tag"
    pairs = [(scenario.claim_id, scenario.library) for scenario in SCENARIOS]
    assert len(set(pairs)) == len(pairs), "one scenario per claim and library"


def test_every_claim_measured_for_a_library_of_the_suite_has_its_scenario(live):
    claims = article_claims(
        live.saved.rows, claim_symbols(live.saved.symbols), live.saved.training, load_parts(load_targets())
    )
    covered = {(scenario.claim_id, scenario.library) for scenario in SCENARIOS}
    qnn = {(row.claim_id, row.library) for row in claims.itertuples() if row.library == QNN_LIBRARY}
    assert qnn <= covered, "every claim qbench measures for qnn is a scenario"
    measured_peers = {
        (row.claim_id, row.library)
        for row in claims.itertuples()
        if row.library != QNN_LIBRARY and row.verdict in (HOLDS, FAILS)
    }
    assert measured_peers <= covered, "every claim measured for a peer library is a scenario"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: f"{scenario.claim_id}-{scenario.library}")
def test_on_the_suites_own_run_a_scenario_passes_or_is_a_known_gap_skipped_with_the_figures(live, scenario):
    test = result_of(live.result, scenario.name)
    if not _installed(scenario.library):
        assert test.status == "SKIP" and f"{scenario.library} is not installed here" in test.message
        return
    claim = claim_of(live.saved, scenario.claim_id, scenario.library)
    if scenario.known_gap:
        assert test.status == "SKIP", f"the claim now holds ({test.message}): take known-gap off {scenario.name}"
        assert test.message.startswith(SKIPPED_ON_FAILURE)
        assert f": {claim.verdict}: {claim.measured}" in test.message
        assert any(message.startswith("<details><summary>result row: ") for message in messages(test))
    else:
        assert test.status == "PASS", test.message
        assert test.message == f"{HOLDS}: {claim.measured}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: f"{scenario.claim_id}-{scenario.library}")
def test_a_scenario_fails_when_its_claim_does_not_hold(live, scenario, tmp_path):
    if not _installed(scenario.library):
        pytest.skip(f"{scenario.library} is not installed: the suite's run has no rows of it to alter")
    assert scenario.claim_id in BREAKS, f"write how {scenario.claim_id} can be made not to hold"
    test, claim = _fed(live, scenario, BREAKS[scenario.claim_id], FAILS, tmp_path)
    assert test.status == "FAIL"
    assert test.message == f"{claim.claim} ({scenario.library}): {FAILS}: {claim.measured}"
    logged = messages(test)
    assert any(message.startswith("<details><summary>result row: ") for message in logged)
    assert any(message.startswith("<details><summary>emulator output of ") for message in logged)


@pytest.mark.parametrize(
    "scenario",
    [scenario for scenario in SCENARIOS if scenario.known_gap],
    ids=lambda scenario: f"{scenario.claim_id}-{scenario.library}",
)
def test_a_known_gap_scenario_passes_when_its_claim_holds(live, scenario, tmp_path):
    assert scenario.claim_id in MENDS, f"write how {scenario.claim_id} can be made to hold"
    test, claim = _fed(live, scenario, MENDS[scenario.claim_id], HOLDS, tmp_path)
    assert test.status == "PASS", test.message
    assert test.message == f"{HOLDS}: {claim.measured}"
    assert not any(message.startswith("<details>") for message in messages(test)), "no evidence on a pass"


def _only(saved: SavedResults, keep) -> SavedResults:
    """The results set with the rows, symbols and training logs of the libraries keep accepts."""
    rows = saved.rows[saved.rows["library"].map(keep)].reset_index(drop=True)
    every = saved.symbols.frame()
    symbols = every[(every["variant"] == "baseline") | every["library"].map(keep)]
    names = {
        training_log_name(row.workload, row.library, row.network, row.core, row.qformat, row.variant, row.opt)
        for row in rows.itertuples()
    }
    return _altered(saved, rows, symbols, {name: log for name, log in saved.training.items() if name in names})


def test_results_without_qnn_fail_every_scenario_none_skipped(live, tmp_path):
    write_results(tmp_path / "results", _only(live.saved, lambda library: library != QNN_LIBRARY))
    result = run_suite(tmp_path / "robot", results=tmp_path / "results", skip_known_gaps=False)
    for scenario in SCENARIOS:
        test = result_of(result, scenario.name)
        assert test.status == "FAIL", test.message
        assert ": not measured: " in test.message


PEER_SUITE = """*** Settings ***
Resource            {resource}
Suite Setup         The Article's Platform Is Prepared
Test Teardown       The Evidence Is Attached If The Scenario Failed

*** Test Cases ***
A Peer Library's Claim
    [Tags]    claim:trainable-under-4kb    library:{peer}    core:cortex-m0plus    workload:xor
    The Claim Should Hold    trainable-under-4kb    {peer}
"""


def test_a_peer_scenario_is_skipped_without_the_peer_and_fails_on_a_claim_not_measured_for_it(live, tmp_path):
    """A scenario for a peer (here emlearn, for a claim that does not apply to it, which no real scenario does):
    skipped, saying why, on results without the peer; failed, not skipped, on results with it."""
    peers = sorted(set(live.saved.rows["library"]) - {QNN_LIBRARY})
    if not peers:
        pytest.skip("no peer library is installed, so the suite's run has none")
    suite = tmp_path / "peer.robot"
    suite.write_text(PEER_SUITE.format(resource=SUITE / "qbench.resource", peer=peers[0]))
    write_results(tmp_path / "qnn-only", _only(live.saved, lambda library: library == QNN_LIBRARY))
    without = run_suite(tmp_path / "without", results=tmp_path / "qnn-only", suite=suite)
    (test,) = without.suite.all_tests
    assert test.status == "SKIP"
    assert test.message == (
        f"the results in {tmp_path / 'qnn-only'} hold no row of {peers[0]} "
        f"(`qbench run --library {peers[0]}` measures it)"
    )
    assert not any(message.startswith("<details>") for message in messages(test))
    with_peer = run_suite(tmp_path / "with", results=live.results, suite=suite)
    (test,) = with_peer.suite.all_tests
    assert test.status == "FAIL"
    assert f"({peers[0]}): not measured: " in test.message
    assert any(message.startswith(f"<details><summary>result row: {peers[0]} ") for message in messages(test))
