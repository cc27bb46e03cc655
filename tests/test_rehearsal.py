"""benchmarks/full_mode_rehearsal.py: the cut-short fit it injects, and how it reads the solution checks."""

import importlib.util
from dataclasses import replace
from pathlib import Path

import nbformat

import resnet_lessons.train as train
from resnet_lessons.recipes import ONECYCLE

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "full_mode_rehearsal.py"
_spec = importlib.util.spec_from_file_location("full_mode_rehearsal", _PATH)
rehearsal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rehearsal)


class FakeData:
    """Stands in for CIFAR10Tensors: only its sizes and subset() matter here."""

    def __init__(self, n_train: int, n_test: int) -> None:
        self.train_labels = [0] * n_train
        self.test_labels = [0] * n_test

    def subset(self, n_train: int, n_test: int) -> "FakeData":
        return FakeData(n_train, n_test)


def test_preamble_cuts_every_fit_to_the_limit(monkeypatch):
    from resnet_lessons import envcheck, landscape, transfer

    for name in ("grid", "evaluation_subset"):  # the preamble wraps them too: restored after the test
        monkeypatch.setattr(landscape, name, getattr(landscape, name))
    transfer_calls, measured = [], []
    monkeypatch.setattr(transfer, "train", lambda model, data, epochs, *args, **kwargs: transfer_calls.append(epochs))
    monkeypatch.setattr(envcheck, "measure_step_seconds",
                        lambda model, batch_size=128, **kwargs: measured.append(batch_size) or 0.5)
    calls = []
    monkeypatch.setattr(train, "fit", lambda model, data, epochs, recipe, **kwargs: calls.append(
        (len(data.train_labels), len(data.test_labels), epochs, recipe.val_size, kwargs)))
    exec(rehearsal.PREAMBLE.format(epochs=1, train=1000, test=500), {})

    train.fit("model", FakeData(50_000, 10_000), 30, recipe="onecycle", name="a")  # a full-mode run
    train.fit("model", FakeData(500, 200), 2, replace(ONECYCLE, batch_size=100))  # already small: data kept
    train.fit("model", FakeData(50_000, 10_000), 30, replace(ONECYCLE, val_size=5_000))  # a tenth: still a tenth
    assert calls == [(1000, 500, 1, 0, {"name": "a"}), (500, 200, 1, 0, {}), (1000, 500, 1, 100, {})]

    transfer.train("model", FakeData(400, 1000), 80, [0.5], [0.2], lr=0.1)  # notebook 08's own loop
    assert transfer_calls == [1]
    # a time estimate times 16 images and scales to the real batch: 0.5 s for 16 is 16 s for 512
    assert envcheck.estimate_training_seconds("model", 50_000, 1, batch_size=512) == 0.5 * 512 / 16 * (50_000 // 512)
    assert measured == [16]


def test_only_solution_cells_count_as_failed_checks():
    notebook = nbformat.v4.new_notebook()
    unanswered = nbformat.v4.new_code_cell("verdict = check_x(None)")
    unanswered.outputs = [nbformat.v4.new_output("stream", text="Not answered yet: x is still None: fill it in.\n")]
    solution = nbformat.v4.new_code_cell("# @title Solution (click to reveal)\nverdict = check_x(42)")
    solution.outputs = [nbformat.v4.new_output("stream", text="Correct: your value for x is right.\n")]
    broken = nbformat.v4.new_code_cell("# @title Solution (click to reveal)\nverdict = check_y(41)")
    broken.outputs = [nbformat.v4.new_output("stream", text="Not yet:\n   - y: 41 is too low.\n")]
    empty = nbformat.v4.new_code_cell("# @title Solution (click to reveal)\nverdict = check_z(None)")
    empty.outputs = [nbformat.v4.new_output("stream", text="Not answered yet: z is still None: fill it in.\n")]
    notebook.cells = [unanswered, solution, broken, empty]
    assert rehearsal._verdicts(notebook) == {"passed": 1, "failed": 2}


def test_the_rehearsal_reads_what_the_checkers_print(capsys):
    """The words it looks for are the ones Verdict.report prints."""
    from resnet_lessons.checks import check_number

    notebook = nbformat.v4.new_notebook()
    for answer in (391, 390, None):
        check_number(answer, 391, "steps")
        cell = nbformat.v4.new_code_cell("# @title Solution (click to reveal)\n")
        cell.outputs = [nbformat.v4.new_output("stream", text=capsys.readouterr().out)]
        notebook.cells.append(cell)
    assert rehearsal._verdicts(notebook) == {"passed": 1, "failed": 2}


def test_preamble_shrinks_loss_surfaces(monkeypatch):
    from resnet_lessons import landscape

    asked = []
    monkeypatch.setattr(landscape, "grid", lambda n, *args, **kwargs: asked.append(("grid", n)))
    monkeypatch.setattr(landscape, "evaluation_subset",
                        lambda data, n=1000, *args, **kwargs: asked.append(("images", n)))
    monkeypatch.setattr(train, "fit", lambda *args, **kwargs: None)
    exec(rehearsal.PREAMBLE.format(epochs=1, train=1000, test=500), {})

    landscape.grid(51)                                   # full mode's grid
    landscape.grid(3)                                    # already small: kept
    landscape.evaluation_subset("data", 1000, "train", seed=0)
    landscape.evaluation_subset("data", n=300)
    assert asked == [("grid", 5), ("grid", 3), ("images", 500), ("images", 300)]

