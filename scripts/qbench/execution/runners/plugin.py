"""qbench's QEMU plugin (block_trace.c beside this file): built with the host's C compiler into the build folder's
tools, once per version of its source, by scripts/setup or by the first run that needs it."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

from qbench.common import processes
from qbench.common.paths import BUILD
from qbench.execution.runners import RunnerUnavailable
from qbench.hardware.toolchain import ToolNotFound, require

SOURCE = Path(__file__).with_name("block_trace.c")
HOST_COMPILER = "cc"


@cache
def source_digest() -> str:
    """The plugin source's digest: names the built library, and keys every run it counted."""
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def plugin_library(tools: Path = BUILD / "tools") -> Path:
    """The built plugin, compiled first when this version of the source has not been; RunnerUnavailable when it
    cannot be."""
    library = tools / f"qbench-block-trace-{source_digest()[:16]}.so"
    if library.is_file():
        return library
    try:
        compiler = require(HOST_COMPILER)
    except ToolNotFound as error:
        raise RunnerUnavailable(f"building qbench's QEMU plugin needs a C compiler: {error}") from None
    tools.mkdir(parents=True, exist_ok=True)
    staging = tools / f".{library.name}.{os.getpid()}"  # parallel builders each write their own, then rename
    built = processes.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(staging), str(SOURCE)])
    if built.returncode != 0:
        staging.unlink(missing_ok=True)
        raise RunnerUnavailable(f"building qbench's QEMU plugin ({SOURCE.name}) failed: {built.stderr.strip()}")
    staging.replace(library)
    return library


if __name__ == "__main__":  # scripts/setup
    print(f"setup: qbench's QEMU plugin is {plugin_library()}")
