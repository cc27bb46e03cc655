"""Checks made before any training: a run that cannot work should fail in a second, not after an epoch.

``fit`` runs them before any work, a ``Recipe`` when it is made; each problem raises :class:`SettingsError`,
whose message says what is wrong and what to do.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from .files import check_writable
from .metrics import eval_mode

SCHEDULES = ("steps", "onecycle", "cosine", "constant")
SEED_MAX = 2**32 - 1  # NumPy's limit, and far more seeds than anyone tries

RESUME_SWITCHES = {"overwrite": "resume='overwrite'", "switch_hardware": "resume='switch-hardware'"}
"""Two of fit's ``resume`` values that the command line spells as flags of their own (``--overwrite``,
``--switch-hardware``): a message names them as fit's argument, or (with ``flags``) as the flag."""


class SettingsError(ValueError):
    """A setting that cannot work, found before any training.

    ``template`` holds one ``{name}`` field per setting it mentions; ``settings`` their values.
    ``str(error)`` writes them as fit's arguments (``batch_size=0``), ``error.spelled(flags)`` as
    command-line flags (``--batch-size 0``).
    """

    def __init__(self, template: str, **settings: object):
        self.template, self.settings = template, settings
        super().__init__(self.spelled())

    def spelled(self, flags: dict[str, str] | None = None) -> str:
        """The message, with each setting as ``name=value`` or, given ``flags``, as ``--flag value``."""
        if not self.settings:
            return self.template
        if flags is None:
            shown = {name: RESUME_SWITCHES.get(name, f"{name}={value!r}") for name, value in self.settings.items()}
        else:
            shown = {name: flags.get(name, name) if value is True else f"{flags.get(name, name)} {value}"
                     for name, value in self.settings.items()}  # a switch (resume=True) is its flag alone
        return self.template.format(**shown)


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def check_settings(*, epochs: object, device: str | torch.device | None) -> None:
    """Raise SettingsError for a number of epochs or a device no run can use."""
    if not _is_whole(epochs) or epochs < 1:
        raise SettingsError("{epochs} trains nothing: give a whole number of epochs, 1 or more.", epochs=epochs)
    check_device(device)


def check_recipe(recipe) -> None:
    """Raise SettingsError for a recipe no run can use (a :class:`~resnet_lessons.recipes.Recipe` calls
    this when it is made, so a bad ``dataclasses.replace(recipe, lr=0)`` fails there)."""
    if not _is_whole(recipe.batch_size) or recipe.batch_size < 1:
        raise SettingsError("{batch_size} is not a batch size: give a whole number of images per step, "
                            "1 or more (the recipes use 128 or 256).", batch_size=recipe.batch_size)
    if not (_is_number(recipe.lr) and recipe.lr > 0):
        raise SettingsError("{lr} cannot train: the learning rate must be a number above 0 "
                            "(the recipes use 0.1 or 0.2).", lr=recipe.lr)
    if not (_is_number(recipe.weight_decay) and recipe.weight_decay >= 0):
        raise SettingsError("{weight_decay} is not a weight decay: it must be 0 or more (e.g. 0.0001).",
                            weight_decay=recipe.weight_decay)
    if not (isinstance(recipe.label_smoothing, (int, float)) and 0 <= recipe.label_smoothing < 1):
        raise SettingsError("{label_smoothing} is not a label smoothing: it is the probability moved away from "
                            "the true class, from 0 (off) up to but not including 1 (e.g. 0.1).",
                            label_smoothing=recipe.label_smoothing)
    if not _is_whole(recipe.val_size) or recipe.val_size < 0:
        raise SettingsError("{val_size} is not a number of images: give 0 (no validation split) or more.",
                            val_size=recipe.val_size)
    check_seed(recipe.seed)
    if recipe.schedule not in SCHEDULES:
        raise SettingsError(f"schedule={recipe.schedule!r} is not one of {SCHEDULES}.")
    if not 0 <= recipe.warmup < 1:
        raise SettingsError(f"warmup={recipe.warmup} is not a fraction of training in [0, 1).")
    if any(not 0 < m < 1 for m in recipe.milestones):
        raise SettingsError(f"milestones={recipe.milestones} are not all fractions of training in (0, 1).")


def check_device(device: str | torch.device | None) -> None:
    """Raise SettingsError when ``device`` is not a device name or is not on this machine."""
    if device is None:
        return
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise SettingsError("{device} is not a device: use cuda, cpu or mps (or leave it out for the "
                            "best one here).", device=str(device)) from None
    here = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if kind not in here:  # xpu, meta, ...: devices PyTorch names but the course does not train on
        raise SettingsError("{device} is not a device the course trains on: use cuda, cpu or mps (or leave it "
                            "out for the best one here).", device=str(device))
    if not here[kind]:
        raise SettingsError("{device}: this machine has no " + ("CUDA GPU" if kind == "cuda" else "Apple GPU (MPS)")
                            + " that PyTorch can use. Use cpu, or leave the device out to take the best one here.",
                            device=str(device))


def check_seed(seed: object) -> None:
    """SettingsError when ``seed`` is not a whole number from 0 to SEED_MAX."""
    if not _is_whole(seed) or not 0 <= seed <= SEED_MAX:
        raise SettingsError("{seed} is not a seed: give a whole number from 0 to " + f"{SEED_MAX:,}"
                            + " (e.g. 0, 1, 2).", seed=seed)


