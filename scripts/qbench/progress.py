"""Progress of a long run: a live status line on a terminal, plain log lines
elsewhere (CI, pipes). Failures are always printed as lines of their own."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Protocol, TextIO


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
    """One line per finished item: for logs and CI."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()
        self.counts: dict[str, list[int]] = {}

    def begin(self, stage: str, total: int) -> None:
        with self.lock:
            self.counts[stage] = [0, total]

    def done(self, stage: str, label: str, detail: str = "", failed: bool = False) -> None:
        with self.lock:
            count = self.counts.setdefault(stage, [0, 0])
            count[0] += 1
            outcome = "FAILED " if failed else ""
            print(f"[{stage} {count[0]}/{count[1]}] {outcome}{label}{': ' + detail if detail else ''}",
                  file=self.stream, flush=True)  # fmt: skip

    def note(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def finish(self) -> None:
        pass


class TerminalProgress:
    """A status line redrawn in place: what is building and running, how many are done
    and failed, and the time elapsed; failures scroll above it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.counts: dict[str, list[int]] = {}
        self.failed = 0
        self.latest = ""
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def _status(self) -> str:
        elapsed = int(time.monotonic() - self.start)
        stages = " · ".join(f"{stage} {done}/{total}" for stage, (done, total) in self.counts.items())
        failed = f" · {self.failed} failed" if self.failed else ""
        return f"{stages}{failed} · {elapsed // 60}:{elapsed % 60:02d} · {self.latest}"

    def _draw(self) -> None:
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except OSError:
            width = 0
        width = width if width >= 40 else 120  # a pseudo-terminal may report no size
        self.stream.write("\r\x1b[K" + self._status()[: width - 1])
        self.stream.flush()

    def _tick(self) -> None:
        while not self.stopped.wait(0.5):
            with self.lock:
                self._draw()

    def begin(self, stage: str, total: int) -> None:
        with self.lock:
            self.counts[stage] = [0, total]
            self._draw()

    def done(self, stage: str, label: str, detail: str = "", failed: bool = False) -> None:
        with self.lock:
            self.counts.setdefault(stage, [0, 0])[0] += 1
            self.latest = f"{stage} done: {label}"
            if failed:
                self.failed += 1
                self.stream.write(f"\r\x1b[KFAILED {label}: {detail}\n")
            self._draw()

    def note(self, text: str) -> None:
        with self.lock:
            self.stream.write(f"\r\x1b[K{text}\n")
            self._draw()

    def finish(self) -> None:
        self.stopped.set()
        self.ticker.join()
        with self.lock:
            self.stream.write("\r\x1b[K" + self._status().rsplit(" · ", 1)[0] + "\n")
            self.stream.flush()


def for_stream(stream: TextIO | None = None) -> Progress:
    """A live status line on an interactive terminal, log lines otherwise (and always under CI)."""
    stream = stream or sys.stderr
    if stream.isatty() and not os.environ.get("CI"):
        return TerminalProgress(stream)
    return LogProgress(stream)
