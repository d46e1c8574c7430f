"""Combining the results of several runs (CI shards) into one results set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from qbench.common.errors import QbenchError
from qbench.records.keys import CellKey
from qbench.records.results import SavedResults, SymbolTable, read_results, shard_numbers

KEY = list(CellKey.columns(first=("library",)))  # the order a duplicate cell is named in
ALLOW_MIXED = "(pass --allow-mixed to merge anyway)"


class MergeError(QbenchError, ValueError):
    """Results that cannot be combined; the message names them and why."""


def merge(directories: list[Path], allow_mixed: bool = False) -> SavedResults:
    if not directories:
        raise MergeError("nothing to merge: name at least one results directory")
    parts = [(directory, read_results(directory)) for directory in directories]
    runs = [run for directory, saved in parts for run in _runs(directory, saved.environment)]
    if not allow_mixed:
        _refuse_mixed_toolchains(runs)
        _refuse_incomplete_shards(runs)
    rows = pd.concat([saved.rows for _, saved in parts], ignore_index=True)
    _refuse_duplicate_cells(parts, rows)
    training: dict[str, pd.DataFrame] = {}
    for _, saved in parts:
        training |= saved.training
    symbols = pd.concat([saved.symbols.frame() for _, saved in parts], ignore_index=True).drop_duplicates()
    instructions = pd.concat([saved.instructions for _, saved in parts], ignore_index=True)
    # Shards of one matrix measure the same libraries' host configuration: keep each once.
    article = (
        pd.concat([saved.article for _, saved in parts], ignore_index=True)
        .drop_duplicates(["library", "variant"])
        .reset_index(drop=True)
    )
    return SavedResults(
        rows, SymbolTable.of(symbols), instructions, training, _merged_environment(parts, runs), article
    )


def _runs(directory: Path, environment: dict) -> list[dict]:
    """The runs a results set holds, each with its own provenance: itself, or the runs merged into it."""
    if environment["merged_environments"]:
        return environment["merged_environments"]
    fields = ("toolchains", "qbench", "git_sha", "interrupted", "shard", "matrix_digest")
    return [{"folder": str(directory), **{name: environment[name] for name in fields}}]


def _versions(runs: list[dict]) -> dict[str, dict[str, list[str]]]:
    """Tool -> version -> the folders of the runs that used it, in the order given."""
    versions: dict[str, dict[str, list[str]]] = {}
    for run in runs:
        for tool, version in run["toolchains"].items():
            versions.setdefault(tool, {}).setdefault(version, []).append(run["folder"])
    return versions


def _refuse_mixed_toolchains(runs: list[dict]) -> None:
    """The measurements depend on the tools' versions: one version of each across the merged runs."""
    for tool, versions in _versions(runs).items():
        if len(versions) > 1:
            found = ", ".join(
                f"{', '.join(folders)} {'has' if len(folders) == 1 else 'have'} {version!r}"
                for version, folders in versions.items()
            )
            raise MergeError(f"refusing to mix {tool} versions: {found} {ALLOW_MIXED}")


def _refuse_incomplete_shards(runs: list[dict]) -> None:
    """Shards merge only as a whole set: of one matrix, one split, each share once."""
    shards = [run for run in runs if run["shard"] is not None]
    if not shards:
        return
    listing = ", ".join(f"{run['folder']} ({run['shard']})" for run in shards)
    counts = {shard_numbers(run["shard"])[1] for run in shards}
    if len(counts) > 1:
        raise MergeError(f"refusing to merge shards of different splits: {listing} {ALLOW_MIXED}")
    if len({run["matrix_digest"] for run in shards}) > 1:
        matrices = ", ".join(
            f"{run['folder']} ({run['shard']}) ran {run['matrix_digest'][:12] or 'an unrecorded one'}" for run in shards
        )
        raise MergeError(f"refusing to merge shards of different matrices: {matrices} {ALLOW_MIXED}")
    (count,) = counts
    holders: dict[int, list[str]] = {}
    for run in shards:
        holders.setdefault(shard_numbers(run["shard"])[0], []).append(run["folder"])
    twice = sorted(index for index, folders in holders.items() if len(folders) > 1)
    if twice:
        folders = " and ".join(holders[twice[0]])
        raise MergeError(f"refusing to merge shard {twice[0]}/{count} twice: {folders} both hold it {ALLOW_MIXED}")
    missing = [f"{index}/{count}" for index in range(1, count + 1) if index not in holders]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise MergeError(
            f"refusing to merge an incomplete set of shards: {', '.join(missing)} {verb} missing "
            f"(merging {listing}) {ALLOW_MIXED}"
        )


def _refuse_duplicate_cells(parts: list[tuple[Path, SavedResults]], rows: pd.DataFrame) -> None:
    """A cell measured twice has no one result, mixed versions or not."""
    duplicated = rows[rows.duplicated(KEY, keep=False)]
    if duplicated.empty:
        return
    cell = duplicated.iloc[0][KEY]
    holders = [str(directory) for directory, saved in parts if (saved.rows[KEY] == cell).all(axis=1).any()]
    shown = " ".join(str(cell[column]) for column in KEY if column != "network")  # long, and one per workload
    raise MergeError(f"the cell {shown} appears in more than one of the results sets ({', '.join(holders)})")


def _merged_environment(parts: list[tuple[Path, SavedResults]], runs: list[dict]) -> dict:
    """The first set's environment, with what differs between the runs recorded rather than dropped."""
    first = parts[0][1].environment
    digests = {run["matrix_digest"] for run in runs}
    return {
        **first,
        # Mixed versions (--allow-mixed) are listed together; each run's own are in merged_environments.
        "toolchains": {tool: "; ".join(versions) for tool, versions in sorted(_versions(runs).items())},
        "problems": sorted({problem for _, saved in parts for problem in saved.environment["problems"]}),
        "interrupted": any(run["interrupted"] for run in runs),
        "git_dirty": any(saved.environment["git_dirty"] for _, saved in parts),
        "shard": None,
        "matrix_digest": digests.pop() if len(digests) == 1 else "",
        "merged_from": [str(directory) for directory, _ in parts],
        "merged_environments": runs,
        "libraries": {name: record for _, saved in parts for name, record in saved.environment["libraries"].items()},
        "cluster": _merged_cluster([saved.environment["cluster"] for _, saved in parts]),
    }


def _merged_cluster(records: list[dict]) -> dict:
    """What the clusters of all the sets did, each event once (shards may share a cluster), in a sorted order."""
    return {
        kind: [
            json.loads(text)
            for text in sorted({json.dumps(event, sort_keys=True) for record in records for event in record[kind]})
        ]
        for kind in records[0]
    }