def check_out_dir_place(out_dir: str | Path, data_dir: str | Path | None) -> None:
    """SettingsError when ``out_dir`` lies inside the data folder (a run's files would be read as images) or
    where a run's file (checkpoint.pt, history.json, curves.png) is a folder."""
    out = Path(out_dir).expanduser().resolve()
    if data_dir is not None:
        data = Path(data_dir).expanduser().resolve()
        if out == data or data in out.parents:
            raise SettingsError("{out_dir} is inside the data folder " + f"{data_dir}" + ": the run's files "
                                "would be mixed with the images. Choose an output folder outside it.",
                                out_dir=str(out_dir))
    for name in ("checkpoint.pt", "history.json", "curves.png"):
        if (out / name).is_dir():
            raise SettingsError("{out_dir} cannot hold the run's " + f"{name}: {out / name} is a folder. Choose "
                                "another output folder, or move that folder away.", out_dir=str(out_dir))


def checkpoint_bytes(model: nn.Module) -> int:
    """About the size of the model's checkpoint: its weights and buffers, one momentum buffer per
    weight, and a megabyte for the history and the random generators' states."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    momentum = sum(p.numel() * p.element_size() for p in model.parameters())
    return weights + momentum + (1 << 20)


def check_out_dir(out_dir: str | Path, size: int) -> None:
    """Create ``out_dir`` and make sure it can hold a file of ``size`` bytes, else raise SettingsError."""
    try:
        check_writable(out_dir, size, name="checkpoint.pt.write-test")
    except OSError as err:
        why = (err.strerror or str(err)).replace("{", "(").replace("}", ")")  # the message is a template
        raise SettingsError("{out_dir} cannot hold this run's files (" + f"{why}; the checkpoint needs about "
                            f"{size / 1e6:.1f} MB). Choose a folder you can write to on a disk with space, or free "
                            "some space.", out_dir=str(out_dir)) from None


def check_data_and_model(model: nn.Module, data, *, batch_size: int, val_size: int, device: torch.device) -> None:
    """Raise SettingsError when ``model`` cannot be trained on ``data`` with these settings.

    ``model`` must already be on ``device``. It is run once, in eval mode and without gradients, on two
    training images (nothing in it changes), to check that it gives one score per class.
    """
    images, labels = getattr(data, "train_images", None), getattr(data, "train_labels", None)
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
        got = (f"a {images.dtype} tensor of shape {list(images.shape)}" if isinstance(images, torch.Tensor)
               else f"a {type(images).__name__}")
        raise SettingsError("fit needs data whose train_images are uint8 [N, 3, H, W] (values 0..255), as "
                            f"resnet_lessons.data.load_cifar10 returns; got {got}.")
    classes = len(data.classes)
    if len(labels) and (int(labels.max()) >= classes or int(labels.min()) < 0):
        raise SettingsError(f"The training labels run from {int(labels.min())} to {int(labels.max())}, but the data "
                            f"names {classes} classes (labels 0 to {classes - 1}).")
    if val_size >= len(labels):
        raise SettingsError(f"{{val_size}} leaves no training images: the data has {len(labels):,}. "
                            "Hold out fewer (e.g. a tenth).", val_size=val_size)
    left = len(labels) - val_size
    if left < batch_size:
        held = f" ({val_size:,} held out for validation)" if val_size else ""
        raise SettingsError(f"Only {left:,} training images{held} for {{batch_size}}: not one full batch (each "
                            "step trains on a full batch, an incomplete last batch is dropped). Use a smaller "
                            "batch size, or train on more images.", batch_size=batch_size)
    parameters = list(model.parameters())
    if not parameters:
        raise SettingsError("The model has no parameters, so there is nothing to train.")
    dtypes = sorted({str(p.dtype) for p in parameters})
    if dtypes != ["torch.float32"]:
        raise SettingsError(f"The model's parameters are {', '.join(dtypes)}; the trainer feeds float32 images "
                            "and trains in float32 (with mixed precision on a GPU). Call model.float() first.")
    if batch_size < 2 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise SettingsError("{batch_size}: the model has BatchNorm layers, which normalise each channel over "
                            "the images of a batch and cannot do that with a single image. Use batches of "
                            "2 or more images (the recipes use 128 or 256).", batch_size=batch_size)
    _check_outputs(model, images[:2], classes, device)


def _check_outputs(model: nn.Module, images: torch.Tensor, classes: int, device: torch.device) -> None:
    """Run ``model`` on two images (eval mode, no gradients) and check it gives [2, classes] scores."""
    x = (images.to(device).float() / 255 - 0.5) / 0.25  # roughly normalised: only the shapes matter here
    try:
        with eval_mode(model), torch.no_grad():
            out = model(x)
    except Exception as err:
        first_line = (str(err).strip().splitlines() or [""])[0][:300]
        raise SettingsError(f"The model fails on a batch of 2 training images (float32 {list(x.shape)}), before any "
                            f"training: {type(err).__name__}: {first_line}") from err
    if not isinstance(out, torch.Tensor) or out.shape != (len(x), classes):
        got = f"shape {list(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise SettingsError(f"The data has {classes} classes, so the model must return {classes} scores per image "
                            f"([N, {classes}]); on 2 images it returned {got}. Build the model with "
                            f"num_classes={classes}, or use data with the classes it was built for.")
