"""Where qbench's inputs live: the checkout it is installed from (editable)."""

import functools
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "suite"
TARGETS = REPO / "targets"
REPORTS = REPO / "reports"
BUILD = REPO / "build"


def checkout_problem() -> str | None:
    """Why qbench cannot find its checkout, or None: a non-editable install copies the package alone."""
    if (TARGETS / "cores").is_dir() and (SUITE / "workloads").is_dir():
        return None
    return (
        f"qbench is installed without its checkout ({REPO} has no targets/ and suite/): install it editable "
        "from the checkout, e.g. .venv/bin/pip install -e '.[test]' (or -e '.[torch]')"
    )


def shown(path: Path) -> str:
    """A path as qbench prints and records it: relative to the repository when inside it."""
    return _shown_absolute(path) if path.is_absolute() else _shown_resolved(path.resolve())


# A run names the same places cell after cell (a core's start-up files, a library's headers, the build folder):
# the most recent few hundred are kept resolved, so memory stays flat however long the run. Only absolute paths
# are kept, so a change of working folder changes nothing.
@functools.lru_cache(maxsize=256)
def _shown_absolute(path: Path) -> str:
    return _shown_resolved(path.resolve())


def _shown_resolved(resolved: Path) -> str:
    try:
        return str(resolved.relative_to(REPO))
    except ValueError:
        return str(resolved)


def in_checkout(text: str) -> Path:
    """A path recorded by shown() on another machine, as a path here: one inside the checkout is found in this
    checkout (a worker's may lie elsewhere than the client's); any other is taken as it is."""
    path = Path(text)
    return path if path.is_absolute() else REPO / path
