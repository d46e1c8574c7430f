"""A content-addressed cache of the pipeline's stored stages: prepare (an image's sources, with what host
training made, and the host's figures), build (with the ELF's measured sizes and symbols), execute (an emulated
run and its trace) and price (a run's regions priced for one core: a run shared by two cores, cortex-m0 and
cortex-m0plus images being byte-identical, is priced and stored with each core's own table).

Every key is derived in one place, `Cache.key`, from the stage's name, its declared inputs, the source of the
qbench modules that stage runs (`stage_code`: the stage's own modules and every qbench module they import) and
the versions of the Python packages that read or price images; never from the checkout as a whole, so adding
a part, a workload or a library, or editing a file a stage does not read, keeps every entry it does not feed.
A build's key is its compiler version and its plan (flags, source names, generated files: the linker script
among them); its entry lists the files the compiler read (GCC's -MMD: the sources, the start-up code and every
header) with their digests, checked on every fetch, ccache's direct mode: a listed file changed is a miss.
prepare's inputs include the workload's own files and the library's; price's the core's timing table; an
execution's are the ELF's bytes, the emulator and its machine, and where the trace stops. Timeouts are never
stored: they depend on the machine. Records are stored as the generic codec writes them (common/codec), and a
stage's keys hold the shape of the record it stores (STAGE_RECORDS): a record that changes makes a miss.

Entries are written under unique temporary names and renamed into place, so a reader never sees half an
entry and two qbench processes can share a cache. Every entry carries a digest of its payload (and a
build entry the digest of its ELF): an entry that cannot be read or fails its digest is reported once,
discarded and recomputed. Identical work asked for twice in one run is done once: concurrent requests share
one computation (`once`), and a later one reads what the first stored, even under --no-cache: each entry names
the run that stored it. Neither a finished computation nor a stored key is held in memory, so a long sweep keeps a
flat footprint.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from qbench.common.codec import ShapeError, decode, encode, shape
from qbench.common.entries import SHARED_FOLDER, shared_file, staging_name, write_entry
from qbench.common.paths import REPO, in_checkout, shown
from qbench.common.single_flight import SingleFlight
from qbench.execution.emulate import CellRun
from qbench.images.article import ArticleFigure
from qbench.images.build import BuildPlan, Image
from qbench.orchestration.tasks import Prepared, Priced
from qbench.records.results import Status
from qbench.sizes.elfsize import ImageSizes
from qbench.sizes.measure import Measured
from qbench.sizes.symbols import SymbolSize

# The checkout a worker must share with the client (executors, workercheck): not part of any cache key.
FINGERPRINTED = ("suite", "targets", "scripts/qbench")
# Files under those that shape no cell's build or run: the parts are only what finished rows are judged and timed
# against (part budgets, explore), so adding or editing a part keeps every cached result.
UNFINGERPRINTED = ("targets/parts.toml",)
# Python packages whose version can change a figure: ELF reading and instruction decoding.
SHAPING_PACKAGES = ("pyelftools", "capstone")
ENTRY_FORMAT = "qbench-cache/4"
ENTRY_LOG = "build.log"  # a build entry's copy of the build log
PACKAGE = Path(__file__).resolve().parents[1]  # scripts/qbench
# The qbench modules (a package: all of its modules) each stored stage runs; the modules they import from
# qbench are added (stage_code). The cache's own encoding is versioned by ENTRY_FORMAT.
STAGE_CODE: dict[str, tuple[str, ...]] = {
    "prepare": ("qbench.images.workloads", "qbench.models"),
    "build": ("qbench.images.build", "qbench.sizes"),
    "execute": ("qbench.execution",),
    "price": ("qbench.execution.figures", "qbench.execution.cycle_models"),
    "article": ("qbench.images.article",),
}

T = TypeVar("T")


class CorruptEntry(ValueError):
    """A cache entry that cannot be read back as it was stored."""


@dataclass(frozen=True)
class StoredBuild:
    """A build entry's document: its ELF's digest, what measuring the ELF found and the files the compiler read,
    with their digests. Not the image: it is the plan's own (fetch_build)."""

    elf_sha256: str
    sizes: ImageSizes
    symbols: tuple[SymbolSize, ...]
    dependencies: tuple[tuple[str, str], ...]


