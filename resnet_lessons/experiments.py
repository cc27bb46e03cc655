"""The course's reference experiments: full GPU runs whose results ship with the course.

Students on a CPU cannot train plain-56 against ResNet-56 for many epochs, so the course stores the
results of such runs, made by this module with the package's own trainer, in ``results/NAME/``:

    histories.json    {run name: History as a dict}: the numbers of every epoch of every run
    figure.png        the experiment's figure
    summary.json      the final numbers per run, as a table (the README and the notebooks read it)
    provenance.json   how it was made: command, commit, versions, GPU, data, seeds, dates, wall times

One command makes one or several experiments::

    python -m resnet_lessons experiment degradation              # full size, on a GPU
    python -m resnet_lessons experiment depth shortcuts --out results
    python -m resnet_lessons experiment degradation --fast       # tiny and quick, on any CPU

The experiments (``EXPERIMENTS``):

degradation   plain-20/32/44/56 and ResNet-20/32/44/56: the paper's Figure 6, left and middle.
depth         ResNet-20/32/44/56/110, final test error next to the paper's Table 6.
shortcuts     ResNet-20 with shortcut options A, B and C.
resnext       ResNeXt-29 (8x4d) against ResNet-110: the same parameter count and about the same FLOPs.
recipes       the paper's step schedule against the fast one-cycle recipe, per epoch and per second,
              with seed lesson 001's 20-epoch run as the baseline.
gradients     per-layer gradient norms at initialisation and after training, plain against residual.
trained       plain-20/56 against ResNet-20/56 (two seeds each), ResNet-110 and ResNeXt-29 trained long,
              with a validation split; the seed-0 networks ship as ``results/trained/networks`` (see
              :mod:`resnet_lessons.trained`).

A run that is already stored under the output folder (by any experiment) with exactly the same
settings (model, recipe, epochs, seed, data, device) is reused instead of trained again: ResNet-20 to
-56 are trained once, for ``degradation``, and ``depth`` and ``shortcuts`` reuse them; ``resnext`` reuses
``depth``'s ResNet-110. ``--dry-run`` lists what would be trained and what reused. Each run is saved
as soon as it ends, so an experiment cut short (a time limit) continues where it stopped when the same
command runs again. ``--no-reuse`` trains everything again (to check that a result reproduces).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from . import config, provenance
from .history import History
from .recipes import Recipe, get_recipe
from .train import TrainingDiverged, fit

HISTORIES_FILE = "histories.json"
FIGURE_FILE = "figure.png"
SUMMARY_FILE = "summary.json"
PROVENANCE_FILE = "provenance.json"

FULL_EPOCHS = 10
"""Epochs of every full-size training run (the seed-001 baseline keeps its 20, the gradients experiment its 2)."""
FULL_BATCH_SIZE = 512
"""Batch size of the architecture experiments (the fast recipe's other settings are unchanged)."""
FAST_TRAIN_IMAGES = 500
"""Training images in fast mode (a stratified subset; all of them if there are fewer)."""
FAST_TEST_IMAGES = 200
FAST_BATCH_SIZE = 100
GRAD_BATCH = 250  # a multiple of the 10 classes, so the batch is stratified
"""Images in the fixed batch on which gradient norms are measured."""
GRADIENTS_TRAIN_IMAGES = 20_000
"""The gradients experiment trains on a subset: the norms are the point, not the accuracy."""
GRADIENTS_RECIPE = replace(get_recipe("fast"), name="fast, gentle start", lr=0.1, batch_size=128, warmup=0.3)
"""The fast recipe made gentler for the gradients experiment's two short epochs (312 steps).

With the architecture experiments' settings (batch 512, peak lr 0.2, 15 % warm-up) two epochs are only 78
steps with a 12-step warm-up: in the first stored run (commit 8e75991) ResNet-56 and ResNet-110 never left
the 90 % error of guessing, so their "after training" gradients described failed starts. Batch 128, peak
lr 0.1 and a 30 % warm-up let the residual networks start learning (ResNet-110 reached 77 % training error
after one such epoch in a CPU trial); the deep plain networks may still not, which is the point.
"""

# He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016, Table 6:
# CIFAR-10 test error (%) of the CIFAR ResNets, original CIFAR-10, 64k iterations. Quoted from the paper.
PAPER_CITATION = "He et al., Deep Residual Learning for Image Recognition, CVPR 2016, Table 6"
PAPER_TABLE6_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}
"""Quoted from the paper (Table 6); for ResNet-110 the paper gives the best of 5 runs, 6.43 (mean 6.61±0.16)."""

# Seed lesson 001 ("모두를 위한 딥러닝 2, Lab10-6") trains its CIFAR ResNet with SGD, lr 0.1, momentum 0.9,
# weight decay 5e-4, batch 256, and StepLR(step_size=10, gamma=0.5) for 20 epochs, reaching about 80%.
SEED001_EPOCHS = 20


def seed001_recipe(epochs: int = SEED001_EPOCHS) -> Recipe:
    """Seed lesson 001's optimiser as a Recipe: lr halved every 10 epochs (StepLR(10, 0.5))."""
    milestones = tuple(e / epochs for e in range(10, epochs, 10))
    return Recipe(
        name="seed001", lr=0.1, batch_size=256, momentum=0.9, nesterov=False, weight_decay=5e-4,
        decay_norm_and_bias=True, schedule="steps" if milestones else "constant",
        milestones=milestones or (0.5,), gamma=0.5,
    )


