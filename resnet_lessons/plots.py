"""Figures for the course, drawn with matplotlib in the style of the ResNet paper.

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show()``: make it the last
expression of a notebook cell to see it, or write it with :func:`save_figure`. Figures are closed in pyplot
as soon as they are made, so Jupyter shows each one once and scripts do not pile up open figures.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from resnet_lessons.history import History

METRICS = ("error", "accuracy", "loss")
X_AXES = ("epoch", "seconds", "images")

# One colour per network, in the order the runs are given (matplotlib's "tab10" palette).
COLORS = plt.get_cmap("tab10").colors

TRAIN_STYLE = {"linestyle": "--", "linewidth": 1.0}  # thin dashed: training error (paper, Fig. 6)
TEST_STYLE = {"linestyle": "-", "linewidth": 2.2}  # bold: test error
REFERENCE_ALPHA = 0.35  # stored reference runs are drawn faded behind the live ones


# --- helpers ---


def _new_axes(ax: Axes | None, figsize: tuple[float, float], projection: str | None = None) -> tuple[Figure, Axes]:
    """Use the caller's ``ax``, or make a new figure with one axes (closed in pyplot, see module doc)."""
    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig, fig.add_subplot(projection=projection)


def _to_numpy(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray | Sequence):
        return np.asarray(x)
    raise TypeError(f"{name} must be a torch.Tensor, a numpy array or a list, not {type(x).__name__}.")


def _check_histories(histories, name: str) -> None:
    if not isinstance(histories, dict) or not histories:
        raise TypeError(f"{name} must be a non-empty dict {{run name: History}}, got {histories!r}.")
    for run, h in histories.items():
        if not isinstance(h, History):
            raise TypeError(f"{name}[{run!r}] must be a History, not {type(h).__name__}.")


def _curve_values(h: History, metric: str, x: str) -> tuple[list[float], list[float], list[float]]:
    """(x values, training values, test values) of one run; errors and accuracies in percent."""
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not one of {METRICS}.")
    if x not in X_AXES:
        raise ValueError(f"x={x!r} is not one of {X_AXES}.")
    # x="images" (images seen): runs on different numbers of images compare like with like
    xs = getattr(h, {"epoch": "epoch", "seconds": "elapsed", "images": "images_seen"}[x])
    if metric == "loss":
        return xs, h.train_loss, h.test_loss
    train, test = (h.train_err, h.test_err) if metric == "error" else (h.train_acc, h.test_acc)
    return xs, [100 * v for v in train], [100 * v for v in test]


def reference_suffix(h: History) -> str:
    """The label suffix of a stored reference run, e.g. ``"(reference, H100)"`` (its ``record.device``)."""
    device = h.record.device
    return f"(reference, {device})" if device else "(reference)"


def _draw_runs(ax: Axes, histories: dict[str, History], metric: str, x: str,
               reference: dict[str, History] | None, reference_label: str | None) -> None:
    """Draw live runs (full colour) and reference runs (faded, labelled as references) on ``ax``."""
    reference = reference or {}
    # Live runs take the first colours, in order; a reference run shares the colour of a live run of its name.
    names = dict.fromkeys([*histories, *reference])
    colors = {name: COLORS[k % len(COLORS)] for k, name in enumerate(names)}
    for name, h in reference.items():
        xs, train, test = _curve_values(h, metric, x)
        label = f"{name} {reference_label or reference_suffix(h)}"
        ax.plot(xs, train, color=colors[name], alpha=REFERENCE_ALPHA, **TRAIN_STYLE)
        ax.plot(xs, test, color=colors[name], alpha=REFERENCE_ALPHA, label=label, **TEST_STYLE)
    for name, h in histories.items():
        xs, train, test = _curve_values(h, metric, x)
        ax.plot(xs, train, color=colors[name], **TRAIN_STYLE)
        # Beside references, say plainly which curves were measured here.
        ax.plot(xs, test, color=colors[name], label=f"{name} (this run)" if reference else name, **TEST_STYLE)

    xlabel = {"epoch": "epoch", "seconds": "training time (s)", "images": "training images seen"}[x]
    if x == "seconds" and any(h.record.compiled for h in [*histories.values(), *reference.values()]):
        xlabel += "; the first epoch includes compiling"
    ax.set(xlabel=xlabel, ylabel={"error": "error (%)", "accuracy": "accuracy (%)", "loss": "loss"}[metric])
    if x == "epoch":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    # The legend names the networks (on their bold test lines), then says which line style is which.
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.35", **TRAIN_STYLE), Line2D([], [], color="0.35", **TEST_STYLE)]
    labels += [f"dashed: training {metric}", f"bold: test {metric}"]
    ax.legend(handles, labels, fontsize="small", loc="upper right")


