"""The loss landscape of a network: Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets".

A trained network is one point theta* in parameter space (~270,000 dimensions for ResNet-20). We look at the
loss on a plane through it, f(a, b) = L(theta* + a * d1 + b * d2) for a, b in [-1, 1], where d1 and d2 are
random directions with Li et al.'s **filter normalisation**: every filter of a direction is rescaled to the
norm of the network's matching filter, ``d[i] <- d[i] / ||d[i]|| * ||theta*[i]||``, because a ReLU network
with BatchNorm does not change its output when a filter is scaled. 1-D parameters (BatchNorm, biases) get a
zero direction, as in Li et al.'s code (``ignore='biasbn'``).

Everything is evaluated in eval mode, under ``torch.no_grad``, on a fixed set of images; the network's own
weights are put back afterwards. ``python -m resnet_lessons.lab.landscape`` computes the stored surfaces.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor, nn

from .config import default_results_dir
from .data import stratified_subset
from .files import read_json, write_json
from .interpret import normalise
from .live import is_clear
from .plots import _new_axes

Direction = dict[str, Tensor]  # parameter name -> a tensor of that parameter's shape

# --- directions ---


def filter_normalize(direction: Tensor, weight: Tensor) -> Tensor:
    """Rescale each filter of ``direction`` to the norm of the matching filter of ``weight``.

    direction, weight: the same shape, 2 or more dimensions: a conv weight [C_out, C_in, k, k] (a filter is
    ``weight[i]``, one output channel) or an fc weight [out_features, in_features] (a filter is one row).
    Returns a new tensor of that shape whose filter i has norm ``||weight[i]||``.
    """
    if direction.shape != weight.shape:
        raise ValueError(f"direction and weight need the same shape, got {tuple(direction.shape)} "
                         f"and {tuple(weight.shape)}.")
    if weight.dim() < 2:
        raise ValueError(f"filter normalisation needs a weight with filters (2 or more dimensions), got shape "
                         f"{tuple(weight.shape)}: BatchNorm and bias vectors get a zero direction instead.")
    d, w = direction.flatten(1), weight.flatten(1)  # [filters, values per filter]
    scale = w.norm(dim=1, keepdim=True) / (d.norm(dim=1, keepdim=True) + 1e-10)  # [filters, 1]
    return (d * scale).view_as(direction)


def random_direction(model: nn.Module, seed: int) -> Direction:
    """A random direction in the space of ``model``'s parameters: {parameter name: tensor of its shape}.

    Conv and fc weights get Gaussian values, filter-normalised (:func:`filter_normalize`); BatchNorm weights,
    biases and every other 1-D parameter get zeros. The same model and seed always give the same direction.
    """
    generator = torch.Generator().manual_seed(seed)
    direction = {}
    for name, p in model.named_parameters():
        w = p.detach().float().cpu()
        if w.dim() < 2:
            direction[name] = torch.zeros_like(w)
        else:
            direction[name] = filter_normalize(torch.randn(w.shape, generator=generator), w)
    return direction


def random_directions_2d(model: nn.Module, seed: int = 0) -> tuple[Direction, Direction]:
    """Two random filter-normalised directions (seeds ``seed`` and ``seed + 1``) for a 2-D surface."""
    return random_direction(model, seed), random_direction(model, seed + 1)


# --- evaluation ---


def evaluation_subset(data, n: int = 1000, split: str = "train", seed: int = 0,
                      mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> tuple[Tensor, Tensor]:
    """A fixed, stratified set of ``n`` images of ``data``, normalised as the trainer does.

    data: a :class:`resnet_lessons.data.CIFAR10Tensors`. split: "train" (the loss being minimised, as in
    Li et al.) or "test". mean, std: for :func:`resnet_lessons.interpret.normalise`, by default the training
    set's. Returns (images float32 [n, 3, 32, 32], labels int64 [n]).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    classes = len(data.classes)
    if not isinstance(n, int) or n < classes or n % classes:
        raise ValueError(f"n must be a positive multiple of the {classes} classes (e.g. 500 or 1000), got {n!r}.")
    images, labels = stratified_subset(getattr(data, f"{split}_images"), getattr(data, f"{split}_labels"), n, seed)
    if mean is None or std is None:
        mean, std = data.mean_std()
    return normalise(images, mean, std), labels