# ----------------------------------------------------------------------------------------------
# runs and experiments
# ----------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One training run of an experiment.

    name: the run's key in ``histories.json`` and its label in figures, e.g. "plain-20".
    model: a :func:`resnet_lessons.models.build_model` name (``"plain20"``), or ``"cifar_resnet"``
        to call :func:`resnet_lessons.models.cifar_resnet` (any 6n+2 depth, used in fast mode).
    model_kwargs: keyword arguments for the model, e.g. ``{"shortcut": "B"}``.
    recipe: a recipe name or a Recipe; ``batch_size`` overrides its batch size.
    fixed_epochs: ``--epochs`` leaves this run's epochs alone (the seed-001 baseline keeps its 20, the
        gradients experiment its 2).
    train_images: train on a stratified subset of this many images (None: all of them).
    grad_norms: also measure per-layer gradient norms at initialisation and after every epoch.
    val_size: hold out this many training images as a validation split (``fit(..., val_size=...)``).
    ship: store the trained network under this name for :func:`resnet_lessons.trained.trained`.
    compile: torch.compile the model (None: as ``fit`` decides, on a GPU only); ``--compile`` overrides it.
    group, depth: how the figure and the tables sort the run ("plain"/"residual"/..., its depth).
    """

    name: str
    model: str
    model_kwargs: dict = field(default_factory=dict)
    recipe: str | Recipe = "fast"
    batch_size: int | None = None
    epochs: int = FULL_EPOCHS
    seed: int = 0
    fixed_epochs: bool = False
    train_images: int | None = None
    grad_norms: bool = False
    val_size: int = 0
    ship: str = ""
    group: str = ""
    depth: int | None = None
    compile: bool | None = None

    def full_recipe(self) -> Recipe:
        recipe = get_recipe(self.recipe)
        return replace(recipe, batch_size=self.batch_size) if self.batch_size else recipe

    def model_description(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.model_kwargs.items())
        return f"{self.model}({args})" if args else self.model


@dataclass
class Experiment:
    """A named experiment: which runs it trains (full size or fast) and how it shows them."""

    name: str
    title: str
    about: str
    plan: Callable[[bool], list[Run]]
    figure: Callable[[dict[str, History], list[Run]], Figure]
    columns: Callable[[], list[list[str]]] = lambda: list(BASE_COLUMNS)
    extra: Callable[[dict[str, History], list[Run], dict], None] = lambda histories, runs, rows: None
    notes: list[str] = field(default_factory=list)


def _cifar_run(name: str, depth: int, plain: bool = False, shortcut: str = "A", **fields) -> Run:
    """A CIFAR ResNet (or plain net) by its registry name when it has one, else through cifar_resnet."""
    from .models import list_models

    registered = f"{'plain' if plain else 'resnet'}{depth}"
    kwargs = {} if shortcut == "A" else {"shortcut": shortcut}
    group = "plain" if plain else "residual"
    if registered in list_models():
        return Run(name, registered, kwargs, group=group, depth=depth, **fields)
    kwargs = {"depth": depth, "plain": plain, **kwargs}
    return Run(name, "cifar_resnet", kwargs, group=group, depth=depth, **fields)


def _arch_fields(fast: bool) -> dict:
    """Settings shared by the architecture experiments: fast recipe, one batch size, one length."""
    if fast:
        return {"recipe": "fast", "batch_size": FAST_BATCH_SIZE, "epochs": 1}
    return {"recipe": "fast", "batch_size": FULL_BATCH_SIZE, "epochs": FULL_EPOCHS}


def _depths(fast: bool, full: tuple[int, ...]) -> tuple[int, ...]:
    return (8, 14) if fast else full


def degradation_plan(fast: bool) -> list[Run]:
    common = _arch_fields(fast)
    depths = _depths(fast, (20, 32, 44, 56))
    plain = [_cifar_run(f"plain-{d}", d, plain=True, **common) for d in depths]
    residual = [_cifar_run(f"resnet-{d}", d, **common) for d in depths]
    return plain + residual


def depth_plan(fast: bool) -> list[Run]:
    common = _arch_fields(fast)
    depths = _depths(fast, (20, 32, 44, 56, 110))
    runs = [_cifar_run(f"resnet-{d}", d, **common) for d in depths]
    # A second seed of the shallowest net measures the run-to-run noise that reruns are judged against.
    repeat = _cifar_run(f"resnet-{depths[0]} (second seed)", depths[0], **{**common, "seed": 1})
    runs.append(replace(repeat, group="repeat"))
    return runs


def shortcuts_plan(fast: bool) -> list[Run]:
    common = _arch_fields(fast)
    depth = 8 if fast else 20
    return [
        replace(_cifar_run(f"resnet-{depth}" if option == "A" else f"resnet-{depth} {option}", depth,
                           shortcut=option, **common), group=f"option {option}")
        for option in ("A", "B", "C")
    ]


def resnext_plan(fast: bool) -> list[Run]:
    """ResNeXt-29 (8x4d): the ResNeXt paper's CIFAR net at 1/16 of its 8x64d width, 1.72M parameters and
    0.26 GFLOPs, against ResNet-110: 1.73M parameters and 0.25 GFLOPs (the depth experiment's run)."""
    common = _arch_fields(fast)
    if fast:
        resnext = Run("resnext-11 (2x4d)", "cifar_resnext", {"depth": 11, "cardinality": 2, "width_per_group": 4},
                      group="resnext", depth=11, **common)
        return [resnext, _cifar_run("resnet-8", 8, **common)]
    resnext = Run("resnext-29 (8x4d)", "cifar_resnext", {"depth": 29, "cardinality": 8, "width_per_group": 4},
                  group="resnext", depth=29, **common)
    return [resnext, _cifar_run("resnet-110", 110, **common)]


def recipes_plan(fast: bool) -> list[Run]:
    if fast:
        depth, epochs, batch = 8, 1, FAST_BATCH_SIZE
    else:
        depth, epochs, batch = 20, FULL_EPOCHS, None
    paper = _cifar_run(f"resnet-{depth} (paper recipe)", depth, recipe="paper", batch_size=batch, epochs=epochs)
    fast_run = _cifar_run(f"resnet-{depth} (fast recipe)", depth, recipe="fast", batch_size=batch, epochs=epochs)
    baseline_epochs = 1 if fast else SEED001_EPOCHS
    baseline = Run(
        "seed-001 baseline", "resnet50_lab10", {"zero_init_residual": True}, recipe=seed001_recipe(baseline_epochs),
        batch_size=batch, epochs=baseline_epochs, fixed_epochs=True, group="seed 001",
    )
    return [replace(paper, group="paper"), replace(fast_run, group="fast"), baseline]


TRAINED_EPOCHS = 60
TRAINED_VAL_SIZE = 5_000


def trained_plan(fast: bool) -> list[Run]:
    """Networks trained long enough to inspect, with a validation split; seed 0 of each ships."""
    common = _arch_fields(fast)
    common["epochs"] = 1 if fast else TRAINED_EPOCHS
    common["val_size"] = 100 if fast else TRAINED_VAL_SIZE
    runs = []
    for depth in _depths(fast, (20, 56)):
        for plain in (True, False):
            kind = "plain" if plain else "resnet"
            for seed in (0, 1):
                name = f"{kind}-{depth}" + (f" (seed {seed})" if seed else "")
                ship = f"{kind}{depth}" if seed == 0 else ""
                run = _cifar_run(name, depth, plain=plain, seed=seed, ship=ship, **common)
                runs.append(run)
    if not fast:
        runs.append(_cifar_run("resnet-110", 110, ship="resnet110", **common))
        runs.append(Run("resnext-29 (8x4d)", "cifar_resnext", {"depth": 29, "cardinality": 8, "width_per_group": 4},
                        group="resnext", depth=29, ship="resnext29_8x4d", **common))
    return runs


def gradients_plan(fast: bool) -> list[Run]:
    common = _arch_fields(fast)
    common["epochs"] = 1 if fast else 2
    common["recipe"] = GRADIENTS_RECIPE
    if not fast:
        common["batch_size"] = GRADIENTS_RECIPE.batch_size
    depths = _depths(fast, (20, 56, 110))
    subset = None if fast else GRADIENTS_TRAIN_IMAGES
    runs = []
    for d in depths:
        for plain in (True, False):
            name = f"{'plain' if plain else 'resnet'}-{d}"
            # Two short epochs: compiling would take longer than training.
            runs.append(_cifar_run(name, d, plain=plain, grad_norms=True, train_images=subset, compile=False,
                                   fixed_epochs=True, **common))
    return runs


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------

def _figure_title(fig: Figure, title: str, histories: dict[str, History]) -> None:
    any_history = next(iter(histories.values()))
    meta = any_history.meta
    fig.suptitle(f"{title}\n{meta.get('device', '?')}, {meta.get('data', '?')}", fontsize="medium")


def _zoom(histories: dict[str, History]) -> tuple[float, float]:
    """A y range (error, %) that shows where the runs end up: 0 to three times the largest final error."""
    finals = [100 * max(h.train_err[-1], h.test_err[-1]) for h in histories.values()]
    return 0.0, min(100.0, max(10.0, 3 * max(finals)))


def degradation_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    from .plots import plot_degradation

    groups = {run.name: run.group for run in runs}
    plain = {n: h for n, h in histories.items() if groups.get(n) == "plain"}
    residual = {n: h for n, h in histories.items() if groups.get(n) == "residual"}
    if not plain or not residual:
        return _curves_figure(histories, runs, "Plain and residual networks")
    fig = plot_degradation(plain, residual, titles=("plain networks", "ResNets"), ylim=_zoom(histories))
    _figure_title(fig, "Training (dashed) and test (bold) error: plain nets against ResNets", histories)
    return fig


def depth_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    from .plots import plot_curves

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.0, 4.4), layout="constrained")
    plt.close(fig)
    plot_curves(histories, ax=left, title="error per epoch", ylim=_zoom(histories))
    depths = {run.name: run.depth for run in runs if run.group == "residual"}
    ours = sorted((depths[n], 100 * h.test_err[-1]) for n, h in histories.items() if n in depths)
    if ours:
        right.plot([d for d, _ in ours], [e for _, e in ours], "o-", label="this course's run (final test error)")
    paper = sorted(PAPER_TABLE6_TEST_ERROR.items())
    right.plot([d for d, _ in paper], [e for _, e in paper], "s--", color="0.4",
               label="paper, Table 6 (original CIFAR-10, 64k iterations)")
    right.set_xlabel("depth (layers)")
    right.set_ylabel("test error (%)")
    right.grid(True, alpha=0.3)
    right.legend(fontsize="small")
    right.set_title("final test error against depth")
    _figure_title(fig, "ResNet-20 to ResNet-110: final test error against depth", histories)
    return fig


