"""The article's host size measurement (qbench.images.article): qnn's figures are sane,
are what GNU size prints, come from the command recorded, and a library whose
header does not compile is named in the error."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from library_copies import qnn_copy
from qbench.common.paths import REPO
from qbench.images.article import (
    ArticleError,
    ArticleFigure,
    compare_with_article,
    measure_article,
    parse_berkeley,
)
from qbench.images.libraries import QNN, parse_library


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("article")


@pytest.fixture(scope="module")
def qnn_figures(work) -> dict[str, ArticleFigure]:
    figures = measure_article(QNN, work)
    return {figure.variant: figure for figure in figures}


def test_the_recorded_command_names_the_object_not_its_build_folder(qnn_figures, work):
    for figure in qnn_figures.values():
        words = shlex.split(figure.command)
        assert words[words.index("-o") + 1] == f"article-{figure.variant}.o"
        assert str(work) not in figure.command


def object_of(figure: ArticleFigure, work: Path) -> Path:
    """The object the recorded command wrote, in the library's folder of work."""
    words = shlex.split(figure.command)
    return work / figure.library / words[words.index("-o") + 1]


def size_by_hand(path: Path) -> tuple[int, int, int]:
    return parse_berkeley(subprocess.run(["size", str(path)], capture_output=True, text=True, check=True).stdout)


def test_both_variants_are_measured_for_qnn(qnn_figures):
    assert set(qnn_figures) == {"trainable", "inference"}
    for variant, figure in qnn_figures.items():
        assert (figure.library, figure.variant) == ("qnn", variant)
        assert figure.text > 0 and figure.data >= 0 and figure.bss > 0
        assert figure.compiler.startswith("g++")
        words = shlex.split(figure.command)
        assert words[0] == "g++" and "-c" in words and "suite/workloads/article/article.cpp" in words
        for flag in ("-std=c++17", "-O3", "-fno-exceptions", "-fno-rtti"):
            assert flag in words
        assert f"-DQBENCH_TRAINABLE={int(variant == 'trainable')}" in words


def test_inference_only_is_smaller_than_trainable(qnn_figures):
    trainable, inference = qnn_figures["trainable"], qnn_figures["inference"]
    assert inference.text < trainable.text
    assert inference.bss < trainable.bss


def test_figures_are_what_size_prints(qnn_figures, work):
    for figure in qnn_figures.values():
        assert size_by_hand(object_of(figure, work)) == (figure.text, figure.data, figure.bss)


def test_recorded_command_rebuilds_the_same_object(qnn_figures, tmp_path):
    for figure in qnn_figures.values():
        words = shlex.split(figure.command)
        rebuilt = tmp_path / f"{figure.variant}.o"
        words[words.index("-o") + 1] = str(rebuilt)
        subprocess.run(words, cwd=REPO, capture_output=True, text=True, check=True)
        assert size_by_hand(rebuilt) == (figure.text, figure.data, figure.bss)


def test_a_library_whose_header_does_not_compile_is_named(tmp_path):
    copy = qnn_copy(tmp_path / "broken", "brokennn")
    header = copy / "include" / "qnn" / "qnn.hpp"
    header.write_text(header.read_text() + "\n#error this copy of qnn is broken on purpose\n")
    with pytest.raises(ArticleError) as raised:
        measure_article(parse_library(f"broken={copy}"), tmp_path / "work")
    message = str(raised.value)
    assert message.startswith("broken:")
    assert "error: #error this copy of qnn is broken on purpose" in message


def test_comparison_gives_the_ratio_to_the_articles_figure():
    figure = ArticleFigure("qnn", "trainable", text=2590, data=8, bss=160, command="g++ ...", compiler="g++ 12")
    assert compare_with_article(figure) == (
        "qnn trainable: text 2,590 B vs ~5,180 B (0.50x), bss 160 B vs 640 B (0.25x)"
    )
