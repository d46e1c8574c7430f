"""The pipeline's stage tasks: what an executor runs for one image, on a thread here or on a dask worker.

Each task is a function of its declared inputs that returns one small record holding everything the client
needs, by value: a worker may be another machine that shares nothing with the client but a checkout of the
same project (targets, libraries and workloads travel by name and are read from that checkout). A task
works in a workspace, the client's build folder when it runs here, else the worker's own scratch folder, and
never touches the client's cache: the client looks the cache up before it asks for a task and stores what
comes back.

    prepare   the host's part of an image: the workload's sources (host training) and the host's figures
    build     compile and measure: the ELF's bytes, its log, sizes and symbols
    execute   run the image and trace it: the firmware's report and the traced regions
    price     the traced regions priced with a core's timing table, and the stack the trace saw
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qbench.common.paths import shown
from qbench.execution.emulate import CellRun, Emulated, run_workload, trace_regions
from qbench.execution.runners import RunnerUnavailable, runner_for
from qbench.execution.timing import CodeImage, TimingError, TimingModel, load_timing_models
from qbench.execution.trace import FunctionMap, RegionFigures, TraceError, region_figures
from qbench.hardware.targets import Target
from qbench.images.build import BuildSpec, build, configure, dependencies, plan
from qbench.images.matrix import Variant
from qbench.images.workloads import HostFigures, WorkloadSources
from qbench.records.results import Status
from qbench.sizes.elfsize import ImageSizes
from qbench.sizes.measure import measure
from qbench.sizes.symbols import SymbolSize

IMAGE_PLACE = "<image>"  # an image's own folder in a message or log in transit: each side has its own


@dataclass(frozen=True)
class Prepared:
    """An image's sources and, for a cell's image, what the host knows of it; or why they could not be made."""

    sources: WorkloadSources | None
    host: HostFigures | None
    error: str | None = None


def prepare(spec: BuildSpec) -> Prepared:
    try:
        sources = configure(spec)
        if spec.is_baseline:
            return Prepared(sources, None)
        trainable = spec.variant == Variant.TRAINABLE
        return Prepared(sources, spec.workload.host_figures(spec.fmt, trainable, spec.settings, spec.shape))
    except ValueError as error:  # the workload could not prepare its sources (host training, a data set...)
        return Prepared(None, None, f"preparing the sources: {error}")


@dataclass(frozen=True)
class Compiled:
    """One image compiled and measured where the task ran. Paths of the image's own folder read IMAGE_PLACE."""

    output: Path  # where the task built it
    elf: bytes | None  # None when it did not build
    log: str | None  # the build log, when the compiler ran
    error: str | None  # why it did not build, or could not be measured
    sizes: ImageSizes | None
    symbols: tuple[SymbolSize, ...]
    # The files the compiler read, with their SHA-256 (images.build.dependencies); None when it left no list.
    dependencies: tuple[tuple[str, str], ...] | None = None


def compile_image(spec: BuildSpec, sources: WorkloadSources, workspace: Path | None) -> Compiled:
    planned = plan(spec, workspace or worker_workspace(), sources)
    measured = measure(build(planned))
    image, place = measured.image, shown(planned.directory)
    log = image.log.read_text(errors="replace") if image.log is not None and image.log.is_file() else None
    return Compiled(
        planned.output, planned.output.read_bytes() if image.ok else None,
        None if log is None else log.replace(place, IMAGE_PLACE),
        None if measured.error is None else measured.error.replace(place, IMAGE_PLACE),
        measured.sizes, measured.symbols, dependencies(planned) if image.ok else None,
    )  # fmt: skip


@dataclass(frozen=True)
class ImageFile:
    """A built image by value, with its place below the build folder (where a task here finds it as it is)."""

    place: str
    data: bytes

    def on_disk(self, workspace: Path | None) -> Path:
        """The image as a file in the workspace: the client's own file when the task runs here."""
        path = (workspace or worker_workspace()) / self.place
        if not (path.is_file() and path.stat().st_size == len(self.data) and path.read_bytes() == self.data):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.data)
        return path


def execute(image: ImageFile, target: Target, cut: dict[str, int], timeout: float, workspace: Path | None) -> CellRun:
    """Runs the image from reset and traces it until cut."""
    elf = image.on_disk(workspace)
    try:
        runner = runner_for(target)
        emulated = run_workload(runner, elf, target, timeout)
        if emulated.status != Status.OK:
            return CellRun(emulated, None, "")
        traced, message = trace_regions(runner, elf, target, timeout, cut)
        return CellRun(emulated, traced, message)
    except RunnerUnavailable as error:
        return CellRun(Emulated(Status.TOOL_MISSING, str(error)))


@dataclass(frozen=True)
class Priced:
    """A run's regions priced for one core, and the stack its trace saw."""

    regions: dict[str, RegionFigures]
    stack_sp_depth: int | None


@dataclass(frozen=True)
class Pricing:
    """A priced run, or why it could not be priced."""

    priced: Priced | None
    error: str = ""


def price(run: CellRun, image: ImageFile, core: str | None, workspace: Path | None) -> Pricing:
    """Figures per region from a traced run, cycles from core's timing table (none for core None or a core
    without one)."""
    if run.traced is None:
        return Pricing(None, run.trace_message)
    try:
        elf = image.on_disk(workspace)
        timing = None if core is None else timing_models().get(core)
        return Pricing(_priced(run, elf, timing))
    except (TimingError, TraceError) as error:
        return Pricing(None, f"pricing the trace: {error}")


def _priced(run: CellRun, elf: Path, timing: TimingModel | None) -> Priced:
    functions = FunctionMap(elf)
    pricing = None if timing is None else (timing, CodeImage(elf))
    depth = None if functions.stack_top is None else functions.stack_top - run.traced.lowest_stack_pointer
    return Priced(region_figures(run.traced, functions, pricing), depth)


@cache
def timing_models() -> dict[str, TimingModel]:
    """The cores' timing tables, read once per process."""
    return load_timing_models()


def worker_workspace() -> Path:
    """This dask worker's own scratch folder for images (removed with the worker)."""
    from distributed import get_worker

    return Path(get_worker().local_directory) / "qbench"
