"""Robot Framework keywords for qbench's acceptance suite (tests/robot/): the article's claims, one scenario each.

The platform is prepared once per suite (`Prepare Platform`): it runs the suite's matrix (qnn in Q16.16 and
Q8.8, trainable and inference-only, and every installed peer library in what it computes, all on the article's
core and -O level) and writes its results into Robot's output directory, or it reads an existing results folder
(`results=DIR`, the suite's `RESULTS` variable). Either way the claims come from one place,
qbench.claims.article_claims, read through the same results reader; this module holds no claim logic.

A scenario asks for one claim by its id and library (`Article Claim`) and checks its verdict; a failed
scenario's teardown (`Attach Scenario Evidence`) puts the result rows behind it and their emulator output
into the log.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pandas as pd
from robot.api import SkipExecution, logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn

from qbench.hardware.targets import load_parts, load_targets
from qbench.hardware.toolchain import require
from qbench.images.libraries import Library, LibraryError, builtin_names, parse_library
from qbench.images.matrix import Matrix, MatrixRequest, expand
from qbench.images.workloads import WORKLOADS
from qbench.orchestration.cache import Cache
from qbench.orchestration.executors import LocalExecutor
from qbench.orchestration.pipeline import RunOptions, run_matrix
from qbench.orchestration.provenance import environment, git_revision
from qbench.orchestration.spool import Spool
from qbench.records.results import (
    QNN_LIBRARY,
    ResultsFileError,
    SavedResults,
    Status,
    read_results,
    saved_results,
    write_results,
)
from qbench.reporting.claims import ARTICLE, article_claims, claim_symbols

ARTICLE_FORMATS = ("q16.16", "q8.8")  # the article's format and the one it left behind
BOTH_VARIANTS = ("trainable", "inference")
EVIDENCE_TAGS = ("library", "core", "workload")  # tags naming the rows a scenario's claim rests on


class _RobotProgress:
    """Progress lines into Robot's log instead of the console."""

    def begin(self, stage: str, total: int) -> None:
        logger.debug(f"{stage}: {total} items")

    def done(self, stage: str, label: str, detail: str = "", failed: bool = False) -> None:
        (logger.warn if failed else logger.info)(f"{stage} {'FAILED ' if failed else ''}{label} {detail}".strip())

    def note(self, text: str) -> None:
        logger.info(text)

    def finish(self) -> None:
        pass


def peer_libraries() -> tuple[dict[str, Library], dict[str, str]]:
    """The built-in libraries other than qnn: those installed, and why each of the others cannot be used."""
    installed: dict[str, Library] = {}
    missing: dict[str, str] = {}
    for name in builtin_names():
        if name == QNN_LIBRARY:
            continue
        try:
            installed[name] = parse_library(name)
        except LibraryError as error:
            missing[name] = str(error)
    return installed, missing


def suite_matrix(peers: Iterable[Library]) -> Matrix:
    """The article's core and level: qnn in Q16.16 and Q8.8, trainable and inference-only; each peer in those
    formats when it computes in fixed point, else in float32, in the variants it supports."""
    targets = load_targets()
    article = MatrixRequest(
        cores=(ARTICLE["core"],),
        formats=ARTICLE_FORMATS,
        variants=BOTH_VARIANTS,
        opt=(ARTICLE["opt"],),
        workload=ARTICLE["workload"],
    )
    matrices = [expand(targets, WORKLOADS, article)]
    for peer in peers:
        formats = ARTICLE_FORMATS if peer.supports.fixed_point else ("float32",)
        variants = BOTH_VARIANTS if peer.supports.training else ("inference",)
        peer_request = replace(article, formats=formats, variants=variants, libraries=(peer,))
        matrices.append(expand(targets, WORKLOADS, peer_request))
    return Matrix(
        cells=tuple(cell for matrix in matrices for cell in matrix.cells),
        rejected=tuple(rejected for matrix in matrices for rejected in matrix.rejected),
        problems=tuple(problem for matrix in matrices for problem in matrix.problems),
        notes=tuple(note for matrix in matrices for note in matrix.notes),
    )


