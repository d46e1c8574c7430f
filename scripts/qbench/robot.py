"""Robot Framework keywords for qbench: build a variant, run it on the emulator,
read its footprint, check it against a part, check that training learned.

The platform (a core, an optimisation level, a build directory under Robot's
output directory) is prepared once per suite; every keyword logs the figures
it measured, and a failed emulator run fails the keyword with the emulator's
output attached.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn

from .cache import Cache, fingerprint
from .claims import compare_training, training_run
from .matrix import expand
from .pipeline import RunOptions, RunOutput, run_matrix
from .provenance import git_revision
from .results import rows_frame
from .targets import load_parts, load_targets
from .toolchain import require
from .workloads import WORKLOADS, WorkloadSettings


class _RobotProgress:
    """Progress lines into Robot's log instead of the console."""

    def begin(self, stage: str, total: int) -> None:
        logger.debug(f"{stage}: {total} items")

    def done(self, stage: str, label: str, detail: str = "", failed: bool = False) -> None:
        (logger.warn if failed else logger.info)(f"{stage} {'FAILED ' if failed else ''}{label} {detail}".strip())

    def note(self, text: str) -> None:
        logger.warn(text)

    def finish(self) -> None:
        pass


@library(scope="SUITE", auto_keywords=False)
class QbenchLibrary:
    def __init__(self) -> None:
        self.core = ""
        self.opt = "Os"
        self.timeout = 60.0
        self.build_root: Path | None = None
        self.runs: dict[tuple, RunOutput] = {}

    @keyword
    def prepare_platform(self, core: str = "cortex-m0plus", opt: str = "Os", timeout: float = 60.0) -> None:
        """Chooses the core and -O level for the suite and checks that the cross toolchain and the
        emulator are installed. Images build under Robot's output directory."""
        targets = load_targets()
        if core not in targets:
            raise AssertionError(f"unknown core {core!r} (known: {', '.join(sorted(targets))})")
        for tool in (targets[core].compiler, "qemu-system-arm"):
            require(tool)
        self.core, self.opt, self.timeout = core, opt, float(timeout)
        output = Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))
        self.build_root = output / "build"
        logger.info(f"platform: {core}, -{opt}, images in {self.build_root}")

    def _result(self, qformat: str, variant: str, activations: str, emulate: bool) -> dict:
        if self.build_root is None:
            raise AssertionError("call 'Prepare Platform' first (a suite setup)")
        key = (qformat, variant, activations, emulate)
        if key not in self.runs:
            hidden, output = activations.split(",")
            settings = WorkloadSettings(hidden_activation=hidden, output_activation=output)
            matrix = expand(load_targets(), WORKLOADS, cores=self.core, formats=qformat, variants=variant,
                            opt=self.opt, settings=settings)  # fmt: skip
            if matrix.problems or not matrix.cells:
                reasons = [*matrix.problems, *(rejected.reason for rejected in matrix.rejected)]
                raise AssertionError("; ".join(reasons))
            cache = Cache(self.build_root / "cache", fingerprint())
            options = RunOptions(self.build_root, 2, cache, emulate=emulate, timeout=self.timeout, settings=settings)
            self.runs[key] = run_matrix(matrix, options, git_revision(), _RobotProgress())
        output = self.runs[key]
        row = asdict(output.rows[0])
        if row["status"] != "ok":
            self._attach_emulator_output(row)
            raise AssertionError(f"{self.core} {qformat} {variant}: {row['status']}: {row['message']}")
        return row

    @staticmethod
    def _attach_emulator_output(row: dict) -> None:
        log = Path(row["elf"]).with_name("run.log") if row["elf"] else None
        if log is not None and log.exists():
            logger.info(f"emulator output of {row['elf']}:\n{log.read_text()}")

    @keyword
    def build_variant(self, qformat: str, variant: str, activations: str = "tanh,sigmoid") -> dict:
        """Cross-compiles a variant of the XOR workload and its empty baseline and returns its footprint
        (library cost: lib_code, lib_rodata, lib_data, lib_bss, lib_flash, lib_ram_static; whole image: img_*)."""
        row = self._result(qformat, variant, activations, emulate=False)
        footprint = {key: value for key, value in row.items() if key.startswith(("lib_", "img_"))}
        logger.info(f"{self.core} {qformat} {variant} -{self.opt} ({row['network']}): {footprint}")
        return footprint

    @keyword
    def run_on_emulator(self, qformat: str, variant: str, activations: str = "tanh,sigmoid") -> dict:
        """Builds a variant and runs it in QEMU; returns its whole result row. Fails, with the emulator's
        output in the log, when the run times out, faults or reports badly."""
        row = self._result(qformat, variant, activations, emulate=True)
        logger.info(
            f"{self.core} {qformat} {variant}: learned={row['learned']} iterations={row['iterations']} "
            f"final_error={row['final_error']} outputs={row['outputs']} stack_peak={row['stack_peak']} B "
            f"ram_total={row['ram_total']} B instr_forward={row['instr_forward']}"
        )
        return row

    @keyword
    def library_flash_should_be_under(self, limit: int, qformat: str, variant: str) -> int:
        """The variant's library flash (code + read-only data + initialised data) is below limit bytes."""
        footprint = self.build_variant(qformat, variant)
        flash = footprint["lib_flash"]
        logger.info(f"library flash {flash} B (code {footprint['lib_code']}, rodata {footprint['lib_rodata']}, "
                    f"data {footprint['lib_data']}); limit {limit} B")  # fmt: skip
        BuiltIn().set_test_message(f"measured {flash} B of library flash", append=True)
        if flash >= int(limit):
            raise AssertionError(f"library flash {flash} B is not under {limit} B")
        return flash

    @keyword
    def inference_to_trainable_ratios(self, qformat: str) -> dict:
        """Inference-only over trainable library cost: flash, static RAM and RAM with stack."""
        trainable, inference = self.run_on_emulator(qformat, "trainable"), self.run_on_emulator(qformat, "inference")
        ratios = {
            "flash": inference["lib_flash"] / trainable["lib_flash"],
            "static_ram": inference["lib_ram_static"] / trainable["lib_ram_static"],
            "ram_with_stack": inference["lib_ram_total"] / trainable["lib_ram_total"],
        }
        message = (
            f"inference/trainable: flash {inference['lib_flash']}/{trainable['lib_flash']} B = {ratios['flash']:.2f}, "
            f"static RAM {inference['lib_ram_static']}/{trainable['lib_ram_static']} B = {ratios['static_ram']:.2f}, "
            f"RAM with stack {inference['lib_ram_total']}/{trainable['lib_ram_total']} B = "
            f"{ratios['ram_with_stack']:.2f}; the measurement supports: inference-only <= {max(ratios.values()):.2f}"
            " x trainable"
        )
        logger.info(message)
        BuiltIn().set_test_message(message, append=True)
        return ratios

    @keyword
    def check_image_against_part(self, part: str, qformat: str, variant: str) -> bool:
        """Whether the whole image, stack included, fits the part's flash and RAM; logs both shares and
        states the verdict in the test message either way."""
        parts = load_parts(load_targets())
        if part not in parts:
            raise AssertionError(f"unknown part {part!r} (known: {', '.join(sorted(parts))})")
        chosen = parts[part]
        row = self.run_on_emulator(qformat, variant)
        fits = row["img_flash"] <= chosen.flash_bytes and row["ram_total"] <= chosen.ram_bytes
        verdict = "fits" if fits else "does NOT fit"
        message = (
            f"{variant} image {verdict} {part}: flash {row['img_flash']} of {chosen.flash_bytes} B, RAM "
            f"{row['ram_total']} of {chosen.ram_bytes} B (static {row['img_ram_static']} + stack {row['stack_peak']})"
        )
        logger.info(message)
        BuiltIn().set_test_message(message, append=True)
        return fits

    @keyword
    def training_should_have_learned(self, qformat: str) -> int:
        """The trainable variant learned XOR on the emulated device; returns the iterations it took."""
        row = self.run_on_emulator(qformat, "trainable")
        if not row["learned"]:
            raise AssertionError(f"{qformat} did not learn XOR in {row['iterations']} iterations "
                                 f"(final error {row['final_error']})")  # fmt: skip
        return row["iterations"]

    @keyword
    def compare_training(self, better: str, worse: str) -> str:
        """Whether `worse` trains worse than `better` (not at all, more slowly, or less smoothly), as the
        article claims for Q8.8 against Q16.16; logs both runs and returns 'holds' or 'does not hold'."""
        runs = {}
        for qformat in (better, worse):
            self.run_on_emulator(qformat, "trainable")
            output = self.runs[(qformat, "trainable", "tanh,sigmoid", True)]
            (log,) = output.training
            runs[qformat] = training_run(rows_frame(output.rows).iloc[0], log.frame())
        verdict = compare_training(runs[better], runs[worse])
        message = f"claim '{worse} trains worse than {better}' {verdict}: " + "; ".join(
            run.describe(qformat) for qformat, run in runs.items()
        )
        logger.info(message)
        BuiltIn().set_test_message(message, append=True)
        return verdict

    @keyword
    def activation_tables_linked(self, qformat: str, variant: str, activations: str) -> int:
        """How many activation lookup tables the image links (from its ELF symbol table)."""
        self.build_variant(qformat, variant, activations)
        output = self.runs[(qformat, variant, activations, False)]
        tables = [s for s in output.symbols if s.variant == variant and s.group == "activation tables"]
        logger.info(f"{activations} network links {len(tables)} activation table(s): "
                    f"{[(s.symbol, s.size) for s in tables]}")  # fmt: skip
        return len(tables)

    @keyword
    def qbench_should_fail_with(self, message: str, *arguments: str) -> str:
        """Runs the qbench command with the arguments; it must exit non-zero and print the message."""
        completed = subprocess.run(
            [sys.executable, "-m", "qbench.cli", *arguments], capture_output=True, text=True, check=False
        )
        logger.info(f"qbench {' '.join(arguments)} -> exit {completed.returncode}\n{completed.stderr}")
        if completed.returncode == 0:
            raise AssertionError(f"qbench {' '.join(arguments)} succeeded; expected an error")
        if message not in completed.stderr:
            raise AssertionError(f"expected {message!r} in qbench's error output:\n{completed.stderr}")
        return completed.stderr
