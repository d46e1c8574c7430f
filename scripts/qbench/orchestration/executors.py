"""Where the stage tasks run: on this machine (the default, `-j N` cells at a time), or on a dask.distributed
cluster: a local one started for the run (`--workers N`, N worker processes) or an existing one
(`--scheduler tcp://HOST:PORT`). dask does the scheduling, the transport and the retries: a task whose
worker is lost is run again elsewhere, and one that raised is tried once more.

Both run the same task functions (qbench.tasks) and give the same results: the client keeps the cache and
writes the results either way. A task that fails where it ran becomes TaskFailed, naming where and why, and
that cell's row says so. A worker's checkout and tools must be the client's: each worker checks them before
its first task (`qbench worker-check` shows them).
"""

from __future__ import annotations

import logging
import platform
import threading
import uuid
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


class TaskFailed(Exception):
    """A stage task that raised where it ran; the message names where and why."""


class Executor(Protocol):
    # Where tasks build and run images: the client's build folder, or None for each worker's own scratch folder.
    workspace: Path | None

    def flows(self) -> int:
        """How many cells the client keeps in flight."""

    def require(self, tools: dict[str, str]) -> None:
        """The tools the run's tasks use, with the client's versions: a worker without them runs no task."""

    def run(self, task: Callable[..., T], *arguments: Any) -> T:
        """task(*arguments) where the executor runs tasks; TaskFailed if it raised, processes.Stopped once the
        run is interrupted."""

    def stop(self) -> None:
        """The run was interrupted: drop what is queued or running."""

    def close(self) -> None:
        """The run is over."""


class LocalExecutor:
    """Tasks on the client's own threads: one per cell in flight, `jobs` of them."""

    def __init__(self, jobs: int, build_root: Path) -> None:
        self.jobs = jobs
        self.workspace = build_root

    def flows(self) -> int:
        return self.jobs

    def require(self, tools: dict[str, str]) -> None:
        pass  # the client's own tools

    def run(self, task: Callable[..., T], *arguments: Any) -> T:
        try:
            return task(*arguments)
        except Exception as error:
            raise TaskFailed(f"{type(error).__name__}: {error}") from None

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
    the worker."""
    from distributed import get_worker

    where = f"worker {get_worker().address} ({platform.node()})"
    problem = worker_problem(needs)
    if problem is not None:
        raise TaskFailed(f"{where}: {problem}")
    try:
        return task(*arguments)
    except Exception as error:
        raise TaskFailed(f"{where}: {type(error).__name__}: {error}") from None


class ClusterExecutor:
    """Tasks on a dask.distributed cluster; the client's threads only wait for them."""

    workspace = None

    def __init__(self, client, cluster=None) -> None:
        self.client = client
        self.cluster = cluster  # the local cluster started for this run, closed with it
        self.needs = WorkerNeeds(fingerprint(), ())
        self._lock = threading.Lock()
        self._in_flight: set = set()

    @classmethod
    def start(cls, workers: int) -> ClusterExecutor:
        """A local cluster of `workers` processes with one thread each, for this run."""
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)  # a task's failure is its cell's row, not a log line
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

    def run(self, task: Callable[..., T], *arguments: Any) -> T:
        key = f"{task.__name__}-{uuid.uuid4().hex}"  # the stage names the task on dask's dashboard
        future = self.client.submit(on_worker, self.needs, task, *arguments, key=key, pure=False, retries=RETRIES)
        with self._lock:
            self._in_flight.add(future)
        try:
            return future.result()
        except CancelledError:
            raise processes.Stopped("the run was interrupted") from None
        except TaskFailed:
            raise
        except Exception as error:  # the cluster's own: a worker lost too often (KilledWorker), a lost connection
            raise TaskFailed(f"{type(error).__name__}: {error}") from None
        finally:
            with self._lock:
                self._in_flight.discard(future)

    def stop(self) -> None:
        processes.stop()
        with self._lock:
            running = list(self._in_flight)
        self.client.cancel(running)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
