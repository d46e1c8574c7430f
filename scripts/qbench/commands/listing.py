"""`qbench list`: what qbench can build, read from the same files a run reads (targets/cores/*.toml,
targets/parts.toml, suite/workloads/*/workload.toml, suite/libraries/*/qbench-library.toml), each kind as a
table with the facts that decide a choice. A file qbench cannot read shows as a row naming the problem; the
rest is still listed."""

from __future__ import annotations

import importlib.util
import textwrap
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, packages_distributions
from importlib.metadata import version as package_version
from pathlib import Path

from tabulate import tabulate

from qbench.common.paths import SUITE, shown
from qbench.common.schemas import read_toml, validate
from qbench.hardware.targets import Target, load_parts, load_targets
from qbench.images.libraries import (
    BUILTIN,
    CONTRACT_DOCS,
    DESCRIPTOR,
    LibraryDescriptor,
    LibraryError,
    builtin_names,
    load_library,
)
from qbench.images.matrix import DEFAULT_FORMATS, core_order
from qbench.images.workloads import DEFAULT_SETTINGS, WORKLOADS, XOR_INPUTS, WorkloadError
from qbench.models.classification import WorkloadFileError, read_description
from qbench.models.network import NetworkError
from qbench.models.qformat import FLOAT32, MAX_TOTAL_BITS, QFormat, parse_qformat
from qbench.records.results import QNN_LIBRARY

KINDS = ("cores", "parts", "workloads", "formats", "libraries")
# The flags that make a core what it is (the rest are the family's, the same for every Cortex-M core).
CORE_FLAGS = ("-mcpu=", "-march=", "-mfpu=", "-mfloat-abi=")
NOTE_WIDTH = 110
NARROW_WEIGHTS_EXAMPLE = "q8.8w2.6"


def _section(title: str, table: str, *notes: str) -> str:
    """A titled table with its notes, each wrapped to a terminal's width."""
    return "\n".join([title, table, *(textwrap.fill(note, NOTE_WIDTH, break_on_hyphens=False) for note in notes)])


def _mhz(hertz: int | None) -> str:
    return "-" if hertz is None else f"{hertz / 1e6:g} MHz"


def _float_abi(target: Target) -> str:
    if target.object_only:
        return "native (host)"
    if not target.uses_fpu:
        return "soft-float"
    fpu = next((flag.removeprefix("-mfpu=") for flag in target.cflags if flag.startswith("-mfpu=")), None)
    return f"hard-float, {fpu}" if fpu else "hard-float, the FPU -mcpu implies"


def _core_flags(target: Target) -> str:
    if target.object_only:
        return f"{target.compiler} {' '.join(flag for flag in target.cflags if flag.startswith('-std='))}"
    return " ".join(flag for flag in target.cflags if flag.startswith(CORE_FLAGS))


def cores(targets_dir: Path) -> str:
    targets = sorted(load_targets(targets_dir).values(), key=core_order)
    rows = [
        (
            target.name,
            _core_flags(target),
            _float_abi(target),
            target.emulated_cpu or "- (not run)",
            target.qemu_machine or "-",
            _mhz(target.clock_hz),
            f"{target.max_format_bits} bits",
        )
        for target in targets
    ]
    table = tabulate(rows, ("core", "flags", "float", "emulated CPU", "QEMU machine", "clock", "widest Q format"))
    return _section(
        f"Cores ({shown(targets_dir / 'cores')}/*.toml; --cores, default: all):",
        table,
        "flags: the core's own compiler flags (every Cortex-M core adds the family's -mthumb -std=c++17 "
        "...). emulated CPU: what QEMU models ([qemu] cpu); each core's cycles are priced from its own "
        "timing table. clock: the core file's clock_hz, for the time estimates.",
    )


def _fetch(part) -> str:
    aids = [*(["prefetch"] if part.prefetch else []), *(["cache"] if part.instruction_cache else [])]
    return f"{part.flash_wait_states} WS" + (f", {' + '.join(aids)}" if aids else "")


