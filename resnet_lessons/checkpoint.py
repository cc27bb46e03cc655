"""Checkpoints: everything a run needs to continue exactly where it stopped, written safely.

A checkpoint is one ``torch.save`` file holding a dict:

- ``model``, ``optimizer``, ``scheduler``, ``scaler``: their ``state_dict()``s;
- ``rng``: the state of every random generator the run uses (PyTorch's CPU and CUDA generators, the
  data loader's own generator, Python's ``random`` and NumPy's), so a resumed run draws the same
  shuffles and crops as an uninterrupted one;
- ``history``: the per-epoch numbers so far; ``run``: the run's identity (:func:`run_identity`: model,
  data, recipe, every setting), all of which must match to resume; ``epoch``: how many epochs are done;
- ``checksum``: a SHA-256 of everything above (:func:`~resnet_lessons.files.tensor_checksum`), so a
  file whose bytes were overwritten is refused instead of resumed.

It is written to a temporary file in the same folder and then renamed over the old one: a rename
is atomic, so a crash or Ctrl-C while saving leaves the previous checkpoint intact, never half a file.
It is read back with ``torch.load(weights_only=True)``, which loads tensors and plain Python values
but never runs code stored in the file.

:func:`save_run` writes a run's checkpoint and ``history.json`` after every epoch; :func:`resume_run`
continues a run from them, once it has checked that the checkpoint is this run's.
"""

from __future__ import annotations

import os
import random
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .files import atomic_write, remove_orphans, tensor_checksum
from .history import History
from .recipes import DATA_FIELDS, Recipe

FORMAT = "resnet_lessons checkpoint v2"
REQUIRED_KEYS = ("format", "epoch", "run", "model", "optimizer", "scheduler", "scaler", "rng", "history", "checksum")
CHECKPOINT_FILE = "checkpoint.pt"
HISTORY_FILE = "history.json"


class CheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be used (unreadable, truncated, or from another run)."""


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` and its ``checksum`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v for k, v in state.items() if k != "checksum"}
    with atomic_write(path) as f:
        torch.save({**state, "checksum": tensor_checksum(state)}, f)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`; tensors are loaded onto the CPU.

    Raises FileNotFoundError when there is no file, and CheckpointError (naming the file and saying
    what to do) when the file is not a complete checkpoint. The file is never changed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No checkpoint at {path}: there is nothing to resume. Start the run without resume=True "
            "(or --resume), or point out_dir at the folder of an earlier run."
        )
    advice = (
        "The file was left as it is. Delete or move it to start this run from scratch, "
        "or choose another output folder."
    )
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is damaged
        raise CheckpointError(
            f"{path} is not a readable checkpoint: it is not the zip archive torch.save writes "
            f"(it may be truncated, or overwritten by something else). {advice}"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (it may be truncated or corrupt): "
            f"{type(e).__name__}: {_short(e)}. {advice}"
        ) from None
    if not isinstance(state, dict) or not str(state.get("format", "")).startswith("resnet_lessons checkpoint"):
        raise CheckpointError(f"{path} was not written by resnet_lessons' trainer ({FORMAT!r}). {advice}")
    if state["format"] != FORMAT:
        raise CheckpointError(
            f"{path} is a {state['format']!r} checkpoint; this trainer reads {FORMAT!r} only. Train the run "
            f"again into an empty folder (the same fit(...) call or command, with another out_dir / --out). {advice}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{path} is incomplete: it lacks {missing}. {advice}")
    saved = state.pop("checksum")
    if tensor_checksum(state) != saved:
        raise CheckpointError(
            f"{path} is damaged: its contents do not match the checksum saved with them (some of its "
            f"bytes were changed after it was written), so its weights cannot be trusted. {advice}"
        )
    return state


def _short(error: Exception) -> str:
    """The informative part of torch.load's (sometimes very long) error message."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:  # the useful part sits between this marker and a link to the documentation
        text = text.split(marker, 1)[1].split("Check the documentation", 1)[0]
    return " ".join(text.split())[:300]


def rng_state(loader_generator: torch.Generator) -> dict:
    """The state of every random generator a training run draws from."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": loader_generator.get_state(),
        "python": random.getstate(),
        # NumPy's state holds an array; store plain values so weights_only loading accepts it.
        "numpy": [np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]],
    }


def set_rng_state(state: dict, loader_generator: torch.Generator) -> None:
    """Put every generator back into the state saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    loader_generator.set_state(state["loader"])
    random.setstate(state["python"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy(), *rest))


