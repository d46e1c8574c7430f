"""Result records, their one conversion to pandas, and the results files.

A run writes DIR/results.json (canonical: environment + rows), DIR/results.csv
(the same rows) and DIR/symbols.csv (per-symbol sizes of every image). Sizes
of a row that failed are missing (NaN), never 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
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
    TIMEOUT = "timeout"
    FAULT = "fault"
    RUN_FAILED = "run-failed"
    PROTOCOL_ERROR = "protocol-error"
    STACK_OVERFLOW = "stack-overflow"
    TRACE_FAILED = "trace-failed"
    REFERENCE_MISMATCH = "reference-mismatch"  # the device's predictions differ from qnn's bit-exact model's
    INCOMPLETE = "incomplete"  # the run was interrupted before this cell finished


class ResultsFileError(ValueError):
    """A results file that is missing, corrupt or not qbench's."""


QNN_LIBRARY = "qnn"  # the library qbench is built around; other libraries come with --library


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
    library: str = QNN_LIBRARY  # the neural-network library built against (qbench run --library)
    network: str = ""  # e.g. "2-4-1 tanh/sigmoid"
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
    qbench_version: str = ""
    date: str = ""  # when the row was measured, UTC
    # Emulated runs (empty for targets that only build).
    qemu: str = ""
    learned: bool | None = None
    iterations: int | None = None
    final_error: float | None = None  # largest |output - target| over the four patterns
    outputs: str = ""  # the four outputs, ';'-separated
    # Classification workloads (iris, digits): trained in float on the host, deployed in the row's format.
    connections: int | None = None  # weights and biases of the network
    weights_saturated: int | None = None  # weights clamped to the format's range when deployed
    inputs_saturated: int | None = None  # test-input values clamped likewise
    test_data_bytes: int | None = None  # flash holding the test split (in lib_flash; a deployed network has none)
    accuracy_float_host: float | None = None  # the float64 network on the test split, on the host
    accuracy_device: float | None = None  # the deployed image on the test split, in the emulator
    test_samples: int | None = None
    matches_reference: bool | None = None  # every prediction equals qnn's bit-exact model's (Q formats)
    # Instructions executed per region occurrence (qbench.trace): the mean over the first *_occurrences
    # occurrences of the region in a traced run of this row's own ELF, net of the markers' cost.
    instr_forward: float | None = None  # one feedForward
    instr_train_step: float | None = None  # one calculateError + trainNetwork
    instr_forward_occurrences: int | None = None
    instr_train_step_occurrences: int | None = None
    instr_markers: float | None = None  # the empty region's instructions, subtracted from the others
    # Cycle estimates priced from the row's core's timing table (targets/timing/): central, best and worst case.
    est_cycles_forward: float | None = None
    est_cycles_forward_min: float | None = None
    est_cycles_forward_max: float | None = None
    est_cycles_train_step: float | None = None
    est_cycles_train_step_min: float | None = None
    est_cycles_train_step_max: float | None = None
    est_us_forward: float | None = None  # central estimate at the core file's clock
    est_us_train_step: float | None = None
    emulated_cpu: str = ""  # the CPU the emulator modelled (QEMU's micro:bit is a cortex-m0 for a cortex-m0plus row)
    stack_peak: int | None = None  # bytes: the deeper of stack_painted and stack_sp_depth
    stack_painted: int | None = None  # bytes: the deepest word written on the painted stack over the whole run
    stack_sp_depth: int | None = None  # bytes: the deepest the stack pointer went in the traced run
    ram_total: int | None = None  # data + bss + stack_peak
    exception_frame: int | None = None  # bytes one exception stacks below the deepest stack pointer (budgets)
    lib_ram_total: int | None = None  # lib_ram_static + stack_peak - the baseline's stack_peak


@dataclass(frozen=True)
class ImageKey:
    """The image a symbol, an instruction count or a training log belongs to (its fields lead each row)."""

    core: str
    qformat: str  # "" for a baseline image
    variant: str  # "baseline" for a baseline image
    opt: str
    workload: str
    library: str  # "" for a baseline image
    network: str  # "" for a baseline image


@dataclass(frozen=True)
class SymbolRow(ImageKey):
    symbol: str
    group: str
    category: str
    size: int


@dataclass(frozen=True)
class InstructionRow(ImageKey):
    """Mean instructions per region occurrence spent in one function."""

    region: str
    function: str
    instructions: float


@dataclass(frozen=True)
class TrainingLog(ImageKey):
    """The training log a trainable image printed (raw values)."""

    fractional_bits: int
    entries: tuple  # qbench.protocol.TrainingLogEntry

    @property
    def file_name(self) -> str:
        return training_log_name(self.workload, self.library, self.network, self.core, self.qformat, self.variant,
                                 self.opt)  # fmt: skip

    def frame(self) -> pd.DataFrame:
        scale = float(1 << self.fractional_bits)
        records = [
            {"iteration": entry.iteration, "error": entry.error / scale, "error_raw": entry.error,
             **{f"w{i}": weight / scale for i, weight in enumerate(entry.weights)}}
            for entry in self.entries
        ]  # fmt: skip
        return pd.DataFrame.from_records(records)


def training_log_name(
    workload: str, library: str, network: str, core: str, qformat: str, variant: str, opt: str
) -> str:
    """The training log's file in DIR/training/, e.g. xor_2-4-1-tanh-sigmoid_cortex-m0plus_q16.16_trainable_Os.csv
    (qnn's logs carry no library in the name)."""
    prefix = workload if library == QNN_LIBRARY else f"{workload}_{library}"
    return f"{prefix}_{network.replace(' ', '-').replace('/', '-')}_{core}_{qformat}_{variant}_{opt}.csv"


