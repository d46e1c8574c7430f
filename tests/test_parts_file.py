"""Parts a user adds in a file (--parts-file), the flash facts that set their speed, the latency range priced with
them, explore --model, and adding a part keeping every cached result (issue 23, part 4)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from qbench.commands.cli import main as qbench_main
from qbench.common.paths import SUITE, TARGETS
from qbench.execution.timing import BlockVisit, nonsequential_fetches
from qbench.hardware.targets import Part, TargetError, load_parts, load_targets
from qbench.models.classification import read_description
from qbench.models.network import NetworkShape, network_document
from qbench.models.training import Recipe, one_hot, train
from qbench.orchestration.cache import fingerprint
from qbench.records.results import read_results
from qbench.reporting.analysis import budget_table, part_cycles

G031 = """
[STM32G031K8]
vendor = "STMicroelectronics"
core = "cortex-m0plus"
flash_kib = 64
ram_kib = 8
clock_mhz = 64
flash_wait_states = 2
prefetch = true
instruction_cache = true
source = "RM0444 (STM32G0x1 reference manual), FLASH_ACR: 2 wait states above 48 MHz"
"""

SLOW_L011 = """
[STM32L011K4]
core = "cortex-m0plus"
flash_kib = 16
ram_kib = 2
clock_mhz = 16
flash_wait_states = 0
"""


@pytest.fixture
def parts_file(tmp_path: Path) -> Path:
    path = tmp_path / "my-parts.toml"
    path.write_text(G031)
    return path


def test_a_parts_file_adds_parts_and_replaces_those_of_the_same_name(tmp_path, parts_file):
    override = tmp_path / "override.toml"
    override.write_text(SLOW_L011)
    targets = load_targets()
    parts = load_parts(targets, TARGETS / "parts.toml", [parts_file, override])
    builtin = load_parts(targets)
    assert set(parts) == set(builtin) | {"STM32G031K8"}  # added, nothing lost
    added = parts["STM32G031K8"]
    assert (added.flash_bytes, added.ram_bytes, added.clock_hz) == (64 * 1024, 8 * 1024, 64_000_000)
    assert (added.flash_wait_states, added.prefetch, added.instruction_cache) == (2, True, True)
    assert added.defined_in.endswith("my-parts.toml")
    replaced = parts["STM32L011K4"]  # replaced whole: the file's values, its defaults for the rest
    assert (replaced.clock_hz, replaced.flash_wait_states, replaced.prefetch) == (16_000_000, 0, False)
    assert builtin["STM32L011K4"].clock_hz == 32_000_000  # the built-in list itself is untouched


def test_every_builtin_part_states_its_flash_facts_and_their_source():
    text = (TARGETS / "parts.toml").read_text()
    parts = load_parts(load_targets())
    for name, part in parts.items():
        section = text.split(f"[{name}]", 1)[1].split("\n[", 1)[0]
        assert "flash_wait_states" in section and "prefetch" in section, name
        assert part.source, name
    l011 = parts["STM32L011K4"]
    assert (l011.flash_wait_states, l011.prefetch) == (1, True)  # RM0377: 1 WS above 16 MHz in range 1
    assert (parts["STM32F103C8"].flash_wait_states, parts["STM32F411CE"].flash_wait_states) == (2, 3)


PART_X = '[X]\ncore = "cortex-m0plus"\nflash_kib = 16\nram_kib = 2\nclock_mhz = 32\n'


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (PART_X + "flash_wait_states = -1\n", "X.flash_wait_states"),
        (PART_X + 'prefetch = "yes"\n', "X.prefetch"),
        (PART_X + "cache = true\n", "X.cache"),
        (PART_X.replace("cortex-m0plus", "cortex-m99"), "X.core"),
    ],
)
def test_a_bad_parts_file_is_one_line_naming_the_file_and_the_key(tmp_path, capsys, text, key):
    bad = tmp_path / "bad-parts.toml"
    bad.write_text(text)
    with pytest.raises(TargetError) as error:
        load_parts(load_targets(), TARGETS / "parts.toml", [bad])
    message = str(error.value)
    assert len(message.splitlines()) == 1 and "bad-parts.toml" in message and key in message
    with pytest.raises(SystemExit) as stopped:
        qbench_main(["list", "parts", "--parts-file", str(bad)])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "bad-parts.toml" in lines[0] and key in lines[0]


def test_list_parts_shows_the_added_part_with_its_flash_facts(parts_file, capsys):
    assert qbench_main(["list", "parts", "--parts-file", str(parts_file)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("STM32G031K8"))
    assert "64 MHz" in line and "2 WS, prefetch + cache" in line and "my-parts.toml" in line
    assert re.search(r"STM32L011K4 .* 1 WS, prefetch", out)


# --- the latency range, by hand ---------------------------------------------------------------------------------


class _Code:
    """A stand-in for CodeImage: the size of the instruction at each address."""

    def __init__(self, sizes: dict[int, int]) -> None:
        self.size_at = sizes.__getitem__


def test_non_sequential_fetches_are_the_steps_that_do_not_fall_through():
    code = _Code({0x100: 2, 0x102: 2, 0x104: 4, 0x108: 2})
    # 0x100 (16-bit) falls through to 0x102, which goes to 0x200: a taken branch; twice.
    twice = [BlockVisit(None, (0x100, 0x102), 0x200)] * 2
    # 0x104 (32-bit) falls through to +4, 0x108, which goes back to the loop's top: taken; five times.
    five_times = [BlockVisit(0x102, (0x104, 0x108), 0x100)] * 5
    # The trace's end: the next instruction unknown, counted as sequential.
    end = BlockVisit(0x108, (0x100, 0x102), None)
    assert sum(nonsequential_fetches(visit, code) for visit in [*twice, *five_times, end]) == 7


def row(minimum=100.0, maximum=120.0, jumps=10.0, instructions=90.0):
    return SimpleNamespace(
        est_cycles_forward_min=minimum,
        est_cycles_forward_max=maximum,
        nonseq_fetches_forward=jumps,
        instr_forward=instructions,
    )


def part(waits: int, prefetch: bool = False, cache: bool = False) -> Part:
    return Part(
        "P",
        "v",
        "cortex-m0plus",
        16384,
        2048,
        10_000_000,
        flash_wait_states=waits,
        prefetch=prefetch,
        instruction_cache=cache,
    )


def test_the_latency_range_counts_wait_states_on_non_sequential_fetches():
    # 100 to 120 cycles at zero wait states, 10 taken branches and calls, 90 instructions.
    assert part_cycles(row(), part(0), "forward") == (100.0, 120.0)  # no wait state: the core's range
    assert part_cycles(row(), part(1, prefetch=True), "forward") == (100.0, 130.0)  # 120 + 1 x 10
    assert part_cycles(row(), part(3, prefetch=True, cache=True), "forward") == (100.0, 150.0)  # 120 + 3 x 10
    # Nothing hides a fetch: every jump pays even at best (100 + 2 x 10), every instruction at worst (120 + 2 x 90).
    assert part_cycles(row(), part(2), "forward") == (120.0, 300.0)
    # No count of jumps (results from an earlier qbench): the slowest is unknown, not silently the core's.
    assert part_cycles(row(jumps=None), part(1, prefetch=True), "forward") == (100.0, None)
    assert part_cycles(row(minimum=None, maximum=None), part(1, prefetch=True), "forward") == (None, None)


def test_part_budgets_give_the_range_at_the_parts_clock():
    import pandas as pd

    from qbench.common.fields import flat_dict
    from qbench.records.results import ResultRow

    frame = pd.DataFrame(
        [
            flat_dict(
                ResultRow(
                    core="cortex-m0plus",
                    board="b",
                    qformat="q16.16",
                    variant="inference",
                    opt="Os",
                    workload="xor",
                    status="ok",
                    qemu="qemu",
                    img_flash=2000,
                    img_ram_static=100,
                    instr_forward=90.0,
                    est_cycles_forward=110.0,
                    est_cycles_forward_min=100.0,
                    est_cycles_forward_max=120.0,
                    nonseq_fetches_forward=10.0,
                )
            )
        ]
    )
    table = budget_table(frame, {"P": part(1, prefetch=True)})
    (budget,) = table.itertuples()
    assert budget.flash_fetch == "1 WS, prefetch"
    assert (budget.est_us_forward_min, budget.est_us_forward_max) == (10.0, 13.0)  # 100 and 130 cycles at 10 MHz


# --- through the command line ----------------------------------------------------------------------------------


def test_adding_a_part_keeps_every_cached_result_and_prices_it_with_its_wait_states(tmp_path, parts_file, capsys):
    arguments = [
        "run",
        "--cores",
        "cortex-m0plus",
        "--formats",
        "q16.16",
        "--variants",
        "inference",
        "--build-dir",
        str(tmp_path / "build"),
    ]
    assert qbench_main([*arguments, "--out", str(tmp_path / "cold")]) == 0
    assert "from the cache" not in capsys.readouterr().out
    assert qbench_main([*arguments, "--out", str(tmp_path / "warm")]) == 0
    warm = re.search(r"(\d+) from the cache", capsys.readouterr().out)
    assert qbench_main([*arguments, "--parts-file", str(parts_file), "--out", str(tmp_path / "added")]) == 0
    added = re.search(r"(\d+) from the cache", capsys.readouterr().out)
    assert warm and added and added[1] == warm[1]  # everything the warm run took from the cache, still there
    rows = read_results(tmp_path / "added").rows
    (inference,) = rows.itertuples()
    assert inference.nonseq_fetches_forward > 0
    report = (tmp_path / "added" / "report.md").read_text()
    line = next(line for line in report.splitlines() if line.startswith("| STM32G031K8"))
    slowest = (inference.est_cycles_forward_max + 2 * inference.nonseq_fetches_forward) / 64
    assert "2 WS, prefetch, cache" in line and f"{slowest:.1f}" in line


def test_the_parts_file_is_not_in_the_checkout_fingerprint(tmp_path):
    """Workers must share the client's fingerprint; parts are read by the client alone (budgets, explore), so
    adding one neither stops a cluster nor, where the fingerprint keys entries, discards a cached result."""
    root = tmp_path / "checkout"
    for top in ("suite", "scripts/qbench"):
        (root / top).mkdir(parents=True)
    shutil.copytree(TARGETS / "cores", root / "targets" / "cores")
    (root / "targets" / "parts.toml").write_text(SLOW_L011)
    before = fingerprint(root)
    (root / "targets" / "parts.toml").write_text(SLOW_L011 + G031)
    assert fingerprint(root) == before  # no cell reads the parts
    (root / "targets" / "cores" / "cortex-m0plus.toml").write_text("# changed\n")
    assert fingerprint(root) != before


def test_explore_takes_an_imported_model_and_labels_its_points(tmp_path, capsys):
    split = read_description(SUITE / "workloads" / "iris" / "workload.toml").split()
    network = train(
        NetworkShape(4, 1, 5, 3), split.train_inputs, one_hot(split.train_labels, 3), Recipe(epochs=200, seed=9)
    )
    model = tmp_path / "network.json"
    model.write_text(json.dumps(network_document(network)))
    out = tmp_path / "out"
    arguments = [
        "explore",
        "--workload",
        "iris",
        "--part",
        "STM32L011K4",
        "--model",
        str(model),
        "--formats",
        "q16.16,q8.8",
        "--build-dir",
        str(tmp_path / "build"),
    ]
    status = qbench_main([*arguments, "--out", str(out)])
    assert status == 0
    rows = read_results(out).rows
    assert sorted(rows["qformat"]) == ["q16.16", "q8.8"] and set(rows["network"]) == {"4-5-3 tanh/sigmoid"}
    text = (out / "explore.md").read_text()
    assert "STM32L011K4 has 1 WS, prefetch" in text and "non-sequential fetch" in text
    assert "latency_min_us" in text
    from qbench.orchestration.explore import point_labels

    assert point_labels(rows.assign(library="qnn")) == [f"4-5-3 tanh/sigmoid {fmt}" for fmt in rows["qformat"]]
    with pytest.raises(SystemExit) as stopped:  # the model brings its own network: no sizes to sweep
        qbench_main(
            [
                "explore",
                "--workload",
                "iris",
                "--part",
                "STM32L011K4",
                "--model",
                str(model),
                "--hidden-layers",
                "2",
                "--out",
                str(tmp_path / "refused"),
            ]
        )
    assert stopped.value.code == 2
    assert "--model brings its own network" in capsys.readouterr().err
