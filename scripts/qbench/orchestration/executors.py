"""Where the stage tasks run: on this machine (the default, `-j N` cells at a time), or on a dask.distributed
cluster: a local one started for the run (`--workers N`, N worker processes) or an existing one
(`--scheduler tcp://HOST:PORT`). dask does the scheduling, the transport and the retries: a task whose
worker is lost is run again elsewhere, and one that raised is tried once more.

Both run the same task functions (qbench.tasks) and give the same results: the client keeps the cache and
writes the results either way. A task that fails where it ran becomes TaskFailed, naming where and why, and
that cell's row says so. A worker's checkout and tools must be the client's: each worker checks them before
its first task (`qbench worker-check` shows them).

What the cluster does that the results would not show (a worker lost, a task run again, a worker that refuses
the run's tasks) reaches the client as dask events: the scheduler's own "remove-worker" and the workers' on
WORKER_EVENTS. The client tells each through the run's progress as it arrives and keeps them (ClusterEvents) for
the results' environment block.
"""

from __future__ import annotations

import logging
import platform
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from qbench.common import processes
from qbench.hardware.toolchain import ToolNotFound, require, version
from qbench.orchestration.cache import fingerprint

T = TypeVar("T")
RETRIES = 1  # a task that raised runs once more (a worker that died is dask's own business: it reschedules)
FLOWS_PER_THREAD = 2  # cells in flight per worker thread: the next task waits on the worker while one runs
CONNECT_TIMEOUT = "20s"  # how long --scheduler waits for the scheduler to answer
SCHEDULER_EVENTS = "all"  # the scheduler's topic for every event, "remove-worker" among them
WORKER_EVENTS = "qbench-task-raised"  # a worker's word to the client: a task it refused or that raised


@dataclass(frozen=True, order=True)
class RetriedTask:
    """A task dask ran again: the stage, the image it was for, where its try ended and why."""

    stage: str  # the task's function: prepare, compile_image, execute, price
    cell: str  # the label of the image the task was for (a cell's, or a baseline's)
    worker: str
    why: str


@dataclass(frozen=True, order=True)
class RefusedWorker:
    """A worker whose checkout or tools differ from the client's: it runs none of the run's tasks."""

    worker: str
    why: str


@dataclass(frozen=True)
class ClusterEvents:
    """What the cluster did during a run, sorted (arrival order is timing): workers lost, tasks run again, workers
    that refused the run's tasks. Empty for a run on the client's threads."""

    workers_lost: tuple[str, ...] = ()
    tasks_retried: tuple[RetriedTask, ...] = ()
    workers_refused: tuple[RefusedWorker, ...] = ()


NO_EVENTS = ClusterEvents()  # a run on the client's threads, or a cluster that did nothing beside the tasks


class TaskFailed(Exception):
    """A stage task that raised where it ran; the message names where and why."""


@dataclass(frozen=True)
class Ref:
    """Among a Call's arguments: the output of the graph's call of that name, which runs before it."""

    name: str


@dataclass(frozen=True)
class Call:
    """One task of a graph handed to an executor whole: task(*arguments), each Ref an earlier call's output."""

    task: Callable[..., Any]
    arguments: tuple[Any, ...]


# A graph's outputs by call: each call's result, or why it failed (a call after a failed one fails with it).
Outputs = dict[str, Any]


class Executor(Protocol):
    # Where tasks build and run images: the client's build folder, or None for each worker's own scratch folder.
    workspace: Path | None
    # Whether a cold image's tasks go to the executor as one graph (run_graph): worth it where each hand-over is a
    # round trip to a cluster; here, the cache is consulted between the tasks instead.
    whole_graphs: bool

    def flows(self) -> int:
        """How many cells the client keeps in flight."""

    def require(self, tools: dict[str, str]) -> None:
        """The tools the run's tasks use, with the client's versions: a worker without them runs no task."""

    def run(self, label: str, task: Callable[..., T], *arguments: Any) -> T:
        """task(*arguments) where the executor runs tasks, for the image `label` names; TaskFailed if it raised,
        processes.Stopped once the run is interrupted."""

    def run_graph(self, label: str, calls: dict[str, Call]) -> Outputs:
        """Every call of the graph (in order: a Ref names an earlier call) where the executor runs tasks, the
        outputs gathered at once; a call that raised is its TaskFailed; processes.Stopped once interrupted."""

    def watch(self, note: Callable[[str], None]) -> None:
        """From now on, tell through note what the cluster does as it happens."""

    def events(self) -> ClusterEvents:
        """What the cluster did so far."""

    def stop(self) -> None:
        """The run was interrupted: drop what is queued or running."""

    def close(self) -> None:
        """The run is over."""


