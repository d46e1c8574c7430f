"""Targets (cores/boards) and parts, read from the declarative files in targets/.

targets/cores/<name>.toml describes one core: compiler flags, QEMU machine,
memory map, clock, start-up files and linker script. A core may name a family
(targets/families/<family>.toml) whose settings it extends: lists append,
tables merge, other keys replace. targets/parts.toml lists real parts with
their core, flash, RAM and clock. Adding a core or a part is a data change.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import TARGETS, shown


class TargetError(ValueError):
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


# Every key a target file may hold, with its type; tables list their own keys.
_TARGET_KEYS: dict[str, Any] = {
    "name": str,
    "description": str,
    "family": str,
    "board": str,
    "compiler": str,
    "size_tool": str,
    "object_only": bool,
    "cflags": list,
    "ldflags": list,
    "startup": list,
    "linker_script": str,
    "max_format_bits": int,
    "clock_hz": int,
    "defines": dict,
    "qemu": {"machine": str, "cpu": str},
    "memory": {"flash_origin": int, "flash_length": int, "ram_origin": int, "ram_length": int, "stack_size": int},
}
_PART_KEYS = {"vendor": str, "core": str, "flash_kib": int, "ram_kib": int, "clock_mhz": int, "note": str}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise TargetError(f"{shown(path)}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise TargetError(f"{shown(path)}: not valid TOML: {error}") from None


def _check_keys(path: Path, table: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> None:
    for key, value in table.items():
        where = f"{shown(path)}: '{prefix}{key}'"
        if key not in schema:
            raise TargetError(f"{where} is not a known key (known: {', '.join(sorted(schema))})")
        expected = schema[key]
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise TargetError(f"{where} must be a table")
            _check_keys(path, value, expected, f"{prefix}{key}.")
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise TargetError(f"{where} must be {expected.__name__}, not {type(value).__name__} ({value!r})")
        elif expected is list and not all(isinstance(item, str) for item in value):
            raise TargetError(f"{where} must be a list of strings")
        elif expected is dict and not all(isinstance(item, str) for item in value.values()):
            raise TargetError(f"{where} must map names to strings")


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


def _require(path: Path, settings: dict[str, Any], *keys: str) -> None:
    for key in keys:
        table, _, leaf = key.rpartition(".")
        holder = settings.get(table, {}) if table else settings
        if leaf not in holder:
            raise TargetError(f"{shown(path)}: '{key}' is required")


def load_target(path: Path, directory: Path = TARGETS) -> Target:
    settings = _read_toml(path)
    _check_keys(path, settings, _TARGET_KEYS)
    if "family" in settings:
        family_path = directory / "families" / f"{settings['family']}.toml"
        if not family_path.exists():
            raise TargetError(f"{shown(path)}: 'family' names {settings['family']!r}, which has no {family_path.name}")
        family = _read_toml(family_path)
        _check_keys(family_path, family, _TARGET_KEYS)
        settings = _merge(family, settings)
    _require(path, settings, "name", "description", "board", "compiler", "size_tool", "max_format_bits")
    if settings["name"] != path.stem:
        raise TargetError(f"{shown(path)}: 'name' is {settings['name']!r}; it must match the file name")
    object_only = settings.get("object_only", False)
    if not object_only:
        memory_keys = (f"memory.{key}" for key in _TARGET_KEYS["memory"])
        _require(path, settings, "linker_script", "startup", "clock_hz", *memory_keys)
    if "qemu" in settings:
        _require(path, settings, "qemu.machine", "qemu.cpu")
    memory = settings.get("memory")
    return Target(
        name=settings["name"],
        description=settings["description"],
        board=settings["board"],
        compiler=settings["compiler"],
        size_tool=settings["size_tool"],
        cflags=tuple(settings.get("cflags", ())),
        ldflags=tuple(settings.get("ldflags", ())),
        defines=tuple(sorted(settings.get("defines", {}).items())),
        startup=tuple(directory / item for item in settings.get("startup", ())),
        linker_script=directory / settings["linker_script"] if "linker_script" in settings else None,
        memory=MemoryMap(**memory) if memory and not object_only else None,
        qemu_machine=settings.get("qemu", {}).get("machine"),
        emulated_cpu=settings.get("qemu", {}).get("cpu"),
        clock_hz=settings.get("clock_hz"),
        max_format_bits=settings["max_format_bits"],
        object_only=object_only,
        source=path,
    )


def load_targets(directory: Path = TARGETS) -> dict[str, Target]:
    paths = sorted((directory / "cores").glob("*.toml"))
    if not paths:
        raise TargetError(f"{shown(directory / 'cores')}: no target files")
    return {target.name: target for target in (load_target(path, directory) for path in paths)}


def load_parts(targets: dict[str, Target], path: Path = TARGETS / "parts.toml") -> dict[str, Part]:
    parts = {}
    for name, settings in _read_toml(path).items():
        if not isinstance(settings, dict):
            raise TargetError(f"{shown(path)}: '{name}' must be a table of part settings")
        _check_keys(path, settings, _PART_KEYS, f"{name}.")
        for key in ("core", "flash_kib", "ram_kib", "clock_mhz"):
            if key not in settings:
                raise TargetError(f"{shown(path)}: '{name}.{key}' is required")
        if settings["core"] not in targets:
            raise TargetError(
                f"{shown(path)}: '{name}.core' is {settings['core']!r}, not a known core "
                f"(known: {', '.join(sorted(targets))})"
            )
        parts[name] = Part(
            name=name,
            vendor=settings.get("vendor", ""),
            core=settings["core"],
            flash_bytes=settings["flash_kib"] * 1024,
            ram_bytes=settings["ram_kib"] * 1024,
            clock_hz=settings["clock_mhz"] * 1_000_000,
            note=settings.get("note", ""),
        )
    return parts


def select(names: list[str], available: dict[str, Any], kind: str) -> list[Any]:
    """The named entries, in the order given; an unknown name is an error listing the known ones."""
    unknown = [name for name in names if name not in available]
    if unknown:
        raise TargetError(f"unknown {kind} {', '.join(map(repr, unknown))} (known: {', '.join(sorted(available))})")
    return [available[name] for name in names]
