"""Which model prices each core: the TRM table where Arm publishes one (targets/timing/*.toml), else LLVM's
scheduling model through llvm-mca (targets/timing/llvm/*.toml); where both exist (cortex-m4), LLVM's is computed
beside the table's to show how far apart they are. Read once per process."""

from __future__ import annotations

import hashlib
import subprocess
from functools import cache

from qbench.execution.decode import TimingError
from qbench.execution.mca import McaModel, llvm_tool, load_mca_models
from qbench.execution.timing import CycleModel
from qbench.execution.timing_tables import TIMING, load_timing_models


@cache
def cycle_models() -> dict[str, CycleModel]:
    """The model each core's estimates come from."""
    return {**load_mca_models(), **load_timing_models()}


@cache
def comparison_models() -> dict[str, CycleModel]:
    """LLVM's model of each core a TRM table prices, priced beside it."""
    tables = load_timing_models()
    return {core: model for core, model in load_mca_models().items() if core in tables}


@cache
def llvm_version() -> str:
    """llvm-mca's version line, or why there is none (the models using it then say so when they price)."""
    try:
        done = subprocess.run([llvm_tool("llvm-mca"), "--version"], capture_output=True, text=True, check=False)
    except TimingError as error:
        return str(error)
    return next((line.strip() for line in done.stdout.splitlines() if "version" in line), "llvm-mca")


def model_identity(model: CycleModel) -> str:
    """What a row records as its cycle model: the model's source, and the llvm-mca it ran on."""
    return f"{model.source}; {llvm_version()}" if isinstance(model, McaModel) else model.source


def model_digest(core: str | None) -> str | None:
    """The digest of what prices core (its models' identities and files); when none can be named (no model, or
    the models do not load), of every model file, so a model added or mended reprices."""
    if core is None:
        return None
    try:
        models = [model for model in (cycle_models().get(core), comparison_models().get(core)) if model is not None]
    except TimingError:
        models = []
    files = [model.path for model in models] or sorted(TIMING.rglob("*.toml"))
    digest = hashlib.sha256("\0".join(model_identity(model) for model in models).encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
