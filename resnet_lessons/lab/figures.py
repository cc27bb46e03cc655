"""The figure of each reference experiment, drawn from its stored histories (figure.png)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..history import History
from ..plots import COLORS, plot_curves, plot_degradation, plot_grad_norms
from .plans import PAPER_TABLE6_TEST_ERROR, Run


def _titled(fig: Figure, title: str, histories: dict[str, History]) -> Figure:
    """``fig`` with ``title`` above it, and under it the device and data of the runs."""
    record = next(iter(histories.values())).record
    fig.suptitle(f"{title}\n{record.device or '?'}, {record.data or '?'}", fontsize="medium")
    return fig


def _zoom(histories: dict[str, History]) -> tuple[float, float]:
    """A y range (error, %) that shows where the runs end up: 0 to three times the largest final error."""
    finals = [100 * max(h.train_err[-1], h.test_err[-1]) for h in histories.values()]
    return 0.0, min(100.0, max(10.0, 3 * max(finals)))


def _two_panels(sharey: bool = False) -> tuple[Figure, Axes, Axes]:
    """A new figure with two axes side by side (closed in pyplot: the caller saves it)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.0, 4.4), sharey=sharey, layout="constrained")
    plt.close(fig)
    return fig, left, right


def _curves_figure(histories: dict[str, History], title: str) -> Figure:
    return _titled(plot_curves(histories, ylim=_zoom(histories)), title, histories)


def degradation_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    groups = {run.name: run.group for run in runs}
    plain = {n: h for n, h in histories.items() if groups.get(n) == "plain"}
    residual = {n: h for n, h in histories.items() if groups.get(n) == "residual"}
    if not plain or not residual:
        return _curves_figure(histories, "Plain and residual networks")
    fig = plot_degradation(plain, residual, titles=("plain networks", "ResNets"), ylim=_zoom(histories))
    return _titled(fig, "Training (dashed) and test (bold) error: plain nets against ResNets", histories)


def depth_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    fig, left, right = _two_panels()
    plot_curves(histories, ax=left, title="error per epoch", ylim=_zoom(histories))
    depths = {run.name: run.depth for run in runs if run.group == "residual"}
    ours = sorted((depths[n], 100 * h.test_err[-1]) for n, h in histories.items() if n in depths)
    if ours:
        right.plot([d for d, _ in ours], [e for _, e in ours], "o-", label="this course's run (final test error)")
    paper = sorted(PAPER_TABLE6_TEST_ERROR.items())
    right.plot([d for d, _ in paper], [e for _, e in paper], "s--", color="0.4",
               label="paper, Table 6 (original CIFAR-10, 64k iterations)")
    right.set(xlabel="depth (layers)", ylabel="test error (%)", title="final test error against depth")
    right.grid(True, alpha=0.3)
    right.legend(fontsize="small")
    return _titled(fig, "ResNet-20 to ResNet-110: final test error against depth", histories)


def shortcuts_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    return _curves_figure(histories, "Shortcut options: A (subsample + zero channels), "
                          "B (1x1 projection), pool (average pool + zero channels)")


def resnext_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    sizes = ", ".join(f"{n}: {(h.record.parameters or 0) / 1e6:.2f}M parameters" for n, h in histories.items())
    return _curves_figure(histories, f"ResNeXt against ResNet ({sizes})")


def recipes_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    fig, left, right = _two_panels()
    plot_curves(histories, ax=left, metric="accuracy", title="accuracy per epoch")
    plot_curves(histories, ax=right, metric="accuracy", x="seconds", title="accuracy per second of training")
    for ax in (left, right):
        ax.legend(fontsize="small", loc="lower right")
    return _titled(fig, "The paper's step schedule, the onecycle recipe and seed lesson 001's run", histories)


def _pair_lines(ax: Axes, runs: list[Run]) -> None:
    """One colour per depth; plain nets dashed, ResNets solid (then redraw the legend)."""
    by_name = {r.name: r for r in runs}
    depths = sorted({r.depth for r in runs if r.depth is not None})
    for line in ax.get_lines():
        run = by_name.get(line.get_label())
        if run is not None and run.depth in depths:
            line.set_color(COLORS[depths.index(run.depth) % len(COLORS)])
            line.set_linestyle("--" if run.group == "plain" else "-")
    ax.legend(fontsize="small")


def gradients_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    fig, left, right = _two_panels(sharey=True)
    measured = {n: h.record.grad_norms for n, h in histories.items() if h.record.grad_norms}
    if not measured:
        raise ValueError("No run of this experiment recorded gradient norms.")
    first = {n: g["norms"][0] for n, g in measured.items()}
    last = {n: g["norms"][-1] for n, g in measured.items()}
    epochs = max(g["epochs"][-1] for g in measured.values())
    plot_grad_norms(first, ax=left, title="at initialisation")
    plot_grad_norms(last, ax=right, title=f"after {epochs} epoch{'s' if epochs != 1 else ''} of training")
    right.set_ylabel("")
    for ax in (left, right):
        _pair_lines(ax, runs)
    return _titled(fig, "Gradient norm of each layer's weight (dashed: plain nets, solid: ResNets)", histories)
