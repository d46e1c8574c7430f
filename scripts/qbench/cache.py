"""A content-addressed cache of builds and emulated runs.

A build's key hashes everything its output depends on: the contents of every
input file (suite/, targets/ and qbench's own code), the compiler's version,
the flags, the sources and the generated files. A run's key hashes the exact
image bytes (and those of the traced image), the emulator's version and the
same input fingerprint. A warm re-run of an unchanged matrix therefore
rebuilds and reruns nothing; any change to a source, a flag, a tool or qbench
itself misses. Timeouts are never cached: they depend on the machine.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

from .build import BuildPlan, Image
from .elfsize import Category, ImageSizes, Section
from .emulate import CellRun, Emulated
from .measure import Measured
from .paths import REPO
from .protocol import Classification, StackUse, TrainingLogEntry, WorkloadReport
from .results import Status
from .symbols import SymbolSize
from .trace import RegionStats

# Everything a result can depend on besides tools and flags.
FINGERPRINTED = ("suite", "targets", "scripts/qbench")


def fingerprint(root: Path = REPO) -> str:
    digest = hashlib.sha256()
    for top in FINGERPRINTED:
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


class Cache:
    """read=False (--no-cache) still stores fresh results for the next run."""

    def __init__(self, directory: Path, inputs: str, read: bool = True) -> None:
        self.directory = directory
        self.inputs = inputs
        self.read = read
        self.hits = 0

    # Builds ------------------------------------------------------------------------------------------------

    def build_key(self, planned: BuildPlan, compiler_version: str) -> str:
        return _key("build", self.inputs, compiler_version, planned.identity())

    def fetch_build(self, key: str, planned: BuildPlan) -> Measured | None:
        entry = self.directory / "builds" / key
        if not self.read or not (entry / "measured.json").exists():
            return None
        planned.directory.mkdir(parents=True, exist_ok=True)
        for name, text in planned.generated:
            (planned.directory / name).write_text(text)
        shutil.copyfile(entry / planned.output.name, planned.output)
        shutil.copyfile(entry / "build.log", planned.directory / "build.log")
        stored = json.loads((entry / "measured.json").read_text())
        sizes = ImageSizes(tuple(
            Section(**{**section, "category": Category(section["category"]) if section["category"] else None})
            for section in stored["sections"]
        ))  # fmt: skip
        symbols = tuple(
            SymbolSize(s["name"], s["group"], Category(s["category"]), s["size"]) for s in stored["symbols"]
        )
        image = Image(planned.spec, planned.output, stored["flags"], None, planned.directory / "build.log")
        self.hits += 1
        return Measured(image, sizes, symbols, None)

    def store_build(self, key: str, measured: Measured) -> None:
        image = measured.image
        if measured.sizes is None or image.path is None:
            return  # failures are not kept: the next run tries again
        entry = self.directory / "builds" / key
        staging = entry.with_name(key + ".partial")
        staging.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image.path, staging / image.path.name)
        shutil.copyfile(image.log, staging / "build.log")
        document = {
            "flags": image.flags,
            "sections": [asdict(section) for section in measured.sizes.sections],
            "symbols": [asdict(symbol) for symbol in measured.symbols],
        }
        (staging / "measured.json").write_text(json.dumps(document))
        if entry.exists():
            shutil.rmtree(staging)
        else:
            staging.rename(entry)  # whole or absent, even if the run is interrupted

    # Runs --------------------------------------------------------------------------------------------------

    def run_key(self, kind: str, emulator: str, machine: str, *images: Path) -> str:
        return _key("run", kind, self.inputs, emulator, machine, *(image.read_bytes() for image in images))

    def _fetch(self, key: str) -> dict | None:
        path = self.directory / "runs" / f"{key}.json"
        if not self.read or not path.exists():
            return None
        self.hits += 1
        return json.loads(path.read_text())

    def _store(self, key: str, document: dict) -> None:
        path = self.directory / "runs" / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(document))
        partial.replace(path)

    def fetch_run(self, key: str) -> CellRun | None:
        document = self._fetch(key)
        return None if document is None else decode_cell_run(document)

    def store_run(self, key: str, run: CellRun) -> None:
        if run.emulated.status != Status.TIMEOUT:
            self._store(key, encode_cell_run(run))

    def fetch_baseline(self, key: str) -> tuple[StackUse | None, str] | None:
        document = self._fetch(key)
        if document is None:
            return None
        stack = document["stack"]
        return (StackUse(**stack) if stack else None), document["message"]

    def store_baseline(self, key: str, result: tuple[StackUse | None, str]) -> None:
        stack, message = result
        if stack is not None:
            self._store(key, {"stack": asdict(stack), "message": message})


def encode_cell_run(run: CellRun) -> dict:
    emulated = run.emulated
    return {
        "status": str(emulated.status),
        "message": emulated.message,
        "report": asdict(emulated.report) if emulated.report is not None else None,
        "regions": {name: asdict(stats) for name, stats in emulated.regions.items()} if emulated.regions else None,
        "trace_elf": str(run.trace_elf) if run.trace_elf else None,
        "trace_message": run.trace_message,
    }


def _classification(document: dict | None) -> Classification | None:
    if document is None:
        return None
    return Classification(document["correct"], document["total"], tuple(document["predictions"]))


def decode_cell_run(document: dict) -> CellRun:
    report = document["report"]
    if report is not None:
        report = WorkloadReport(**{
            **report,
            "outputs": tuple(report["outputs"]),
            "log": tuple(TrainingLogEntry(e["iteration"], e["error"], tuple(e["weights"])) for e in report["log"]),
            "stack": StackUse(**report["stack"]) if report["stack"] else None,
            "classification": _classification(report.get("classification")),
        })  # fmt: skip
    regions = document["regions"]
    if regions is not None:
        regions = {name: RegionStats(**stats) for name, stats in regions.items()}
    emulated = Emulated(Status(document["status"]), document["message"], report, regions)
    trace_elf = Path(document["trace_elf"]) if document["trace_elf"] else None
    return CellRun(emulated, trace_elf, document["trace_message"])
