"""The cell graph as data: every task of a run, named and typed, with the tasks its inputs come from.

A task is keyed as dask keys one (its verb and what it is for: "build cortex-m4 xor q8.8 inference -Os"), names
each input and the task that produces it, and names its one output. A cell's graph:

    prepare ─> build ─> measure (its footprint, against the baseline's image) ─┐
    baseline: prepare ─> build ─┘                                                │
              baseline: build ─> execute ─> price (its stack) ───────────────────┤
                         build ─> execute ─> price ──────────────────────────────┴─> analyse ─> the cell's row

The baseline's tasks (one empty image per core and -O level) are shared by every cell of that core and level:
the graph holds them once. The graph is made once per matrix; qbench.orchestration.pipeline walks it, and hands a
cluster an image's prepare and build together, and its execute and price together, each as a graph of dask's
(qbench.orchestration.executors.run_graph).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from qbench.images.build import BuildSpec
from qbench.images.matrix import Cell
from qbench.images.workloads import WorkloadSettings


class Verb(StrEnum):
    PREPARE = "prepare"  # the workload's sources and the host's figures
    BUILD = "build"  # compile, and measure the ELF where it was built
    MEASURE = "measure"  # a cell's footprint: its image less its baseline's
    EXECUTE = "execute"  # one counted run of an image
    PRICE = "price"  # a run's regions priced with a core's model
    ANALYSE = "analyse"  # the cell's row from everything above


@dataclass(frozen=True)
class Task:
    """One node of the graph: what it does, for which image (and cell), from which tasks' outputs."""

    key: str
    verb: Verb
    spec: BuildSpec  # the image the task is for
    inputs: tuple[tuple[str, str], ...]  # (input's name, key of the task producing it)
    output: str
    cell: Cell | None = None  # measure and analyse: the cell whose row they make
    core: str | None = None  # price: whose cycle model (None: the stack depth alone)

    @property
    def shared(self) -> bool:
        """Whether the task is a baseline's, shared by every cell of its core and -O level."""
        return self.spec.is_baseline

    def source(self, name: str) -> str:
        """The key of the task whose output is the input `name`."""
        return dict(self.inputs)[name]

    def takes(self, name: str) -> bool:
        return any(name == taken for taken, _ in self.inputs)


@dataclass(frozen=True)
class CellGraph:
    """Every task of a run by key, each after the tasks its inputs come from, and each cell's analyse task."""

    tasks: dict[str, Task]
    ends: tuple[str, ...]  # the tasks whose outputs the run wants, in order: each cell's analyse task


def image_tasks(spec: BuildSpec, name: str) -> tuple[Task, Task]:
    """An image's prepare and build tasks."""
    prepare = Task(f"prepare {name}", Verb.PREPARE, spec, (), "sources")
    return prepare, Task(f"build {name}", Verb.BUILD, spec, (("sources", prepare.key),), "image")


def run_tasks(spec: BuildSpec, name: str, image: str, cell: Cell | None) -> tuple[Task, Task]:
    """An image's execute task and its price task: with the cell's core's model, or a baseline's stack alone."""
    execute = Task(f"execute {name}", Verb.EXECUTE, spec, (("image", image),), "run", cell)
    core = None if cell is None else cell.target.name
    return execute, Task(f"price {name}", Verb.PRICE, spec, (("run", execute.key),), "priced", cell, core)


def cell_tasks(cell: Cell, settings: WorkloadSettings, emulate: bool) -> list[Task]:
    """One cell's tasks, its baseline's among them; the run's tasks only for a cell that is run."""
    baseline = BuildSpec.baseline(cell.target, cell.opt)
    spec = BuildSpec.for_cell(cell, settings)
    baseline_prepare, baseline_build = image_tasks(baseline, baseline.label)
    prepare, build = image_tasks(spec, cell.label)
    images = (("image", build.key), ("baseline image", baseline_build.key))
    measure = Task(f"measure {cell.label}", Verb.MEASURE, spec, images, "footprint", cell)
    tasks = [baseline_prepare, baseline_build, prepare, build, measure]
    inputs = [("sources", prepare.key), ("image", build.key), ("footprint", measure.key)]
    if emulate and cell.target.emulated:
        baseline_run = run_tasks(baseline, baseline.label, baseline_build.key, None)
        cell_run = run_tasks(spec, cell.label, build.key, cell)
        tasks += [*baseline_run, *cell_run]
        inputs += [(f"baseline {task.output}", task.key) for task in baseline_run]
        inputs += [(task.output, task.key) for task in cell_run]
    return [*tasks, Task(f"analyse {cell.label}", Verb.ANALYSE, spec, tuple(inputs), "row", cell)]


def image_graph(spec: BuildSpec) -> CellGraph:
    """One image's prepare and build alone (`qbench build`), the build its end."""
    prepare, build = image_tasks(spec, spec.label)
    return CellGraph({prepare.key: prepare, build.key: build}, (build.key,))


def cell_graph(cells: Iterable[Cell], settings: WorkloadSettings, emulate: bool) -> CellGraph:
    """The graph of a matrix's cells: the baselines' tasks once."""
    tasks: dict[str, Task] = {}
    ends = []
    for cell in cells:
        own = cell_tasks(cell, settings, emulate)
        tasks |= {task.key: task for task in own if task.key not in tasks}  # a baseline's tasks once
        ends.append(own[-1].key)
    return CellGraph(tasks, tuple(ends))


def listing(graph: CellGraph) -> str:
    """One line per task (inputs -> output), then how many tasks, shared ones and cells: `qbench run --plan`."""
    lines = [f"{task.key}: {_inputs(task)} -> {task.output}" for task in graph.tasks.values()]
    shared = sum(task.shared for task in graph.tasks.values())
    cells = len(graph.ends)
    cells_named = f"{cells} cell" if cells == 1 else f"{cells} cells"
    lines.append(f"{len(graph.tasks)} tasks, {shared} of them the baselines' shared by their cells, for {cells_named}")
    return "\n".join(lines) + "\n"


def _inputs(task: Task) -> str:
    return ", ".join(f"{name} from [{source}]" for name, source in task.inputs) or "(no input)"
