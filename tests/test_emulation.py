"""Emulated runs: verdicts for every way a run can go wrong, and a real matrix in
QEMU whose results equal the Python reference model bit for bit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from device_runs import run_inference
from qbench.commands.cli import main as qbench_main
from qbench.execution.emulate import verdict
from qbench.execution.protocol import ProtocolError, fault_description, parse_records, parse_report
from qbench.execution.runners import Execution, runner_for
from qbench.hardware.targets import load_targets
from qbench.images.build import BuildSpec, build, configure, plan
from qbench.images.matrix import Variant
from qbench.images.workloads import (
    DEFAULT_SETTINGS,
    WORKLOADS,
    Workload,
    WorkloadSources,
    format_defines,
    trained_xor_weights,
)
from qbench.models import qformat
from qbench.models.network import NetworkShape
from qbench.models.qformat import parse_qformat
from qbench.models.reference import (
    XOR_LAYERS,
    ReferencePerceptron,
    empty,
    evaluate_xor,
    exact_sum,
    narrow,
    start,
    train_xor,
    wrap_accumulator,
)
from qbench.records.results import Status, read_results

FIRMWARE = Path(__file__).parent / "firmware"
XOR_SHAPE = NetworkShape(2, 1, 4, 1, "tanh", "sigmoid")


def execution(status=0, output="", diagnostics="", timed_out=False) -> Execution:
    return Execution(None if timed_out else status, output, diagnostics, timed_out)


@pytest.mark.parametrize(
    ("run", "status", "message"),
    [
        (execution(output="begin x=1\n"), Status.OK, ""),
        (
            execution(timed_out=True, output="begin workload=xor\n"),
            Status.TIMEOUT,
            "no exit within 60 s; the emulator was killed (last output: 'begin workload=xor')",
        ),
        (
            execution(70, "fault pc=1234 lr=5 xpsr=16777216\n"),
            Status.FAULT,
            "HardFault: pc=0x000004d2 lr=0x00000005 xpsr=0x01000000",
        ),
        (
            execution(134, "", "qemu: fatal: Lockup: can't escalate 3 to HardFault"),
            Status.FAULT,
            "the core locked up and the emulator aborted: qemu: fatal: Lockup: can't escalate 3 to HardFault",
        ),
        (execution(71), Status.RUN_FAILED, "exit status 71 (unexpected exception (NMI, SVCall, PendSV or SysTick))"),
        (execution(3, "begin a=1\nend status=3\n"), Status.RUN_FAILED, "exit status 3: end status=3"),
    ],
)
def test_verdicts(run, status, message):
    assert verdict(run, 60.0) == (status, message)


def test_fault_record_is_found_among_other_lines():
    assert fault_description("begin workload=xor\nfault pc=16 lr=3 xpsr=0 cfsr=65536\n") == (
        "HardFault: pc=0x00000010 lr=0x00000003 xpsr=0x00000000 cfsr=0x00010000"
    )
    assert fault_description("begin workload=xor\n") is None


HEAD = "begin workload=x qformat=q variant=v\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("begin workload=xor qformat=q8.8 variant=trainable\nend status=0\n", "expected one 'result' record, found 0"),
        (HEAD + "result learned=maybe iterations=0 final_error=0 outputs=1\nend status=0", "learned='maybe' is not"),
        (HEAD + "result learned=1 iterations=0 final_error=0 outputs=1,x\nend status=0", "is not a list of integers"),
        ("begin workload=xor oops\n", "'oops' is not key=value"),
        (
            HEAD + "result learned=1 iterations=0 final_error=0 outputs=1\nend status=0\nsurprise a=1\n",
            "unknown record(s): surprise",
        ),
    ],
)
def test_malformed_reports_are_protocol_errors(text, message):
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_report(text)


EVERY_RUN_COLUMN = [
    "qemu",
    "emulated_cpu",
    "learned",
    "final_error",
    "outputs",
    "instr_forward",
    "instr_forward_occurrences",
    "instr_markers",
    "stack_peak",
    "stack_painted",
    "stack_sp_depth",
    "ram_total",
    "lib_ram_total",
]
TRAINING_COLUMNS = ["iterations", "instr_train_step", "instr_train_step_occurrences"]


def test_every_column_is_filled_with_status_ok(emulated_run):
    status, root, _ = emulated_run
    assert status == 0
    rows = read_results(root / "out").rows
    assert len(rows) == 8 and set(rows["status"]) == {"ok"}
    for column in EVERY_RUN_COLUMN:
        assert rows[column].notna().all() and (rows[column] != "").all(), column
    trainable = rows[rows["variant"] == "trainable"]
    for column in TRAINING_COLUMNS:
        assert trainable[column].notna().all(), column
    assert rows["qemu"].str.startswith("QEMU emulator version").all()
    assert (rows["ram_total"] == rows["img_data"] + rows["img_bss"] + rows["stack_peak"]).all()
    assert (rows["stack_peak"] > 0).all() and (rows["stack_peak"] < 4096).all()


def test_device_training_equals_the_reference_model(emulated_run):
    _, root, _ = emulated_run
    saved = read_results(root / "out")
    for row in saved.rows[saved.rows["variant"] == "trainable"].itertuples():
        fmt = parse_qformat(row.qformat)
        expected = train_xor(fmt, log_every=DEFAULT_SETTINGS.log_every)
        scale = float(1 << fmt.fractional_bits)
        assert (bool(row.learned), row.iterations) == (expected.learned, expected.iterations)
        assert row.final_error == expected.final_error / scale
        assert row.outputs == ";".join(f"{value / scale:.6g}" for value in expected.outputs)
        log = saved.training[f"xor_2-4-1-tanh-sigmoid_{row.core}_{row.qformat}_trainable_{row.opt}.csv"]
        assert log["iteration"].tolist() == [entry.iteration for entry in expected.log]
        assert log["error_raw"].tolist() == [entry.error for entry in expected.log]
        weights = log[[f"w{i}" for i in range(17)]].to_numpy() * scale
        assert weights.round().astype(int).tolist() == [list(entry.weights) for entry in expected.log]


def test_device_inference_equals_the_reference_model(emulated_run):
    _, root, _ = emulated_run
    rows = read_results(root / "out").rows
    for row in rows[rows["variant"] == "inference"].itertuples():
        fmt = parse_qformat(row.qformat)
        network = ReferencePerceptron(fmt, XOR_LAYERS, "tanh", "sigmoid", list(trained_xor_weights(fmt, XOR_SHAPE)))
        outputs, error = evaluate_xor(network)
        scale = float(1 << fmt.fractional_bits)
        assert row.outputs == ";".join(f"{value / scale:.6g}" for value in outputs)
        assert row.final_error == error / scale and bool(row.learned) == (error <= (1 << fmt.fractional_bits) // 10)
        assert pd.isna(row.instr_train_step) and pd.isna(row.iterations)


def test_instruction_counts_are_deterministic(emulated_run):
    """The same command again, rebuilt and rerun from scratch, gives the same numbers."""
    status, root, arguments = emulated_run
    again = root / "again"
    rerun = [*arguments[:-4], "--out", str(again), "--build-dir", str(root / "build"), "--no-cache"]
    assert qbench_main(rerun) == status
    first = pd.read_csv(root / "out" / "results.csv").drop(columns="date")
    second = pd.read_csv(again / "results.csv").drop(columns="date")
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(
        pd.read_csv(root / "out" / "instructions.csv"), pd.read_csv(again / "instructions.csv")
    )


def test_report_has_every_section_filled(emulated_run):
    _, root, _ = emulated_run
    report = (root / "out" / "report.md").read_text()
    for heading in (
        "## Footprint",
        "## Speed",
        "## RAM",
        "## Learning",
        "## Part budgets",
        "## Where the bytes go",
        "## Where the instructions go",
        "## Provenance",
    ):
        assert heading in report
    assert "_No data._" not in report
    assert "static + stack" in report and "ARM DDI 0484C" in report and "qnn::detail::dotProduct32" in report


def test_per_function_breakdown_shows_the_partial_product_multiply(emulated_run):
    _, root, _ = emulated_run
    instructions = read_results(root / "out").instructions
    m0 = instructions[(instructions["core"] == "cortex-m0plus") & (instructions["qformat"] == "q16.16")]
    # ARMv6-M has no 32x32->64 multiply: qnn forms products from 16x16 partial
    # products instead of calling the 64x64 library routine.
    assert "qnn::detail::dotProduct32" in set(m0[m0["region"] == "forward"]["function"])
    assert "__aeabi_lmul" not in set(m0["function"])
    m4 = instructions[instructions["core"] == "cortex-m4"]
    assert not m4["function"].str.contains("dotProduct32|__aeabi_lmul").any()  # SMLAL does it


def misbehaving(number: int) -> Workload:
    def configure(fmt, trainable, settings, shape):
        return WorkloadSources(FIRMWARE / "misbehaving.cpp", {"QBENCH_MISBEHAVIOUR": str(number)})

    return Workload(f"misbehaving{number}", configure, shape=lambda settings, layers, width: XOR_SHAPE)


@pytest.mark.parametrize(
    ("number", "status", "message"),
    [
        (1, "timeout", "no exit within 3 s; the emulator was killed"),
        (2, "fault", "HardFault: pc=0x"),
        (3, "fault", "locked up"),
        (4, "protocol-error", "learned='maybe' is not an integer"),
        (5, "run-failed", "exit status 3"),
        (6, "stack-overflow", "past the bottom of its 4096-byte region"),
    ],
)
def test_misbehaving_firmware_gets_a_clear_status(tmp_path, monkeypatch, number, status, message):
    workload = misbehaving(number)
    monkeypatch.setitem(WORKLOADS, workload.name, workload)
    out = tmp_path / "out"
    # Only the firmware that hangs gets a short timeout; the others end in milliseconds, and get the default 60 s
    # as a hang guard, so how fast the emulator starts never turns their verdict into a timeout.
    timeout = ["--timeout", "3"] if status == "timeout" else []
    code = qbench_main(
        [
            "run",
            "--cores",
            "cortex-m0plus,cortex-m3",
            "--formats",
            "q16.16",
            "--variants",
            "inference",
            "--workload",
            workload.name,
            *timeout,
            "--out",
            str(out),
            "--build-dir",
            str(tmp_path / "build"),
        ]
    )
    assert code == 1
    rows = read_results(out).rows
    assert set(rows["status"]) == {status}, rows[["core", "status", "message"]]
    for row in rows.itertuples():
        assert message in row.message
        assert not pd.isna(row.img_flash)  # the footprint measured before the run is kept


def test_stack_reserved_but_unwritten_counts_through_the_stack_pointer(tmp_path, monkeypatch):
    """1 KB reserved and only its top word written. On cortex-m4 the frame is reserved by an immediate and its word
    stored at an offset from SP, which shows the stack pointer; ARMv6-M reserves it through a register and stores
    through another, which shows nothing of it (the plugin sees addresses, not registers): there the painted
    stack is the figure."""
    rows = run_inference(tmp_path, monkeypatch, misbehaving(7), "cortex-m0plus,cortex-m4").set_index("core")
    m4, m0 = rows.loc["cortex-m4"], rows.loc["cortex-m0plus"]
    # The painted stack misses most of what the stack pointer shows (the reporting code writes a few hundred bytes
    # deep on its own).
    assert m4.stack_sp_depth >= m4.stack_painted + 512
    assert m4.stack_peak == m4.stack_sp_depth and m4.ram_total == m4.img_data + m4.img_bss + m4.stack_sp_depth
    assert m0.stack_sp_depth <= m0.stack_painted == m0.stack_peak


@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m4"])
@pytest.mark.parametrize("fmt_name", ["q16.16", "q8.24", "q24.8"])
def test_device_products_and_sums_equal_the_model(tmp_path, core, fmt_name):
    """Edge values through the device's multiply paths (partial products on the M0+, SMLAL on the M4)."""
    fmt = parse_qformat(fmt_name)

    def arithmetic(fmt_, trainable, settings, shape):
        return WorkloadSources(FIRMWARE / "arithmetic.cpp", format_defines(fmt_))

    spec = BuildSpec(load_targets()[core], Workload("arithmetic", arithmetic), fmt, Variant.INFERENCE, "Os")
    image = build(plan(spec, tmp_path, configure(spec)))
    assert image.ok, image.error
    execution = runner_for(spec.target).run(image.path, spec.target, 60.0, tmp_path / "run.log")
    assert execution.exit_status == 0, execution.diagnostics
    records = parse_records(execution.output)
    macs = [r for r in records if r.name == "mac"]
    dots = [r for r in records if r.name == "dot"]
    assert len(macs) == 16 * 16 and len(dots) == 17
    for record in macs:
        a, b = record.integer("a"), record.integer("b")
        expected_sum = wrap_accumulator(fmt, start(fmt, a) + a * b)
        assert record.integer("sum") == expected_sum, (a, b)
        assert record.integer("product") == qformat.multiply(fmt, a, b), (a, b)
        assert record.integer("narrowed") == narrow(fmt, expected_sum), (a, b)
    edges = [r.integer("a") for r in macs[::16]]
    for record in dots:
        n = record.integer("n")
        pairs = zip(edges[:n], list(reversed(edges))[:n], strict=True)
        assert record.integer("sum") == exact_sum(fmt, empty(fmt), pairs), n


@pytest.mark.parametrize("fmt_name", ["q24.8", "q8.24", "q4.12"])
def test_device_training_in_other_formats_equals_the_model(tmp_path, fmt_name):
    out = tmp_path / "out"
    assert (
        qbench_main(
            [
                "run",
                "--cores",
                "cortex-m0plus,cortex-m3",
                "--formats",
                fmt_name,
                "--variants",
                "trainable",
                "--out",
                str(out),
                "--build-dir",
                str(tmp_path / "build"),
            ]
        )
        == 0
    )
    expected = train_xor(parse_qformat(fmt_name), log_every=DEFAULT_SETTINGS.log_every)
    for row in read_results(out).rows.itertuples():
        assert (bool(row.learned), row.iterations) == (expected.learned, expected.iterations), row.core
