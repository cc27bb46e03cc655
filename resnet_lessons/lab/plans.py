"""What each reference experiment trains: ``NAME_plan(smoke) -> list[Run]`` lists the runs of experiment NAME,
full size or as a smoke run (:class:`resnet_lessons.plans.Run`). Nothing here trains:
:mod:`resnet_lessons.lab.experiments` runs them, :mod:`.store` keeps their results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from matplotlib.figure import Figure

from ..history import History
from ..live import LIVE_RECIPE  # the onecycle recipe with a gentle start, for short runs
from ..plans import Run
from ..recipes import Recipe

FULL_EPOCHS = 10
"""Epochs of every full-size training run (the seed-001 baseline keeps its 20, the gradients experiment its 2)."""
FULL_BATCH_SIZE = 512
"""Batch size of the architecture experiments (the onecycle recipe's other settings are unchanged)."""
SMOKE_TRAIN_IMAGES = 500
"""Training images of a smoke run (``--smoke``: a stratified subset; all of them if there are fewer)."""
SMOKE_TEST_IMAGES = 200
SMOKE_BATCH_SIZE = 100
GRAD_BATCH = 250
"""Images in the fixed batch on which gradient norms are measured: a multiple of the 10 classes, so stratified."""
GRADIENTS_TRAIN_IMAGES = 20_000
"""The gradients experiment trains on a subset: the norms are the point, not the accuracy."""

# CIFAR-10 test error (%) of the CIFAR ResNets in the paper (original CIFAR-10, 64k iterations).
PAPER_CITATION = "He et al., Deep Residual Learning for Image Recognition, CVPR 2016, Table 6"
PAPER_TABLE6_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}
"""Quoted from the paper (Table 6); for ResNet-110 the paper gives the best of 5 runs, 6.43 (mean 6.61±0.16)."""

# Seed lesson 001 ("모두를 위한 딥러닝 2, Lab10-6") trains its CIFAR ResNet with SGD, lr 0.1, momentum 0.9,
# weight decay 5e-4, batch 256, and StepLR(step_size=10, gamma=0.5) for 20 epochs, reaching about 80%.
SEED001_EPOCHS = 20


def seed001_recipe(epochs: int = SEED001_EPOCHS) -> Recipe:
    """Seed lesson 001's optimiser as a Recipe: lr halved every 10 epochs (StepLR(10, 0.5))."""
    milestones = tuple(e / epochs for e in range(10, epochs, 10))
    return Recipe(name="seed001", lr=0.1, batch_size=256, momentum=0.9, weight_decay=5e-4, gamma=0.5,
                  schedule="steps" if milestones else "constant", milestones=milestones or (0.5,))


def _cifar_run(depth: int, plain: bool = False, name: str = "", shortcut: str = "A", group: str = "", **fields) -> Run:
    """A CIFAR ResNet (or plain net) of ``depth`` layers, with shortcut option ``shortcut``, labelled ``name``
    (default e.g. "plain-20"); its group is "plain" or "residual" unless ``group`` is given."""
    kind = "plain" if plain else "resnet"
    kwargs = {} if shortcut == "A" else {"shortcut": shortcut}
    return Run(f"{kind}{depth}", label=name or f"{kind}-{depth}", model_kwargs=kwargs,
               group=group or ("plain" if plain else "residual"), depth=depth, **fields)


def _arch_fields(smoke: bool) -> dict:
    """Settings shared by the architecture experiments: onecycle recipe, one batch size, one length."""
    return {"recipe": "onecycle", "batch_size": SMOKE_BATCH_SIZE if smoke else FULL_BATCH_SIZE,
            "epochs": 1 if smoke else FULL_EPOCHS}


def _depths(smoke: bool, full: tuple[int, ...]) -> tuple[int, ...]:
    return (8, 14) if smoke else full


def degradation_plan(smoke: bool) -> list[Run]:
    common = _arch_fields(smoke)
    depths = _depths(smoke, (20, 32, 44, 56))
    return [_cifar_run(d, plain=True, **common) for d in depths] + [_cifar_run(d, **common) for d in depths]


def depth_plan(smoke: bool) -> list[Run]:
    common = _arch_fields(smoke)
    depths = _depths(smoke, (20, 32, 44, 56, 110))
    runs = [_cifar_run(d, **common) for d in depths]
    # A second seed of the shallowest net measures the run-to-run noise that reruns are judged against.
    runs.append(_cifar_run(depths[0], name=f"resnet-{depths[0]} (second seed)", group="repeat", seed=1, **common))
    return runs


