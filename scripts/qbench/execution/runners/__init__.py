"""Emulators that run firmware images, behind one small interface.

A runner starts an image from reset on the target's machine, collects what
the firmware prints (semihosting) and its exit status, enforces a timeout by
killing the emulator's whole process group, and, given what to watch, records
the translated blocks the run executes in order (qbench.execution.trace counts
the regions from them). QEMU is the one implementation here; another emulator
(Renode, say) is another class in RUNNERS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qbench.hardware.targets import Target


class RunnerUnavailable(RuntimeError):
    """The target names no emulator qbench has, or the emulator is missing."""


@dataclass(frozen=True)
class Watch:
    """Where the image keeps what a counted run watches: its region marker, the marks it stores to, its stack."""

    marker: int  # qbench_region_begin's address
    marks: int
    marks_size: int
    stack_low: int
    stack_high: int


@dataclass(frozen=True)
class BlockTrace:
    """What a counted run recorded: the executed blocks in order, the region marks among them, and the stack."""

    events: bytes  # little-endian 32-bit words: a block's translation number, or MARK_WORD + a mark's offset
    blocks: dict[int, tuple[int, ...]]  # translation number -> its instructions' addresses, in order
    lowest_stack_pointer: int | None  # None when the run showed no stack access


MARK_WORD = 0x8000_0000


@dataclass(frozen=True)
class Execution:
    exit_status: int | None  # None when the run was killed at its timeout
    output: str  # what the firmware printed
    diagnostics: str  # the emulator's own messages (stderr)
    timed_out: bool
    blocks: BlockTrace | None = None  # a counted run's record; None when nothing was watched or it was cut short


class Runner(Protocol):
    def version(self) -> str:
        """The emulator's name and version, recorded in every row."""

    def run(self, elf: Path, target: Target, timeout: float, log: Path, watch: Watch | None = None) -> Execution:
        """Runs the image from reset; the firmware's output also goes to log. With watch, records the executed
        blocks too."""


def runner_for(target: Target) -> Runner:
    from qbench.execution.runners.qemu import QemuRunner

    if target.qemu_machine is not None:
        return QemuRunner()
    raise RunnerUnavailable(f"{target.name} names no emulator (it has no [qemu] table)")