def _curves_figure(histories: dict[str, History], runs: list[Run], title: str) -> Figure:
    from .plots import plot_curves

    fig = plot_curves(histories, ylim=_zoom(histories))
    _figure_title(fig, title, histories)
    return fig


def shortcuts_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    return _curves_figure(histories, runs, "Shortcut options: A (subsample + zero channels), "
                          "B (1x1 projection), C (average pool + zero channels)")


def resnext_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    sizes = ", ".join(f"{n}: {h.meta.get('parameters', 0) / 1e6:.2f}M parameters" for n, h in histories.items())
    return _curves_figure(histories, runs, f"ResNeXt against ResNet ({sizes})")


def recipes_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    from .plots import plot_curves

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.0, 4.4), layout="constrained")
    plt.close(fig)
    plot_curves(histories, ax=left, metric="accuracy", title="accuracy per epoch")
    plot_curves(histories, ax=right, metric="accuracy", x="seconds", title="accuracy per second of training")
    for ax in (left, right):
        ax.legend(fontsize="small", loc="lower right")
    _figure_title(fig, "The paper's step schedule, the fast one-cycle recipe and seed lesson 001's run", histories)
    return fig


def _pair_lines(ax, runs: list[Run]) -> None:
    """One colour per depth; plain nets dashed, ResNets solid (then redraw the legend)."""
    from .plots import COLORS

    by_name = {r.name: r for r in runs}
    depths = sorted({r.depth for r in runs if r.depth is not None})
    for line in ax.get_lines():
        run = by_name.get(line.get_label())
        if run is not None and run.depth in depths:
            line.set_color(COLORS[depths.index(run.depth) % len(COLORS)])
            line.set_linestyle("--" if run.group == "plain" else "-")
    ax.legend(fontsize="small")


def gradients_figure(histories: dict[str, History], runs: list[Run]) -> Figure:
    from .plots import plot_grad_norms

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.0, 4.4), sharey=True, layout="constrained")
    plt.close(fig)
    measured = {n: h.meta["grad_norms"] for n, h in histories.items() if h.meta.get("grad_norms")}
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
    _figure_title(fig, "Gradient norm of each layer's weight (dashed: plain nets, solid: ResNets)", histories)
    return fig


