"""Ship a finished training run as a network students load with ``trained(name)``.

    python -m resnet_lessons.lab.ship checkpoints/cpu-resnet20 --name resnet20 \\
        --command "scripts/train_cpu_networks.sh 0 resnet20" --commit 937958e... --replace

The run's ``DIR/checkpoint.pt`` (from ``python -m resnet_lessons train --out DIR``) is stored in half precision
with its record in ``results/trained/networks/``. The record's ``test_acc`` is measured on that shipped file, as
:func:`resnet_lessons.trained.trained` loads it, not taken from the run's last evaluation (in its precision).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import CHECKPOINT_FILE
from ..data import load_cifar10
from ..files import tensor_checksum
from ..history import History
from ..metrics import accuracy, predict
from ..models import build_model, list_models
from ..trained import available_trained, save_trained, trained, trained_dir


class ShipError(ValueError):
    """A run cannot be shipped as it is; the message says why and what to do."""


def read_finished_run(run_dir: Path) -> tuple[dict, History]:
    """The model weights and the History of the finished run in ``run_dir``; ShipError when the folder has no
    checkpoint, the checkpoint is damaged, the run stopped before its last epoch or its model is unknown."""
    checkpoint = run_dir / CHECKPOINT_FILE
    if not checkpoint.is_file():
        raise ShipError(f"{checkpoint} does not exist: give the --out folder of a "
                        "`python -m resnet_lessons train` run.")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    saved = state.pop("checksum", None)
    if saved is None or tensor_checksum(state) != saved:
        raise ShipError(f"{checkpoint} is damaged (its checksum does not match its contents); it cannot be shipped.")
    history = History.from_dict(state["history"])
    record = history.record
    if record.interrupted or len(history) < record.epochs:
        raise ShipError(f"The run in {run_dir} is not finished: {len(history)} of {record.epochs} epochs. "
                        f"Finish it with the same training command and --resume, then ship it.")
    if record.model not in list_models():
        raise ShipError(f"The run in {run_dir} trained {record.model!r}, which is not a model name the course "
                        f"can rebuild ({', '.join(list_models())}).")
    return state["model"], history


def ship_record(name: str, model: nn.Module, history: History, command: str, commit: str, test_acc: float) -> dict:
    """The shipped network's record: the run's facts, how it was made, and the shipped file's accuracy."""
    record = history.record
    provenance = {
        "command": command, "commit": commit, "device": record.device, "precision": record.precision,
        "compiled": record.compiled, "torch": record.torch, "training_seconds": round(sum(history.seconds), 1),
        "last_epoch_test_acc": history.test_acc[-1],
        "test_acc_measured": "the shipped half-precision weights, evaluated in fp32 on the CPU",
    }
    return {
        "name": name, "model": record.model, "model_kwargs": {},
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": len(history), "seed": record.seed, "data": record.data,
        "train_images": record.train_images, "val_images": record.val_images, "test_images": record.test_images,
        "val_acc": history.val_acc[-1], "test_acc": test_acc, "mean": record.mean, "std": record.std,
        "recipe": record.recipe_settings, "command": command, "provenance": provenance,
        "history": {k: v for k, v in history.to_dict().items() if k != "record"},
    }


def ship(run_dir: str | Path, name: str, command: str, commit: str, data=None, replace: bool = False,
         results_dir: str | Path | None = None) -> dict:
    """Ship the finished run in ``run_dir`` as network ``name``; returns its record (as written).

    data: the CIFAR10Tensors the run used (its test images measure the shipped file); None loads
    ``$RESNET_LESSONS_DATA``. replace: allow replacing a network already shipped under ``name``.
    """
    run_dir = Path(run_dir)
    if name in available_trained(results_dir) and not replace:
        raise ShipError(f"A network {name!r} is already shipped in {trained_dir(results_dir)}; add --replace "
                        f"to replace it (its files are in git, so the old one can be restored).")
    weights, history = read_finished_run(run_dir)
    data = data if data is not None else load_cifar10(progress=False)
    if data.data_label != history.record.data or len(data.test_labels) != history.record.test_images:
        raise ShipError(f"The run was trained on {history.record.data} with {history.record.test_images:,} test "
                        f"images; the data given is {data.data_label} with {len(data.test_labels):,}. Point "
                        f"RESNET_LESSONS_DATA (or data=) at the run's copy.")
    model = build_model(history.record.model)
    model.load_state_dict(weights)
    record = ship_record(name, model, history, command, commit, test_acc=0.0)  # measured below, on the shipped file
    save_trained(model, record, results_dir)
    shipped, _ = trained(name, results_dir)
    logits = predict(shipped, data.test_images, history.record.mean, history.record.std)
    record["test_acc"] = round(accuracy(logits, data.test_labels), 4)
    save_trained(model, record, results_dir)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resnet_lessons.lab.ship", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path,
                        help="the --out folder of a finished `python -m resnet_lessons train` run")
    parser.add_argument("--name", required=True, help="the name students load it by, e.g. resnet20")
    parser.add_argument("--command", required=True, help="the command that trained it, as it should be recorded")
    parser.add_argument("--commit", required=True, help="the commit of the code that trained it")
    parser.add_argument("--replace", action="store_true", help="replace a network already shipped under --name")
    parser.add_argument("--results", type=Path, default=None, help="results folder (default: the repository's)")
    args = parser.parse_args(argv)
    try:
        record = ship(args.run_dir, args.name, args.command, args.commit, replace=args.replace,
                      results_dir=args.results)
    except ShipError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"shipped {record['name']}: test accuracy {record['test_acc']:.2%} (shipped file), "
          f"{record['provenance']['last_epoch_test_acc']:.2%} at the run's last evaluation; "
          f"validation {record['val_acc']:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
