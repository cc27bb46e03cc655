"""Rehearse the notebooks' full mode on a machine too slow to train in it (a CPU).

    python benchmarks/full_mode_rehearsal.py [--only 02 03] [--epochs 1] [--train 1000 --test 500]
                                             [--save-dir build/rehearsal] [--out results/rehearsal.json]

Full mode (``RESNET_LESSONS_FAST=0``) is meant for a GPU: ResNet-56 and ResNet-110 trained on all
50,000 images. Its code differs from fast mode's in more than sizes: other networks, the full dataset,
your runs drawn over the stored reference runs. This script runs every full-mode cell of every notebook,
in a fresh kernel each, with one change: a first, unsaved cell wraps ``resnet_lessons.train.fit`` so
that every training run keeps at most ``--epochs`` epochs on a stratified subset of ``--train`` /
``--test`` images (validation split scaled alike), every loss surface is a 5 x 5 grid on ``--test``
images, the transfer lesson's own training loop keeps at most ``--epochs`` epochs, and the time estimates
time a batch of at most 16 images (scaled to the real batch). Everything else (model construction,
gradient measurements, evaluation on the whole test set, figures, reference overlays, checks) runs as in a
real full-mode run.

What a rehearsal shows: the full-mode path executes without an error and every check passes. What it
cannot show: the accuracies of a real full run, or anything specific to a GPU (compilation, mixed
precision), which the stored reference experiments exercise with the same ``fit``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def kernel_env() -> dict[str, str]:
    """This process's environment for a kernel, with the inline backend whatever backend is set here
    (MPLBACKEND=Agg would be inherited and store every figure as "<Figure size ...>" text only)."""
    return {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


# The cell put in front of each notebook: every call of fit trains briefly on a subset.
PREAMBLE = """\
import dataclasses as _rehearsal_dataclasses

import resnet_lessons.train as _rehearsal_train
from resnet_lessons.recipes import get_recipe as _rehearsal_get_recipe

_rehearsal_real_fit = _rehearsal_train.fit

