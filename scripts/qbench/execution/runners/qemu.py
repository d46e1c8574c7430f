"""QEMU (qemu-system-arm) as a runner: semihosting for output and exit status, and for tracing `-d cpu`
with one instruction per translation block, which logs the registers before every executed instruction
(the program counter, the stack pointer and r0 are what qbench reads)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from qbench.common import processes
from qbench.execution.runners import Execution, Observer
from qbench.hardware.targets import Target
from qbench.hardware.toolchain import require, version

EMULATOR = "qemu-system-arm"
# One register dump per instruction: r0 on its first line, sp (R13) and pc (R15) on its fourth.
_DUMP = re.compile(
    rb"^R00=([0-9a-f]{8})[^\n]*\n[^\n]*\n[^\n]*\nR12=[0-9a-f]{8} R13=([0-9a-f]{8}) R14=[0-9a-f]{8} R15=([0-9a-f]{8})",
    re.MULTILINE,
)
_VERSION = re.compile(r"version (\d+)\.(\d+)")


def one_instruction_per_block(version_line: str) -> list[str]:
    """QEMU 8.1 removed -singlestep; `-accel tcg,one-insn-per-tb=on` replaces it."""
    found = _VERSION.search(version_line)
    if found is None:
        raise RuntimeError(f"cannot read QEMU's version from {version_line!r}")
    major, minor = int(found[1]), int(found[2])
    return ["-accel", "tcg,one-insn-per-tb=on"] if (major, minor) >= (8, 1) else ["-singlestep"]


class RegisterDumps:
    """Turns `-d cpu` output, in chunks as it arrives, into observer calls; True once the observer stops."""

    def __init__(self, observe: Observer) -> None:
        self.observe = observe
        self.pending = b""
        self.instructions = 0

    def __call__(self, chunk: bytes) -> bool:
        text = self.pending + chunk
        consumed = 0
        for dump in _DUMP.finditer(text):
            consumed = dump.end()
            self.instructions += 1
            if self.observe(int(dump[3], 16), int(dump[2], 16), int(dump[1], 16)):
                return True
        self.pending = text[consumed:]
        return False


class QemuRunner:
    def version(self) -> str:
        return version(EMULATOR)

    def _command(self, elf: Path, target: Target) -> list[str]:
        return [
            require(EMULATOR), "-M", target.qemu_machine, "-nographic", "-monitor", "none", "-serial", "none",
            # Semihosting output on stdout, QEMU's own messages on stderr.
            "-chardev", "stdio,id=semihosting", "-semihosting-config", "enable=on,target=native,chardev=semihosting",
            "-kernel", str(elf),
        ]  # fmt: skip

    def run(self, elf: Path, target: Target, timeout: float, log: Path) -> Execution:
        completed = processes.run(self._command(elf, target), timeout=timeout)
        execution = Execution(completed.returncode, completed.stdout, completed.stderr, completed.timed_out)
        emulator = f"\n--- {EMULATOR} ---\n{execution.diagnostics}" if execution.diagnostics else ""
        log.write_text(execution.output + emulator)
        return execution

    def trace(self, elf: Path, target: Target, timeout: float, observe: Observer) -> Execution:
        dumps = RegisterDumps(observe)
        with tempfile.TemporaryDirectory(prefix="qbench-trace-") as work:
            command = [*self._command(elf, target), *one_instruction_per_block(self.version()), "-d", "cpu,nochain"]
            log = Path(work) / "cpu.fifo"
            completed = processes.stream([*command, "-D", str(log)], log, dumps, timeout=timeout)
        return Execution(completed.returncode, completed.stdout, completed.stderr, completed.timed_out,
                         completed.ended_early)  # fmt: skip