# ----------------------------------------------------------------------------------------------
# summary tables
# ----------------------------------------------------------------------------------------------

BASE_COLUMNS = [
    ["run", "run", ""],
    ["parameters", "parameters", ",d"],
    ["recipe", "recipe", ""],
    ["epochs", "epochs", "d"],
    ["train_err", "train error (%)", ".2f"],
    ["test_err", "test error (%)", ".2f"],
    ["train_seconds", "training time (s)", ".0f"],
    ["images_per_s", "images/s", ",.0f"],
]
"""[key, header, format spec] of the columns of every summary table."""


def _speed(h: History) -> float:
    """Training images/s, the median of the epochs after the first (which includes compiling)."""
    speeds = h.images_per_s[1:] or h.images_per_s
    return statistics.median(speeds) if speeds else float("nan")


def summary_row(name: str, h: History) -> dict:
    """The final numbers of one run (errors in %)."""
    return {
        "run": name,
        "model": h.meta.get("model_spec", h.meta.get("model", "")),
        "parameters": h.meta.get("parameters"),
        "recipe": h.meta.get("recipe", ""),
        "batch_size": h.meta.get("batch_size"),
        "epochs": len(h),
        "seed": h.meta.get("seed"),
        "train_err": 100 * h.train_err[-1],
        "test_err": 100 * h.test_err[-1],
        "test_acc": 100 * h.test_acc[-1],
        "val_err": 100 * h.val_err[-1] if h.has_validation else None,
        "best_val_epoch": h.best_epoch() if h.has_validation else None,
        "train_seconds": sum(h.seconds),
        "images_per_s": _speed(h),
        "reused_from": h.meta.get("reused_from"),
    }


def trained_columns() -> list[list[str]]:
    validation = [["val_err", "validation error (%)", ".2f"], ["best_val_epoch", "best epoch (validation)", "d"]]
    return [*BASE_COLUMNS[:5], *validation, *BASE_COLUMNS[5:]]


def depth_columns() -> list[list[str]]:
    return [*BASE_COLUMNS[:6], ["paper_test_err", "paper, Table 6 (%)", ".2f"], *BASE_COLUMNS[6:]]


def depth_extra(histories: dict[str, History], runs: list[Run], rows: dict) -> None:
    for run in runs:
        if run.name in rows and run.group == "residual":
            rows[run.name]["paper_test_err"] = PAPER_TABLE6_TEST_ERROR.get(run.depth)


def _first_reaching(h: History, target: float) -> tuple[int | None, float | None]:
    """(epoch, training seconds) at which the test accuracy first reached ``target``, or (None, None)."""
    for epoch, acc, seconds in zip(h.epoch, h.test_acc, h.elapsed, strict=True):
        if acc >= target:
            return epoch, seconds
    return None, None


def recipes_columns() -> list[list[str]]:
    return [*BASE_COLUMNS, ["epochs_to_baseline", "epochs to seed-001 accuracy", "d"],
            ["seconds_to_baseline", "seconds to seed-001 accuracy", ".0f"]]


def recipes_extra(histories: dict[str, History], runs: list[Run], rows: dict) -> None:
    baseline = next((histories[r.name] for r in runs if r.group == "seed 001" and r.name in histories), None)
    if baseline is None:
        return
    target = baseline.test_acc[-1]
    for name, h in histories.items():
        epoch, seconds = _first_reaching(h, target)
        rows[name]["epochs_to_baseline"] = epoch
        rows[name]["seconds_to_baseline"] = seconds


def gradients_columns() -> list[list[str]]:
    return [
        ["run", "run", ""],
        ["layers", "layers measured", "d"],
        ["first_over_last_init", "first/last conv gradient norm, at init", ".3g"],
        ["first_over_last_trained", "first/last conv gradient norm, after training", ".3g"],
        ["epochs", "epochs", "d"],
        ["train_err", "train error (%)", ".2f"],
        ["test_err", "test error (%)", ".2f"],
    ]


def gradients_extra(histories: dict[str, History], runs: list[Run], rows: dict) -> None:
    for name, h in histories.items():
        g = h.meta.get("grad_norms")
        if not g:
            continue
        first, last = g["norms"][0], g["norms"][-1]  # per layer: every conv, then fc
        rows[name]["layers"] = len(g["layers"])
        rows[name]["first_over_last_init"] = first[0] / first[-2] if first[-2] else None
        rows[name]["first_over_last_trained"] = last[0] / last[-2] if last[-2] else None


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in [
        Experiment(
            "degradation", "Degradation: plain networks against ResNets",
            "Plain-20/32/44/56 and ResNet-20/32/44/56 trained alike; deeper plain nets reach a higher training "
            "error (the degradation problem), deeper ResNets a lower one (the paper's Figure 6, left and middle).",
            degradation_plan, degradation_figure,
        ),
        Experiment(
            "depth", "Depth: ResNet-20 to ResNet-110",
            "Final test error of ResNet-20/32/44/56/110 beside the paper's Table 6 (quoted; original CIFAR-10, "
            "64k iterations of the paper's recipe). A second seed of ResNet-20 measures run-to-run noise.",
            depth_plan, depth_figure, depth_columns, depth_extra,
            notes=[f"The paper's column is quoted from {PAPER_CITATION}; it was measured on the original CIFAR-10 "
                   "with the paper's recipe (64k iterations, about 164 epochs), so expect it to be lower."],
        ),
        Experiment(
            "shortcuts", "Shortcut options A, B and C on ResNet-20",
            "Where a block changes the shape, A keeps every second pixel and appends zero channels (no "
            "parameters), B projects with a strided 1x1 convolution and BatchNorm (the paper's B), C averages "
            "2x2 pixels and appends zero channels (no parameters; seed lesson 000's C, after KellerJordan's "
            "code, not the paper's C). All other shortcuts are identities.",
            shortcuts_plan, shortcuts_figure,
        ),
        Experiment(
            "resnext", "ResNeXt against ResNet of similar size",
            "ResNeXt-29 (8x4d), the ResNeXt paper's CIFAR network at 1/16 of its width (cardinality 8, 4 "
            "channels per group; 1.72M parameters, 0.26 GFLOPs per image), against ResNet-110 (1.73M "
            "parameters, 0.25 GFLOPs), trained alike.",
            resnext_plan, resnext_figure,
        ),
        Experiment(
            "recipes", "Training recipes: the paper's steps against one-cycle",
            "ResNet-20 trained for the same number of epochs with the paper's recipe (SGD, lr 0.1 divided by 10 "
            "at 50% and 75%, batch 128) and with the fast one-cycle recipe; accuracy against epochs and against "
            "seconds. Baseline: seed lesson 001's run (its CIFAR ResNet, SGD lr 0.1 halved every 10 epochs, "
            "batch 256, 20 epochs).",
            recipes_plan, recipes_figure, recipes_columns, recipes_extra,
            notes=["The seed-001 baseline runs through the course's trainer with the seed's hyper-parameters; "
                   "unlike the seed, the trainer also flips images at random and trains in bf16 on a GPU."],
        ),
        Experiment(
            "trained", "Trained networks to inspect: plain against ResNet, with a validation split",
            "Plain-20/56 and ResNet-20/56 (two seeds each), ResNet-110 and ResNeXt-29 (8x4d), trained with the "
            f"fast recipe and {TRAINED_VAL_SIZE:,} training images held out for validation; the seed-0 networks "
            "ship in results/trained/networks and load with resnet_lessons.trained.trained(name).",
            trained_plan, degradation_figure, trained_columns,
            notes=["Validation error is measured on training images held out of training; the test error is "
                   "reported, never used to choose anything."],
        ),
        Experiment(
            "gradients", "Gradient norms per layer: plain against residual",
            "The L2 norm of the loss gradient of every conv and fc weight, on one fixed batch, at initialisation "
            "and after a short training, for plain nets and ResNets of several depths.",
            gradients_plan, gradients_figure, gradients_columns, gradients_extra,
            notes=[f"The gradients are measured on a fixed batch of {GRAD_BATCH} training images in training mode; "
                   f"the nets train on a stratified subset of {GRADIENTS_TRAIN_IMAGES:,} images (test error after "
                   "so short a training is not the point)."],
        ),
    ]
}


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------

