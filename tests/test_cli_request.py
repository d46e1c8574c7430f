"""The command line's boundary: arguments become typed values and one request; a run's result becomes the closing
line and the exit status; every error a command reports is a QbenchError with its status."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbench.commands.cli import _closing_line, build_parser
from qbench.commands.requests import explore_matrix, run_request
from qbench.common.errors import QbenchError
from qbench.hardware.targets import TargetError
from qbench.hardware.toolchain import ToolNotFound
from qbench.images.torch_import import TorchImportError
from qbench.images.workloads import WorkloadError, WorkloadSettings
from qbench.models.datasets import DataFileError
from qbench.models.network import NetworkError
from qbench.models.qformat import QFormatError
from qbench.orchestration.run import ExecutorChoice, RunResult, _settings_line
from qbench.records.merge import MergeError
from qbench.records.outputs import FolderError, WriteError
from qbench.records.results import ResultsFileError
from qbench.reporting.compare import CompareError
from qbench.reporting.performance_targets import PerformanceTargetError


def parsed(*arguments: str):
    return build_parser().parse_args(list(arguments))


def test_a_list_option_is_typed_when_parsed_its_repeats_noted_once():
    formats = parsed("run", "--formats", "q16.16,Q16.16, q8.8").formats
    assert formats.items == ("q16.16", "q8.8")
    assert formats.notes == ("note: --formats names q16.16 twice; measured once",)
    assert parsed("run", "--opt", "Os,-Os,O2").opt.items == ("Os", "O2")
    assert parsed("run").formats.items == ("q16.16", "q8.8")  # the default goes through the same type


def test_a_run_request_is_built_once_from_the_arguments():
    notes: list[str] = []
    arguments = parsed(
        "run",
        "--cores",
        "host,cortex-m0plus,host",
        "--build-dir",
        "/tmp/b",
        "-j",
        "3",
        "--shard",
        "2/4",
        "--parts",
        "nRF52832, STM32F030F4",
        "--no-emulate",
        "--activations",
        "relu,linear",
    )
    request = run_request(arguments, notes.append)
    assert notes == ["note: --cores names host twice; measured once"]
    assert request.matrix.cores == ("host", "cortex-m0plus") and request.matrix.variants is None
    assert request.matrix.settings.hidden_activation == "relu" and request.matrix.settings.output_activation == "linear"
    assert request.cache_dir == Path("/tmp/b/cache") and request.read_cache
    assert request.executor == ExecutorChoice(3) and request.shard == (2, 4) and not request.emulate
    assert request.parts == ("nRF52832", "STM32F030F4")


def test_explore_takes_the_groups_it_needs_without_faking_runs_options():
    arguments = parsed("explore", "--workload", "iris", "--part", "nRF52832")
    assert not hasattr(arguments, "max_iterations") and not hasattr(arguments, "cores")
    matrix = explore_matrix(arguments, print)
    assert matrix.variants == ("inference",) and matrix.opt == ("Os",)
    assert matrix.hidden_layers == ("1", "2") and matrix.hidden_neurons == ("4", "8", "16", "32")
    assert matrix.settings == WorkloadSettings()


def test_the_digest_spells_the_settings_as_it_always_has():
    """merge compares the digests of shards, possibly from earlier versions: the line must not change."""
    assert _settings_line(WorkloadSettings()) == (
        "max-iterations 20000 log-every 10 activations None initial-weights qbench"
    )
    settings = WorkloadSettings(max_iterations=5, log_every=1, hidden_activation="relu", output_activation="linear")
    assert (
        _settings_line(settings) == "max-iterations 5 log-every 1 activations ('relu', 'linear') initial-weights qbench"
    )


def result(ok: int, failed: int, invalid: int, problems: tuple[str, ...] = ()) -> RunResult:
    return RunResult(ok, failed, invalid, 0, Path("out"), Path("out/report.md"), problems, interrupted=False)


def test_the_closing_line_counts_the_cells_and_names_the_files():
    assert _closing_line(RunResult(2, 1, 3, 5, Path("/x/out"), Path("/x/out/report.md"), (), False)) == (
        "2 ok, 1 failed, 3 invalid, 5 from the cache; results in /x/out/results.csv, report /x/out/report.md"
    )
    assert _closing_line(result(1, 0, 0)).startswith("1 ok, 0 failed; results in ")


@pytest.mark.parametrize(
    ("outcome", "succeeded"),
    [((2, 0, 0), True), ((2, 1, 0), False), ((2, 0, 1), False), ((0, 0, 0), False), ((2, 0, 0, ("qemu?",)), False)],
)
def test_a_run_succeeds_only_when_every_cell_did_and_nothing_else_failed(outcome, succeeded):
    assert result(*outcome).succeeded is succeeded


@pytest.mark.parametrize(
    "kind",
    [
        QFormatError,
        TargetError,
        ResultsFileError,
        ToolNotFound,
        MergeError,
        CompareError,
        TorchImportError,
        NetworkError,
        FolderError,
        WorkloadError,
        PerformanceTargetError,
        DataFileError,
    ],
)
def test_every_error_that_stops_a_command_before_it_starts_exits_2(kind):
    assert issubclass(kind, QbenchError) and kind.status == 2


def test_a_failed_write_exits_1():
    assert issubclass(WriteError, QbenchError) and WriteError.status == 1


def test_plan_prints_the_cell_graph_and_builds_or_writes_nothing(tmp_path: Path, capsys):
    from qbench.commands.cli import main

    out, build = tmp_path / "out", tmp_path / "build"
    status = main(
        ["run", "--plan", "--cores", "cortex-m0plus", "--formats", "q8.8", "--variants", "inference"]
        + ["--out", str(out), "--build-dir", str(build), "--cache-dir", str(tmp_path / "cache")]
    )
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    # One cell: its prepare, build, measure, execute, price and analyse; the baseline's prepare, build, execute and
    # price, listed once.
    assert lines[-1] == "10 tasks, 4 of them the baselines' shared by their cells, for 1 cell"
    assert (
        "measure cortex-m0plus xor q8.8 inference -Os: image from [build cortex-m0plus xor q8.8 inference -Os], "
        "baseline image from [build cortex-m0plus baseline -Os] -> footprint" in lines
    )
    assert not out.exists() and not build.exists()
