"""The XOR workload built for the host: it trains exactly as the Python
reference model predicts, and the inference-only build is smaller."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from host_build import REPO, compile_or_fail
from qbench.execution.protocol import parse_report
from qbench.images.libraries import QNN
from qbench.images.workloads import COMMON, DEFAULT_SETTINGS, WORKLOADS, Workload, WorkloadSettings, weights_include
from qbench.models.qformat import parse_qformat
from qbench.models.reference import XOR_LAYERS, ReferencePerceptron, evaluate_xor, learned_tolerance_raw, train_xor

# Iterations within which Q16.16 must learn XOR from the default seeds.
Q16_ITERATION_LIMIT = 2000


def build_workload(
    tmp_path: Path, workload: Workload, fmt_name: str, trainable: bool, flags=("-O2",), object_only=False
) -> Path:
    """A host program (or, with object_only, the workload's object alone)."""
    settings = WorkloadSettings()
    shape = workload.shape(settings, None, None)
    sources = workload.configure(parse_qformat(fmt_name), trainable, settings, shape)
    directory = tmp_path / f"{workload.name}-{fmt_name}-{'trainable' if trainable else 'inference'}{''.join(flags)}"
    directory.mkdir()
    for file_name, text in sources.generated.items():
        (directory / file_name).write_text(text)
    if sources.weights is not None:
        (directory / "weights.inc").write_text(weights_include(sources.weights, QNN.weight_order))
    return compile_or_fail(
        [sources.source] if object_only else [sources.source, COMMON / "host_platform.cpp"],
        directory / ("workload.o" if object_only else "program"),
        flags=flags,
        defines=sources.defines,
        include_dirs=(*QNN.include_dirs, COMMON, directory),
        object_only=object_only,
    )


def run(executable: Path) -> str:
    return subprocess.run([str(executable)], capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.mark.parametrize("fmt_name", ["q16.16", "q8.8"])
def test_host_training_retraces_the_reference_model(tmp_path, fmt_name):
    report = parse_report(run(build_workload(tmp_path, WORKLOADS["xor"], fmt_name, trainable=True)))
    expected = train_xor(parse_qformat(fmt_name), log_every=DEFAULT_SETTINGS.log_every)
    assert (report.workload, report.qformat, report.variant, report.status) == ("xor", fmt_name, "trainable", 0)
    assert (report.learned, report.iterations, report.final_error, report.outputs) == (
        expected.learned,
        expected.iterations,
        expected.final_error,
        expected.outputs,
    )
    assert [(entry.iteration, entry.error, entry.weights) for entry in report.log] == [
        (entry.iteration, entry.error, entry.weights) for entry in expected.log
    ]


def test_q16_16_learns_xor_within_the_stated_iterations():
    run_ = train_xor(parse_qformat("q16.16"))
    assert run_.learned and run_.iterations <= Q16_ITERATION_LIMIT
    assert run_.final_error <= learned_tolerance_raw(run_.fmt)


@pytest.mark.parametrize("fmt_name", ["q16.16", "q8.8"])
def test_inference_build_answers_with_the_deployed_weights(tmp_path, fmt_name):
    fmt = parse_qformat(fmt_name)
    report = parse_report(run(build_workload(tmp_path, WORKLOADS["xor"], fmt_name, trainable=False)))
    trained = train_xor(fmt)
    assert report.variant == "inference" and report.iterations == 0
    assert report.outputs == trained.outputs
    assert report.learned == (trained.final_error <= learned_tolerance_raw(fmt))
    # The reference evaluation of the same weights agrees, pattern by pattern.
    network = ReferencePerceptron(fmt, XOR_LAYERS, "tanh", "sigmoid", list(trained.weights))
    assert evaluate_xor(network) == (report.outputs, report.final_error)


def berkeley_size(path: Path) -> tuple[int, int, int]:
    """(text, data, bss) as GNU size prints them for an object."""
    line = subprocess.run(["size", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[1]
    text, data, bss = (int(word) for word in line.split()[:3])
    return text, data, bss


@pytest.mark.parametrize("flags", [("-O3",), ("-Os",)])
def test_inference_only_object_is_smaller_than_trainable(tmp_path, flags):
    trainable = berkeley_size(build_workload(tmp_path, WORKLOADS["xor"], "q16.16", True, flags, object_only=True))
    inference = berkeley_size(build_workload(tmp_path, WORKLOADS["xor"], "q16.16", False, flags, object_only=True))
    (trainable_text, _, trainable_bss), (inference_text, _, inference_bss) = trainable, inference
    assert inference_text < trainable_text and inference_bss < trainable_bss


# The article's host figures (g++ -O3, one translation unit): text and bss bytes.
ARTICLE_HOST_O3 = {True: (5180, 640), False: (1730, 208)}


@pytest.mark.parametrize("trainable", [True, False], ids=["trainable", "inference"])
def test_network_object_is_smaller_than_the_articles(tmp_path, trainable):
    obj = compile_or_fail(
        [REPO / "tests" / "host" / "network_footprint.cpp"],
        tmp_path / "network.o",
        flags=("-O3",),
        defines={"QBENCH_TRAINABLE": "1" if trainable else "0"},
        object_only=True,
    )
    text, _, bss = berkeley_size(obj)
    article_text, article_bss = ARTICLE_HOST_O3[trainable]
    assert text < article_text and bss < article_bss