def build_run_model(run: Run) -> torch.nn.Module:
    """The run's freshly initialised model (seed the RNG first)."""
    from . import models

    if run.model == "cifar_resnet":
        return models.cifar_resnet(**run.model_kwargs)
    if run.model == "cifar_resnext":
        from .models.cifar import CifarResNeXt

        return CifarResNeXt(**run.model_kwargs)
    return models.build_model(run.model, **run.model_kwargs)


def device_label(device: str | None = None) -> str:
    """The device a run trains on, as stored in its key: the GPU's name, "Apple MPS" or "CPU"."""
    target = config.get_device(device)
    if target.type == "cuda":
        return torch.cuda.get_device_name(target)
    return "Apple MPS" if target.type == "mps" else target.type.upper()


def run_key(run: Run, data, device: str) -> dict:
    """Everything that decides a run's result: a stored run with the same key can be reused."""
    return {
        "model": run.model,
        "model_kwargs": dict(run.model_kwargs),
        "recipe": run.full_recipe().to_dict(),
        "epochs": run.epochs,
        "seed": run.seed,
        "train_images": run.train_images or len(data.train_labels),
        "data": provenance.data_facts(data)["label"],
        "data_train_images": len(data.train_labels),
        "data_test_images": len(data.test_labels),
        "grad_norms": run.grad_norms,
        "val_size": run.val_size,
        "device": device,
    }


def load_histories(path: Path) -> dict[str, History]:
    """``histories.json`` as {run name: History}; empty when the file does not exist."""
    if not path.exists():
        return {}
    return {name: History.from_dict(d) for name, d in provenance.read_json(path).items()}


def find_stored_run(results_dir: Path, key: dict, prefer: str) -> tuple[History, str] | None:
    """A finished run with this key stored under ``results_dir`` (experiment ``prefer`` first)."""
    folders = sorted(p for p in results_dir.glob("*") if (p / HISTORIES_FILE).exists())
    folders.sort(key=lambda p: p.name != prefer)
    for folder in folders:
        for h in load_histories(folder / HISTORIES_FILE).values():
            if h.meta.get("run_key") == key and len(h) == key["epochs"] and not h.meta.get("interrupted"):
                return h, folder.name
    return None


