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

import json
import os
import random
import socket
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from .files import atomic_write, tensor_checksum
from .preflight import SettingsError

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


# ---------------------------------------------------------------------------------------------
# the output folder: one training at a time, and no run replaced without being asked
# ---------------------------------------------------------------------------------------------

LOCK_FILE = "run.lock"
RUN_FILES = ("checkpoint.pt", "history.json", "curves.png")  # what a run writes into its folder


class OutDirLock:
    """``out_dir/run.lock``: the id of the process that trains into ``out_dir``, so a second one stays out.

        with OutDirLock("runs/resnet20"):
            ...  # train

    ``acquire()`` raises SettingsError naming the process that holds the folder, when that process is
    alive; a lock left by a process that has ended (``kill -9``, a power cut) is taken over. The same
    process may acquire it again (a notebook that runs fit twice). ``release()`` deletes the file.
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / LOCK_FILE

    def holder(self) -> dict | None:
        """The lock's record ({"pid", "host", "started"}) when another live process holds it, else None."""
        try:
            held = json.loads(self.path.read_text())
            pid, host = int(held["pid"]), held.get("host", "")
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, OSError):
            return None  # an unreadable lock file protects nothing: take it over
        if host and host != socket.gethostname():
            return held  # another computer (a shared disk): it cannot be checked, so it is respected
        if pid == os.getpid():
            return None
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return None
        except PermissionError:
            return held  # it exists, under another user
        return held

    def check(self) -> None:
        """SettingsError when another live process holds the folder."""
        held = self.holder()
        if held is not None:
            raise SettingsError(
                "{out_dir} is in use by another training: " + f"process {held['pid']} on "
                f"{held.get('host') or 'this computer'} (since {held.get('started', '?')}) holds {self.path}. Wait "
                "for it to finish or stop it, or choose another output folder. If no such process runs any more, "
                f"delete {self.path}.", out_dir=str(self.out_dir))

    def acquire(self) -> OutDirLock:
        """Take the folder for this process (see the class); returns self."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
        try:  # O_EXCL: of two processes that start together, exactly one creates the file
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            self.check()  # held by a live process: refused; else it is stale (or ours) and taken over
            with atomic_write(self.path, "w") as f:
                f.write(record)
            return self
        with os.fdopen(fd, "w") as f:
            f.write(record)
        return self

    def release(self) -> None:
        """Delete the lock file, if this process holds it."""
        try:
            if json.loads(self.path.read_text()).get("pid") == os.getpid():
                self.path.unlink()
        except (OSError, ValueError):
            pass

    def __enter__(self) -> OutDirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def check_not_replacing(out_dir: str | os.PathLike | None, resume: bool | str, overwrite: bool) -> None:
    """SettingsError when this call would start afresh over a run stored in ``out_dir`` without ``overwrite``.

    A run is there when ``out_dir`` holds its checkpoint or its history. ``resume=True`` continues it and
    ``resume="auto"`` does so when there is a checkpoint; otherwise only ``overwrite=True`` replaces it.
    """
    if out_dir is None:
        return
    out_dir = Path(out_dir)
    if overwrite and resume is True:
        raise SettingsError("{resume} and {overwrite} contradict each other: continue the run in {out_dir}, or "
                            "replace it, not both.", resume=True, overwrite=True, out_dir=str(out_dir))
    checkpoint, history = out_dir / RUN_FILES[0], out_dir / RUN_FILES[1]
    if overwrite or resume is True or (resume == "auto" and checkpoint.exists()):
        return
    if not (checkpoint.exists() or history.exists()):
        return
    raise SettingsError(
        "{out_dir} holds " + _describe_run(history).replace("{", "(").replace("}", ")") + "; starting afresh "
        "there would replace it. Pass {resume} to continue it, {overwrite} to replace it, or choose another "
        "output folder.", out_dir=str(out_dir), resume=True, overwrite=True)


def _describe_run(history_path: Path) -> str:
    """'a finished run (resnet20, 30 epochs)', 'an unfinished run (epoch 3 of 30)', or 'a run'."""
    try:
        saved = json.loads(history_path.read_text())
        done, record = len(saved["epoch"]), saved.get("record", {})
        planned = record.get("epochs") or done
        what = f"{record.get('model', '?')}, {record.get('recipe', '?')} recipe"
    except (OSError, ValueError, KeyError, TypeError):
        return "a run (its checkpoint)"
    if done >= planned:
        return f"a finished run ({what}, {done} epochs)"
    return f"an unfinished run ({what}, saved after epoch {done} of {planned})"


def clear_run(out_dir: str | os.PathLike) -> list[Path]:
    """Delete the files of the run stored in ``out_dir`` (asked for with overwrite): the folder never holds
    an old run's curves beside a new run's checkpoint. Returns the deleted files."""
    removed = [Path(out_dir) / name for name in RUN_FILES if (Path(out_dir) / name).is_file()]
    for path in removed:
        path.unlink()
    return removed


# ---------------------------------------------------------------------------------------------
# the hardware a run trains on: part of its identity
# ---------------------------------------------------------------------------------------------


def hardware(record) -> dict:
    """The hardware part of a run's identity, from its RunRecord: the device kind (a GPU's name, or cpu/mps,
    whatever the thread count) and the precision. Resuming on other hardware changes the numbers a run makes.
    A run that switched (:func:`record_hardware_switch`) is on the hardware it switched to."""
    def latest(value: str) -> str:
        return value.rsplit(", then ", 1)[-1].split(" from epoch ")[0]

    return {"device": latest(record.device).split(" (")[0], "precision": latest(record.precision)}


def check_same_hardware(saved, now, switch_hardware: bool, where: Path) -> list[str]:
    """Compare the hardware of a checkpoint's run (``saved``, a RunRecord) with this call's (``now``).

    Returns the names of what differs ("device", "precision"); raises SettingsError naming the flag when
    something differs and ``switch_hardware`` is False.
    """
    was, this = hardware(saved), hardware(now)
    changed = [key for key in ("device", "precision") if was[key] != this[key]]
    if changed and not switch_hardware:
        lines = "\n  ".join(f"{key}: checkpoint {was[key]!r}, this call {this[key]!r}" for key in changed)
        raise SettingsError(
            f"The run in {where} trained on other hardware, and continuing here would change its numbers:\n  "
            + lines.replace("{", "(").replace("}", ")")
            + "\nResume it where it started (the same device; RESNET_LESSONS_CPU_BF16 as it was), or pass "
            "{switch_hardware} to continue here anyway: the history will record the change.",
            switch_hardware=True)
    return changed


def record_hardware_switch(record, now, changed: list[str], epoch: int) -> None:
    """Write into a resumed run's ``record`` that it trained ``epoch`` epochs on its first hardware, then on
    ``now``'s (``changed``: the fields that differ, from :func:`check_same_hardware`)."""
    for key in changed:
        was = getattr(record, key)
        setattr(record, key, f"{was} to epoch {epoch}, then {getattr(now, key)} from epoch {epoch + 1}")
