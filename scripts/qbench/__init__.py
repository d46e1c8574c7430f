"""qbench: benchmarks tiny fixed-point neural networks on Arm Cortex-M."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qbench")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"