def shortcuts_plan(smoke: bool) -> list[Run]:
    common = _arch_fields(smoke)
    depth = 8 if smoke else 20
    return [
        _cifar_run(depth, name=f"resnet-{depth}" if option == "A" else f"resnet-{depth} {option}", shortcut=option,
                   group=f"option {option}", **common)
        for option in ("A", "B", "pool")
    ]


def resnext_plan(smoke: bool) -> list[Run]:
    """ResNeXt-29 (8x4d): the ResNeXt paper's CIFAR net at 1/16 of its 8x64d width, 1.72M parameters and
    0.26 GFLOPs, against ResNet-110: 1.73M parameters and 0.25 GFLOPs (the depth experiment's run)."""
    common = _arch_fields(smoke)
    if smoke:
        return [Run("resnext11_2x4d", group="resnext", depth=11, **common), _cifar_run(8, **common)]
    return [Run("resnext29_8x4d", group="resnext", depth=29, **common), _cifar_run(110, **common)]


def recipes_plan(smoke: bool) -> list[Run]:
    depth, epochs, batch = (8, 1, SMOKE_BATCH_SIZE) if smoke else (20, FULL_EPOCHS, None)
    runs = [_cifar_run(depth, name=f"resnet-{depth} ({recipe} recipe)", recipe=recipe, batch_size=batch,
                       epochs=epochs, group=recipe) for recipe in ("paper", "onecycle")]
    baseline_epochs = 1 if smoke else SEED001_EPOCHS
    baseline = Run("resnet50_lab10", epochs=baseline_epochs, recipe=seed001_recipe(baseline_epochs), batch_size=batch,
                   label="seed-001 baseline", model_kwargs={"zero_init_residual": True}, fixed_epochs=True,
                   group="seed 001")
    return [*runs, baseline]


TRAINED_EPOCHS = 60
TRAINED_VAL_SIZE = 5_000


def trained_plan(smoke: bool) -> list[Run]:
    """Networks trained long enough to inspect, with a validation split; seed 0 of each ships."""
    common = {**_arch_fields(smoke), "epochs": 1 if smoke else TRAINED_EPOCHS,
              "val_size": 100 if smoke else TRAINED_VAL_SIZE}
    runs = []
    for depth in _depths(smoke, (20, 56)):
        for plain in (True, False):
            kind = "plain" if plain else "resnet"
            for seed in (0, 1):
                name = f"{kind}-{depth}" + (f" (seed {seed})" if seed else "")
                ship = f"{kind}{depth}" if seed == 0 else ""
                runs.append(_cifar_run(depth, plain=plain, name=name, seed=seed, ship=ship, **common))
    if not smoke:
        runs.append(_cifar_run(110, ship="resnet110", **common))
        runs.append(Run("resnext29_8x4d", group="resnext", depth=29, ship="resnext29_8x4d", **common))
    return runs


def gradients_plan(smoke: bool) -> list[Run]:
    common = {"recipe": LIVE_RECIPE, "batch_size": SMOKE_BATCH_SIZE if smoke else LIVE_RECIPE.batch_size,
              "epochs": 1 if smoke else 2}
    subset = None if smoke else GRADIENTS_TRAIN_IMAGES
    # Two short epochs: compiling would take longer than training.
    return [_cifar_run(d, plain=plain, grad_norms=True, train_images=subset, compile=False, fixed_epochs=True, **common)
            for d in _depths(smoke, (20, 56, 110)) for plain in (True, False)]


@dataclass
class Experiment:
    """A named experiment: which runs it trains (full size or a smoke run) and how it shows them.

    figure, columns and extra come from :mod:`.figures` and :mod:`.tables`; columns None means the
    summary table's base columns (``tables.BASE_COLUMNS``), extra None adds nothing to the rows.
    """

    name: str
    title: str
    about: str
    plan: Callable[[bool], list[Run]]
    figure: Callable[[dict[str, History], list[Run]], Figure]
    columns: Callable[[], list[list[str]]] | None = None
    extra: Callable[[dict[str, History], list[Run], dict], None] | None = None
    notes: list[str] = field(default_factory=list)
