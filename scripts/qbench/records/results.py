"""Result records, their one conversion to pandas, and the results files.

A run writes DIR/results.json (canonical: environment + rows), DIR/results.csv
(the same rows) and DIR/symbols.csv (per-symbol sizes of every image). Sizes
of a row that failed are missing (NaN), never 0. read_results checks every file
it reads against a pydantic schema made from the row dataclasses here.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from qbench.common.errors import QbenchError
from qbench.common.fields import field_names, flat_dict, flat_tuple
from qbench.common.schemas import block_problem, first_row_problem, json_shown
from qbench.records.keys import BASELINE_VARIANT, CellKey, slug

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


class ResultsFileError(QbenchError, ValueError):
    """A results file that is missing, corrupt or not qbench's."""


QNN_LIBRARY = "qnn"  # the library qbench is built around; other libraries come with --library


def library_order(library: str) -> tuple[bool, str]:
    """Sorts qnn first, then the other libraries by name."""
    return library != QNN_LIBRARY, library


@dataclass(frozen=True, slots=True)
class ResultRow:
    core: str
    board: str
    qformat: str
    variant: str
    opt: str
    workload: str
    status: Status
    message: str = ""
    library: str = QNN_LIBRARY  # the neural-network library built against (qbench run --library)
    network: str = ""  # e.g. "2-4-1 tanh/sigmoid"
    lib_code: int | None = None
    lib_rodata: int | None = None
    lib_data: int | None = None
    lib_bss: int | None = None
    lib_flash: int | None = None
    lib_ram_static: int | None = None
    # What deploying the network costs in flash: lib_flash less the test split's tables (test_data_bytes), i.e. the
    # library, its tables, the weights, the harness and every run-time helper they call (soft-float, libm).
    deployed_flash: int | None = None
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
    # XOR in Q formats: the device's final weights solve XOR in exact float64 arithmetic (qbench.learning);
    # learned but not learned_exact is learned only through overflow.
    learned_exact: bool | None = None
    # Classification workloads (iris, digits): trained in float on the host, deployed in the row's format.
    connections: int | None = None  # weights and biases of the network
    weights_saturated: int | None = None  # weights clamped to the format's range when deployed
    inputs_saturated: int | None = None  # test-input values clamped likewise
    test_data_bytes: int | None = None  # flash holding the test split (in lib_flash; a deployed network has none)
    accuracy_float_host: float | None = None  # the float64 network on the test split, on the host
    accuracy_device: float | None = None  # the deployed image on the test split, in the emulator
    test_samples: int | None = None
    matches_reference: bool | None = None  # every prediction equals qnn's bit-exact model's (Q formats)
    # Data-driven workloads: the test set every accuracy (or error) was measured on: a file, or qbench's split.
    test_set: str = ""
    input_scaling: str = ""  # (x - offset) / scale as applied on the host and to the device's test inputs
    # A trainable row's starting weights: "qbench seed 0x…" (qbench's draw, the same for every library) or
    # "library" (the library's own generator, --initial-weights library).
    initial_weights: str = ""
    # The largest difference between the format's outputs (qnn's bit-exact model, which the device matches:
    # matches_reference) and the float network's, over the test set: how far quantisation moves any output.
    quantization_error: float | None = None
    # Regression workloads, in the target's units on the test set: the device's errors, the float network's beside.
    mae_device: float | None = None
    rmse_device: float | None = None
    max_error_device: float | None = None
    mae_float_host: float | None = None
    rmse_float_host: float | None = None
    max_error_float_host: float | None = None
    # Instructions executed per region occurrence (qbench.execution.trace): over every occurrence of the region in
    # one run of this row's own ELF from reset to exit, net of the markers' cost (the empty region's mean).
    instr_forward: float | None = None  # one feedForward: the mean
    instr_forward_min: float | None = None  # the occurrence with the fewest
    instr_forward_max: float | None = None  # the occurrence with the most
    instr_train_step: float | None = None  # one calculateError + trainNetwork: the mean
    instr_train_step_min: float | None = None
    instr_train_step_max: float | None = None
    instr_forward_occurrences: int | None = None  # every occurrence the run made
    instr_train_step_occurrences: int | None = None
    instr_markers: float | None = None  # the empty region's instructions, subtracted from the others
    # Cycle estimates priced by the row's core's model (cycle_model; targets/timing/), zero wait states: the mean
    # per occurrence as central, best and worst case; and the worst occurrence (the most cycles in the worst case):
    # its range, its instructions and non-sequential fetches, and which occurrence it was (from 0, in run order).
    est_cycles_forward: float | None = None
    est_cycles_forward_min: float | None = None
    est_cycles_forward_max: float | None = None
    est_cycles_forward_worst_min: float | None = None
    est_cycles_forward_worst_central: float | None = None
    est_cycles_forward_worst_max: float | None = None
    est_cycles_forward_worst_occurrence: int | None = None
    instr_forward_worst: float | None = None
    nonseq_fetches_forward_worst: float | None = None
    est_cycles_train_step: float | None = None
    est_cycles_train_step_min: float | None = None
    est_cycles_train_step_max: float | None = None
    est_cycles_train_step_worst_min: float | None = None
    est_cycles_train_step_worst_central: float | None = None
    est_cycles_train_step_worst_max: float | None = None
    est_cycles_train_step_worst_occurrence: int | None = None
    instr_train_step_worst: float | None = None
    nonseq_fetches_train_step_worst: float | None = None
    est_us_forward: float | None = None  # central estimate at the core file's clock
    est_us_forward_worst: float | None = None  # the worst occurrence's worst case at the core file's clock
    est_us_train_step: float | None = None
    est_us_train_step_worst: float | None = None
    # Executed instructions the model has no price for, over all occurrences: their cycles are missing from the
    # estimates, which are then incomplete (0: every instruction priced).
    est_cycles_forward_unpriced: int | None = None
    est_cycles_train_step_unpriced: int | None = None
    cycle_model: str = ""  # what made the estimates: the TRM table or the scheduling model, with its source
    # Where a TRM table prices the core (cortex-m4), LLVM's scheduling model's central mean beside it (cycle_model
    # of targets/timing/llvm/): how far apart two independent models are.
    est_cycles_forward_llvm: float | None = None
    est_cycles_train_step_llvm: float | None = None
    # Non-sequential instruction fetches per occurrence (taken branches, calls, returns), net of the markers: what
    # a part's flash wait states are paid on in the slowest case (targets/timing/README.md, "Flash wait states").
    nonseq_fetches_forward: float | None = None
    nonseq_fetches_train_step: float | None = None
    emulated_cpu: str = ""  # the CPU the emulator modelled (QEMU's micro:bit is a cortex-m0 for a cortex-m0plus row)
    stack_peak: int | None = None  # bytes: the deeper of stack_painted and stack_sp_depth
    stack_painted: int | None = None  # bytes: the deepest word written on the painted stack over the whole run
    stack_sp_depth: int | None = None  # bytes: the deepest the stack pointer went (as the run's stack accesses show it)
    ram_total: int | None = None  # data + bss + stack_peak
    exception_frame: int | None = None  # bytes one exception stacks below the deepest stack pointer (budgets)
    lib_ram_total: int | None = None  # lib_ram_static + stack_peak - the baseline's stack_peak

    def __post_init__(self) -> None:
        # Rows read back from text (the spool, a results file) carry the status's text: the row holds the enum.
        object.__setattr__(self, "status", Status(self.status))

    def with_regions(self, regions: Iterable[RegionRow]) -> ResultRow:
        """The row with each region's figures in the columns REGION_COLUMNS names for it."""
        columns: dict[str, Any] = {}
        for region in regions:
            names = REGION_COLUMNS[region.name]
            columns |= {getattr(names, figure): getattr(region, figure) for figure in REGION_FIGURES}
        return replace(self, **columns)


