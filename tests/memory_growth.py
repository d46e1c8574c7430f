"""How much Python memory an action keeps each time it runs (tracemalloc), for the tests that hold a long sweep's
per-cell state to a bound."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable


def bytes_kept_per_call(action: Callable[[int], object], warm_up: int, measured: int) -> float:
    """The bytes of Python allocations still held after action(i) ran `measured` times, per run, once it has run
    `warm_up` times: the first runs fill Python's free lists, which a full collection would empty and refill while
    measured, so the collector is off throughout."""
    gc.disable()
    tracemalloc.start()
    try:
        for index in range(warm_up):
            action(index)
        before = tracemalloc.get_traced_memory()[0]
        for index in range(warm_up, warm_up + measured):
            action(index)
        return (tracemalloc.get_traced_memory()[0] - before) / measured
    finally:
        tracemalloc.stop()
        gc.enable()
