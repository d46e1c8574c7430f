"""Progress of a long run: a live display on a terminal (rich), plain log lines
elsewhere (CI, pipes). Failures are always printed as lines of their own."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Protocol, TextIO

CELLS = "cells"  # the stage whose items are the matrix's cells: its progress shows the failures and the rate


class Progress(Protocol):
    def begin(self, stage: str, total: int) -> None:
        """A stage ("build", "run") with this many items starts."""

    def done(self, stage: str, label: str, detail: str = "", failed: bool = False) -> None:
        """One item of a stage finished."""

    def note(self, text: str) -> None:
        """A message that must be seen (an error about the request or a tool)."""

    def finish(self) -> None:
        """The run is over."""


class LogProgress:
    """One line per finished item: for logs and CI. A cell's line adds the cells failed so far and the rate."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.counts: dict[str, list[int]] = {}  # stage -> [done, total, failed]

    def begin(self, stage: str, total: int) -> None:
        with self.lock:
            self.counts[stage] = [0, total, 0]

    def done(self, stage: str, label: str, detail: str = "", failed: bool = False) -> None:
        with self.lock:
            count = self.counts.setdefault(stage, [0, 0, 0])
            count[0] += 1
            count[2] += failed
            outcome = "FAILED " if failed else ""
            rate = f", {count[2]} failed, {count[0] / max(time.monotonic() - self.start, 1e-9):.2f}/s"
            print(
                f"[{stage} {count[0]}/{count[1]}{rate if stage == CELLS else ''}] {outcome}{label}"
                f"{': ' + detail if detail else ''}",
                file=self.stream,
                flush=True,
            )

    def note(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def finish(self) -> None:
        pass


class TerminalProgress:
    """A live display drawn by rich: per stage (build, run, cells) a bar with done/total and the time elapsed,
    and for the cells how many failed and the rate; failures and notes scroll above it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Display

        self.console = Console(file=stream or sys.stderr, force_terminal=True, highlight=False)
        self.display = Display(
            TextColumn("{task.description:>6}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.stages: dict[str, list] = {}  # stage -> [display task, done, failed]
        self.display.start()

    def begin(self, stage: str, total: int) -> None:
        with self.lock:
            self.stages[stage] = [self.display.add_task(stage, total=total, failed="", rate=""), 0, 0]

    def done(self, stage: str, label: str, detail: str = "", failed: bool = False) -> None:
        with self.lock:
            entry = self.stages.get(stage)
            if entry is None:
                entry = self.stages[stage] = [self.display.add_task(stage, total=None, failed="", rate=""), 0, 0]
            entry[1] += 1
            entry[2] += failed
            rate = f"{entry[1] / max(time.monotonic() - self.start, 1e-9):.2f}/s" if stage == CELLS else ""
            self.display.update(
                entry[0], completed=entry[1], failed=f"{entry[2]} failed" if entry[2] else "", rate=rate
            )
            if failed:
                self.console.print(f"FAILED {label}: {detail}", markup=False)

    def note(self, text: str) -> None:
        with self.lock:
            self.console.print(text, markup=False)

    def finish(self) -> None:
        with self.lock:
            self.display.stop()


def for_stream(stream: TextIO | None = None) -> Progress:
    """A live status line on an interactive terminal, log lines otherwise (and always under CI)."""
    stream = stream or sys.stderr
    if stream.isatty() and not os.environ.get("CI"):
        return TerminalProgress(stream)
    return LogProgress(stream)
