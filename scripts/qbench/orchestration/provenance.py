"""Where results come from: the checkout's revision, the libraries', the tools, the date; and what the cluster
did meanwhile."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import packages_distributions
from importlib.metadata import version as package_version
from pathlib import Path

from qbench import __version__
from qbench.common.paths import REPO
from qbench.images.libraries import Library
from qbench.orchestration.executors import NO_EVENTS, ClusterEvents

QBENCH_CHECKOUT = "qbench checkout"  # qnn's revision: the checkout's, recorded as git_sha
PACKAGE_FOLDERS = ("site-packages", "dist-packages")  # where a registry package's files are installed
# The other Python packages whose version can change a figure (pyelftools and capstone have fields of their own):
# numpy draws the data splits and trains on the host (the deployed weights, the float accuracy), scikit-learn ships
# the data sets, pandas computes the fits and tables, matplotlib draws the plots.
FIGURE_PACKAGES = ("numpy", "scikit-learn", "pandas", "matplotlib")


@dataclass(frozen=True)
class Revision:
    sha: str  # "unknown" outside a git checkout
    dirty: bool  # uncommitted changes to tracked files


def git_revision() -> Revision:
    def git(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, check=False)

    try:
        head = git("rev-parse", "HEAD")
    except FileNotFoundError:  # no git on PATH
        return Revision("unknown", False)
    if head.returncode != 0:
        return Revision("unknown", False)
    status = git("status", "--porcelain", "--untracked-files=no")
    return Revision(head.stdout.strip(), bool(status.stdout.strip()))


def git_describe(path: Path) -> str | None:
    """`git describe --always --dirty` of the checkout holding path; None outside one (or without git)."""
    try:
        described = subprocess.run(
            ["git", "-C", str(path), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:  # no git on PATH
        return None
    return described.stdout.strip() if described.returncode == 0 else None


def package_release(path: Path) -> str | None:
    """'DISTRIBUTION VERSION' of the registry package path lies in (under site-packages); None if none is known."""
    folders = [index for index, part in enumerate(path.parts) if part in PACKAGE_FOLDERS]
    if not folders or folders[-1] + 1 >= len(path.parts):
        return None
    top_level = path.parts[folders[-1] + 1]
    distributions = packages_distributions().get(top_level, [])
    return f"{distributions[0]} {package_version(distributions[0])}" if distributions else None


def library_record(library: Library) -> dict[str, str]:
    """path: its descriptor's folder; revision: 'qbench checkout' for a library built into qbench, else
    'git DESCRIBE' or 'sha256 DIGEST' of its files; version: the registry package's whose headers it uses."""
    path = library.root
    if library.builtin:
        revision = QBENCH_CHECKOUT
    else:
        described = git_describe(path)
        revision = f"git {described}" if described else f"sha256 {library.fingerprint}"
    package = library.include_dirs[-1] if library.package else path
    release = package_release(package)
    return {"path": str(path), "revision": revision, **({"version": release} if release else {})}


def library_provenance(libraries: Iterable[Library]) -> dict[str, dict[str, str]]:
    """Every library of a run by name: where it was and which revision."""
    return {library.name: library_record(library) for library in libraries}


def figure_packages() -> dict[str, str]:
    """FIGURE_PACKAGES by name with their installed versions."""
    return {name: package_version(name) for name in FIGURE_PACKAGES}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def matrix_digest(labels: list[str]) -> str:
    """The digest of a whole matrix (before sharding) from its cells' labels, in any order: merge checks that
    shards come from one matrix by it."""
    return hashlib.sha256("\n".join(sorted(labels)).encode()).hexdigest()


def cluster_record(events: ClusterEvents) -> dict[str, list]:
    """The events as the environment block holds them (schema: qbench.results.ClusterRecord)."""
    return {
        "workers_lost": list(events.workers_lost),
        "tasks_retried": [asdict(task) for task in events.tasks_retried],
        "workers_refused": [asdict(worker) for worker in events.workers_refused],
    }


def environment(
    revision: Revision,
    toolchains: dict[str, str],
    problems: list[str],
    interrupted: bool,
    shard: tuple[int, int] | None = None,
    matrix_digest: str = "",
    libraries: Iterable[Library] = (),
    cluster: ClusterEvents = NO_EVENTS,
) -> dict:
    """The environment block of a results file (schema: qbench.results.Environment); problems are the request's bad
    names, shard (I, N) the share of the matrix run, matrix_digest the whole matrix's, libraries the run's, cluster
    what the dask cluster did (empty for a run on threads)."""
    return {
        "qbench": __version__,
        "git_sha": revision.sha,
        "git_dirty": revision.dirty,
        "date": now(),
        "python": platform.python_version(),
        "host": f"{platform.system()} {platform.machine()}",
        "pyelftools": package_version("pyelftools"),  # reads every size and symbol
        "capstone": package_version("capstone"),  # decodes every instruction the cycle estimates price
        "packages": figure_packages(),
        "toolchains": dict(sorted(toolchains.items())),
        "problems": list(problems),
        "interrupted": interrupted,
        "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
        "matrix_digest": matrix_digest,
        "libraries": library_provenance(libraries),
        "cluster": cluster_record(cluster),
    }
