"""Emulators that run firmware images, behind one small interface.

A runner starts an image from reset on the target's machine, collects what
the firmware prints (semihosting) and its exit status, enforces a timeout by
killing the emulator's whole process group, and can record the executed
program counters for instruction counting. QEMU is the one implementation
here; another emulator (Renode, say) is another class in RUNNERS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..targets import Target


class RunnerUnavailable(RuntimeError):
    """The target names no emulator qbench has, or the emulator is missing."""


@dataclass(frozen=True)
class Execution:
    exit_status: int | None  # None when the run was killed at its timeout
    output: str  # what the firmware printed
    diagnostics: str  # the emulator's own messages (stderr)
    timed_out: bool


@dataclass(frozen=True)
class Trace:
    """What a tracing run recorded, in execution order."""

    execution: Execution
    program_counters: list[int]  # every executed instruction
    region_ids: list[int]  # r0 at each entry of qbench_region_begin


class Runner(Protocol):
    def version(self) -> str:
        """The emulator's name and version, recorded in every row."""

    def run(self, elf: Path, target: Target, timeout: float, log: Path) -> Execution:
        """Runs the image from reset; the firmware's output also goes to log."""

    def trace(self, elf: Path, target: Target, timeout: float, begin_marker: int, work: Path) -> Trace:
        """Runs the image recording every executed program counter, and r0 at begin_marker."""


def runner_for(target: Target) -> Runner:
    from .qemu import QemuRunner

    if target.qemu_machine is not None:
        return QemuRunner()
    raise RunnerUnavailable(f"{target.name} names no emulator (it has no [qemu] table)")
