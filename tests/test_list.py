"""`qbench list`: every core, part, workload, format and library qbench can build, with the facts that decide
a choice, read from the same files a run reads (checked here against those files, read independently)."""

from __future__ import annotations

import shutil
import tomllib
from importlib.metadata import version as package_version

import pytest

from qbench.commands import listing
from qbench.commands.cli import main as qbench_main
from qbench.common.paths import SUITE, TARGETS
from qbench.images.workloads import WORKLOADS, Workloads


def listed(capsys, *arguments: str) -> str:
    assert qbench_main(["list", *arguments]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def row(text: str, first: str) -> list[str]:
    """The cells of the table row that starts with `first` (columns are separated by two or more spaces)."""
    lines = [line for line in text.splitlines() if line.split("  ")[0].strip() == first]
    assert len(lines) == 1, f"{first!r} is not one row of:\n{text}"
    return [cell.strip() for cell in lines[0].split("  ") if cell.strip()]


def test_cores_show_their_flags_emulated_cpu_machine_and_clock(capsys):
    text = listed(capsys, "cores")
    family = tomllib.loads((TARGETS / "families" / "cortex-m.toml").read_text())
    paths = sorted((TARGETS / "cores").glob("*.toml"))
    assert len(paths) >= 9
    for path in paths:
        core = tomllib.loads(path.read_text())
        cells = row(text, core["name"])
        if core.get("object_only"):
            assert cells[1].startswith(core["compiler"]) and f"{core['max_format_bits']} bits" in cells
            continue
        flags = cells[1].split()
        assert [flag for flag in core["cflags"] if flag.startswith(("-mcpu=", "-mfpu=", "-mfloat-abi="))] == flags
        hard = "-mfloat-abi=hard" in core["cflags"]
        assert cells[2].startswith("hard-float" if hard else "soft-float")
        assert cells[3:6] == [core["qemu"]["cpu"], core["qemu"]["machine"], f"{core['clock_hz'] / 1e6:g} MHz"]
        assert cells[6] == f"{core.get('max_format_bits', family['max_format_bits'])} bits"
    # QEMU has no Cortex-M0+: its row says which CPU runs its code.
    assert row(text, "cortex-m0plus")[3] == "cortex-m0"


def test_a_core_added_to_the_targets_is_listed(tmp_path, capsys):
    targets = tmp_path / "targets"
    shutil.copytree(TARGETS, targets)
    text = (targets / "cores" / "cortex-m4.toml").read_text()
    (targets / "cores" / "cortex-m4x.toml").write_text(
        text.replace('name = "cortex-m4"', 'name = "cortex-m4x"').replace("84_000_000", "120_000_000")
    )
    cells = row(listed(capsys, "cores", "--targets", str(targets)), "cortex-m4x")
    assert cells[1] == "-mcpu=cortex-m4 -mfloat-abi=soft" and cells[5] == "120 MHz"


def test_parts_show_core_flash_ram_and_clock(capsys):
    text = listed(capsys, "parts")
    parts = tomllib.loads((TARGETS / "parts.toml").read_text())
    assert parts
    for name, part in parts.items():
        cells = row(text, name)
        assert cells[2:6] == [
            part["core"],
            f"{part['flash_kib']} KiB",
            f"{part['ram_kib']} KiB",
            f"{part['clock_mhz']} MHz",
        ]


def test_workloads_show_their_network_test_samples_and_default_variants(capsys):
    text = listed(capsys, "workloads")
    assert row(text, "xor")[1:6] == ["2", "1", "2-4-1 tanh/sigmoid", "4 (the truth table)", "trainable,inference"]
    for name, inputs, outputs, samples in (("iris", 4, 3, 45), ("digits", 64, 10, 539)):
        network = tomllib.loads((SUITE / "workloads" / name / "workload.toml").read_text())["network"]
        shape = f"{inputs}-{network['hidden_neurons']}-{outputs}"
        cells = row(text, name)
        assert cells[1:6] == [str(inputs), str(outputs), f"{shape} tanh/sigmoid", str(samples), "inference"]
        assert "trained on the host" in cells[6]


def test_a_workload_that_cannot_be_read_is_named_and_the_others_listed(tmp_path, monkeypatch, capsys):
    root = tmp_path / "workloads"
    (root / "broken").mkdir(parents=True)
    (root / "broken" / "workload.toml").write_text("[data]\ndataset = 'iris'\n")
    monkeypatch.setattr(listing, "WORKLOADS", Workloads(root, {"xor": WORKLOADS["xor"]}))
    text = listed(capsys, "workloads")
    assert "cannot be used" in row(text, "broken")[-1] and "workload.toml" in row(text, "broken")[-1]
    assert row(text, "xor")[5] == "trainable,inference"


def test_formats_show_the_defaults_float32_and_how_to_write_others(capsys):
    text = listed(capsys, "formats")
    assert text.startswith("Formats (--formats, default: q16.16,q8.8):")
    assert row(text, "q16.16")[1:3] == ["yes", "32"] and row(text, "q8.8")[1:3] == ["yes", "16"]
    assert row(text, "q8.8")[4] == "-128 to 127.99609375"
    assert row(text, "float32")[1:3] == ["32", "IEEE 754 binary32"]  # not a default: no "yes"
    prose = " ".join(text.split())
    assert "written qI.F (signed) or uqI.F (unsigned)" in prose
    assert "32 bits on cortex-m0, cortex-m0plus" in prose and "64 bits on host" in prose
    assert (
        "float32 is soft-float on cortex-m0, cortex-m0plus, cortex-m3, cortex-m4 and hard-float on "
        "cortex-m4f, cortex-m7, cortex-m33, cortex-m55." in prose
    )


def test_libraries_show_what_each_supports_and_its_package(capsys, monkeypatch):
    text = listed(capsys, "libraries")
    assert row(text, "qnn")[1:4] == ["yes", "yes", "yes"] and row(text, "qnn")[5] == "neuron"
    emlearn = tomllib.loads((SUITE / "libraries" / "emlearn" / "qbench-library.toml").read_text())["supports"]
    cells = row(text, "emlearn")
    yes = {True: "yes", False: "no"}
    assert cells[1:4] == [yes[emlearn["fixed_point"]], yes[emlearn["float32"]], yes[emlearn["training"]]]
    assert cells[4] == yes[emlearn.get("narrow_weights", False)]
    assert cells[6] == f"PyPI package emlearn {package_version('emlearn')}"
    monkeypatch.setattr(listing.importlib.util, "find_spec", lambda name: None)
    assert row(listed(capsys, "libraries"), "emlearn")[6] == (
        "PyPI package emlearn: not installed (scripts/setup installs it)"
    )


def test_list_without_a_kind_lists_everything_and_a_bad_kind_names_the_kinds(capsys):
    text = listed(capsys)
    assert [line.split(" (")[0] for line in text.splitlines() if line.endswith("):")] == [
        "Cores",
        "Parts",
        "Workloads",
        "Formats",
        "Libraries",
    ]
    with pytest.raises(SystemExit) as stopped:
        qbench_main(["list", "boards"])
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and "invalid choice: 'boards' (choose from" in error
    assert all(kind in error for kind in ("cores", "parts", "workloads", "formats", "libraries"))


def test_a_malformed_targets_directory_is_one_error(tmp_path, capsys):
    targets = tmp_path / "targets"
    shutil.copytree(TARGETS, targets)
    (targets / "cores" / "cortex-m3.toml").write_text('name = "cortex-m3"\n')
    with pytest.raises(SystemExit) as stopped:
        qbench_main(["list", "cores", "--targets", str(targets)])
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and "cortex-m3.toml" in error and "Traceback" not in error
