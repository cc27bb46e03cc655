"""No answer on screen: the student edition never shows an exercise's answer, before its check or after it.

For every check cell of ``student/``, the checker it calls computes the expected answer itself
(:mod:`resnet_lessons.checks`). These tests ask each checker for that number (by calling it with the
answer ``None`` while recording what it compares with) and search the whole student edition, cell
sources and stored outputs, for the number written as a student would see it: ``2752``, ``2,752``,
``118.0 M``, ``1.8e16`` and so on. Only numbers of three or more significant digits are searched: a
``10`` or a ``4`` occurs everywhere for other reasons and gives nothing away.

Exercises whose answer is code (a block, a function) have no number to find; exercises whose answer
depends on the student's own run (06's most-confused pair) are listed in ``RUN_DEPENDENT``.
"""

from __future__ import annotations

import ast
import importlib
import json
import math
import pkgutil
import re
from pathlib import Path

import pytest
from torch import nn

import resnet_lessons.checks as checks_package
from resnet_lessons.models import build_model, cifar_resnet

STUDENT = Path(__file__).resolve().parents[1] / "student"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

RUN_DEPENDENT = {"check_most_confused_pair": "the pair depends on the student's own trained network"}
"""Checkers whose answer is not a fixed number, with the reason."""

NUMBER_CHECKERS = (
    "check_steps_per_epoch", "check_train_set_bytes", "check_plain_parameters", "check_paths_total",
    "check_paths_through", "check_option_b_cost", "check_conv_macs", "check_block_parameters",
    "check_all_projection_cost", "check_grouped_conv_params", "check_resnext_block_params",
    "check_scaled_shortcut_units",
)
"""The series' exercises whose answer is one number: the scan must recognise every one of them. (05's two
width exercises accept the nearest whole width, a one- or two-digit number, and are judged without
``number_verdict``.)"""

NOTEBOOK_OBJECTS = {
    # the names a check cell passes besides the student's answer, built as the notebook builds them
    "resnet50.conv1": lambda: build_model("resnet50").conv1,
    "imagenet[50].layer1[0]": lambda: build_model("resnet50").layer1[0],
}


class _Expected(Exception):
    def __init__(self, value):
        self.value = value


def _record_expected(answer, expected, *args, **kwargs):
    raise _Expected(expected)


def _checkers() -> dict:
    """Every check_* function of resnet_lessons.checks, by name."""
    found = {}
    for info in pkgutil.iter_modules(checks_package.__path__):
        module = importlib.import_module(f"resnet_lessons.checks.{info.name}")
        found.update({n: getattr(module, n) for n in dir(module) if n.startswith("check_")})
    return found


def expected_answer(call: ast.Call, monkeypatch) -> float | None:
    """The number the checker of ``call`` compares the student's answer with, or None if it is not a number.
    The checkers' ``number_verdict`` is patched only while the checker runs, and put back on every path."""
    args = []
    for node in call.args[1:]:
        text = ast.unparse(node)
        if text in NOTEBOOK_OBJECTS:
            args.append(NOTEBOOK_OBJECTS[text]())
        elif isinstance(node, ast.Constant | ast.Tuple):
            args.append(ast.literal_eval(node))
        else:
            return None  # checked against the student's own tensors (a gradient, a batch): no fixed number
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    checker = _checkers().get(call.func.id)
    if checker is None:
        return None  # a checker the notebook defines itself, for its own objects
    try:
        for info in pkgutil.iter_modules(checks_package.__path__):
            module = importlib.import_module(f"resnet_lessons.checks.{info.name}")
            if hasattr(module, "number_verdict"):
                monkeypatch.setattr(module, "number_verdict", _record_expected)
        checker(None, *args, **kwargs)
    except _Expected as recorded:
        return recorded.value if isinstance(recorded.value, (int, float)) else None
    finally:
        monkeypatch.undo()
    return None


def renderings(value: float) -> list[str]:
    """How a number can appear on screen: 2752, 2,752, 2 752, 118.0 M, 1.18e+08, 1.8e16, ..."""
    forms = set()
    if float(value).is_integer():
        v = int(value)
        forms |= {str(v), f"{v:,}", f"{v:,}".replace(",", " "), f"{v:,}".replace(",", "\u202f")}
    else:
        forms |= {f"{value:.4g}", f"{value:.3g}", f"{value:.2f}"}
    if abs(value) >= 1e5:
        for scale, unit in ((1e6, "M"), (1e9, "G"), (1e3, "k")):
            if abs(value) >= scale:
                forms |= {f"{value / scale:.1f} {unit}", f"{value / scale:.1f}{unit}", f"{value / scale:.2f} {unit}"}
        for digits in (2, 3):
            e = f"{value:.{digits - 1}e}"  # 1.8e+16
            forms |= {e, e.replace("e+", "e"), e.replace("e+0", "e")}
    return sorted(f for f in forms if sum(ch.isdigit() for ch in f.rstrip("0").replace(".", "")) >= 3
                  or sum(ch.isdigit() for ch in f) >= 3 and "." not in f)


def _pattern(forms: list[str]) -> re.Pattern:
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\d.,])(?:{alternatives})(?![\d]|[.,]\d)")


