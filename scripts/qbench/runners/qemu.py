"""QEMU (qemu-system-arm) as a runner: semihosting for output and exit status,
`-d exec` with one instruction per translation block for the executed program
counters, and `-d cpu` filtered to the begin marker for the region numbers."""

from __future__ import annotations

import re
from pathlib import Path

from .. import processes
from ..targets import Target
from ..toolchain import require, version
from . import Execution, Trace

EMULATOR = "qemu-system-arm"
# `Trace 0: 0x7f… [00800400/00000174/00000510/ff000201] symbol`: the second field is the guest PC.
_EXEC_LINE = re.compile(rb"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
_R0_LINE = re.compile(rb"^R00=([0-9a-f]{8})")


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

    def _execute(self, command: list[str], timeout: float) -> Execution:
        completed = processes.run(command, timeout=timeout)
        return Execution(completed.returncode, completed.stdout, completed.stderr, completed.timed_out)

    def run(self, elf: Path, target: Target, timeout: float, log: Path) -> Execution:
        execution = self._execute(self._command(elf, target), timeout)
        emulator = f"\n--- {EMULATOR} ---\n{execution.diagnostics}" if execution.diagnostics else ""
        log.write_text(execution.output + emulator)
        return execution

    def trace(self, elf: Path, target: Target, timeout: float, begin_marker: int, work: Path) -> Trace:
        one_at_a_time = ["-singlestep", "-d"]
        exec_log, cpu_log = work / "exec.trace", work / "cpu.trace"
        execution = self._execute(
            [*self._command(elf, target), *one_at_a_time, "exec,nochain", "-D", str(exec_log)], timeout
        )
        counters = []
        if exec_log.exists():  # absent when QEMU could not start
            with exec_log.open("rb") as lines:
                for line in lines:
                    match = _EXEC_LINE.match(line)
                    if match:
                        counters.append(int(match[1], 16))
            exec_log.unlink()
        # The same deterministic run again, logging registers only on entry to the begin marker.
        self._execute(
            [*self._command(elf, target), *one_at_a_time, "cpu,nochain", "-dfilter", f"{begin_marker:#x}+2",
             "-D", str(cpu_log)],
            timeout,
        )  # fmt: skip
        regions = []
        if cpu_log.exists():
            with cpu_log.open("rb") as lines:
                regions = [int(match[1], 16) for line in lines if (match := _R0_LINE.match(line))]
            cpu_log.unlink()
        return Trace(execution, counters, regions)
