"""Result records, their one conversion to pandas, and the results files.

A run writes DIR/results.json (canonical: environment + rows), DIR/results.csv
(the same rows) and DIR/symbols.csv (per-symbol sizes of every image). Sizes
of a row that failed are missing (NaN), never 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

RESULTS_SCHEMA = "qbench-results/1"


class Status(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # the target or workload cannot build this combination
    TOOL_MISSING = "tool-missing"
    BUILD_FAILED = "build-failed"
    BASELINE_FAILED = "baseline-failed"
    MEASURE_FAILED = "measure-failed"


class ResultsFileError(ValueError):
    """A results file that is missing, corrupt or not qbench's."""


@dataclass(frozen=True)
class ResultRow:
    core: str
    board: str
    qformat: str
    variant: str
    opt: str
    workload: str
    status: str
    message: str = ""
    lib_code: int | None = None
    lib_rodata: int | None = None
    lib_data: int | None = None
    lib_bss: int | None = None
    lib_flash: int | None = None
    lib_ram_static: int | None = None
    img_code: int | None = None
    img_rodata: int | None = None
    img_data: int | None = None
    img_bss: int | None = None
    img_flash: int | None = None
    img_ram_static: int | None = None
    elf: str = ""
    flags: str = ""
    toolchain: str = ""
    git_sha: str = ""
    git_dirty: bool = False


@dataclass(frozen=True)
class SymbolRow:
    core: str
    qformat: str  # "" for a baseline image
    variant: str  # "baseline" for a baseline image
    opt: str
    workload: str
    symbol: str
    group: str
    category: str
    size: int


INTEGER_COLUMNS = tuple(f.name for f in fields(ResultRow) if f.type == "int | None")
ROW_COLUMNS = tuple(f.name for f in fields(ResultRow))
SYMBOL_COLUMNS = tuple(f.name for f in fields(SymbolRow))


def rows_frame(rows: list[ResultRow] | list[dict[str, Any]]) -> pd.DataFrame:
    """The one place rows become a DataFrame: every column, sizes as nullable integers."""
    records = [asdict(row) if isinstance(row, ResultRow) else row for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS))
    for column in INTEGER_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="Int64")
    frame["git_dirty"] = frame["git_dirty"].astype(bool)
    return frame


def symbols_frame(rows: list[SymbolRow]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records([asdict(row) for row in rows], columns=list(SYMBOL_COLUMNS))
    frame["size"] = frame["size"].astype("int64")
    return frame


def write_results(directory: Path, rows: list[ResultRow], symbols: list[SymbolRow], environment: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    document = {"schema": RESULTS_SCHEMA, "environment": environment, "rows": [asdict(row) for row in rows]}
    (directory / "results.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    rows_frame(rows).to_csv(directory / "results.csv", index=False)
    symbols_frame(symbols).to_csv(directory / "symbols.csv", index=False)


@dataclass(frozen=True)
class SavedResults:
    rows: pd.DataFrame
    symbols: pd.DataFrame
    environment: dict


def read_results(directory: Path) -> SavedResults:
    """Results written by write_results; anything else is a ResultsFileError naming the file."""
    path = directory / "results.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such file (run `qbench run --out {directory}` first)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsFileError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("schema") != RESULTS_SCHEMA:
        raise ResultsFileError(f"{path}: not a qbench results file (expected schema {RESULTS_SCHEMA!r})")
    rows = document.get("rows")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ResultsFileError(f"{path}: 'rows' must be a list of objects")
    required = ("core", "qformat", "variant", "opt", "workload", "status")
    for number, row in enumerate(rows):
        missing = [column for column in required if column not in row]
        if missing:
            raise ResultsFileError(f"{path}: row {number} lacks {', '.join(missing)}")
        unknown = sorted(set(row) - set(ROW_COLUMNS))
        if unknown:
            raise ResultsFileError(f"{path}: row {number} has unknown columns {', '.join(unknown)}")
    environment = document.get("environment")
    required_environment = (
        "qbench",
        "git_sha",
        "git_dirty",
        "date",
        "host",
        "python",
        "pyelftools",
        "toolchains",
        "problems",
    )
    if not isinstance(environment, dict) or any(key not in environment for key in required_environment):
        raise ResultsFileError(f"{path}: 'environment' must hold {', '.join(required_environment)}")
    symbols_path = directory / "symbols.csv"
    try:
        symbols = pd.read_csv(symbols_path, keep_default_na=False, dtype={"qformat": str})
    except FileNotFoundError:
        raise ResultsFileError(f"{symbols_path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ResultsFileError(f"{symbols_path}: not a readable CSV file ({error})") from None
    if list(symbols.columns) != list(SYMBOL_COLUMNS):
        raise ResultsFileError(f"{symbols_path}: columns {list(symbols.columns)} are not qbench's symbol columns")
    return SavedResults(rows_frame(rows), symbols, environment)