def _grad_batch(data, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of training images, normalised, without augmentation, on ``device``."""
    from .data import stratified_subset

    n = min(GRAD_BATCH, len(data.train_labels) - len(data.train_labels) % len(data.classes))
    images, labels = stratified_subset(data.train_images, data.train_labels, n, seed=0)
    mean, std = data.mean_std()
    x = (images.float() / 255 - mean[:, None, None]) / std[:, None, None]
    return x.to(device), labels.to(device)


def train_run(run: Run, data, key: dict, command: str, device: str | None, compile: bool | None,
              progress: bool, ship_to: Path | None = None) -> History:
    """Train one run and return its History, with the run's key and provenance in ``meta``.

    ship_to: a results folder; a run with ``ship`` set stores its trained network there
    (:func:`resnet_lessons.trained.save_trained`)."""
    from .gradients import GradNormRecorder

    run_data = data
    if run.train_images and run.train_images < len(data.train_labels):
        run_data = data.subset(run.train_images, None, seed=run.seed)
    git, environment = provenance.git_state(), provenance.environment()
    started, start = provenance.utc_now(), time.perf_counter()
    torch.manual_seed(run.seed)
    model = build_run_model(run)
    callbacks = []
    recorder = None
    if run.grad_norms:
        target = config.get_device(device)
        model.to(target)
        recorder = GradNormRecorder(*_grad_batch(run_data, target))
        recorder.measure(model, epoch=0)
        callbacks.append(recorder)
    history = fit(
        model, run_data, run.epochs, run.full_recipe(), seed=run.seed, device=device,
        compile=run.compile if compile is None else compile,
        callbacks=callbacks, progress=progress, name=run.name, val_size=run.val_size,
    )
    wall = time.perf_counter() - start
    if history.meta.get("interrupted"):
        raise KeyboardInterrupt
    history.meta.update({
        "run_key": key,
        "model_spec": run.model_description(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "group": run.group,
        "depth": run.depth,
        "provenance": {
            "command": command,
            "started": started,
            "wall_seconds": round(wall, 1),
            "commit": git["commit"],
            "dirty": git["dirty"],
            "code_fingerprint": provenance.code_fingerprint(),
            "device": provenance.device_facts()["device"],
            "versions": {k: environment[k] for k in ("python", "torch", "torchvision", "resnet_lessons")},
        },
    })
    if recorder is not None:
        history.meta["grad_norms"] = {"layers": recorder.names, "epochs": recorder.epochs, "norms": recorder.norms}
    if run.ship and ship_to is not None:
        from .trained import save_trained

        save_trained(model, _trained_record(run, history, run_data), ship_to)
    return history


def _trained_record(run: Run, history: History, data) -> dict:
    """The record of a shipped network (see :class:`resnet_lessons.trained.TrainedRecord`)."""
    meta = history.meta
    model, kwargs = (run.model, dict(run.model_kwargs)) if run.model != "cifar_resnet" else (
        f"{'plain' if run.model_kwargs.get('plain') else 'resnet'}{run.depth}", {})
    return {
        "name": run.ship, "model": model, "model_kwargs": kwargs, "parameters": meta["parameters"],
        "epochs": len(history), "seed": run.seed, "data": meta["data"],
        "train_images": meta["train_images"], "val_images": meta["val_images"], "test_images": meta["test_images"],
        "val_acc": history.val_acc[-1], "test_acc": history.test_acc[-1], "mean": meta["mean"], "std": meta["std"],
        "recipe": meta["recipe_settings"], "command": meta["provenance"]["command"],
        "provenance": {**meta["provenance"], "precision": meta["precision"], "torch": meta["torch"]},
        "history": {k: v for k, v in history.to_dict().items() if k != "meta"},
    }


def _plan(experiment: Experiment, fast: bool, epochs: int | None, models: list[str] | None,
          seed: int) -> list[Run]:
    runs = experiment.plan(fast)
    runs = [
        replace(r, epochs=epochs if epochs and not r.fixed_epochs else r.epochs, seed=r.seed + seed)
        for r in runs
    ]
    if models:
        wanted = set(models)
        unknown = wanted - {r.name for r in runs} - {r.model for r in runs}
        if unknown:
            names = ", ".join(repr(r.name) for r in runs)
            raise ValueError(f"{sorted(unknown)} not in experiment {experiment.name!r}; its runs are {names} "
                             "(or give their model names).")
        runs = [r for r in runs if r.name in wanted or r.model in wanted]
    return runs


def _canonical_command(name: str, runs: list[Run], histories: dict[str, History], fast: bool, seed: int) -> str:
    """The command that remakes the stored result (the data comes from $RESNET_LESSONS_DATA or --data).

    Read from the stored runs: their length (``--epochs``), seeds (``--seed``) and whether they were compiled
    where ``--compile auto`` would have decided otherwise (``--compile on/off``).
    """
    parts = ["python -m resnet_lessons experiment", name]
    if fast:
        parts.append("--fast")
    free = [r for r in runs if r.name in histories and not r.fixed_epochs]
    epochs = {len(histories[r.name]) for r in free}
    default = {r.epochs for r in EXPERIMENTS[name].plan(fast) if not r.fixed_epochs}
    if len(epochs) == 1 and epochs != default:
        parts.append(f"--epochs {epochs.pop()}")
    if seed:
        parts.append(f"--seed {seed}")
    auto = [histories[r.name].meta for r in runs if r.name in histories and r.compile is None]
    on_gpu = [not str(m.get("device", "cpu")).lower().startswith(("cpu", "mps")) for m in auto]
    compiled = [bool(m.get("compiled")) for m in auto]
    if auto and all(on_gpu) and not any(compiled):
        parts.append("--compile off")
    elif auto and not any(on_gpu) and all(compiled):
        parts.append("--compile on")
    return " ".join(parts)


def _noise(name: str, histories: dict[str, History], runs: list[Run], results_dir: Path) -> dict | None:
    """Run-to-run noise: the same run with two seeds (the depth experiment has such a pair)."""
    for repeat in (r for r in runs if r.group == "repeat" and r.name in histories):
        base = next((r.name for r in runs if r.group != "repeat" and r.name in histories
                     and r.model == repeat.model and r.model_kwargs == repeat.model_kwargs), None)
        if base is None:
            continue
        a, b = histories[base].test_acc[-1], histories[repeat.name].test_acc[-1]
        return {
            "runs": [base, repeat.name],
            "test_acc_difference_pct": round(100 * abs(a - b), 3),
            "measured_in": name,
            "note": "Final test accuracy of the same run with two seeds. GPU training is not bit-exact "
                    "(cuDNN picks algorithms at run time, bf16 sums), so a rerun with the same seed "
                    "differs by about as much.",
        }
    depth = results_dir / "depth" / PROVENANCE_FILE
    if name != "depth" and depth.exists():
        return provenance.read_json(depth).get("run_to_run_noise")
    return None


def write_results(experiment: Experiment, runs: list[Run], histories: dict[str, History], out: Path,
                  data_facts: dict, invocation: dict, fast: bool, seed: int) -> None:
    """Write figure.png, summary.json and provenance.json for the runs stored in ``out``.

    data_facts: :func:`resnet_lessons.provenance.data_facts` of the data; invocation: the command that
    wrote the files, with its git state, environment and wall time.
    """
    plan_names = [r.name for r in runs]
    all_runs = runs + [r for r in experiment.plan(fast) if r.name not in plan_names]
    ordered = {r.name: histories[r.name] for r in all_runs if r.name in histories}
    ordered.update({n: h for n, h in histories.items() if n not in ordered})

    rows = {name: summary_row(name, h) for name, h in ordered.items()}
    experiment.extra(ordered, all_runs, rows)
    first = next(iter(ordered.values())).meta
    run_records = {}
    for name, h in ordered.items():
        record = dict(h.meta.get("provenance", {}))
        record.update({
            "model": h.meta.get("model_spec"), "recipe": h.meta.get("recipe_settings"),
            "epochs": len(h), "seed": h.meta.get("seed"), "precision": h.meta.get("precision"),
            "compiled": h.meta.get("compiled"), "train_seconds": round(sum(h.seconds), 1),
            "train_images": h.meta.get("train_images"),  # a run may train on a subset of the data below
            "reused_from": h.meta.get("reused_from"),
        })
        run_records[name] = record
    commits = sorted({r.get("commit", "unknown") for r in run_records.values()})
    epochs = sorted({len(h) for h in ordered.values()})
    command = _canonical_command(experiment.name, all_runs, ordered, fast, seed)
    summary = {
        "experiment": experiment.name,
        "title": experiment.title,
        "about": experiment.about,
        "command": command,
        "device": first.get("device", "?"),
        "data": first.get("data", "?"),
        "train_images": first.get("train_images"),
        "test_images": first.get("test_images"),
        "epochs": epochs,
        "commits": commits,
        "fast": fast,
        "columns": experiment.columns(),
        "rows": list(rows.values()),
        "notes": list(experiment.notes),
    }
    record = {
        "experiment": experiment.name,
        "reproduce": command,
        "written": provenance.utc_now(),
        "fast": fast,
        "last_invocation": invocation,
        "data": data_facts,
        "seeds": {n: h.meta.get("seed") for n, h in ordered.items()},
        "runs": run_records,
        "total_wall_seconds": round(sum(r.get("wall_seconds", 0) for r in run_records.values()), 1),
        "run_to_run_noise": _noise(experiment.name, ordered, all_runs, out.parent),
    }
    provenance.write_json(out / SUMMARY_FILE, summary)
    provenance.write_json(out / PROVENANCE_FILE, record)
    fig = experiment.figure(ordered, all_runs)  # last: a figure that fails leaves the tables written
    fig.savefig(out / FIGURE_FILE, dpi=110, bbox_inches="tight")


def load_data(root: str | None, fast: bool, progress: bool):
    """CIFAR-10 from ``root`` (or $RESNET_LESSONS_DATA, or a download); a small subset in fast mode."""
    from .data import load_cifar10

    data = load_cifar10(root, progress=progress)
    if fast:
        train = min(FAST_TRAIN_IMAGES, len(data.train_labels) - len(data.train_labels) % len(data.classes))
        test = min(FAST_TEST_IMAGES, len(data.test_labels) - len(data.test_labels) % len(data.classes))
        if train < len(data.train_labels) or test < len(data.test_labels):
            data = data.subset(train, test, seed=0)
    return data


class RunsDiverged(RuntimeError):
    """Some runs of an experiment diverged (their loss became NaN); the others were stored."""


def run_experiment(
    name: str,
    data,
    out_dir: str | Path,
    *,
    fast: bool = False,
    epochs: int | None = None,
    models: list[str] | None = None,
    seed: int = 0,
    reuse: bool = True,
    device: str | None = None,
    compile: bool | None = None,
    progress: bool = True,
    command: str | None = None,
    dry_run: bool = False,
) -> Path:
    """Run (or complete) experiment ``name`` into ``out_dir/name`` and return that folder.

    data: a CIFAR10Tensors (see :func:`load_data`). epochs: overrides every run's epochs (except the
    seed-001 baseline's). models: only these runs (names or model names). seed: added to every run's seed.
    reuse: take finished runs with the same settings from any experiment under ``out_dir``.
    compile: torch.compile the model (None: on a GPU only, as ``fit`` does).
    dry_run: print the plan (and which runs would be reused) without training.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}.")
    experiment = EXPERIMENTS[name]
    runs = _plan(experiment, fast, epochs, models, seed)
    out_dir = Path(out_dir)
    out = out_dir / name
    device_name = device_label(device)
    command = command or provenance.command_line(["experiment", name])
    histories = load_histories(out / HISTORIES_FILE)
    invocation = {"command": command, "started": provenance.utc_now(), "git": provenance.git_state(),
                  "code_fingerprint": provenance.code_fingerprint(), "environment": provenance.environment()}
    start = time.perf_counter()
    failed: list[str] = []
    for run in runs:
        key = run_key(run, data, device_name)
        stored = find_stored_run(out_dir, key, prefer=name) if reuse else None
        if dry_run:
            where = f"reuse from {stored[1]}" if stored else "train"
            print(f"{name}: {run.name:<28} {run.model_description():<40} {run.epochs:>3} epochs, "
                  f"{run.full_recipe().name} recipe, batch {run.full_recipe().batch_size}: {where}")
            continue
        if stored is not None:
            history, origin = stored
            if origin != name:
                history.meta["reused_from"] = origin
        else:
            try:
                history = train_run(run, data, key, command, device, compile, progress, ship_to=out_dir)
            except TrainingDiverged as e:
                failed.append(run.name)
                print(f"{name}: {run.name}: {e} Not stored; the experiment goes on.", file=sys.stderr, flush=True)
                continue
            history.meta.pop("reused_from", None)
        histories[run.name] = history
        out.mkdir(parents=True, exist_ok=True)
        provenance.write_json(out / HISTORIES_FILE, {n: h.to_dict() for n, h in histories.items()})
        seconds = history.meta.get("provenance", {}).get("wall_seconds", 0.0)
        reused = f", reused from {stored[1]}" if stored else ""
        print(f"{name}: {run.name}: {len(history)} epochs, final test accuracy {history.test_acc[-1]:.2%}, "
              f"{sum(history.seconds):.1f} s training ({seconds:.0f} s wall){reused}", flush=True)
    if dry_run:
        return out
    invocation["wall_seconds"] = round(time.perf_counter() - start, 1)
    if histories:
        write_results(experiment, runs, histories, out, provenance.data_facts(data), invocation, fast, seed)
    if failed:
        raise RunsDiverged(f"{name}: {', '.join(failed)} diverged (see above); the other runs are stored.")
    return out