@dataclass(frozen=True)
class Provenance:
    """What every row of a run records of the checkout that measured it ("", False: not recorded)."""

    git_sha: str = ""
    git_dirty: bool = False


@dataclass(frozen=True)
class RegionRow:
    """One measured region's figures as a row holds them (qbench.orchestration.analyse.region_row); the cycle
    figures are None for a run no model priced."""

    name: str  # the region: a key of REGION_COLUMNS
    instructions: float  # mean per occurrence, net of the markers
    minimum: float
    maximum: float
    occurrences: int
    markers: float  # the empty region's mean instructions, subtracted from the others
    cycles: float | None = None  # the central estimate's mean per occurrence
    cycles_min: float | None = None
    cycles_max: float | None = None
    worst_min: float | None = None  # the worst occurrence's cycle range
    worst_central: float | None = None
    worst_max: float | None = None
    worst_occurrence: int | None = None
    worst_instructions: float | None = None
    worst_nonsequential: float | None = None
    us: float | None = None  # the central mean at the core's clock
    us_worst: float | None = None  # the worst occurrence's worst case at the core's clock
    unpriced: int | None = None
    nonsequential: float | None = None
    llvm: float | None = None  # LLVM's scheduling model's central mean, where a TRM table priced the region


@dataclass(frozen=True)
class RegionColumns:
    """The ResultRow column each figure of a RegionRow fills (the same field names, but name)."""

    instructions: str
    minimum: str
    maximum: str
    occurrences: str
    markers: str
    cycles: str
    cycles_min: str
    cycles_max: str
    worst_min: str
    worst_central: str
    worst_max: str
    worst_occurrence: str
    worst_instructions: str
    worst_nonsequential: str
    us: str
    us_worst: str
    unpriced: str
    nonsequential: str
    llvm: str


