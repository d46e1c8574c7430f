"""Running a built image in the emulator and reading back what it reports.

A run's verdict comes from the emulator's exit status, the firmware's report
and the start-up code's records: a timeout, a HardFault (with its registers),
a core lockup, a non-zero exit, a malformed report or a stack that reached
its limit each give a status and a message that names what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qbench.execution.protocol import ProtocolError, WorkloadReport, fault_description, parse_report
from qbench.execution.runners import Execution, Runner
from qbench.execution.trace import CountedRun, FunctionMap, TraceError, count_regions
from qbench.hardware.targets import Target
from qbench.records.results import Status

# Exit codes of targets/startup (startup.h).
START_UP_EXITS = {70: "HardFault", 71: "unexpected exception (NMI, SVCall, PendSV or SysTick)"}
# QEMU aborts (SIGABRT) when the core locks up, e.g. a fault inside the fault handler.
LOCKUP_STATUSES = {134, -6}


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def verdict(execution: Execution, timeout: float) -> tuple[Status, str]:
    """What an emulator run amounts to, before its report is read."""
    if execution.timed_out:
        said = _last_line(execution.output)
        return Status.TIMEOUT, f"no exit within {timeout:g} s; the emulator was killed" + (
            f" (last output: {said!r})" if said else " (no output)"
        )
    fault = fault_description(execution.output)
    if fault is not None:
        return Status.FAULT, fault
    if execution.exit_status in LOCKUP_STATUSES or "lockup" in execution.diagnostics.lower():
        return Status.FAULT, f"the core locked up and the emulator aborted: {_last_line(execution.diagnostics)}"
    if execution.exit_status != 0:
        meaning = START_UP_EXITS.get(execution.exit_status, "")
        said = _last_line(execution.diagnostics) or _last_line(execution.output)
        return Status.RUN_FAILED, (
            f"exit status {execution.exit_status}"
            + (f" ({meaning})" if meaning else "")
            + (f": {said}" if said else "")
        )
    return Status.OK, ""


@dataclass(frozen=True)
class Emulated:
    status: Status
    message: str
    report: WorkloadReport | None = None


@dataclass(frozen=True)
class CellRun:
    """What running one cell's image found, and every region occurrence the same run counted."""

    emulated: Emulated
    counted: CountedRun | None = None
    count_message: str = ""  # why there is no count


def _read_report(execution: Execution, timeout: float) -> Emulated:
    status, message = verdict(execution, timeout)
    if status != Status.OK:
        return Emulated(status, message)
    try:
        report = parse_report(execution.output)
    except ProtocolError as error:
        return Emulated(Status.PROTOCOL_ERROR, f"malformed report: {error}")
    if report.status != 0:
        return Emulated(Status.RUN_FAILED, f"the workload reported status {report.status}", report)
    if report.stack is not None and report.stack.overflow:
        return Emulated(
            Status.STACK_OVERFLOW,
            f"the stack went {report.stack.peak_bytes} bytes deep, past the bottom of its "
            f"{report.stack.size_bytes}-byte region",
            report,
        )
    return Emulated(Status.OK, "", report)


def run_counted(runner: Runner, elf: Path, target: Target, timeout: float) -> CellRun:
    """One run of elf from reset to its exit: the firmware's report, and every region occurrence counted."""
    functions = FunctionMap(elf)
    try:
        watch = functions.watch()
    except TraceError as error:
        watch, unwatched = None, f"instruction count: {error}"
    execution = runner.run(elf, target, timeout, elf.with_name("run.log"), watch)
    emulated = _read_report(execution, timeout)
    if emulated.status != Status.OK:
        return CellRun(emulated)
    if watch is None:
        return CellRun(emulated, None, unwatched)
    if execution.blocks is None:
        return CellRun(emulated, None, "instruction count: the emulator's plugin recorded nothing")
    try:
        return CellRun(emulated, count_regions(execution.blocks, functions))
    except TraceError as error:
        return CellRun(emulated, None, f"instruction count: {error}")
