"""The pipeline's stage tasks: what an executor runs for one image, on a thread here or on a dask worker.

Each task is a function of its declared inputs that returns one small record holding everything the client
needs, by value: a worker may be another machine that shares nothing with the client but a checkout of the
same project (targets, libraries and workloads travel by name and are read from that checkout). A task
works in a workspace, the client's build folder when it runs here, else the worker's own scratch folder, and
never touches the client's cache: the client looks the cache up before it asks for a task and stores what
comes back.

    prepare   the host's part of an image: the workload's sources (host training) and the host's figures
    build     compile and measure: the ELF's bytes, its log, sizes and symbols (build_prepared: planned first,
              from a prepare task's output, when a cluster is handed an image's two tasks as one graph)
    execute   run the image once, counted: the firmware's report and every region occurrence
    price     the counted regions priced with a core's cycle model, and the stack the run showed
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qbench.common.entries import written_anew
from qbench.common.paths import shown
from qbench.execution.cycle_models import comparison_models, cycle_models, model_identity
from qbench.execution.decode import CodeImage, TimingError
from qbench.execution.emulate import CellRun, Emulated, run_counted
from qbench.execution.figures import RegionFigures, region_figures
from qbench.execution.mca import McaError
from qbench.execution.runners import RunnerUnavailable, runner_for
from qbench.execution.timing import CycleModel, CycleRange
from qbench.execution.trace import FunctionMap, TraceError
from qbench.hardware.targets import Target
from qbench.images.build import BuildPlan, BuildSpec, build, configure, dependencies, plan
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


def compile_image(planned: BuildPlan, workspace: Path | None) -> Compiled:
    """Builds and measures the client's plan, moved into a worker's own scratch folder when it runs there."""
    planned = planned.under(workspace or worker_workspace())
    measured = measure(build(planned))
    image, place = measured.image, shown(planned.directory)
    log = image.log.read_text(errors="replace") if image.log is not None and image.log.is_file() else None
    return Compiled(
        planned.output,
        planned.output.read_bytes() if image.ok else None,
        None if log is None else log.replace(place, IMAGE_PLACE),
        None if measured.error is None else measured.error.replace(place, IMAGE_PLACE),
        measured.sizes,
        measured.symbols,
        dependencies(planned) if image.ok else None,
    )


@dataclass(frozen=True)
class PlannedBuild:
    """An image planned and compiled where the task ran: the plan (under that workspace) and what it built."""

    plan: BuildPlan
    compiled: Compiled


def build_prepared(
    prepared: Prepared, spec: BuildSpec, workspace: Path | None, compile_planned: Callable[..., Compiled]
) -> PlannedBuild | None:
    """The image planned from a prepare task's output and compiled, in the same graph: None when there were no
    sources to build (the prepare's error says why)."""
    if prepared.sources is None:
        return None
    planned = plan(spec, workspace or worker_workspace(), prepared.sources)
    return PlannedBuild(planned, compile_planned(planned, workspace))


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
            written_anew(path, self.data)
        return path


def execute(image: ImageFile, target: Target, timeout: float, workspace: Path | None) -> CellRun:
    """Runs the image from reset to its exit, every region occurrence counted."""
    elf = image.on_disk(workspace)
    try:
        return run_counted(runner_for(target), elf, target, timeout)
    except RunnerUnavailable as error:
        return CellRun(Emulated(Status.TOOL_MISSING, str(error)))


@dataclass(frozen=True)
class Priced:
    """A run's regions priced for one core, the model that priced them, and the stack the run showed."""

    regions: dict[str, RegionFigures]
    stack_sp_depth: int | None
    cycle_model: str = ""  # what made the estimates (cycle_models.model_identity); "" when not priced
    comparison: dict[str, CycleRange] = field(default_factory=dict)  # region -> mean cycles by LLVM's model too
    note: str = ""  # why there are no estimates although the core has a model


@dataclass(frozen=True)
class Pricing:
    """A priced run, or why it could not be priced."""

    priced: Priced | None
    error: str = ""


def price(run: CellRun, image: ImageFile, core: str | None, workspace: Path | None) -> Pricing:
    """Figures per region from a counted run, cycles from core's model (none for core None or a core without
    one), and from LLVM's model beside a TRM table's."""
    if run.counted is None:
        return Pricing(None, run.count_message)
    try:
        elf = image.on_disk(workspace)
        functions = FunctionMap(elf)
        model = None if core is None else cycle_models().get(core)
        comparison = None if core is None else comparison_models().get(core)
        return Pricing(_priced(run, functions, CodeImage(elf), model, comparison))
    except (TimingError, TraceError) as error:
        return Pricing(None, f"pricing the run: {error}")


def _priced(
    run: CellRun, functions: FunctionMap, code: CodeImage, model: CycleModel | None, comparison: CycleModel | None
) -> Priced:
    lowest = run.counted.lowest_stack_pointer
    depth = None if functions.stack_top is None or lowest is None else functions.stack_top - lowest
    if model is None:
        return Priced(region_figures(run.counted, functions, None), depth)
    try:
        regions = region_figures(run.counted, functions, (model, code))
        beside = {} if comparison is None else region_figures(run.counted, functions, (comparison, code))
    except McaError as error:  # llvm-mca missing or failing: the counts stand, the estimates say why not
        return Priced(region_figures(run.counted, functions, None), depth, note=f"no cycle estimate: {error}")
    return Priced(regions, depth, model_identity(model), {name: figures.cycles for name, figures in beside.items()})


def worker_workspace() -> Path:
    """This dask worker's own scratch folder for images (removed with the worker)."""
    from distributed import get_worker

    return Path(get_worker().local_directory) / "qbench"