# Written out in full so that a search for a column finds where it is filled; readers take names from here too.
REGION_COLUMNS = {
    "forward": RegionColumns(
        instructions="instr_forward",
        minimum="instr_forward_min",
        maximum="instr_forward_max",
        occurrences="instr_forward_occurrences",
        markers="instr_markers",
        cycles="est_cycles_forward",
        cycles_min="est_cycles_forward_min",
        cycles_max="est_cycles_forward_max",
        worst_min="est_cycles_forward_worst_min",
        worst_central="est_cycles_forward_worst_central",
        worst_max="est_cycles_forward_worst_max",
        worst_occurrence="est_cycles_forward_worst_occurrence",
        worst_instructions="instr_forward_worst",
        worst_nonsequential="nonseq_fetches_forward_worst",
        us="est_us_forward",
        us_worst="est_us_forward_worst",
        unpriced="est_cycles_forward_unpriced",
        nonsequential="nonseq_fetches_forward",
        llvm="est_cycles_forward_llvm",
    ),
    "train_step": RegionColumns(
        instructions="instr_train_step",
        minimum="instr_train_step_min",
        maximum="instr_train_step_max",
        occurrences="instr_train_step_occurrences",
        markers="instr_markers",
        cycles="est_cycles_train_step",
        cycles_min="est_cycles_train_step_min",
        cycles_max="est_cycles_train_step_max",
        worst_min="est_cycles_train_step_worst_min",
        worst_central="est_cycles_train_step_worst_central",
        worst_max="est_cycles_train_step_worst_max",
        worst_occurrence="est_cycles_train_step_worst_occurrence",
        worst_instructions="instr_train_step_worst",
        worst_nonsequential="nonseq_fetches_train_step_worst",
        us="est_us_train_step",
        us_worst="est_us_train_step_worst",
        unpriced="est_cycles_train_step_unpriced",
        nonsequential="nonseq_fetches_train_step",
        llvm="est_cycles_train_step_llvm",
    ),
}
REGION_FIGURES = field_names(RegionColumns)


def deployed_flash_bytes(lib_flash: int | None, test_data_bytes: int | None) -> int | None:
    """Flash deploying the network costs: the image less the empty baseline (lib_flash) less the test split an
    image carries to be scored (test_data_bytes, None for none); None when lib_flash was not measured."""
    if lib_flash is None:
        return None
    return lib_flash - (test_data_bytes or 0)


@dataclass(frozen=True, slots=True)
class SymbolRow(CellKey):
    symbol: str
    group: str  # by the DWARF's source files (qbench.sizes.symbols)
    category: str
    size: int
    prefix_group: str = ""  # by the symbol's name alone, the cross-check; "" in files written before it


@dataclass(frozen=True, slots=True)
class InstructionRow(CellKey):
    """Mean instructions per region occurrence spent in one function."""

    region: str
    function: str
    instructions: float


@dataclass(frozen=True)
class TrainingLog(CellKey):
    """The training log a trainable image printed (raw values)."""

    fractional_bits: int
    entries: tuple  # qbench.protocol.TrainingLogEntry

    @property
    def file_name(self) -> str:
        return training_log_name(
            self.workload, self.library, self.network, self.core, self.qformat, self.variant, self.opt
        )

    def frame(self) -> pd.DataFrame:
        scale = float(1 << self.fractional_bits)
        records = [
            {
                "iteration": entry.iteration,
                "error": entry.error / scale,
                "error_raw": entry.error,
                **{f"w{i}": weight / scale for i, weight in enumerate(entry.weights)},
            }
            for entry in self.entries
        ]
        return pd.DataFrame.from_records(records)

    def csv_text(self) -> str:
        """frame().to_csv(index=False)'s text, written straight from the entries (a warm run writes every log;
        pandas takes ten times as long)."""
        if not self.entries:
            return self.frame().to_csv(index=False)
        scale = float(1 << self.fractional_bits)
        lines = [",".join([*TRAINING_COLUMNS, *(f"w{i}" for i in range(len(self.entries[0].weights)))])]
        for entry in self.entries:
            weights = (repr(weight / scale) for weight in entry.weights)
            lines.append(",".join([str(entry.iteration), repr(entry.error / scale), str(entry.error), *weights]))
        return "\n".join(lines) + "\n"


def training_log_name(
    workload: str, library: str, network: str, core: str, qformat: str, variant: str, opt: str
) -> str:
    """The training log's file in DIR/training/, e.g. xor_2-4-1-tanh-sigmoid_cortex-m0plus_q16.16_trainable_Os.csv
    (qnn's logs carry no library in the name)."""
    prefix = workload if library == QNN_LIBRARY else f"{workload}_{library}"
    return f"{prefix}_{slug(network)}_{core}_{qformat}_{variant}_{opt}.csv"


