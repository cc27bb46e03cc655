"""The edition builder never writes over the instructor edition, never lets an untagged solution through, and
leaves the target as it was when a notebook cannot be read (resnet_lessons.lab.edition)."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from resnet_lessons.lab import edition


def _course(folder: Path, solution_tagged: bool = True) -> Path:
    """A two-notebook course in ``folder``: an exercise, its check and its tagged worked solution."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("01_a.ipynb", "02_b.ipynb"):
        solution = new_code_cell("# @title Solution\nanswer = 42")
        if solution_tagged:
            solution.metadata["tags"] = [edition.SOLUTION]
        nb = new_notebook(cells=[new_markdown_cell("# A lesson"), new_code_cell("answer = None  # TODO"),
                                 new_code_cell("check(answer)"), solution])
        nbformat.write(nb, folder / name)
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("target", [".", "./", "sub"])
def test_a_target_that_is_the_source_or_inside_it_is_refused(tmp_path, target):
    source = _course(tmp_path / "notebooks")
    before = _snapshot(source)
    with pytest.raises(ValueError, match="instructor edition") as caught:
        edition.build(source, source / target)
    assert str(source) in str(caught.value) and "student" in str(caught.value)
    assert _snapshot(source) == before  # every solution still there
    assert not (source / "sub").exists()


def test_a_target_that_holds_the_source_is_refused(tmp_path):
    source = _course(tmp_path / "notebooks")
    with pytest.raises(ValueError, match="instructor edition"):
        edition.build(source, tmp_path)


def test_the_command_line_refuses_nb_nb(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _course(tmp_path / "nb")
    before = _snapshot(tmp_path / "nb")
    assert edition.main(["build", "nb", "nb"]) == 2
    assert "error:" in capsys.readouterr().err
    assert _snapshot(tmp_path / "nb") == before


def test_a_solution_cell_that_lost_its_tag_is_refused_by_build_and_check(tmp_path, capsys):
    source = _course(tmp_path / "notebooks")
    target = tmp_path / "student"
    edition.build(source, target)
    before = _snapshot(target)
    _course(source, solution_tagged=False)  # the worked solutions lost their tag
    with pytest.raises(edition.EditionError, match=r"01_a\.ipynb.*cell 4.*not tagged 'solution'"):
        edition.build(source, target)
    assert _snapshot(target) == before
    assert edition.main(["check", str(source), str(target)]) == 1
    assert "not tagged 'solution'" in capsys.readouterr().out
    assert edition.main(["build", str(source), str(target)]) == 2
    assert "answer = 42" not in (target / "01_a.ipynb").read_text()


def test_malformed_json_names_the_notebook_and_leaves_the_target_as_it_was(tmp_path, capsys):
    source = _course(tmp_path / "notebooks")
    target = tmp_path / "student"
    edition.build(source, target)
    (target / "README.md").write_text("kept")
    before = _snapshot(target)
    (source / "02_b.ipynb").write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(edition.EditionError, match=r"02_b\.ipynb"):
        edition.build(source, target)
    assert _snapshot(target) == before  # not half-built: 01_a.ipynb was not rewritten either
    assert edition.main(["build", str(source), str(target)]) == 2
    assert "02_b.ipynb" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks", "student"]  # no temporary folder left


def test_a_build_replaces_the_target_and_keeps_its_other_files(tmp_path):
    source = _course(tmp_path / "notebooks")
    target = tmp_path / "student"
    target.mkdir()
    (target / "README.md").write_text("kept")
    written = edition.build(source, target)
    assert [p.name for p in written] == ["01_a.ipynb", "02_b.ipynb"]
    assert (target / "README.md").read_text() == "kept"
    assert "answer = 42" not in (target / "01_a.ipynb").read_text()
    assert edition.out_of_step(source, target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks", "student"]
