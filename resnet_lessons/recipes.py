"""Training recipes: the paper's, a one-cycle one ("onecycle"), and a cosine one, as plain dataclasses.

A recipe is every hyperparameter of the optimiser and of the learning-rate schedule; change any field
with ``dataclasses.replace``::

    from dataclasses import replace
    recipe = replace(get_recipe("paper"), lr=0.05)

The learning rate is set before every step (not once per epoch), as ``recipe.lr`` times :func:`lr_factor`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .preflight import check_recipe


@dataclass(frozen=True)
class Recipe:
    """Hyperparameters of one way to train.

    lr: the base (``steps``, ``cosine``, ``constant``) or peak (``onecycle``) learning rate.
    batch_size: images per step.
    momentum, nesterov: SGD momentum (Nesterov's variant if ``nesterov``).
    weight_decay: L2 penalty coefficient; ``decay_norm_and_bias=False`` exempts BatchNorm weights and
        all biases (tensors with one dimension) from it.
    label_smoothing: target probability moved from the true class to all classes (0 = off).
    schedule: "steps" (multiply by ``gamma`` at each fraction of training in ``milestones``),
        "onecycle" (linear rise over the first ``warmup`` fraction from ``lr * start_factor``, then a
        linear fall to ``lr * final_factor``), "cosine" (optional linear warm-up, then half a cosine
        down to ``lr * final_factor``) or "constant".

    How the training images are served (the data side of a recipe, :data:`DATA_FIELDS`):

    seed: seeds the shuffling and the augmentation (seed the model's initialisation yourself, before
        building it, e.g. with ``torch.manual_seed``).
    augment: random crops and flips of the training images (True, as in the paper).
    val_size: hold out this many training images (stratified, always the same ones for the same number,
        whatever the seed) as a validation split, evaluated after every epoch (``history.val_acc``).
        Choose epochs and settings on it, never on the test set. 0: none.
    """

    name: str
    lr: float
    batch_size: int
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    decay_norm_and_bias: bool = True
    label_smoothing: float = 0.0
    schedule: str = "steps"
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1
    warmup: float = 0.0
    start_factor: float = 0.1
    final_factor: float = 0.0
    seed: int = 0
    augment: bool = True
    val_size: int = 0

    def __post_init__(self):
        check_recipe(self)  # a SettingsError (a ValueError) that names the bad field, e.g. lr=0

    def summary(self) -> str:
        """One line, e.g. 'paper: SGD lr 0.1, momentum 0.9, batch 128, weight decay 0.0001, steps ...'."""
        if self.schedule == "steps":
            marks = " and ".join(f"{m:.0%}" for m in self.milestones)
            schedule = f"lr x{self.gamma:g} at {marks} of training"
        elif self.schedule == "constant":
            schedule = "constant lr"
        else:
            schedule = f"{self.schedule} schedule" + (f" with {self.warmup:.0%} warm-up" if self.warmup else "")
        parts = [
            f"SGD lr {self.lr:g}",
            f"{'Nesterov ' if self.nesterov else ''}momentum {self.momentum:g}",
            f"batch {self.batch_size}",
            f"weight decay {self.weight_decay:g}" + ("" if self.decay_norm_and_bias else " (not on BN/bias)"),
        ]
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        if not self.augment:
            parts.append("no augmentation")
        return f"{self.name}: " + ", ".join(parts) + f", {schedule}"

    def to_dict(self) -> dict:
        """The fields as a dict ready for JSON (milestones as a list)."""
        d = asdict(self)
        d["milestones"] = list(self.milestones)
        return d

    def optimiser_settings(self) -> dict:
        """:meth:`to_dict` without :data:`DATA_FIELDS`: the optimiser, the schedule and the batch size."""
        return {k: v for k, v in self.to_dict().items() if k not in DATA_FIELDS}


DATA_FIELDS = ("seed", "augment", "val_size")
"""A recipe's fields that say how the training images are served; a run's identity records them apart."""


# He et al. (2016), Section 4.2: SGD with momentum 0.9, batch 128, weight decay 1e-4 on every weight,
# lr 0.1 divided by 10 at 32k and 48k of 64k iterations, i.e. at 50% and 75% of training.
PAPER = Recipe(name="paper", lr=0.1, batch_size=128, momentum=0.9, weight_decay=1e-4, schedule="steps")

# Meant to reach the paper recipe's accuracy in at most 30 epochs: a one-cycle schedule (linear
# warm-up for the first 15% of steps, then a linear fall to zero), Nesterov momentum, label smoothing
# 0.1, and stronger weight decay that spares BatchNorm and biases (decaying those only shrinks a scale
# that the next BatchNorm removes anyway). Batch 256 keeps enough steps in a short run for ResNet-20.
ONECYCLE = Recipe(name="onecycle", lr=0.2, batch_size=256, momentum=0.9, nesterov=True, weight_decay=5e-4,
                  decay_norm_and_bias=False, label_smoothing=0.1, schedule="onecycle", warmup=0.15,
                  start_factor=0.1, final_factor=0.0)

# The paper's optimiser with a cosine schedule instead of steps (Loshchilov and Hutter, 2017).
COSINE = Recipe(name="cosine", lr=0.1, batch_size=128, momentum=0.9, nesterov=True, weight_decay=5e-4,
                decay_norm_and_bias=False, schedule="cosine", warmup=0.02)

RECIPES = {r.name: r for r in (PAPER, ONECYCLE, COSINE)}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name ("paper", "onecycle", "cosine"), or the given Recipe unchanged."""
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}; choose one of {sorted(RECIPES)} or pass a Recipe.")
    return RECIPES[recipe]


def lr_factor(recipe: Recipe, step: int, total_steps: int) -> float:
    """The learning rate of step ``step`` (0-based) of ``total_steps``, as a multiple of ``recipe.lr``."""
    t = step / total_steps  # fraction of training done, 0 <= t < 1
    if recipe.schedule == "constant":
        return 1.0
    if recipe.schedule == "steps":
        return recipe.gamma ** sum(t >= m for m in recipe.milestones)
    if t < recipe.warmup:
        rise = t / recipe.warmup
        return recipe.start_factor + (1 - recipe.start_factor) * rise
    fall = (t - recipe.warmup) / (1 - recipe.warmup)  # 0 -> 1 after the warm-up
    if recipe.schedule == "onecycle":
        return 1 - (1 - recipe.final_factor) * fall
    # cosine
    return recipe.final_factor + (1 - recipe.final_factor) * 0.5 * (1 + math.cos(math.pi * fall))


def parameter_groups(model: nn.Module, recipe: Recipe) -> list[dict]:
    """The model's parameters, split so that BatchNorm weights and biases can skip weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.decay_norm_and_bias:
        return [{"params": params, "weight_decay": recipe.weight_decay}]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]  # BatchNorm weights and biases
    return [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, recipe: Recipe, device: torch.device) -> torch.optim.SGD:
    """SGD as the recipe says. On a GPU the fused kernel updates all parameters in one or two launches."""
    return torch.optim.SGD(parameter_groups(model, recipe), lr=recipe.lr, momentum=recipe.momentum,
                           nesterov=recipe.nesterov, fused=device.type == "cuda")


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe,
                   total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step schedule: call ``scheduler.step()`` after every ``optimizer.step()``."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps}.")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(recipe, step, total_steps))


def schedule_preview(recipe: Recipe, total_steps: int) -> Iterator[float]:
    """The learning rate of every step, e.g. to plot a schedule before training."""
    for step in range(total_steps):
        yield recipe.lr * lr_factor(recipe, step, total_steps)
