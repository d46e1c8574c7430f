"""Combining the results of several runs (CI shards) into one results set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .results import SavedResults, read_results

KEY = ["library", "core", "qformat", "variant", "opt", "workload", "network"]
# Tools whose versions must agree across merged results (the measurements depend on them).
VERSIONED = ("toolchains",)


class MergeError(ValueError):
    """Results that cannot be combined; the message names them and why."""


def merge(directories: list[Path], allow_mixed: bool = False) -> SavedResults:
    if not directories:
        raise MergeError("nothing to merge: name at least one results directory")
    parts = [(directory, read_results(directory)) for directory in directories]
    first_directory, first = parts[0]
    if not allow_mixed:
        for directory, saved in parts[1:]:
            for tool, version in saved.environment["toolchains"].items():
                other = first.environment["toolchains"].get(tool)
                if other is not None and other != version:
                    raise MergeError(
                        f"refusing to mix {tool} versions: {first_directory} has {other!r}, {directory} has "
                        f"{version!r} (pass --allow-mixed to merge anyway)"
                    )
    rows = pd.concat([saved.rows for _, saved in parts], ignore_index=True)
    duplicated = rows[rows.duplicated(KEY, keep=False)]
    if not duplicated.empty:
        first_duplicate = duplicated.iloc[0]
        cell = " ".join(str(first_duplicate[column]) for column in KEY[:6])
        raise MergeError(f"the cell {cell} appears in more than one of the results sets")
    training: dict[str, pd.DataFrame] = {}
    for _, saved in parts:
        training |= saved.training
    environment = {
        **first.environment,
        "toolchains": {tool: version for _, s in parts for tool, version in s.environment["toolchains"].items()},
        "problems": sorted({problem for _, s in parts for problem in s.environment["problems"]}),
        "git_sha": first.environment["git_sha"],
        "merged_from": [str(directory) for directory in directories],
    }
    symbols = pd.concat([saved.symbols for _, saved in parts], ignore_index=True).drop_duplicates()
    instructions = pd.concat([saved.instructions for _, saved in parts], ignore_index=True)
    # Shards of one matrix measure the same libraries' host configuration: keep each once.
    article = pd.concat([saved.article for _, saved in parts], ignore_index=True).drop_duplicates(
        ["library", "variant"]).reset_index(drop=True)  # fmt: skip
    return SavedResults(rows, symbols, instructions, training, environment, article)