def parts(targets_dir: Path, parts_files: Sequence[Path] = ()) -> str:
    found = load_parts(load_targets(targets_dir), targets_dir / "parts.toml", parts_files)
    builtin = shown(targets_dir / "parts.toml")
    rows = [
        (
            part.name,
            part.vendor,
            part.core,
            f"{part.flash_bytes // 1024} KiB",
            f"{part.ram_bytes // 1024} KiB",
            _mhz(part.clock_hz),
            _fetch(part),
            "" if part.defined_in == builtin else part.defined_in,
            part.note,
        )
        for part in found.values()
    ]
    table = tabulate(rows, ("part", "vendor", "core", "flash", "RAM", "clock", "flash fetch", "from", "note"))
    files = "".join(f" + {shown(path)}" for path in parts_files)
    return _section(
        f"Parts ({builtin}{files}; --parts, default: all):",
        table,
        "clock: the part's maximum CPU clock, from its datasheet. flash fetch: flash wait states at that clock and "
        "what hides them (a prefetch buffer, an instruction cache or accelerator), which set the latency range "
        "(targets/timing/README.md); each part's source document is in its file. from: the --parts-file that "
        "added or replaced the part.",
    )


def _workload_row(name: str) -> tuple:
    try:
        workload = WORKLOADS[name]
        shape = workload.shape(DEFAULT_SETTINGS, None, None)
        path = SUITE / "workloads" / name / "workload.toml"
        if path.is_file():
            description = read_description(path)
            samples = str(len(description.split().test_labels))
            data = (
                f"{description.dataset} (scikit-learn's copy), {description.test_fraction:.0%} held out "
                f"(seed {description.split_seed}), {description.scaling}; trained on the host"
            )
        elif name == "xor":
            samples = f"{len(XOR_INPUTS)} (the truth table)"
            data = "trains on the device; inference deploys weights trained on qnn's bit-exact model"
        else:
            samples, data = "-", "-"
    except (WorkloadError, WorkloadFileError, NetworkError) as error:
        return (name, "-", "-", "-", "-", "-", f"cannot be used: {error}")
    if shape is None:
        return (name, "-", "-", "-", samples, ",".join(workload.default_variants), data)
    return (name, shape.inputs, shape.outputs, shape.name, samples, ",".join(workload.default_variants), data)


def workloads(targets_dir: Path) -> str:
    rows = [_workload_row(name) for name in sorted(WORKLOADS)]
    table = tabulate(rows, ("workload", "inputs", "outputs", "network", "test samples", "default variants", "data"))
    return _section(
        "Workloads (--workload, default: xor; suite/workloads/*/workload.toml):",
        table,
        "network: inputs-hidden...-outputs and the hidden/output activations (--hidden-layers, "
        "--hidden-neurons, --activations change them). default variants: what --variants is when not "
        "given.",
    )


def _q_row(fmt: QFormat) -> tuple:
    low, high = fmt.min_raw * fmt.resolution, fmt.max_raw * fmt.resolution
    return (
        fmt.name,
        "yes" if fmt.name in DEFAULT_FORMATS else "",
        fmt.total_bits,
        f"{'signed' if fmt.signed else 'unsigned'} Q format",
        f"{low:g} to {high!r}",
        f"2^-{fmt.fractional_bits} = {fmt.resolution:.3g}",
    )


def formats(targets_dir: Path) -> str:
    targets = sorted(load_targets(targets_dir).values(), key=core_order)
    soft = [target.name for target in targets if not target.object_only and not target.uses_fpu]
    hard = [target.name for target in targets if not target.object_only and target.uses_fpu]
    rows = [_q_row(parse_qformat(name)) for name in DEFAULT_FORMATS]
    rows.append((FLOAT32.name, "", FLOAT32.total_bits, "IEEE 754 binary32", "about ±3.4e38", "24-bit significand"))
    table = tabulate(rows, ("format", "default", "bits", "kind", "range", "resolution"))
    widest: dict[int, list[str]] = {}
    for target in targets:
        widest.setdefault(target.max_format_bits, []).append(target.name)
    limits = "; ".join(f"{bits} bits on {', '.join(names)}" for bits, names in sorted(widest.items()))
    return _section(
        f"Formats (--formats, default: {','.join(DEFAULT_FORMATS)}):",
        table,
        f"Any other Q format is written qI.F (signed) or uqI.F (unsigned): I integer bits, F fractional bits, "
        f"I+F from 1 to the core's widest ({limits}; qnn's limit is {MAX_TOTAL_BITS}), e.g. q1.15, q4.12, "
        f"q24.8, uq8.8. A workload may refuse a format (xor needs a signed one with fractional bits): that cell "
        f"is 'invalid' with the reason.",
        _narrow_weights_note(),
        f"float32 is soft-float on {', '.join(soft) or 'no core'} and hard-float on {', '.join(hard) or 'no core'}.",
    )


