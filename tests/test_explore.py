"""qbench explore: the networks that fit a part, their Pareto front and the recommended one; and its errors."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from qbench.commands.cli import main as qbench_main
from qbench.common.paths import TARGETS
from qbench.hardware.targets import Part
from qbench.orchestration.explore import Budget, NothingFits, candidates, explore, pareto_front
from qbench.records.results import read_results

PART = Part("P1", "vendor", "cortex-m0plus", flash_bytes=4096, ram_bytes=1024, clock_hz=32_000_000)


def sweep(*networks: tuple[str, float, float, int, int]) -> pd.DataFrame:
    """Rows as a results file holds them: (network, accuracy, worst-case cycles, lib_flash, ram_total)."""
    return pd.DataFrame.from_records(
        [
            {
                "status": "ok",
                "variant": "inference",
                "core": "cortex-m0plus",
                "library": "qnn",
                "network": network,
                "qformat": "q8.8",
                "connections": 10,
                "accuracy_device": accuracy,
                "learned": None,
                "est_cycles_forward_max": cycles,
                "lib_flash": flash,
                "test_data_bytes": 100,
                "ram_total": ram,
                "exception_frame": 32,
                "img_ram_static": 0,
            }
            for network, accuracy, cycles, flash, ram in networks
        ]
    )


def test_the_front_keeps_what_nothing_beats_and_the_recommendation_breaks_ties_by_latency_then_flash():
    rows = sweep(
        ("a", 0.90, 3200, 1100, 500),  # beaten by b: as accurate, slower, bigger
        ("b", 0.90, 1600, 1000, 500),
        ("c", 0.95, 6400, 2100, 600),  # the most accurate that fits, tied with d and e
        ("d", 0.95, 6400, 1900, 600),  # as fast as c and smaller: recommended
        ("e", 0.95, 9600, 1500, 600),  # slower than d but smaller: on the front
        ("f", 0.99, 1000, 9000, 500),  # too much flash
        ("g", 0.99, 1000, 1000, 2000),  # too much RAM (with the exception frame)
    )
    exploration = explore(rows, Budget(PART))
    assert list(exploration.front["network"]) == ["d", "e", "b"]
    assert exploration.recommended["network"] == "d"
    assert exploration.recommended["latency_us"] == pytest.approx(200.0)  # 6400 cycles at 32 MHz
    assert exploration.recommended["deployed_flash"] == 1800  # the test split left out
    assert exploration.recommended["ram"] == 632  # one exception frame below the stack
    assert list(explore(rows, Budget(PART, max_latency_us=100)).front["network"]) == ["b"]


def test_without_cycle_estimates_the_front_is_accuracy_against_flash():
    rows = sweep(("a", 0.9, None, 1100, 500), ("b", 0.8, None, 1000, 500), ("c", 0.8, None, 1200, 500))
    assert list(pareto_front(candidates(rows, PART))["network"]) == ["a", "b"]


def test_nothing_fitting_says_how_far_the_smallest_is():
    with pytest.raises(NothingFits, match=r"none of the 1 networks fits P1 .*: the smallest \(a q8.8\) takes 8,900 B"):
        explore(sweep(("a", 0.9, 1000, 9000, 500)), Budget(PART))


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore")
    arguments = [
        "explore",
        "--workload",
        "iris",
        "--part",
        "STM32L011K4",
        "--formats",
        "q8.8",
        "--hidden-neurons",
        "4,8",
        "--hidden-layers",
        "1",
        "--build-dir",
        str(root / "build"),
    ]
    return root, arguments, qbench_main([*arguments, "--out", str(root / "out")])


def test_explore_writes_the_sweep_the_front_the_plot_and_the_recommendation(explored, capsys):
    root, _, status = explored
    assert status == 0
    rows = read_results(root / "out").rows
    assert len(rows) == 2 and set(rows["core"]) == {"cortex-m0plus"}  # the part's core
    text = (root / "out" / "explore.md").read_text()
    assert "| qnn " in text and "Recommended for STM32L011K4 (16 KiB flash, 2 KiB RAM, 32 MHz): qnn 4-" in text
    assert (root / "out" / "plots" / "pareto.png").stat().st_size > 10_000


def test_a_latency_no_network_meets_is_one_line_and_exit_1(explored, capsys):
    root, arguments, _ = explored
    assert qbench_main([*arguments, "--max-latency-us", "0.01", "--out", str(root / "tight")]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(
        "qbench: error: none of the 2 networks fits STM32L011K4 (16 KiB flash, 2 KiB RAM, 32 MHz), "
        "within 0.01 µs: the smallest"
    )
    assert len(read_results(root / "tight").rows) == 2  # the sweep is kept


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--workload", "iris", "--part", "STM32L999"], "unknown part 'STM32L999' (known: ATSAMD21G18,"),
        (
            ["--workload", "iris", "--part", "STM32L011K4", "--formats", "uq8.8"],
            "nothing to explore: no inference cell of iris on cortex-m0plus (STM32L011K4's core) can be built: "
            "uq8.8 is unsigned",
        ),
        (["--workload", "iris", "--part", "STM32L011K4", "--max-latency-us", "-3"], "'-3' is not a number of micro"),
    ],
)
def test_bad_input_is_one_line(arguments, message, capsys, tmp_path):
    _refused_in_one_line(arguments, message, capsys, tmp_path)


def test_a_latency_budget_on_a_core_without_a_cycle_model_is_refused(capsys, tmp_path):
    """Every core qbench ships has a cycle model; a user's own core (a targets folder of their own) may not."""
    targets = tmp_path / "targets"
    shutil.copytree(TARGETS, targets)
    core = (targets / "cores" / "cortex-m4.toml").read_text().replace('name = "cortex-m4"', 'name = "cortex-m85"')
    (targets / "cores" / "cortex-m85.toml").write_text(core)
    parts = tmp_path / "parts.toml"
    parts.write_text('[M85PART]\ncore = "cortex-m85"\nflash_kib = 2048\nram_kib = 1024\nclock_mhz = 480\n')
    _refused_in_one_line(
        [
            "--workload",
            "iris",
            "--targets",
            str(targets),
            "--parts-file",
            str(parts),
            "--part",
            "M85PART",
            "--max-latency-us",
            "100",
        ],
        "--max-latency-us cannot be checked on M85PART: its core cortex-m85 has no cycle model",
        capsys,
        tmp_path,
    )


def _refused_in_one_line(arguments, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_status:
        qbench_main(["explore", *arguments, "--out", str(tmp_path / "out")])
    assert exit_status.value.code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()