# --- training curves ---


def plot_curves(histories: dict[str, History], ax: Axes | None = None, metric: str = "error", x: str = "epoch",
                title: str | None = None, reference: dict[str, History] | None = None,
                reference_label: str | None = None, ylim: tuple[float, float] | None = None) -> Figure:
    """Training curves of several runs on one axes, like the ResNet paper's Figure 6.

    histories: ``{"plain-20": h20, "plain-56": h56}``; each run gets one colour, a thin dashed line
        for its training error and a bold line for its test error.
    metric: "error" (%, the paper's choice), "accuracy" (%) or "loss".
    x: "epoch", "seconds" for cumulative training time, or "images" for training images seen (to
        compare runs on different numbers of images: an epoch of 2,000 images is not an epoch of 50,000).
    reference: stored runs (e.g. measured on a GPU) drawn faded behind the live ones, labelled
        ``"<name> (reference, <device>)"`` (or ``"<name> <reference_label>"`` when given) so a reader
        always knows which curves were computed here and which were loaded from disk.
    ylim: y range, e.g. ``(0, 20)`` as in the paper.
    """
    _check_histories(histories, "histories")
    if reference is not None:
        _check_histories(reference, "reference")
    fig, ax = _new_axes(ax, (6.0, 4.2))
    _draw_runs(ax, histories, metric, x, reference, reference_label)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    return fig


def plot_degradation(plain: dict[str, History], residual: dict[str, History], metric: str = "error",
                     x: str = "epoch", reference_plain: dict[str, History] | None = None,
                     reference_residual: dict[str, History] | None = None, reference_label: str | None = None,
                     ylim: tuple[float, float] | None = None,
                     titles: tuple[str, str] = ("plain networks", "ResNets")) -> Figure:
    """Plain networks beside residual networks, sharing the y axis (the paper's Figure 6, left and middle).

    The degradation problem shows on the left (deeper plain nets have *higher* training error);
    the right panel shows the same depths with shortcut connections.
    """
    _check_histories(plain, "plain")
    _check_histories(residual, "residual")
    fig, (ax_plain, ax_res) = plt.subplots(1, 2, figsize=(11.0, 4.2), sharey=True, layout="constrained")
    plt.close(fig)
    _draw_runs(ax_plain, plain, metric, x, reference_plain, reference_label)
    _draw_runs(ax_res, residual, metric, x, reference_residual, reference_label)
    ax_plain.set_title(titles[0])
    ax_res.set_title(titles[1])
    ax_res.set_ylabel("")
    if ylim is not None:
        ax_plain.set_ylim(*ylim)
    return fig


