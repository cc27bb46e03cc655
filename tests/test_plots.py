"""The course's figures: right data on the axes, the paper's line styles, no figures left open."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from resnet_lessons import plots
from resnet_lessons.history import History, RunRecord

matplotlib.use("Agg")

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def make_history(epochs: int, start_err: float = 0.6, record: dict | None = None) -> History:
    h = History(record=RunRecord.from_dict(record or {}))
    for e in range(1, epochs + 1):
        err = start_err / e
        h.append(epoch=e, train_loss=2 * err, train_acc=1 - 0.8 * err, test_loss=2.2 * err, test_acc=1 - err,
                 lr=0.1, seconds=10.0 * e, images_per_s=500.0)
    return h


@pytest.fixture(autouse=True)
def no_figures_left_open():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a plotting function left a figure open in pyplot"


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_plot_curves_paper_style():
    runs = {"plain-20": make_history(4, 0.5), "plain-56": make_history(4, 0.7)}
    fig = plots.plot_curves(runs, title="plain nets")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 4  # a training and a test line per run
    test20 = lines_by_label(ax)["plain-20"]
    np.testing.assert_allclose(test20.get_ydata(), [100 * e for e in runs["plain-20"].test_err])
    np.testing.assert_allclose(test20.get_xdata(), [1, 2, 3, 4])
    train_lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(train_lines) == 2
    assert all(ln.get_linewidth() < test20.get_linewidth() for ln in train_lines)  # thin vs bold
    # same colour for a run's two lines
    colors = {tuple(ln.get_color()) for ln in ax.get_lines()}
    assert len(colors) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["plain-20", "plain-56", "dashed: training error", "bold: test error"]
    assert ax.get_ylabel() == "error (%)" and ax.get_title() == "plain nets"


def test_plot_curves_in_seconds_and_loss():
    h = make_history(3)
    fig = plots.plot_curves({"r": h}, x="seconds", metric="loss")
    ax = fig.axes[0]
    line = lines_by_label(ax)["r"]
    np.testing.assert_allclose(line.get_xdata(), h.elapsed)
    np.testing.assert_allclose(line.get_ydata(), h.test_loss)
    assert ax.get_xlabel() == "training time (s)"


def test_plot_curves_marks_references_plainly():
    live = {"resnet20": make_history(2)}
    ref = {"resnet20": make_history(10, record={"device": "H100"})}
    ax = plots.plot_curves(live, reference=ref).axes[0]
    labels = lines_by_label(ax)
    assert "resnet20 (this run)" in labels
    assert "resnet20 (reference, H100)" in labels
    assert labels["resnet20 (reference, H100)"].get_alpha() < 1
    assert labels["resnet20 (reference, H100)"].get_color() == labels["resnet20 (this run)"].get_color()
    custom = plots.plot_curves(live, reference=ref, reference_label="(paper)").axes[0]
    assert "resnet20 (paper)" in lines_by_label(custom)


def test_plot_curves_draws_into_a_given_axes():
    fig, ax = plt.subplots()
    try:
        assert plots.plot_curves({"a": make_history(2)}, ax=ax) is fig
    finally:
        plt.close(fig)


def test_plot_curves_rejects_bad_input():
    with pytest.raises(ValueError, match="metric"):
        plots.plot_curves({"a": make_history(2)}, metric="top5")
    with pytest.raises(ValueError, match="x="):
        plots.plot_curves({"a": make_history(2)}, x="iterations")
    with pytest.raises(TypeError, match="History"):
        plots.plot_curves({"a": [0.1, 0.2]})
    with pytest.raises(TypeError, match="non-empty dict"):
        plots.plot_curves(make_history(2))


def test_plot_degradation_two_panels_share_y():
    fig = plots.plot_degradation({"plain-20": make_history(3), "plain-56": make_history(3, 0.8)},
                                 {"resnet-20": make_history(3, 0.5)}, ylim=(0, 20))
    ax_plain, ax_res = fig.axes
    assert (ax_plain.get_title(), ax_res.get_title()) == ("plain networks", "ResNets")
    assert len(ax_plain.get_lines()) == 4 and len(ax_res.get_lines()) == 2
    assert ax_res.get_ylim() == (0, 20)


class FakeHandle:
    def __init__(self):
        self.updates = 0

    def update(self, obj):
        self.updates += 1


def test_live_plot_updates_one_display_in_place(monkeypatch):
    shown = []

    def fake_display(fig):
        shown.append(fig)
        return FakeHandle()

    monkeypatch.setattr(plots, "_notebook_display", fake_display)
    live = plots.LivePlot(title="ResNet-20")
    for e in range(1, 4):
        live.update(make_history(e))
    live.update("plain-20", make_history(3, 0.9))
    live.close()
    assert shown == [live.figure]  # displayed once ...
    assert live._handle.updates == 3  # ... then updated in place
    loss_ax, err_ax = live.ax_loss, live.ax_error
    assert len(loss_ax.get_lines()) == len(err_ax.get_lines()) == 4  # two runs, train + test each
    assert "epoch 3" in live.figure._suptitle.get_text()
    with pytest.raises(RuntimeError, match="closed"):
        live.update(make_history(1))


def test_live_plot_outside_jupyter_is_silent(capsys):
    live = plots.LivePlot()
    live(make_history(2), model=None)  # trainer callback form
    live.close()
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert len(live.ax_error.get_lines()) == 2
    with pytest.raises(TypeError, match="update"):
        plots.LivePlot().update("name only")


def test_confusion_matrix_rows_are_percentages():
    cm = torch.tensor([[8, 2, 0], [1, 1, 0], [0, 0, 5]])
    fig = plots.plot_confusion_matrix(cm, ["a", "b", "c"])
    ax = fig.axes[0]
    data = ax.get_images()[0].get_array()
    np.testing.assert_allclose(data.sum(axis=1), [100, 100, 100])
    assert len(ax.texts) == 9
    counts = plots.plot_confusion_matrix(cm.numpy(), ["a", "b", "c"], normalize=False).axes[0]
    assert [t.get_text() for t in counts.texts][:3] == ["8", "2", "0"]
    with pytest.raises(ValueError, match=r"\[2, 2\]"):
        plots.plot_confusion_matrix(cm, ["a", "b"])


def test_show_images_grid_and_titles():
    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    fig = plots.show_images(images, torch.arange(10), CLASSES, ncols=4, title="CIFAR-10")
    with_images = [ax for ax in fig.axes if ax.get_images()]
    assert len(fig.axes) == 12 and len(with_images) == 10
    assert [ax.get_title() for ax in with_images[:3]] == ["airplane", "automobile", "bird"]
    np.testing.assert_allclose(with_images[0].get_images()[0].get_array(),
                               images[0].permute(1, 2, 0).numpy() / 255, atol=1e-6)
    plots.show_images(images.float() / 255)  # floats in 0..1 work too
    with pytest.raises(ValueError, match="shape"):
        plots.show_images(torch.zeros(2, 32, 32, 3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        plots.show_images(torch.zeros(2, 3, 8, 8, dtype=torch.int64))


def test_show_misclassified_titles():
    images = torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8)
    true = torch.full((20,), 3)
    pred = torch.full((20,), 5)
    fig = plots.show_misclassified(images, true, pred, CLASSES, confidences=torch.full((20,), 0.9), n=6)
    titled = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titled == ["cat → dog (0.90)"] * 6
    with pytest.raises(ValueError, match="same length"):
        plots.show_misclassified(images, true[:5], pred, CLASSES)


def test_per_class_accuracy_bars_in_percent():
    acc = torch.linspace(0.5, 0.95, 10)
    ax = plots.plot_per_class_accuracy(acc, CLASSES).axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, 100 * acc.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="10 classes"):
        plots.plot_per_class_accuracy(acc[:3], CLASSES)


def test_grad_norms_log_scale_and_pairs():
    pairs = [("conv1.weight", 0.01), ("layer1.0.conv1.weight", 0.02), ("fc.weight", 0.5)]
    ax = plots.plot_grad_norms({"plain-8": pairs, "resnet-8": [0.1, 0.2, 0.3, 0.4]}).axes[0]
    assert ax.get_yscale() == "log"
    lines = lines_by_label(ax)
    np.testing.assert_allclose(lines["plain-8"].get_ydata(), [0.01, 0.02, 0.5])
    np.testing.assert_allclose(lines["resnet-8"].get_xdata(), [1, 2, 3, 4])


def test_save_figure_makes_folders(tmp_path):
    path = plots.save_figure(plots.plot_grad_norms({"a": [0.1, 0.2]}), tmp_path / "a" / "b" / "norms.png")
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"