class LocalExecutor:
    """Tasks on the client's own threads: one per cell in flight, `jobs` of them."""

    whole_graphs = False

    def __init__(self, jobs: int, build_root: Path) -> None:
        self.jobs = jobs
        self.workspace = build_root

    def flows(self) -> int:
        return self.jobs

    def require(self, tools: dict[str, str]) -> None:
        pass  # the client's own tools

    def run(self, label: str, task: Callable[..., T], *arguments: Any) -> T:
        try:
            return task(*arguments)
        except Exception as error:
            raise TaskFailed(f"{type(error).__name__}: {error}") from None

    def run_graph(self, label: str, calls: dict[str, Call]) -> Outputs:
        outputs: Outputs = {}
        for name, call in calls.items():
            arguments = [
                outputs[argument.name] if isinstance(argument, Ref) else argument for argument in call.arguments
            ]
            failed = next((argument for argument in arguments if isinstance(argument, TaskFailed)), None)
            try:
                outputs[name] = failed if failed is not None else self.run(label, call.task, *arguments)
            except TaskFailed as error:
                outputs[name] = error
        return outputs

    def watch(self, note: Callable[[str], None]) -> None:
        pass  # no cluster: nothing happens beside the tasks

    def events(self) -> ClusterEvents:
        return NO_EVENTS

    def stop(self) -> None:
        processes.stop()

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class WorkerNeeds:
    """What a worker must share with the client for its results to be the client's: the checkout's fingerprint
    (suite/, targets/, scripts/qbench/) and the version of every tool the run uses."""

    fingerprint: str
    tools: tuple[tuple[str, str], ...]  # (tool, version)


@cache
def worker_problem(needs: WorkerNeeds) -> str | None:
    """Why this worker cannot run the client's tasks, or None; asked once per worker process."""
    if fingerprint() != needs.fingerprint:
        return "its checkout differs from the client's (suite/, targets/ or scripts/qbench/): check out the same files"
    for tool, wanted in needs.tools:
        try:
            require(tool)
        except ToolNotFound as error:
            return str(error)
        if version(tool) != wanted:
            return f"its {tool} is {version(tool)!r}, the client's {wanted!r}; results would mix tool versions"
    return None


def on_worker(needs: WorkerNeeds, task: Callable[..., T], *arguments: Any) -> T:
    """A task as a worker runs it: refused on a worker unlike the client, any error raised as one message naming
    the worker; either also told to the client as it happens (dask retries the task, and the client cannot see
    a try that failed otherwise)."""
    from distributed import get_worker

    worker = get_worker()
    where = f"worker {worker.address} ({platform.node()})"
    problem = worker_problem(needs)
    if problem is not None:
        worker.log_event(WORKER_EVENTS, {"key": worker.get_current_task(), "why": problem, "refused": True})
        raise TaskFailed(f"{where}: {problem}")
    try:
        return task(*arguments)
    except Exception as error:
        why = f"{type(error).__name__}: {error}"
        worker.log_event(WORKER_EVENTS, {"key": worker.get_current_task(), "why": why, "refused": False})
        raise TaskFailed(f"{where}: {why}") from None


@dataclass(frozen=True, order=True)
class TaskName:
    """What a task is for, as the client tells it: its stage and its image's label."""

    stage: str
    cell: str

    def __str__(self) -> str:
        return f"{self.stage} {self.cell}"


class EventLog:
    """The cluster's events for one client's run: each told through note as it arrives (on the client's event
    loop), and kept. Tasks of other clients of the same scheduler are not this run's: only keys in flight count."""

    def __init__(self) -> None:
        self.note: Callable[[str], None] = lambda text: None
        self._lock = threading.Lock()
        self._in_flight: dict[str, TaskName] = {}  # key -> what the task is for
        self._raised: Counter[str] = Counter()  # key -> tries that raised
        self._lost: list[str] = []
        self._retried: list[RetriedTask] = []
        self._refused: dict[str, RefusedWorker] = {}

    def submitted(self, key: str, name: TaskName) -> None:
        with self._lock:
            self._in_flight[key] = name

    def settled(self, key: str) -> None:
        with self._lock:
            self._in_flight.pop(key, None)

    def scheduler_event(self, event: tuple[float, dict]) -> None:
        """dask's "remove-worker": the worker's running tasks, and those it held for a client still waiting, run
        again elsewhere."""
        message = event[1]
        if message.get("action") != "remove-worker":
            return
        worker = message["worker"]
        keys = set(message.get("processing-tasks", ())) | set(message.get("lost-computed-tasks", ()))
        gone = "was retired" if message.get("expected") else "was lost"
        with self._lock:
            names = sorted(self._in_flight[key] for key in keys if key in self._in_flight)
            self._lost.append(worker)
            self._retried += [RetriedTask(name.stage, name.cell, worker, f"its worker {gone}") for name in names]
        again = f"; dask runs its tasks again: {', '.join(map(str, names))}" if names else ""
        self.note(f"warning: worker {worker} {gone}{again}")

    def worker_event(self, event: tuple[float, dict]) -> None:
        """A try that a worker refused or that raised: the first RETRIES of a task's are run again."""
        message = event[1]
        worker, why = message["worker"], message["why"]
        with self._lock:
            name = self._in_flight.get(message["key"])
            if name is None:
                return
            self._raised[message["key"]] += 1
            retried = self._raised[message["key"]] <= RETRIES
            if retried:
                self._retried.append(RetriedTask(name.stage, name.cell, worker, why))
            refused_first = message["refused"] and worker not in self._refused
            if refused_first:
                self._refused[worker] = RefusedWorker(worker, why)
        if refused_first:
            self.note(f"error: worker {worker} refuses this run's tasks: {why}")
        if retried:
            self.note(f"warning: {name} failed on worker {worker}; dask runs it again: {why}")

    def events(self) -> ClusterEvents:
        with self._lock:
            return ClusterEvents(
                tuple(sorted(self._lost)), tuple(sorted(self._retried)), tuple(sorted(self._refused.values()))
            )