def _check_images(images: Tensor, labels: Tensor) -> None:
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise ValueError("images must be a float tensor [N, 3, H, W], normalised as for training "
                         "(see evaluation_subset).")
    if not isinstance(labels, Tensor) or labels.shape != images.shape[:1]:
        raise ValueError(f"labels must be a tensor [N] with one label per image; got images "
                         f"{tuple(images.shape)} and labels {tuple(getattr(labels, 'shape', ()))}.")


@torch.no_grad()
def evaluate_loss(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 100) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``images`` [N, 3, H, W] / ``labels`` [N].

    The model is put in eval mode (BatchNorm uses its running statistics) and left there. ``batch_size``
    100 is the fastest on a CPU.
    """
    _check_images(images, labels)
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        x, y = images[start:start + batch_size], labels[start:start + batch_size]
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(dim=1) == y).sum().item()
    return total_loss / len(labels), correct / len(labels)


def images_per_second(model: nn.Module, images: Tensor, labels: Tensor, repeats: int = 2) -> float:
    """How many images per second a grid point of :func:`surface_2d` gets through here (best of ``repeats``)."""
    directions = random_directions_2d(model)
    best = min(surface_2d(model, images, labels, [0.0], [0.0], directions).seconds for _ in range(repeats))
    return len(labels) / best


# --- surfaces and lines ---


@dataclass
class Surface:
    """The loss and accuracy of a network on a grid: point (i, j) is theta* + xs[j] * d1 + ys[i] * d2.

    xs [nx], ys [ny]: the coordinates; losses, accuracies [ny, nx]; seconds: wall time of the computation;
    meta: anything that says where the surface came from (network, images, seed, device, ...).
    """

    xs: np.ndarray
    ys: np.ndarray
    losses: np.ndarray
    accuracies: np.ndarray
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    @property
    def centre_loss(self) -> float:
        """The loss at (0, 0), the network itself (the grid must contain 0 on both axes)."""
        return float(self.losses[_index_of_zero(self.ys, "ys"), _index_of_zero(self.xs, "xs")])


@dataclass
class Line:
    """The loss and accuracy [n] along theta(alpha) = (1 - alpha) * theta_a + alpha * theta_b, alphas [n]."""

    alphas: np.ndarray
    losses: np.ndarray
    accuracies: np.ndarray
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)


def grid(n: int, extent: float = 1.0) -> np.ndarray:
    """``n`` evenly spaced coordinates from -extent to extent; ``n`` must be odd so that 0 is one of them."""
    if not isinstance(n, int) or n < 3 or n % 2 == 0:
        raise ValueError(f"the grid needs an odd number of points >= 3 (so that 0, the network itself, is on it), "
                         f"got {n!r}: try 11, 21 or 51.")
    return np.linspace(-extent, extent, n)


def _index_of_zero(values: np.ndarray, name: str) -> int:
    index = int(np.argmin(np.abs(values)))
    if abs(values[index]) > 1e-9:
        raise ValueError(f"{name} does not contain 0 (the network itself); make the grid with grid(n), n odd.")
    return index


def _check_direction(model: nn.Module, direction: Direction, name: str) -> None:
    params = dict(model.named_parameters())
    missing = [k for k in params if k not in direction]
    wrong = [k for k in params if k in direction and direction[k].shape != params[k].shape]
    if missing or wrong:
        raise ValueError(f"{name} does not fit this network: {len(missing)} parameters missing "
                         f"{missing[:3]}, {len(wrong)} of the wrong shape {wrong[:3]}. "
                         "Make it with random_direction(model, seed) on the same network.")


@torch.no_grad()
def surface_2d(model: nn.Module, images: Tensor, labels: Tensor, xs: Sequence[float], ys: Sequence[float],
               directions: tuple[Direction, Direction] | None = None, seed: int = 0, batch_size: int = 100,
               progress: bool = False, done: Surface | None = None,
               after_row: Callable[[Surface], None] | None = None) -> Surface:
    """The loss surface f(a, b) = L(theta* + a d1 + b d2) of ``model`` on a grid, in eval mode.

    images [N, 3, H, W] (normalised), labels [N]: the fixed evaluation set. xs, ys: coordinates, e.g.
    ``grid(11)``. directions: (d1, d2), by default :func:`random_directions_2d` of ``seed``. Returns a
    :class:`Surface` with losses and accuracies [len(ys), len(xs)]. The model's weights are restored
    afterwards, even if the computation is interrupted.

    In pieces: ``after_row`` gets the surface so far after every row but the last (``meta["rows_done"]`` rows
    hold numbers); given back as ``done`` (same grid, network, images and directions), it is continued.
    """
    _check_images(images, labels)
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    losses, accuracies = np.zeros((len(ys), len(xs))), np.zeros((len(ys), len(xs)))
    first_row, earlier = 0, 0.0
    if done is not None:  # keep the rows computed before
        first_row, earlier = done.meta.get("rows_done"), done.seconds
        if not np.array_equal(done.xs, xs) or not np.array_equal(done.ys, ys) or not isinstance(first_row, int) \
                or not 0 <= first_row <= len(ys):
            raise ValueError(f"done is not a partial surface of this {len(xs)}x{len(ys)} grid (it has "
                             f"{len(done.xs)}x{len(done.ys)} points, rows_done={first_row!r}); give the surface that "
                             "after_row was called with on the same grid.")
        losses[:first_row], accuracies[:first_row] = done.losses[:first_row], done.accuracies[:first_row]
    d1, d2 = directions if directions is not None else random_directions_2d(model, seed)
    _check_direction(model, d1, "d1")
    _check_direction(model, d2, "d2")
    params = dict(model.named_parameters())
    origin = {name: p.detach().clone() for name, p in params.items()}
    meta = {"images": len(labels), "grid": f"{len(xs)}x{len(ys)}"}
    start = time.perf_counter()
    # channels-last memory is 1.5-2x faster for convolutions on a CPU; the values do not change
    images = images.contiguous(memory_format=torch.channels_last)
    model.to(memory_format=torch.channels_last)
    try:
        for i in range(first_row, len(ys)):
            for j, a in enumerate(xs):
                for name, p in params.items():
                    p.copy_(origin[name] + a * d1[name].to(p) + ys[i] * d2[name].to(p))
                losses[i, j], accuracies[i, j] = evaluate_loss(model, images, labels, batch_size)
            seconds = earlier + time.perf_counter() - start
            if progress:
                print(f"  {(i + 1) * len(xs)}/{losses.size} points, {seconds:.0f} s", file=sys.stderr)
            if after_row is not None and i + 1 < len(ys):
                after_row(Surface(xs, ys, losses.copy(), accuracies.copy(), seconds, {**meta, "rows_done": i + 1}))
    finally:
        model.to(memory_format=torch.contiguous_format)
        for name, p in params.items():
            p.copy_(origin[name])
    return Surface(xs, ys, losses, accuracies, earlier + time.perf_counter() - start, meta)


@torch.no_grad()
def interpolate(model_a: nn.Module, model_b: nn.Module, images: Tensor, labels: Tensor,
                alphas: Sequence[float], batch_size: int = 100) -> Line:
    """The loss along the straight line from network a (alpha = 0) to network b (alpha = 1), in eval mode.

    Both networks must have the same architecture. Every floating-point entry of the state (weights and
    BatchNorm's running statistics) is interpolated, so that eval mode sees a consistent network. Neither
    network is changed: the line is evaluated on a copy of ``model_a``.
    """
    _check_images(images, labels)
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    if state_a.keys() != state_b.keys() or any(state_a[k].shape != state_b[k].shape for k in state_a):
        raise ValueError("interpolate needs two networks of the same architecture (the same state_dict names "
                         "and shapes), e.g. two runs of build_model('resnet20').")
    walker = copy.deepcopy(model_a).to(memory_format=torch.channels_last)  # faster on a CPU, same values
    images = images.contiguous(memory_format=torch.channels_last)
    alphas = np.asarray(alphas, dtype=float)
    losses, accuracies = np.zeros(len(alphas)), np.zeros(len(alphas))
    start = time.perf_counter()
    for k, alpha in enumerate(alphas):
        mixed = {name: (1 - alpha) * a + alpha * state_b[name] if a.is_floating_point() else a
                 for name, a in state_a.items()}
        walker.load_state_dict(mixed)
        losses[k], accuracies[k] = evaluate_loss(walker, images, labels, batch_size)
    return Line(alphas, losses, accuracies, time.perf_counter() - start, {"images": len(labels)})


# --- how rough is a surface? ---


@dataclass
class Roughness:
    """Numbers that describe a loss surface, all from its grid.

    loss_range: max - min of the loss over the grid;
    centre_curvature: mean of the second differences along a and b at (0, 0), divided by the step squared
        (larger = a narrower valley);
    nonconvex_fraction: share of the inner grid points where the grid's 2x2 Hessian (second differences)
        has an eigenvalue below -0.1 times the size of the largest (after Li et al.'s maps of
        |lambda_min / lambda_max|; 0 for a perfect bowl, high for a chaotic surface).
    """

    loss_range: float
    centre_curvature: float
    nonconvex_fraction: float

    def line(self) -> str:
        """The three numbers in one line for a log."""
        return (f"loss range {self.loss_range:.2f}, curvature at the centre {self.centre_curvature:.2f}, "
                f"non-convex points {self.nonconvex_fraction:.0%}")


def roughness(surface: Surface) -> Roughness:
    """The :class:`Roughness` of ``surface`` (an evenly spaced grid with 0 on both axes, 3 or more points)."""
    z = np.asarray(surface.losses, dtype=float)
    if z.ndim != 2 or min(z.shape) < 3:
        raise ValueError(f"roughness needs a grid of at least 3x3 points, got losses of shape {z.shape}.")
    hx, hy = float(surface.xs[1] - surface.xs[0]), float(surface.ys[1] - surface.ys[0])
    ci, cj = _index_of_zero(surface.ys, "ys"), _index_of_zero(surface.xs, "xs")
    if not (0 < ci < z.shape[0] - 1 and 0 < cj < z.shape[1] - 1):
        raise ValueError("the centre (0, 0) must be an inner point of the grid.")
    # second differences on the inner points, [ny - 2, nx - 2]
    zxx = (z[1:-1, 2:] - 2 * z[1:-1, 1:-1] + z[1:-1, :-2]) / hx**2
    zyy = (z[2:, 1:-1] - 2 * z[1:-1, 1:-1] + z[:-2, 1:-1]) / hy**2
    zxy = (z[2:, 2:] - z[2:, :-2] - z[:-2, 2:] + z[:-2, :-2]) / (4 * hx * hy)
    # eigenvalues of [[zxx, zxy], [zxy, zyy]]
    mean, spread = (zxx + zyy) / 2, np.sqrt(((zxx - zyy) / 2) ** 2 + zxy**2)
    low, high = mean - spread, mean + spread
    biggest = np.maximum(np.abs(low), np.abs(high))
    nonconvex = (low < -0.1 * biggest) & (biggest > 0)
    centre = (zxx[ci - 1, cj - 1] + zyy[ci - 1, cj - 1]) / 2
    return Roughness(float(z.max() - z.min()), float(centre), float(nonconvex.mean()))


@torch.no_grad()
def centre_curvatures(model: nn.Module, images: Tensor, labels: Tensor, directions: int = 20,
                      step: float = 1 / 12, seed: int = 0, batch_size: int = 100) -> np.ndarray:
    """The curvature of the loss at the network along ``directions`` random filter-normalised directions.

    Along direction d (seeds ``seed``, ``seed + 1``, ...), the second difference
    (L(theta* + h d) - 2 L(theta*) + L(theta* - h d)) / h^2 with h = ``step`` (default: the step of a 25x25 grid
    on [-1, 1]). Returns [directions]. The first two directions are a surface's d1 and d2, so the mean of the
    first two values is the surface's centre curvature (:func:`roughness`); the spread of all of them is the
    noise of comparing two networks' curvatures (:func:`compare_curvatures`). Costs 2 * directions + 1
    evaluations; the model's weights are restored afterwards.
    """
    if directions < 2 or not step > 0:
        raise ValueError(f"centre_curvatures needs 2 or more directions and a step above 0, got directions="
                         f"{directions!r}, step={step!r}: try directions=20, step=1/12.")
    centre = surface_2d(model, images, labels, [0.0], [0.0], random_directions_2d(model, seed),
                        batch_size=batch_size).losses[0, 0]
    values = np.zeros(directions)
    for k in range(directions):
        d = random_direction(model, seed + k)
        low, high = surface_2d(model, images, labels, [-step, step], [0.0], (d, d), batch_size=batch_size).losses[0]
        values[k] = (low - 2 * centre + high) / step**2
    return values


def compare_curvatures(name_a: str, a: Sequence[float], name_b: str, b: Sequence[float]) -> str:
    """A sentence saying whether network a's minimum is clearly sharper (or flatter) than network b's.

    a, b: curvatures along random directions (:func:`centre_curvatures`), 2 or more each. The difference of
    the means is clear when it is more than twice its standard error, sqrt(var(a) / n_a + var(b) / n_b): the
    course's one rule for a clear difference (:func:`resnet_lessons.live.is_clear`).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"compare_curvatures needs 2 or more curvatures per network (got {len(a)} and {len(b)}): "
                         "measure them with centre_curvatures(model, images, labels, directions=20).")
    error = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    clear = is_clear(abs(a.mean() - b.mean()), error)
    if clear and a.mean() < b.mean():  # name the sharper one first
        name_a, a, name_b, b = name_b, b, name_a, a
    numbers = (f"mean curvature {a.mean():.2f} against {b.mean():.2f} over {len(a)} and {len(b)} random directions, "
               f"a difference of {abs(a.mean() - b.mean()):.2f} with a standard error of {error:.2f}")
    if clear:
        return f"{name_a} sits in a clearly sharper minimum than {name_b}: {numbers} (more than twice)."
    return f"no clear difference between the minima of {name_a} and {name_b}: {numbers} (not more than twice)."


