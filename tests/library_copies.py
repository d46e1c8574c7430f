"""Copies of qnn made at test time, standing in for other libraries."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from qbench.workloads import QNN_INCLUDE


def renamed_qnn(root: Path, namespace: str) -> Path:
    """qnn's headers under root, in namespace `namespace`, demanding the LUT macro a descriptor sets."""
    shutil.copytree(QNN_INCLUDE, root)
    for header in root.rglob("*.hpp"):
        text = re.sub(r"\bqnn::", f"{namespace}::", header.read_text())
        header.write_text(text.replace("namespace qnn", f"namespace {namespace}"))
    umbrella = root / "qnn" / "qnn.hpp"
    umbrella.write_text("#if !OTHER_LUT_16_16\n#error the descriptor sets no LUT macro\n#endif\n"
                        + umbrella.read_text())  # fmt: skip
    (root / "qbench-library.toml").write_text(f'namespace = "{namespace}"\n[defines]\n"OTHER_LUT_{{I}}_{{F}}" = "1"\n')
    return root
