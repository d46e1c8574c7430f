"""Target and part files: the shipped ones load; malformed ones name the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from expected_cores import ALL_CORES
from qbench.common.paths import TARGETS
from qbench.hardware.targets import TargetError, load_parts, load_targets

QEMU_MACHINES = {
    "cortex-m0": "microbit",
    "cortex-m0plus": "microbit",
    "cortex-m3": "mps2-an385",
    "cortex-m4": "mps2-an386",
    "cortex-m4f": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
}


def test_shipped_targets_load():
    targets = load_targets()
    assert set(targets) == set(ALL_CORES)
    for name, machine in QEMU_MACHINES.items():
        target = targets[name]
        assert target.qemu_machine == machine and target.memory is not None and target.clock_hz
        assert f"-mcpu={name.removesuffix('f')}" in target.cflags and "-mthumb" in target.cflags
        assert all(path.exists() for path in target.startup) and target.linker_script.exists()
    assert "-mfloat-abi=soft" in targets["cortex-m4"].cflags and "-mfloat-abi=hard" in targets["cortex-m4f"].cflags
    assert (
        targets["cortex-m33"].memory.flash_origin == 0x10000000
        and targets["cortex-m33"].memory.ram_origin == 0x38000000
    )
    assert targets["host"].object_only and not targets["host"].emulated


def test_shipped_parts_load_with_the_articles_part():
    parts = load_parts(load_targets())
    assert len(parts) >= 8
    for name in (
        "STM32L011K4",
        "STM32L031K6",
        "nRF51822-QFAA",
        "ATSAMD21G18",
        "STM32F103C8",
        "STM32F411CE",
        "nRF52840",
        "STM32H743ZI",
    ):
        assert name in parts
    article = parts["STM32L011K4"]
    assert (article.core, article.flash_bytes, article.ram_bytes, article.clock_hz) == (
        "cortex-m0plus",
        16 * 1024,
        2 * 1024,
        32_000_000,
    )


@pytest.fixture
def targets_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "targets"
    shutil.copytree(TARGETS, copy)
    return copy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "cortex-m3"\nflags = 1\n', "cortex-m3.toml: 'flags' is not a known key"),
        ("name = [\n", "cortex-m3.toml: not valid TOML"),
        ('name = "cortex-m3"\ndescription = 1\n', "'description' is 1; allowed: a string"),
        (
            'name = "cortex-m3"\ndescription = "d"\nfamily = "cortex-m"\nboard = "b"\nclock_hz = 1\n'
            "[memory]\nflash_origin = 0\n",
            "'memory.flash_length' is required",
        ),
        ('name = "cortex-m3"\nfamily = "riscv"\n', "'family' is 'riscv'; allowed: a file in"),
        (
            'name = "other"\ndescription = "d"\nboard = "b"\ncompiler = "g++"\nsize_tool = "size"\n'
            "max_format_bits = 32\nobject_only = true\n",
            "it must match the file name",
        ),
        (
            'name = "cortex-m3"\n[memory]\nflash_origin = "0x0"\n',
            "'memory.flash_origin' is '0x0'; allowed: a whole number",
        ),
    ],
)
def test_malformed_target_file_names_file_and_key(targets_copy, text, message):
    (targets_copy / "cores" / "cortex-m3.toml").write_text(text)
    with pytest.raises(TargetError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_targets(targets_copy)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[X1]\ncore = "cortex-m9"\nflash_kib = 1\nram_kib = 1\nclock_mhz = 1\n',
            "'X1.core' is 'cortex-m9'; allowed: a known core",
        ),
        ('[X1]\ncore = "cortex-m0"\nram_kib = 1\nclock_mhz = 1\n', "'X1.flash_kib' is required"),
        (
            '[X1]\ncore = "cortex-m0"\nflash_kib = "16"\nram_kib = 1\nclock_mhz = 1\n',
            "'X1.flash_kib' is '16'; allowed: a whole number",
        ),
        ('[X1]\ncore = "cortex-m0"\nflash = 1\n', "'X1.flash' is not a known key"),
        ("X1 = 3\n", "'X1' is 3; allowed: a table"),
    ],
)
def test_malformed_parts_file_names_file_and_key(targets_copy, text, message):
    (targets_copy / "parts.toml").write_text(text)
    with pytest.raises(TargetError, match=message):
        load_parts(load_targets(targets_copy), targets_copy / "parts.toml")


def test_a_new_core_is_a_data_change(targets_copy):
    (targets_copy / "cores" / "cortex-m3-small.toml").write_text(
        (targets_copy / "cores" / "cortex-m3.toml")
        .read_text()
        .replace('name = "cortex-m3"', 'name = "cortex-m3-small"')
        .replace("ram_length = 0x400000", "ram_length = 0x2000")
    )
    target = load_targets(targets_copy)["cortex-m3-small"]
    assert target.memory.ram_length == 0x2000 and "-mcpu=cortex-m3" in target.cflags