# --- figures ---


def plot_contour(surface: Surface, ax: Axes | None = None, title: str = "", levels: Sequence[float] | None = None,
                 max_loss: float | None = None) -> Figure:
    """Contour lines of the loss over the grid, Li et al.'s 2-D plots; the network itself is the dot at (0, 0).

    levels: the loss values to draw (default: 20 levels from the lowest loss to ``max_loss`` or the highest).
    """
    fig, ax = _new_axes(ax, (4.6, 4))
    z = np.asarray(surface.losses)
    if levels is None:
        levels = np.linspace(float(z.min()), float(z.max()) if max_loss is None else max_loss, 20)
    lines = ax.contour(surface.xs, surface.ys, z, levels=levels, cmap="viridis", linewidths=1.0)
    ax.clabel(lines, lines.levels[::4], fmt="%.1f", fontsize=7)
    ax.plot([0], [0], "o", color="black", markersize=4)
    ax.set(xlabel="a (direction d1)", ylabel="b (direction d2)", aspect="equal", title=title)
    return fig


def plot_surface_3d(surface: Surface, ax: Axes | None = None, title: str = "", max_loss: float | None = None) -> Figure:
    """The loss as a 3-D surface over the grid (values above ``max_loss`` are cut off, as Li et al. do)."""
    fig, ax = _new_axes(ax, (5, 4.2), projection="3d")
    a, b = np.meshgrid(surface.xs, surface.ys)
    z = np.asarray(surface.losses, dtype=float)
    if max_loss is not None:
        z = np.minimum(z, max_loss)
    ax.plot_surface(a, b, z, cmap="viridis", linewidth=0, antialiased=True)
    ax.set(xlabel="a", ylabel="b", zlabel="loss", title=title)
    return fig


