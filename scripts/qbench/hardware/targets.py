"""Targets (cores/boards) and parts, read from the declarative files in targets/.

targets/cores/<name>.toml describes one core: compiler flags, QEMU machine,
memory map, clock, start-up files and linker script. A core may name a family
(targets/families/<family>.toml) whose settings it extends: lists append,
tables merge, other keys replace. targets/parts.toml lists real parts with
their core, flash, RAM and clock, and what sets the speed of code run from
flash at that clock: its flash wait states and whether a prefetch buffer or an
instruction cache hides them; a user's own parts files (--parts-file) add
parts or replace built-in ones. Adding a core or a part is a data change.
Every file is checked against the schemas below; a problem names the file
that holds the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PositiveInt, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from qbench.common.errors import QbenchError
from qbench.common.fields import field_names
from qbench.common.nearest import nearest_hint
from qbench.common.paths import TARGETS, in_checkout, shown
from qbench.common.schemas import Loc, Schema, read_toml, validate


class TargetError(QbenchError, ValueError):
    """A target or parts file that is missing, malformed or names something unknown."""


@dataclass(frozen=True)
class MemoryMap:
    flash_origin: int
    flash_length: int
    ram_origin: int
    ram_length: int
    stack_size: int


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    board: str
    compiler: str
    size_tool: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    defines: tuple[tuple[str, str], ...]
    startup: tuple[Path, ...]
    linker_script: Path | None
    memory: MemoryMap | None
    qemu_machine: str | None
    emulated_cpu: str | None  # the CPU the QEMU machine models, which may differ from the core (m0plus on an M0)
    clock_hz: int | None
    max_format_bits: int
    object_only: bool
    source: Path

    @property
    def emulated(self) -> bool:
        return self.qemu_machine is not None

    @property
    def uses_fpu(self) -> bool:
        """Builds with floating-point registers, so an exception may stack the FP context too."""
        return any(flag in ("-mfloat-abi=hard", "-mfloat-abi=softfp") for flag in self.cflags)

    def __reduce__(self) -> tuple:
        """A target travels to a worker by name: the worker reads the same core file from its own checkout."""
        return _target_from, (shown(self.source), shown(self.source.parent.parent))

    @property
    def exception_frame_bytes(self) -> int:
        """What one exception stacks below the deepest stack pointer: r0-r3, r12, lr, pc, xPSR (32 B),
        and with an FP context S0-S15, FPSCR and a reserved word as well (104 B)."""
        return 104 if self.uses_fpu else 32


@dataclass(frozen=True)
class Part:
    name: str
    vendor: str
    core: str
    flash_bytes: int
    ram_bytes: int
    clock_hz: int
    note: str = ""
    flash_wait_states: int = 0  # at clock_hz: extra cycles each flash read waits
    prefetch: bool = False  # a prefetch buffer reads the next flash line while the core executes
    instruction_cache: bool = False  # an instruction cache or accelerator keeps fetched lines, branch targets too
    accelerator: str = ""  # what the part calls its fetch accelerator (e.g. ST's ART), for the reader
    source: str = ""  # the documents the figures come from
    defined_in: str = ""  # the parts file that gave this entry

    @property
    def fetch_hidden(self) -> bool:
        """Whether a prefetch buffer or a cache can hide the wait states of a fetch (at best, all of them)."""
        return self.prefetch or self.instruction_cache

    def cycle_range(
        self, minimum: float, maximum: float, nonsequential: float | None, instructions: float | None
    ) -> tuple[float, float]:
        """A core's estimated cycle range (zero wait states) on this part, flash wait states counted
        (targets/timing/README.md, "Flash wait states"). With a prefetch buffer or cache, the fastest case has
        every fetch hidden (the minimum unchanged) and the slowest pays the wait states on every non-sequential
        fetch (a taken branch, a call, a return). Without either, every non-sequential fetch pays even at best,
        and at worst every instruction's fetch pays. A count missing (not traced) is taken as none."""
        waits = self.flash_wait_states
        jumps, fetches = nonsequential or 0.0, instructions or 0.0
        if self.fetch_hidden:
            return minimum, maximum + waits * jumps
        return minimum + waits * jumps, maximum + waits * max(fetches, jumps)


# The placeholders qbench.build.linker_script fills in: the memory map's fields.
LINKER_PLACEHOLDERS = field_names(MemoryMap)


