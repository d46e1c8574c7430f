"""The report's figures, inspected through matplotlib's objects (axes, titles, scales, legends, bars and
lines), never through pixels. Results are made by hand, so each figure's numbers are known. A figure whose data
did not change comes from the store byte for byte as drawn; the others are drawn in worker processes."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from qbench.records.results import (
    ResultRow,
    SavedResults,
    SymbolTable,
    instructions_frame,
    read_results,
    rows_frame,
    symbols_frame,
    training_log_name,
    write_results,
)
from qbench.reporting import plots
from qbench.reporting.plot_store import PlotStore
from qbench.reporting.plots import (
    LEARNED_ERROR,
    PALETTE,
    chart_key,
    paired_styles,
    planned_figures,
    plot_files,
    png,
    pngs,
    report_figures,
    save,
    series_style,
    spans_a_decade,
)

XOR = "2-4-1 tanh/sigmoid"
ENVIRONMENT = {
    "qbench": "0",
    "git_sha": "f" * 40,
    "git_dirty": False,
    "date": "2026-01-01T00:00:00Z",
    "python": "3",
    "host": "Linux",
    "pyelftools": "0",
    "toolchains": {},
    "problems": [],
    "interrupted": False,
}
SWEEP = {"4-4-3 tanh/sigmoid": 35, "4-8-3 tanh/sigmoid": 67, "4-16-3 tanh/sigmoid": 131}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def result(
    core: str = "cortex-m0plus",
    qformat: str = "q16.16",
    variant: str = "inference",
    workload: str = "xor",
    network: str = XOR,
    library: str = "qnn",
    **columns,
) -> ResultRow:
    """An ok row; a Cortex-M row ran (its RAM has a stack peak), the host's did not."""
    ran = core.startswith("cortex-m")
    sizes = {"lib_flash": 1000, "lib_ram_static": 100, "lib_ram_total": 300 if ran else None}
    return ResultRow(
        core=core,
        board=core if ran else "host",
        qformat=qformat,
        variant=variant,
        opt="Os",
        workload=workload,
        status="ok",
        library=library,
        network=network,
        **(sizes | columns),
    )


def results(rows: list[ResultRow], training: dict[str, pd.DataFrame] | None = None) -> SavedResults:
    return SavedResults(rows_frame(rows), SymbolTable.of(symbols_frame([])), instructions_frame([]), training or {}, {})


def only(figures: dict, section: str) -> tuple[str, Figure, str]:
    assert len(figures[section]) == 1, [name for _, _, name in figures[section]]
    return figures[section][0]


def by_name(figures: dict, section: str) -> dict[str, Figure]:
    return {name: figure for _, figure, name in figures[section]}


