"""Checkpoints: everything a run needs to continue exactly where it stopped, written safely.

A checkpoint is one ``torch.save`` file holding a dict:

- ``model``, ``optimizer``, ``scheduler``, ``scaler``: their ``state_dict()``s;
- ``rng``: the state of every random generator the run uses (PyTorch's CPU and CUDA generators, the
  data loader's own generator, Python's ``random`` and NumPy's), so a resumed run draws the same
  shuffles and crops as an uninterrupted one;
- ``history``: the per-epoch numbers so far; ``run``: the run's identity (model, data, recipe, every
  setting; see ``resnet_lessons.train``), all of which must match to resume; ``epoch``: how many
  epochs are done;
- ``checksum``: a SHA-256 of everything above (:func:`~resnet_lessons.files.tensor_checksum`), so a
  file whose bytes were overwritten is refused instead of resumed.

It is written to a temporary file in the same folder and then renamed over the old one: a rename
is atomic, so a crash or Ctrl-C while saving leaves the previous checkpoint intact, never half a file.
It is read back with ``torch.load(weights_only=True)``, which loads tensors and plain Python values
but never runs code stored in the file. Checkpoints of the first format (``FORMAT_V1``, without a
checksum) are still read.
"""

from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from .files import atomic_write, tensor_checksum

FORMAT = "resnet_lessons checkpoint v2"
FORMAT_V1 = "resnet_lessons checkpoint v1"  # no checksum, a shorter run identity: still readable
REQUIRED_KEYS = ("format", "epoch", "run", "model", "optimizer", "scheduler", "scaler", "rng", "history")


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
    if not isinstance(state, dict) or state.get("format") not in (FORMAT, FORMAT_V1):
        raise CheckpointError(f"{path} was not written by resnet_lessons' trainer ({FORMAT!r}). {advice}")
    missing = [k for k in REQUIRED_KEYS + (("checksum",) if state["format"] == FORMAT else ()) if k not in state]
    if missing:
        raise CheckpointError(f"{path} is incomplete: it lacks {missing}. {advice}")
    if state["format"] == FORMAT:
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