class LivePlot:
    """A loss panel and an error panel that update in place, once per epoch, in a notebook.

    >>> live = LivePlot(title="ResNet-20")
    >>> for epoch in ...:              # or pass it to the trainer: fit(..., callbacks=[live])
    ...     live.update(history)       # several runs on one figure: live.update("plain-20", h)
    >>> live.close()

    In Jupyter the figure is shown once and redrawn in place. Elsewhere (scripts, CI) nothing is shown and
    nothing fails; ``live.figure`` is still kept up to date, for :func:`save_figure`.
    """

    def __init__(self, title: str | None = None, x: str = "epoch", figsize: tuple[float, float] = (11.0, 3.8)):
        if x not in X_AXES:
            raise ValueError(f"x={x!r} is not one of {X_AXES}.")
        self.title = title
        self.x = x
        self.runs: dict[str, History] = {}
        self.figure, (self.ax_loss, self.ax_error) = plt.subplots(1, 2, figsize=figsize, layout="constrained")
        plt.close(self.figure)
        self._handle = None  # IPython DisplayHandle once shown
        self._closed = False

    def update(self, name_or_history: str | History, history: History | None = None) -> None:
        """Redraw with the latest epochs: ``update(history)`` or ``update("run name", history)``."""
        if isinstance(name_or_history, History) and history is None:
            name, history = name_or_history.record.model or "run", name_or_history
        elif isinstance(name_or_history, str) and isinstance(history, History):
            name = name_or_history
        else:
            raise TypeError("Call update(history) or update(name: str, history: History).")
        if self._closed:
            raise RuntimeError("This LivePlot was closed; make a new one for another run.")
        self.runs[name] = history
        self._redraw()
        if self._handle is None:
            self._handle = _notebook_display(self.figure)
        else:
            self._handle.update(self.figure)

    def __call__(self, history: History, model=None) -> None:
        """Trainer callback form: ``fit(..., callbacks=[live])`` calls ``live(history, model)``."""
        self.update(history)

    def close(self) -> None:
        """Stop updating. The last figure stays in the notebook output (shown once)."""
        self._closed = True

    def _redraw(self) -> None:
        for ax in (self.ax_loss, self.ax_error):
            ax.clear()
        live = {n: h for n, h in self.runs.items() if len(h) > 0}
        if not live:
            return
        for ax, metric in ((self.ax_loss, "loss"), (self.ax_error, "error")):
            _draw_runs(ax, live, metric, self.x, None, None)
            for line in ax.get_lines():  # markers: after one epoch each line is a single point
                line.set(marker="o", markersize=4)
            ax.set_title(metric)
        latest = ", ".join(f"{n} {100 * h.test_err[-1]:.1f}%" for n, h in live.items())
        epoch = max(h.epoch[-1] for h in live.values())
        summary = f"epoch {epoch}: test error {latest}"
        self.figure.suptitle(f"{self.title}  ({summary})" if self.title else summary)


