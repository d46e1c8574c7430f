"""Emulators that run firmware images, behind one small interface.

A runner starts an image from reset on the target's machine, collects what
the firmware prints (semihosting) and its exit status, enforces a timeout by
killing the emulator's whole process group, and can report every executed
instruction (program counter, stack pointer, r0) to an observer, which may
stop the run once it has seen enough. QEMU is the one implementation
here; another emulator (Renode, say) is another class in RUNNERS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qbench.hardware.targets import Target


class RunnerUnavailable(RuntimeError):
    """The target names no emulator qbench has, or the emulator is missing."""


@dataclass(frozen=True)
class Execution:
    exit_status: int | None  # None when the run was killed at its timeout
    output: str  # what the firmware printed
    diagnostics: str  # the emulator's own messages (stderr)
    timed_out: bool
    stopped_early: bool = False  # a traced run whose observer had seen enough


# Called before every executed instruction with (pc, sp, r0); returns True to stop the run there.
Observer = Callable[[int, int, int], bool]


class Runner(Protocol):
    def version(self) -> str:
        """The emulator's name and version, recorded in every row."""

    def run(self, elf: Path, target: Target, timeout: float, log: Path) -> Execution:
        """Runs the image from reset; the firmware's output also goes to log."""

    def trace(self, elf: Path, target: Target, timeout: float, observe: Observer) -> Execution:
        """Runs the image from reset, calling observe before every instruction, until it exits or observe
        says stop."""


def runner_for(target: Target) -> Runner:
    from qbench.execution.runners.qemu import QemuRunner

    if target.qemu_machine is not None:
        return QemuRunner()
    raise RunnerUnavailable(f"{target.name} names no emulator (it has no [qemu] table)")
