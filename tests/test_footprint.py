"""The footprint matrix end to end: every image built in the test run measures
exactly as GNU size does, library cost is image minus baseline, symbols add up,
and the results and report say what they should."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from expected_cores import ALL_CORES, CORTEX_M_CORES
from qbench.commands.cli import main as qbench_main
from qbench.hardware.targets import load_targets
from qbench.records.results import ROW_COLUMNS, read_results
from qbench.sizes.elfsize import Category, read_sizes
from qbench.sizes.symbols import UNATTRIBUTED, attribute

REQUIRED_COLUMNS = (
    "core board qformat variant opt workload status lib_code lib_rodata lib_data lib_bss lib_flash lib_ram_static "
    "img_code img_rodata img_data img_bss img_flash img_ram_static elf flags toolchain git_sha"
).split()


def images(run) -> list[Path]:
    found = [
        path
        for path in sorted(run.build.rglob("firmware.elf")) + sorted(run.build.rglob("workload.o"))
        if "cache" not in path.relative_to(run.build).parts
    ]
    assert len(found) == 36 + 9  # 9 cores x 2 formats x 2 variants, plus one baseline per core
    return found


def size_tool(path: Path) -> str:
    targets = load_targets()
    core = next(part for part in path.parts if part in targets)
    return targets[core].size_tool


def gnu_size_sections(path: Path) -> dict[str, int]:
    """`size -A`: section name -> size."""
    output = subprocess.run([size_tool(path), "-A", str(path)], capture_output=True, text=True, check=True).stdout
    sections = {}
    for line in output.splitlines()[2:]:
        words = line.split()
        if len(words) == 3 and words[0] != "Total":
            sections[words[0]] = sections.get(words[0], 0) + int(words[1])
    return sections


def gnu_size_berkeley(path: Path) -> tuple[int, int, int]:
    line = subprocess.run([size_tool(path), str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[
        1
    ]
    text, data, bss = (int(word) for word in line.split()[:3])
    return text, data, bss


def test_default_matrix_succeeds(default_matrix_run):
    assert default_matrix_run.exit_status == 0
    rows = read_results(default_matrix_run.out).rows
    assert len(rows) == 36 and set(rows["status"]) == {"ok"}
    assert set(rows["core"]) == set(ALL_CORES)
    assert set(rows["qformat"]) == {"q16.16", "q8.8"} and set(rows["variant"]) == {"trainable", "inference"}


def test_every_image_measures_exactly_as_gnu_size(default_matrix_run):
    for path in images(default_matrix_run):
        sizes = read_sizes(path)
        gnu = gnu_size_sections(path)
        assert {s.name: s.size for s in sizes.sections if s.size} == {
            n: z for n, z in gnu.items() if n in {s.name for s in sizes.sections} and z
        }, path
        # Berkeley size: text = code + rodata (all read-only allocated), data, bss.
        assert gnu_size_berkeley(path) == (sizes.code + sizes.rodata, sizes.data, sizes.bss), path
        assert sizes.unclassified == ()


def test_library_cost_is_image_minus_baseline(default_matrix_run):
    rows = read_results(default_matrix_run.out).rows
    for row in rows.itertuples():
        elf = Path(row.elf)
        baseline = read_sizes(default_matrix_run.build / "empty" / row.core / row.opt / "baseline" / elf.name)
        image = read_sizes(elf)
        assert row.img_flash == image.flash and row.img_ram_static == image.ram_static
        assert row.lib_code == image.code - baseline.code
        assert row.lib_rodata == image.rodata - baseline.rodata
        assert row.lib_data == image.data - baseline.data
        assert row.lib_bss == image.bss - baseline.bss
        assert row.lib_flash == row.lib_code + row.lib_rodata + row.lib_data
        assert row.lib_ram_static == row.lib_data + row.lib_bss


def test_results_files_hold_every_required_column(default_matrix_run):
    csv = pd.read_csv(default_matrix_run.out / "results.csv")
    assert set(REQUIRED_COLUMNS) <= set(csv.columns)
    document = json.loads((default_matrix_run.out / "results.json").read_text())
    assert len(document["rows"]) == len(csv) and set(document["rows"][0]) == set(ROW_COLUMNS)
    assert re.fullmatch(r"[0-9a-f]{40}", document["environment"]["git_sha"])
    for row in document["rows"]:
        assert row["toolchain"] and f"-{row['opt']}" in row["flags"].split()
        for flag in ("-ffunction-sections", "-fdata-sections", "-fno-exceptions", "-fno-rtti"):
            assert flag in row["flags"].split()
        if row["core"] != "host":
            assert "-Wl,--gc-sections" in row["flags"].split()


def test_symbol_groups_add_up_to_section_totals(default_matrix_run):
    for path in images(default_matrix_run):
        sizes = read_sizes(path)
        symbols = attribute(path, sizes)
        for category in Category:
            assert sum(s.size for s in symbols if s.category == category) == sizes.total(category), (path, category)
        assert all(s.size > 0 for s in symbols)
        if path.name == "firmware.elf":  # objects carry unsymbolised unwind tables
            assert sum(s.size for s in symbols if s.name == UNATTRIBUTED) < sizes.flash / 4


def test_fixed_point_images_link_no_floating_point_code(default_matrix_run):
    symbols = read_results(default_matrix_run.out).symbols.frame()
    cortex_m = symbols[symbols["core"].isin(CORTEX_M_CORES)]
    floating = cortex_m[cortex_m["symbol"].str.match(r"^__(aeabi_[df]|.*(df|sf)\d?$)|^(tanh|exp|sqrt)f?$")]
    assert floating.empty, floating["symbol"].unique()


def test_network_tables_and_state_are_attributed(default_matrix_run):
    symbols = read_results(default_matrix_run.out).symbols.frame()
    m0 = symbols[(symbols["core"] == "cortex-m0plus") & (symbols["qformat"] == "q16.16")]
    by_variant = {variant: frame for variant, frame in m0.groupby("variant")}
    # Trainable: weights, outputs, previous changes, inputs, learning rate and momentum (43 values);
    # inference-only: a pointer to the weights in flash and the 5 outputs.
    for variant, network_bytes in (("trainable", 43 * 4), ("inference", 4 + 5 * 4)):
        frame = by_variant[variant]
        assert frame[frame["group"] == "activation tables"]["size"].sum() == 162
        assert frame[frame["group"] == "network object"]["size"].sum() == network_bytes
    assert by_variant["inference"][by_variant["inference"]["group"] == "deployed weights"]["size"].sum() == 17 * 4
    baseline = symbols[(symbols["core"] == "cortex-m0plus") & (symbols["variant"] == "baseline")]
    assert not baseline.empty and baseline[baseline["group"].isin(["qnn", "activation tables"])].empty


def test_footprint_report_sections(default_matrix_run):
    report = (default_matrix_run.out / "report.md").read_text()
    for heading in (
        "## Footprint",
        "### Inference-only against trainable",
        "## Part budgets",
        "## Where the bytes go",
        "## Trainable against inference-only",
        "## Provenance",
    ):
        assert heading in report
    assert "STM32L011K4" in report and "qnn::TanhTable<…>::entries" in report
    assert "_No data._" not in report
    # Nothing ran (--no-emulate): the sections that need a run are left out, not printed empty.
    assert "## Speed" not in report and "## Failures" not in report


def test_report_command_regenerates_the_same_report(default_matrix_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(default_matrix_run.out, copy)
    (copy / "report.md").unlink()
    assert qbench_main(["report", str(copy)]) == 0
    assert (copy / "report.md").read_text() == (default_matrix_run.out / "report.md").read_text()


def test_rebuild_gives_byte_identical_images(default_matrix_run, tmp_path):
    assert qbench_main(["build", "--cores", "cortex-m0plus", "--formats", "q16.16", "--build-dir", str(tmp_path)]) == 0
    for again in (path for path in tmp_path.rglob("firmware.elf") if "cache" not in path.parts):
        first = default_matrix_run.build / again.relative_to(tmp_path)
        assert again.read_bytes() == first.read_bytes(), again


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--cores", "cortex-m9,cortex-m0plus"], "--cores: unknown core 'cortex-m9'"),
        (["--formats", "q1616,q8.8", "--cores", "cortex-m0plus"], "'q1616' is not a Q format"),
        (["--variants", "training,inference", "--cores", "cortex-m0plus"], "unknown variant 'training'"),
    ],
)
def test_a_bad_name_refuses_the_whole_command_before_anything_is_built(tmp_path, capsys, arguments, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stopped:
        qbench_main(["run", "--no-emulate", "--out", str(out), "--build-dir", str(tmp_path / "b"), *arguments])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert message in error and "; did you mean " in error and "(nothing was run)" in error
    assert not out.exists() and not (tmp_path / "b").exists()


def test_cells_a_target_cannot_build_are_rows_with_a_reason(tmp_path):
    out = tmp_path / "out"
    status = qbench_main(
        [
            "run",
            "--no-emulate",
            "--out",
            str(out),
            "--build-dir",
            str(tmp_path / "b"),
            "--cores",
            "cortex-m0plus,host",
            "--formats",
            "q32.32,uq8.8,q16.16",
            "--variants",
            "inference",
        ]
    )
    assert status == 1
    rows = read_results(out).rows.set_index(["core", "qformat"])
    assert rows.loc[("cortex-m0plus", "q32.32"), "status"] == "invalid"
    assert "up to 32 bits" in rows.loc[("cortex-m0plus", "q32.32"), "message"]
    assert rows.loc[("host", "q32.32"), "status"] == "ok"  # the host has 128-bit products
    assert "need a signed Q format" in rows.loc[("cortex-m0plus", "uq8.8"), "message"]
    assert rows.loc[("cortex-m0plus", "q16.16"), "status"] == "ok"
    assert pd.isna(rows.loc[("cortex-m0plus", "q32.32"), "lib_flash"])
    assert "## Failures" in (out / "report.md").read_text()


def test_nothing_buildable_is_an_error_not_an_empty_table(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        qbench_main(["run", "--no-emulate", "--out", str(tmp_path), "--cores", "cortex-m9"])
    assert stopped.value.code == 2
    assert "unknown core 'cortex-m9'" in capsys.readouterr().err
    assert not (tmp_path / "results.csv").exists()