INTEGER_COLUMNS = tuple(f.name for f in fields(ResultRow) if f.type == "int | None")
FLOAT_COLUMNS = tuple(f.name for f in fields(ResultRow) if f.type == "float | None")
BOOLEAN_COLUMNS = tuple(f.name for f in fields(ResultRow) if f.type == "bool | None")
INSTRUCTION_COLUMNS = field_names(InstructionRow)
ROW_COLUMNS = field_names(ResultRow)
SYMBOL_COLUMNS = field_names(SymbolRow)


def rows_frame(rows: list[ResultRow] | list[dict[str, Any]]) -> pd.DataFrame:
    """The one place rows become a DataFrame: every column, sizes as nullable integers."""
    # A run's rows as tuples, not dicts: a dict of the 99 columns is several times a tuple's size, and a long
    # sweep's rows are many.
    records = [flat_tuple(row) for row in rows] if rows and isinstance(rows[0], ResultRow) else rows
    frame = pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS))
    frame["status"] = [Status(status) for status in frame["status"]]
    for column in INTEGER_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="Int64")
    for column in FLOAT_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="Float64")
    for column in BOOLEAN_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="boolean")
    frame["git_dirty"] = frame["git_dirty"].astype(bool)
    return frame


def symbols_frame(rows: list[SymbolRow] | list[list[Any]]) -> pd.DataFrame:
    """Symbols as a DataFrame; rows: SymbolRows, or each one's values in their order (as the spool holds them)."""
    records = [flat_tuple(row) for row in rows] if rows and isinstance(rows[0], SymbolRow) else rows
    frame = pd.DataFrame.from_records(records, columns=list(SYMBOL_COLUMNS))
    frame["size"] = frame["size"].astype("int64")
    return frame


