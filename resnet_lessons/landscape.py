"""The loss landscape of a network, computed: Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets".

A trained network is one point theta* in a space of ~270,000 dimensions (ResNet-20). We look at the loss on
a plane through that point, spanned by two random directions d1 and d2:

    f(a, b) = L(theta* + a * d1 + b * d2),      a, b in [-1, 1]

A raw random direction says little: ReLU networks with BatchNorm do not change their output when a filter
is scaled, so a step of 0.1 means a lot for a filter of norm 0.5 and nothing for one of norm 50. Li et al.'s
**filter normalisation** rescales every filter of the direction to the norm of the matching filter of the
network, ``d[i] <- d[i] / ||d[i]|| * ||theta*[i]||``, so that one unit along d moves every filter by its own
size. BatchNorm weights and biases and the other 1-D parameters (``fc.bias``) are left out: their entries
of the direction are zero, as in Li et al.'s code (``ignore='biasbn'``).

What is here:

- :func:`random_direction` (filter-normalised, from a seed) and :func:`filter_normalize`;
- :func:`surface_2d`: the loss and accuracy on a grid around a network (a :class:`Surface`);
- :func:`interpolate`: the loss along the straight line between two networks (a :class:`Line`);
- :func:`roughness`: numbers that say how rough a surface is (spread of the loss, curvature at the centre,
  share of points where the surface curves downwards in some direction);
- :func:`plot_contour`, :func:`plot_surface_3d`, :func:`plot_interpolation`;
- :func:`evaluation_subset`, :func:`images_per_second`, :func:`save_surface`, :func:`load_surface`;
- a command, ``python -m resnet_lessons.landscape --help``, that computes a stored surface with provenance.

Everything is evaluated in eval mode (BatchNorm uses the network's running statistics, which the
directions do not change), under ``torch.no_grad``, on a fixed set of images, a batch at a time. The
network's own weights are put back after every surface.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor, nn

Direction = dict[str, Tensor]  # parameter name -> a tensor of that parameter's shape

# ---------------------------------------------------------------------------------------------
# directions
# ---------------------------------------------------------------------------------------------


def filter_normalize(direction: Tensor, weight: Tensor) -> Tensor:
    """Rescale each filter of ``direction`` to the norm of the matching filter of ``weight``.

    direction, weight: tensors of the same shape with at least 2 dimensions, e.g. a conv weight
    [C_out, C_in, k, k] (a filter is ``weight[i]``, one output channel) or an fc weight
    [out_features, in_features] (a filter is one row). Returns a new tensor of that shape whose filter i has
    norm ``||weight[i]||``. 1-D tensors are refused: the landscape leaves them out (see the module doc).
    """
    if direction.shape != weight.shape:
        raise ValueError(f"direction and weight need the same shape, got {tuple(direction.shape)} "
                         f"and {tuple(weight.shape)}.")
    if weight.dim() < 2:
        raise ValueError(f"filter normalisation needs a weight with filters (2 or more dimensions), got shape "
                         f"{tuple(weight.shape)}: BatchNorm and bias vectors get a zero direction instead.")
    d = direction.flatten(1)                     # [filters, values per filter]
    w = weight.flatten(1)
    d_norms = d.norm(dim=1, keepdim=True)        # [filters, 1]
    w_norms = w.norm(dim=1, keepdim=True)
    scaled = d * (w_norms / (d_norms + 1e-10))
    return scaled.view_as(direction)


def random_direction(model: nn.Module, seed: int) -> Direction:
    """A random, filter-normalised direction in the space of ``model``'s parameters.

    Every parameter with 2 or more dimensions (conv and fc weights) gets Gaussian values, each filter
    rescaled to the norm of the network's own filter (:func:`filter_normalize`); BatchNorm weights and
    biases and every other 1-D parameter get zeros. The same model and seed always give the same direction.
    Returns {parameter name: tensor of the parameter's shape}.
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


# ---------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------


def evaluation_subset(data, n: int = 1000, split: str = "train", seed: int = 0,
                      mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> tuple[Tensor, Tensor]:
    """A fixed, stratified set of ``n`` images of ``data``, normalised as the trainer does.

    data: a :class:`resnet_lessons.data.CIFAR10Tensors`. split: "train" (the loss being minimised, as in
    Li et al.) or "test". Returns (images float32 [n, 3, 32, 32], labels int64 [n]); the images are
    ``(x / 255 - mean) / std`` with ``mean`` and ``std`` (3 values each, 0..1 units: a shipped network's
    ``record.mean`` and ``record.std``), by default the training set's per-channel mean and std.
    """
    from .data import stratified_subset

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    classes = len(data.classes)
    if not isinstance(n, int) or n < classes or n % classes:
        raise ValueError(f"n must be a positive multiple of the {classes} classes (e.g. 500 or 1000), got {n!r}.")
    images, labels = getattr(data, f"{split}_images"), getattr(data, f"{split}_labels")
    images, labels = stratified_subset(images, labels, n, seed)
    if mean is None or std is None:
        mean, std = data.mean_std()
    mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
    normalised = (images.float() / 255 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    return normalised, labels


def _check_images(images: Tensor, labels: Tensor) -> None:
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise ValueError("images must be a float tensor [N, 3, H, W], normalised as for training "
                         "(see evaluation_subset).")
    if not isinstance(labels, Tensor) or labels.shape != images.shape[:1]:
        raise ValueError(f"labels must be a tensor [N] with one label per image; got images "
                         f"{tuple(images.shape)} and labels {tuple(getattr(labels, 'shape', ()))}.")


@torch.no_grad()
def evaluate_loss(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 100) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``images`` [N, 3, H, W] / ``labels`` [N], in eval mode.

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
    best = math.inf
    for _ in range(repeats):
        surface = surface_2d(model, images, labels, [0.0], [0.0], directions)
        best = min(best, surface.seconds)
    return len(labels) / best


# ---------------------------------------------------------------------------------------------
# surfaces and lines
# ---------------------------------------------------------------------------------------------


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
    """The loss and accuracy along theta(alpha) = (1 - alpha) * theta_a + alpha * theta_b.

    alphas [n]: 0 is network a, 1 is network b; losses, accuracies [n].
    """

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
               progress: bool = False) -> Surface:
    """The loss surface f(a, b) = L(theta* + a d1 + b d2) of ``model`` on a grid, in eval mode.

    images [N, 3, H, W] (normalised), labels [N]: the fixed evaluation set. xs, ys: coordinates, e.g.
    ``grid(11)``. directions: (d1, d2) from :func:`random_directions_2d`; by default they are drawn from
    ``seed``. Returns a :class:`Surface` with losses and accuracies [len(ys), len(xs)]. The model's weights
    are restored afterwards, even if the computation is interrupted.
    """
    _check_images(images, labels)
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if directions is None:
        directions = random_directions_2d(model, seed)
    d1, d2 = directions
    _check_direction(model, d1, "d1")
    _check_direction(model, d2, "d2")
    params = dict(model.named_parameters())
    origin = {name: p.detach().clone() for name, p in params.items()}
    losses = np.zeros((len(ys), len(xs)))
    accuracies = np.zeros((len(ys), len(xs)))
    start = time.perf_counter()
    # channels-last memory is 1.5-2x faster for convolutions on a CPU; the values do not change
    images = images.contiguous(memory_format=torch.channels_last)
    model.to(memory_format=torch.channels_last)
    try:
        for i, b in enumerate(ys):
            for j, a in enumerate(xs):
                for name, p in params.items():
                    p.copy_(origin[name] + a * d1[name].to(p) + b * d2[name].to(p))
                losses[i, j], accuracies[i, j] = evaluate_loss(model, images, labels, batch_size)
            if progress:
                done = (i + 1) * len(xs)
                print(f"  {done}/{losses.size} points, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    finally:
        model.to(memory_format=torch.contiguous_format)
        for name, p in params.items():
            p.copy_(origin[name])
    return Surface(xs, ys, losses, accuracies, time.perf_counter() - start,
                   {"images": len(labels), "grid": f"{len(xs)}x{len(ys)}"})


@torch.no_grad()
def interpolate(model_a: nn.Module, model_b: nn.Module, images: Tensor, labels: Tensor,
                alphas: Sequence[float], batch_size: int = 100) -> Line:
    """The loss along the straight line from network a (alpha = 0) to network b (alpha = 1), in eval mode.

    Both networks must have the same architecture. Every floating-point entry of the state (weights and
    BatchNorm's running statistics) is interpolated, so that eval mode sees a consistent network. Neither
    network is changed: the line is evaluated on a copy of ``model_a``.
    """
    import copy

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


# ---------------------------------------------------------------------------------------------
# how rough is a surface?
# ---------------------------------------------------------------------------------------------


@dataclass
class Roughness:
    """Numbers that describe a loss surface (all from its grid, no fitting).

    loss_range: max - min of the loss over the grid (how much the loss varies around the network);
    centre_curvature: mean of the second differences along a and b at (0, 0), divided by the step squared
        (how sharply the surface bends at the network; larger = a narrower valley);
    nonconvex_fraction: share of the inner grid points where the grid's 2x2 Hessian (second differences)
        has a clearly negative eigenvalue, below -0.1 times the size of the largest (after Li et al.'s maps of
        |lambda_min / lambda_max|; 0 for a perfect bowl, high for a chaotic surface).
    """

    loss_range: float
    centre_curvature: float
    nonconvex_fraction: float

    def line(self) -> str:
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


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------


def _new_axes(ax: Axes | None, figsize: tuple[float, float], projection: str | None = None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig, fig.add_subplot(projection=projection)


def plot_contour(surface: Surface, ax: Axes | None = None, title: str = "", levels: Sequence[float] | None = None,
                 max_loss: float | None = None) -> Figure:
    """Contour lines of the loss over the grid, Li et al.'s 2-D plots; the network itself is the dot at (0, 0).

    levels: the loss values to draw (default: 20 levels from the lowest loss to ``max_loss`` or the highest).
    """
    fig, ax = _new_axes(ax, (4.6, 4))
    z = np.asarray(surface.losses)
    top = float(z.max()) if max_loss is None else max_loss
    if levels is None:
        levels = np.linspace(float(z.min()), top, 20)
    lines = ax.contour(surface.xs, surface.ys, z, levels=levels, cmap="viridis", linewidths=1.0)
    ax.clabel(lines, lines.levels[::4], fmt="%.1f", fontsize=7)
    ax.plot([0], [0], "o", color="black", markersize=4)
    ax.set_xlabel("a (direction d1)")
    ax.set_ylabel("b (direction d2)")
    ax.set_aspect("equal")
    ax.set_title(title)
    return fig


def plot_surface_3d(surface: Surface, ax: Axes | None = None, title: str = "", max_loss: float | None = None) -> Figure:
    """The loss as a 3-D surface over the grid (values above ``max_loss`` are cut off, as Li et al. do)."""
    fig, ax = _new_axes(ax, (5, 4.2), projection="3d")
    a, b = np.meshgrid(surface.xs, surface.ys)
    z = np.asarray(surface.losses, dtype=float)
    if max_loss is not None:
        z = np.minimum(z, max_loss)
    ax.plot_surface(a, b, z, cmap="viridis", linewidth=0, antialiased=True)
    ax.set_xlabel("a")
    ax.set_ylabel("b")
    ax.set_zlabel("loss")
    ax.set_title(title)
    return fig


def plot_interpolation(lines: dict[str, Line], ax: Axes | None = None, title: str = "") -> Figure:
    """Loss against alpha for each named :class:`Line` (alpha 0 is the first network, 1 the second)."""
    fig, ax = _new_axes(ax, (5, 3.5))
    for name, line in lines.items():
        ax.plot(line.alphas, line.losses, marker=".", label=name)
    ax.set_xlabel("alpha")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title(title)
    return fig


# ---------------------------------------------------------------------------------------------
# storing a surface
# ---------------------------------------------------------------------------------------------


def save_surface(path: str | Path, surface: Surface) -> Path:
    """Write ``surface`` (grid, losses, accuracies, seconds, meta) as JSON."""
    from .files import write_json

    return write_json(path, {"xs": surface.xs.tolist(), "ys": surface.ys.tolist(),
                             "losses": surface.losses.tolist(), "accuracies": surface.accuracies.tolist(),
                             "seconds": surface.seconds, "meta": surface.meta})


def load_surface(path: str | Path) -> Surface:
    """Read a surface written by :func:`save_surface`."""
    from .files import read_json

    d = read_json(path)
    return Surface(np.asarray(d["xs"]), np.asarray(d["ys"]), np.asarray(d["losses"]), np.asarray(d["accuracies"]),
                   d.get("seconds", 0.0), d.get("meta", {}))


# ---------------------------------------------------------------------------------------------
# the command: python -m resnet_lessons.landscape
# ---------------------------------------------------------------------------------------------

STORED_DIR = Path(__file__).resolve().parent.parent / "results" / "landscape"
DEFAULT_OUT = Path("runs") / "landscape"
SETTINGS = ("grid", "extent", "images", "split", "seed")  # what makes two surfaces comparable (and the data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_lessons.landscape",
        description="Compute the 2-D loss surface around the course's trained networks (resnet_lessons.trained) "
        "and store each as <out>/<model>.json, with a provenance.json that describes every surface in the folder. "
        "Writes into runs/landscape unless told --update-stored (the course's results/landscape).",
    )
    parser.add_argument("--models", nargs="+", default=["plain20", "resnet20"],
                        help="trained networks (names that resnet_lessons.trained accepts; default plain20 resnet20)")
    parser.add_argument("--grid", type=int, default=21, help="points per axis, odd (default 21)")
    parser.add_argument("--extent", type=float, default=1.0, help="the grid spans -extent..extent (default 1)")
    parser.add_argument("--images", type=int, default=1000, help="training images to evaluate on (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the directions and of the image subset")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data", default=None, metavar="PATH", help="CIFAR-10 folder (default $RESNET_LESSONS_DATA)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"output folder (default {DEFAULT_OUT}; results/landscape with --update-stored)")
    parser.add_argument("--update-stored", action="store_true",
                        help="write into the course's stored surfaces, results/landscape (replacing those models')")
    return parser


def check_arguments(args: argparse.Namespace) -> Path:
    """Every check of the parsed arguments that needs no data, before any work; returns the output folder.
    Raises ValueError naming the flag and what to give instead."""
    from .preflight import SEED_MAX

    if args.grid < 1 or args.grid % 2 == 0:
        raise ValueError(f"--grid {args.grid}: give an odd number of points per axis, 3 or more (e.g. 21), so "
                         "that the grid holds the trained weights at its centre.")
    if not (math.isfinite(args.extent) and args.extent > 0):
        raise ValueError(f"--extent {args.extent}: give a number above 0 (e.g. 1), the grid's half-width in "
                         "filter-normalised units.")
    if args.images < 1:
        raise ValueError(f"--images {args.images}: give 1 or more training images to evaluate on (e.g. 1000).")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads {args.threads}: give 1 or more, or leave it out for torch's choice.")
    if not 0 <= args.seed <= SEED_MAX:
        raise ValueError(f"--seed {args.seed} is not a seed: give a whole number from 0 to {SEED_MAX:,}.")
    repeated = sorted({m for m in args.models if args.models.count(m) > 1})
    if repeated:
        raise ValueError(f"--models names {', '.join(repeated)} more than once; name each network once.")
    stored = STORED_DIR.resolve()
    out = Path(args.out) if args.out else (STORED_DIR if args.update_stored else DEFAULT_OUT)
    if not args.update_stored and (out.resolve() == stored or stored in out.resolve().parents):
        raise ValueError(f"--out {out} is the course's stored surfaces: add --update-stored to replace them, or "
                         f"write elsewhere (the default is {DEFAULT_OUT}).")
    return out


def surface_settings(meta: dict) -> dict:
    """What a stored surface was computed with (its grid, extent, images, split, seed and data)."""
    return {**{k: meta.get(k) for k in SETTINGS}, "data": (meta.get("data") or {}).get("label")}


def check_not_mixing(out: Path, models: list[str], settings: dict) -> None:
    """ValueError when ``out`` holds a surface of another model computed with other ``settings``: one folder
    holds comparable surfaces only (the figure and the notebook set them side by side)."""
    clashes = []
    for path in sorted(out.glob("*.json")):
        if path.name == "provenance.json" or path.stem in models:
            continue
        stored = surface_settings(load_surface(path).meta)
        different = [f"{k} {stored[k]} (this command: {settings[k]})" for k in settings if stored[k] != settings[k]]
        if different:
            clashes.append(f"{path.name}: {', '.join(different)}")
    if clashes:
        raise ValueError(f"{out} holds surfaces computed with other settings, which this command's would sit beside: "
                         f"{'; '.join(clashes)}. Use another --out, or recompute those models too (--models) with "
                         "the same settings.")


def write_provenance(folder: Path) -> None:
    """provenance.json: for every surface in ``folder``, the command that made it, when, and from which commit."""
    from .files import write_json

    surfaces = {}
    for path in sorted(folder.glob("*.json")):
        if path.name != "provenance.json":
            meta = load_surface(path).meta
            surfaces[path.stem] = {k: meta.get(k) for k in ("command", "finished", "git", "grid", "images")}
    write_json(folder / "provenance.json", {"models": sorted(surfaces), "surfaces": surfaces})


def main(argv: list[str] | None = None) -> int:
    from .data import DataNotFoundError, load_cifar10
    from .files import replaced_folder
    from .lab.provenance import command_line, data_facts, environment, git_state, utc_now
    from .trained import TrainedNetworkError, trained

    args = build_parser().parse_args(argv)
    command = command_line(argv if argv is not None else sys.argv[1:], prefix="python -m resnet_lessons.landscape")
    try:
        out = check_arguments(args)
        networks = {name: trained(name) for name in args.models}  # every name checked before any surface
        data = load_cifar10(args.data)
        settings = {"grid": f"{args.grid}x{args.grid}", "extent": args.extent, "images": args.images,
                    "split": "train", "seed": args.seed, "data": data_facts(data)["label"]}
        check_not_mixing(out, args.models, settings)
    except (ValueError, FileNotFoundError, TrainedNetworkError, DataNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    for name, (model, record) in networks.items():
        images, labels = evaluation_subset(data, args.images, "train", args.seed, record.mean, record.std)
        speed = images_per_second(model, images, labels)
        points = args.grid**2
        print(f"{name}: {speed:,.0f} images/s, {points} points x {args.images} images: "
              f"about {points * args.images / speed / 60:.1f} min", flush=True)
        started = utc_now()
        surface = surface_2d(model, images, labels, grid(args.grid, args.extent), grid(args.grid, args.extent),
                             seed=args.seed, progress=True)
        surface.meta = {
            "model": name,
            "trained": {"summary": record.summary(), "file": record.file, "sha256": record.sha256,
                        "epochs": record.epochs, "val_acc": record.val_acc, "test_acc": record.test_acc,
                        "command": record.command},
            **{k: settings[k] for k in SETTINGS},
            "directions": "random Gaussian, filter-normalised; BatchNorm and bias parameters left out (zero)",
            "mode": "eval (BatchNorm running statistics)",
            "command": command,
            "started": started,
            "finished": utc_now(),
            "wall_seconds": round(surface.seconds, 1),
            "images_per_second": round(speed),
            "git": git_state(),
            "environment": environment(),
            "data": data_facts(data),
        }
        with replaced_folder(out) as new:  # the surface and the provenance that describes it, or neither
            save_surface(new / f"{name}.json", surface)
            write_provenance(new)
        print(f"{name}: {roughness(surface).line()} ({surface.seconds / 60:.1f} min) -> {out / (name + '.json')}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
