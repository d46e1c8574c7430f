"""The bad-input and failure catalogue, the cache, determinism, sharding with merge,
and the regression gate: every failure gives one clear message, keeps the other
results, and a non-zero exit status."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from progress_points import rows_spooled, start_run
from qbench.commands.cli import main as qbench_main
from qbench.common.paths import REPO, TARGETS
from qbench.images.build import first_error
from qbench.images.workloads import WORKLOADS
from qbench.orchestration.cache import fingerprint
from qbench.records.results import read_results
from qbench.reporting.compare import CompareError, change_percent, compare, parse_threshold

FIRMWARE = Path(__file__).parent / "firmware"


def run_cli(tmp_path: Path, *arguments: str) -> tuple[int, pd.DataFrame | None]:
    out = tmp_path / "out"
    status = qbench_main(["run", "--out", str(out), "--build-dir", str(tmp_path / "build"), *arguments])
    return status, read_results(out).rows if (out / "results.json").exists() else None


def refused_cli(tmp_path: Path, *arguments: str) -> str:
    """A run's command line refused whole: exit 2, nothing written or built; stderr."""
    with pytest.raises(SystemExit) as stopped:
        run_cli(tmp_path, *arguments)
    assert stopped.value.code == 2
    assert not (tmp_path / "out").exists() and not (tmp_path / "build").exists()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("q0.0", "q0.0: a Q format needs at least one bit"),
        ("q16.-1", "'q16.-1' is not a Q format"),
        ("q40.40", "q40.40 is 80 bits wide; qnn formats are at most 64 bits"),
        ("abc", "'abc' is not a Q format"),
        ("", "'' is not a Q format"),
        ("q33.32", "q33.32 is 65 bits wide"),
    ],
)
def test_a_malformed_q_format_refuses_the_whole_command(tmp_path, capsys, bad, message):
    refused_cli(tmp_path, "--no-emulate", "--cores", "host", "--formats", f"q16.16,{bad}")
    assert message in capsys.readouterr().err


def test_unsigned_format_with_a_signed_activation(tmp_path):
    status, rows = run_cli(tmp_path, "--no-emulate", "--cores", "host", "--formats", "q16.16,uq8.8")
    assert status == 1
    unsigned = rows[rows["qformat"] == "uq8.8"]
    assert set(unsigned["status"]) == {"invalid"}
    assert unsigned["message"].str.contains("uq8.8 is unsigned; .* need a signed Q format").all()
    assert set(rows[rows["qformat"] == "q16.16"]["status"]) == {"ok"}


def test_bad_core_part_and_workload_refuse_the_command_each_named_with_the_nearest_valid_one(tmp_path, capsys):
    refused_cli(
        tmp_path, "--no-emulate", "--cores", "host,cortex-m4x", "--formats", "q8.8", "--parts", "STM32L011K4,STM32L011K"
    )
    errors = capsys.readouterr().err
    assert "the command line has 2 bad values; nothing was run:" in errors and "Traceback" not in errors
    assert "--cores: unknown core 'cortex-m4x' (known: " in errors and "; did you mean cortex-m4?\n" in errors
    assert "--parts: unknown part 'STM32L011K' (known: " in errors and "; did you mean STM32L011K4?\n" in errors
    refused_cli(tmp_path, "--no-emulate", "--cores", "host", "--workload", "xorr")
    assert "unknown workload 'xorr' (known: digits, iris, xor); did you mean xor?" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "cores/cortex-m3.toml",
            'name = "cortex-m3"\nqemu = { machine = 3 }\n',
            "cortex-m3.toml: 'qemu.machine' is 3; allowed: a string",
        ),
        ("parts.toml", '[P]\ncore = "cortex-m0"\nflash_kib = 1\n', "parts.toml: 'P.ram_kib' is required"),
        ("families/cortex-m.toml", "cflags = [\n", "cortex-m.toml: not valid TOML"),
    ],
)
def test_malformed_target_and_parts_files(tmp_path, capsys, file, text, message):
    targets = tmp_path / "targets"
    shutil.copytree(TARGETS, targets)
    (targets / file).write_text(text)
    with pytest.raises(SystemExit) as stopped:
        run_cli(tmp_path, "--no-emulate", "--cores", "host", "--targets", str(targets))
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def path_without(tmp_path: Path, tool: str) -> str:
    """A PATH holding everything /usr/bin does, except one tool."""
    shadow = tmp_path / "bin"
    shadow.mkdir()
    for entry in Path("/usr/bin").iterdir():
        if entry.name != tool:
            (shadow / entry.name).symlink_to(entry)
    return str(shadow)