INTEGER_COLUMNS = tuple(f.name for f in fields(ResultRow) if f.type == "int | None")
FLOAT_COLUMNS = tuple(f.name for f in fields(ResultRow) if f.type == "float | None")
BOOLEAN_COLUMNS = tuple(f.name for f in fields(ResultRow) if f.type == "bool | None")
INSTRUCTION_COLUMNS = tuple(f.name for f in fields(InstructionRow))
ROW_COLUMNS = tuple(f.name for f in fields(ResultRow))
SYMBOL_COLUMNS = tuple(f.name for f in fields(SymbolRow))


def rows_frame(rows: list[ResultRow] | list[dict[str, Any]]) -> pd.DataFrame:
    """The one place rows become a DataFrame: every column, sizes as nullable integers."""
    records = [asdict(row) if isinstance(row, ResultRow) else row for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS))
    for column in INTEGER_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="Int64")
    for column in FLOAT_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="Float64")
    for column in BOOLEAN_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="boolean")
    frame["git_dirty"] = frame["git_dirty"].astype(bool)
    return frame


def symbols_frame(rows: list[SymbolRow]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records([asdict(row) for row in rows], columns=list(SYMBOL_COLUMNS))
    frame["size"] = frame["size"].astype("int64")
    return frame


def instructions_frame(rows: list[InstructionRow]) -> pd.DataFrame:
    return pd.DataFrame.from_records([asdict(row) for row in rows], columns=list(INSTRUCTION_COLUMNS))


# The article's own host configuration (qbench.article): one row per library and variant.
ARTICLE_COLUMNS = ("library", "variant", "text", "data", "bss", "command", "compiler")


def article_frame(figures: list) -> pd.DataFrame:
    return pd.DataFrame.from_records([asdict(figure) for figure in figures], columns=list(ARTICLE_COLUMNS))


@dataclass(frozen=True)
class SavedResults:
    rows: pd.DataFrame
    symbols: pd.DataFrame
    instructions: pd.DataFrame
    training: dict[str, pd.DataFrame]  # file name -> log
    environment: dict
    article: pd.DataFrame = field(default_factory=lambda: article_frame([]))


def saved_results(
    rows: list[ResultRow], symbols: list[SymbolRow], environment: dict,
    instructions: list[InstructionRow] = (), training: list[TrainingLog] = (), article: list = (),
) -> SavedResults:  # fmt: skip
    return SavedResults(
        rows_frame(rows), symbols_frame(symbols), instructions_frame(list(instructions)),
        {log.file_name: log.frame() for log in training}, environment, article_frame(list(article)),
    )  # fmt: skip


def _json_rows(frame: pd.DataFrame) -> list[dict]:
    """Rows for JSON: missing values as null, numbers as Python numbers."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()} for row in records]


def write_results(directory: Path, saved: SavedResults) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    document = {"schema": RESULTS_SCHEMA, "environment": saved.environment, "rows": _json_rows(saved.rows)}
    (directory / "results.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    saved.rows.to_csv(directory / "results.csv", index=False)
    saved.symbols.to_csv(directory / "symbols.csv", index=False)
    saved.instructions.to_csv(directory / "instructions.csv", index=False)
    saved.article.to_csv(directory / "article.csv", index=False)
    logs = directory / "training"
    if logs.exists():
        for stale in logs.glob("*.csv"):
            stale.unlink()
    for name, log in saved.training.items():
        logs.mkdir(exist_ok=True)
        log.to_csv(logs / name, index=False)


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
    rows = [{"library": QNN_LIBRARY, **row} for row in rows]  # written before --library: all qnn
    for row in rows:  # written when instructions were counted on a separate trace image, now gone
        row.pop("trace_elf", None)
    for number, row in enumerate(rows):
        missing = [column for column in required if column not in row]
        if missing:
            raise ResultsFileError(f"{path}: row {number} lacks {', '.join(missing)}")
        unknown = sorted(set(row) - set(ROW_COLUMNS))
        if unknown:
            raise ResultsFileError(f"{path}: row {number} has unknown columns {', '.join(unknown)}")
    environment = document.get("environment")
    required_environment = (
        "interrupted",
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
    symbols = _read_csv(directory / "symbols.csv", SYMBOL_COLUMNS)
    instructions = _read_csv(directory / "instructions.csv", INSTRUCTION_COLUMNS)
    training = {path.name: pd.read_csv(path) for path in sorted((directory / "training").glob("*.csv"))}
    article = directory / "article.csv"  # absent in results written before it was measured
    article = _read_csv(article, ARTICLE_COLUMNS) if article.exists() else article_frame([])
    return SavedResults(rows_frame(rows), symbols, instructions, training, environment, article)


# Columns added to symbols.csv and instructions.csv after their first release, with the value
# older files imply: every image then measured qnn, and the network was not recorded.
_ADDED_COLUMNS = {"library": QNN_LIBRARY, "network": ""}


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, keep_default_na=False, dtype={"qformat": str})
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ResultsFileError(f"{path}: not a readable CSV file ({error})") from None
    missing = [column for column in columns if column not in frame.columns]
    if (
        missing
        and set(missing) <= set(_ADDED_COLUMNS)
        and list(frame.columns) == [column for column in columns if column not in missing]
    ):
        for column in missing:
            values = ["" if variant == "baseline" else _ADDED_COLUMNS[column] for variant in frame["variant"]]
            frame.insert(columns.index(column), column, values)
    if list(frame.columns) != list(columns):
        raise ResultsFileError(f"{path}: columns {list(frame.columns)} are not qbench's ({', '.join(columns)})")
    return frame