def _details(summary: str, text: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary><pre>{html.escape(text)}</pre></details>"


def _row_text(row: pd.Series) -> str:
    measured = {key: value for key, value in row.items() if not pd.isna(value)}
    return json.dumps(
        {key: value.item() if hasattr(value, "item") else value for key, value in measured.items()},
        indent=1,
        default=str,
    )


def _label(row: pd.Series) -> str:
    return f"{row.library} {row.workload} {row.core} {row.qformat} {row.variant} -{row.opt}"


@library(scope="SUITE", auto_keywords=False)
class QbenchLibrary:
    def __init__(self) -> None:
        self.folder: Path | None = None
        self.saved: SavedResults | None = None
        self.claims: pd.DataFrame | None = None
        self.not_installed: dict[str, str] = {}  # peer library -> why it is not in the matrix run here
        self.unmeasured: set[str] = set()  # scenarios skipped because their library was not measured

    @keyword
    def prepare_platform(self, results: str = "", timeout: float = 60.0, jobs: int = 2) -> str:
        """Measures the article's claims once for the suite and returns the results folder they come from.

        Without `results`: checks the cross toolchain and QEMU, runs the suite's matrix (see `suite_matrix`)
        with images under `${OUTPUT DIR}/build` and writes the results to `${OUTPUT DIR}/results`. With
        `results`: reads that results folder (written by `qbench run` or by an earlier suite) instead."""
        if results:
            folder = Path(results).resolve()
            logger.info(f"the claims are measured from the results in {folder}")
        else:
            folder = self._run_suite_matrix(float(timeout), int(jobs))
        try:
            saved = read_results(folder)
        except ResultsFileError as error:
            raise AssertionError(f"cannot read the results: {error}") from None
        self.folder, self.saved = folder, saved
        self.claims = article_claims(
            saved.rows, claim_symbols(saved.symbols), saved.training, load_parts(load_targets())
        )
        for _, row in saved.rows[saved.rows["status"] != Status.OK].iterrows():
            logger.warn(f"{_label(row)}: {row.status}: {row.message}")
        logger.info(self.claims.to_string(index=False, max_colwidth=120))
        return str(folder)

    def _run_suite_matrix(self, timeout: float, jobs: int) -> Path:
        output = Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))
        peers, self.not_installed = peer_libraries()
        for name, reason in self.not_installed.items():
            logger.warn(f"peer library {name} is left out: {reason}")
        matrix = suite_matrix(peers.values())
        if matrix.problems or not matrix.cells:
            raise AssertionError("; ".join(matrix.problems) or "the suite's matrix has no cell")
        for tool in sorted({cell.target.compiler for cell in matrix.cells} | {"qemu-system-arm"}):
            require(tool)
        build = output / "build"
        options = RunOptions(build, jobs, Cache(build / "cache"), timeout=timeout)
        revision = git_revision()
        progress = _RobotProgress()
        for note in matrix.notes:
            progress.note(f"note: {note}")
        spool = Spool(output / "results.partial")
        run = run_matrix(matrix, options, revision, progress, LocalExecutor(jobs, build), spool)
        libraries = {cell.library for cell in matrix.cells}
        problems = [*matrix.problems, *run.problems]
        saved = saved_results(
            run.rows,
            run.symbols,
            environment(revision, run.tools, problems, run.interrupted, libraries=libraries),
            run.instructions,
            article=run.article,
        )
        folder = output / "results"
        write_results(folder, saved, logs=run.training)
        spool.remove()
        logger.info(f"results of {len(run.rows)} cells in {folder}; images in {build}")
        return folder

    def _ready(self) -> tuple[SavedResults, pd.DataFrame]:
        if self.saved is None or self.claims is None:
            raise AssertionError("call 'Prepare Platform' first (the suite's set-up)")
        return self.saved, self.claims

    @keyword
    def library_should_have_been_measured(self, library: str) -> None:
        """Skips the scenario when a peer library was not measured: not installed here (a matrix run) or absent
        from the results read. qnn is never skipped: a run without it fails its scenarios."""
        saved, _ = self._ready()
        if library == QNN_LIBRARY:
            return
        if library in self.not_installed:
            reason = f"{library} is not installed here: {self.not_installed[library]}"
        elif not (saved.rows["library"] == library).any():
            reason = (
                f"the results in {self.folder} hold no row of {library} (`qbench run --library {library}` measures it)"
            )
        else:
            return
        self.unmeasured.add(BuiltIn().get_variable_value("${TEST NAME}"))
        raise SkipExecution(reason)

    @keyword
    def article_claim(self, claim_id: str, library: str) -> dict:
        """The claim with this id for this library, as qbench.claims.article_claims measured it: a dictionary
        with `claim`, `library`, `measured` and `verdict`. Logs it and puts the figures in the test message."""
        _, claims = self._ready()
        chosen = claims[(claims["claim_id"] == claim_id) & (claims["library"] == library)]
        if chosen.empty:
            known = ", ".join(f"{row.claim_id} ({row.library})" for row in claims.itertuples())
            raise AssertionError(f"no claim {claim_id!r} for {library} among the measured claims: {known}")
        if len(chosen) > 1:
            raise AssertionError(f"{len(chosen)} claims have the id {claim_id!r} for {library}; ids must be unique")
        claim = {key: str(value) for key, value in chosen.iloc[0].items()}
        logger.info(f"{claim['claim']} ({library}): {claim['verdict']}: {claim['measured']}")
        BuiltIn().set_test_message(f"{claim['verdict']}: {claim['measured']}")
        return claim

    @keyword
    def attach_scenario_evidence(self) -> None:
        """A test teardown: when the scenario failed, or failed and was reported as skipped (a known gap run with
        --skiponfailure), logs the result rows its claim rests on (those matching its library:, core: and
        workload: tags), each row whole and its emulator output (run.log beside the image), or why there is none.
        """
        builtin = BuiltIn()
        status, test = builtin.get_variable_value("${TEST STATUS}"), builtin.get_variable_value("${TEST NAME}")
        if status == "PASS" or (status == "SKIP" and test in self.unmeasured):
            return
        saved, _ = self._ready()
        tags = builtin.get_variable_value("@{TEST TAGS}") or []
        key = {kind: tag.split(":", 1)[1] for tag in tags for kind in EVIDENCE_TAGS if tag.startswith(f"{kind}:")}
        rows = saved.rows
        for column, value in key.items():
            rows = rows[rows[column] == value]
        if rows.empty:
            logger.warn(f"no result row in {self.folder} matches {key}")
            return
        for _, row in rows.iterrows():
            label = _label(row)
            logger.info(_details(f"result row: {label}: {row.status}", _row_text(row)), html=True)
            elf = Path(row.elf) if isinstance(row.elf, str) and row.elf else None
            run_log = elf.with_name("run.log") if elf is not None else None
            if run_log is not None and run_log.is_file():
                logger.info(
                    _details(f"emulator output of {label} ({run_log})", run_log.read_text(errors="replace")), html=True
                )
            else:
                where = run_log if run_log is not None else "no image"
                logger.info(f"no emulator output for {label} ({where}): {row.status} {row.message}".rstrip())
