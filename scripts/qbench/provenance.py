"""Where results come from: the checkout's revision, the tools, the date."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as package_version

from . import __version__
from .paths import REPO


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


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def matrix_digest(labels: list[str]) -> str:
    """The digest of a whole matrix (before sharding) from its cells' labels, in any order: merge checks that
    shards come from one matrix by it."""
    return hashlib.sha256("\n".join(sorted(labels)).encode()).hexdigest()


def environment(
    revision: Revision, toolchains: dict[str, str], problems: list[str], interrupted: bool,
    shard: tuple[int, int] | None = None, matrix_digest: str = "",
) -> dict:  # fmt: skip
    """The environment block of a results file (schema: qbench.results.Environment); problems are the request's bad
    names, shard (I, N) the share of the matrix run, matrix_digest the whole matrix's."""
    return {
        "qbench": __version__,
        "git_sha": revision.sha,
        "git_dirty": revision.dirty,
        "date": now(),
        "python": platform.python_version(),
        "host": f"{platform.system()} {platform.machine()}",
        "pyelftools": package_version("pyelftools"),
        "toolchains": dict(sorted(toolchains.items())),
        "problems": list(problems),
        "interrupted": interrupted,
        "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
        "matrix_digest": matrix_digest,
    }
