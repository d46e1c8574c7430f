"""Section classification (worked out by hand from the ELF flags) and bad input to the size reader."""

from __future__ import annotations

import pytest

from qbench.sizes.elfsize import ALLOC, EXEC, TLS, WRITE, Category, ElfReadError, classify, read_sizes


@pytest.mark.parametrize(
    ("flags", "section_type", "category"),
    [
        (ALLOC | EXEC, "SHT_PROGBITS", Category.CODE),  # .text, .text.foo
        (ALLOC, "SHT_PROGBITS", Category.RODATA),  # .rodata, .vectors
        (ALLOC, "SHT_ARM_EXIDX", Category.RODATA),  # .ARM.exidx: read-only, counted in text by Berkeley size
        (ALLOC | WRITE, "SHT_PROGBITS", Category.DATA),  # .data
        (ALLOC | WRITE, "SHT_INIT_ARRAY", Category.DATA),  # .init_array
        (ALLOC | WRITE, "SHT_NOBITS", Category.BSS),  # .bss
        (ALLOC | WRITE | TLS, "SHT_NOBITS", None),  # .tbss: not a category of its own; flagged
        (ALLOC | WRITE | EXEC, "SHT_PROGBITS", None),  # writable code: flagged, never dropped
        (0, "SHT_PROGBITS", None),  # .comment, debug sections: not allocated
    ],
)
def test_classification_by_flags_and_type(flags, section_type, category):
    assert classify(flags, section_type) == category


def test_section_names_do_not_matter():
    assert classify(ALLOC | EXEC, "SHT_PROGBITS") == classify(ALLOC | EXEC, "SHT_PROGBITS") == Category.CODE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable ELF file"),
        (b"not an elf at all", "not a readable ELF file"),
        (b"\x7fELF\x01\x01\x01" + b"\x00" * 20, "not a readable ELF file"),
    ],
)
def test_corrupt_files_are_reported_by_name(tmp_path, content, message):
    path = tmp_path / "broken.elf"
    path.write_bytes(content)
    with pytest.raises(ElfReadError, match=f"broken.elf: {message}"):
        read_sizes(path)


def test_truncated_image_is_reported_by_name(default_matrix_run, tmp_path):
    image = next(default_matrix_run.build.rglob("firmware.elf")).read_bytes()
    for length in (52, len(image) // 3, len(image) - 1):
        path = tmp_path / f"truncated-{length}.elf"
        path.write_bytes(image[:length])
        with pytest.raises(ElfReadError, match=f"truncated-{length}.elf"):
            read_sizes(path)


def test_missing_file(tmp_path):
    with pytest.raises(ElfReadError, match="no such file"):
        read_sizes(tmp_path / "absent.elf")