def plot_surfaces(surfaces: dict[str, Surface], max_loss: float | None = None, note: str = "") -> Figure:
    """Several surfaces side by side, Li et al.'s Figure 5: contours on top, the same surface in 3-D below.

    surfaces: {title: Surface}, e.g. {"plain56": s1, "resnet56": s2}; max_loss: one cut-off for all panels (the
    same contour levels), by default twice the largest centre loss plus 3; note: added to each top title.
    """
    if max_loss is None:
        max_loss = 2 * max(s.centre_loss for s in surfaces.values()) + 3
    fig = plt.figure(figsize=(5.5 * len(surfaces), 8.5), layout="constrained")
    plt.close(fig)
    for k, (name, surface) in enumerate(surfaces.items()):
        plot_contour(surface, ax=fig.add_subplot(2, len(surfaces), k + 1), max_loss=max_loss,
                     title=f"{name}: loss contours{note}")
        plot_surface_3d(surface, ax=fig.add_subplot(2, len(surfaces), len(surfaces) + k + 1, projection="3d"),
                        max_loss=max_loss, title=f"{name}: the same surface in 3-D")
    return fig


def plot_interpolation(lines: dict[str, Line], ax: Axes | None = None, title: str = "") -> Figure:
    """Loss against alpha for each named :class:`Line` (alpha 0 is the first network, 1 the second)."""
    fig, ax = _new_axes(ax, (5, 3.5))
    for name, line in lines.items():
        ax.plot(line.alphas, line.losses, marker=".", label=name)
    ax.set(xlabel="alpha", ylabel="loss", title=title)
    ax.legend()
    return fig