def _existing_file(name: str, info: ValidationInfo) -> str:
    """A file a target names, relative to the targets directory."""
    directory = info.context["directory"]
    if not (directory / name).is_file():
        raise PydanticCustomError(
            "no_such_file",
            "a file under {directory} ({path} does not exist)",
            {"directory": shown(directory), "path": shown(directory / name)},
        )
    return name


TargetFile = Annotated[str, AfterValidator(_existing_file)]
Address = Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]


class MemorySchema(Schema):
    flash_origin: Address
    flash_length: PositiveInt
    ram_origin: Address
    ram_length: PositiveInt
    stack_size: PositiveInt

    @field_validator("stack_size")
    @classmethod
    def _within_ram(cls, stack_size: int, info: ValidationInfo) -> int:
        ram_length = info.data.get("ram_length")
        if ram_length is not None and stack_size > ram_length:
            raise PydanticCustomError(
                "stack_beyond_ram",
                "at most {core}'s memory.ram_length, {ram_length}",
                {"core": info.context["stem"], "ram_length": ram_length},
            )
        return stack_size


class QemuSchema(Schema):
    machine: str
    cpu: str  # the CPU the machine models


class TargetSchema(Schema):
    """A core file merged with its family's. An object-only target (host) needs no memory map."""

    name: str
    description: str
    family: str | None = None
    board: str
    compiler: str
    size_tool: str
    object_only: bool = False
    cflags: list[str] = []
    ldflags: list[str] = []
    startup: list[TargetFile] = []
    linker_script: TargetFile | None = None
    max_format_bits: int = Field(ge=2, le=64)
    clock_hz: PositiveInt | None = None
    defines: dict[str, str] = {}
    qemu: QemuSchema | None = None
    memory: MemorySchema | None = None

    @field_validator("name")
    @classmethod
    def _names_its_file(cls, name: str, info: ValidationInfo) -> str:
        if name != info.context["stem"]:
            raise PydanticCustomError(
                "name_not_file", "{stem} (it must match the file name)", {"stem": repr(info.context["stem"])}
            )
        return name

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str, info: ValidationInfo) -> str:
        if family not in info.context["families"]:
            raise PydanticCustomError(
                "unknown_family",
                "a file in {directory}: {known}",
                {
                    "directory": shown(info.context["directory"] / "families"),
                    "known": ", ".join(info.context["families"]) or "none",
                },
            )
        return family

    @field_validator("linker_script")
    @classmethod
    def _fills_in(cls, name: str, info: ValidationInfo) -> str:
        path = info.context["directory"] / name
        problem = _template_problem(path.read_text())
        if problem is not None:
            raise PydanticCustomError(
                "linker_placeholder",
                "a template using only {allowed} ($$ for a literal $); {path} {problem}",
                {"allowed": ", ".join(f"${n}" for n in LINKER_PLACEHOLDERS), "path": shown(path), "problem": problem},
            )
        return name


class FirmwareTargetSchema(TargetSchema):
    """A target whose images link and run: start-up files, a linker script, a clock and a memory map."""

    startup: list[TargetFile]
    linker_script: TargetFile
    clock_hz: PositiveInt
    memory: MemorySchema


class PartSchema(Schema):
    vendor: str = ""
    core: str
    flash_kib: PositiveInt
    ram_kib: PositiveInt
    clock_mhz: PositiveInt
    note: str = ""
    flash_wait_states: int = Field(default=0, ge=0, le=64)  # at clock_mhz
    prefetch: bool = False
    instruction_cache: bool = False
    accelerator: str = ""
    source: str = ""

    @field_validator("core")
    @classmethod
    def _known_core(cls, core: str, info: ValidationInfo) -> str:
        if core not in info.context["cores"]:
            raise PydanticCustomError(
                "unknown_core", "a known core ({known})", {"known": ", ".join(sorted(info.context["cores"]))}
            )
        return core


def _template_problem(text: str) -> str | None:
    """Where the linker script template uses a placeholder qbench does not fill in (substitute would fail)."""
    for match in Template.pattern.finditer(text):
        name = match["named"] or match["braced"]
        if match["escaped"] is None and name not in LINKER_PLACEHOLDERS:
            line = text.count("\n", 0, match.start()) + 1
            return f"line {line} has {match.group() if name else 'a $ with no name after it'}"
    return None


