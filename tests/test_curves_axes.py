"""Curves compare like with like: runs on different numbers of images are drawn against images seen."""

import matplotlib

matplotlib.use("Agg")

from resnet_lessons.history import History, RunRecord  # noqa: E402
from resnet_lessons.plots import plot_curves  # noqa: E402


def _run(images_per_epoch: int, epochs: int, compiled=False) -> History:
    h = History(record=RunRecord(compiled=compiled))
    for e in range(1, epochs + 1):
        h.append(epoch=e, train_loss=1.0, train_acc=0.5, test_loss=1.0, test_acc=0.5, lr=0.1, seconds=2.0,
                 images_per_s=images_per_epoch / 2.0)
    return h


def test_images_seen_adds_up_the_epochs():
    assert _run(1_000, 3).images_seen == [1_000, 2_000, 3_000]


def test_a_small_live_run_and_a_full_reference_share_an_images_axis():
    live, reference = _run(1_000, 3), _run(50_000, 2)
    fig = plot_curves({"plain-20": live}, x="images", reference={"plain-20": reference})
    ax = fig.axes[0]
    assert ax.get_xlabel() == "training images seen"
    xs = sorted({x for line in ax.get_lines() for x in line.get_xdata()})
    assert xs[:3] == [1_000, 2_000, 3_000] and 100_000 in xs  # not epochs 1, 2, 3 over epochs 1, 2


def test_a_time_axis_says_when_the_first_epoch_includes_compiling():
    assert "compiling" in plot_curves({"a": _run(10, 2, compiled="reduce-overhead")}, x="seconds").axes[0].get_xlabel()
    assert "compiling" not in plot_curves({"a": _run(10, 2)}, x="seconds").axes[0].get_xlabel()
