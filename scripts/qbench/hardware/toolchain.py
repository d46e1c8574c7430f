"""The external tools qbench drives, found on PATH, with their versions."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

from qbench.common.errors import QbenchError

# Where each tool comes from, for the message when it is missing.
DEBIAN_PACKAGES = {
    "arm-none-eabi-g++": "gcc-arm-none-eabi",
    "arm-none-eabi-size": "binutils-arm-none-eabi",
    "arm-none-eabi-c++filt": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "g++": "g++",
    "size": "binutils",
    "c++filt": "binutils",
}


class ToolNotFound(QbenchError, RuntimeError):
    """A tool qbench needs is not on PATH."""

    def __init__(self, tool: str) -> None:
        package = DEBIAN_PACKAGES.get(tool)
        source = f" (Debian package {package})" if package else ""
        super().__init__(f"{tool} not found on PATH; scripts/setup installs it{source}")
        self.tool = tool


def require(tool: str) -> str:
    """The tool's full path, or ToolNotFound."""
    path = shutil.which(tool)
    if path is None:
        raise ToolNotFound(tool)
    return path


@cache
def version(tool: str) -> str:
    """The first line of `tool --version`, e.g. 'arm-none-eabi-g++ (15:12.2.rel1-1) 12.2.1 20221205'."""
    completed = subprocess.run([require(tool), "--version"], capture_output=True, text=True, check=False)
    lines = completed.stdout.strip().splitlines()
    return lines[0].strip() if lines else f"{tool} (version unknown)"