def replot_experiment(name: str, out_dir: str | Path) -> Path:
    """Write figure.png, summary.json and provenance.json again from the stored histories (no training,
    no data, any machine): after a change to a figure or a table, or to finish a folder whose writing
    was interrupted."""
    experiment = EXPERIMENTS[name]
    out = Path(out_dir) / name
    histories = load_histories(out / HISTORIES_FILE)
    if not histories:
        raise ValueError(f"No stored runs in {out / HISTORIES_FILE}: nothing to replot.")
    old = provenance.read_json(out / PROVENANCE_FILE) if (out / PROVENANCE_FILE).exists() else {}
    fast = bool(old.get("fast", False))
    first = next(iter(histories.values())).meta
    data_facts = old.get("data") or {"label": first.get("data", "?"), "source": first.get("data_source", "?"),
                                     "train_images": first.get("train_images"), "test_images": first.get("test_images")}
    invocation = old.get("last_invocation", {})
    invocation["replotted"] = provenance.utc_now()
    runs = [r for r in experiment.plan(fast) if r.name in histories]
    seed = min((h.meta.get("seed", 0) for h in histories.values()), default=0)
    write_results(experiment, runs, histories, out, data_facts, invocation, fast, seed)
    return out


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------

def default_out(fast: bool) -> Path:
    """Where results go by default: the repository's results/ (full size) or runs/experiments-fast."""
    if fast:
        return Path("runs") / "experiments-fast"
    from .reference import default_results_dir

    return default_results_dir()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m resnet_lessons experiment``."""
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help=f"experiments to run, in order: {', '.join(EXPERIMENTS)}, or 'all'")
    parser.add_argument("--fast", action="store_true",
                        help=f"tiny version (≤{FAST_TRAIN_IMAGES} training images, 1 epoch, depths 8 and 14) "
                        "that runs on a CPU in about a minute; default output runs/experiments-fast")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"epochs of every training run (default {FULL_EPOCHS}; the seed-001 baseline keeps its "
                        "20 and the gradients experiment its 2)")
    parser.add_argument("--models", default=None, metavar="A,B",
                        help="only these runs of the experiment (run names such as 'resnet-110', or model names)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="results folder; each experiment writes DIR/NAME (default: the repository's results/)")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="CIFAR-10 folder or .tar.gz (default $RESNET_LESSONS_DATA, else a torchvision download)")
    parser.add_argument("--seed", type=int, default=0, help="added to every run's seed (default 0)")
    parser.add_argument("--no-reuse", action="store_true",
                        help="train every run again even if the same run is stored (to check reproduction)")
    parser.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                        help="torch.compile the models: auto = on a GPU only (default)")
    parser.add_argument("--device", default=None, help="cuda, cpu... (default: the best available)")
    parser.add_argument("--dry-run", action="store_true", help="print the runs and what would be reused; train nothing")
    parser.add_argument("--replot", action="store_true",
                        help="only write figure, summary and provenance again from the stored histories "
                        "(no data, no training)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def experiment_main(argv: list[str]) -> int:
    """``python -m resnet_lessons experiment NAME [NAME ...] [options]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m resnet_lessons experiment",
        description="Run the course's reference experiments and store histories, figure, summary and provenance.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_from_args(args, argv)