# What each stage stores. Its shape is part of the stage's keys: a record that changes (Prepared and Priced live
# outside their stages' code) makes the entries stored of it misses, not damaged entries.
STAGE_RECORDS: dict[str, Any] = {
    "prepare": Prepared,
    "build": StoredBuild,
    "execute": CellRun,
    "price": Priced,
    "article": list[ArticleFigure],
}


def fingerprint(root: Path = REPO) -> str:
    digest = hashlib.sha256()
    for top in FINGERPRINTED:
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and _relative(path, root) not in UNFINGERPRINTED:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _module_files(name: str, whole_package: bool) -> list[Path]:
    """The source files of module `name` (qbench.x.y); of a package, its __init__ or every module in it."""
    base = PACKAGE.joinpath(*name.split(".")[1:])
    if base.is_dir():
        if whole_package:
            return sorted(path for path in base.rglob("*.py") if "__pycache__" not in path.parts)
        return [base / "__init__.py"] if (base / "__init__.py").is_file() else []
    return [base.with_suffix(".py")] if base.with_suffix(".py").is_file() else []


# `from qbench.x import y` (y, or a parenthesised list, on one line or several) and `import qbench.x`, at any
# indentation (lazy imports too). A match in a string only adds a file to a digest: the safe side.
_FROM_IMPORT = re.compile(r"^\s*from\s+(qbench(?:\.\w+)*)\s+import\s+(\([^)]*\)|[^\n]*)", re.MULTILINE)
_PLAIN_IMPORT = re.compile(r"^\s*import\s+(qbench\.[\w.]+)", re.MULTILINE)


@functools.cache
def _qbench_imports(path: Path) -> frozenset[str]:
    """The qbench modules a source file imports: for `from qbench.x import y`, both qbench.x and qbench.x.y
    (which is a module or not). Read as text, once per file and process (parsing every module on every run
    would cost a warm run a fifth of a second)."""
    text = path.read_text()
    names = {match[1] for match in _PLAIN_IMPORT.finditer(text)}
    for match in _FROM_IMPORT.finditer(text):
        imported = re.findall(r"\w+", match[2].split("#")[0] if "(" not in match[2] else match[2])
        names |= {match[1], *(f"{match[1]}.{name}" for name in imported if name != "as")}
    return frozenset(names)


def stage_files(roots: tuple[str, ...]) -> list[Path]:
    """The source files of the modules `roots` name and of every qbench module they import, transitively."""
    files: set[Path] = set()
    pending = [file for root in roots for file in _module_files(root, whole_package=True)]
    while pending:
        file = pending.pop()
        if file in files:
            continue
        files.add(file)
        for name in _qbench_imports(file):
            pending += _module_files(name, whole_package=False)
    return sorted(files)


@functools.cache
def stage_code(stage: str) -> str:
    """The digest of the qbench source a stage runs (STAGE_CODE; a stage not listed: the whole package), worked
    out once per process."""
    files = stage_files(STAGE_CODE.get(stage, ("qbench",)))
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def shaping_versions() -> dict[str, str]:
    return {package: package_version(package) for package in SHAPING_PACKAGES}


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Sealed(NamedTuple):
    """An entry's document: its payload, and the run that stored it (outside the digest: the same payload stored by
    two runs is the same entry)."""

    payload: Any
    run: str


def _sealed(payload: dict, run: str) -> str:
    return json.dumps({"format": ENTRY_FORMAT, "payload": payload, "digest": _digest(payload), "run": run})


