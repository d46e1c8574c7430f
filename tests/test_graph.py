"""qbench.orchestration.graph: the cell graph of a small matrix, its edges counted by hand; the baselines shared;
no cycle, every input made by a task; the listing `qbench run --plan` prints. And the walk of it
(qbench.orchestration.pipeline.GraphWalk): a shared task made once per run, a cell's own once per cell; the
build plan made once and moved to a worker's folder."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from qbench.common.paths import REPO
from qbench.hardware.targets import load_targets
from qbench.images.build import BuildSpec, configure, plan
from qbench.images.libraries import QNN, load_library
from qbench.images.matrix import Cell, Variant
from qbench.images.workloads import WORKLOADS, WorkloadSettings
from qbench.models.qformat import parse_format
from qbench.orchestration import pipeline
from qbench.orchestration.graph import CellGraph, Verb, cell_graph, image_graph, listing

M4_INFERENCE = "cortex-m4 xor q8.8 inference -Os"
M4_BASELINE = "cortex-m4 baseline -Os"


def cells(cores: tuple[str, ...]) -> list[Cell]:
    """xor in q8.8, inference then trainable, at -Os, on each core."""
    targets, xor = load_targets(), WORKLOADS["xor"]
    fmt, shape = parse_format("q8.8"), xor.shape(WorkloadSettings(), None, None)
    return [
        Cell(targets[core], xor, fmt, variant, "Os", shape)
        for core in cores
        for variant in (Variant.INFERENCE, Variant.TRAINABLE)
    ]


@pytest.fixture(scope="module")
def graph() -> CellGraph:
    return cell_graph(cells(("cortex-m4", "host")), WorkloadSettings(), emulate=True)


def test_the_edges_of_a_small_matrix_are_those_counted_by_hand(graph):
    # cortex-m4 (run): its baseline's prepare, build, execute, price; each cell's prepare, build, measure, execute,
    # price, analyse. host (not run): its baseline's prepare, build; each cell's prepare, build, measure, analyse.
    assert len(graph.tasks) == 4 + 2 * 6 + 2 + 2 * 4
    assert dict(graph.tasks[f"analyse {M4_INFERENCE}"].inputs) == {
        "sources": f"prepare {M4_INFERENCE}",
        "image": f"build {M4_INFERENCE}",
        "footprint": f"measure {M4_INFERENCE}",
        "baseline run": f"execute {M4_BASELINE}",
        "baseline priced": f"price {M4_BASELINE}",
        "run": f"execute {M4_INFERENCE}",
        "priced": f"price {M4_INFERENCE}",
    }
    assert dict(graph.tasks["analyse host xor q8.8 trainable -Os"].inputs) == {
        "sources": "prepare host xor q8.8 trainable -Os",
        "image": "build host xor q8.8 trainable -Os",
        "footprint": "measure host xor q8.8 trainable -Os",
    }
    assert graph.tasks[f"price {M4_INFERENCE}"].core == "cortex-m4"
    assert graph.tasks[f"price {M4_BASELINE}"].core is None  # the baseline's stack alone
    assert [key.removeprefix("analyse ") for key in graph.ends] == [cell.label for cell in cells(("cortex-m4", "host"))]


def test_the_baseline_is_one_set_of_tasks_shared_by_every_cell_of_its_core_and_level(graph):
    shared = sorted(key for key, task in graph.tasks.items() if task.shared)
    assert shared == [
        "build cortex-m4 baseline -Os",
        "build host baseline -Os",
        "execute cortex-m4 baseline -Os",
        "prepare cortex-m4 baseline -Os",
        "prepare host baseline -Os",
        "price cortex-m4 baseline -Os",
    ]
    measures = [task for task in graph.tasks.values() if task.verb == Verb.MEASURE and task.spec.target.name != "host"]
    assert [task.source("baseline image") for task in measures] == [f"build {M4_BASELINE}"] * 2


def test_every_input_is_made_by_a_task_listed_before_it_so_there_is_no_cycle(graph):
    made: set[str] = set()
    for key, task in graph.tasks.items():
        assert all(source in made for _, source in task.inputs), key
        made.add(key)
    assert set(graph.ends) <= made


def test_a_run_without_the_emulator_has_no_run_tasks():
    graph = cell_graph(cells(("cortex-m4",)), WorkloadSettings(), emulate=False)
    assert {task.verb for task in graph.tasks.values()} == {Verb.PREPARE, Verb.BUILD, Verb.MEASURE, Verb.ANALYSE}
    assert not graph.tasks[f"analyse {M4_INFERENCE}"].takes("run")


def test_the_listing_has_a_line_per_task_and_the_count(graph):
    lines = listing(graph).splitlines()
    assert len(lines) == 26 + 1
    assert lines[0] == f"prepare {M4_BASELINE}: (no input) -> sources"
    assert f"execute {M4_INFERENCE}: image from [build {M4_INFERENCE}] -> run" in lines
    assert lines[-1] == "26 tasks, 6 of them the baselines' shared by their cells, for 4 cells"


class Recorder:
    """Stand-ins for the stages: each task's output names it and the outputs it took, every call counted."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def stage(self, task, take, walk):
        with self.lock:
            self.calls.append(task.key)
        return (task.key, tuple(take(name) for name, _ in task.inputs))


def test_a_walk_makes_a_shared_task_once_per_run_and_a_cells_own_once(monkeypatch, graph):
    recorder = Recorder()
    monkeypatch.setattr(pipeline, "STAGES", dict.fromkeys(Verb, recorder.stage))
    walk = pipeline.GraphWalk(runner=None, graph=graph)
    outputs = [walk.output(end) for end in graph.ends]
    assert outputs[0][0] == f"analyse {M4_INFERENCE}"
    assert sorted(recorder.calls) == sorted(graph.tasks)  # each task once, the baselines' among them
    assert set(walk.shared.finished()) == {key for key, task in graph.tasks.items() if task.shared}


def test_the_build_of_one_image_alone():
    spec = BuildSpec.baseline(load_targets()["cortex-m0plus"], "Os")
    graph = image_graph(spec)
    assert list(graph.tasks) == ["prepare cortex-m0plus baseline -Os", "build cortex-m0plus baseline -Os"]
    assert graph.ends == ("build cortex-m0plus baseline -Os",)


@pytest.mark.parametrize("core", ["cortex-m4", "host"])
@pytest.mark.parametrize("library", ["qnn", "awkward"])  # awkward compiles its own sources into an archive
def test_the_plan_is_made_once_and_moved_to_a_workers_folder_as_it_would_be_planned_there(tmp_path, core, library):
    chosen = QNN if library == "qnn" else load_library("awkward", REPO / "tests" / "libraries" / "awkward")
    spec = replace(BuildSpec.for_cell(cells((core,))[1], WorkloadSettings()), library=chosen)
    sources = configure(spec)
    client, worker = tmp_path / "client" / "build", tmp_path / "worker" / "qbench"
    moved = plan(spec, client, sources).under(worker)
    assert moved == plan(spec, worker, sources)
    assert (moved.archive is not None) == (library == "awkward" and core != "host")
    assert moved.identity() == plan(spec, client, sources).identity()
