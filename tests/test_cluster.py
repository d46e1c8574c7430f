"""The pipeline on a dask cluster: the same results as on local threads, byte for byte; a task that fails on a
worker is that cell's failed row; a lost worker's task runs again elsewhere; what the cluster did (a worker lost
or refusing, a task retried) told as it happens and recorded in the environment block; worker-check; and the
spool the rows stream to."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import astuple
from pathlib import Path

import pytest
from distributed import LocalCluster

from qbench.commands.cli import main as qbench_main
from qbench.common.paths import REPO
from qbench.hardware.targets import load_targets
from qbench.images.matrix import MatrixRequest, expand
from qbench.images.workloads import WORKLOADS
from qbench.orchestration import executors, pipeline, workercheck
from qbench.orchestration.analyse import CellOutcome
from qbench.orchestration.cache import Cache
from qbench.orchestration.executors import (
    Call,
    ClusterExecutor,
    EventLog,
    LocalExecutor,
    Ref,
    RefusedWorker,
    RetriedTask,
    TaskFailed,
    TaskName,
)
from qbench.orchestration.pipeline import RunOptions, run_matrix
from qbench.orchestration.progress import LogProgress
from qbench.orchestration.provenance import Revision
from qbench.orchestration.spool import Spool
from qbench.orchestration.tasks import build_prepared, execute, price
from qbench.records.results import ResultRow, Status, SymbolRow, read_results

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

    def run(self, label, task, *arguments):
        if task is execute:
            raise TaskFailed("worker tcp://10.0.0.9:4711 (far): OSError: [Errno 28] No space left on device")
        return super().run(label, task, *arguments)


def test_a_task_that_fails_where_it_ran_is_that_cells_failed_row(tmp_path):
    targets = load_targets()
    request = MatrixRequest(cores=("cortex-m0plus", "host"), formats=("q8.8",), variants=("inference",))
    matrix = expand(targets, WORKLOADS, request)
    options = RunOptions(tmp_path / "build", 2, Cache(tmp_path / "cache"))
    output = run_matrix(
        matrix,
        options,
        Revision("sha", False),
        LogProgress(),
        FailingExecutor(2, options.build_root),
        Spool(tmp_path / "spool"),
    )
    rows = {row.core: row for row in output.rows}
    assert rows["cortex-m0plus"].status == Status.RUN_FAILED
    assert rows["cortex-m0plus"].message == (
        "the execute task failed: worker tcp://10.0.0.9:4711 (far): OSError: [Errno 28] No space left on device"
    )
    assert rows["cortex-m0plus"].lib_flash is not None  # what was measured before the failure is kept
    assert rows["host"].status == Status.OK


FULL_DISK = "worker tcp://10.0.0.9:4711 (far): OSError: [Errno 28] No space left on device"


class GraphsOfImages(LocalExecutor):
    """Runs tasks here, but as a cluster is handed them: a cold image's prepare and build as one graph, a cold
    run's execute and price as one. Records every hand-over (a graph's calls, or one task); its builds or its
    price tasks fail when told to, as a worker's would."""

    whole_graphs = True

    def __init__(self, jobs, build_root, failing_builds=False, failing_prices=False):
        super().__init__(jobs, build_root)
        self.handed: list[tuple[str, ...]] = []
        self.failing = {build_prepared} if failing_builds else {price} if failing_prices else set()

    def run(self, label, task, *arguments):
        self.handed.append((task.__name__,))
        if task in self.failing:
            raise TaskFailed(FULL_DISK)
        return super().run(label, task, *arguments)

    def run_graph(self, label, calls):
        handed = len(self.handed)
        outputs = super().run_graph(label, calls)
        self.handed[handed:] = [tuple(call.task.__name__ for call in calls.values())]
        return outputs


class FailingPrices(LocalExecutor):
    """Runs tasks here, one at a time, and every price task fails as a worker's would."""

    def run(self, label, task, *arguments):
        if task is price:
            raise TaskFailed(FULL_DISK)
        return super().run(label, task, *arguments)


def one_cell_run(tmp_path, name, executor_type, emulate=False, cache="cache", **options):
    """One cell run into tmp_path's build folder and a cache there; its row and what the executor was handed."""
    targets = load_targets()
    request = MatrixRequest(cores=("cortex-m0plus",), formats=("q8.8",), variants=("inference",))
    run = RunOptions(tmp_path / "build", 2, Cache(tmp_path / cache), emulate=emulate)
    executor = executor_type(2, run.build_root, **options)
    output = run_matrix(
        expand(targets, WORKLOADS, request),
        run,
        Revision("sha", False),
        LogProgress(),
        executor,
        Spool(tmp_path / f"{name}-spool"),
    )
    return output.rows[0], getattr(executor, "handed", [])


