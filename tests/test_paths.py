"""How a path is shown and recorded (qbench.common.paths.shown): the same text however often it is asked, and a
relative path taken from the working folder of the moment."""

from pathlib import Path

from qbench.common.paths import REPO, shown


def test_a_place_in_the_checkout_is_shown_relative_to_it():
    assert shown(REPO / "targets" / "cores") == "targets/cores"
    assert shown(REPO / "targets" / ".." / "suite") == "suite"


def test_a_place_elsewhere_is_shown_whole(tmp_path):
    assert shown(tmp_path / "build") == str(tmp_path.resolve() / "build")


def test_a_relative_path_follows_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    first = shown(Path("build"))
    monkeypatch.chdir(tmp_path / "two")
    assert (first, shown(Path("build"))) == (str(tmp_path / "one" / "build"), str(tmp_path / "two" / "build"))