# --- storing a surface ---


def save_surface(path: str | Path, surface: Surface) -> Path:
    """Write ``surface`` (grid, losses, accuracies, seconds, meta) as JSON."""
    return write_json(path, {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in asdict(surface).items()})


def load_surface(path: str | Path) -> Surface:
    """Read a surface written by :func:`save_surface`."""
    d = read_json(path)
    return Surface(np.asarray(d["xs"]), np.asarray(d["ys"]), np.asarray(d["losses"]), np.asarray(d["accuracies"]),
                   d.get("seconds", 0.0), d.get("meta", {}))


def stored_surfaces(names: Sequence[str], results_dir: str | Path | None = None) -> dict[str, Surface]:
    """The surfaces that ``python -m resnet_lessons.lab.landscape`` stored for the shipped networks ``names``
    (``results/landscape/<name>.json``), those of them that are there, by name."""
    folder = Path(results_dir if results_dir is not None else default_results_dir()) / "landscape"
    return {name: load_surface(folder / f"{name}.json") for name in names if (folder / f"{name}.json").is_file()}


def surface_source(surface: Surface) -> str:
    """Where a stored surface comes from, in one short line: grid, images, data copy, device, wall time, command
    (the full record is in its ``meta``)."""
    m = surface.meta
    return (f"{m['grid']} grid on {m['images']:,} training images of {m['data']['label']}, "
            f"{m['environment']['device']}, {m['wall_seconds'] / 60:.0f} min: `{m['command']}`")


