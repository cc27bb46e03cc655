"""`History`: what a training run measured, one entry per epoch, saved to and loaded from JSON."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

FIELDS = (
    "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds", "images_per_s",
)


@dataclass
class History:
    """Per-epoch numbers of one run. Accuracies are fractions in [0, 1]; errors are 1 - accuracy.

    ``seconds`` is the wall time of the epoch's training (evaluation excluded);
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
    meta: dict = field(default_factory=dict)

    def append(self, **values: float) -> None:
        """Add one epoch: ``h.append(epoch=1, train_loss=..., ...)`` with every name in FIELDS."""
        missing = set(FIELDS) - set(values)
        unknown = set(values) - set(FIELDS)
        if missing or unknown:
            raise ValueError(
                f"History.append needs exactly {', '.join(FIELDS)}; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}."
            )
        for name in FIELDS:
            getattr(self, name).append(values[name])

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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
        known = {k: data[k] for k in (*FIELDS, "meta") if k in data}
        return cls(**known)

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically (temp file + rename), so a crash never leaves half a file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        os.replace(tmp, path)
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
