"""`History`: what a training run measured, one entry per epoch, saved to and loaded from JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .files import atomic_write

FIELDS = (
    "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds", "images_per_s",
)
VALIDATION_FIELDS = ("val_loss", "val_acc")  # only in runs that hold out a validation split


@dataclass
class History:
    """Per-epoch numbers of one run. Accuracies are fractions in [0, 1]; errors are 1 - accuracy.

    ``seconds`` is the wall time of the epoch's training (evaluation excluded);
    ``val_loss`` and ``val_acc`` are filled only when the run held out a validation split
    (``fit(..., val_size=N)``), and stay empty otherwise;
    ``meta`` holds free-form facts about the run (model name, recipe, device, data source...).
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
    meta: dict = field(default_factory=dict)

    def append(self, **values: float) -> None:
        """Add one epoch: ``h.append(epoch=1, train_loss=..., ...)`` with every name in FIELDS
        (and both VALIDATION_FIELDS in a run with a validation split, in every epoch)."""
        names = FIELDS + VALIDATION_FIELDS if "val_acc" in values or "val_loss" in values else FIELDS
        missing = set(names) - set(values)
        unknown = set(values) - set(names)
        if missing or unknown:
            raise ValueError(
                f"History.append needs exactly {', '.join(names)}; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}."
            )
        if len(self.val_acc) != (len(self) if names != FIELDS else 0):
            raise ValueError("Every epoch of a run must have validation numbers, or none of them.")
        for name in names:
            getattr(self, name).append(values[name])

    @property
    def has_validation(self) -> bool:
        """True when the run held out a validation split (its val_acc is filled)."""
        return len(self.val_acc) > 0

    @property
    def val_err(self) -> list[float]:
        return [1.0 - a for a in self.val_acc]

    def best_epoch(self) -> int:
        """The epoch (1-based) with the highest *validation* accuracy: how a run picks its best epoch.

        Raises ValueError for a run without a validation split: choosing an epoch by its test accuracy
        would make the test set part of training.
        """
        if not self.has_validation:
            raise ValueError("This run has no validation split, so no epoch can be chosen: train with "
                             "fit(..., val_size=N) to hold out N training images for choosing.")
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
    def elapsed(self) -> list[float]:
        """Cumulative training seconds at the end of each epoch."""
        total, out = 0.0, []
        for s in self.seconds:
            total += s
            out.append(total)
        return out

    @property
    def images_seen(self) -> list[float]:
        """Cumulative training images at the end of each epoch (images/s times seconds, per epoch)."""
        total, out = 0.0, []
        for speed, seconds in zip(self.images_per_s, self.seconds, strict=True):
            total += speed * seconds
            out.append(round(total))
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
        known = {k: data[k] for k in (*FIELDS, *VALIDATION_FIELDS, "meta") if k in data}
        return cls(**known)

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically (temp file + rename), so a crash never leaves half a file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1)  # first: a value JSON cannot hold leaves no file at all
        with atomic_write(path, "w") as f:
            f.write(text)
        return path

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