def test_a_cold_images_prepare_and_build_go_to_a_cluster_as_one_graph_and_a_warm_ones_build_alone(tmp_path):
    cold, handed = one_cell_run(tmp_path, "cold", GraphsOfImages)
    assert cold.status == Status.OK
    assert handed == [("prepare", "build_prepared")] * 2  # the cell's image and its baseline's: one hand-over each
    for entry in (tmp_path / "cache" / "builds").iterdir():  # the builds the graphs made are stored whole
        shutil.rmtree(entry)
    warm, handed = one_cell_run(tmp_path, "warm", GraphsOfImages)
    assert handed == [("compile_image",)] * 2  # the prepares come from the cache: each build goes alone
    assert warm == cold


def test_a_build_that_fails_in_its_prepares_graph_is_that_cells_failed_row_with_the_hosts_figures(tmp_path):
    row, _ = one_cell_run(tmp_path, "failing", GraphsOfImages, failing_builds=True)
    assert row.status == Status.BUILD_FAILED
    assert row.message == f"the build task failed: {FULL_DISK}"
    assert row.connections is not None  # the prepare's figures are kept
    assert "-mcpu=cortex-m0plus" in row.flags  # the flags the image would have been built with


def test_a_cold_run_and_its_pricing_go_to_a_cluster_as_one_graph_and_a_warm_runs_pricing_alone(tmp_path, monkeypatch):
    cold, handed = one_cell_run(tmp_path, "cold", GraphsOfImages, emulate=True)
    assert cold.status == Status.OK and cold.instr_forward is not None and cold.est_cycles_forward_min is not None
    # The cell's run priced with its core's model, the baseline's for its stack alone: one hand-over each.
    assert handed.count(("execute", "price")) == 2 and ("price",) not in handed
    local, _ = one_cell_run(tmp_path, "local", LocalExecutor, emulate=True, cache="local-cache")
    assert cold == local  # the same row as task by task
    warm, handed = one_cell_run(tmp_path, "warm", GraphsOfImages, emulate=True)
    assert handed == [] and warm == cold  # everything from the cache
    monkeypatch.setattr(Cache, "fetch_priced", lambda cache, key: None)  # as if the pricings were not stored
    repriced, handed = one_cell_run(tmp_path, "repriced", GraphsOfImages, emulate=True)
    assert handed == [("price",)] * 2 and repriced == cold  # the runs from the cache: each pricing goes alone


def test_a_price_that_fails_in_its_runs_graph_is_the_row_a_failing_price_task_gives(tmp_path):
    in_graph, _ = one_cell_run(tmp_path, "graph", GraphsOfImages, emulate=True, failing_prices=True)
    alone, _ = one_cell_run(tmp_path, "alone", FailingPrices, emulate=True, cache="alone-cache")
    assert f"the price task failed: {FULL_DISK}" in in_graph.message
    assert in_graph.est_cycles_forward_min is None and in_graph.lib_flash is not None
    assert in_graph == alone


def test_a_local_graph_passes_each_output_on_and_a_failure_to_what_takes_it(tmp_path):
    executor = LocalExecutor(1, tmp_path)
    chain = {"word": Call(str.upper, ("abc",)), "twice": Call(str.__mul__, (Ref("word"), 2))}
    assert executor.run_graph("a chain", chain) == {"word": "ABC", "twice": "ABCABC"}
    broken = {"word": Call(failing, ("a bad input",)), "twice": Call(str.__mul__, (Ref("word"), 2))}
    outputs = executor.run_graph("a chain", broken)
    assert str(outputs["word"]) == "ValueError: a bad input" and outputs["twice"] is outputs["word"]


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
    notes: list[str] = []
    executor.watch(notes.append)
    try:
        assert executor.run("a cell", die_once, str(tmp_path / "marker")).startswith("tcp://")
        with pytest.raises(TaskFailed, match=r"^worker tcp://[\d.:]+ \(.+\): ValueError: a bad input$"):
            executor.run("another cell", failing, "a bad input")
        events = executor.events()
    finally:
        executor.close()
        cloudpickle.unregister_pickle_by_value(__import__(__name__))
    lost, raised = events.workers_lost[0], events.tasks_retried[1].worker
    assert len(events.workers_lost) == 1 and not events.workers_refused
    assert events.tasks_retried == (  # the second failure is not retried: it is the task's
        RetriedTask("die_once", "a cell", lost, "its worker was lost"),
        RetriedTask("failing", "another cell", raised, "ValueError: a bad input"),
    )
    assert notes == [
        f"warning: worker {lost} was lost; dask runs its tasks again: die_once a cell",
        f"warning: failing another cell failed on worker {raised}; dask runs it again: ValueError: a bad input",
    ]


