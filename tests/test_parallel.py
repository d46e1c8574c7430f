"""qbench.orchestration.pipeline.parallel: every item finished once or handed back, whenever an interrupt lands."""

from __future__ import annotations

import threading

import pytest

from qbench.orchestration.pipeline import parallel


def test_every_item_is_finished_in_order_of_completion_on_this_thread():
    seen = []
    left = parallel(
        range(10), lambda item: item * item, 3, lambda item, result: seen.append((item, result)), lambda: None
    )
    assert left == [] and sorted(seen) == [(item, item * item) for item in range(10)]


def test_an_interrupt_inside_finished_finishes_the_item_again_and_hands_back_what_never_ran():
    """The interrupt lands while the first result is being finished: that item is finished again after the pool
    has stopped, the item in flight is finished, and the one never started is handed back."""
    started, release = threading.Event(), threading.Event()
    finished, stops = [], []

    def work(item: int) -> int:
        if item == 0:
            started.wait()  # item 1 is running before item 0 ends
        if item == 1:
            started.set()
            release.wait()  # in flight when the interrupt comes
        return item

    def finish(item: int, result: int) -> None:
        finished.append(item)
        if len(finished) == 1:
            release.set()
            raise KeyboardInterrupt

    left = parallel([0, 1, 2], work, 2, finish, lambda: stops.append(True))
    assert stops == [True]
    assert sorted(finished) == [0, 0, 1] and left == [2]


def test_a_failing_item_stops_the_rest_and_raises():
    stops = []

    def work(item: int) -> int:
        if item == 2:
            raise ValueError("broken")
        return item

    with pytest.raises(ValueError, match="broken"):
        parallel(range(5), work, 1, lambda item, result: None, lambda: stops.append(True))
    assert stops == [True]
