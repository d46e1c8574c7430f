"""The pipeline on a dask cluster: the same results as on local threads, byte for byte; a task that fails on a
worker is that cell's failed row; a lost worker's task runs again elsewhere; worker-check; and the spool the
rows stream to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from distributed import LocalCluster

from qbench.commands.cli import main as qbench_main
from qbench.hardware.targets import load_targets
from qbench.images.matrix import expand
from qbench.images.workloads import WORKLOADS
from qbench.orchestration import workercheck
from qbench.orchestration.analyse import CellOutcome
from qbench.orchestration.cache import Cache
from qbench.orchestration.executors import ClusterExecutor, LocalExecutor, TaskFailed
from qbench.orchestration.pipeline import RunOptions, run_matrix
from qbench.orchestration.progress import LogProgress
from qbench.orchestration.provenance import Revision
from qbench.orchestration.spool import Spool
from qbench.orchestration.tasks import execute
from qbench.records.results import ResultRow, Status, SymbolRow

MATRIX = ["--cores", "cortex-m0plus,cortex-m4", "--formats", "q8.8", "--variants", "trainable,inference"]
STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def results_files(out: Path) -> dict[str, bytes]:
    """Every results file, its dates masked."""
    names = ["results.json", "results.csv", "symbols.csv", "instructions.csv", "article.csv"]
    files = {name: (out / name).read_bytes() for name in names}
    files |= {str(path.relative_to(out)): path.read_bytes() for path in sorted((out / "training").glob("*.csv"))}
    return {name: STAMP.sub(b"<date>", content) for name, content in files.items()}


def test_a_two_process_cluster_gives_the_local_results_byte_for_byte(tmp_path):
    build = ["--build-dir", str(tmp_path / "build")]  # one build folder: the rows name the same ELF paths
    local = ["run", *MATRIX, *build, "--cache-dir", str(tmp_path / "cache-local"), "-j", "2"]
    cluster = ["run", *MATRIX, *build, "--cache-dir", str(tmp_path / "cache-cluster"), "--workers", "2"]
    assert qbench_main([*local, "--out", str(tmp_path / "local")]) == 0
    assert qbench_main([*cluster, "--out", str(tmp_path / "cluster")]) == 0
    local_files, cluster_files = results_files(tmp_path / "local"), results_files(tmp_path / "cluster")
    assert len(local_files) == 7  # two training logs
    assert local_files == cluster_files
    assert not (tmp_path / ".cluster.qbench-partial").exists()  # the spool goes once the folder is written


class FailingExecutor(LocalExecutor):
    """Runs tasks here, but every execute task fails as a worker's would."""

    def run(self, task, *arguments):
        if task is execute:
            raise TaskFailed("worker tcp://10.0.0.9:4711 (far): OSError: [Errno 28] No space left on device")
        return super().run(task, *arguments)


def test_a_task_that_fails_where_it_ran_is_that_cells_failed_row(tmp_path):
    targets = load_targets()
    matrix = expand(targets, WORKLOADS, cores="cortex-m0plus,host", formats="q8.8", variants="inference")
    options = RunOptions(tmp_path / "build", 2, Cache(tmp_path / "cache", "inputs"))
    output = run_matrix(matrix, options, Revision("sha", False), LogProgress(), FailingExecutor(2, options.build_root),
                        Spool(tmp_path / "spool"))  # fmt: skip
    rows = {row.core: row for row in output.rows}
    assert rows["cortex-m0plus"].status == Status.RUN_FAILED
    assert rows["cortex-m0plus"].message == (
        "the execute task failed: worker tcp://10.0.0.9:4711 (far): OSError: [Errno 28] No space left on device"
    )
    assert rows["cortex-m0plus"].lib_flash is not None  # what was measured before the failure is kept
    assert rows["host"].status == Status.OK


def die_once(marker: str) -> str:
    """Kills its worker process the first time it runs; returns where it ran the second time."""
    import os
    from pathlib import Path

    if not Path(marker).exists():
        Path(marker).write_text("died")
        os._exit(1)
    from distributed import get_worker

    return get_worker().address


def failing(message: str) -> None:
    raise ValueError(message)


def test_a_lost_workers_task_runs_again_and_a_raising_task_names_its_worker(tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(__import__(__name__))  # the workers cannot import this test module
    executor = ClusterExecutor.start(2)
    try:
        assert executor.run(die_once, str(tmp_path / "marker")).startswith("tcp://")
        with pytest.raises(TaskFailed, match=r"^worker tcp://[\d.:]+ \(.+\): ValueError: a bad input$"):
            executor.run(failing, "a bad input")
    finally:
        executor.close()
        cloudpickle.unregister_pickle_by_value(__import__(__name__))


def test_worker_check_names_what_is_missing(capsys, monkeypatch):
    assert qbench_main(["worker-check"]) == 0
    text = capsys.readouterr().out
    assert "qemu-system-arm | QEMU emulator version" in text and "ready" in text
    monkeypatch.setattr(workercheck, "needed_tools", lambda: ["qemu-system-arm", "qbench-no-such-tool"])
    assert qbench_main(["worker-check"]) == 1
    assert "problem: qbench-no-such-tool not found on PATH" in capsys.readouterr().out


def test_worker_check_asks_every_worker_of_a_cluster(capsys):
    with LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster:
        assert qbench_main(["worker-check", "--scheduler", cluster.scheduler_address]) == 0
    text = capsys.readouterr().out
    assert text.count("\n## ") + text.startswith("## ") == 2 and text.count("\nready") == 2


def test_an_unreachable_scheduler_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("qbench.orchestration.executors.CONNECT_TIMEOUT", "1s")
    with pytest.raises(SystemExit) as exit_status:
        qbench_main(["run", "--cores", "host", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "out")])
    assert exit_status.value.code == 2
    error = capsys.readouterr().err
    assert "qbench: error: cannot reach the scheduler tcp://127.0.0.1:9" in error and "Traceback" not in error


def row(core: str) -> ResultRow:
    return ResultRow(core=core, board="", qformat="q8.8", variant="inference", opt="Os", workload="xor", status="ok")


def test_the_spool_streams_rows_as_they_arrive_and_reads_them_back_in_matrix_order(tmp_path):
    spool = Spool(tmp_path / "spool")
    symbol = SymbolRow("b", "q8.8", "inference", "Os", "xor", "qnn", "2-4-1", "main", "harness", "code", 12)
    spool.add(2, CellOutcome(row("c")))
    spool.add(0, CellOutcome(row("a")))
    spool.add(1, CellOutcome(row("b"), (symbol,)))
    arrived = [line for line in spool.rows_file.read_text().splitlines()]
    assert [line.split('"core": "')[1][0] for line in arrived] == ["c", "a", "b"]
    assert [found.core for found in spool.rows()] == ["a", "b", "c"]
    assert spool.symbols([]) == [symbol]
    spool.remove()
    assert not (tmp_path / "spool").exists()
