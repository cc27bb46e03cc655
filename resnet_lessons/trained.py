"""Trained networks that ship with the course: load one in a line, on any machine, in seconds.

    model, record = trained("resnet20")      # the network in eval mode, and how it was made
    record.test_acc, record.val_acc           # its final accuracies (fractions)
    record.mean, record.std                   # the normalisation it was trained with (0..1 units)

Each network is ``results/trained/networks/NAME.pt``, its ``state_dict`` in half precision (a 20-layer net is
about 0.5 MB), and ``NAME.json``, its :class:`TrainedRecord` with the weights file's SHA-256, which :func:`trained`
checks before loading. :mod:`resnet_lessons.lab.ship` makes them from a finished training run.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import MISSING, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .config import default_results_dir
from .files import atomic_write, read_json, write_json
from .history import History
from .models import build_model

TRAINED_FOLDER = Path("trained") / "networks"


class TrainedNetworkError(RuntimeError):
    """A shipped network is missing, damaged or does not fit its record."""


@dataclass
class TrainedRecord:
    """What one shipped network is and how it was made (read from ``NAME.json``).

    test_acc, val_acc: final accuracies (fractions); history: every epoch's numbers (a History dict);
    mean, std: per-channel normalisation of its inputs (0..1 units); provenance: command, commit,
    device, data copy, date.
    """

    name: str
    model: str
    model_kwargs: dict
    parameters: int
    file: str
    sha256: str
    epochs: int
    seed: int
    data: str
    train_images: int
    val_images: int
    test_images: int
    val_acc: float
    test_acc: float
    mean: list[float]
    std: list[float]
    recipe: dict
    command: str
    provenance: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)

    @property
    def train_error(self) -> float:
        """The last epoch's training error in percent (augmented images, train mode, as the paper's Figure 6
        plots it); NaN for a record without its history."""
        train_acc = self.history.get("train_acc") or [float("nan")]
        return 100 * (1 - train_acc[-1])

    def curves(self) -> History:
        """Every epoch's numbers of the run that made the network, for :func:`resnet_lessons.plots.plot_curves`
        (its History's own record is left empty: the run's facts are this record's)."""
        return History.from_dict(self.history)

    def final_errors(self) -> str:
        """One line: the last epoch's training error, the validation error and the test error, in percent."""
        return (f"after {self.epochs} epochs: training error {self.train_error:.1f}% (last epoch, "
                f"augmented images), validation error {100 * (1 - self.val_acc):.1f}%, test error "
                f"{100 * (1 - self.test_acc):.1f}%")

    def compare(self, test_acc: float, data_label: str, images: int) -> str:
        """A test accuracy measured now, set beside the record's, with the data each was measured on (a student
        with the original images, not the course's JPEG copy, measures on other pixels, and the line says so)."""
        line = (f"test accuracy measured here: {test_acc:.2%} on {images:,} test images of {data_label}; "
                f"its record: {self.test_acc:.2%} on {self.test_images:,} of {self.data}")
        if data_label != self.data:
            line += (f"\n(it was trained on {self.data}, so on your copy it sees images a little different "
                     "from the ones it learned from: the two accuracies need not agree)")
        return line

    def how_trained(self) -> str:
        """How the network was trained, e.g. "trained 40 epochs of the onecycle recipe on 45,000 images of
        CIFAR-10 (JPEG q75 copy) (cpu (1 threads), bf16 autocast)"."""
        how = ", ".join(filter(None, [self.provenance.get("device"), self.provenance.get("precision")]))
        return (f"trained {self.epochs} epochs of the {self.recipe.get('name', '?')} recipe on "
                f"{self.train_images:,} images of {self.data} ({how or 'device not recorded'})")

    def summary(self) -> str:
        """One line: the network, its accuracies and where they come from."""
        return (f"{self.name}: {self.how_trained()}; validation accuracy {self.val_acc:.2%} on "
                f"{self.val_images:,} held-out training images, test accuracy {self.test_acc:.2%}")


def trained_dir(results_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the shipped networks: ``results/trained/networks`` (see ``config.default_results_dir``)."""
    root = Path(results_dir) if results_dir is not None else default_results_dir()
    return root / TRAINED_FOLDER


def available_trained(results_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the shipped networks, e.g. ["plain20", "resnet20"]."""
    folder = trained_dir(results_dir)
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def remake_commands(name: str) -> str:
    """How to make shipped network ``name`` (a model name such as "resnet20"): train it, then ship it."""
    return (f"`python -m resnet_lessons train --model {name} --epochs 40 --val-size 5000 --out runs/{name}` "
            f"and then `python -m resnet_lessons.lab.ship runs/{name} --name {name} --command '...' "
            "--commit <the commit that trained it>`")


def read_record(name: str, results_dir: str | os.PathLike | None = None) -> TrainedRecord:
    """The record of shipped network ``name``; TrainedNetworkError when there is none, or naming the file and
    the fields it lacks or does not know (a damaged or hand-edited record), instead of a TypeError."""
    path = trained_dir(results_dir) / f"{name}.json"
    if not path.is_file():
        names = ", ".join(available_trained(results_dir)) or "none"
        raise TrainedNetworkError(f"No shipped network {name!r}: {path} does not exist (shipped here: {names}). "
                                  f"Make it with {remake_commands(name)}.")
    values = read_json(path)
    fields = TrainedRecord.__dataclass_fields__
    required = [key for key, f in fields.items() if f.default is MISSING and f.default_factory is MISSING]
    missing = [key for key in required if key not in values]
    unknown = sorted(set(values) - set(fields))
    problems = [f"it lacks {', '.join(missing)}"] if missing else []
    if unknown:
        problems.append(f"it has unknown fields {', '.join(unknown)}")
    if problems:
        raise TrainedNetworkError(f"{path} is not a complete record of a shipped network: {'; '.join(problems)}. "
                                  f"Restore it (git checkout -- {path.name} in its folder) or remake it with "
                                  f"{remake_commands(name)}.")
    return TrainedRecord(**values)


def trained(name: str, results_dir: str | os.PathLike | None = None,
            device: str | torch.device = "cpu") -> tuple[nn.Module, TrainedRecord]:
    """Load shipped network ``name`` (e.g. "resnet20", "plain20"): (model in eval mode, its record).

    The model takes normalised [N, 3, 32, 32] images (``record.mean``, ``record.std``) and returns [N, 10] logits.
    The weights file's SHA-256 is checked first; a missing or altered file raises :class:`TrainedNetworkError`
    naming the file, the checksum it should have and how to remake it.
    """
    record = read_record(name, results_dir)
    path = trained_dir(results_dir) / record.file
    remake = f"Remake it with `{record.command}` (or restore it with `git checkout -- {path.name}` in its folder)."
    if not path.is_file():
        raise TrainedNetworkError(f"The weights of {name!r} are missing: {path} does not exist "
                                  f"(its SHA-256 should be {record.sha256}). {remake}")
    actual = sha256_of(path)
    if actual != record.sha256:
        raise TrainedNetworkError(f"{path} is damaged or was changed: its SHA-256 is {actual}, its record "
                                  f"says {record.sha256}. It was not loaded. {remake}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(record.model, **record.model_kwargs)
    full_precision = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(full_precision)
    return model.to(device).eval(), record


def save_trained(model: nn.Module, record: dict, results_dir: str | os.PathLike | None = None) -> Path:
    """Store ``model`` as shipped network ``record["name"]`` in ``results_dir``'s ``trained/networks``
    (see :func:`write_trained`). Returns the record's path."""
    return write_trained(model, record, trained_dir(results_dir))


def write_trained(model: nn.Module, record: dict, folder: str | os.PathLike) -> Path:
    """Write ``model`` into ``folder``: half-precision weights, then the record (with the file's name and
    SHA-256 added). Returns the record's path."""
    weights = Path(folder) / f"{record['name']}.pt"
    half = {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()
            for k, v in model.state_dict().items()}
    with atomic_write(weights) as f:
        torch.save(half, f)
    full = {**record, "file": weights.name, "sha256": sha256_of(weights)}
    TrainedRecord(**full)  # every field present, none unknown
    return write_json(weights.with_suffix(".json"), full)
