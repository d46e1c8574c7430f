"""Results that stream: each cell's outcome goes to disk the moment it arrives, so a long sweep holds only
the cells in flight in memory, and what finished can be read while the run goes on.

In the spool folder: `results.partial.jsonl` (one row per line, in the order the cells finished: `tail -f`
it), the cells' symbols and instruction splits beside it, and `training/` (each training log as the CSV file
the results will hold). At the end the rows and instruction splits are read back in matrix order for the
results files, and the symbols are read a few cells at a time by what writes symbols.csv and what the report
takes from them; the training logs are moved in as they are.
"""

from __future__ import annotations

import json
import shutil
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from qbench.common.fields import flat_dict, flat_tuple
from qbench.common.paths import shown
from qbench.orchestration.analyse import CellOutcome
from qbench.records.outputs import WriteError
from qbench.records.results import InstructionRow, ResultRow, SymbolRow, SymbolTable, symbols_frame

ROWS = "results.partial.jsonl"
SYMBOLS = "symbols.partial.jsonl"
CHUNK_CELLS = 64  # cells whose symbols are one frame when the table is read: a few hundred to a few thousand rows
# The index holds, per cell, its position in the matrix, then (offset, length) of its row, its symbols and its
# instruction splits: seven numbers in one array, 56 bytes a cell however long the sweep, not a record each.
_INDEX_FIELDS = 7


@dataclass(frozen=True, slots=True)
class Stored:
    """Where one cell's outcome lies in the spool's files: (offset, length) of its row, symbols, instructions."""

    row: tuple[int, int]
    symbols: tuple[int, int]
    instructions: tuple[int, int]


@contextmanager
def _written_or_said(directory: Path) -> Iterator[None]:
    """A spool that cannot be written (a full disk) stops the run with one message, not a traceback."""
    try:
        yield
    except OSError as error:
        raise WriteError(
            f"could not stream the finished rows to {shown(directory)}: {error.strerror or error}; "
            "the results folder beside it is untouched, and the next run resumes from the cache"
        ) from None


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.training = directory / "training"
        with _written_or_said(directory):
            self.training.mkdir(parents=True, exist_ok=True)
            self._rows = (directory / ROWS).open("w+b")
            self._symbols = (directory / SYMBOLS).open("w+b")
            self._instructions = (directory / "instructions.partial.jsonl").open("w+b")
        self._index = array("q")
        self._baselines: dict[tuple[str, str], tuple[SymbolRow, ...]] = {}

    @property
    def rows_file(self) -> Path:
        return self.directory / ROWS

    def add(self, index: int, outcome: CellOutcome) -> None:
        """The outcome of the cell at this position of the matrix (rejected cells first, then the cells); a second
        outcome for the same position replaces the first."""
        with _written_or_said(self.directory):
            row = _append(self._rows, flat_dict(outcome.row))
            symbols = _append(self._symbols, [flat_tuple(symbol) for symbol in outcome.symbols])
            instructions = _append(self._instructions, [flat_tuple(row) for row in outcome.instructions])
            self._index.extend((index, *row, *symbols, *instructions))
            if outcome.training is not None:
                (self.training / outcome.training.file_name).write_text(outcome.training.csv_text())

    def held(self) -> frozenset[int]:
        """The positions of the cells whose outcome is here."""
        return frozenset(self._index[::_INDEX_FIELDS])

    def add_baseline(self, core: str, opt: str, symbols: tuple[SymbolRow, ...]) -> None:
        self._baselines[(core, opt)] = symbols

    def rows(self) -> list[ResultRow]:
        texts = _Texts()
        return [ResultRow(**texts.shared(_read(self._rows, stored.row))) for stored in self._in_order()]

    def symbols(self, baselines: list[tuple[str, str]]) -> SymbolTable:
        """The baselines' symbols (in the order given), then every cell's in matrix order: read back from the
        spool's file CHUNK_CELLS cells at a time whenever the table is read, until the spool is removed."""
        first = symbols_frame([symbol for key in baselines for symbol in self._baselines.get(key, ())])
        places = [stored.symbols for stored in self._in_order()]
        path = self.directory / SYMBOLS

        def chunks() -> Iterator[pd.DataFrame]:
            yield first
            with path.open("rb") as stream:
                for start in range(0, len(places), CHUNK_CELLS):
                    # Each symbol's values as the spool holds them, in SymbolRow's order: straight into the frame.
                    cells = [_read(stream, place) for place in places[start : start + CHUNK_CELLS]]
                    yield symbols_frame([values for cell in cells for values in cell])

        return SymbolTable(chunks)

    def instructions(self) -> list[InstructionRow]:
        texts = _Texts()
        return [
            InstructionRow(*map(texts.one, values))
            for stored in self._in_order()
            for values in _read(self._instructions, stored.instructions)
        ]

    def _in_order(self) -> list[Stored]:
        """Where each cell's outcome lies, in matrix order: for a cell added twice (an interrupt inside the run's
        `finished` makes it finish again), where it was added last."""
        last = {self._index[start]: start for start in range(0, len(self._index), _INDEX_FIELDS)}
        return [self._stored(last[index]) for index in sorted(last)]

    def _stored(self, start: int) -> Stored:
        places = self._index[start + 1 : start + _INDEX_FIELDS]
        return Stored((places[0], places[1]), (places[2], places[3]), (places[4], places[5]))

    def close(self) -> None:
        for stream in (self._rows, self._symbols, self._instructions):
            stream.close()

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class _Texts:
    """One object for each distinct text read back: the rows and instruction splits of a long sweep are kept to the
    end, and their keys repeat, each text otherwise a string of its own."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def one(self, value: Any) -> Any:
        return self._seen.setdefault(value, value) if type(value) is str else value

    def shared(self, document: dict[str, Any]) -> dict[str, Any]:
        return {name: self.one(value) for name, value in document.items()}


def _append(stream: IO[bytes], document) -> tuple[int, int]:
    line = json.dumps(document).encode() + b"\n"
    stream.seek(0, 2)
    offset = stream.tell()
    stream.write(line)
    stream.flush()
    return offset, len(line)


def _read(stream: IO[bytes], place: tuple[int, int]):
    stream.seek(place[0])
    return json.loads(stream.read(place[1]))
