"""Helpers for tests that compile qnn programs for the host with g++."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
QNN_INCLUDE = REPO / "suite" / "qnn" / "include"
WORKLOADS = REPO / "suite" / "workloads"
# The library's promise: warning-free in strict C++17, without exceptions or RTTI.
STRICT_FLAGS = ("-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fno-exceptions", "-fno-rtti")


def property_settings(examples: int) -> settings:
    """Settings for the model-against-C++ property tests; QBENCH_HYPOTHESIS_EXAMPLES
    asks for a deeper search (e.g. 20000) than the default run's."""
    return settings(
        max_examples=int(os.environ.get("QBENCH_HYPOTHESIS_EXAMPLES", examples)),
        deadline=None,  # no verdict by the machine's speed: neither a deadline nor the too_slow health check
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def host_compiler() -> str:
    compiler = shutil.which("g++")
    if compiler is None:
        raise RuntimeError("g++ is not on PATH; scripts/setup installs it")
    return compiler


def compile_host(
    sources: list[Path],
    output: Path,
    *,
    flags: tuple[str, ...] = ("-O2",),
    defines: dict[str, str] | None = None,
    include_dirs: tuple[Path, ...] = (),
    object_only: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Compiles (and links, unless object_only) with the strict flags; returns the
    completed process whatever the outcome so tests can assert on diagnostics."""
    command = [host_compiler(), *STRICT_FLAGS, *flags, f"-I{QNN_INCLUDE}"]
    command += [f"-I{directory}" for directory in include_dirs]
    command += [f"-D{name}={value}" for name, value in (defines or {}).items()]
    command += ["-c"] if object_only else []
    command += [str(source) for source in sources] + ["-o", str(output)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def compile_or_fail(*args, **kwargs) -> Path:
    result = compile_host(*args, **kwargs)
    if result.returncode != 0:
        raise AssertionError(f"compilation failed:\n{' '.join(result.args)}\n{result.stderr}")
    return Path(args[1])


class Driver:
    """tests/host/qnn_driver.cpp kept running: one request line, one answer line."""

    def __init__(self, executable: Path) -> None:
        self.process = subprocess.Popen(
            [str(executable)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def ask(self, request: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if not answer or answer.startswith("error"):
            raise AssertionError(f"driver could not answer {request!r}: {answer!r}")
        return answer

    def integers(self, request: str) -> list[int]:
        return [int(word) for word in self.ask(request).split()]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)
