"""The identity of a matrix cell, declared once: every table, file and message that names a cell takes its columns
from CellKey. A new dimension of the matrix is one more field here, with where a matrix cell holds it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Protocol

BASELINE_VARIANT = "baseline"


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class KeyedCell(Protocol):
    """A matrix cell as the key reads it (qbench.images.matrix.Cell; records may not import images)."""

    @property
    def target(self) -> _Named: ...
    @property
    def fmt(self) -> _Named: ...
    @property
    def variant(self) -> object: ...
    @property
    def opt(self) -> str: ...
    @property
    def workload(self) -> _Named: ...
    @property
    def library(self) -> _Named: ...
    @property
    def shape(self) -> _Named: ...


def _from_cell(attribute: str) -> Any:
    """A key field, read from a matrix cell at this attribute path."""
    return field(metadata={"cell": attribute})


@dataclass(frozen=True, slots=True)  # slots: a long sweep's symbols are millions of rows
class CellKey:
    """One cell of the matrix (or one image): its fields lead every symbols.csv and instructions.csv row, in this
    order."""

    core: str = _from_cell("target.name")
    qformat: str = _from_cell("fmt.name")  # "" for a baseline image
    variant: str = _from_cell("variant")  # BASELINE_VARIANT for a baseline image
    opt: str = _from_cell("opt")
    workload: str = _from_cell("workload.name")
    library: str = _from_cell("library.name")  # "" for a baseline image
    network: str = _from_cell("shape.name")  # "" for a baseline image

    @staticmethod
    def of(cell: KeyedCell) -> CellKey:
        """A matrix cell's key, each field read where its declaration says."""
        return CellKey(**{column.name: str(attrgetter(column.metadata["cell"])(cell)) for column in fields(CellKey)})

    @staticmethod
    def baseline(core: str, opt: str, workload: str) -> CellKey:
        """The key of an empty baseline image (the size reference of the cells of its core and level): every other
        dimension is "", the variant BASELINE_VARIANT."""
        shared = {"core": core, "opt": opt, "workload": workload}
        return CellKey(**{name: shared.get(name, "") for name in CellKey.columns()} | {"variant": BASELINE_VARIANT})

    @staticmethod
    def of_row(row: Any) -> CellKey:
        """The key of anything holding the key's columns as attributes (a row record, a pandas row)."""
        return CellKey(**{name: getattr(row, name) for name in CellKey.columns()})

    @staticmethod
    def columns(first: Iterable[str] = (), without: Iterable[str] = ()) -> tuple[str, ...]:
        """The key's columns: `first` in the order given, then the others in the key's order, less `without`: a
        table that leads with other columns names only those, and a new dimension reaches it all the same."""
        leading, left_out = tuple(first), set(without)
        unknown = (set(leading) | left_out) - {column.name for column in fields(CellKey)}
        if unknown:
            raise ValueError(f"not columns of the cell key: {', '.join(sorted(unknown))}")
        rest = tuple(column.name for column in fields(CellKey) if column.name not in leading)
        return tuple(name for name in (*leading, *rest) if name not in left_out)

    def as_dict(self) -> dict[str, str]:
        """The key's columns and values (only the key's, also for the rows that extend it)."""
        return {name: getattr(self, name) for name in CellKey.columns()}


def slug(name: str) -> str:
    """A name as part of a file or folder name: '2-4-1 tanh/sigmoid' -> '2-4-1-tanh-sigmoid'."""
    return name.replace(" ", "-").replace("/", "-")
