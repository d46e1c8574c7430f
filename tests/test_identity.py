"""A figure belongs to the binary and the core its row names, whatever the cache holds: determinism across
cache histories, core order and -j; a cache that survives concurrency and damage; counts of the row's own
ELF that add up; the emulator's single-step flag by version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

import pandas as pd
import pytest

from progress_points import HANG_GUARD_SECONDS, STEP_GUARD_SECONDS
from qbench.commands.cli import main as qbench_main
from qbench.common import single_flight
from qbench.common.paths import REPO
from qbench.images.build import make_prerequisites
from qbench.orchestration.cache import Cache
from qbench.records.results import read_results

PAIR = ["--formats", "q16.16,q8.8", "--variants", "trainable,inference"]


def run(out: Path, cache: Path, *arguments: str) -> int:
    return qbench_main(
        [
            "run",
            "--out",
            str(out),
            "--build-dir",
            str(out.parent / f"{out.name}-build"),
            "--cache-dir",
            str(cache),
            *PAIR,
            *arguments,
        ]
    )


def comparable(out: Path) -> dict:
    """Every results file, with what legitimately differs between runs (dates, build folders) taken out."""
    document = json.loads((out / "results.json").read_text())
    for row in document["rows"]:
        row.pop("date")
        row["elf"] = row["elf"].replace(str(out.parent / f"{out.name}-build"), "<build>")
        row["flags"] = row["flags"].replace(str(out.parent / f"{out.name}-build"), "<build>")
    document["environment"].pop("date")
    files = {str(path.relative_to(out)): path.read_bytes() for path in out.rglob("*.csv") if path.name != "results.csv"}
    return {"json": document, **files}


def test_results_do_not_depend_on_the_cache_history_the_core_order_or_jobs(tmp_path):
    # m0 first into an empty cache; m0plus first into another; then neither cache at all.
    first_cache, second_cache = tmp_path / "cache-a", tmp_path / "cache-b"
    assert run(tmp_path / "warm-m0", first_cache, "--cores", "cortex-m0") == 0
    assert run(tmp_path / "a", first_cache, "--cores", "cortex-m0,cortex-m0plus", "-j", "2") == 0
    assert run(tmp_path / "warm-m0plus", second_cache, "--cores", "cortex-m0plus", "-j", "1") == 0
    assert run(tmp_path / "b", second_cache, "--cores", "cortex-m0plus,cortex-m0", "-j", "1") == 0
    assert run(tmp_path / "c", tmp_path / "cache-c", "--cores", "cortex-m0plus,cortex-m0", "--no-cache") == 0
    reference = comparable(tmp_path / "c")
    assert comparable(tmp_path / "a") == reference
    assert comparable(tmp_path / "b") == reference
    # The two cores share one image and one run, and each is priced from its own table.
    rows = read_results(tmp_path / "c").rows
    m0, m0plus = (
        rows[(rows["core"] == core) & (rows["variant"] == "trainable")].iloc[0]
        for core in ("cortex-m0", "cortex-m0plus")
    )
    assert m0["instr_train_step"] == m0plus["instr_train_step"]
    assert m0["est_cycles_train_step"] > m0plus["est_cycles_train_step"]  # a taken branch: 3 cycles on M0, 2 on M0+
    assert m0["emulated_cpu"] == m0plus["emulated_cpu"] == "cortex-m0"


def test_the_per_function_split_adds_up_to_each_rows_figure(emulated_run):
    _, root, _ = emulated_run
    saved = read_results(root / "out")
    sums = saved.instructions.groupby(["core", "qformat", "variant", "region"])["instructions"].sum()
    checked = 0
    for row in saved.rows.itertuples():
        for region in ("forward", "train_step"):
            figure = getattr(row, f"instr_{region}")
            if pd.notna(figure):
                assert sums[(row.core, row.qformat, row.variant, region)] == pytest.approx(figure, abs=1e-9)
                checked += 1
    assert checked == 12


def test_cycle_estimates_are_ranges_around_a_central_value(emulated_run):
    _, root, _ = emulated_run
    rows = read_results(root / "out").rows
    for region in ("forward", "train_step"):
        measured = rows[rows[f"est_cycles_{region}"].notna()]
        assert len(measured) > 0
        assert (measured[f"est_cycles_{region}_min"] <= measured[f"est_cycles_{region}"]).all()
        assert (measured[f"est_cycles_{region}"] <= measured[f"est_cycles_{region}_max"]).all()
        assert (measured[f"est_cycles_{region}_min"] < measured[f"est_cycles_{region}_max"]).any()


def test_the_counts_come_from_the_very_elf_the_sizes_describe(emulated_run):
    _, root, _ = emulated_run
    rows = read_results(root / "out").rows
    assert "trace_elf" not in rows.columns
    trainable = rows[rows["variant"] == "trainable"]
    # Every occurrence of the whole run: a training step per iteration; a forward pass per iteration and four per
    # evaluation (one before training, one after every iteration).
    assert (trainable["instr_train_step_occurrences"] == trainable["iterations"]).all()
    assert (trainable["instr_forward_occurrences"] == 4 + 5 * trainable["iterations"]).all()
    assert (rows[rows["variant"] == "inference"]["instr_forward_occurrences"] == 4).all()
    assert (rows["instr_markers"] > 0).all()


def cache_files(cache: Path, pattern: str) -> list[Path]:
    return sorted(path for path in cache.rglob(pattern) if not path.name.startswith("."))


@pytest.mark.parametrize("damage", ["truncated run", "missing elf", "edited sizes", "altered elf"])
def test_a_damaged_cache_entry_is_reported_discarded_and_recomputed(tmp_path, capsys, damage):
    cache = tmp_path / "cache"
    assert run(tmp_path / "clean", cache, "--cores", "cortex-m0plus") == 0
    if damage == "truncated run":
        entry = cache_files(cache, "*.json")[0]
        entry.write_text(entry.read_text()[:40])
    elif damage == "missing elf":
        entry = cache_files(cache, "firmware.elf")[0]
        entry.unlink()
    elif damage == "edited sizes":
        entry = cache_files(cache, "measured.json")[0]
        entry.write_text(entry.read_text().replace('"size": ', '"size": 1', 1))
    else:
        entry = cache_files(cache, "firmware.elf")[0]
        altered = bytearray(entry.read_bytes())
        altered[200] ^= 0xFF
        entry.write_bytes(bytes(altered))
    capsys.readouterr()
    assert run(tmp_path / "again", cache, "--cores", "cortex-m0plus") == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "cache entry" in line]
    assert len(warnings) == 1 and "discarded and recomputed" in warnings[0], warnings
    assert comparable(tmp_path / "again") == comparable(tmp_path / "clean")


def test_an_image_is_one_file_in_the_build_folder_and_the_cache_and_a_rebuild_replaces_it_there(tmp_path, capsys):
    """No bytes are written twice: the cache entry's image and log are the build folder's files under another name;
    so a rebuild into that folder (here for another cache) replaces its files instead of writing through them."""
    first_cache, other_cache, build = tmp_path / "cache-a", tmp_path / "cache-b", tmp_path / "build"
    cell = ["run", "--cores", "cortex-m0plus", "--formats", "q8.8", "--variants", "inference", "--no-emulate"]

    def cell_run(cache: Path, out: str) -> int:
        arguments = ["--build-dir", str(build), "--cache-dir", str(cache), "--out", str(tmp_path / out)]
        return qbench_main([*cell, *arguments])

    def inodes(paths: list[Path]) -> set[int]:
        return {path.stat().st_ino for path in paths}

    assert cell_run(first_cache, "first") == 0
    stored = cache_files(first_cache, "firmware.elf") + cache_files(first_cache, "build.log")
    built = sorted(build.rglob("firmware.elf")) + sorted(build.rglob("build.log"))
    assert len(stored) == 4 and inodes(stored) <= inodes(built)  # the cell's and its baseline's, image and log
    assert cell_run(other_cache, "rebuilt") == 0
    assert not inodes(stored) & inodes(built) and all(path.stat().st_nlink == 1 for path in stored)
    capsys.readouterr()
    assert cell_run(first_cache, "again") == 0
    assert "cache entry" not in capsys.readouterr().err  # the first cache's entries are as they were stored
    assert comparable(tmp_path / "again") == comparable(tmp_path / "first")


def test_no_cache_replaces_the_stored_entries(tmp_path):
    cache = tmp_path / "cache"
    assert run(tmp_path / "first", cache, "--cores", "cortex-m0plus", "--variants", "inference") == 0
    before = {path: path.stat().st_ino for path in cache_files(cache, "*.json")}
    assert run(tmp_path / "second", cache, "--cores", "cortex-m0plus", "--variants", "inference", "--no-cache") == 0
    after = {path: path.stat().st_ino for path in cache_files(cache, "*.json")}
    assert set(before) == set(after) and all(before[path] != after[path] for path in before)


def test_only_what_a_stage_reads_invalidates_its_cache_entries(tmp_path):
    """A build is kept unless a file its compiler read, its plan or its stage's qbench code changes: edited in a
    copy of the checkout (qbench run from there), each change rebuilds exactly the images that read it."""
    tree = tmp_path / "tree"
    for top in ("suite", "targets", "scripts"):
        shutil.copytree(REPO / top, tree / top, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    builds = tmp_path / "cache" / "builds"

    def run_copy() -> tuple[str, dict[str, str]]:
        """The copy's run (qnn and emlearn, cortex-m0plus and host, not emulated): its closing line and what
        was built afresh, by entry: the build's command line."""
        before = {entry.name: entry.stat().st_ino for entry in builds.glob("[!.]*")} if builds.is_dir() else {}
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "qbench",
                "run",
                "--no-emulate",
                "--cores",
                "cortex-m0plus,host",
                "--formats",
                "float32",
                "--variants",
                "inference",
                "--library",
                "emlearn",
                "--out",
                str(tmp_path / "out"),
                "--build-dir",
                str(tmp_path / "build"),
                "--cache-dir",
                str(tmp_path / "cache"),
            ],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree / "scripts")},
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert "cache entry" not in completed.stderr  # a changed input is a miss, not a damaged entry
        built = {
            entry.name: (entry / "build.log").read_text().splitlines()[0]
            for entry in builds.glob("[!.]*")
            if before.get(entry.name) != entry.stat().st_ino
        }
        return completed.stdout.splitlines()[-1], built

    def edit(relative: str, text: str) -> None:
        with (tree / relative).open("a") as file:
            file.write(text)

    assert len(run_copy()[1]) == 6  # 2 baselines, qnn and emlearn on both cores
    warm, built = run_copy()
    assert built == {} and " from the cache" in warm
    # A part added: no stage reads parts.toml; every result comes from the cache.
    parts = (tree / "targets/parts.toml").read_text()
    first = parts[parts.index("\n[") : parts.index("\n[", parts.index("\n[") + 1)]  # the first part, whole
    edit("targets/parts.toml", first.replace(first.split("]")[0] + "]", "\n[NEWPART1]", 1))
    closing, built = run_copy()
    assert built == {} and closing == warm
    # emlearn's adapter: its two images alone.
    edit("suite/libraries/emlearn/qbench_adapter.hpp", "\n// edited\n")
    built = run_copy()[1]
    assert len(built) == 2 and all("emlearn" in command for command in built.values()), built
    # A qnn header: qnn's two images, not the baselines nor emlearn's.
    edit("suite/qnn/include/qnn/lookup_table.hpp", "\n// edited\n")
    built = run_copy()[1]
    assert len(built) == 2 and not any("emlearn" in command or "empty.cpp" in command for command in built.values())
    # The start-up code's header: every cortex-m0plus image (its baseline too), no host image.
    edit("targets/startup/startup.h", "\n// edited\n")
    built = run_copy()[1]
    assert len(built) == 3 and all("startup/reset.cpp" in command for command in built.values()), built
    # A qbench module no stored stage runs keeps everything; one the build stage runs rebuilds every image.
    edit("scripts/qbench/reporting/report.py", "\n# edited\n")
    assert run_copy()[1] == {}
    edit("scripts/qbench/images/build.py", "\n# edited\n")
    assert len(run_copy()[1]) == 6