def _notebook_display(fig: Figure):
    """``display(fig)`` in a Jupyter kernel and return its handle for in-place updates; None elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):  # plain Python or terminal IPython
        return None
    return display(fig, display_id=True)


# --- evaluation figures ---


def plot_confusion_matrix(cm, classes: Sequence[str], normalize: bool = True, ax: Axes | None = None,
                          title: str | None = None) -> Figure:
    """Confusion matrix ``cm[true, predicted]`` (Tensor or array [C, C]) as a heat map.

    normalize: show each row as percentages of that true class (rows sum to 100) instead of counts.
    """
    m = _to_numpy(cm, "cm").astype(float)
    C = len(classes)
    if m.shape != (C, C):
        raise ValueError(f"cm must have shape [{C}, {C}] for {C} classes, got {list(m.shape)}.")
    if normalize:
        rows = m.sum(axis=1, keepdims=True)
        m = 100 * m / np.where(rows == 0, 1, rows)
    fig, ax = _new_axes(ax, (0.55 * C + 2.5, 0.55 * C + 1.8))
    image = ax.imshow(m, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="% of true class" if normalize else "images")
    threshold = m.max() / 2 if m.size else 0
    for i in range(C):
        for j in range(C):
            text = f"{m[i, j]:.0f}" if normalize else f"{int(m[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > threshold else "black")
    ax.set_xticks(range(C), classes, rotation=45, ha="right")
    ax.set_yticks(range(C), classes)
    ax.set(xlabel="predicted class", ylabel="true class",
           title=title or ("confusion matrix (% of each true class)" if normalize else "confusion matrix"))
    return fig


def _images_hwc(images, name: str = "images") -> np.ndarray:
    """[N, 3, H, W] uint8 (0..255) or float (0..1) -> float array [N, H, W, 3] in 0..1 for imshow."""
    a = _to_numpy(images, name)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"{name} must have shape [N, 3, H, W] (or [N, 1, H, W]), got {list(a.shape)}.")
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif np.issubdtype(a.dtype, np.floating):
        a = np.clip(a, 0.0, 1.0)  # un-normalised images in 0..1; normalised ones would look wrong
    else:
        raise TypeError(f"{name} must be uint8 (0..255) or float (0..1), not {a.dtype}.")
    return a.transpose(0, 2, 3, 1)


def _image_grid(n: int, ncols: int, cell: float = 1.25) -> tuple[Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, (cell + 0.3) * nrows),
                             squeeze=False, layout="constrained")
    plt.close(fig)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def show_images(images, labels=None, classes: Sequence[str] | None = None, ncols: int = 8,
                title: str | None = None) -> Figure:
    """A grid of images [N, 3, H, W] (uint8, as stored), each titled with its label's class name."""
    a = _images_hwc(images)
    n = len(a)
    if n == 0:
        raise ValueError("images is empty: nothing to show.")
    labels_np = None if labels is None else _to_numpy(labels, "labels").reshape(-1)
    if labels_np is not None and len(labels_np) != n:
        raise ValueError(f"Got {n} images but {len(labels_np)} labels.")
    fig, axes = _image_grid(n, ncols)
    for i, ax in enumerate(axes.flat[:n]):
        ax.imshow(a[i].squeeze(-1) if a.shape[-1] == 1 else a[i], cmap="gray" if a.shape[-1] == 1 else None)
        if labels_np is not None:
            k = int(labels_np[i])
            ax.set_title(classes[k] if classes is not None else str(k), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def show_misclassified(images, true, pred, classes: Sequence[str], confidences=None, n: int = 16, ncols: int = 8,
                       title: str | None = None) -> Figure:
    """The first ``n`` of some misclassified images, titled ``"true → predicted (confidence)"``.

    Pass images already chosen as mistakes (e.g. the most confident ones from evaluate);
    ``confidences`` are the predicted class's probabilities in 0..1.
    """
    a = _images_hwc(images)
    t = _to_numpy(true, "true").reshape(-1)
    p = _to_numpy(pred, "pred").reshape(-1)
    c = None if confidences is None else _to_numpy(confidences, "confidences").reshape(-1)
    if not (len(a) == len(t) == len(p)) or (c is not None and len(c) != len(a)):
        raise ValueError(f"images, true, pred (and confidences) must have the same length; got {len(a)}, {len(t)}, "
                         f"{len(p)}" + ("" if c is None else f", {len(c)}") + ".")
    k = min(n, len(a))
    if k == 0:
        raise ValueError("No images to show (no mistakes given, or n=0).")
    fig, axes = _image_grid(k, ncols, cell=1.45)
    for i, ax in enumerate(axes.flat[:k]):
        ax.imshow(a[i])
        label = f"{classes[int(t[i])]} → {classes[int(p[i])]}"
        if c is not None:
            label += f" ({float(c[i]):.2f})"
        ax.set_title(label, fontsize=7, color="firebrick")
    fig.suptitle(title or "misclassified: true → predicted (confidence)")
    return fig


def plot_per_class_accuracy(acc, classes: Sequence[str], ax: Axes | None = None, title: str | None = None) -> Figure:
    """Bars of test accuracy per class (``acc`` in 0..1, shape [C]) with the mean as a dashed line."""
    a = 100 * _to_numpy(acc, "acc").astype(float).reshape(-1)
    if len(a) != len(classes):
        raise ValueError(f"Got {len(a)} accuracies for {len(classes)} classes.")
    fig, ax = _new_axes(ax, (7.0, 3.6))
    bars = ax.bar(range(len(a)), a, color=COLORS[0])
    ax.bar_label(bars, labels=[f"{v:.0f}" for v in a], fontsize=8, padding=2)
    ax.axhline(a.mean(), color="0.3", linestyle="--", linewidth=1, label=f"mean {a.mean():.1f}%")
    ax.set_xticks(range(len(a)), classes, rotation=45, ha="right")
    ax.set(ylim=(0, 105), ylabel="test accuracy (%)", title=title or "accuracy per class")
    ax.legend(fontsize="small", loc="lower right")
    return fig


def plot_grad_norms(norms: dict[str, Sequence[float] | Sequence[tuple[str, float]]], ax: Axes | None = None,
                    title: str | None = None) -> Figure:
    """Gradient norm of each layer's weight against layer index (input first), log y axis.

    norms: ``{"plain-56": [...], "resnet-56": [...]}``; the values are norms, or the
    ``(name, norm)`` pairs returned by :func:`resnet_lessons.gradients.layer_grad_norms`.
    """
    if not isinstance(norms, dict) or not norms:
        raise TypeError("norms must be a non-empty dict {network name: list of per-layer norms}.")
    fig, ax = _new_axes(ax, (6.5, 4.0))
    for i, (name, values) in enumerate(norms.items()):
        ys = [v[1] if isinstance(v, tuple) else v for v in values]
        ax.plot(range(1, len(ys) + 1), ys, marker="o", markersize=3, linewidth=1.5,
                color=COLORS[i % len(COLORS)], label=name)
    ax.set(yscale="log", xlabel="layer (1 = first conv, last = fc)", ylabel="‖gradient of weight‖ (L2)",
           title=title or "gradient norm per layer")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix, e.g. .png or .pdf), creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