def run_from_args(args: argparse.Namespace, argv: list[str]) -> int:
    """Run the experiments that parsed ``args`` name (``argv`` is recorded as the command)."""
    from .data import DataNotFoundError

    names = list(EXPERIMENTS) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        print(f"error: unknown experiment {', '.join(map(repr, unknown))}; choose from "
              f"{', '.join(EXPERIMENTS)} or 'all'.", file=sys.stderr)
        return 2
    if args.epochs is not None and args.epochs < 1:
        print(f"error: --epochs must be at least 1, got {args.epochs}.", file=sys.stderr)
        return 2
    argv = list(argv)
    if argv[:1] != ["experiment"]:
        argv = ["experiment", *argv]
    command = provenance.command_line(argv)
    out_dir = Path(args.out) if args.out else default_out(args.fast)
    compile = {"auto": None, "on": True, "off": False}[args.compile]
    if args.replot:
        try:
            for name in names:
                if args.names == ["all"] and not (out_dir / name / HISTORIES_FILE).exists():
                    continue
                folder = replot_experiment(name, out_dir)
                print(f"{name}: wrote {folder / FIGURE_FILE}, {SUMMARY_FILE}, {PROVENANCE_FILE}")
        except (ValueError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        selection = select_runs(names, args.models, args.fast)
        data = load_data(args.data, args.fast, progress=not args.no_progress)
    except (ValueError, DataNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"data: {data.summary()}; results into {out_dir}", flush=True)
    status = 0
    for name, models in selection.items():
        try:
            folder = run_experiment(
                name, data, out_dir, fast=args.fast, epochs=args.epochs, models=models, seed=args.seed,
                reuse=not args.no_reuse, device=args.device, compile=compile, progress=not args.no_progress,
                command=command, dry_run=args.dry_run,
            )
        except RunsDiverged as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
            continue
        except KeyboardInterrupt:
            print(f"{name}: stopped by the keyboard; finished runs are stored in {out_dir / name} "
                  "and the same command continues from them.", file=sys.stderr)
            return 130
        if not args.dry_run:
            print(f"{name}: wrote {folder / HISTORIES_FILE}, {FIGURE_FILE}, {SUMMARY_FILE}, {PROVENANCE_FILE}")
    return status


def select_runs(names: list[str], models: str | None, fast: bool) -> dict[str, list[str] | None]:
    """{experiment: the --models names that are its runs (None: all of its runs)}.

    With several experiments, each keeps the runs it has among ``models`` and an experiment with none of
    them is skipped; a name that is a run of none of the experiments is an error.
    """
    if not models:
        return {name: None for name in names}
    wanted = [m.strip() for m in models.split(",") if m.strip()]
    selection, known = {}, set()
    for name in names:
        runs = EXPERIMENTS[name].plan(fast)
        names_here = {r.name for r in runs} | {r.model for r in runs}
        known |= names_here
        kept = [m for m in wanted if m in names_here]
        if kept:
            selection[name] = kept
    missing = [m for m in wanted if m not in known]
    if missing:
        raise ValueError(f"--models {', '.join(map(repr, missing))}: no such run in {', '.join(names)}. "
                         "Use run names such as 'resnet-110' or model names such as 'resnet110' "
                         "(--dry-run lists the runs).")
    return selection


if __name__ == "__main__":
    sys.exit(experiment_main(sys.argv[1:]))
