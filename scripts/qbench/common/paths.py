"""Where qbench's inputs live: the checkout it is installed from (editable)."""

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
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(REPO))
    except ValueError:
        return str(resolved)


def in_checkout(text: str) -> Path:
    """A path recorded by shown() on another machine, as a path here: one inside the checkout is found in this
    checkout (a worker's may lie elsewhere than the client's); any other is taken as it is."""
    path = Path(text)
    return path if path.is_absolute() else REPO / path