@pytest.mark.parametrize(
    ("tool", "emulate", "package"),
    [("arm-none-eabi-g++", False, "gcc-arm-none-eabi"), ("qemu-system-arm", True, "qemu-system-arm")],
)
def test_missing_tools_name_themselves_and_setup(tmp_path, tool, emulate, package):
    out = tmp_path / "out"
    arguments = [
        "run",
        "--cores",
        "cortex-m0plus,host",
        "--formats",
        "q16.16",
        "--variants",
        "inference",
        "--out",
        str(out),
        "--build-dir",
        str(tmp_path / "build"),
        *([] if emulate else ["--no-emulate"]),
    ]
    completed = subprocess.run(
        [sys.executable, "-m", "qbench", *arguments],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": path_without(tmp_path, tool)},
    )
    assert completed.returncode == 1, completed.stderr
    message = f"{tool} not found on PATH; scripts/setup installs it (Debian package {package})"
    assert message in completed.stderr
    rows = read_results(out).rows.set_index("core")
    assert rows.loc["cortex-m0plus", "status"] == "tool-missing" and message in rows.loc["cortex-m0plus", "message"]
    assert rows.loc["host", "status"] == "ok"
    if emulate:  # the footprint measured before the missing emulator is kept
        assert not pd.isna(rows.loc["cortex-m0plus", "lib_flash"])


def test_one_cell_that_fails_to_compile(tmp_path, monkeypatch):
    xor = WORKLOADS["xor"]

    def configure(fmt, trainable, settings, shape):
        return replace(xor.configure(fmt, trainable, settings, shape), source=FIRMWARE / "fails_for_q8_8.cpp")

    monkeypatch.setitem(WORKLOADS, "brittle", replace(xor, name="brittle", configure=configure))
    status, rows = run_cli(
        tmp_path, "--no-emulate", "--cores", "cortex-m0plus,host", "--formats", "q16.16,q8.8", "--workload", "brittle"
    )
    assert status == 1
    broken = rows[rows["qformat"] == "q8.8"]
    assert set(broken["status"]) == {"build-failed"}
    assert broken["message"].str.contains(r"fails_for_q8_8.cpp:4:2: error: #error \"this cell does not compile").all()
    assert set(rows[rows["qformat"] == "q16.16"]["status"]) == {"ok"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"rows": []}', "not a qbench results file"),
        (
            '{"schema": "qbench-results/1", "rows": [{"core": "x"}]}',
            "row 0 lacks board, qformat, variant, opt, workload, status",
        ),
    ],
)
@pytest.mark.parametrize("command", ["report", "merge", "compare"])
def test_corrupt_or_foreign_results_files(tmp_path, capsys, default_matrix_run, content, message, command):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text(content)
    arguments = {
        "report": ["report", str(broken)],
        "merge": ["merge", str(default_matrix_run.out), str(broken), "--out", str(tmp_path / "merged")],
        "compare": ["compare", str(default_matrix_run.out), str(broken)],
    }[command]
    with pytest.raises(SystemExit) as stopped:
        qbench_main(arguments)
    assert stopped.value.code == 2
    assert f"{broken / 'results.json'}: {message}" in capsys.readouterr().err


