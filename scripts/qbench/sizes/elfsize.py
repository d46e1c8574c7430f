"""Section sizes of an ELF image or object, classified by flags and type.

One table decides the category of every allocated section from its ELF
attributes, never its name, so `.text.foo` from -ffunction-sections counts as
code and a renamed section cannot slip through. An allocated section no rule
matches is kept as 'unclassified' and named, never dropped. The figures equal
`size -A` section by section; Berkeley `size` reports text = code + rodata.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile


class ElfReadError(ValueError):
    """A file the size reader cannot read as ELF; the message names the file."""


class Category(StrEnum):
    CODE = "code"
    RODATA = "rodata"
    DATA = "data"
    BSS = "bss"


ALLOC, WRITE, EXEC, TLS = SH_FLAGS.SHF_ALLOC, SH_FLAGS.SHF_WRITE, SH_FLAGS.SHF_EXECINSTR, SH_FLAGS.SHF_TLS


@dataclass(frozen=True)
class SectionRule:
    category: Category
    required: int  # flags that must be set
    forbidden: int  # flags that must be clear
    nobits: bool  # whether the section occupies no file space (SHT_NOBITS)


# First match wins. Flash = code + rodata + data (its initial values); static RAM = data + bss.
SECTION_RULES = (
    SectionRule(Category.CODE, ALLOC | EXEC, WRITE | TLS, nobits=False),
    SectionRule(Category.RODATA, ALLOC, WRITE | EXEC | TLS, nobits=False),
    SectionRule(Category.DATA, ALLOC | WRITE, EXEC | TLS, nobits=False),
    SectionRule(Category.BSS, ALLOC | WRITE, EXEC | TLS, nobits=True),
)


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    category: Category | None  # None: allocated but matched by no rule
    size: int
    address: int


@dataclass(frozen=True)
class ImageSizes:
    sections: tuple[Section, ...]  # every allocated section

    def total(self, category: Category) -> int:
        return sum(section.size for section in self.sections if section.category == category)

    @property
    def code(self) -> int:
        return self.total(Category.CODE)

    @property
    def rodata(self) -> int:
        return self.total(Category.RODATA)

    @property
    def data(self) -> int:
        return self.total(Category.DATA)

    @property
    def bss(self) -> int:
        return self.total(Category.BSS)

    @property
    def flash(self) -> int:
        return self.code + self.rodata + self.data

    @property
    def ram_static(self) -> int:
        return self.data + self.bss

    @property
    def unclassified(self) -> tuple[Section, ...]:
        return tuple(section for section in self.sections if section.category is None)


def classify(flags: int, section_type: str) -> Category | None:
    nobits = section_type == "SHT_NOBITS"
    for rule in SECTION_RULES:
        if flags & rule.required == rule.required and not flags & rule.forbidden and nobits == rule.nobits:
            return rule.category
    return None


def open_elf(stream) -> ELFFile:
    """ELFFile, or ElfReadError for anything that is not a readable ELF file."""
    try:
        elf = ELFFile(stream)
        elf.num_sections()
        return elf
    except (ELFError, EOFError, ValueError, OSError) as error:
        raise ElfReadError(f"{getattr(stream, 'name', 'file')}: not a readable ELF file ({error})") from None


def read_sizes(path: Path) -> ImageSizes:
    try:
        with path.open("rb") as stream:
            elf = open_elf(stream)
            sections = []
            for index, section in enumerate(elf.iter_sections()):
                if section["sh_flags"] & ALLOC:
                    sections.append(
                        Section(
                            index,
                            section.name,
                            classify(section["sh_flags"], section["sh_type"]),
                            section["sh_size"],
                            section["sh_addr"],
                        )
                    )
    except FileNotFoundError:
        raise ElfReadError(f"{path}: no such file") from None
    except ElfReadError:
        raise
    except Exception as error:  # pyelftools reports truncation in many ways
        raise ElfReadError(f"{path}: not a readable ELF file ({type(error).__name__}: {error})") from None
    return ImageSizes(tuple(sections))
