"""The generic codec of the cached records (common/codec) and the cache's use of it: every record the cache stores
round-trips with each field set (and with its optional fields empty), a record that gains a field needs no codec
change, and data of the wrong shape is an error that says where, which the cache reports and discards."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Optional

import pytest

from memory_growth import bytes_kept_per_call
from qbench.common.codec import ShapeError, decode, decoder, encode, shape
from qbench.common.paths import REPO
from qbench.execution.emulate import CellRun, Emulated
from qbench.execution.figures import RegionFigures, Worst
from qbench.execution.protocol import Classification, StackUse, TrainingLogEntry, WorkloadReport
from qbench.execution.timing import BlockVisit, CycleRange
from qbench.execution.trace import CountedRun, RegionPaths
from qbench.images.workloads import HostFigures, WorkloadSources
from qbench.orchestration import cache as cache_module
from qbench.orchestration.cache import Cache, StoredBuild
from qbench.orchestration.tasks import Prepared, Priced
from qbench.records.results import Status
from qbench.sizes.elfsize import Category, ImageSizes, Section
from qbench.sizes.symbols import SymbolSize

# ---- every stored record, every field set ----------------------------------------------------------------------

REPORT = WorkloadReport(
    workload="iris",
    qformat="q8.8",
    variant="trainable",
    learned=True,
    iterations=120,
    final_error=3,
    outputs=(5, -7, 256),
    log=(TrainingLogEntry(0, 900, (1, -2, 3)), TrainingLogEntry(60, 40, (4, 5, -6))),
    status=2,
    stack=StackUse(peak_bytes=612, size_bytes=4096, overflow=True),
    classification=Classification(correct=0, total=3, predictions=(65536, -3, 7), regression=True),
)
COUNTED = CountedRun(
    visits=(BlockVisit(0xFE, (0x100, 0x102), 0x200), BlockVisit(0x102, (0x200,), 0x100)),
    regions={"forward": RegionPaths(paths=(((0, 1), (1, 3)), ((1, 2),)), taken=(0, 1, 0))},
    lowest_stack_pointer=0x20000F00,
    instructions=12345,
)
RUN = CellRun(Emulated(Status.STACK_OVERFLOW, "guard band written", REPORT), COUNTED, "not counted: why")
CYCLES = CycleRange(1.5, 2, 3.25)  # an int among floats: it must come back an int
PRICED = Priced(
    regions={
        "forward": RegionFigures(
            name="forward",
            occurrences=3,
            instructions=40.5,
            minimum=38,
            maximum=44.0,
            markers=2.0,
            functions={"qnn_forward": 30.5, "memcpy": 10},
            cycles=CYCLES,
            worst=Worst(occurrence=2, cycles=CycleRange(50.0, 60.0, 70.0), instructions=44, nonsequential=6.5),
            nonsequential=5.25,
            unpriced=7,
        )
    },
    stack_sp_depth=216,
    cycle_model="trm:cortex-m4",
    comparison={"forward": CycleRange(45.0, 55.5, 66.0)},
    note="llvm-mca missing",
)
HOST = HostFigures(
    connections=19,
    weights_saturated=2,
    inputs_saturated=1,
    accuracy_float_host=0.96,
    expected_predictions=(1, 0, 2),
    test_set="iris.csv, 30 samples",
    input_scaling="standardize(mean, std)",
    quantization_error=0.004,
    test_targets=(1.5, -2.0, 3),
    target_offset=0.5,
    target_scale=2.0,
    mae_float_host=0.1,
    rmse_float_host=0.2,
    max_error_float_host=0.4,
    initial_weights="seed 7",
)
SOURCES = WorkloadSources(
    REPO / "suite" / "workloads" / "iris" / "main.cpp",
    defines={"QBENCH_ITERATIONS": "120"},
    generated={"weights.inc": "{1, 2}"},
    weights=(3, -1.25, 0),
)
PREPARED = Prepared(SOURCES, HOST, error="not an error, but stored as given")
BUILD = StoredBuild(
    elf_sha256="ab" * 32,
    sizes=ImageSizes((Section(1, ".text", Category.CODE, 1024, 0x100), Section(4, ".bss", Category.BSS, 8, 0x2000))),
    symbols=(SymbolSize("qnn_forward", "qnn", Category.CODE, 300, "qnn"),),
    dependencies=(("suite/qnn/qnn.h", "cd" * 32), ("targets/startup/m.c", "ef" * 32)),
)
STORED = [(CellRun, RUN), (Priced, PRICED), (Prepared, PREPARED), (StoredBuild, BUILD)]

# The same with every optional field empty.
SPARSE = [
    (CellRun, CellRun(Emulated(Status.OK, "", None), None, "")),
    (
        CellRun,
        CellRun(
            Emulated(Status.OK, "", dataclasses.replace(REPORT, learned=None, stack=None, classification=None)),
            CountedRun((BlockVisit(None, (), None),), {}, None, 0),
        ),
    ),
    (Priced, Priced({"empty": dataclasses.replace(PRICED.regions["forward"], cycles=None, worst=None)}, None)),
    (Prepared, Prepared(dataclasses.replace(SOURCES, weights=None), HostFigures())),
    (Prepared, Prepared(SOURCES, None)),
    (StoredBuild, dataclasses.replace(BUILD, sizes=ImageSizes((Section(4, ".odd", None, 8, 0x2000),)), symbols=())),
]


def through_json(kind: Any, value: Any) -> Any:
    return decode(kind, json.loads(json.dumps(encode(value))))


def fields_set(value: Any) -> list[str]:
    """The fields of a record, and of the records in it, left at their default or None."""
    if isinstance(value, tuple | list):
        return [name for item in value for name in fields_set(item)]
    if isinstance(value, dict):
        return fields_set(list(value.values()))
    if not dataclasses.is_dataclass(value):
        return []
    unset = []
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if item is None or item == field.default:
            unset.append(f"{type(value).__name__}.{field.name}")
        unset += fields_set(item)
    return unset


def test_the_stored_records_are_built_with_every_field_set():
    assert fields_set([record for _, record in STORED]) == []


@pytest.mark.parametrize(("kind", "record"), STORED + SPARSE)
def test_every_stored_record_round_trips_exactly(kind, record):
    back = through_json(kind, record)
    assert back == record
    assert repr(back) == repr(record)  # ints stay ints and floats floats, tuples stay tuples


def test_a_path_is_stored_as_its_place_in_the_checkout():
    assert encode(PREPARED)["sources"]["source"] == "suite/workloads/iris/main.cpp"
    assert decode(Path, "suite/workloads/iris/main.cpp") == SOURCES.source
    assert decode(Path, "/elsewhere/main.cpp") == Path("/elsewhere/main.cpp")


def test_an_enum_is_stored_as_its_value():
    assert encode(RUN)["emulated"]["status"] == "stack-overflow"
    assert encode(BUILD)["sizes"]["sections"][1]["category"] == "bss"


# ---- a record the codec has never seen -------------------------------------------------------------------------


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True)
class Inner:
    label: str
    weights: tuple[int | float, ...]


@dataclass(frozen=True)
class Novel:
    colour: Colour
    level: Level
    where: Path
    pair: tuple[int, str]
    grid: tuple[tuple[int, ...], ...]
    table: dict[Colour, list[Inner]]
    maybe: Optional[Inner]  # noqa: UP045 (typing.Optional is a union of another spelling)
    either: Inner | CycleRange
    flag: bool
    ratio: float
    nothing: None = None


@dataclass(frozen=True)
class CycleRangeWithSpread(CycleRange):
    """A stored record that gained a field."""

    spread: float = 0.0


NOVEL = Novel(
    colour=Colour.BLUE,
    level=Level.HIGH,
    where=REPO / "targets" / "cores",
    pair=(3, "three"),
    grid=((1, 2), (), (3,)),
    table={Colour.RED: [Inner("a", (1, 2.5))], Colour.BLUE: []},
    maybe=Inner("b", ()),
    either=CycleRange(1.0, 2.0, 3.0),
    flag=False,
    ratio=0.25,
)


def test_a_record_never_seen_round_trips():
    assert through_json(Novel, NOVEL) == NOVEL
    assert through_json(Novel, dataclasses.replace(NOVEL, maybe=None, either=Inner("c", (0,)))).either == Inner(
        "c", (0,)
    )


def test_a_record_that_gains_a_field_round_trips_with_it():
    gained = CycleRangeWithSpread(1.0, 2.0, 4.0, spread=3.0)
    assert encode(gained) == {"minimum": 1.0, "central": 2.0, "maximum": 4.0, "spread": 3.0}
    assert through_json(CycleRangeWithSpread, gained) == gained


def test_what_cannot_be_written_or_read_is_refused():
    with pytest.raises(TypeError, match="cannot encode a set"):
        encode({1, 2})
    with pytest.raises(TypeError, match="a dict key must be written as a string"):
        encode({1: "one"})
    with pytest.raises(TypeError, match="no decoder for"):
        decoder(frozenset[int])


# ---- the wrong shape -------------------------------------------------------------------------------------------


def damaged(record: Any, change: Any) -> Any:
    document = json.loads(json.dumps(encode(record)))
    change(document)
    return document


WRONG = [
    ("a field missing", lambda d: d.pop("count_message"), "a CellRun with missing fields count_message"),
    ("a field unknown", lambda d: d.update(extra=1), "a CellRun with unknown fields extra"),
    (
        "a record not an object",
        lambda d: d.update(emulated=[]),
        "emulated: expected the fields of Emulated, found []",
    ),
    ("an unknown status", lambda d: d["emulated"].update(status="fine"), "emulated.status: expected one of ['ok',"),
    (
        "a float for an int",
        lambda d: d["counted"].update(instructions=2.0),
        "counted.instructions: expected an integer, found 2.0",
    ),
    (
        "a bool for an int",
        lambda d: d["emulated"]["report"]["outputs"].__setitem__(1, True),
        "emulated.report.outputs[1]: expected an integer, found True",
    ),
    (
        "a string among a path's numbers",
        lambda d: d["counted"]["regions"]["forward"]["paths"][0][1].__setitem__(0, "x"),
        "counted.regions['forward'].paths[0][1][0]: expected an integer, found 'x'",
    ),
    (
        "a pair of three",
        lambda d: d["counted"]["regions"]["forward"]["paths"][1].__setitem__(0, [1, 2, 3]),
        "counted.regions['forward'].paths[1][0]: expected an array of 2, found [1, 2, 3]",
    ),
    (
        "an object for an array",
        lambda d: d["counted"].update(visits={}),
        "counted.visits: expected an array, found {}",
    ),
    (
        "a string for a record or null",
        lambda d: d["emulated"]["report"].update(stack="none"),
        "emulated.report.stack: expected the fields of StackUse, found 'none'",
    ),
]


@pytest.mark.parametrize(("change", "message"), [case[1:] for case in WRONG], ids=[case[0] for case in WRONG])
def test_data_of_the_wrong_shape_is_an_error_that_says_where(change, message):
    with pytest.raises(ShapeError) as raised:
        decode(CellRun, damaged(RUN, change))
    assert str(raised.value).startswith(message)


def test_an_option_of_a_union_that_reads_nothing_says_what_was_expected():
    with pytest.raises(ShapeError, match=r"either: expected Inner or CycleRange, found 5"):
        decode(Novel, damaged(NOVEL, lambda d: d.update(either=5)))
    with pytest.raises(ShapeError, match=r"pair: expected an array of 2, found \[3\]"):
        decode(Novel, damaged(NOVEL, lambda d: d.update(pair=[3])))
    with pytest.raises(ShapeError, match=r"table\['green'\]: expected one of \['red', 'blue'\], found 'green'"):
        decode(Novel, damaged(NOVEL, lambda d: d["table"].update(green=[])))


# ---- the cache's use of it -------------------------------------------------------------------------------------


def test_the_cache_stores_and_fetches_each_record(tmp_path):
    cache = Cache(tmp_path)
    cache.store_run("run", RUN)
    cache.store_priced("priced", PRICED)
    cache.store_prepared("prepared", PREPARED)
    fresh = Cache(tmp_path)
    assert fresh.fetch_run("run") == RUN
    assert fresh.fetch_priced("priced") == PRICED
    assert fresh.fetch_prepared("prepared") == PREPARED
    assert fresh.hits == 3


def test_entries_stored_in_this_run_are_read_under_no_cache_and_known_by_their_mark_not_kept_in_memory(tmp_path):
    """Under --no-cache a run reads back what it stored itself (not counted as hits) and nothing stored before it; it
    knows its own entries by the run each entry names, so a long sweep keeps no key per entry in memory."""
    Cache(tmp_path).store_priced("earlier", PRICED)
    cache = Cache(tmp_path, read=False)
    kept = bytes_kept_per_call(lambda index: cache.store_priced(f"stored {index}", PRICED), 500, 500)
    assert kept < 16  # a key kept per entry: 100 bytes and more
    assert cache.fetch_priced("stored 999") == PRICED and cache.fetch_priced("earlier") is None
    assert cache.hits == 0
    assert Cache(tmp_path, read=False).fetch_priced("stored 999") is None  # another run's entry
    later = Cache(tmp_path)
    assert later.fetch_priced("stored 999") == PRICED and later.fetch_priced("earlier") == PRICED
    assert later.hits == 2


def test_the_cache_keeps_no_timeout_and_no_failed_preparation(tmp_path):
    cache = Cache(tmp_path)
    cache.store_run("timeout", CellRun(Emulated(Status.TIMEOUT, "took too long")))
    cache.store_prepared("failed", Prepared(None, None, "no such workload"))
    assert Cache(tmp_path).fetch_run("timeout") is None and Cache(tmp_path).fetch_prepared("failed") is None


def test_an_entry_of_the_wrong_shape_is_reported_discarded_and_a_miss(tmp_path):
    warnings: list[str] = []
    cache = Cache(tmp_path, warn=warnings.append)
    cache.store_document("run", damaged(RUN, lambda d: d["counted"].update(instructions="many")))
    assert Cache(tmp_path, warn=warnings.append).fetch_run("run") is None
    assert warnings == [
        f"warning: cache entry {tmp_path / 'runs' / 'run.json'} discarded and recomputed: "
        "counted.instructions: expected an integer, found 'many'"
    ]
    assert not (tmp_path / "runs" / "run.json").exists()


def test_another_entry_format_is_another_key_and_an_entry_of_it_is_not_read(tmp_path, monkeypatch):
    cache = Cache(tmp_path, warn=lambda message: None)
    key = cache.key("execute", elf="ab")
    cache.store_run("run", RUN)
    monkeypatch.setattr(cache_module, "ENTRY_FORMAT", "qbench-cache/0")
    assert cache.key("execute", elf="ab") != key
    assert Cache(tmp_path, warn=lambda message: None).fetch_run("run") is None


@dataclass(frozen=True)
class PricedWithANote(Priced):
    """Priced as it would be with a field more."""

    second_note: str = ""


def test_a_stored_record_that_changes_changes_its_stages_keys(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    key = cache.key("price", run="ab", core="cortex-m4")
    monkeypatch.setitem(cache_module.STAGE_RECORDS, "price", PricedWithANote)
    assert cache.key("price", run="ab", core="cortex-m4") != key


def test_a_shape_spells_out_every_record_inside():
    assert (
        shape(tuple[Inner, ...])
        == "tuple[Inner(label: str, weights: tuple[UnionType[int, float], Ellipsis]), Ellipsis]"
    )


@dataclass(frozen=True)
class Mixed:
    name: str
    count: int | None
    where: Path
    colour: Colour


def test_a_field_of_jsons_own_values_is_taken_as_it_is_and_the_others_encoded():
    assert encode(Mixed("x", None, REPO / "targets" / "cores", Colour.RED)) == {
        "name": "x",
        "count": None,
        "where": "targets/cores",
        "colour": "red",
    }
