"""Bytes attributed by the source files the DWARF names (qbench.sizes.dwarf): -g changes no loaded byte, code a
library's header inlines into the harness counts as the library's, a library's read-only data are its tables,
and every byte of a real image is counted once."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from qbench.commands.cli import main as qbench_main
from qbench.common.paths import REPO
from qbench.hardware.toolchain import require
from qbench.images.libraries import QNN, Library
from qbench.records.results import SymbolRow, symbols_frame
from qbench.reporting.analysis import attribution_differences
from qbench.sizes.dwarf import Owner, Places, read_origins
from qbench.sizes.elfsize import ALLOC, Category, open_elf, read_sizes
from qbench.sizes.symbols import TABLES_GROUP, UNATTRIBUTED, attribute

CORES = ("cortex-m0plus", "cortex-m4")

TINY_HEADER = """\
namespace tiny {
extern const int table[8];
__attribute__((always_inline)) inline int mix(int value, int rounds) {
    for (int round = 0; round < rounds; ++round) {
        value = (value * 31 + (value >> 3)) ^ table[(value + round) & 7];
    }
    return value;
}
}  // namespace tiny
"""
TINY_TABLE = '#include "tiny.hpp"\nnamespace tiny {\nconst int table[8] = {3, 1, 4, 1, 5, 9, 2, 6};\n}\n'
HARNESS = """\
#include "tiny.hpp"
volatile int sink;
int main() {
    sink = tiny::mix(sink, 5);
    return 0;
}
extern "C" void start() {
    main();
    for (;;) {
    }
}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """qnn's XOR images, Q16.16 trainable and inference, for cortex-m0plus and cortex-m4: the build folder."""
    root = tmp_path_factory.mktemp("dwarf")
    arguments = ["build", "--cores", ",".join(CORES), "--formats", "q16.16", "--build-dir", str(root)]
    assert qbench_main(arguments) == 0
    return root


def firmware(root: Path) -> list[Path]:
    found = [path for path in sorted(root.rglob("firmware.elf")) if "cache" not in path.relative_to(root).parts]
    assert found
    return found


def loaded(path: Path) -> list[tuple[str, int, int, bytes]]:
    """Every allocated section: name, address, size and contents (none for a section that occupies no file)."""
    with path.open("rb") as stream:
        elf = open_elf(stream)
        return [
            (
                section.name,
                section["sh_addr"],
                section["sh_size"],
                b"" if section["sh_type"] == "SHT_NOBITS" else section.data(),
            )
            for section in elf.iter_sections()
            if section["sh_flags"] & ALLOC
        ]


def test_debug_information_changes_no_loaded_byte(built, tmp_path):
    """Each image compiled again by its own recorded command without -g loads exactly the same bytes."""
    for path in firmware(built):
        if "trainable" not in path.parent.name:
            continue
        command = (path.parent / "build.log").read_text().splitlines()[0].split(" ")  # as build() wrote it
        assert "-g" in command
        plain = tmp_path / f"{path.parent.parent.parent.parent.name}-{path.parent.name}.elf"
        command = [word for word in command if word != "-g"]
        command[command.index("-o") + 1] = str(plain)
        subprocess.run([require(command[0]), *command[1:]], cwd=REPO, check=True, capture_output=True)
        assert loaded(plain) == loaded(path), path
        plain_sizes, sizes = read_sizes(plain), read_sizes(path)
        assert (plain_sizes.flash, plain_sizes.ram_static) == (sizes.flash, sizes.ram_static)


