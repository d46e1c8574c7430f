"""Where qbench's inputs live: the checkout it is installed from (editable)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "suite"
TARGETS = REPO / "targets"
REPORTS = REPO / "reports"
BUILD = REPO / "build"


def shown(path: Path) -> str:
    """A path as qbench prints and records it: relative to the repository when inside it."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(REPO))
    except ValueError:
        return str(resolved)