def legend_labels(figure: Figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def x_labels(axes: Axes) -> list[str]:
    return [label.get_text() for label in axes.get_xticklabels()]


def bars(axes: Axes) -> dict[str, list[float]]:
    """Bar heights per series (legend label), in x order."""
    return {container.get_label(): [patch.get_height() for patch in container] for container in axes.containers}


def bar_look(axes: Axes, label: str) -> tuple:
    patch = next(container for container in axes.containers if container.get_label() == label)[0]
    return tuple(patch.get_facecolor()), patch.get_hatch()


def assert_legend_outside(figure: Figure) -> None:
    """The legend exists and covers neither any panel nor the heading."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    assert figure.legends, "no legend"
    heading = figure.get_suptitle() and figure._suptitle.get_window_extent(renderer)
    for legend in figure.legends:
        box = legend.get_window_extent(renderer)
        for axes in figure.axes:
            assert not box.overlaps(axes.get_window_extent(renderer)), (legend_labels(figure), axes.get_title())
        assert not heading or not box.overlaps(heading)


def footprint_matrix() -> list[ResultRow]:
    """Two Cortex-M cores and the host, two formats, both variants; sizes that tell the cells apart."""
    rows = []
    for core_index, core in enumerate(("cortex-m0plus", "cortex-m4", "host")):
        for format_index, qformat in enumerate(("q16.16", "q8.8")):
            for variant, factor in (("trainable", 2), ("inference", 1)):
                flash = factor * (1000 + 100 * format_index + 10 * core_index)
                total = {"lib_ram_total": factor * 300 + format_index} if core != "host" else {}
                rows.append(result(core, qformat, variant, lib_flash=flash, lib_ram_static=factor * 50, **total))
    return rows


def test_footprint_one_figure_per_format_with_the_host_apart():
    figures = report_figures(results(footprint_matrix()))
    drawn = by_name(figures, "footprint")
    assert list(drawn) == [
        "footprint_xor_cortex-m_q16.16_Os.png",
        "footprint_xor_cortex-m_q8.8_Os.png",
        "footprint_xor_host_Os.png",
    ]
    q8 = drawn["footprint_xor_cortex-m_q8.8_Os.png"]
    flash, ram = q8.axes
    assert [axes.get_title() for axes in q8.axes] == ["Library flash", "Library RAM (static + stack peak)"]
    assert flash.get_ylabel() == ram.get_ylabel() == "bytes" and "Q8.8" in q8.get_suptitle()
    assert x_labels(flash) == x_labels(ram) == ["cortex-m0plus", "cortex-m4"]
    assert bars(flash) == {"trainable": [2200, 2220], "inference": [1100, 1110]}
    assert bars(ram) == {"trainable": [601, 601], "inference": [301, 301]}
    assert bar_look(flash, "trainable") != bar_look(flash, "inference")
    assert legend_labels(q8) == ["trainable", "inference"]
    assert_legend_outside(q8)

    host = drawn["footprint_xor_host_Os.png"]
    flash, ram = host.axes
    assert x_labels(flash) == ["Q16.16", "Q8.8"] and "host" in host.get_suptitle()
    assert ram.get_title() == "Library RAM (static only: not run)"
    assert bars(flash) == {"trainable": [2040, 2240], "inference": [1020, 1120]}
    assert bars(ram) == {"trainable": [100, 100], "inference": [50, 50]}
    assert_legend_outside(host)


def test_deployed_flash_leaves_the_test_set_out():
    rows = [
        result(core, qformat, workload="iris", network="4-8-3 tanh/sigmoid", lib_flash=flash, test_data_bytes=test_data)
        for core, qformat, flash, test_data in (
            ("cortex-m0plus", "q16.16", 1900, 720),
            ("cortex-m4", "q16.16", 1800, 720),
            ("cortex-m0plus", "float32", 6900, 720),
        )
    ]
    drawn = by_name(report_figures(results(rows)), "footprint")
    flash = drawn["footprint_iris_cortex-m_q16.16_Os.png"].axes[0]
    assert flash.get_title() == "Deployed flash (test set excluded)"
    assert bars(flash) == {"inference": [1180, 1080]}
    assert bars(drawn["footprint_iris_cortex-m_float32_Os.png"].axes[0]) == {"inference": [6180]}


@pytest.mark.parametrize(("float_instructions", "scale"), [(54_000.0, "log"), (6_000.0, "linear")])
def test_instructions_use_a_log_scale_when_they_span_a_decade(float_instructions, scale):
    rows = [
        result(core, qformat, instr_forward=instructions)
        for core in ("cortex-m0", "cortex-m4")
        for qformat, instructions in (("q16.16", 620.0), ("q8.8", 650.0), ("float32", float_instructions))
    ]
    caption, figure, name = only(report_figures(results(rows)), "instructions")
    assert name == "instructions_xor_cortex-m_Os.png" and "per inference" in caption
    (axes,) = figure.axes
    assert axes.get_yscale() == scale and axes.get_ylabel() == "instructions (QEMU trace)"
    assert "Per inference" in axes.get_title()
    assert bars(axes) == {"Q16.16": [620, 620], "Q8.8": [650, 650], "float32": [float_instructions] * 2}
    assert len({bar_look(axes, label) for label in bars(axes)}) == 3
    assert_legend_outside(figure)


def test_instructions_per_training_step_beside_per_inference_and_never_the_host():
    rows = [
        result("cortex-m0plus", variant="inference", instr_forward=627.0),
        result("cortex-m0plus", variant="trainable", instr_forward=631.0, instr_train_step=2457.5),
        result("host", variant="inference", instr_forward=1.0),  # a figure from nowhere: never drawn
    ]
    _, figure, _ = only(report_figures(results(rows)), "instructions")
    forward, step = figure.axes
    assert "Per inference" in forward.get_title() and "Per training step" in step.get_title()
    assert bars(forward) == {"Q16.16": [627.0]} and bars(step) == {"Q16.16": [2457.5]}
    assert all("host" not in x_labels(axes) for axes in figure.axes)
    assert_legend_outside(figure)


def test_every_series_names_its_library_when_there_are_several():
    rows = [
        result("cortex-m0plus", qformat, variant, library=library, instr_forward=600.0)
        for library in ("qnn", "other")
        for qformat in ("q16.16", "q8.8")
        for variant in ("trainable", "inference")
    ]
    figures = report_figures(results(rows))
    footprint = by_name(figures, "footprint")["footprint_xor_cortex-m_q8.8_Os.png"]
    assert legend_labels(footprint) == ["qnn trainable", "qnn inference", "other trainable", "other inference"]
    assert len({bar_look(footprint.axes[0], label) for label in legend_labels(footprint)}) == 4
    _, instructions, _ = only(figures, "instructions")
    assert legend_labels(instructions) == ["qnn Q16.16", "qnn Q8.8", "other Q16.16", "other Q8.8"]


def sweep_rows() -> list[ResultRow]:
    """A --hidden-neurons 4,8,16 sweep: costs exactly linear in the connections."""
    return [
        result(
            core,
            "q16.16",
            workload="iris",
            network=network,
            connections=connections,
            lib_flash=500 + 5 * connections + 720,
            test_data_bytes=720,
            lib_ram_total=20 + connections,
            instr_forward=100.0 + (30 if core == "cortex-m0plus" else 10) * connections,
        )
        for core in ("cortex-m0plus", "cortex-m4")
        for network, connections in SWEEP.items()
    ]


def test_a_sweep_draws_every_network():
    figures = report_figures(results(sweep_rows()))
    flash = only(figures, "footprint")[1].axes[0]
    assert bars(flash) == {network: [500 + 5 * connections] * 2 for network, connections in SWEEP.items()}
    _, figure, _ = only(figures, "instructions")
    assert list(bars(figure.axes[0])) == list(SWEEP)


def test_scaling_plots_every_network_against_connections():
    caption, figure, name = only(report_figures(results(sweep_rows())), "scaling")
    assert name == "scaling_iris_cortex-m_inference_Os.png" and all(network in caption for network in SWEEP)
    assert [axes.get_title() for axes in figure.axes] == [
        "Deployed flash (test set excluded)",
        "Library RAM (static + stack peak)",
        "Instructions per inference",
    ]
    assert all(axes.get_xlabel() == "connections (weights and biases)" for axes in figure.axes)
    assert legend_labels(figure) == ["cortex-m0plus Q16.16", "cortex-m4 Q16.16"]
    flash, _, instructions = figure.axes
    measured = [line for line in flash.lines if line.get_label().endswith("measured")]
    assert [list(line.get_xdata()) for line in measured] == [list(SWEEP.values())] * 2
    assert list(measured[0].get_ydata()) == [500 + 5 * connections for connections in SWEEP.values()]
    fit = next(line for line in instructions.lines if line.get_label() == "_cortex-m0plus Q16.16 fit")
    assert list(fit.get_ydata()) == pytest.approx([100 + 30 * 35, 100 + 30 * 131])
    looks = {(line.get_color(), line.get_linestyle(), line.get_marker()) for line in figure.legends[0].get_lines()}
    assert len(looks) == 2
    assert_legend_outside(figure)


def test_a_single_network_has_no_scaling_figure():
    assert report_figures(results(footprint_matrix()))["scaling"] == []


def log(errors: list[float], weights: int = 17, fractional_bits: int = 16) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "iteration": [10 * i for i in range(len(errors))],
            "error": errors,
            "error_raw": [round(error * (1 << fractional_bits)) for error in errors],
        }
    )
    return frame.assign(**{f"w{i}": [0.1 * i + 0.01 * step for step in range(len(errors))] for i in range(weights)})


def trainable_runs(logs: dict[tuple[str, str, str], pd.DataFrame]) -> SavedResults:
    """(library, core, format) -> its training log, and a trainable row for each."""
    rows = [result(core, qformat, "trainable", library=library) for library, core, qformat in logs]
    training = {
        training_log_name("xor", library, XOR, core, qformat, "trainable", "Os"): frame
        for (library, core, qformat), frame in logs.items()
    }
    return results(rows, training)


def test_training_curves_per_format_share_identical_runs_across_cores():
    q16, q8 = log([0.6, 0.4, 0.09]), log([0.7, 0.3, 0.2, 0.08])
    saved = trainable_runs(
        {
            ("qnn", "cortex-m0plus", "q16.16"): q16,
            ("qnn", "cortex-m4", "q16.16"): q16,
            ("qnn", "cortex-m0plus", "q8.8"): q8,
            ("qnn", "cortex-m4", "q8.8"): log([0.5, 0.05]),
        }
    )
    caption, figure, name = only(report_figures(saved), "training")
    assert name == "training_xor_2-4-1-tanh-sigmoid_Os.png" and "per format and library" in caption
    (axes,) = figure.axes
    assert axes.get_xlabel() == "training iteration" and "largest |output - target|" in axes.get_ylabel()
    assert legend_labels(figure) == [
        "Q16.16 (cortex-m0plus, cortex-m4)",
        "Q8.8 (cortex-m0plus)",
        "Q8.8 (cortex-m4)",
        f"learned (every output within {LEARNED_ERROR})",
    ]
    curves = [line for line in axes.lines if line.get_label().startswith("Q")]
    assert len({(line.get_color(), line.get_linestyle()) for line in curves}) == 3
    assert axes.get_yscale() == "log"  # 0.05 to 0.7
    assert_legend_outside(figure)


def test_training_curves_name_their_library_when_there_are_several():
    saved = trainable_runs(
        {("qnn", "cortex-m0plus", "q16.16"): log([0.6, 0.5]), ("other", "cortex-m0plus", "q16.16"): log([0.6, 0.4])}
    )
    _, figure, _ = only(report_figures(saved), "training")
    assert legend_labels(figure)[:2] == ["Q16.16 qnn (cortex-m0plus)", "Q16.16 other (cortex-m0plus)"]
    assert figure.axes[0].get_yscale() == "linear"


def test_seventeen_weights_look_distinct_and_the_legend_stays_outside():
    saved = trainable_runs(
        {("qnn", "cortex-m4", "q8.8"): log([0.6, 0.5]), ("qnn", "cortex-m0plus", "q8.8"): log([0.6, 0.4])}
    )
    caption, figure, name = only(report_figures(saved), "weights")
    assert name == "weights_xor_2-4-1-tanh-sigmoid_cortex-m0plus_q8.8_trainable_Os.png"  # the article's core
    (axes,) = figure.axes
    assert len(axes.lines) == 17 and legend_labels(figure) == [f"w{i}" for i in range(17)]
    assert len({(line.get_color(), line.get_linestyle()) for line in axes.lines}) == 17
    assert "cortex-m0plus Q8.8" in axes.get_title() and axes.get_ylabel() == "weight value"
    assert_legend_outside(figure)


def test_series_styles_stay_distinct_past_the_palette():
    looks = [series_style(index) for index in range(len(PALETTE) * 6)]
    assert len({(look.colour, look.line_style) for look in looks}) == len(looks)
    assert len({(look.colour, look.hatch) for look in looks}) == len(looks)
    assert len({(look.colour, look.marker) for look in looks}) == len(looks)


def test_paired_styles_colour_by_the_first_part_and_vary_style_by_the_second():
    looks = paired_styles([("m0", "Q16.16"), ("m0", "Q8.8"), ("m4", "Q16.16"), ("m4", "Q8.8")])
    assert looks["m0", "Q16.16"].colour == looks["m0", "Q8.8"].colour != looks["m4", "Q16.16"].colour
    assert looks["m0", "Q16.16"].line_style == looks["m4", "Q16.16"].line_style != looks["m4", "Q8.8"].line_style
    many = paired_styles([(f"core{i}", "Q16.16") for i in range(len(PALETTE) + 1)])  # more cores than colours
    assert len({(look.colour, look.line_style) for look in many.values()}) == len(PALETTE) + 1


def test_a_decade_is_ten_times_among_positive_values():
    assert spans_a_decade([600, 6000]) and not spans_a_decade([600, 5999])
    assert not spans_a_decade([0, 5, float("nan"), 40]) and not spans_a_decade([7])


def test_results_with_nothing_to_draw_give_empty_sections():
    failed = [
        ResultRow(
            core="cortex-m0plus",
            board="b",
            qformat="q16.16",
            variant="trainable",
            opt="Os",
            workload="xor",
            status="build-failed",
            network=XOR,
        )
    ]
    assert report_figures(results(failed)) == {
        "footprint": [],
        "instructions": [],
        "training": [],
        "scaling": [],
        "weights": [],
    }


def test_file_names_are_unique_and_the_same_results_give_the_same_files(tmp_path):
    rows = footprint_matrix() + sweep_rows()
    names = [name for figures in report_figures(results(rows)).values() for _, _, name in figures]
    assert len(names) == len(set(names)) and all(name.endswith(".png") for name in names)
    plt.close("all")
    assert names == [name for figures in report_figures(results(rows)).values() for _, _, name in figures]
    plt.close("all")
    _, figure, name = report_figures(results(rows))["footprint"][0]
    assert save(figure, tmp_path / "a", name) == f"plots/{name}"
    _, again, _ = report_figures(results(rows))["footprint"][0]
    save(again, tmp_path / "b", name)
    assert (tmp_path / "a" / "plots" / name).read_bytes() == (tmp_path / "b" / "plots" / name).read_bytes()


# Drawing only what changed: a figure is keyed by exactly what it is drawn from.


def stored_run(trainable: bool = True) -> SavedResults:
    """Figures of every kind but scaling: footprint per format, instructions and (trainable) training and weights."""
    variants = ("trainable", "inference") if trainable else ("inference",)
    rows = [
        result(
            core,
            qformat,
            variant,
            lib_flash=1000 + 10 * index,
            instr_forward=600.0 + index,
            **({"instr_train_step": 2400.0 + index} if variant == "trainable" else {}),
        )
        for index, (core, qformat, variant) in enumerate(
            (core, qformat, variant)
            for core in ("cortex-m0plus", "cortex-m4")
            for qformat in ("q16.16", "q8.8")
            for variant in variants
        )
    ]
    training = {
        training_log_name("xor", "qnn", XOR, core, qformat, "trainable", "Os"): log([0.6, 0.3, 0.09])
        for core in ("cortex-m0plus", "cortex-m4")
        for qformat in ("q16.16", "q8.8")
    }
    return results(rows, training if trainable else {})


def changed_row(saved: SavedResults, core: str, qformat: str, variant: str, **columns) -> SavedResults:
    rows = saved.rows.copy()
    chosen = (rows["core"] == core) & (rows["qformat"] == qformat) & (rows["variant"] == variant)
    for column, value in columns.items():
        rows.loc[chosen, column] = value
    return replace(saved, rows=rows)


def test_a_stored_figure_is_the_drawn_one_and_only_a_changed_figure_is_drawn_again(tmp_path):
    store = PlotStore(tmp_path / "plots")
    saved = stored_run()
    cold = plot_files(saved, store)
    assert [plot.section for plot in cold] == ["footprint"] * 2 + ["instructions", "training"] + ["weights"] * 2
    assert all(plot.drawn for plot in cold) and len(list(store.directory.iterdir())) == len(cold)

    warm = plot_files(saved, store)
    assert not any(plot.drawn for plot in warm) and warm == [replace(plot, drawn=False) for plot in cold]
    charts = [figure.chart for figures in planned_figures(saved).values() for figure in figures]
    assert [plot.png for plot in warm] == [png(chart) for chart in charts]  # as drawn here and now, byte for byte

    # One row's flash changes: its format's footprint figure, and only that one, is drawn again.
    changed = changed_row(saved, "cortex-m4", "q8.8", "inference", lib_flash=5000)
    grown = plot_files(changed, store)
    assert [plot.name for plot in grown if plot.drawn] == ["footprint_xor_cortex-m_q8.8_Os.png"]
    assert [plot.name for plot in grown if plot not in warm] == ["footprint_xor_cortex-m_q8.8_Os.png"]
    assert grown[1].png == png(planned_figures(changed)["footprint"][1].chart) != cold[1].png

    # A column no figure draws (the run's date) changes nothing.
    dated = changed_row(saved, "cortex-m4", "q8.8", "trainable", date="2030-01-01T00:00:00Z")
    assert not any(plot.drawn for plot in plot_files(dated, store))


def test_a_damaged_entry_is_drawn_again_and_no_cache_draws_everything(tmp_path):
    store = PlotStore(tmp_path / "plots")
    saved = stored_run(trainable=False)
    cold = plot_files(saved, store)
    damaged = sorted(store.directory.iterdir())[0]
    damaged.write_bytes(damaged.read_bytes()[:-100])  # cut short
    again = plot_files(saved, store)
    assert sum(plot.drawn for plot in again) == 1 and [plot.png for plot in again] == [plot.png for plot in cold]
    assert all(store.fetch(entry.name) is not None for entry in store.directory.iterdir())  # replaced whole
    unread = plot_files(saved, PlotStore(store.directory, read=False))
    assert all(plot.drawn for plot in unread) and [plot.png for plot in unread] == [plot.png for plot in cold]


def test_figures_are_drawn_in_worker_processes_with_the_same_bytes(monkeypatch):
    charts = [figure.chart for figures in planned_figures(stored_run(trainable=False)).values() for figure in figures]
    started = []

    class CountedPool(ProcessPoolExecutor):
        def __init__(self, workers, **options):
            started.append(workers)
            super().__init__(workers, **options)

    monkeypatch.setattr(plots, "ProcessPoolExecutor", CountedPool)
    assert len(charts) == 3 and pngs(charts) == [png(chart) for chart in charts]
    assert started == ([min(3, os.cpu_count() or 1)] if (os.cpu_count() or 1) > 1 else [])


def test_no_worker_is_started_when_nothing_or_one_figure_must_be_drawn(tmp_path, monkeypatch):
    store = PlotStore(tmp_path / "plots")
    saved = stored_run(trainable=False)
    plot_files(saved, store)

    def refused(*arguments, **options):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(plots, "ProcessPoolExecutor", refused)
    assert not any(plot.drawn for plot in plot_files(saved, store))
    changed = plot_files(changed_row(saved, "cortex-m0plus", "q16.16", "inference", lib_flash=9000), store)
    assert [plot.name for plot in changed if plot.drawn] == ["footprint_xor_cortex-m_q16.16_Os.png"]


def test_a_chart_holds_plain_values_so_results_read_back_give_the_same_keys(tmp_path):
    saved = stored_run()
    write_results(tmp_path, replace(saved, environment=ENVIRONMENT))
    keys = {
        figure.file_name: chart_key(figure.chart) for figures in planned_figures(saved).values() for figure in figures
    }
    again = {
        figure.file_name: chart_key(figure.chart)
        for figures in planned_figures(read_results(tmp_path)).values()
        for figure in figures
    }
    assert again == keys
    text = repr([figure.chart for figures in planned_figures(saved).values() for figure in figures])
    assert "np." not in text and "numpy" not in text and "Series" not in text