def _failure(future: Any) -> TaskFailed:
    """Why a gathered future has no result: the task's own TaskFailed (raised where it ran), or the cluster's
    (a worker lost too often: KilledWorker); cancelled means the run was interrupted."""
    if future.status == "cancelled":
        raise processes.Stopped("the run was interrupted")
    error = future.exception()
    return error if isinstance(error, TaskFailed) else TaskFailed(f"{type(error).__name__}: {error}")


class ClusterExecutor:
    """Tasks on a dask.distributed cluster; the client's threads only wait for them."""

    workspace = None
    whole_graphs = True

    def __init__(self, client, cluster=None) -> None:
        self.client = client
        self.cluster = cluster  # the local cluster started for this run, closed with it
        self.needs = WorkerNeeds(fingerprint(), ())
        self._lock = threading.Lock()
        self._in_flight: set = set()
        self._log = EventLog()
        self._watched = False

    @classmethod
    def start(cls, workers: int) -> ClusterExecutor:
        """A local cluster of `workers` processes with one thread each, for this run."""
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )  # a task's failure is its cell's row and a note
        return cls(Client(cluster), cluster)

    @classmethod
    def connect(cls, address: str) -> ClusterExecutor:
        from distributed import Client

        return cls(Client(address, timeout=CONNECT_TIMEOUT))

    def flows(self) -> int:
        threads = sum(self.client.nthreads().values())
        return max(1, threads) * FLOWS_PER_THREAD

    def require(self, tools: dict[str, str]) -> None:
        self.needs = WorkerNeeds(self.needs.fingerprint, tuple(sorted(tools.items())))

    def run(self, label: str, task: Callable[..., T], *arguments: Any) -> T:
        output = self.run_graph(label, {"task": Call(task, arguments)})["task"]
        if isinstance(output, TaskFailed):
            raise output
        return output

    def run_graph(self, label: str, calls: dict[str, Call]) -> Outputs:
        """The graph's tasks submitted at once (dask runs each after the ones it takes), then gathered at once."""
        futures: dict[str, Any] = {}
        for name, call in calls.items():
            key = f"{call.task.__name__}-{uuid.uuid4().hex}"  # the stage names the task on dask's dashboard
            self._log.submitted(key, TaskName(call.task.__name__, label))  # before dask can tell anything of it
            arguments = [
                futures[argument.name] if isinstance(argument, Ref) else argument for argument in call.arguments
            ]
            futures[name] = self.client.submit(
                on_worker, self.needs, call.task, *arguments, key=key, pure=False, retries=RETRIES
            )
        with self._lock:
            self._in_flight.update(futures.values())
        try:
            gathered = iter(self.client.gather(list(futures.values()), errors="skip"))
            return {
                name: next(gathered) if future.status == "finished" else _failure(future)
                for name, future in futures.items()
            }
        except CancelledError:
            raise processes.Stopped("the run was interrupted") from None
        except processes.Stopped:
            raise
        except Exception as error:  # the cluster's own: a lost connection
            failed = TaskFailed(f"{type(error).__name__}: {error}")
            return dict.fromkeys(futures, failed)
        finally:
            for future in futures.values():
                self._log.settled(future.key)
            with self._lock:
                self._in_flight.difference_update(futures.values())

    def watch(self, note: Callable[[str], None]) -> None:
        self._log.note = note
        if not self._watched:  # subscribed before the first task is submitted, on the same connection
            self.client.subscribe_topic(SCHEDULER_EVENTS, self._log.scheduler_event)
            self.client.subscribe_topic(WORKER_EVENTS, self._log.worker_event)
            self._watched = True

    def events(self) -> ClusterEvents:
        return self._log.events()

    def stop(self) -> None:
        processes.stop()
        with self._lock:
            running = list(self._in_flight)
        self.client.cancel(running)

    def close(self) -> None:
        # Unsubscribed first, else the scheduler sends this client's own departure to a closed connection.
        if self._watched and self.client.status == "running":
            self.client.unsubscribe_topic(SCHEDULER_EVENTS)
            self.client.unsubscribe_topic(WORKER_EVENTS)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
