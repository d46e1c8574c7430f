"""The package's layout shows the pipeline: one sub-package per stage or concern, and imports that flow one way,
from the command line down to the common ground (a module may import its own sub-package and those below it).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import qbench

PACKAGE = Path(qbench.__file__).parent
# Lowest first: each layer may import itself and the layers before it.
LAYERS = (
    "common",
    "records",
    "models",
    "hardware",
    "images",
    "sizes",
    "execution",
    "reporting",
    "orchestration",
    "commands",
)


def _imported(tree: ast.AST) -> set[str]:
    """The qbench sub-packages a module imports (absolute imports: the package uses no relative ones)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import of {node.module}"
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "qbench" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules() -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts]


def test_every_module_lives_in_a_stage_package():
    loose = {path.name for path in PACKAGE.glob("*.py")} - {"__init__.py", "__main__.py"}
    assert not loose, f"modules outside the stage packages: {sorted(loose)}"
    assert {path.name for path in PACKAGE.iterdir() if path.is_dir() and path.name != "__pycache__"} == set(LAYERS)


def test_imports_flow_one_way():
    backwards = []
    for path in _modules():
        relative = path.relative_to(PACKAGE).parts
        if len(relative) == 1:
            continue  # qbench/__init__.py and __main__.py
        layer = LAYERS.index(relative[0])
        for imported in _imported(ast.parse(path.read_text())):
            if imported in LAYERS and LAYERS.index(imported) > layer:
                backwards.append(f"{'/'.join(relative)} imports qbench.{imported}")
    assert not backwards, "\n".join(backwards)


def test_every_module_imports():
    # Some modules are imported only lazily (inside a function): each must still import on its own.
    for path in _modules():
        relative = path.relative_to(PACKAGE).with_suffix("")
        if relative.name != "__main__":
            importlib.import_module(".".join(("qbench", *relative.parts)).removesuffix(".__init__"))


LONGEST_FUNCTION = 60  # lines, decorators aside: a function is read at once


def test_no_function_runs_longer_than_a_screen():
    long = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]
    assert not long, long
