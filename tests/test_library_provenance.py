"""Libraries first-class in the report: the article's claims, the plots and the provenance name every library
of a run (qbench run --library NAME=PATH)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from library_copies import renamed_qnn
from qbench.images.libraries import QNN, parse_library
from qbench.orchestration.provenance import QBENCH_CHECKOUT, library_provenance, package_release
from qbench.records.results import ResultRow, SymbolTable, read_results, rows_frame, symbols_frame
from qbench.reporting.claims import UNMEASURED, article_claims, claim_symbols
from qbench.reporting.report import plot_figures

CLAIMS = 5  # the article's claims, each once per library


def _section(report: str, title: str) -> str:
    """The text under a heading, up to the next heading of any level."""
    return report.split(f"\n## {title}\n", 1)[1].split("\n#", 1)[0]


def test_every_claim_is_checked_for_every_library(side_by_side):
    _, out, _ = side_by_side
    claims = _section((out / "report.md").read_text(), "The article's claims")
    rows = [line for line in claims.splitlines() if line.startswith("| ") and "| claim " not in line]
    assert len(rows) == 2 * CLAIMS
    assert [re.split(r"\s*\|\s*", row)[2] for row in rows] == ["qnn", "other"] * CLAIMS
    under_4kb = [row for row in rows if row.startswith("| A trainable 2-4-1 Q16.16 network costs under 4 KB")]
    assert len(under_4kb) == 2 and all(row.rstrip(" |").endswith("holds") for row in under_4kb)


def test_a_library_without_results_is_not_measured():
    failed = ResultRow(
        core="cortex-m0plus",
        board="b",
        qformat="q16.16",
        variant="trainable",
        opt="Os",
        workload="xor",
        network="2-4-1 tanh/sigmoid",
        status="build-failed",
        library="other",
    )
    no_symbols = claim_symbols(SymbolTable.of(symbols_frame([])))
    claims = article_claims(rows_frame([failed]), no_symbols, {}, {})
    assert list(claims.columns) == ["claim_id", "claim", "library", "measured", "verdict"]
    assert set(claims["library"]) == {"qnn", "other"} and set(claims["verdict"]) == {UNMEASURED}


def test_the_environment_records_every_librarys_path_and_revision(side_by_side):
    _, out, other = side_by_side
    libraries = read_results(out).environment["libraries"]
    assert libraries["qnn"] == {"path": str(QNN.root), "revision": QBENCH_CHECKOUT}
    digest = parse_library(f"other={other}").fingerprint
    assert libraries["other"] == {"path": str(other), "revision": f"sha256 {digest}"}
    provenance = _section((out / "report.md").read_text(), "Provenance")
    assert "| other " in provenance and str(other) in provenance and digest in provenance
    assert provenance.index("| qnn ") < provenance.index("| other ") and QBENCH_CHECKOUT in provenance


def test_a_library_in_a_git_checkout_records_its_description(tmp_path):
    checkout = renamed_qnn(tmp_path / "checkout", "gitnn")
    identity = ["-c", "user.name=qbench", "-c", "user.email=qbench@example.invalid"]
    for command in (["init", "--quiet"], ["add", "."], [*identity, "commit", "--quiet", "-m", "the library"]):
        subprocess.run(["git", "-C", str(checkout), *command], check=True, capture_output=True)
    library = parse_library(f"gitlib={checkout}")
    described = library_provenance([library, QNN])
    assert set(described) == {"qnn", "gitlib"}
    assert re.fullmatch(r"git [0-9a-f]{7,}", described["gitlib"]["revision"])
    (checkout / "include" / "qnn" / "qnn.hpp").write_text("// changed\n")
    assert library_provenance([library])["gitlib"]["revision"].endswith("-dirty")


def test_a_library_from_a_registry_package_records_its_version(tmp_path):
    assert package_release(Path(pd.__file__).parent / "include") == f"pandas {pd.__version__}"
    assert package_release(tmp_path) is None


def test_plots_name_every_library(side_by_side):
    _, out, _ = side_by_side
    sections = plot_figures(read_results(out))
    figures = [figure for entries in sections.values() for _, figure, _ in entries]
    try:
        assert {"footprint", "instructions", "training", "weights"} <= {
            name for name, entries in sections.items() if entries
        }
        for name in ("footprint", "instructions", "training"):
            labels = {
                label
                for _, figure, _ in sections[name]
                for axes in figure.axes
                for label in axes.get_legend_handles_labels()[1]
            }
            named = [set(re.split(r"[\s,()]+", label)) & {"qnn", "other"} for label in labels]
            assert set().union(*named) == {"qnn", "other"}, labels
            assert all(len(libraries) <= 1 for libraries in named), labels
        titles = " ".join(
            figure.axes[0].get_title() + (figure._suptitle.get_text() if figure._suptitle else "")
            for _, figure, _ in sections["weights"]
        )
        assert "qnn" in titles and "other" in titles, titles
    finally:
        for figure in figures:
            plt.close(figure)