def test_every_byte_is_attributed_once(built):
    for path in firmware(built):
        sizes = read_sizes(path)
        symbols = attribute(path, sizes, QNN)
        for category in Category:
            assert sum(s.size for s in symbols if s.category == category) == sizes.total(category), (path, category)
        code = [(section.address, section.size) for section in sizes.sections if section.category is Category.CODE]
        with path.open("rb") as stream:
            origins = read_origins(open_elf(stream), code, Places.of(QNN, path.parent))
        assert origins is not None
        by_owner = sum((origins.code(start, start + size) for start, size in code), Counter())
        assert sum(by_owner.values()) == sizes.code, path
        if "baseline" not in path.parent.name:
            assert by_owner[Owner.LIBRARY] > 0 and by_owner[Owner.HARNESS] > 0, path


def test_qnn_code_inlined_into_the_harness_is_qnns(built):
    for path in firmware(built):
        if "baseline" in path.parent.name:
            continue
        symbols = attribute(path, read_sizes(path), QNN)
        inlined = [s for s in symbols if s.name.startswith("<inlined into ")]
        assert any(s.group == "qnn" and s.prefix_group == "workload harness" for s in inlined), path
        assert all(s.name != UNATTRIBUTED or s.group == UNATTRIBUTED for s in symbols)


def compile_tiny(root: Path) -> tuple[Path, Library]:
    """A harness whose main inlines a function of a tiny library's header, and the library's table."""
    library = root / "tiny"
    library.mkdir()
    (library / "tiny.hpp").write_text(TINY_HEADER)
    (library / "table.cpp").write_text(TINY_TABLE)
    image = root / "image"
    image.mkdir()
    (image / "main.cpp").write_text(HARNESS)
    output = image / "firmware.elf"
    flags = [
        "-mthumb",
        "-mcpu=cortex-m0plus",
        "-Os",
        "-g",
        "-ffunction-sections",
        "-fdata-sections",
        "-nostdlib",
        "-Wl,--gc-sections",
        "-Wl,-estart",
        f"-I{library}",
    ]
    command = [require("arm-none-eabi-g++"), *flags, str(image / "main.cpp"), str(library / "table.cpp"), "-o"]
    subprocess.run([*command, str(output)], check=True, capture_output=True, text=True)
    tiny = Library("tiny", library, (library,), "tiny.hpp", ("tiny::",), (library / "table.cpp",))
    return output, tiny


def test_a_librarys_inlined_code_and_its_tables_are_its_own(tmp_path):
    path, tiny = compile_tiny(tmp_path)
    symbols = attribute(path, read_sizes(path), tiny)
    inlined = [s for s in symbols if s.name == "<inlined into main>"]
    assert inlined and all(s.group == "tiny" and s.prefix_group == "workload harness" for s in inlined), symbols
    assert sum(s.size for s in inlined) >= 8
    main = [s for s in symbols if s.name == "main"]
    assert main and main[0].group == "workload harness"
    table = next(s for s in symbols if s.name == "tiny::table")
    assert (table.group, table.prefix_group, table.size) == (TABLES_GROUP, "tiny", 32)


def test_the_cross_check_lists_the_bytes_the_names_would_group_elsewhere():
    image = {
        "core": "cortex-m0plus",
        "qformat": "q16.16",
        "variant": "trainable",
        "opt": "Os",
        "workload": "xor",
        "library": "qnn",
        "network": "2-4-1 tanh/sigmoid",
    }
    rows = [
        SymbolRow(
            **image, symbol="main", group="workload harness", category="code", size=460, prefix_group="workload harness"
        ),
        SymbolRow(
            **image,
            symbol="<inlined into main>",
            group="qnn",
            category="code",
            size=92,
            prefix_group="workload harness",
        ),
        SymbolRow(
            **image,
            symbol="<inlined into forward>",
            group="qnn",
            category="code",
            size=30,
            prefix_group="workload harness",
        ),
        SymbolRow(**image, symbol="written before", group="qnn", category="code", size=7),
    ]
    differences = attribution_differences(symbols_frame(rows))
    assert differences[["by symbol names", "by source files", "bytes"]].values.tolist() == [
        ["workload harness", "qnn", 122]
    ]
    assert attribution_differences(symbols_frame(rows[:1] + rows[3:])).empty