def test_the_compilers_dependency_list_is_read_whole():
    text = "a.o: a.c include/a.h \\\n  my\\ dir/b.h\nb.o: b.c include/a.h\n"
    assert make_prerequisites(text) == ["a.c", "include/a.h", "my dir/b.h", "b.c"]


def test_identical_work_in_flight_is_done_once(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    calls = []
    waiting = threading.Semaphore(0)

    class CountedFuture(Future):
        """A caller waiting for another's computation says so as it starts to wait."""

        def result(self, timeout=None):
            waiting.release()
            return super().result(timeout)

    monkeypatch.setattr(single_flight, "Future", CountedFuture)

    def slow() -> str:
        """Still computing until the three other callers wait for it, however late their threads start."""
        calls.append(1)
        for _ in range(3):
            assert waiting.acquire(timeout=STEP_GUARD_SECONDS), "hang guard: a caller never came to wait"
        return "result"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.once("key", slow))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(results, key=lambda item: not item[1]) == [("result", True)] + [("result", False)] * 3


def test_two_qbench_processes_share_a_cold_cache(tmp_path):
    command = [
        sys.executable,
        "-m",
        "qbench",
        "run",
        "--cores",
        "cortex-m0,cortex-m0plus",
        "--formats",
        "q16.16",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    processes = [
        subprocess.Popen(
            [*command, "--out", str(tmp_path / name), "--build-dir", str(tmp_path / f"{name}-build")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one", "two")
    ]
    outcomes = [process.communicate(timeout=HANG_GUARD_SECONDS) for process in processes]
    for process, (_, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err and "cache entry" not in err
    assert comparable(tmp_path / "one") == comparable(tmp_path / "two")
