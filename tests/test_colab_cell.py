"""The first cell of every notebook installs the course on Google Colab and says clearly what went wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def colab_cell(path: Path) -> str:
    return "".join(json.loads(path.read_text())["cells"][1]["source"])


def test_every_notebook_has_the_same_colab_cell():
    cells = {path.name: colab_cell(path) for path in NOTEBOOKS}
    assert len(set(cells.values())) == 1, "the Colab cells differ"
    cell = next(iter(cells.values()))
    assert "[visdom]" not in cell  # no visdom server on Colab, and building visdom there fails
    assert cell.count("https://github.com/") == 1  # the course's URL is written once, as COURSE


def run_cell_on_colab(monkeypatch, tmp_path, returncode: int, stderr: str) -> None:
    """Run the cell as Colab would, with git answering ``returncode``/``stderr`` and no pip."""
    cell = colab_cell(NOTEBOOKS[0]).replace('"/content/resnet-lessons"', repr(str(tmp_path / "course")))
    cell = cell.replace("%pip install", "pass  # pip install")
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, returncode, stdout="", stderr=stderr))
    exec(compile(cell, "colab cell", "exec"), {})


def test_offline_runtime_is_named(monkeypatch, tmp_path):
    stderr = "fatal: unable to access 'https://github.com/x/y/': Could not resolve host: github.com"
    with pytest.raises(RuntimeError, match="This runtime is offline"):
        run_cell_on_colab(monkeypatch, tmp_path, 128, stderr)


def test_missing_repository_is_named_with_what_git_said(monkeypatch, tmp_path):
    stderr = "fatal: could not read Username for 'https://github.com': terminal prompts disabled"
    with pytest.raises(RuntimeError, match="repository was not found: git says .*terminal prompts disabled"):
        run_cell_on_colab(monkeypatch, tmp_path, 128, stderr)


def test_a_successful_clone_raises_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_LESSONS_RESULTS", "unset after the test")  # so that monkeypatch restores it
    monkeypatch.delenv("RESNET_LESSONS_RESULTS")
    run_cell_on_colab(monkeypatch, tmp_path, 0, "")
    assert os.environ["RESNET_LESSONS_RESULTS"].endswith("course/results")  # monkeypatch unsets it afterwards
