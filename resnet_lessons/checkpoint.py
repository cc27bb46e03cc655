"""Checkpoints: everything a run needs to continue exactly where it stopped, written safely.

A checkpoint is one ``torch.save`` dict: the ``state_dict()`` of the model, optimizer, scheduler and scaler;
``rng``, every random generator's state (a resumed run draws the same shuffles and crops); ``history``; ``epoch``;
``run``, the identity that must match to resume (:func:`run_identity`); and ``checksum``, a SHA-256 of all the rest.
It is replaced atomically and read with ``torch.load(weights_only=True)``, which never runs code stored in the file.
:func:`check_run_folder` and :class:`OutDirLock` keep a second training, or a fresh start, out of a run's folder.
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
from torch import nn

from .files import atomic_write, remove_orphans, tensor_checksum
from .history import History, RunRecord
from .preflight import SettingsError
from .recipes import DATA_FIELDS, Recipe

FORMAT = "resnet_lessons checkpoint v2"
REQUIRED_KEYS = ("format", "epoch", "run", "model", "optimizer", "scheduler", "scaler", "rng", "history", "checksum")
CHECKPOINT_FILE = "checkpoint.pt"
HISTORY_FILE = "history.json"
RESUME_MODES = (False, True, "auto", "overwrite", "switch-hardware")  # fit's ``resume``


class CheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be used (unreadable, truncated, or from another run)."""


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` and its ``checksum`` to ``path`` atomically (temporary file, then rename)."""
    state = {k: v for k, v in state.items() if k != "checksum"}
    with atomic_write(path) as f:
        torch.save({**state, "checksum": tensor_checksum(state)}, f)
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, tensors onto the CPU; the file is never changed.

    Raises FileNotFoundError when there is no file, and CheckpointError (naming the file and saying what to
    do) when it is not a complete checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: there is nothing to resume. Start the run without "
                                "resume=True (or --resume), or point out_dir at the folder of an earlier run.")
    advice = ("The file was left as it is. Delete or move it to start this run from scratch, "
              "or choose another output folder.")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is damaged
        raise CheckpointError(f"{path} is not a readable checkpoint: it is not the zip archive torch.save writes "
                              f"(it may be truncated, or overwritten by something else). {advice}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (it may be truncated or corrupt): "
                              f"{type(e).__name__}: {_short(e)}. {advice}") from None
    if not isinstance(state, dict) or not str(state.get("format", "")).startswith("resnet_lessons checkpoint"):
        raise CheckpointError(f"{path} was not written by resnet_lessons' trainer ({FORMAT!r}). {advice}")
    if state["format"] != FORMAT:
        raise CheckpointError(f"{path} is a {state['format']!r} checkpoint; this trainer reads {FORMAT!r} only. "
                              "Train the run again into an empty folder (the same fit(...) call or command, with "
                              f"another out_dir / --out). {advice}")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{path} is incomplete: it lacks {missing}. {advice}")
    saved = state.pop("checksum")
    if tensor_checksum(state) != saved:
        raise CheckpointError(f"{path} is damaged: its contents do not match the checksum saved with them (some "
                              "of its bytes were changed after it was written), so its weights cannot be trusted. "
                              f"{advice}")
    return state


def _short(error: Exception) -> str:
    """The informative part of torch.load's (sometimes very long) error message."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:  # the useful part sits between this marker and a link to the documentation
        text = text.split(marker, 1)[1].split("Check the documentation", 1)[0]
    return " ".join(text.split())[:300]


def rng_state(loader_generator: torch.Generator) -> dict:
    """The state of every random generator a training run draws from: torch (CPU and CUDA), the loader's
    own, Python's ``random`` and NumPy's."""
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
    """The run's identity, stored in its checkpoint: all of it must be the same to resume the run. The model's
    printed layers tell depth, blocks, shortcuts and widths apart; the data's fingerprint is a SHA-256 of every
    image and label."""
    fingerprint = data.fingerprint() if hasattr(data, "fingerprint") else tensor_checksum(
        [data.train_images, data.train_labels, data.test_images, data.test_labels])
    return {
        "model": {"name": name, "class": f"{type(model).__module__}.{type(model).__qualname__}",
                  "parameters": sum(p.numel() for p in model.parameters()), "layers": repr(model)},
        "data": {"source": getattr(data, "data_label", "") or getattr(data, "source", ""), "fingerprint": fingerprint,
                 "subset": getattr(data, "subset_note", ""), "train_images": len(data.train_labels),
                 "test_images": len(data.test_labels)},
        "recipe": recipe.optimiser_settings(),
        "epochs": epochs,
        **{k: getattr(recipe, k) for k in DATA_FIELDS},
    }


def save_run(out_dir: Path, epoch: int, identity: dict, model: nn.Module, optimizer: torch.optim.Optimizer,
             scheduler, scaler: torch.amp.GradScaler, generator: torch.Generator, history: History) -> None:
    """Write the run's checkpoint (everything needed to continue it) and its ``history.json``."""
    state = {"format": FORMAT, "epoch": epoch, "run": identity, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
             "rng": rng_state(generator), "history": history.to_dict()}
    save_checkpoint(state, out_dir / CHECKPOINT_FILE)
    history.save(out_dir / HISTORY_FILE)


def resume_run(out_dir: Path, resume: bool | str, identity: dict, record: RunRecord, model: nn.Module,
               optimizer: torch.optim.Optimizer, scheduler, scaler: torch.amp.GradScaler,
               generator: torch.Generator) -> History | None:
    """Take ``out_dir`` for this run and, when ``resume`` says so, continue the run saved there.

    Starting afresh (``resume`` False, "overwrite", or "auto" without a checkpoint) returns None; "overwrite"
    first deletes the old run's files. Continuing loads the model, optimiser, schedule, scaler and random
    generators and returns the run's History. The folder's lock is taken (fit releases it), except for a
    finished run, which is only loaded.

    Raises CheckpointError, saying what differs, when the checkpoint is another run's (``identity``), and
    SettingsError when an unfinished run trained on other hardware than ``record`` says (device, precision),
    unless ``resume`` is "switch-hardware": then the history's record says where it switched.
    """
    name, path = identity["model"]["name"], out_dir / CHECKPOINT_FILE
    history, switched = None, []
    if resume in (True, "switch-hardware") or (resume == "auto" and path.exists()):
        saved = load_checkpoint(path)  # clear errors for a missing, corrupt or damaged file
        different = _differences(saved["run"], identity)
        if different:
            raise CheckpointError(f"The checkpoint {path} is from a different run, so it cannot be resumed here:\n  "
                                  + "\n  ".join(different)
                                  + "\nCall fit with the run's original settings (on the command line: the run's "
                                  "original command with --resume), or use another out_dir (--out) to start a new run.")
        history = History.from_dict(saved["history"])
        if saved["epoch"] < identity["epochs"]:  # unfinished: it continues on the hardware it started on
            switched = check_same_hardware(history.record, record, resume == "switch-hardware", path)
        try:
            model.load_state_dict(saved["model"])
        except RuntimeError as e:
            raise CheckpointError(f"The model in {path} does not fit this model: {e}") from None
        if saved["epoch"] >= identity["epochs"]:
            return history  # finished: its network is loaded, on any hardware
        kept = [{k: g[k] for k in ("fused", "foreach") if k in g} for g in optimizer.param_groups]
        optimizer.load_state_dict(saved["optimizer"])
        for group, flags in zip(optimizer.param_groups, kept, strict=True):  # keep this device's implementation
            group.update(flags)
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        set_rng_state(saved["rng"], generator)
    OutDirLock(out_dir).acquire()  # refused while another process trains here
    if resume == "overwrite":  # delete the old run's files: no old curves beside a new checkpoint
        for file in RUN_FILES:
            (out_dir / file).unlink(missing_ok=True)
    removed = remove_orphans(out_dir, [CHECKPOINT_FILE, HISTORY_FILE])
    if removed:
        print(f"{name}: removed {len(removed)} unfinished temporary file(s) of interrupted saves in "
              f"{out_dir} ({', '.join(p.name for p in removed)}).")
    if switched:  # the record says it trained len(history) epochs on its first hardware, then on this call's
        epoch = len(history)
        for key in switched:
            setattr(history.record, key, f"{getattr(history.record, key)} to epoch {epoch}, "
                    f"then {getattr(record, key)} from epoch {epoch + 1}")
        print(f"{name}: continuing on other hardware; the history records it ({', '.join(switched)}).")
    return history


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


# --- the output folder: one training at a time, and no run replaced without being asked ---

LOCK_FILE = "run.lock"
RUN_FILES = (CHECKPOINT_FILE, HISTORY_FILE, "curves.png")  # what a run writes into its folder


class OutDirLock:
    """``out_dir/run.lock``: the id of the process that trains into ``out_dir``, so a second one stays out.

        with OutDirLock("runs/resnet20"):
            ...  # train

    ``acquire()`` raises SettingsError naming the live process that holds the folder; a lock left by a process
    that has ended (``kill -9``, a power cut) is taken over, and the same process may acquire it again (a
    notebook that runs fit twice). ``release()`` deletes the file.
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / LOCK_FILE

    def holder(self) -> dict | None:
        """The lock's record ({"pid", "host", "started"}) when another live process holds it, else None."""
        try:
            held = json.loads(self.path.read_text())
            pid, host = int(held["pid"]), held.get("host", "")
        except (ValueError, KeyError, TypeError, OSError):
            return None  # no lock file, or an unreadable one, which protects nothing: take it over
        if host and host != socket.gethostname():
            return held  # another computer (a shared disk): it cannot be checked, so it is respected
        if pid == os.getpid():
            return None
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # it exists, under another user
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
        else:
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


def check_run_folder(out_dir: str | os.PathLike, resume: bool | str) -> None:
    """Before any work: SettingsError when this call would start afresh over the run stored in ``out_dir`` (a
    checkpoint or a history: ``resume`` True continues it, "auto" does so when there is a checkpoint, only
    "overwrite" replaces it), or when another live process trains into ``out_dir`` (:class:`OutDirLock`)."""
    out_dir = Path(out_dir)
    checkpoint, history = out_dir / CHECKPOINT_FILE, out_dir / HISTORY_FILE
    starts_afresh = resume is False or (resume == "auto" and not checkpoint.exists())
    if starts_afresh and (checkpoint.exists() or history.exists()):
        raise SettingsError(
            "{out_dir} holds " + _describe_run(history).replace("{", "(").replace("}", ")") + "; starting afresh "
            "there would replace it. Pass {resume} to continue it, {overwrite} to replace it, or choose another "
            "output folder.", out_dir=str(out_dir), resume=True, overwrite=True)
    OutDirLock(out_dir).check()


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


# --- the hardware a run trains on: part of its identity ---


def hardware(record: RunRecord) -> dict:
    """The hardware part of a run's identity: the device kind (a GPU's name, or cpu/mps, whatever the thread
    count) and the precision, which change the numbers a run makes. A run that switched (see
    :func:`resume_run`) is on the hardware it switched to."""
    def latest(value: str) -> str:
        return value.rsplit(", then ", 1)[-1].split(" from epoch ")[0]

    return {"device": latest(record.device).split(" (")[0], "precision": latest(record.precision)}


def check_same_hardware(saved: RunRecord, now: RunRecord, switch_hardware: bool, where: Path) -> list[str]:
    """The names of what differs ("device", "precision") between the hardware of a checkpoint's run
    (``saved``) and this call's (``now``); SettingsError, naming the flag, when ``switch_hardware`` is False."""
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