def test_a_graph_on_a_cluster_is_gathered_at_once_and_a_failure_passes_to_what_takes_it():
    import cloudpickle

    cloudpickle.register_pickle_by_value(__import__(__name__))  # the workers cannot import this test module
    executor = ClusterExecutor.start(1)
    try:
        chain = {"word": Call(str.upper, ("abc",)), "twice": Call(str.__mul__, (Ref("word"), 2))}
        assert executor.run_graph("a chain", chain) == {"word": "ABC", "twice": "ABCABC"}
        broken = {"word": Call(failing, ("a bad input",)), "twice": Call(str.__mul__, (Ref("word"), 2))}
        outputs = executor.run_graph("a chain", broken)
    finally:
        executor.close()
        cloudpickle.unregister_pickle_by_value(__import__(__name__))
    assert re.fullmatch(r"worker tcp://[\d.:]+ \(.+\): ValueError: a bad input", str(outputs["word"]))
    assert str(outputs["twice"]) == str(outputs["word"])


def scheduler_event(**message) -> tuple[float, dict]:
    return (
        0.0,
        {
            "action": "remove-worker",
            "processing-tasks": set(),
            "lost-computed-tasks": set(),
            "expected": False,
            **message,
        },
    )


def worker_event(key: str, worker: str, why: str, refused: bool = False) -> tuple[float, dict]:
    return (0.0, {"key": key, "worker": worker, "why": why, "refused": refused})


def test_the_event_log_keeps_this_runs_tasks_and_sorts_what_happened():
    log, notes = EventLog(), []
    log.note = notes.append
    log.submitted("build-1", TaskName("compile_image", "m4 xor q8.8 inference -Os"))
    log.submitted("run-1", TaskName("execute", "m0 baseline -Os"))
    log.submitted("prep-1", TaskName("prepare", "m0 xor q8.8 inference -Os"))
    log.scheduler_event((0.0, {"action": "add-worker", "worker": "tcp://c:1"}))  # not a loss
    log.scheduler_event(
        scheduler_event(
            worker="tcp://b:2", **{"processing-tasks": {"run-1", "elsewhere-7"}, "lost-computed-tasks": {"build-1"}}
        )
    )
    log.settled("run-1")
    log.worker_event(worker_event("run-1", "tcp://a:3", "OSError: gone"))  # settled: no longer this run's
    log.worker_event(worker_event("prep-1", "tcp://a:3", "its checkout differs", refused=True))
    log.worker_event(worker_event("prep-1", "tcp://a:3", "its checkout differs", refused=True))
    log.scheduler_event(scheduler_event(worker="tcp://a:3", expected=True))
    events = log.events()
    assert events.workers_lost == ("tcp://a:3", "tcp://b:2")
    assert events.tasks_retried == (
        RetriedTask("compile_image", "m4 xor q8.8 inference -Os", "tcp://b:2", "its worker was lost"),
        RetriedTask("execute", "m0 baseline -Os", "tcp://b:2", "its worker was lost"),
        RetriedTask("prepare", "m0 xor q8.8 inference -Os", "tcp://a:3", "its checkout differs"),
    )
    assert events.workers_refused == (RefusedWorker("tcp://a:3", "its checkout differs"),)
    assert notes == [
        "warning: worker tcp://b:2 was lost; dask runs its tasks again: compile_image m4 xor q8.8 inference -Os, "
        "execute m0 baseline -Os",
        "error: worker tcp://a:3 refuses this run's tasks: its checkout differs",
        "warning: prepare m0 xor q8.8 inference -Os failed on worker tcp://a:3; dask runs it again: its checkout "
        "differs",
        "warning: worker tcp://a:3 was retired",
    ]


ONE_CELL = ["--cores", "cortex-m0plus", "--formats", "q16.16", "--variants", "inference"]


def kills_its_worker_at_the_first_cell_build(marker: str):
    """compile_image, but the first time a worker builds a cell's image (not a baseline) it writes its address and
    the cell to marker and kills itself (SIGKILL): a worker lost mid-run, at a point the run's progress defines."""

    def compile_image(planned, workspace):
        import os
        import signal

        from distributed import get_worker

        from qbench.orchestration.tasks import compile_image as build

        if not planned.spec.is_baseline:
            try:
                claimed = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # one worker dies, once
            except FileExistsError:
                return build(planned, workspace)
            os.write(claimed, f"{get_worker().address}\n{planned.spec.label}".encode())
            os.close(claimed)
            os.kill(os.getpid(), signal.SIGKILL)
        return build(planned, workspace)

    return compile_image