def largest_rise(line: Line) -> float:
    """Walking the line from alpha = 0 to alpha = 1, the most the loss climbs above the lowest loss reached
    so far: 0 when the loss never goes up on the way (Goodfellow et al.'s "no barrier"), the height of the
    bump otherwise. A plateau followed by a drop is not a rise. Points outside [0, 1] are ignored."""
    inside = (line.alphas >= 0) & (line.alphas <= 1)
    losses = line.losses[inside][np.argsort(line.alphas[inside])]
    lowest_so_far = np.minimum.accumulate(losses)
    return float(np.max(losses - lowest_so_far))


def stored_line(surface: Surface) -> Line | None:
    """The line from the network's initial weights (alpha = 0) to its trained ones (alpha = 1) that the
    landscape command stores with a shipped network's surface (``meta["interpolation"]``); None without one."""
    stored = surface.meta.get("interpolation")
    if stored is None:
        return None
    facts = {"largest_rise": stored.get("largest_rise"), "initial": stored.get("initial")}
    return Line(np.asarray(stored["alphas"]), np.asarray(stored["losses"]), np.asarray(stored["accuracies"]),
                stored.get("seconds", 0.0), facts)


def stored_curvatures(surface: Surface) -> np.ndarray | None:
    """The curvatures at the network along random directions (:func:`centre_curvatures`) that the landscape
    command stores with a shipped network's surface (``meta["curvatures"]``), [directions]; None without them."""
    stored = surface.meta.get("curvatures")
    return None if stored is None else np.asarray(stored["values"], dtype=float)
