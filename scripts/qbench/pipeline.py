"""The footprint pipeline: matrix -> builds -> ELF sizes and symbols -> result rows.

Every cell ends as exactly one row with a status; a cell that fails (missing
tool, compile error, unreadable ELF) says why and the others carry on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from .build import BuildSpec, Image, build
from .elfsize import Category, ElfReadError, ImageSizes, read_sizes
from .matrix import Cell, Matrix
from .paths import shown
from .provenance import Revision
from .results import ResultRow, Status, SymbolRow
from .symbols import SymbolSize, attribute
from .toolchain import ToolNotFound, require, version


@dataclass(frozen=True)
class Measured:
    """A built image read back: its sizes and its symbols."""

    image: Image
    sizes: ImageSizes | None
    symbols: tuple[SymbolSize, ...]
    error: str | None


@dataclass(frozen=True)
class FootprintRun:
    rows: list[ResultRow]
    symbols: list[SymbolRow]
    toolchains: dict[str, str]


Progress = Callable[[str], None]


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(image: Image) -> Measured:
    if not image.ok or image.path is None:
        return Measured(image, None, (), image.error)
    try:
        sizes = read_sizes(image.path)
        return Measured(image, sizes, tuple(attribute(image.path, sizes)), None)
    except (ElfReadError, ToolNotFound) as error:
        return Measured(image, None, (), str(error))


def _build_and_measure(spec: BuildSpec, root: Path) -> Measured:
    return measure(build(spec, root))


def _difference(image: ImageSizes, baseline: ImageSizes) -> dict[str, int]:
    lib = {category: image.total(category) - baseline.total(category) for category in Category}
    return {
        "lib_code": lib[Category.CODE],
        "lib_rodata": lib[Category.RODATA],
        "lib_data": lib[Category.DATA],
        "lib_bss": lib[Category.BSS],
        "lib_flash": image.flash - baseline.flash,
        "lib_ram_static": image.ram_static - baseline.ram_static,
    }


def _image_columns(sizes: ImageSizes) -> dict[str, int]:
    return {
        "img_code": sizes.code,
        "img_rodata": sizes.rodata,
        "img_data": sizes.data,
        "img_bss": sizes.bss,
        "img_flash": sizes.flash,
        "img_ram_static": sizes.ram_static,
    }


def check_toolchains(compilers: set[str], progress: Progress) -> tuple[dict[str, str], dict[str, str]]:
    """(version of each compiler found, message for each one missing)."""
    found: dict[str, str] = {}
    missing: dict[str, str] = {}
    for compiler in sorted(compilers):
        try:
            require(compiler)
            found[compiler] = version(compiler)
        except ToolNotFound as error:
            missing[compiler] = str(error)
            progress(f"error: {error}")
    return found, missing


def baseline_specs(cells: list[Cell]) -> dict[tuple[str, str], BuildSpec]:
    """One empty baseline per (core, -O level) among the cells."""
    return {(cell.target.name, cell.opt): BuildSpec.baseline(cell.target, cell.opt) for cell in cells}


def build_all(specs: list[BuildSpec], root: Path, jobs: int, progress: Progress) -> dict[BuildSpec, Measured]:
    """Builds and measures every spec in parallel, reporting each as it finishes."""
    measured: dict[BuildSpec, Measured] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_build_and_measure, spec, root): spec for spec in specs}
        for done, future in enumerate(as_completed(futures), start=1):
            spec = futures[future]
            result = measured[spec] = future.result()
            outcome = "built" if result.error is None else "FAILED"
            detail = "" if result.error is None else f": {result.error}"
            progress(f"[{done}/{len(specs)}] {outcome} {spec.label}{detail}")
    return measured


def run_footprint(
    matrix: Matrix, build_root: Path, jobs: int, revision: Revision, progress: Progress = log_to_stderr
) -> FootprintRun:
    toolchains, missing = check_toolchains({cell.target.compiler for cell in matrix.cells}, progress)
    buildable = [cell for cell in matrix.cells if cell.target.compiler not in missing]
    baselines = baseline_specs(buildable)
    measured = build_all(
        [*baselines.values(), *(BuildSpec.for_cell(cell) for cell in buildable)], build_root, jobs, progress
    )

    common = {"git_sha": revision.sha, "git_dirty": revision.dirty}
    rows: list[ResultRow] = []
    symbols: list[SymbolRow] = []

    def row(cell: Cell, status: Status, message: str = "", **columns) -> ResultRow:
        return ResultRow(
            core=cell.target.name,
            board=cell.target.board,
            qformat=cell.fmt.name,
            variant=str(cell.variant),
            opt=cell.opt,
            workload=cell.workload.name,
            status=str(status),
            message=message,
            toolchain=toolchains.get(cell.target.compiler, ""),
            **common,
            **columns,
        )

    for (core, opt), spec in baselines.items():
        result = measured[spec]
        symbols += [
            SymbolRow(core, "", "baseline", opt, spec.workload.name, s.name, s.group, str(s.category), s.size)
            for s in result.symbols
        ]

    for rejected in matrix.rejected:
        rows.append(row(rejected.cell, Status.INVALID, rejected.reason))
    for cell in matrix.cells:
        if cell.target.compiler in missing:
            rows.append(row(cell, Status.TOOL_MISSING, missing[cell.target.compiler]))
            continue
        result = measured[BuildSpec.for_cell(cell)]
        baseline = measured[baselines[(cell.target.name, cell.opt)]]
        image = result.image
        paths = {"elf": shown(image.path) if image.path else "", "flags": image.flags}
        if not image.ok:
            rows.append(row(cell, Status.BUILD_FAILED, image.error or "", flags=image.flags))
        elif result.sizes is None:
            rows.append(row(cell, Status.MEASURE_FAILED, result.error or "", **paths))
        elif baseline.sizes is None:
            rows.append(
                row(
                    cell,
                    Status.BASELINE_FAILED,
                    f"empty baseline: {baseline.error}",
                    **paths,
                    **_image_columns(result.sizes),
                )
            )
        else:
            rows.append(
                row(
                    cell,
                    Status.OK,
                    **paths,
                    **_image_columns(result.sizes),
                    **_difference(result.sizes, baseline.sizes),
                )
            )
            symbols += [
                SymbolRow(
                    cell.target.name,
                    cell.fmt.name,
                    str(cell.variant),
                    cell.opt,
                    cell.workload.name,
                    s.name,
                    s.group,
                    str(s.category),
                    s.size,
                )
                for s in result.symbols
            ]
    return FootprintRun(rows, symbols, toolchains)
