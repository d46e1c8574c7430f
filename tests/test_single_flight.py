"""SingleFlight: the one mechanism behind the cache's `once` (work asked for at once, done once) and the run's
baselines (done once, kept for the run). Concurrent callers: tests/test_identity.py, through the cache."""

from __future__ import annotations

import pytest

from qbench.common.single_flight import SingleFlight


def _counted(result):
    calls = []

    def compute():
        calls.append(1)
        return result

    return compute, calls


def test_without_keep_a_later_caller_computes_again():
    flight, (compute, calls) = SingleFlight(), _counted("x")
    assert flight.run("k", compute) == ("x", True)
    assert flight.run("k", compute) == ("x", True)
    assert len(calls) == 2


def test_with_keep_a_later_caller_gets_the_first_result():
    flight, (compute, calls) = SingleFlight(keep=True), _counted("x")
    assert flight.run("k", compute) == ("x", True)
    assert flight.run("k", compute) == ("x", False)
    assert len(calls) == 1


@pytest.mark.parametrize("keep", [False, True])
def test_an_error_reaches_the_caller_and_is_kept_only_with_keep(keep):
    flight = SingleFlight(keep=keep)

    def failing():
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        flight.run("k", failing)
    if keep:
        with pytest.raises(ValueError, match="no"):
            flight.run("k", lambda: 1)
    else:
        assert flight.run("k", lambda: 1) == (1, True)