def run_identity(model: nn.Module, recipe: Recipe, epochs: int, data, name: str) -> dict:
    """The run's identity, stored in its checkpoint: all of it must be the same to resume the run.

    model: its name, class, parameter count and printed layers (which show the depth, the block
    types, the shortcut option, the widths and groups, the number of classes); data: what it is, its
    fingerprint (a SHA-256 of every image and label) and how a subset was drawn; then the recipe's
    optimiser settings, the epochs, and how the training images are served (seed, augmentation,
    validation split).
    """
    fingerprint = data.fingerprint() if hasattr(data, "fingerprint") else tensor_checksum(
        [data.train_images, data.train_labels, data.test_images, data.test_labels])
    return {
        "model": {
            "name": name,
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "parameters": sum(p.numel() for p in model.parameters()),
            "layers": repr(model),
        },
        "data": {
            "source": getattr(data, "data_label", "") or getattr(data, "source", ""),
            "fingerprint": fingerprint,
            "subset": getattr(data, "subset_note", ""),
            "train_images": len(data.train_labels),
            "test_images": len(data.test_labels),
        },
        "recipe": recipe.optimiser_settings(),
        "epochs": epochs,
        **{k: getattr(recipe, k) for k in DATA_FIELDS},
    }


def save_run(out_dir: Path, epoch: int, identity: dict, model: nn.Module, optimizer: torch.optim.Optimizer,
             scheduler, scaler: torch.amp.GradScaler, generator: torch.Generator, history: History) -> None:
    """Write the run's checkpoint (everything needed to continue it) and its ``history.json``."""
    save_checkpoint(
        {
            "format": FORMAT,
            "epoch": epoch,
            "run": identity,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rng_state(generator),
            "history": history.to_dict(),
        },
        out_dir / CHECKPOINT_FILE,
    )
    history.save(out_dir / HISTORY_FILE)


def resume_run(out_dir: Path, resume: bool | str, identity: dict, model: nn.Module,
               optimizer: torch.optim.Optimizer, scheduler, scaler: torch.amp.GradScaler,
               generator: torch.Generator) -> History | None:
    """Continue the run saved in ``out_dir``: load the model, optimiser, schedule, scaler and random
    generators, and return its History. Returns None when the run starts afresh (``resume`` False, or
    "auto" without a checkpoint). Raises CheckpointError, saying what differs, when the checkpoint is
    another run's."""
    name = identity["model"]["name"]
    removed = remove_orphans(out_dir, [CHECKPOINT_FILE, HISTORY_FILE])
    if removed:
        print(f"{name}: removed {len(removed)} unfinished temporary file(s) of interrupted saves in "
              f"{out_dir} ({', '.join(p.name for p in removed)}).")
    path = out_dir / CHECKPOINT_FILE
    if resume is False or (resume == "auto" and not path.exists()):
        if path.exists():
            warnings.warn(f"{path} holds an earlier run; this run starts from scratch and will replace it "
                          "(pass resume=True to continue that run instead).", stacklevel=3)
        return None
    saved = load_checkpoint(path)  # clear errors for a missing, corrupt or damaged file
    different = _differences(saved["run"], identity)
    if different:
        raise CheckpointError(
            f"The checkpoint {path} is from a different run, so it cannot be resumed here:\n  "
            + "\n  ".join(different)
            + "\nCall fit with the run's original settings (on the command line: the run's original command "
            "with --resume), or use another out_dir (--out) to start a new run."
        )
    try:
        model.load_state_dict(saved["model"])
    except RuntimeError as e:
        raise CheckpointError(f"The model in {path} does not fit this model: {e}") from None
    kept = [{k: g[k] for k in ("fused", "foreach") if k in g} for g in optimizer.param_groups]
    optimizer.load_state_dict(saved["optimizer"])
    for group, flags in zip(optimizer.param_groups, kept, strict=True):  # keep this device's implementation
        group.update(flags)
    scheduler.load_state_dict(saved["scheduler"])
    scaler.load_state_dict(saved["scaler"])
    set_rng_state(saved["rng"], generator)
    return History.from_dict(saved["history"])


def _differences(saved: dict, now: dict, prefix: str = "") -> list[str]:
    """One line per setting that differs between a checkpoint's identity and this call's."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key, "(not recorded)"), now.get(key, "(not recorded)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, prefix + key + ".")
        elif isinstance(a, str) and isinstance(b, str) and "\n" in a + b and a != b:
            # printed layers: show the first line that differs, not two whole networks
            lines_a, lines_b = a.splitlines(), b.splitlines()
            line = next((i for i in range(max(len(lines_a), len(lines_b)))
                         if lines_a[i : i + 1] != lines_b[i : i + 1]), 0)
            where = lines_a[line].strip() if line < len(lines_a) else "(the end)"
            here = lines_b[line].strip() if line < len(lines_b) else "(the end)"
            out.append(f"{prefix}{key}: they differ from line {line + 1}: checkpoint {where!r}, this call {here!r}")
        elif a != b:
            out.append(f"{prefix}{key}: checkpoint {a!r}, this call {b!r}")
    return out
