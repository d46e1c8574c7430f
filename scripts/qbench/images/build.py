"""Compiling one image: a workload variant (or the empty baseline) for a target.

The compiler runs from the repository root with paths relative to it, so the
recorded command is exactly what ran and is the same on every checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template

from qbench.common import processes
from qbench.common.entries import written_anew
from qbench.common.paths import REPO, shown
from qbench.hardware.targets import LINKER_PLACEHOLDERS, Target
from qbench.hardware.toolchain import require
from qbench.images.libraries import QNN, Library
from qbench.images.matrix import Cell, Variant
from qbench.images.workloads import COMMON, EMPTY_BASELINE, Workload, WorkloadSettings, WorkloadSources, weights_include
from qbench.models.network import NetworkShape, in_weight_order
from qbench.models.qformat import NumberFormat
from qbench.records.keys import slug

# What names a failed build's cause, most telling first: a compiler's diagnostic ("file:line:col: error:"),
# the linker's cause (an undefined or doubly defined symbol, a region overflowed, a section that does not
# fit, a library not found, the linker script's own assertion), then any line saying error. collect2's
# "ld returned 1 exit status" says only that the linker failed, never why.
_CAUSES = tuple(
    re.compile(pattern)
    for pattern in (
        r":\d+(:\d+)?:\s*(fatal )?error:",
        r"undefined reference to|multiple definition of|overflowed by|will not fit in region|cannot find|ld: qbench:",
        r"(?i)\berror\b",
    )
)
_SUMMARY = re.compile(r"collect2: error: ld returned")


@dataclass(frozen=True)
class BuildSpec:
    """One image to build. A baseline has no format and no variant."""

    target: Target
    workload: Workload
    fmt: NumberFormat | None
    variant: Variant | None
    opt: str
    settings: WorkloadSettings = WorkloadSettings()
    library: Library = QNN
    shape: NetworkShape | None = None

    @classmethod
    def for_cell(cls, cell: Cell, settings: WorkloadSettings) -> BuildSpec:
        return cls(cell.target, cell.workload, cell.fmt, cell.variant, cell.opt, settings, cell.library, cell.shape)

    @classmethod
    def baseline(cls, target: Target, opt: str) -> BuildSpec:
        return cls(target, EMPTY_BASELINE, None, None, opt)

    @property
    def is_baseline(self) -> bool:
        return self.fmt is None

    def directory(self, root: Path) -> Path:
        place = root / self.workload.name / self.target.name / self.opt
        if self.fmt is None:
            return place / "baseline"
        if self.shape is not None:
            place /= slug(self.shape.name)
        library = "" if self.library == QNN else f"{self.library.name}-"
        return place / f"{library}{self.fmt.name}-{self.variant}"

    @property
    def label(self) -> str:
        what = "baseline" if self.fmt is None else f"{self.workload.name} {self.fmt.name} {self.variant}"
        library = "" if self.library == QNN else f" [{self.library.name}]"
        return f"{self.target.name} {what} -{self.opt}{library}"

    @property
    def output_name(self) -> str:
        return "workload.o" if self.target.object_only else "firmware.elf"


@dataclass(frozen=True)
class Image:
    """A built image, or the reason it was not built."""

    spec: BuildSpec
    path: Path | None
    flags: str  # compiler and linker flags as run, without file names
    error: str | None = None
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def linker_script(target: Target) -> str:
    """The target's linker script with its memory map filled in (targets.LINKER_PLACEHOLDERS, checked when
    the target is loaded): addresses in hexadecimal."""
    assert target.linker_script is not None and target.memory is not None
    values = {name: getattr(target.memory, name) for name in LINKER_PLACEHOLDERS}
    return Template(target.linker_script.read_text()).substitute(
        {name: f"{value:#010x}" if name.endswith("origin") else f"{value:#x}" for name, value in values.items()}
    )


# Where docs/libraries.md describes each member of QbenchAdapter.
_MEMBER_SECTIONS = {
    **dict.fromkeys(("FixedPoint", "FloatingPoint", "fromRaw", "toRaw"), "value-types"),
    "Network": "the-network",
    "NetworkWithWeights": "narrow-weights",
    **dict.fromkeys(("feedForward", "getLearnedValues", "train"), "operations"),
    **dict.fromkeys(("loadWeights", "weight", "setLayer", "getLayer"), "weights"),
}
# GCC quotes names with ‘’ (or '' in the C locale); the linker with `'.
_QUOTED = r"[‘'`]([^’']+)[’']"
_NO_MEMBER = re.compile(rf"{_QUOTED} has no member named {_QUOTED}")
_NOT_A_MEMBER = re.compile(rf"{_QUOTED} is not a member of {_QUOTED}")
_CONTRACT = re.compile(r"(qbench library contract: .*)")
_UNDEFINED = re.compile(rf"undefined reference to {_QUOTED}")


def _member_line(owner: str, member: str) -> str:
    """What an adapter's author reads when a member is missing: whose, which, and where the contract says."""
    owner = owner.removeprefix("struct ").removeprefix("class ")
    section = _MEMBER_SECTIONS.get(member, "operations") if owner == "QbenchAdapter" else "operations"
    return f"{owner} has no member '{member}' (docs/libraries.md#{section})"


