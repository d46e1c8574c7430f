"""Work that several threads ask for at once, done once: the first caller of a key computes, the others wait
for its result (or its error)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self, keep: bool = False) -> None:
        """keep: a key's result (or error) stays for every later caller; else the key is forgotten once computed,
        and a later caller computes again."""
        self._keep = keep
        self._lock = threading.Lock()
        self._futures: dict[Hashable, Future] = {}

    def run(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, bool]:
        """compute()'s result for key, and whether this caller computed it."""
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if owner:
                future = self._futures[key] = Future()
        if not owner:
            return future.result(), False
        try:
            result = compute()
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            if not self._keep:
                with self._lock:
                    del self._futures[key]
        future.set_result(result)
        return result, True

    def finished(self) -> dict[Hashable, T]:
        """Every kept key whose computation ended without an error, with its result."""
        with self._lock:
            futures = dict(self._futures)
        return {key: future.result() for key, future in futures.items() if future.done() and not future.exception()}
