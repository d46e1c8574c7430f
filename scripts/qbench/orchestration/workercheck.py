"""`qbench worker-check`: what a machine that runs qbench's tasks has, and whether it is enough.

A worker runs the build, execute and price tasks (qbench.tasks) for a client, so it needs what those tasks
run: the cores' compilers (and the archiver beside each), c++filt, QEMU, setpriv, and the same checkout as the
client (its fingerprint: suite/, targets/, scripts/qbench/). Without --scheduler it checks this machine; with
one, every worker of that cluster, against this machine as the client.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib.metadata import version as package_version

from qbench import __version__
from qbench.common.paths import REPO
from qbench.execution.runners.qemu import EMULATOR
from qbench.hardware.targets import load_targets
from qbench.hardware.toolchain import ToolNotFound, require, version
from qbench.images.build import archiver
from qbench.orchestration.cache import fingerprint

PACKAGES = ("pyelftools", "capstone", "dask", "distributed")  # read or price images, or carry the tasks


@dataclass(frozen=True)
class WorkerFacts:
    """What one machine has for qbench's tasks."""

    host: str
    python: str
    qbench: str
    checkout: str
    fingerprint: str
    tools: dict[str, str | None]  # tool -> version, None when missing
    packages: dict[str, str]


def needed_tools() -> list[str]:
    """The tools a task may run: every core's compiler and its archiver, c++filt (symbol names), QEMU, setpriv."""
    compilers = sorted({target.compiler for target in load_targets().values()})
    return [*compilers, *(archiver(compiler) for compiler in compilers), "c++filt", EMULATOR, "setpriv"]


def facts() -> WorkerFacts:
    """This machine's facts (run on each worker by `worker-check --scheduler`)."""
    tools: dict[str, str | None] = {}
    for tool in needed_tools():
        try:
            require(tool)
            tools[tool] = version(tool)
        except ToolNotFound:
            tools[tool] = None
    return WorkerFacts(
        platform.node(),
        platform.python_version(),
        __version__,
        str(REPO),
        fingerprint(),
        tools,
        {package: package_version(package) for package in PACKAGES},
    )


def problems(worker: WorkerFacts, client: WorkerFacts | None) -> list[str]:
    """What keeps a worker from running the client's tasks (None: checking this machine alone)."""
    found = [
        f"{tool} not found on PATH (scripts/setup installs it)" for tool, got in worker.tools.items() if got is None
    ]
    if client is None:
        return found
    if worker.fingerprint != client.fingerprint:
        found.append("its checkout differs from the client's (suite/, targets/ or scripts/qbench/)")
    found += [
        f"{tool} is {got!r}, the client's {client.tools[tool]!r}"
        for tool, got in worker.tools.items()
        if got is not None and client.tools.get(tool) not in (None, got)
    ]
    found += [
        f"{package} {got}, the client's {client.packages[package]}"
        for package, got in worker.packages.items()
        if got != client.packages.get(package)
    ]
    return found


def report(workers: dict[str, WorkerFacts], client: WorkerFacts | None) -> tuple[str, bool]:
    """A markdown report of every worker, problems named; and whether every worker can run tasks."""
    lines, ready = [], True
    for name, worker in sorted(workers.items()):
        lines += [
            f"## {name} ({worker.host})",
            "",
            "| what | has |",
            "|---|---|",
            f"| Python | {worker.python} |",
            f"| qbench | {worker.qbench}, checkout {worker.checkout} |",
            f"| checkout fingerprint | {worker.fingerprint[:16]} |",
        ]
        lines += [f"| {tool} | {got or '**missing**'} |" for tool, got in worker.tools.items()]
        lines += [f"| {package} | {got} |" for package, got in worker.packages.items()]
        found = problems(worker, client)
        ready = ready and not found
        lines += ["", *(f"- problem: {problem}" for problem in found), "ready" if not found else "not ready", ""]
    return "\n".join(lines), ready
