"""What counting costs: each image of a results folder run plainly and counted (qbench's plugin recording every
block, then every region occurrence counted from that record), each the fastest of a few runs, wall time.

    python -m qbench.execution.run_cost RESULTS_DIR [--repeat N]

Prints one line per image and the totals as JSON, for scripts/bench-suite. The goal for a counted run is at
most 3 times the plain run's wall time or 0.3 s more, whichever is larger.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qbench.common.paths import in_checkout
from qbench.execution.emulate import run_counted
from qbench.execution.runners import runner_for
from qbench.hardware.targets import Target, load_targets
from qbench.records.results import Status, read_results

TIMEOUT = 600.0  # seconds: a guard against a hang, not a measure


def counting_goal(plain: float) -> float:
    """The most a counted run may take: 3 times the plain run's wall time, or 0.3 s more, whichever is larger."""
    return max(3 * plain, plain + 0.3)


def fastest(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def image_costs(elf: Path, target: Target, repeat: int) -> dict:
    runner = runner_for(target)
    with tempfile.TemporaryDirectory(prefix="qbench-cost-") as work:
        log = Path(work) / "run.log"
        plain = fastest(lambda: runner.run(elf, target, TIMEOUT, log), repeat)
        counted = fastest(lambda: run_counted(runner, elf, target, TIMEOUT), repeat)
    return {
        "elf": str(elf),
        "core": target.name,
        "plain_s": plain,
        "counted_s": counted,
        "goal_met": counted <= counting_goal(plain),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qbench.execution.run_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args(argv)
    targets = load_targets()
    rows = read_results(arguments.results).rows
    images = {(row.elf, row.core) for row in rows.itertuples() if row.status == Status.OK and row.qemu and row.elf}
    costs = [image_costs(in_checkout(elf), targets[core], arguments.repeat) for elf, core in sorted(images)]
    plain, counted = sum(cost["plain_s"] for cost in costs), sum(cost["counted_s"] for cost in costs)
    json.dump(
        {"images": costs, "plain_s": plain, "counted_s": counted, "goal_met": all(cost["goal_met"] for cost in costs)},
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
