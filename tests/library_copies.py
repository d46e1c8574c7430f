"""Copies of qnn made at test time, standing in for other libraries: qnn's headers and its adapter, renamed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from qbench.images.libraries import QNN

QNN_HEADERS = QNN.include_dirs[1]
QNN_ADAPTER = QNN.root / QNN.adapter


def _rename(root: Path, namespace: str) -> None:
    for header in root.rglob("*.hpp"):
        text = re.sub(r"\bqnn::", f"{namespace}::", header.read_text())
        header.write_text(text.replace("namespace qnn", f"namespace {namespace}"))


def qnn_copy(root: Path, namespace: str, descriptor: str = "") -> Path:
    """qnn's headers (include/) and adapter (adapter/) under root, in namespace `namespace`, with a
    qbench-library.toml naming them, and `descriptor` appended to it."""
    shutil.copytree(QNN_HEADERS, root / "include")
    (root / "adapter").mkdir()
    shutil.copy(QNN_ADAPTER, root / "adapter")
    _rename(root, namespace)
    (root / "qbench-library.toml").write_text(
        f'adapter = "{QNN.adapter}"\ninclude_dirs = ["adapter", "include"]\nsymbols = ["{namespace}::"]\n{descriptor}'
    )
    return root


def renamed_qnn(root: Path, namespace: str) -> Path:
    """A qnn copy in namespace `namespace` demanding the Q-format macro its descriptor sets."""
    qnn_copy(root, namespace, '[defines]\n"OTHER_LUT_{I}_{F}" = "1"\n')
    umbrella = root / "include" / "qnn" / "qnn.hpp"
    umbrella.write_text(
        "#if !OTHER_LUT_16_16\n#error the descriptor sets no LUT macro\n#endif\n" + umbrella.read_text()
    )
    return root
