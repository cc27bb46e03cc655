"""What a reader of a stored notebook sees: figures as images, no errors, finished progress bars.

The committed notebooks (notebooks/ and student/) are read as saved, without running them: on GitHub or
after reopening in JupyterLab a reader sees exactly these outputs. A kernel with a non-inline backend
(MPLBACKEND=Agg inherited from a script) stores a figure as the bare text "<Figure size 600x420 with 1
Axes>"; a tqdm widget stores the text of its first state ("0%| | 0/3 [00:00<?, ?epoch/s]") and a
reference to a widget model that no longer exists ("Error displaying widget: model not found").
Execute notebooks with `make execute NB=...` to store them right.

The last test runs a tiny notebook through a real kernel to show that the course's progress bars
(resnet_lessons.progress) leave finished text behind.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("student/**/*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# tqdm's text before the first update: the rate is still unknown ("<?", "?it/s").
FIRST_STATE = re.compile(r"\[00:00<\?, \?")


def text_of(output: dict) -> str:
    text = output.get("data", {}).get("text/plain", output.get("text", ""))
    return "".join(text) if isinstance(text, list) else text


def saved_widget_models(notebook: dict) -> set[str]:
    """Model ids whose state is saved in the notebook (JupyterLab's "save widget state")."""
    state = notebook.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return set(state.get("state", {}))


def problems(notebook: dict) -> list[str]:
    """Each output a reader would see broken, as 'cell N: what'."""
    found = []
    saved = saved_widget_models(notebook)
    for number, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = text_of(output)
            if output.get("output_type") == "error":
                found.append(f"cell {number}: stored error {output.get('ename')}: {output.get('evalue', '')[:80]}")
            if text.startswith("<Figure size") and "image/png" not in data:
                found.append(f"cell {number}: figure stored as text only ({text.strip()}), no image/png")
            if WIDGET_VIEW in data and data[WIDGET_VIEW].get("model_id") not in saved:
                found.append(f"cell {number}: widget whose model is not saved (reopened: 'model not found'): "
                             f"{text.strip()[:60]}")
            if FIRST_STATE.search(text):
                found.append(f"cell {number}: progress bar stored in its first state: {text.strip()[:70]}")
    return found


def test_the_checker_catches_each_problem():
    """Plausible wrong notebooks, each of which a reader would see broken, and a right one."""
    figure_text = {"output_type": "display_data", "data": {"text/plain": "<Figure size 600x420 with 1 Axes>"}}
    figure_png = {"output_type": "display_data",
                  "data": {"text/plain": "<Figure size 600x420 with 1 Axes>", "image/png": "iVBOR..."}}
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}
    bar = {"output_type": "display_data",
           "data": {"text/plain": "resnet-20:   0%|          | 0/3 [00:00<?, ?epoch/s]",
                    WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}}}
    bar_text_only = {"output_type": "display_data",
                     "data": {"text/plain": "epoch 1/3:   0%|          | 0.00/1.92k [00:00<?, ?img/s]"}}
    finished = {"output_type": "display_data",
                "data": {"text/plain": "resnet-20: 100%|██████████| 3/3 [00:41<00:00, 13.7s/epoch]"}}

    def notebook(*outputs):
        return {"metadata": {}, "cells": [{"cell_type": "code", "source": "", "outputs": list(outputs)}]}

    assert problems(notebook(figure_png, finished)) == []
    assert "figure stored as text only" in problems(notebook(figure_text))[0]
    assert "stored error ValueError" in problems(notebook(error))[0]
    bar_problems = problems(notebook(bar))
    assert len(bar_problems) == 2 and "model is not saved" in bar_problems[0] and "first state" in bar_problems[1]
    assert "first state" in problems(notebook(bar_text_only))[0]
    # A widget whose state was saved with the notebook renders after reopening.
    saved = notebook({"output_type": "display_data", "data": {WIDGET_VIEW: {"model_id": "abc"}}})
    saved["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"abc": {}}}}
    assert problems(saved) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_stored_notebook_reads_right(path: Path):
    found = problems(json.loads(path.read_text()))
    assert not found, (f"{path.relative_to(ROOT)} as stored shows {len(found)} broken output(s); re-execute it "
                       f"with `make execute NB={path.relative_to(ROOT)}`:\n  " + "\n  ".join(found))


def test_progress_bars_leave_finished_text(tmp_path: Path):
    """A real kernel runs the course's bars; the saved outputs are their final lines, no widgets."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipywidgets")
    code = (
        "from resnet_lessons.progress import tqdm, NotebookBar\n"
        "assert tqdm is NotebookBar\n"
        "outer = tqdm(total=2, desc='run', unit='epoch')\n"
        "for epoch in range(2):\n"
        "    with tqdm(total=5, desc=f'epoch {epoch + 1}/2', leave=False) as bar:\n"
        "        for _ in range(5):\n"
        "            bar.update(1)\n"
        "    outer.update(1)\n"
        "outer.close()\n"
        "stopped = tqdm(total=4, desc='stopped')\n"
        "stopped.update(1)\n"
        "stopped.close()\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    client = nbclient.NotebookClient(notebook, timeout=600, startup_timeout=300,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = notebook.cells[0].outputs
    texts = [text_of(o) for o in outputs]
    assert all(WIDGET_VIEW not in o.get("data", {}) for o in outputs), outputs
    assert not any(FIRST_STATE.search(t) for t in texts), texts
    assert any(t.startswith("run: 100%") and "2/2" in t for t in texts), texts
    assert not any(t.startswith("epoch") for t in texts), texts  # leave=False bars leave nothing
    assert any(t.startswith("stopped:  25%") and "1/4" in t for t in texts), texts  # where it stopped
    assert problems(notebook) == []
