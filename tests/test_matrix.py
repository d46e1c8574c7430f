"""Expanding the matrix: bad names become problems, unbuildable combinations become rejected cells."""

from expected_cores import ALL_CORES
from qbench.hardware.targets import load_targets
from qbench.images.matrix import MatrixRequest, Variant, core_order, expand
from qbench.images.workloads import WORKLOADS


def test_default_matrix_is_every_core_two_formats_two_variants_os():
    matrix = expand(load_targets(), WORKLOADS)
    assert len(matrix.cells) == 9 * 2 * 2 and not matrix.rejected and not matrix.problems
    assert [c.target.name for c in matrix.cells[::4]] == ALL_CORES
    assert {c.opt for c in matrix.cells} == {"Os"} and {c.variant for c in matrix.cells} == set(Variant)


def test_bad_names_are_problems_and_the_rest_stays():
    request = MatrixRequest(
        cores=("cortex-m0plus", "m99"),
        formats=("q8.8", "abc", "", "q40.40"),
        variants=("inference", "both"),
        opt=("Os", "-O2", "O7"),
    )
    matrix = expand(load_targets(), WORKLOADS, request)
    assert len(matrix.cells) == 2  # cortex-m0plus x q8.8 x inference x {Os, O2}
    assert len(matrix.problems) == 6
    joined = "\n".join(matrix.problems)
    for fragment in (
        "unknown core 'm99'",
        "'abc' is not a Q format",
        "'' is not a Q format",
        "q40.40 is 80 bits",
        "unknown variant 'both'",
        "unknown optimisation level 'O7'",
    ):
        assert fragment in joined


def test_unknown_workload():
    matrix = expand(load_targets(), WORKLOADS, MatrixRequest(workload="mnist"))
    assert matrix.cells == () and "unknown workload 'mnist'" in matrix.problems[0]


def test_combinations_a_target_or_workload_cannot_build_are_rejected_with_a_reason():
    request = MatrixRequest(cores=("cortex-m4", "host"), formats=("q24.24", "uq8.8", "q16.0"), variants=("trainable",))
    matrix = expand(load_targets(), WORKLOADS, request)
    reasons = {(r.cell.target.name, r.cell.fmt.name): r.reason for r in matrix.rejected}
    assert "up to 32 bits" in reasons[("cortex-m4", "q24.24")]
    assert ("host", "q24.24") not in reasons
    assert "need a signed Q format" in reasons[("cortex-m4", "uq8.8")]
    assert "no fractional bits" in reasons[("host", "q16.0")]


def test_core_order_is_numeric():
    names = [t.name for t in sorted(load_targets().values(), key=core_order)]
    assert names.index("cortex-m7") < names.index("cortex-m33") < names.index("cortex-m55") < names.index("host")


def test_float32_and_network_sizes_are_matrix_dimensions():
    request = MatrixRequest(
        cores=("cortex-m0plus",),
        formats=("float32", "q8.8"),
        variants=("inference",),
        workload="iris",
        hidden_layers=("1", "2"),
        hidden_neurons=("4", "8"),
    )
    matrix = expand(load_targets(), WORKLOADS, request)
    assert not matrix.problems and not matrix.rejected
    assert len(matrix.cells) == 2 * 2 * 2
    assert {cell.shape.name for cell in matrix.cells} == {
        "4-4-3 tanh/sigmoid",
        "4-8-3 tanh/sigmoid",
        "4-4-4-3 tanh/sigmoid",
        "4-8-8-3 tanh/sigmoid",
    }
    assert {cell.fmt.name for cell in matrix.cells} == {"float32", "q8.8"}
    assert all(
        cell.scaled and "4-8-8-3" in cell.label
        for cell in matrix.cells
        if cell.shape.hidden_layers == 2 and cell.shape.hidden_neurons == 8
    )


def test_bad_network_sizes_are_problems():
    matrix = expand(load_targets(), WORKLOADS, MatrixRequest(cores=("cortex-m0plus",), hidden_neurons=("4", "0", "x")))
    assert matrix.problems == (
        "--hidden-neurons: '0' is not a whole number >= 1",
        "--hidden-neurons: 'x' is not a whole number >= 1",
    )
    assert {cell.shape.hidden_neurons for cell in matrix.cells} == {4}


def test_a_name_is_taken_as_given_not_split_again():
    """The command line splits a comma-separated option; the matrix takes each name whole."""
    matrix = expand(load_targets(), WORKLOADS, MatrixRequest(cores=("cortex-m0plus,host",)))
    assert matrix.cells == () and len(matrix.problems) == 1
    assert "unknown core 'cortex-m0plus,host'" in matrix.problems[0]


def test_the_request_names_the_cells_it_expands_to():
    request = MatrixRequest(
        cores=("host", "cortex-m0plus"), formats=("q8.8",), variants=("inference",), opt=("O2", "Os")
    )
    labels = [cell.label for cell in expand(load_targets(), WORKLOADS, request).cells]
    assert labels == [
        "cortex-m0plus xor q8.8 inference -O2",
        "cortex-m0plus xor q8.8 inference -Os",
        "host xor q8.8 inference -O2",
        "host xor q8.8 inference -Os",
    ]