def _headline(cause: str) -> str | None:
    """One line naming the missing member or symbol and the docs' section, for a cause that has one."""
    if contract := _CONTRACT.search(cause):
        return contract.group(1)
    if missing := _NO_MEMBER.search(cause):
        return _member_line(missing.group(1), missing.group(2))
    if missing := _NOT_A_MEMBER.search(cause):
        return _member_line(missing.group(2), missing.group(1))
    if undefined := _UNDEFINED.search(cause):
        return (
            f"undefined symbol {undefined.group(1)}: a library's own .c/.cpp files are compiled only when its "
            f"qbench-library.toml lists them in sources (docs/libraries.md#sources)"
        )
    return None


def first_error(output: str) -> str:
    """The first line that names the cause of a failed compile or link (paths shortened), else the first line;
    after one line naming the missing member or symbol and the docs' section where it has one."""
    lines = [line.strip() for line in output.splitlines() if line.strip() and not _SUMMARY.search(line)]
    chosen = next((line for cause in _CAUSES for line in lines if cause.search(line)), lines[0] if lines else None)
    if chosen is None:
        return "no output"
    cause = chosen.replace(f"{REPO}/", "")
    headline = _headline(cause)
    return cause if headline is None or headline == cause else f"{headline}\n{cause}"


@dataclass(frozen=True)
class BuildPlan:
    """Everything one compilation depends on, written out before it runs."""

    spec: BuildSpec
    root: Path  # the build folder it was planned under, resolved
    directory: Path
    output: Path
    flags: tuple[str, ...]  # as run, without file names
    files: tuple[str, ...]  # sources, as run
    generated: tuple[tuple[str, str], ...]  # (file name, text) written into directory, the linker script included
    archive: LibraryArchive | None = None  # the library's own sources, compiled with the image's flags

    def under(self, root: Path) -> BuildPlan:
        """The same compilation under another build folder (a dask worker's own, or back into the client's): the
        plan is made once, by the client or by the task that compiles it, and only its places move."""
        root = root.resolve()
        old, new = shown(self.root), shown(root)

        def moved(path: Path) -> Path:
            return root / path.relative_to(self.root)

        def moved_text(text: str) -> str:
            switch, path = (text[:2], text[2:]) if text[:2] in ("-I", "-T") else ("", text)
            return switch + new + path[len(old) :] if path.startswith(old + "/") else text

        archive = None if self.archive is None else replace(self.archive, directory=moved(self.archive.directory))
        flags, files = tuple(map(moved_text, self.flags)), tuple(map(moved_text, self.files))
        directory, output = moved(self.directory), moved(self.output)
        return BuildPlan(self.spec, root, directory, output, flags, files, self.generated, archive)

    @property
    def log(self) -> Path:
        """Where the compiler's command and output are kept."""
        return self.directory / "build.log"

    def write_generated(self) -> None:
        """The image's folder with its generated files, each a new file (another name of the old one may be a cache
        entry's: qbench.common.entries)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, text in self.generated:
            written_anew(self.directory / name, text)

    @property
    def dependency_file(self) -> Path:
        """Where the compiler writes the list of the files it read (Make's syntax)."""
        return self.directory / "dependencies.d"

    def identity(self) -> str:
        """What decides the output besides the files the compiler reads (the build's cache entry lists and checks
        those, dependencies()): flags, source names and generated files (the linker script among them), the
        image's own directory left out. A library's files count here only when its sources are compiled into an
        archive (the archive's own compile keeps no list); a header-only library's are among the files read."""
        place = shown(self.directory)
        archive = shown(self.archive.directory) if self.archive is not None else None
        files = [file.replace(archive, "<archive>") if archive else file for file in self.files]
        return json.dumps(
            {
                "flags": [flag.replace(place, "<image>") for flag in self.flags],
                "files": files,
                "generated": self.generated,
                "output": self.output.name,
                # The library's name too: its code's symbol group is named after it.
                "library": [self.spec.library.name, self.spec.library.fingerprint if self.archive else None],
            },
            sort_keys=True,
        )


def make_prerequisites(text: str) -> list[str]:
    """The prerequisites of every rule in a Make dependency file (GCC's -MMD output), in order, each once."""
    found: dict[str, None] = {}
    for rule in text.replace("\\\n", " ").splitlines():
        _, colon, prerequisites = rule.partition(": ")
        if not colon:
            continue
        for word in re.split(r"(?<!\\)\s+", prerequisites.strip()):
            if word:
                found[word.replace("\\ ", " ").replace("$$", "$")] = None
    return list(found)


def dependencies(planned: BuildPlan) -> tuple[tuple[str, str], ...] | None:
    """The files the compiler read for a built plan, each with its SHA-256, as (path as shown(), digest), its
    own generated files (part of the plan) left out; None when the compiler left no list."""
    try:
        text = planned.dependency_file.read_text()
    except OSError:
        return None
    directory = planned.directory.resolve()
    read: dict[str, str] = {}
    for name in make_prerequisites(text):
        path = Path(name) if Path(name).is_absolute() else REPO / name
        path = path.resolve()
        if path.is_relative_to(directory):
            continue
        try:
            read[shown(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None  # gone since: nothing to check a stored build against
    return tuple(sorted(read.items()))


@dataclass(frozen=True)
class LibraryArchive:
    """A library's sources compiled with one image's compile flags, archived once for every image that shares
    them (the folder is named by their digest)."""

    library: Library
    directory: Path
    compiler: str
    flags: tuple[str, ...]

    @property
    def path(self) -> Path:
        return self.directory / f"lib{self.library.name}.a"


def library_archive(spec: BuildSpec, compile_flags: list[str], root: Path) -> LibraryArchive | None:
    """The archive of the library's sources for this image; None when it has none, or for object-only targets
    (their figures are the workload's own translation unit)."""
    if not spec.library.sources or spec.target.object_only:
        return None
    digest = hashlib.sha256(json.dumps([spec.target.compiler, compile_flags, spec.library.fingerprint]).encode())
    directory = root / "libraries" / spec.library.name / spec.target.name / digest.hexdigest()[:16]
    return LibraryArchive(spec.library, directory, spec.target.compiler, tuple(compile_flags))


def configure(spec: BuildSpec) -> WorkloadSources:
    """The workload's sources for the image: the host's part of a build (host training for a classification
    workload), ValueError when it cannot prepare them."""
    return spec.workload.configure(spec.fmt, spec.variant == Variant.TRAINABLE, spec.settings, spec.shape)


def plan(spec: BuildSpec, root: Path, sources: WorkloadSources) -> BuildPlan:
    """The compilation of spec's sources under root, made once: by the client, or by the task that compiles it when
    a cluster is handed an image's prepare and build together (BuildPlan.under moves it)."""
    target, root = spec.target, root.resolve()
    directory = spec.directory(root)
    generated = dict(sources.generated)
    if sources.weights is not None and spec.shape is not None:
        order = spec.library.weight_order
        ordered = in_weight_order(sources.weights, spec.shape.layer_sizes, order)
        generated["weights.inc"] = weights_include(ordered, order)
    library_defines = spec.library.compile_defines(spec.fmt) if spec.fmt is not None else {}
    defines = [*target.defines, *sorted((sources.defines | library_defines).items())]
    # The start-up code's own headers, then the generated files of this image.
    startup_dirs = sorted({path.parent for path in target.startup})
    includes = [*spec.library.include_dirs, COMMON, *startup_dirs]

    def compile_flags(chosen: list[tuple[str, str]], include: list[Path]) -> list[str]:
        # -g: DWARF for attributing bytes to source files (qbench.sizes.dwarf); it changes no loaded byte.
        defined = (f"-D{name}={value}" for name, value in chosen)
        return [*target.cflags, f"-{spec.opt}", "-g", *defined, *(f"-I{shown(path)}" for path in include)]

    # The library's sources: the target's flags and the library's own defines, not the workload's, so every
    # image of one core, level and format shares their archive.
    library_flags = compile_flags([*target.defines, *sorted(library_defines.items())], includes)
    archive = None if spec.is_baseline else library_archive(spec, library_flags, root)
    flags, files = compile_flags(defines, [*includes, directory]), [shown(sources.source)]
    if target.object_only:
        flags.append("-c")
    else:
        generated["link.ld"] = linker_script(target)
        flags += [*target.ldflags, f"-T{shown(directory / 'link.ld')}"]
        files += [shown(path) for path in target.startup]
        files += [shown(archive.path)] if archive is not None else []
    output, written = directory / spec.output_name, tuple(sorted(generated.items()))
    return BuildPlan(spec, root, directory, output, tuple(flags), tuple(files), written, archive)


_ARCHIVING = threading.Lock()  # images sharing an archive are built on threads: one builds it, the others wait


def build_archive(archive: LibraryArchive) -> str | None:
    """Compiles the library's sources and archives them, unless an earlier image did; the cause if it failed."""
    with _ARCHIVING:
        if archive.path.is_file():
            return None
        archive.directory.mkdir(parents=True, exist_ok=True)
        objects = []
        for index, source in enumerate(archive.library.sources):
            target = archive.directory / f"{index}-{source.stem}.o"
            command = [require(archive.compiler), *archive.flags, "-c", shown(source), "-o", shown(target)]
            completed = processes.run(command, cwd=REPO)
            if completed.returncode != 0:
                cause = first_error(completed.stderr + completed.stdout)
                return f"{archive.library.name}'s source {shown(source)} did not compile: {cause}"
            objects.append(shown(target))
        temporary = archive.path.with_suffix(f".{os.getpid()}.tmp")
        completed = processes.run([require(archiver(archive.compiler)), "rcsD", shown(temporary), *objects], cwd=REPO)
        if completed.returncode != 0:
            return f"{archive.library.name}: ar failed: {first_error(completed.stderr + completed.stdout)}"
        temporary.replace(archive.path)
        return None


def archiver(compiler: str) -> str:
    """The binutils ar beside a GCC driver: arm-none-eabi-g++ -> arm-none-eabi-ar, g++ -> ar."""
    return re.sub(r"g\+\+$|gcc$", "ar", compiler)


def build(planned: BuildPlan) -> Image:
    """Compiles (and for a firmware target links) one image."""
    planned.directory.mkdir(parents=True, exist_ok=True)
    if planned.archive is not None:
        problem = build_archive(planned.archive)
        if problem is not None:
            return Image(planned.spec, None, " ".join(planned.flags), problem)
    planned.write_generated()
    planned.output.unlink(missing_ok=True)  # the compiler must not write through it: it may be a cache entry's too
    compiler = planned.spec.target.compiler
    command = [require(compiler), *planned.flags, *planned.files, "-o", shown(planned.output)]
    # The compiler's own list of the files it read (GCC's -MMD, appended for every translation unit of the
    # command, where -MF would keep the last one's alone): the build's cache entry is checked against it.
    planned.dependency_file.unlink(missing_ok=True)
    completed = processes.run(command, cwd=REPO, env={"DEPENDENCIES_OUTPUT": str(planned.dependency_file)})
    log = planned.log
    written_anew(log, " ".join([compiler, *command[1:]]) + "\n" + completed.stdout + completed.stderr)
    flag_line = " ".join(planned.flags)
    if completed.returncode != 0:
        cause = first_error(completed.stderr + completed.stdout)
        return Image(planned.spec, None, flag_line, f"{cause} (full output: {shown(log)})", log)
    return Image(planned.spec, planned.output, flag_line, None, log)
