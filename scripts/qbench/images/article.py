"""The article's own host size measurement, repeated for any library.

"A Neural Network in Under 4KB" sizes its network on the host: one translation
unit instantiating the 2-4-1 Q16.16 network (tanh hidden, sigmoid output) and
exercising it, compiled with `g++ -O3`, the object measured with GNU `size`.
suite/workloads/article/article.cpp is that translation unit; this module
compiles it per library and variant, as an object (`-c`, as the article
measured its objects), and reads text, data and bss as `size` prints them.

Where it differs from the article's measurement:
- Flags: the article's Makefile has `g++ -O3 -std=c++17 -Wall`; here also
  `-fno-exceptions -fno-rtti` (qnn's promise) and the host g++ of today.
- Lookup tables: the article's headline figures put the Q16.16 tanh and
  sigmoid tables in an object of their own (lookupTables.o, 800 B of text).
  qnn computes its one shared table at compile time into the network's own
  object (162 B of read-only data, within text); it cannot be split out.
- Inference weights: qnn's inference-only network points at its weights,
  deployed as a const table (68 B, within text); the article's holds them
  in its own RAM (within bss).
- Training data: the article draws patterns with rand() and logs to a file;
  here the patterns are counted from argc and main returns the learned value.
- A library's own sources (its qbench-library.toml `sources`, such as
  generated lookup tables) are not in the object, as the article's
  lookupTables.o was not in its headline network objects.
- Text includes the x86-64 unwind tables (.eh_frame) that g++ emits by
  default, as the article's unmodified `g++ -O3` also did.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from qbench.common import processes
from qbench.common.paths import REPO, SUITE, shown
from qbench.hardware.toolchain import require, version
from qbench.images.build import first_error
from qbench.images.libraries import Library
from qbench.images.workloads import COMMON
from qbench.models.qformat import parse_format

ARTICLE_SOURCE = SUITE / "workloads" / "article" / "article.cpp"
ARTICLE_FORMAT = parse_format("q16.16")
COMPILER = "g++"
SIZE_TOOL = "size"
# The article's `g++ -O3` in C++17, without exceptions or RTTI; -c: it sized objects, not a linked program.
ARTICLE_FLAGS = ("-std=c++17", "-O3", "-fno-exceptions", "-fno-rtti", "-c")
TIMEOUT_SECONDS = 300.0
VARIANTS = ("trainable", "inference")


@dataclass(frozen=True)
class ArticleReference:
    """The article's figures for one variant, in bytes (its "~" is "about")."""

    text: int
    bss: int


# "Trainable vs. Inference-Only Footprint": g++ -O3, one translation unit.
ARTICLE_FIGURES = {"trainable": ArticleReference(text=5180, bss=640), "inference": ArticleReference(text=1730, bss=208)}


@dataclass(frozen=True)
class ArticleFigure:
    """One library's object, as GNU size reports it (Berkeley format), and how it was built."""

    library: str
    variant: str  # "trainable" or "inference"
    text: int
    data: int
    bss: int
    command: str  # as run from the repository root
    compiler: str  # first line of `g++ --version`


class ArticleError(ValueError):
    """The article's translation unit did not build or measure for a library; the message says why."""


def compile_command(library: Library, variant: str, output: Path) -> list[str]:
    """The compiler command for one variant, with paths relative to the repository."""
    defines = {**library.compile_defines(ARTICLE_FORMAT), "QBENCH_TRAINABLE": "1" if variant == "trainable" else "0"}
    return [
        COMPILER,
        *ARTICLE_FLAGS,
        *(f"-D{name}={value}" for name, value in defines.items()),
        *(f"-I{shown(directory)}" for directory in (*library.include_dirs, COMMON)),
        shown(ARTICLE_SOURCE),
        "-o",
        shown(output),
    ]


def parse_berkeley(output: str) -> tuple[int, int, int]:
    """(text, data, bss) from `size` output for one file: a header line, then the figures."""
    lines = output.strip().splitlines()
    if len(lines) != 2:
        raise ValueError(f"expected a header and one line of figures from size, got {output!r}")
    text, data, bss = (int(word) for word in lines[1].split()[:3])
    return text, data, bss


def measure_variant(library: Library, variant: str, work: Path) -> ArticleFigure:
    """Compiles one variant of the article's translation unit for the library and sizes the object."""
    output = work / library.name / f"article-{variant}.o"
    output.parent.mkdir(parents=True, exist_ok=True)
    command = compile_command(library, variant, output)
    compiled = processes.run([require(COMPILER), *command[1:]], timeout=TIMEOUT_SECONDS, cwd=REPO)
    if compiled.timed_out:
        raise ArticleError(f"{library.name}: the article's {variant} build timed out after {TIMEOUT_SECONDS:.0f} s")
    if compiled.returncode != 0:
        error = first_error(compiled.stderr + compiled.stdout)
        raise ArticleError(f"{library.name}: the article's {variant} build does not compile: {error}")
    sized = processes.run([require(SIZE_TOOL), "--format=berkeley", str(output)], timeout=TIMEOUT_SECONDS)
    if sized.returncode != 0:
        raise ArticleError(f"{library.name}: size could not read {shown(output)}: {sized.stderr.strip()}")
    text, data, bss = parse_berkeley(sized.stdout)
    # The object's own name, not its build folder: the record is the same wherever and whenever it was built.
    recorded = [*command[:-1], output.name]
    return ArticleFigure(library.name, variant, text, data, bss, shlex.join(recorded), version(COMPILER))


def not_measurable(library: Library) -> str | None:
    """Why the article's translation unit cannot be built for a library (it trains in Q16.16 and deploys weights
    in qbench's neuron order), or None."""
    if not (library.computes_in(ARTICLE_FORMAT) and library.supports.training):
        return f"{library.name} does not train in {ARTICLE_FORMAT.name}, which the article's host figures need"
    if library.weight_order != "neuron":
        return f"{library.name} takes weights in {library.weight_order} order; the article's table is in neuron order"
    return None


def measure_article(library: Library, work: Path) -> list[ArticleFigure]:
    """The library's trainable and inference-only figures, built in work/<library name>/."""
    return [measure_variant(library, variant, work) for variant in VARIANTS]


def compare_with_article(figure: ArticleFigure) -> str:
    """One line setting a measured figure beside the article's, e.g.
    'qnn trainable: text 4,181 B vs ~5,180 B (0.81x), bss 172 B vs 640 B (0.27x)'."""
    reference = ARTICLE_FIGURES[figure.variant]
    return (
        f"{figure.library} {figure.variant}: "
        f"text {figure.text:,} B vs ~{reference.text:,} B ({figure.text / reference.text:.2f}x), "
        f"bss {figure.bss:,} B vs {reference.bss:,} B ({figure.bss / reference.bss:.2f}x)"
    )