def _rehearsal_fit(model, data, epochs, recipe="onecycle", **kwargs):
    recipe = _rehearsal_get_recipe(recipe)
    if len(data.train_labels) > {train} or len(data.test_labels) > {test}:
        full = len(data.train_labels)
        data = data.subset(min({train}, full), min({test}, len(data.test_labels)))
        if recipe.val_size:  # hold out the same share of the smaller training set
            recipe = _rehearsal_dataclasses.replace(
                recipe, val_size=max(1, recipe.val_size * len(data.train_labels) // full))
    return _rehearsal_real_fit(model, data, min(epochs, {epochs}), recipe, **kwargs)

_rehearsal_train.fit = _rehearsal_fit

# Loss surfaces (notebook 07): full mode's 51 x 51 grid on 1,000 images is an hour on a CPU; rehearse it
# on a 5 x 5 grid of {test} images. The code path is the same, only the grid and the image set shrink.
import resnet_lessons.landscape as _rehearsal_landscape

_rehearsal_real_grid = _rehearsal_landscape.grid
_rehearsal_real_subset = _rehearsal_landscape.evaluation_subset

def _rehearsal_grid(n, *args, **kwargs):
    return _rehearsal_real_grid(min(n, 5), *args, **kwargs)

def _rehearsal_subset(data, n=1000, *args, **kwargs):
    return _rehearsal_real_subset(data, min(n, {test}), *args, **kwargs)

_rehearsal_landscape.grid = _rehearsal_grid
_rehearsal_landscape.evaluation_subset = _rehearsal_subset

# Transfer (notebook 08) trains with its own short loop, not fit: the same cut, at most {epochs} epochs.
import resnet_lessons.transfer as _rehearsal_transfer

_rehearsal_real_transfer_train = _rehearsal_transfer.train

def _rehearsal_transfer_train(model, data, epochs, *args, **kwargs):
    return _rehearsal_real_transfer_train(model, data, min(epochs, {epochs}), *args, **kwargs)

_rehearsal_transfer.train = _rehearsal_transfer_train

# Time estimates: full mode times one step of the real batch (a ResNeXt-29 step of 512 images is about 40 s
# on 2 CPU cores); rehearse the same code on a batch of at most 16 images, scaled to the real batch.
import resnet_lessons.envcheck as _rehearsal_envcheck

_rehearsal_real_measure = _rehearsal_envcheck.measure_step_seconds

def _rehearsal_measure(model, batch_size=128, *args, **kwargs):
    small = min(batch_size, 16)
    return _rehearsal_real_measure(model, small, *args, **kwargs) * batch_size / small

_rehearsal_envcheck.measure_step_seconds = _rehearsal_measure
"""


def rehearse(only: list[str] | None, epochs: int, train: int, test: int, save_dir: Path | None) -> dict:
    """Execute each notebook in full mode with the shortened fit; return a record of what happened."""
    import nbformat
    import torch
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    os.environ["RESNET_LESSONS_FAST"] = "0"
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    record = {"what": "full-mode rehearsal (benchmarks/full_mode_rehearsal.py)", "device": device,
              "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "python": platform.python_version(), "torch": torch.__version__,
              "commit": _commit(), "fit_limit": {"epochs": epochs, "train_images": train, "test_images": test},
              "data_root": os.environ.get("RESNET_LESSONS_DATA", "torchvision download"), "notebooks": {}}
    preamble = nbformat.v4.new_code_cell(PREAMBLE.format(epochs=epochs, train=train, test=test))
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if only and not any(path.name.startswith(o) for o in only):
            continue
        notebook = nbformat.read(path, as_version=4)
        notebook.cells.insert(0, preamble)
        start = time.perf_counter()
        try:
            client = NotebookClient(notebook, timeout=3600, resources={"metadata": {"path": str(NOTEBOOKS)}})
            client.execute(env=kernel_env())
            outcome = "ran every cell"
        except CellExecutionError as error:
            outcome = f"failed: {str(error).strip().splitlines()[-1]}"
        seconds = round(time.perf_counter() - start, 1)
        record["notebooks"][path.stem] = {"outcome": outcome, "seconds": seconds,
                                          "solution_checks": _verdicts(notebook)}
        print(f"{path.name}: {outcome} in {seconds:.0f} s", flush=True)
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, save_dir / path.name)
    return record


def _verdicts(notebook) -> dict[str, int]:
    """Count the check reports ("Correct: ..." passed; "Not yet:" or "Not answered yet: ..." failed) printed by
    the exercises' solution cells.

    The check cells right after an unanswered exercise print "Not answered yet" by design; a solution cell
    must not.
    """
    counts = {"passed": 0, "failed": 0}
    for cell in notebook.cells:
        if cell.cell_type != "code" or not cell.source.startswith("# @title Solution"):
            continue
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("Correct:"):
                    counts["passed"] += 1
                elif line.startswith(("Not yet:", "Not answered yet:")):
                    counts["failed"] += 1
    return counts


def _commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 02 03")
    parser.add_argument("--epochs", type=int, default=1, help="most epochs any training run keeps (default 1)")
    parser.add_argument("--train", type=int, default=1000, help="training images per run (multiple of 10)")
    parser.add_argument("--test", type=int, default=500, help="test images per run (multiple of 10)")
    parser.add_argument("--save-dir", type=Path, help="also write the executed notebooks into this folder")
    parser.add_argument("--out", type=Path, help="write the record as JSON to this file")
    args = parser.parse_args()
    record = rehearse(args.only, args.epochs, args.train, args.test, args.save_dir)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False))
        print(f"wrote {args.out}")
    failed = [name for name, r in record["notebooks"].items()
              if not r["outcome"].startswith("ran") or r["solution_checks"]["failed"]]
    if failed:
        raise SystemExit(f"rehearsal failed in: {', '.join(failed)}")


if __name__ == "__main__":
    main()
