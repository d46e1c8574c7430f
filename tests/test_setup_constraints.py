"""A reproducible set-up: constraints.txt pins the tested version of every Python package, pyproject.toml keeps
compatible ranges that hold those versions, scripts/setup and tox install with the constraints, and every
results file records the versions of the packages that shape its figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from host_build import REPO
from qbench.commands.cli import main as qbench_main
from qbench.orchestration.provenance import FIGURE_PACKAGES, Revision, environment
from qbench.records.results import read_results

CONSTRAINTS = REPO / "constraints.txt"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# The extras scripts/setup and tox install (torch is optional, and pinned exactly in pyproject.toml).
INSTALLED_EXTRAS = ("test", "emlearn")


def pins() -> dict[str, str]:
    """constraints.txt: canonical name -> version."""
    pinned: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"constraints.txt: {line!r} is not an exact version"
        name = canonicalize_name(requirement.name)
        assert name not in pinned, f"constraints.txt names {name} twice"
        pinned[name] = specifier.version
    return pinned


def requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    return [Requirement(text) for text in project["dependencies"]] + [
        Requirement(text) for extra in INSTALLED_EXTRAS for text in project["optional-dependencies"][extra]
    ]


def test_constraints_pin_exact_versions_of_everything_but_qbench():
    pinned = pins()
    assert "qbench" not in pinned and len(pinned) >= 20


def test_every_dependency_has_a_range_and_its_tested_version_lies_in_it():
    pinned = pins()
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is a dependency but constraints.txt does not pin it"
        assert requirement.specifier.contains(pinned[name]), f"{name} {pinned[name]} is outside {requirement}"
        # An upper bound: a release that may break qbench is not installed until it is tested.
        assert any(spec.operator in ("<", "<=", "==") for spec in requirement.specifier), f"{requirement} is open"
    capstone = next(r for r in requirements() if canonicalize_name(r.name) == "capstone")
    assert not capstone.specifier.contains("6.0.0") and capstone.specifier.contains("5.0.9")


def test_the_tests_run_with_the_tested_versions():
    """scripts/setup and tox install with constraints.txt: every pinned package that is installed here is at its
    pinned version (a package installed past them shows up here)."""
    pinned, differ = pins(), []
    for name, version in pinned.items():
        try:
            found = installed_version(name)
        except PackageNotFoundError:
            continue
        if found != version:
            differ.append(f"{name} {found} (constraints.txt: {version})")
    assert not differ, f"installed at other versions than tested: {', '.join(differ)}; run scripts/setup"
    for requirement in requirements():
        installed_version(requirement.name)  # every dependency is installed


def test_every_tox_environment_installs_with_the_constraints():
    configured = subprocess.run(
        [sys.executable, "-m", "tox", "config", "-k", "install_command"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    environments = [line for line in configured.splitlines() if line.startswith("[testenv:")]
    commands = [line for line in configured.splitlines() if line.startswith("install_command = ")]
    assert len(environments) == len(commands) >= 5
    assert all(f"-c {CONSTRAINTS}" in command for command in commands), configured


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="scripts/setup is for Debian")
def test_setup_installs_with_the_constraints_and_again_when_they_change(tmp_path):
    """scripts/setup in a copy of the checkout whose .venv/bin/python only records how it is called."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup", root / "scripts")
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copy(CONSTRAINTS, root)
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    calls = tmp_path / "calls"
    for name in ("python", "qbench"):
        (venv / name).write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
        (venv / name).chmod(0o755)

    def setup() -> list[str]:
        calls.write_text("")
        subprocess.run(
            ["bash", str(root / "scripts" / "setup")],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PATH": os.environ["PATH"]},
            timeout=300,
        )
        return [line for line in calls.read_text().splitlines() if line.startswith("-m pip install")]

    assert setup()[-1] == "-m pip install --quiet -c constraints.txt -e .[test,emlearn]"
    assert setup() == []  # nothing changed: nothing installed
    with (root / "constraints.txt").open("a") as stream:
        stream.write("extra-package==1.0\n")
    assert setup()[-1] == "-m pip install --quiet -c constraints.txt -e .[test,emlearn]"


def test_every_results_file_records_the_packages_that_shape_its_figures(tmp_path):
    recorded = environment(Revision("abc", False), {}, [], False)
    assert set(FIGURE_PACKAGES) == {"numpy", "scikit-learn", "pandas", "matplotlib"}
    assert recorded["packages"] == {name: installed_version(name) for name in FIGURE_PACKAGES}
    assert (recorded["pyelftools"], recorded["capstone"]) == (
        installed_version("pyelftools"),
        installed_version("capstone"),
    )
    out = tmp_path / "out"
    arguments = [
        "run",
        "--cores",
        "host",
        "--formats",
        "q8.8",
        "--variants",
        "inference",
        "--no-emulate",
        "--build-dir",
        str(tmp_path / "build"),
        "--out",
        str(out),
    ]
    assert qbench_main(arguments) == 0
    assert read_results(out).environment["packages"] == recorded["packages"]
    # A results file written before the packages were recorded still reads, with none recorded.
    document = json.loads((out / "results.json").read_text())
    del document["environment"]["packages"]
    (out / "results.json").write_text(json.dumps(document))
    assert read_results(out).environment["packages"] == {}