def _unsealed(text: str) -> Sealed:
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptEntry(f"not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != ENTRY_FORMAT:
        raise CorruptEntry("not a qbench cache entry of this version")
    payload = document.get("payload")
    if document.get("digest") != _digest(payload):
        raise CorruptEntry("its contents do not match their digest")
    return Sealed(payload, str(document.get("run", "")))  # no run: stored by a qbench before runs were recorded


class Cache:
    """read=False (--no-cache) computes everything afresh and replaces the stored entries."""

    def __init__(self, directory: Path, read: bool = True, warn: Callable[[str], None] = lambda message: None) -> None:
        self.directory = directory
        self.read = read
        self.warn = warn
        self.hits = 0
        self._shaping = shaping_versions()
        self._lock = threading.Lock()
        self._digests: dict[str, str | None] = {}  # a build's listed file -> its digest, read once per run
        self._in_flight: SingleFlight = SingleFlight()
        # Marks the entries this run stores, read back even under --no-cache: on disk, not a key kept per entry in
        # memory, which a long sweep would grow by hundreds of bytes a cell.
        self._run = uuid.uuid4().hex
        self._warned: set[str] = set()

    def key(self, stage: str, **inputs: Any) -> str:
        """The one place a key is made: the stage, its declared inputs, the code it runs, the record it stores and
        what shapes every result."""
        document = {
            "format": ENTRY_FORMAT,
            "stage": stage,
            "inputs": inputs,
            "code": stage_code(stage),
            "record": shape(STAGE_RECORDS[stage]),
            "shaping": self._shaping,
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()

    def _read_unchanged(self, dependencies: tuple[tuple[str, str], ...]) -> bool:
        """Whether every file a stored build's compiler read is as it was then (each read once per run)."""
        for path, digest in dependencies:
            with self._lock:
                known = path in self._digests
                current = self._digests.get(path)
            if not known:
                try:
                    current = file_digest(in_checkout(path))
                except OSError:
                    current = None
                with self._lock:
                    self._digests[path] = current
            if current != digest:
                return False
        return True

    def once(self, key: str, compute: Callable[[], T]) -> tuple[T, bool]:
        """compute() unless the same key is being computed: concurrent callers wait for that computation and
        get its result. Returns (result, whether this caller computed it). The result is not kept once every
        waiter has it; a later caller computes again, and compute() finds what the first one stored."""
        return self._in_flight.run(key, compute)

    def _opened(self, entry: Path, document: Path) -> Sealed | None:
        """The document of an entry the cache may read: None where there is no entry, where --no-cache leaves out an
        entry stored before this run, or where the document is damaged (the entry then discarded, with a warning)."""
        if not entry.exists():
            return None
        try:
            sealed = _unsealed(_read_text(document))
        except CorruptEntry as error:
            if self.read:
                self._discard(entry, str(error))
            return None  # under --no-cache, computed again and replaced without a word, as an intact entry is
        return sealed if self.read or self.fresh(sealed) else None

    def fresh(self, sealed: Sealed) -> bool:
        """Stored earlier in this run: read even under --no-cache, and not counted as a hit."""
        return sealed.run == self._run

    def _discard(self, entry: Path, problem: str) -> None:
        with self._lock:
            first = entry.name not in self._warned
            self._warned.add(entry.name)
        if first:
            self.warn(f"warning: cache entry {shown(entry)} discarded and recomputed: {problem}")
        _remove(entry)

    # Builds ------------------------------------------------------------------------------------------------

    def fetch_build(self, key: str, planned: BuildPlan) -> Measured | None:
        """The stored build, copied into the plan's directory."""
        entry = self.directory / "builds" / key
        sealed = self._opened(entry, entry / "measured.json")
        if sealed is None:
            return None
        try:
            stored = decode(StoredBuild, sealed.payload)
            elf = entry / planned.output.name
            if not elf.is_file() or file_digest(elf) != stored.elf_sha256:
                raise CorruptEntry(f"its {planned.output.name} is missing or altered")
        except (CorruptEntry, ShapeError) as error:
            self._discard(entry, str(error))
            return None
        if not self._read_unchanged(stored.dependencies):
            return None  # a file its compiler read has changed since: built again, and this entry replaced
        planned.write_generated()
        shared_file(elf, planned.output)
        shared_file(entry / ENTRY_LOG, planned.log)
        with self._lock:
            self.hits += not self.fresh(sealed)
        # The flags as this plan runs them: equal to the stored build's but for its own image folder.
        image = Image(planned.spec, planned.output, " ".join(planned.flags), None, planned.log)
        return Measured(image, stored.sizes, stored.symbols, None)

    def store_build(self, key: str, measured: Measured, dependencies: tuple[tuple[str, str], ...] | None) -> None:
        """dependencies: the files the compiler read, with their digests (None: unknown, and nothing is kept)."""
        image = measured.image
        if measured.sizes is None or image.path is None or dependencies is None:
            return  # failures are not kept: the next run tries again
        builds = self.directory / "builds"
        builds.mkdir(parents=True, exist_ok=True)
        staging = builds / staging_name(key)
        staging.mkdir(mode=SHARED_FOLDER)
        shared_file(image.path, staging / image.path.name)
        shared_file(image.log, staging / ENTRY_LOG)
        stored = StoredBuild(file_digest(image.path), measured.sizes, measured.symbols, dependencies)
        (staging / "measured.json").write_text(_sealed(encode(stored), self._run))
        _rename_into_place(staging, builds / key)

    # Executions and other documents ------------------------------------------------------------------------------

    def fetch_document(self, key: str, read: Callable[[Any], T]) -> T | None:
        """A stored JSON payload, read; None when absent, unreadable or damaged."""
        path = self.directory / "runs" / f"{key}.json"
        sealed = self._opened(path, path)
        if sealed is None:
            return None
        try:
            result = read(sealed.payload)
        except (CorruptEntry, KeyError, TypeError, ValueError) as error:
            self._discard(path, str(error))
            return None
        with self._lock:
            self.hits += not self.fresh(sealed)
        return result

    def store_document(self, key: str, payload: dict | list) -> None:
        write_entry(self.directory / "runs" / f"{key}.json", _sealed(payload, self._run).encode())

    def fetch_record(self, key: str, kind: type[T]) -> T | None:
        """A stored record (common/codec), read back from its type hints."""
        return self.fetch_document(key, functools.partial(decode, kind))

    def store_record(self, key: str, record: Any) -> None:
        self.store_document(key, encode(record))

    def fetch_run(self, key: str) -> CellRun | None:
        return self.fetch_record(key, CellRun)

    def store_run(self, key: str, run: CellRun) -> None:
        if run.emulated.status != Status.TIMEOUT:
            self.store_record(key, run)

    def fetch_prepared(self, key: str) -> Prepared | None:
        return self.fetch_record(key, Prepared)

    def store_prepared(self, key: str, prepared: Prepared) -> None:
        if prepared.sources is not None:  # failures are not kept: the next run tries again
            self.store_record(key, prepared)

    def fetch_priced(self, key: str) -> Priced | None:
        return self.fetch_record(key, Priced)

    def store_priced(self, key: str, priced: Priced) -> None:
        self.store_record(key, priced)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise CorruptEntry(f"cannot read {path.name} ({error.strerror})") from None


def _remove(entry: Path) -> None:
    """Takes an entry away at once (a rename), then deletes it; another process may be doing the same."""
    trash = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}.discarded")
    try:
        entry.rename(trash)
    except OSError:
        return
    if trash.is_dir():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


def _rename_into_place(staging: Path, entry: Path) -> None:
    """A directory entry appears whole; one already there (--no-cache, a damaged one) is replaced."""
    _remove(entry)
    try:
        staging.rename(entry)
    except OSError:  # another process put its equal entry there first
        shutil.rmtree(staging, ignore_errors=True)