def _merge(base: dict[str, Any], extension: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extension.items():
        if isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = [*merged[key], *value]
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _supplier(loc: Loc, core: dict[str, Any], family: dict[str, Any]) -> str:
    """Which file gave the value at loc ("core" or "family"): the core's value replaces the family's,
    and a merged list holds the family's items first."""
    core_value, family_value = core, family
    for step in loc:
        if isinstance(step, int):
            return "family" if isinstance(family_value, list) and step < len(family_value) else "core"
        core_value = core_value.get(step) if isinstance(core_value, dict) else None
        family_value = family_value.get(step) if isinstance(family_value, dict) else None
    return "family" if core_value is None and family_value is not None else "core"


def load_target(path: Path, directory: Path = TARGETS) -> Target:
    core = read_toml(path, TargetError)
    families = sorted(family.stem for family in (directory / "families").glob("*.toml"))
    family_path = directory / "families" / f"{core.get('family')}.toml"
    family = read_toml(family_path, TargetError) if core.get("family") in families else {}
    settings = _merge(family, core)
    files = {"core": shown(path), "family": shown(family_path)}
    context = {"directory": directory, "stem": path.stem, "families": families}
    schema = TargetSchema if settings.get("object_only") is True else FirmwareTargetSchema
    checked = validate(schema, settings, TargetError, lambda loc: files[_supplier(loc, core, family)], context)
    return Target(
        name=checked.name,
        description=checked.description,
        board=checked.board,
        compiler=checked.compiler,
        size_tool=checked.size_tool,
        cflags=tuple(checked.cflags),
        ldflags=tuple(checked.ldflags),
        defines=tuple(sorted(checked.defines.items())),
        startup=tuple(directory / item for item in checked.startup),
        linker_script=directory / checked.linker_script if checked.linker_script is not None else None,
        memory=MemoryMap(**checked.memory.model_dump()) if checked.memory and not checked.object_only else None,
        qemu_machine=checked.qemu.machine if checked.qemu else None,
        emulated_cpu=checked.qemu.cpu if checked.qemu else None,
        clock_hz=checked.clock_hz,
        max_format_bits=checked.max_format_bits,
        object_only=checked.object_only,
        source=path,
    )


@cache
def _target_from(path: str, directory: str) -> Target:
    """A core file as a worker reads it (Target.__reduce__), once per worker process."""
    return load_target(in_checkout(path), in_checkout(directory))


def load_targets(directory: Path = TARGETS) -> dict[str, Target]:
    paths = sorted((directory / "cores").glob("*.toml"))
    if not paths:
        raise TargetError(f"{shown(directory / 'cores')}: no target files")
    targets, problems = {}, []
    for path in paths:  # every file checked, so one run names every problem
        try:
            targets[path.stem] = load_target(path, directory)
        except TargetError as error:
            problems.append(str(error))
    if problems:
        # A family's problem shows once, not once per core that names the family.
        raise TargetError("\n".join(dict.fromkeys(line for problem in problems for line in problem.splitlines())))
    return targets


def _parts_in(path: Path, targets: dict[str, Target]) -> dict[str, Part]:
    document = read_toml(path, TargetError)
    checked = validate(dict[str, PartSchema], document, TargetError, lambda loc: shown(path), {"cores": targets})
    return {
        name: Part(
            name=name,
            vendor=part.vendor,
            core=part.core,
            flash_bytes=part.flash_kib * 1024,
            ram_bytes=part.ram_kib * 1024,
            clock_hz=part.clock_mhz * 1_000_000,
            note=part.note,
            flash_wait_states=part.flash_wait_states,
            prefetch=part.prefetch,
            instruction_cache=part.instruction_cache,
            accelerator=part.accelerator,
            source=part.source,
            defined_in=shown(path),
        )
        for name, part in checked.items()
    }


def load_parts(
    targets: dict[str, Target], path: Path = TARGETS / "parts.toml", files: Sequence[Path] = ()
) -> dict[str, Part]:
    """The parts of `path` (the built-in list), then those of each parts file in `files` (--parts-file) in order:
    a part a file names again replaces the earlier entry whole; the others are added. Every file is checked with
    the same schema; a problem names the file and the key."""
    parts = _parts_in(path, targets)
    for extra in files:
        parts.update(_parts_in(extra, targets))
    return parts


def select(names: list[str], available: dict[str, Any], kind: str) -> list[Any]:
    """The named entries, in the order given; an unknown name is an error listing the known ones."""
    unknown = [name for name in names if name not in available]
    if unknown:
        hint = nearest_hint(unknown[0], available) if len(unknown) == 1 else ""
        raise TargetError(
            f"unknown {kind} {', '.join(map(repr, unknown))} (known: {', '.join(sorted(available))}){hint}"
        )
    return [available[name] for name in names]