def _narrow_weights_note() -> str:
    example = parse_qformat(NARROW_WEIGHTS_EXAMPLE)
    weights = example.weight_format
    return (
        f"Weights and biases may have their own narrower signed format, a suffix wI.F: {example.name} has "
        f"values {example.value_format.name} and weights {weights.name} ({weights.total_bits} bits, "
        f"{weights.min_raw * weights.resolution:g} to {weights.max_raw * weights.resolution!r} in steps of "
        f"2^-{weights.fractional_bits}); I+F at most the values' storage width (8, 16, 32 or 64 bits), F at "
        f"least 1; values and sums keep their width. Training updates weights at the values' resolution, so "
        f"such weights are for inference images only, of a library whose {DESCRIPTOR} [supports] "
        f"narrow_weights."
    )


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _release(package: str) -> str:
    """'DISTRIBUTION VERSION' of an installed package."""
    distribution = packages_distributions().get(package, [package])[0]
    try:
        return f"{distribution} {package_version(distribution)}"
    except PackageNotFoundError:
        return f"{package} (version unknown)"


def _library_row(name: str) -> tuple:
    root = BUILTIN / name
    try:
        settings = validate(
            LibraryDescriptor,
            read_toml(root / DESCRIPTOR, LibraryError),
            LibraryError,
            lambda _: shown(root / DESCRIPTOR),
        )
    except LibraryError as error:
        return (name, "-", "-", "-", "-", "-", f"cannot be used: {error}")
    if settings.package is None:
        source = "this checkout (suite/qnn)" if name == QNN_LIBRARY else f"this checkout ({shown(root)})"
    elif importlib.util.find_spec(settings.package) is None:
        source = f"PyPI package {settings.package}: not installed (scripts/setup installs it)"
    else:
        source = f"PyPI package {_release(settings.package)}"
    if "not installed" not in source:
        try:
            load_library(name, root)
        except LibraryError as error:
            source += f"; cannot be used: {error}"
    supports = settings.supports
    return (
        name,
        _yes(supports.fixed_point),
        _yes(supports.float32),
        _yes(supports.training),
        _yes(supports.narrow_weights),
        settings.weight_order,
        source,
    )


def libraries(targets_dir: Path) -> str:
    rows = [_library_row(name) for name in sorted(builtin_names(), key=lambda name: (name != QNN_LIBRARY, name))]
    table = tabulate(
        rows, ("library", "Q formats", "float32", "training", "narrow weights", "weight order", "code from")
    )
    return _section(
        f"Libraries (--library NAME, default: qnn alone; {shown(BUILTIN)}/*/{DESCRIPTOR}):",
        table,
        f"What a library does not support is left out of the matrix with a note. Your own library: "
        f"--library NAME=PATH, PATH a folder with a {DESCRIPTOR} ({CONTRACT_DOCS}).",
    )


LISTS: dict[str, Callable[[Path], str]] = {
    "cores": cores,
    "parts": parts,
    "workloads": workloads,
    "formats": formats,
    "libraries": libraries,
}


def listing(kinds: tuple[str, ...], targets_dir: Path, parts_files: Sequence[Path] = ()) -> str:
    """The chosen lists, one after another (parts with any --parts-file); TargetError when the targets or a parts
    file cannot be read."""
    return (
        "\n\n".join(parts(targets_dir, parts_files) if kind == "parts" else LISTS[kind](targets_dir) for kind in kinds)
        + "\n"
    )
