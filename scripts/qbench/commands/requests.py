"""From parsed arguments to a request: the options' typed values become the matrix and the request a running
command hands to the stage that does the work; each repeated item is noted once."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import replace

from qbench.commands import options
from qbench.commands.options import Listed
from qbench.common.errors import UsageError
from qbench.images.libraries import QNN, Library
from qbench.images.matrix import DEFAULT_OPT, MatrixRequest, Variant
from qbench.images.workloads import DEFAULT_SETTINGS, WorkloadSettings
from qbench.models.testdata import read_test_data
from qbench.orchestration.run import ExecutorChoice, RunRequest


def items(listed: Listed | None, note: Callable[[str], None]) -> tuple[str, ...] | None:
    """A listed option's items once its repeats are noted; None when it was not given."""
    if listed is None:
        return None
    for line in listed.notes:
        note(line)
    return listed.items


def _libraries(given: Sequence[Library], note: Callable[[str], None]) -> tuple[Library, ...]:
    """qnn and every --library, each once; one name for two folders is refused."""
    for line in options.repeat_notes("--library", given, lambda library: library, lambda library: library.name):
        note(line)
    libraries = options.kept(given, lambda library: library)
    names = [library.name for library in libraries]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--library names {', '.join(repeated)} for different folders; give each library its own name")
    return (QNN, *libraries)


def _training(arguments: argparse.Namespace) -> WorkloadSettings:
    """The training options' settings (run and build)."""
    hidden, output = arguments.activations or (None, None)
    return WorkloadSettings(
        max_iterations=arguments.max_iterations,
        log_every=arguments.log_every,
        hidden_activation=hidden,
        output_activation=output,
        initial_weights=arguments.initial_weights,
    )


def _settings(arguments: argparse.Namespace, training: WorkloadSettings = DEFAULT_SETTINGS) -> WorkloadSettings:
    """The training settings with the network options' model and test data."""
    if arguments.test_data is None and arguments.target is not None:
        raise UsageError("--target names the test data's target column: give --test-data FILE too")
    if arguments.test_data is not None and arguments.model is None:
        raise UsageError("--test-data scores an imported network: give --model NETWORK_JSON too")
    test_data = None if arguments.test_data is None else read_test_data(arguments.test_data, arguments.target)
    return replace(training, model=arguments.model, test_data=test_data)


def matrix_request(arguments: argparse.Namespace, note: Callable[[str], None]) -> MatrixRequest:
    """run's and build's matrix: every dimension the matrix options name."""
    cores, formats, variants, opt = (
        items(listed, note) for listed in (arguments.cores, arguments.formats, arguments.variants, arguments.opt)
    )
    libraries = _libraries(arguments.library, note)
    layers, neurons = items(arguments.hidden_layers, note), items(arguments.hidden_neurons, note)
    return MatrixRequest(
        cores=cores,
        formats=formats,
        variants=variants,
        opt=opt,
        workload=arguments.workload,
        settings=_settings(arguments, _training(arguments)),
        libraries=libraries,
        hidden_layers=layers,
        hidden_neurons=neurons,
    )


def explore_matrix(arguments: argparse.Namespace, note: Callable[[str], None]) -> MatrixRequest:
    """explore's sweep: inference cells at the default level, every network size unless a model is given."""
    from qbench.orchestration.explore import DEFAULT_HIDDEN_LAYERS, DEFAULT_HIDDEN_NEURONS

    layers, neurons = arguments.hidden_layers, arguments.hidden_neurons
    if arguments.model is None:  # the sizes swept; an imported network brings its own
        layers = layers or options.hidden_layers(DEFAULT_HIDDEN_LAYERS)
        neurons = neurons or options.hidden_neurons(DEFAULT_HIDDEN_NEURONS)
    formats = items(arguments.formats, note)
    libraries = _libraries(arguments.library, note)
    return MatrixRequest(
        formats=formats,
        variants=(Variant.INFERENCE.value,),
        opt=DEFAULT_OPT,
        workload=arguments.workload,
        settings=_settings(arguments),
        libraries=libraries,
        hidden_layers=items(layers, note),
        hidden_neurons=items(neurons, note),
    )


def request(arguments: argparse.Namespace, matrix: MatrixRequest, **command_options) -> RunRequest:
    """The request from the options every running command shares, and the command's own."""
    return RunRequest(
        matrix=matrix,
        targets=arguments.targets,
        build_dir=arguments.build_dir,
        cache_dir=arguments.cache_dir or arguments.build_dir / "cache",
        read_cache=not arguments.no_cache,
        executor=ExecutorChoice(arguments.jobs, arguments.workers, arguments.scheduler),
        **command_options,
    )


def run_request(arguments: argparse.Namespace, note: Callable[[str], None]) -> RunRequest:
    return request(
        arguments,
        matrix_request(arguments, note),
        parts_files=tuple(arguments.parts_file),
        parts=arguments.parts,
        out=arguments.out,
        emulate=not arguments.no_emulate,
        timeout=arguments.timeout,
        shard=arguments.shard,
    )