def concatenated(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one after the other; an empty one shapes no column's type (there is at least one frame)."""
    return pd.concat([frame for frame in frames if not frame.empty] or frames[:1], ignore_index=True)


def instructions_frame(rows: list[InstructionRow]) -> pd.DataFrame:
    return pd.DataFrame.from_records([flat_tuple(row) for row in rows], columns=list(INSTRUCTION_COLUMNS))


@dataclass(frozen=True)
class ArticleRow:
    """A row of article.csv: qbench.article.ArticleFigure as saved (the article's own host configuration)."""

    library: str
    variant: str
    text: int
    data: int
    bss: int
    command: str
    compiler: str


@dataclass(frozen=True)
class TrainingLogRow:
    """The leading columns of a training log's CSV (TrainingLog.frame); the weights w0, w1, … follow."""

    iteration: int
    error: float
    error_raw: int


ARTICLE_COLUMNS = field_names(ArticleRow)
TRAINING_COLUMNS = field_names(TrainingLogRow)


def article_frame(figures: list) -> pd.DataFrame:
    return pd.DataFrame.from_records([flat_dict(figure) for figure in figures], columns=list(ARTICLE_COLUMNS))


@dataclass(frozen=True)
class SymbolTable:
    """Every image's symbols as frames of a few images each (`chunks`, read anew each time; an image may straddle
    two frames): a run's lie in its spool, results read back in symbols.csv, so a long sweep's are never in memory
    whole."""

    chunks: Callable[[], Iterator[pd.DataFrame]]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> SymbolTable:
        return cls(lambda: iter((frame,)))

    def frame(self) -> pd.DataFrame:
        """Every symbol in one frame: for results read back whole (merge, the Robot library, tests)."""
        return concatenated(list(self.chunks()))

    def write_csv(self, path: Path) -> None:
        """symbols.csv, a frame at a time; the same bytes as the whole frame's to_csv."""
        with path.open("w", newline="") as stream:
            symbols_frame([]).to_csv(stream, index=False)
            for chunk in self.chunks():
                chunk.to_csv(stream, index=False, header=False)


@dataclass(frozen=True)
class SavedResults:
    rows: pd.DataFrame
    symbols: SymbolTable
    instructions: pd.DataFrame
    training: dict[str, pd.DataFrame]  # file name -> log
    environment: dict
    article: pd.DataFrame = field(default_factory=lambda: article_frame([]))


def saved_results(
    rows: list[ResultRow],
    symbols: Sequence[SymbolRow] | SymbolTable,
    environment: dict,
    instructions: list[InstructionRow] = (),
    training: list[TrainingLog] = (),
    article: list = (),
) -> SavedResults:
    return SavedResults(
        rows_frame(rows),
        symbols if isinstance(symbols, SymbolTable) else SymbolTable.of(symbols_frame(list(symbols))),
        instructions_frame(list(instructions)),
        {log.file_name: log.frame() for log in training},
        environment,
        article_frame(list(article)),
    )


def _json_rows(frame: pd.DataFrame) -> list[dict]:
    """Rows for JSON: missing values as null, numbers as Python numbers."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()} for row in records]


# Rows of results.json encoded, or checked and typed, at a time: a long sweep's are never all Python objects at once.
JSON_ROWS_AT_ONCE = 256


_RESULTS_JSON = json.JSONEncoder(indent=2, sort_keys=True)  # one for every row: json.dumps makes one per call


def _indented(value: Any, depth: int) -> str:
    """value as json.dump(indent=2, sort_keys=True) writes it nested `depth` spaces deep (JSON text holds no raw
    line break but those of the indentation)."""
    return _RESULTS_JSON.encode(value).replace("\n", "\n" + " " * depth)


def _write_results_json(path: Path, environment: dict, rows: pd.DataFrame) -> None:
    """results.json, byte for byte json.dump({"schema", "environment", "rows"}, indent=2, sort_keys=True) and a line
    break, the rows encoded JSON_ROWS_AT_ONCE at a time as they are written (keys sorted: environment, rows, schema)."""
    with path.open("w") as stream:
        stream.write(f'{{\n  "environment": {_indented(environment, 2)},\n  "rows": [')
        for start in range(0, len(rows), JSON_ROWS_AT_ONCE):
            for number, row in enumerate(_json_rows(rows.iloc[start : start + JSON_ROWS_AT_ONCE]), start):
                stream.write(f"{',' if number else ''}\n    {_indented(row, 4)}")
        closing = "\n  ]" if len(rows) else "]"
        stream.write(f'{closing},\n  "schema": {json.dumps(RESULTS_SCHEMA)}\n}}\n')


def write_results(directory: Path, saved: SavedResults, logs: Path | None = None) -> None:
    """The results files; logs: a folder of training logs already written as files (a run's spool), moved in
    beside saved.training's."""
    directory.mkdir(parents=True, exist_ok=True)
    _write_results_json(directory / "results.json", saved.environment, saved.rows)
    saved.rows.to_csv(directory / "results.csv", index=False)
    saved.symbols.write_csv(directory / "symbols.csv")
    saved.instructions.to_csv(directory / "instructions.csv", index=False)
    saved.article.to_csv(directory / "article.csv", index=False)
    folder = directory / "training"
    if folder.exists():
        for stale in folder.glob("*.csv"):
            stale.unlink()
    for name, log in saved.training.items():
        folder.mkdir(exist_ok=True)
        log.to_csv(folder / name, index=False)
    for written in sorted(logs.glob("*.csv")) if logs is not None else ():
        folder.mkdir(exist_ok=True)
        shutil.move(written, folder / written.name)


# Reading. Every file is checked against its schema; anything else is a ResultsFileError naming the file and,
# where there is one, the row (or line) and the column.

_INT64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]  # pandas holds integer columns as Int64
# Each column type the row dataclasses declare (as strings: annotations are not evaluated here): its schema, and
# how a message names it.
_COLUMN_TYPES: dict[str, tuple[Any, str]] = {
    "str": (str, "a string"),
    "Status": (Annotated[Status, Field(strict=False)], "one of qbench's statuses (ok, build-failed, …)"),
    "int": (_INT64, "a 64-bit integer"),
    "float": (float, "a number"),
    "bool": (bool, "true or false"),
    "int | None": (_INT64 | None, "a 64-bit integer or null"),
    "float | None": (float | None, "a number or null"),
    "bool | None": (bool | None, "true, false or null"),
}
# JSON carries types, so a number written as text is an error; nothing unknown is let through.
_STRICT = ConfigDict(strict=True, extra="forbid")


def _column_kinds(row_type: type, extra_floats: tuple[str, ...] = ()) -> dict[str, str]:
    """Column -> declared type, for row_type's columns and extra_floats (a training log's weights)."""
    return {**{column.name: column.type for column in fields(row_type)}, **dict.fromkeys(extra_floats, "float")}


@cache
def _row_model(row_type: type, extra_floats: tuple[str, ...] = (), strict: bool = False) -> type[BaseModel]:
    """The schema of a row: every column of its declared type, present unless it has a default, no other.
    Strict for JSON; lax for CSV, whose cells are all text."""
    defaults = {column.name: column.default for column in fields(row_type)}
    columns = {
        name: (_COLUMN_TYPES[kind][0], ... if defaults.get(name, MISSING) is MISSING else defaults[name])
        for name, kind in _column_kinds(row_type, extra_floats).items()
    }
    return create_model(f"{row_type.__name__}Schema", __config__=ConfigDict(strict=strict, extra="forbid"), **columns)


@cache
def _rows_adapter(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[model])


def shard_numbers(text: str) -> tuple[int, int]:
    """An environment's shard 'I/N' -> (I, N)."""
    match = re.fullmatch(r"([1-9][0-9]*)/([1-9][0-9]*)", text)
    if match is None or int(match[1]) > int(match[2]):
        raise ValueError("is not a shard I/N with 1 <= I <= N")
    return int(match[1]), int(match[2])


def _checked_shard(text: str) -> str:
    shard_numbers(text)
    return text


Shard = Annotated[str, AfterValidator(_checked_shard)]


class RunRecord(BaseModel):
    """One run's provenance inside a merged environment (merged_environments)."""

    model_config = _STRICT
    folder: str
    toolchains: dict[str, str]
    qbench: str
    git_sha: str
    interrupted: bool
    shard: Shard | None
    matrix_digest: str


class RetriedTaskRecord(BaseModel):
    """A task dask ran again (qbench.executors.RetriedTask)."""

    model_config = _STRICT
    stage: str
    cell: str
    worker: str
    why: str


class RefusedWorkerRecord(BaseModel):
    """A worker that refused the run's tasks (qbench.executors.RefusedWorker)."""

    model_config = _STRICT
    worker: str
    why: str


class ClusterRecord(BaseModel):
    """What the dask cluster did during the run (qbench.executors.ClusterEvents); empty for a run on threads."""

    model_config = _STRICT
    workers_lost: list[str] = []
    tasks_retried: list[RetriedTaskRecord] = []
    workers_refused: list[RefusedWorkerRecord] = []


class Environment(BaseModel):
    """A results file's environment block (qbench.provenance.environment, or qbench.merge's)."""

    model_config = _STRICT
    qbench: str
    git_sha: str
    git_dirty: bool
    date: str
    python: str
    host: str
    pyelftools: str
    capstone: str = ""  # absent in results written before it was recorded
    # numpy, scikit-learn, pandas, matplotlib (provenance.FIGURE_PACKAGES) -> version; {} before they were recorded
    packages: dict[str, str] = {}
    toolchains: dict[str, str]
    problems: list[str]
    interrupted: bool
    shard: Shard | None = None  # run --shard I/N; None: the whole matrix (or written before shards were recorded)
    matrix_digest: str = ""  # provenance.matrix_digest of the whole matrix, before sharding; "" before it was recorded
    merged_from: list[str] = []  # merged results: the folders
    merged_environments: list[RunRecord] = []  # merged results: every run merged in
    # library name -> path, revision ('qbench checkout', 'git DESCRIBE' or 'sha256 DIGEST') and, for a registry
    # package, version; {} before libraries were recorded
    libraries: dict[str, dict[str, str]] = {}
    cluster: ClusterRecord = ClusterRecord()  # empty before it was recorded


# Columns earlier qbench versions wrote that no longer mean anything: dropped on reading. trace_elf: instructions
# were counted on a separate trace image, now gone.
RETIRED_COLUMNS = ("trace_elf",)


def _without_retired_columns(row: Any) -> Any:
    """A row as this qbench reads it: retired columns dropped, and deployed_flash (a column since issue 23) derived
    from lib_flash and test_data_bytes where an earlier qbench did not write it."""
    if not isinstance(row, dict):
        return row
    row = {key: value for key, value in row.items() if key not in RETIRED_COLUMNS}
    flash, test_data = row.get("lib_flash"), row.get("test_data_bytes")
    if "deployed_flash" not in row and type(flash) is int and (test_data is None or type(test_data) is int):
        row["deployed_flash"] = deployed_flash_bytes(flash, test_data)
    return row


class _ResultsEnvelope(BaseModel):
    """results.json but what its rows hold: they are checked a few at a time (_checked_rows)."""

    model_config = _STRICT
    schema_: Literal[RESULTS_SCHEMA] = Field(alias="schema")
    rows: list[Any]
    environment: Environment


_RESULT_ROWS = TypeAdapter(
    list[Annotated[_row_model(ResultRow, strict=True), BeforeValidator(_without_retired_columns)]]
)
# The envelope's problems that pydantic names before the rows' (its fields' order): refused before the rows are read.
_BEFORE_ROWS = ((), ("schema",), ("rows",))


def _column_descriptions(row_type: type, extra_floats: tuple[str, ...] = ()) -> dict[str, str]:
    """Column -> what its values must be, as a message says it."""
    return {column: _COLUMN_TYPES[kind][1] for column, kind in _column_kinds(row_type, extra_floats).items()}


def _document_problem(errors: list[dict]) -> str:
    """What is wrong with a results.json document, from the first of pydantic's errors."""
    first = errors[0]
    top = first["loc"][:1]
    below = [{**error, "loc": error["loc"][1:]} for error in errors if error["loc"][:1] == top]
    if top == ():
        return "not a qbench results file (expected a JSON object)"
    if top == ("schema",):
        found = "none" if first["type"] == "missing" else json_shown(first["input"])
        return f"not a qbench results file (expected schema {RESULTS_SCHEMA!r}, found {found})"
    if top == ("rows",):
        if len(first["loc"]) == 1:
            return "'rows' must be a list of objects"
        return first_row_problem(below, _column_descriptions(ResultRow), lambda index: f"row {index}")
    if top == ("environment",):
        return block_problem(below, Environment, "environment")
    return f"unknown key {top[0]!r}"


def _json_document(path: Path, directory: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such file (run `qbench run --out {directory}` first)") from None
    except OSError as error:
        raise ResultsFileError(f"{path}: cannot be read ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ResultsFileError(f"{path}: not valid JSON ({error})") from None


def _taken_rows(document: Any) -> list:
    """The document's rows, taken out of it (an empty list left in their place) so that each row's parsed values
    can be let go once checked; none where there is no list of rows (the envelope says what is wrong)."""
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list):
        return []
    rows, document["rows"] = document["rows"], []
    return rows


def _checked_rows(path: Path, rows: list) -> pd.DataFrame:
    """The rows checked and made a frame JSON_ROWS_AT_ONCE at a time, emptying `rows` as they go: a long sweep's are
    never all parsed, checked and typed at once. The first bad row is a ResultsFileError naming its index."""
    frames, start = [rows_frame([])], 0
    while rows:
        chunk = rows[:JSON_ROWS_AT_ONCE]
        del rows[:JSON_ROWS_AT_ONCE]
        try:
            checked = _RESULT_ROWS.validate_python(chunk)
        except ValidationError as error:
            problems = [_in_rows(problem, start) for problem in error.errors()]
            raise ResultsFileError(f"{path}: {_document_problem(problems)}") from None
        frames.append(rows_frame([row.model_dump() for row in checked]))
        start += len(chunk)
    return concatenated(frames)


def _in_rows(problem: dict, start: int) -> dict:
    """A problem of a chunk of rows, located in the document: ("rows", its row's index, ...)."""
    index, *within = problem["loc"]
    return {**problem, "loc": ("rows", start + index, *within)}


def read_results(directory: Path) -> SavedResults:
    """Results written by write_results, or by an earlier qbench this one still reads (rows without library or
    deployed_flash, or with trace_elf, no article.csv); anything else is a ResultsFileError."""
    path = directory / "results.json"
    document = _json_document(path, directory)
    parsed_rows = _taken_rows(document)
    try:
        envelope, after_rows = _ResultsEnvelope.model_validate(document), []
    except ValidationError as error:
        envelope, after_rows = None, error.errors()
        if after_rows[0]["loc"][:1] in _BEFORE_ROWS:
            raise ResultsFileError(f"{path}: {_document_problem(after_rows)}") from None
    rows = _checked_rows(path, parsed_rows)
    if envelope is None:
        raise ResultsFileError(f"{path}: {_document_problem(after_rows)}")
    symbols = _symbols_file(directory / "symbols.csv")
    instructions = instructions_frame(
        [InstructionRow(**record) for record in _csv_rows(directory / "instructions.csv", InstructionRow)]
    )
    training = read_training_logs(directory)
    article = directory / "article.csv"  # absent in results written before it was measured
    figures = [ArticleRow(**record) for record in _csv_rows(article, ArticleRow)] if article.exists() else []
    environment = envelope.environment.model_dump()
    return SavedResults(rows, symbols, instructions, training, environment, article_frame(figures))


def read_training_logs(directory: Path) -> dict[str, pd.DataFrame]:
    """DIR/training's logs by file name, each checked as read_results checks it ({} for no such folder)."""
    return {path.name: _training_log(path) for path in sorted((directory / "training").glob("*.csv"))}


# Columns added to symbols.csv and instructions.csv after their first release, with the value
# older files imply: every image then measured qnn, the network was not recorded, nor the symbols' group by name
# (prefix_group: "" agrees with any group).
_ADDED_COLUMNS = {"library": QNN_LIBRARY, "network": "", "prefix_group": ""}


CSV_ROWS_AT_ONCE = 20_000  # rows of a results CSV file read and checked at a time: a long sweep's symbols are many


def _symbols_file(path: Path) -> SymbolTable:
    """symbols.csv, checked whole now (a bad line is refused before anything is reported) and read again
    CSV_ROWS_AT_ONCE rows at a time whenever the table is read: never in memory whole."""

    def chunks() -> Iterator[pd.DataFrame]:
        for records in _csv_chunks(path, SymbolRow):
            yield symbols_frame([SymbolRow(**record) for record in records])

    for _ in _csv_chunks(path, SymbolRow):
        pass
    return SymbolTable(chunks)


def _csv_text(path: Path) -> pd.DataFrame:
    """A CSV file's cells as the text written (none read as missing), whole."""
    return pd.concat(list(_csv_text_chunks(path)), ignore_index=True)


def _csv_text_chunks(path: Path) -> Iterator[pd.DataFrame]:
    """A CSV file's cells as the text written (none read as missing), CSV_ROWS_AT_ONCE rows at a time; a file of a
    header alone is one empty frame."""
    try:
        with pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8", chunksize=CSV_ROWS_AT_ONCE
        ) as chunks:
            yield from chunks
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such file") from None
    except OSError as error:
        raise ResultsFileError(f"{path}: cannot be read ({error.strerror})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ResultsFileError(f"{path}: not a readable CSV file ({error})") from None


def _validated(
    path: Path, frame: pd.DataFrame, row_type: type, extra_floats: tuple[str, ...] = (), first_line: int = 2
) -> list[dict]:
    """The CSV's rows, each checked against row_type's schema (and extra_floats' columns), as typed values; the
    frame's first row is the file's line first_line (the header is line 1)."""
    adapter = _rows_adapter(_row_model(row_type, extra_floats))
    try:
        return adapter.dump_python(adapter.validate_python(frame.to_dict("records")))
    except ValidationError as error:
        expected = _column_descriptions(row_type, extra_floats)
        problem = first_row_problem(error.errors(), expected, lambda index: f"line {first_line + index}")
        raise ResultsFileError(f"{path}: {problem}") from None


def _csv_rows(path: Path, row_type: type) -> list[dict]:
    return [record for records in _csv_chunks(path, row_type) for record in records]


def _csv_chunks(path: Path, row_type: type) -> Iterator[list[dict]]:
    """The file's rows, CSV_ROWS_AT_ONCE at a time, each checked against row_type's columns and schema."""
    first_line = 2
    for frame in _csv_text_chunks(path):
        yield _validated(path, _qbench_columns(path, frame, row_type), row_type, first_line=first_line)
        first_line += len(frame)


def _qbench_columns(path: Path, frame: pd.DataFrame, row_type: type) -> pd.DataFrame:
    """The frame with row_type's columns, in order: an earlier qbench's file completed with the columns added since
    (_ADDED_COLUMNS); any other difference is a ResultsFileError."""
    columns = field_names(row_type)
    missing = [column for column in columns if column not in frame.columns]
    if (
        missing
        and set(missing) <= set(_ADDED_COLUMNS)
        and list(frame.columns) == [column for column in columns if column not in missing]
    ):
        for column in missing:
            values = ["" if variant == BASELINE_VARIANT else _ADDED_COLUMNS[column] for variant in frame["variant"]]
            frame.insert(columns.index(column), column, values)
    if list(frame.columns) != list(columns):
        raise ResultsFileError(f"{path}: columns {list(frame.columns)} are not qbench's ({', '.join(columns)})")
    return frame


def _training_log(path: Path) -> pd.DataFrame:
    plain = _plain_log(path)
    if plain is not None:
        return plain
    frame = _csv_text(path)
    header = tuple(frame.columns)
    weights = header[len(TRAINING_COLUMNS) :]
    if header[: len(TRAINING_COLUMNS)] != TRAINING_COLUMNS or weights != tuple(f"w{i}" for i in range(len(weights))):
        raise ResultsFileError(
            f"{path}: columns {list(header)} are not a training log's ({', '.join(TRAINING_COLUMNS)}, w0, w1, …)"
        )
    return pd.DataFrame.from_records(_validated(path, frame, TrainingLogRow, weights), columns=list(header))


_INTEGER_TEXT = r"-?\d+"
_FLOAT_TEXT = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def _plain_log(path: Path) -> pd.DataFrame | None:
    """A log exactly as qbench writes it (its header, then plain decimal numbers only), typed in one read: the
    values the row schema gives, which checks anything else, to accept it or name what is wrong (None here)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header, _, body = text.partition("\n")
    columns = header.split(",")
    weights = len(columns) - len(TRAINING_COLUMNS)
    if weights < 0 or tuple(columns) != (*TRAINING_COLUMNS, *(f"w{i}" for i in range(weights))):
        return None
    line = rf"{_INTEGER_TEXT},{_FLOAT_TEXT},{_INTEGER_TEXT}(?:,{_FLOAT_TEXT}){{{weights}}}\n"
    if not body or re.fullmatch(rf"(?:{line})+", body) is None:
        return None
    types = {column: "int64" if column in ("iteration", "error_raw") else "float64" for column in columns}
    return pd.read_csv(io.StringIO(text), dtype=types)  # pandas parses decimals exactly (as float() does)
