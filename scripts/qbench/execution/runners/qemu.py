"""QEMU (qemu-system-arm) as a runner: semihosting for output and exit status, and for a counted run qbench's
TCG plugin (qbench.execution.runners.plugin), which records the executed blocks at close to emulation speed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from qbench.common import processes
from qbench.execution.runners import BlockTrace, Execution, Watch
from qbench.execution.runners.plugin import plugin_library
from qbench.hardware.targets import Target
from qbench.hardware.toolchain import require, version

EMULATOR = "qemu-system-arm"


def read_block_table(text: str) -> tuple[dict[int, tuple[int, ...]], int | None]:
    """The plugin's table: translation number -> instruction addresses, and the lowest stack pointer seen."""
    blocks: dict[int, tuple[int, ...]] = {}
    lowest = None
    for line in text.splitlines():
        number, *addresses = line.split()
        if number == "stack":
            lowest = int(addresses[0], 16)
        else:
            blocks[int(number)] = tuple(int(address, 16) for address in addresses)
    return blocks, lowest


def plugin_arguments(library: Path, out: Path, watch: Watch) -> list[str]:
    values = {
        "out": out,
        "marker": hex(watch.marker),
        "marks": hex(watch.marks),
        "marks_size": watch.marks_size,
        "stack_low": hex(watch.stack_low),
        "stack_high": hex(watch.stack_high),
    }
    return ["-plugin", ",".join([str(library), *(f"{name}={value}" for name, value in values.items())])]


class QemuRunner:
    def version(self) -> str:
        return version(EMULATOR)

    def _command(self, elf: Path, target: Target) -> list[str]:
        return [
            require(EMULATOR),
            "-M",
            target.qemu_machine,
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "none",
            # Semihosting output on stdout, QEMU's own messages on stderr.
            "-chardev",
            "stdio,id=semihosting",
            "-semihosting-config",
            "enable=on,target=native,chardev=semihosting",
            "-kernel",
            str(elf),
        ]

    def run(self, elf: Path, target: Target, timeout: float, log: Path, watch: Watch | None = None) -> Execution:
        with tempfile.TemporaryDirectory(prefix="qbench-run-") as work:
            events = Path(work) / "blocks.bin"
            command = self._command(elf, target)
            if watch is not None:
                command += plugin_arguments(plugin_library(), events, watch)
            completed = processes.run(command, timeout=timeout)
            blocks = None
            if watch is not None and not completed.timed_out and events.with_suffix(".bin.blocks").is_file():
                table, lowest = read_block_table(events.with_suffix(".bin.blocks").read_text())
                blocks = BlockTrace(events.read_bytes(), table, lowest)
        execution = Execution(completed.returncode, completed.stdout, completed.stderr, completed.timed_out, blocks)
        emulator = f"\n--- {EMULATOR} ---\n{execution.diagnostics}" if execution.diagnostics else ""
        log.write_text(execution.output + emulator)
        return execution