def environment_and_files(out: Path) -> tuple[dict, dict[str, bytes]]:
    """The results' environment block, and every results file with its dates and the cluster's events masked."""
    files = results_files(out)
    document = json.loads(files["results.json"])
    environment = document["environment"]
    document["environment"] = {**environment, "cluster": None}
    return environment, {**files, "results.json": json.dumps(document).encode()}


def test_a_worker_killed_mid_run_is_told_and_recorded_and_the_results_are_a_clean_runs(tmp_path, capsys, monkeypatch):
    import cloudpickle

    build = ["run", *ONE_CELL, "--build-dir", str(tmp_path / "build")]
    assert qbench_main([*build, "--cache-dir", str(tmp_path / "clean-cache"), "--out", str(tmp_path / "clean")]) == 0
    marker = tmp_path / "killed"
    monkeypatch.setattr(pipeline, "compile_image", kills_its_worker_at_the_first_cell_build(str(marker)))
    cloudpickle.register_pickle_by_value(__import__(__name__))  # the workers cannot import this test module
    try:
        capsys.readouterr()
        assert (
            qbench_main(
                [*build, "--cache-dir", str(tmp_path / "cache"), "--workers", "2", "--out", str(tmp_path / "cluster")]
            )
            == 0
        )
    finally:
        cloudpickle.unregister_pickle_by_value(__import__(__name__))
    killed, cell = marker.read_text().splitlines()
    printed = capsys.readouterr().err
    assert re.search(
        rf"^warning: worker {killed} was lost; dask runs its tasks again: .*build_prepared {cell}",
        printed,
        re.MULTILINE,
    ), printed
    clean_environment, clean = environment_and_files(tmp_path / "clean")
    environment, cluster = environment_and_files(tmp_path / "cluster")
    assert cluster == clean
    assert clean_environment["cluster"] == {"workers_lost": [], "tasks_retried": [], "workers_refused": []}
    recorded = environment["cluster"]
    assert recorded["workers_lost"] == [killed] and recorded["workers_refused"] == []
    # A cold image's prepare and build go to the cluster as one graph: the build is what the worker died in.
    assert {"stage": "build_prepared", "cell": cell, "worker": killed, "why": "its worker was lost"} in (
        recorded["tasks_retried"]
    )
    assert all(task["worker"] == killed for task in recorded["tasks_retried"])  # only the killed worker's tasks


def test_a_worker_that_fails_its_check_is_told_and_recorded(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(executors, "fingerprint", lambda: "another checkout")  # the client's, not the workers'
    out = tmp_path / "out"
    folders = ["--build-dir", str(tmp_path / "build"), "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    assert qbench_main(["run", *ONE_CELL, *folders, "--workers", "2"]) == 1
    printed = capsys.readouterr().err
    saved = read_results(out)
    differs = "its checkout differs from the client's (suite/, targets/ or scripts/qbench/): check out the same files"
    refused = saved.environment["cluster"]["workers_refused"]
    assert refused and all(worker["why"] == differs for worker in refused)
    for worker in refused:  # each worker that was sent a task refused it, and was named once
        assert printed.count(f"error: worker {worker['worker']} refuses this run's tasks: {differs}\n") == 1
    retried = saved.environment["cluster"]["tasks_retried"]  # each prepare task once; the second refusal is final
    assert sorted((task["stage"], task["cell"], task["why"]) for task in retried) == [
        ("prepare", "cortex-m0plus baseline -Os", differs),
        ("prepare", "cortex-m0plus xor q16.16 inference -Os", differs),
    ]
    assert saved.rows["status"].tolist() == [Status.BUILD_FAILED]
    assert differs in saved.rows["message"][0]


def test_results_written_before_the_cluster_was_recorded_still_read():
    environment = read_results(REPO / "reports" / "baseline" / "all").environment
    assert environment["cluster"] == {"workers_lost": [], "tasks_retried": [], "workers_refused": []}


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
    assert list(spool.symbols([]).frame().itertuples(index=False, name=None)) == [astuple(symbol)]
    spool.remove()
    assert not (tmp_path / "spool").exists()


def test_merged_shards_keep_every_clusters_events_once():
    from qbench.records.merge import _merged_cluster

    retried = {
        "cell": "cortex-m0plus xor q16.16 inference -Os",
        "stage": "compile_image",
        "why": "its worker was lost",
        "worker": "tcp://127.0.0.1:2",
    }
    first = {"workers_lost": ["tcp://127.0.0.1:2"], "tasks_retried": [retried], "workers_refused": []}
    second = {
        "workers_lost": ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"],
        "tasks_retried": [retried],
        "workers_refused": [],
    }
    assert _merged_cluster([first, second]) == {
        "workers_lost": ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"],
        "tasks_retried": [retried],
        "workers_refused": [],
    }