def cell_texts(cell: dict) -> list[tuple[str, str]]:
    """(where, text) of a cell's source and of every stored output."""
    texts = [("source", "".join(cell["source"]))]
    for output in cell.get("outputs", []):
        if "text" in output:
            texts.append(("output", "".join(output["text"])))
        for mime, data in output.get("data", {}).items():
            if mime.startswith("text/"):
                texts.append((f"output {mime}", "".join(data) if isinstance(data, list) else data))
    return texts


def answers_on_screen(notebook: dict, check_index: int, value: float) -> list[str]:
    """Where the student edition ``notebook`` shows ``value``: every cell but the check cell, sources and outputs."""
    forms = renderings(value)
    if not forms:
        return []
    pattern = _pattern(forms)
    found = []
    for i, cell in enumerate(notebook["cells"]):
        if i == check_index:
            continue  # the check cell names the checker, not the value (and its outputs are cleared)
        for where, text in cell_texts(cell):
            for match in pattern.finditer(text):
                line = text[max(0, match.start() - 60): match.end() + 20].replace("\n", " ")
                found.append(f"cell {i} {where} ({'before' if i < check_index else 'after'} the check): ...{line}...")
    return found


def number_exercises(notebook: dict, monkeypatch) -> list[tuple[int, str, float]]:
    """(check cell index, checker name, expected number) of every number exercise in ``notebook``."""
    exercises = []
    for i, cell in enumerate(notebook["cells"]):
        if "check" not in cell["metadata"].get("tags", []):
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("check_"):
                if node.func.id in RUN_DEPENDENT:
                    continue
                value = expected_answer(node, monkeypatch)
                if value is not None:
                    exercises.append((i, node.func.id, value))
    return exercises


STUDENT_NOTEBOOKS = sorted(STUDENT.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", STUDENT_NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_no_answer_on_screen_in_the_student_edition(path, monkeypatch):
    notebook = json.loads(path.read_text())
    problems = []
    for check_index, checker, value in number_exercises(notebook, monkeypatch):
        shown = answers_on_screen(notebook, check_index, value)
        problems += [f"{checker} (answer {value:g}): {where}" for where in shown]
    assert not problems, f"{path.name} shows answers:\n" + "\n".join(problems)


def test_the_number_exercises_are_found():
    """The scan has something to scan: the series' number exercises are recognised, with their answers."""
    found = {}
    with pytest.MonkeyPatch.context() as mp:
        for path in STUDENT_NOTEBOOKS:
            for _, checker, value in number_exercises(json.loads(path.read_text()), mp):
                found[checker] = value
    assert found["check_plain_parameters"] == sum(p.numel() for p in cifar_resnet(26, plain=True).parameters())
    assert found["check_paths_total"] == 2**54 and found["check_paths_through"] == math.comb(54, 27)
    assert found["check_steps_per_epoch"] == 391
    assert set(NUMBER_CHECKERS) <= set(found), set(NUMBER_CHECKERS) - set(found)


def test_an_answer_planted_in_an_earlier_output_is_found(monkeypatch):
    """A plausible wrong case: a cell before the check prints 02's answer to exercise 3 (2**54 paths)."""
    notebook = json.loads((STUDENT / "02_residual_learning.ipynb").read_text())
    check_index, checker, value = next(e for e in number_exercises(notebook, monkeypatch)
                                       if e[1] == "check_paths_total")
    assert not answers_on_screen(notebook, check_index, value)
    earlier = next(i for i in range(check_index - 1, -1, -1) if notebook["cells"][i]["cell_type"] == "code")
    notebook["cells"][earlier].setdefault("outputs", []).append(
        {"output_type": "stream", "name": "stdout", "text": ["paths through 54 blocks: 18,014,398,509,481,984\n"]})
    found = answers_on_screen(notebook, check_index, value)
    assert found and "before the check" in found[0]


def test_an_answer_in_a_later_markdown_cell_or_in_other_forms_is_found():
    notebook = {"cells": [
        {"cell_type": "code", "metadata": {"tags": ["check"]}, "source": ["check_x(answer)"], "outputs": []},
        {"cell_type": "markdown", "metadata": {}, "source": ["The stem costs 118.0 M multiply-adds."]},
    ]}
    assert answers_on_screen(notebook, 0, 118_013_952)  # printed as 118.0 M
    assert answers_on_screen(notebook, 0, 2**54) == []  # a different number is not flagged
    notebook["cells"][1]["source"] = ["576 + 2,176 = 2,752"]
    assert answers_on_screen(notebook, 0, 2752)
    notebook["cells"][1]["source"] = ["27,520 images"]  # 2752 inside a larger number is not the answer
    assert answers_on_screen(notebook, 0, 2752) == []


def test_no_nbval_comment_in_the_notebooks():
    """nbval's markers are cell tags (nbval-ignore-output, ...), not comments a student has to read past."""
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            assert "# NBVAL_" not in "".join(cell["source"]), f"{path.name} cell {i}"


def test_notebook_objects_match_the_check_cells():
    """The objects built for a check cell are what the notebook passes (a 7x7 stem, a bottleneck block)."""
    conv = NOTEBOOK_OBJECTS["resnet50.conv1"]()
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (7, 7) and conv.stride == (2, 2)
