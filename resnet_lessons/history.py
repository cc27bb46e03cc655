"""`History`: what a training run measured, one entry per epoch, and `RunRecord`: what the run was.

Both are saved to and loaded from one JSON file::

    history = fit(model, data, epochs=3)
    history.test_acc[-1]       # the last epoch's test accuracy
    history.record.device      # where it ran, e.g. "cpu (2 threads)"
    history.save("runs/resnet20/history.json")
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from itertools import accumulate
from pathlib import Path

from .files import atomic_write

FIELDS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds", "images_per_s")
VALIDATION_FIELDS = ("val_loss", "val_acc")  # only in runs that hold out a validation split


@dataclass
class RunRecord:
    """What one run was: ``fit`` fills the first group before the first epoch, the lab's experiment
    runner (:mod:`resnet_lessons.lab.experiments`) the second after the last. A misspelt fact is an
    AttributeError (or a ValueError when a file is read, see :meth:`from_dict`), never a silent blank.
    """

    # --- written by fit ---
    model: str = ""
    """The run's name, e.g. "resnet-20" (``fit(..., name=...)``, default the model's class name)."""
    recipe: str = ""
    """The recipe's name, e.g. "onecycle"; ``recipe_settings`` holds all of its values."""
    recipe_settings: dict = field(default_factory=dict)
    epochs: int = 0
    """The epochs the run was asked for (``len(history)`` is how many it finished)."""
    batch_size: int = 0
    seed: int = 0
    device: str = ""
    """E.g. "NVIDIA H100 80GB HBM3" or "cpu (2 threads)"."""
    precision: str = "fp32"
    """One of "fp32", "bf16 autocast" and "fp16 autocast"."""
    compiled: bool | str = False
    """False, or the torch.compile mode."""
    data: str = ""
    """Which copy of CIFAR-10, e.g. "CIFAR-10 (JPEG q75 copy)"."""
    data_source: str = ""
    subset: str = ""
    """How the training images were chosen when they are a subset ("" for all of them)."""
    train_images: int = 0
    val_images: int = 0
    test_images: int = 0
    mean: list[float] = field(default_factory=list)
    """Per-channel mean of the training images, used to normalise (also at evaluation)."""
    std: list[float] = field(default_factory=list)
    torch: str = ""
    interrupted: bool = False
    """True when the run was stopped (Ctrl-C) before its last epoch."""

    # --- added by the lab's experiment runner ---
    run_key: dict | None = None
    """Everything that decides the run's result; a stored run with the same key is reused."""
    model_spec: str = ""
    """How the model was built, e.g. "resnet20(shortcut='B')"."""
    parameters: int | None = None
    group: str = ""
    depth: int | None = None
    provenance: dict = field(default_factory=dict)
    """Command, commit, wall time, device and versions of the run."""
    reused_from: str | None = None
    """The experiment whose stored run was reused instead of training again."""
    grad_norms: dict | None = None
    """Per-layer gradient norms: {"layers": [...], "epochs": [...], "norms": [[...], ...]}."""

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        """A record from its JSON dict; a name that is not a field raises ValueError (a typo, or a file
        written by another program)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"Unknown fact(s) in a run record: {', '.join(unknown)}. "
                             f"A run record holds only: {', '.join(sorted(names))}.")
        return cls(**data)


@dataclass
class History:
    """Per-epoch numbers of one run. Accuracies are fractions in [0, 1]; errors are 1 - accuracy.

    ``seconds`` is the wall time of the epoch's training (evaluation excluded); ``val_loss`` and ``val_acc``
    are filled only when the run held out a validation split (a recipe with ``val_size=N``); ``record`` says
    what the run was (model, recipe, device, data...), see :class:`RunRecord`.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    images_per_s: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    record: RunRecord = field(default_factory=RunRecord)

    def append(self, **values: float) -> None:
        """Add one epoch: ``h.append(epoch=1, train_loss=..., ...)`` with every name in FIELDS
        (and both VALIDATION_FIELDS in a run with a validation split, in every epoch)."""
        names = FIELDS + VALIDATION_FIELDS if "val_acc" in values or "val_loss" in values else FIELDS
        missing = set(names) - set(values)
        unknown = set(values) - set(names)
        if missing or unknown:
            raise ValueError(f"History.append needs exactly {', '.join(names)}; "
                             f"missing {sorted(missing)}, unknown {sorted(unknown)}.")
        if len(self.val_acc) != (len(self) if names != FIELDS else 0):
            raise ValueError("Every epoch of a run must have validation numbers, or none of them.")
        for name in names:
            getattr(self, name).append(values[name])

    @property
    def has_validation(self) -> bool:
        """True when the run held out a validation split (its val_acc is filled)."""
        return len(self.val_acc) > 0

    def best_epoch(self) -> int:
        """The epoch (1-based) with the highest *validation* accuracy: how a run picks its best epoch.

        Raises ValueError for a run without a validation split: choosing an epoch by its test accuracy
        would make the test set part of training.
        """
        if not self.has_validation:
            raise ValueError("This run has no validation split, so no epoch can be chosen: train with "
                             "a recipe with val_size=N (dataclasses.replace(recipe, val_size=N)) to hold out N "
                             "training images for choosing.")
        return self.epoch[max(range(len(self.val_acc)), key=self.val_acc.__getitem__)]

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def train_err(self) -> list[float]:
        return [1.0 - a for a in self.train_acc]

    @property
    def test_err(self) -> list[float]:
        return [1.0 - a for a in self.test_acc]

    @property
    def val_err(self) -> list[float]:
        return [1.0 - a for a in self.val_acc]

    @property
    def elapsed(self) -> list[float]:
        """Cumulative training seconds at the end of each epoch."""
        return [float(total) for total in accumulate(self.seconds)]

    @property
    def images_seen(self) -> list[float]:
        """Cumulative training images at the end of each epoch (images/s times seconds, per epoch)."""
        per_epoch = [speed * seconds for speed, seconds in zip(self.images_per_s, self.seconds, strict=True)]
        return [round(total) for total in accumulate(per_epoch)]

    def to_dict(self) -> dict:
        return asdict(self)  # the record becomes a nested dict under "record"

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """A History from :meth:`to_dict`'s dict (without "record": the numbers only, as a shipped network's
        record stores them). A file that keeps the facts under "meta" raises ValueError."""
        if "meta" in data:
            raise ValueError("This history keeps the run's facts under 'meta', a layout this package no longer "
                             "reads: train the run again to write it in this format (its command is in the "
                             "experiment's provenance.json).")
        known = {k: data[k] for k in (*FIELDS, *VALIDATION_FIELDS) if k in data}
        return cls(**known, record=RunRecord.from_dict(data.get("record", {})))

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically (temp file + rename), so a crash never leaves half a file."""
        text = json.dumps(self.to_dict(), indent=1)  # first: a value JSON cannot hold leaves no file at all
        with atomic_write(path, "w") as f:
            f.write(text)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"No history file at {path}.") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not a valid history JSON file ({e}).") from None
        return cls.from_dict(data)
