"""What an experiment trains: a **plan** is a list of runs, one :class:`Run` per network trained.

Notebooks' live experiments (:data:`resnet_lessons.live.LIVE_EXPERIMENTS`) and the lab's experiments
(:mod:`resnet_lessons.lab.plans`) are both plans::

    import torch
    from resnet_lessons.models import build_model
    from resnet_lessons.train import fit

    for run in runs:
        torch.manual_seed(run.seed)
        history = fit(build_model(run.model, **run.model_kwargs), data, run.epochs, run.full_recipe(), name=run.name)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .models import display_name, list_models
from .recipes import Recipe, get_recipe

FULL_SIZE = 32
"""CIFAR-10's images are 32x32."""
TRAIN_IMAGES = 50_000
"""CIFAR-10's training images (a run with ``train_images=None`` trains on all of them)."""


@dataclass(frozen=True)
class Run:
    """One training of one model: what ``fit`` gets, and the name its figures and stored results use.

    model: a CIFAR network by its :func:`resnet_lessons.models.build_model` name, e.g. ``"plain56"``;
        model_kwargs: its keyword arguments, e.g. ``{"shortcut": "B"}``.
    epochs, recipe (a name or a Recipe), and what overrides the recipe: batch_size (None: the recipe's),
        seed (of the shuffling and augmentation; seed the initialisation with it too), val_size.
    train_images, test_images: stratified subsets (None: all the images given; :attr:`steps` and
        :meth:`settings` then count CIFAR-10's 50,000).
    image_size: 32, or a divisor of 32 to which the images are average-pooled: the network is then a
        stand-in for the real one, and its name says so.
    label: its :attr:`name` when the model's display name will not do, e.g. ``"resnet-20 (second seed)"``.

    The lab's experiments also set: fixed_epochs (``--epochs`` leaves the run alone), grad_norms (measure
    per-layer gradient norms every epoch), ship (store the trained network under this name, see
    :mod:`resnet_lessons.trained`), compile (None: as ``fit`` decides), group and depth (how figures sort it).
    """

    model: str
    epochs: int
    recipe: str | Recipe = "onecycle"
    batch_size: int | None = None
    seed: int = 0
    val_size: int = 0
    train_images: int | None = None
    test_images: int | None = None
    image_size: int = FULL_SIZE
    model_kwargs: dict = field(default_factory=dict)
    label: str = ""
    fixed_epochs: bool = False
    grad_norms: bool = False
    ship: str = ""
    compile: bool | None = None
    group: str = ""
    depth: int | None = None

    def __post_init__(self) -> None:
        if self.model not in list_models("cifar"):
            raise ValueError(f"unknown model {self.model!r}; a run trains a CIFAR network: "
                             f"{', '.join(list_models('cifar'))}.")
        if not isinstance(self.image_size, int) or self.image_size < 1 or FULL_SIZE % self.image_size:
            raise ValueError(f"image_size must divide {FULL_SIZE} (32, 16, 8, ...), got {self.image_size!r}.")
        get_recipe(self.recipe)  # an unknown recipe name fails here, not when training starts

    @property
    def name(self) -> str:
        """The run's name in figures and stored results: its label, or the model's display name, e.g.
        ``"plain-56"``, or ``"plain-56 (16x16 stand-in)"`` at a lower resolution."""
        if self.label:
            return self.label
        stand_in = f" ({self.image_size}x{self.image_size} stand-in)" if self.is_stand_in else ""
        return display_name(self.model) + stand_in

    def full_recipe(self) -> Recipe:
        """The recipe ``fit`` gets: ``recipe`` with this run's batch size, seed and validation split."""
        recipe = replace(get_recipe(self.recipe), seed=self.seed, val_size=self.val_size)
        return replace(recipe, batch_size=self.batch_size) if self.batch_size else recipe

    @property
    def is_stand_in(self) -> bool:
        """True when the images are smaller than CIFAR-10's 32x32."""
        return self.image_size != FULL_SIZE

    @property
    def steps(self) -> int:
        """SGD steps of the training (the trainer drops the last, incomplete batch of an epoch)."""
        images = (self.train_images or TRAIN_IMAGES) - self.val_size
        return self.epochs * (images // self.full_recipe().batch_size)

    def model_description(self) -> str:
        """The model and its keyword arguments, e.g. ``"resnet20(shortcut='B')"``."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.model_kwargs.items())
        return f"{self.model}({args})" if args else self.model

    def settings(self) -> str:
        """What the run trains on and how long, in words (without the model)."""
        images = "all 50,000" if self.train_images is None else f"{self.train_images:,}"
        pixels = (f", average-pooled to {self.image_size}x{self.image_size} (a stand-in for the 32x32 images)"
                  if self.is_stand_in else "")
        recipe = self.full_recipe()
        return (f"{images} training images{pixels}; {self.epochs} epochs of batch {recipe.batch_size} "
                f"({self.steps} steps), recipe {recipe.name!r} (peak lr {recipe.lr:g})")


def describe(runs: Sequence[Run]) -> str:
    """What a plan trains, for a notebook: one line when its runs share their settings, e.g.
    ``"plain-8 and plain-32: 10,000 training images, ...; 5 epochs of batch 128 (390 steps), ..."``,
    else a line per run."""
    if len({run.settings() for run in runs}) == 1:
        names = [run.label or display_name(run.model) for run in runs]  # the stand-in size is in the settings
        return f"{' and '.join(names)}: {runs[0].settings()}"
    return "\n".join(f"{run.name}: {run.settings()}" for run in runs)