def test_missing_symbols_file_is_named(tmp_path, capsys, default_matrix_run):
    copy = tmp_path / "copy"
    shutil.copytree(default_matrix_run.out, copy)
    (copy / "symbols.csv").write_text("garbage,columns\n1,2\n")
    with pytest.raises(SystemExit):
        qbench_main(["report", str(copy)])
    assert "symbols.csv: columns ['garbage', 'columns'] are not qbench's" in capsys.readouterr().err


INTERRUPTIBLE = """
import sys
from dataclasses import replace
from pathlib import Path
from qbench.commands.cli import main
from qbench.images.workloads import WORKLOADS, WorkloadSources

xor = WORKLOADS["xor"]
hang = Path({hang!r})

def configure(fmt, trainable, settings, shape):
    if trainable:
        return xor.configure(fmt, trainable, settings, shape)
    return WorkloadSources(hang, {{"QBENCH_MISBEHAVIOUR": "1"}})

WORKLOADS["stuck"] = replace(xor, name="stuck", configure=configure)
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.fault_injection
def test_interrupted_run_writes_finished_rows_and_resumes_from_the_cache(tmp_path):
    script = tmp_path / "interruptible.py"
    script.write_text(INTERRUPTIBLE.format(hang=str(FIRMWARE / "misbehaving.cpp")))
    out, build = tmp_path / "out", tmp_path / "build"
    program = [sys.executable, str(script)]
    arguments = [
        "--cores",
        "cortex-m0plus",
        "--formats",
        "q16.16",
        "--workload",
        "stuck",
        "--out",
        str(out),
        "--build-dir",
        str(build),
        "-j",
        "2",
    ]
    # Stopped once the trainable cell's row is in the spool; the inference cell hangs (600 s: never reached).
    run = start_run(
        [*arguments, "--timeout", "600"], rows_spooled(out, 1), program=program, env={**os.environ, "CI": "true"}
    )
    assert run.interrupt(signal.SIGTERM) == 143, run.output()
    # An interrupted run's rows go beside --out, never into it.
    assert not out.exists()
    saved = read_results(out.with_name("out.interrupted"))
    rows = saved.rows.set_index("variant")
    assert saved.environment["interrupted"] is True
    assert rows.loc["trainable", "status"] == "ok" and rows.loc["trainable", "learned"]
    assert rows.loc["inference", "status"] == "incomplete"
    assert "interrupted" in rows.loc["inference", "message"]
    assert "interrupted" in (out.with_name("out.interrupted") / "report.md").read_text()
    # The next run picks up the finished work from the cache, and its complete results supersede the partial ones.
    completed = subprocess.run(
        [*program, "run", *arguments, "--timeout", "3"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 1  # the hang now times out
    assert "from the cache" in completed.stdout
    rows = read_results(out).rows.set_index("variant")
    assert rows.loc["trainable", "status"] == "ok" and rows.loc["inference", "status"] == "timeout"
    assert not out.with_name("out.interrupted").exists() and "now superseded" in completed.stderr


def test_warm_rerun_redoes_nothing(tmp_path, capsys):
    arguments = ["--cores", "cortex-m0plus,host", "--formats", "q16.16"]
    assert run_cli(tmp_path, *arguments)[0] == 0
    assert "from the cache" not in capsys.readouterr().out
    assert run_cli(tmp_path, *arguments)[0] == 0
    # All from the cache: 2 baselines + 4 images prepared (the trace image shares its image's), those and 1 trace
    # image built, 1 baseline + 2 cells run and priced.
    assert "4 ok, 0 failed, 19 from the cache" in capsys.readouterr().out
    assert run_cli(tmp_path, *arguments, "--no-cache")[0] == 0
    assert "from the cache" not in capsys.readouterr().out


def test_the_worker_fingerprint_follows_every_input_file(tmp_path):
    """The checkout's fingerprint a worker must share with the client (not a cache key: each stage's key is made
    from what it reads, tests/test_identity.py)."""
    tree = tmp_path / "tree"
    for top in ("suite", "targets", "scripts/qbench"):
        shutil.copytree(REPO / top, tree / top, ignore=shutil.ignore_patterns("__pycache__"))
    before = fingerprint(tree)
    assert fingerprint(tree) == before
    header = tree / "suite/qnn/include/qnn/qvalue.hpp"
    header.write_text(header.read_text() + "\n")
    assert fingerprint(tree) != before


def test_two_runs_give_identical_results_files_apart_from_timestamps(tmp_path):
    arguments = ["--cores", "cortex-m0plus,cortex-m3,host", "--formats", "q8.8", "--no-cache"]
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    assert run_cli(first, *arguments)[0] == run_cli(second, *arguments)[0] == 0

    def comparable(directory: Path) -> dict:
        out = directory / "out"
        document = json.loads((out / "results.json").read_text())
        for row in document["rows"]:
            row.pop("date")
            for column in ("elf", "flags"):  # the build directories differ
                row[column] = row[column].replace(str(directory), "<tmp>")
        document["environment"].pop("date")
        files = {path.relative_to(out): path.read_bytes() for path in out.rglob("*.csv") if path.name != "results.csv"}
        return {"json": document, **{str(name): content for name, content in files.items()}}

    assert comparable(first) == comparable(second)


def test_shards_merged_equal_the_unsharded_run(tmp_path):
    build = str(tmp_path / "build")
    matrix = ["--cores", "cortex-m0plus,cortex-m4,host", "--formats", "q16.16,q8.8", "--build-dir", build]
    assert qbench_main(["run", *matrix, "--out", str(tmp_path / "whole")]) == 0
    for index in (1, 2):
        assert qbench_main(["run", *matrix, "--shard", f"{index}/2", "--out", str(tmp_path / f"shard{index}")]) == 0
    shard_rows = [len(read_results(tmp_path / f"shard{index}").rows) for index in (1, 2)]
    assert sorted(shard_rows) == [6, 6]
    assert (
        qbench_main(["merge", str(tmp_path / "shard1"), str(tmp_path / "shard2"), "--out", str(tmp_path / "merged")])
        == 0
    )

    def rows(name: str) -> pd.DataFrame:
        frame = read_results(tmp_path / name).rows.drop(columns="date")
        return frame.sort_values(["core", "qformat", "variant"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(rows("whole"), rows("merged"))
    report = (tmp_path / "merged" / "report.md").read_text()
    assert "12 ok, 0 failed of 12 matrix cells" in report


def test_merge_refuses_mixed_toolchains_and_duplicates(tmp_path, capsys, default_matrix_run):
    other = tmp_path / "other"
    shutil.copytree(default_matrix_run.out, other)
    document = json.loads((other / "results.json").read_text())
    document["environment"]["toolchains"]["arm-none-eabi-g++"] = "arm-none-eabi-g++ 13.2.0"
    (other / "results.json").write_text(json.dumps(document))
    with pytest.raises(SystemExit):
        qbench_main(["merge", str(default_matrix_run.out), str(other), "--out", str(tmp_path / "m")])
    assert "refusing to mix arm-none-eabi-g++ versions" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        qbench_main(["merge", str(default_matrix_run.out), str(other), "--out", str(tmp_path / "m"), "--allow-mixed"])
    assert "appears in more than one of the results sets" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "2"])
def test_bad_shards(text, capsys):
    with pytest.raises(SystemExit) as stopped:
        qbench_main(["run", "--shard", text])
    assert stopped.value.code == 2 and "is not a shard" in capsys.readouterr().err


KEY = {
    "library": "qnn",
    "core": "c",
    "qformat": "q16.16",
    "variant": "trainable",
    "opt": "Os",
    "workload": "xor",
    "network": "n",
}


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{**KEY, "status": "ok", "message": "", **row} for row in rows])


def test_change_percent_and_threshold():
    assert change_percent(1000, 1025) == pytest.approx(2.5)
    assert change_percent(1000, 990) == pytest.approx(-1.0)
    assert change_percent(0, 5) is None
    assert parse_threshold("2%") == 2.0 and parse_threshold(" 0.5 ") == 0.5
    with pytest.raises(CompareError):
        parse_threshold("two")


def test_compare_finds_growth_beyond_the_threshold():
    base = frame({"lib_flash": 1000, "instr_forward": 500.0})
    assert compare(base, frame({"lib_flash": 1020, "instr_forward": 500.0}), ("lib_flash",), 2.0).regressions == []
    grown = compare(base, frame({"lib_flash": 1021, "instr_forward": 400.0}), ("lib_flash", "instr_forward"), 2.0)
    assert grown.regressions == ["qnn c q16.16 trainable Os xor: lib_flash 1000 -> 1021 (+2.10 %)"]
    assert list(grown.table["verdict"]) == ["regression", "better"]


def test_compare_fails_on_a_missing_or_failed_row():
    base = frame({"lib_flash": 1000})
    assert compare(base, frame({**KEY, "variant": "inference", "lib_flash": 1}), ("lib_flash",), 2.0).regressions == [
        "qnn c q16.16 trainable Os xor: the row disappeared"
    ]
    failed = frame({"lib_flash": None, "status": "fault", "message": "HardFault: pc=0x00000010"})
    assert compare(base, failed, ("lib_flash",), 2.0).regressions == [
        "qnn c q16.16 trainable Os xor: fault (HardFault: pc=0x00000010)"
    ]


def test_compare_fails_when_a_run_no_longer_learns():
    base = frame({"lib_flash": 1000, "learned": True, "iterations": 1200})
    assert (
        compare(base, frame({"lib_flash": 1000, "learned": True, "iterations": 1300}), ("lib_flash",), 1).regressions
        == []
    )
    assert compare(
        base, frame({"lib_flash": 1000, "learned": False, "iterations": 5000}), ("lib_flash",), 1
    ).regressions == ["qnn c q16.16 trainable Os xor: no longer learns (was learned after 1200 iterations)"]
    inference = frame({"lib_flash": 1000, "learned": True, "iterations": None})
    assert compare(inference, frame({"lib_flash": 1000, "learned": False}), ("lib_flash",), 1).regressions == [
        "qnn c q16.16 trainable Os xor: outputs no longer right"
    ]


def test_compare_command(tmp_path, capsys, default_matrix_run):
    assert qbench_main(["compare", str(default_matrix_run.out), str(default_matrix_run.out)]) == 0
    assert "No regression beyond 2 %" in capsys.readouterr().out
    grown = tmp_path / "grown"
    shutil.copytree(default_matrix_run.out, grown)
    document = json.loads((grown / "results.json").read_text())
    document["rows"][0]["lib_flash"] = int(document["rows"][0]["lib_flash"] * 1.05)
    (grown / "results.json").write_text(json.dumps(document))
    assert qbench_main(["compare", str(default_matrix_run.out), str(grown), "--metric", "lib_flash"]) == 1
    printed = capsys.readouterr().out
    assert "**1 regression(s)** beyond 2 % in lib_flash" in printed and "| regression |" in printed
    with pytest.raises(SystemExit):
        qbench_main(["compare", str(default_matrix_run.out), str(grown), "--metric", "lib_flashh"])
    assert "unknown metric(s) lib_flashh" in capsys.readouterr().err


def test_first_error_prefers_the_compilers_diagnostic_over_echoed_source():
    output = (
        "In file included from suite/workloads/xor/xor.cpp:25:\n"
        "lib/net.hpp:2:22: warning: missing terminating ' character\n"
        "    2 | #error don't build\n"
        "lib/qvalue.hpp:1:1: error: 'this' does not name a type\n"
    )
    assert first_error(output) == "lib/qvalue.hpp:1:1: error: 'this' does not name a type"
    assert first_error("ld: something went wrong\ncollect2: Error 1\n") == "collect2: Error 1"
    assert first_error("") == "no output"
