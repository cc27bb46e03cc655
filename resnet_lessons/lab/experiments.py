"""The course's reference experiments: full GPU runs whose results ship with the course in ``results/NAME/``.

Students on a CPU cannot train plain-56 against ResNet-56 for long, so the course stores such runs, made with
the package's own trainer: ``histories.json`` (every epoch of every run), ``figure.png``, ``summary.json`` (the
final numbers per run) and ``provenance.json`` (command, commit, versions, GPU, data, seeds, dates, wall times)::

    python -m resnet_lessons experiment degradation              # full size, on a GPU
    python -m resnet_lessons experiment depth shortcuts --out results
    python -m resnet_lessons experiment degradation --smoke      # a tiny pipeline check on any CPU, not a result

A run already stored under the output folder (by any experiment) with the same settings (model, recipe, epochs,
seed, data, device) is reused instead of trained again, and each run is saved as soon as it ends, so a command
cut short continues where it stopped when run again. ``--dry-run`` lists what would be trained and what reused;
``--no-reuse`` trains everything again (to check that a result reproduces).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from .. import config
from ..files import read_json, replaced_folder
from ..history import History
from ..models import build_model
from ..reference import is_smoke
from ..train import TrainingDiverged, fit
from . import figures, plans, provenance, store, tables
from .plans import Experiment, Run

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in [
        Experiment(
            "degradation", "Degradation: plain networks against ResNets",
            "Plain-20/32/44/56 and ResNet-20/32/44/56 trained alike; deeper plain nets reach a higher training "
            "error (the degradation problem), deeper ResNets a lower one (the paper's Figure 6, left and middle).",
            plans.degradation_plan, figures.degradation_figure,
        ),
        Experiment(
            "depth", "Depth: ResNet-20 to ResNet-110",
            "Final test error of ResNet-20/32/44/56/110 beside the paper's Table 6 (quoted; original CIFAR-10, "
            "64k iterations of the paper's recipe). A second seed of ResNet-20 measures run-to-run noise.",
            plans.depth_plan, figures.depth_figure, tables.depth_columns, tables.depth_extra,
            notes=[f"The paper's column is quoted from {plans.PAPER_CITATION}; it was measured on the original "
                   "CIFAR-10 with the paper's recipe (64k iterations, about 164 epochs), so expect it to be lower."],
        ),
        Experiment(
            "shortcuts", "Shortcut options A, B and pool on ResNet-20",
            "Where a block changes the shape, A keeps every second pixel and appends zero channels (no "
            "parameters), B projects with a strided 1x1 convolution and BatchNorm (the paper's B), pool averages "
            "2x2 pixels and appends zero channels (no parameters; not the paper's option C, which puts "
            "projections on every shortcut). All other shortcuts are identities.",
            plans.shortcuts_plan, figures.shortcuts_figure,
        ),
        Experiment(
            "resnext", "ResNeXt against ResNet of similar size",
            "ResNeXt-29 (8x4d), the ResNeXt paper's CIFAR network at 1/16 of its width (cardinality 8, 4 "
            "channels per group; 1.72M parameters, 0.26 GFLOPs per image), against ResNet-110 (1.73M "
            "parameters, 0.25 GFLOPs), trained alike.",
            plans.resnext_plan, figures.resnext_figure,
        ),
        Experiment(
            "recipes", "Training recipes: the paper's steps against one-cycle",
            "ResNet-20 trained for the same number of epochs with the paper's recipe (SGD, lr 0.1 divided by 10 "
            "at 50% and 75%, batch 128) and with the course's onecycle recipe; accuracy against epochs and against "
            "seconds. Baseline: seed lesson 001's run (its CIFAR ResNet, SGD lr 0.1 halved every 10 epochs, "
            "batch 256, 20 epochs).",
            plans.recipes_plan, figures.recipes_figure, tables.recipes_columns, tables.recipes_extra,
            notes=["The seed-001 baseline runs through the course's trainer with the seed's hyper-parameters; "
                   "unlike the seed, the trainer also flips images at random and trains in bf16 on a GPU."],
        ),
        Experiment(
            "trained", "Trained networks to inspect: plain against ResNet, with a validation split",
            "Plain-20/56 and ResNet-20/56 (two seeds each), ResNet-110 and ResNeXt-29 (8x4d), trained with the "
            f"onecycle recipe and {plans.TRAINED_VAL_SIZE:,} training images held out for validation; the seed-0 "
            "networks ship in results/trained/networks and load with resnet_lessons.trained.trained(name).",
            plans.trained_plan, figures.degradation_figure, tables.trained_columns,
            notes=["Validation error is measured on training images held out of training; the test error is "
                   "reported, never used to choose anything."],
        ),
        Experiment(
            "gradients", "Gradient norms per layer: plain against residual",
            "The L2 norm of the loss gradient of every conv and fc weight, on one fixed batch, at initialisation "
            "and after a short training, for plain nets and ResNets of several depths.",
            plans.gradients_plan, figures.gradients_figure, tables.gradients_columns, tables.gradients_extra,
            notes=[f"The gradients are measured on a fixed batch of {plans.GRAD_BATCH} training images in training "
                   f"mode; the nets train on a stratified subset of {plans.GRADIENTS_TRAIN_IMAGES:,} images (test "
                   "error after so short a training is not the point)."],
        ),
    ]
}


def device_label(device: str | None = None) -> str:
    """The device a run trains on, as stored in its key: the GPU's name, "Apple MPS" or "CPU"."""
    target = config.get_device(device)
    if target.type == "cuda":
        return torch.cuda.get_device_name(target)
    return "Apple MPS" if target.type == "mps" else target.type.upper()


def _stratified_size(n: int, labels: torch.Tensor, classes: list[str]) -> int:
    """``n``, or fewer when ``labels`` has fewer images: a stratified subset takes as many of each class."""
    return min(n, len(labels) - len(labels) % len(classes))


def _grad_batch(data, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed stratified batch of training images, normalised, without augmentation, on ``device``."""
    batch = data.subset(_stratified_size(plans.GRAD_BATCH, data.train_labels, data.classes), None, seed=0)
    mean, std = data.mean_std()
    x = (batch.train_images.float() / 255 - mean[:, None, None]) / std[:, None, None]
    return x.to(device), batch.train_labels.to(device)


def train_run(run: Run, data, key: dict, command: str, device: str | None, compile: bool | None,
              progress: bool) -> tuple[History, tuple | None]:
    """Train one run; return its History (the run's key and provenance in its ``record``) and, for a run
    with ``ship`` set, (the trained model, its record) to store as a shipped network, else None."""
    from ..gradients import GradNormRecorder

    run_data = data
    if run.train_images and run.train_images < len(data.train_labels):
        run_data = data.subset(run.train_images, None, seed=run.seed)
    git, environment = provenance.git_state(), provenance.environment()
    started, start = provenance.utc_now(), time.perf_counter()
    torch.manual_seed(run.seed)
    model = build_model(run.model, **run.model_kwargs)
    callbacks, recorder = [], None
    if run.grad_norms:
        target = config.get_device(device)
        model.to(target)
        recorder = GradNormRecorder(*_grad_batch(run_data, target))
        recorder.measure(model, epoch=0)
        callbacks.append(recorder)
    config.set_progress(progress)
    history = fit(model, run_data, run.epochs, run.full_recipe(), name=run.name, callbacks=callbacks, device=device,
                  compile=run.compile if compile is None else compile)
    wall = time.perf_counter() - start
    if history.record.interrupted:
        raise KeyboardInterrupt
    record = history.record
    record.run_key = key
    record.model_spec = run.model_description()
    record.parameters = sum(p.numel() for p in model.parameters())
    record.group = run.group
    record.depth = run.depth
    record.provenance = {
        "command": command, "started": started, "wall_seconds": round(wall, 1),
        "commit": git["commit"], "dirty": git["dirty"], "code_fingerprint": provenance.code_fingerprint(),
        "device": provenance.device_facts()["device"],
        "versions": {k: environment[k] for k in ("python", "torch", "torchvision", "resnet_lessons")},
    }
    if recorder is not None:
        record.grad_norms = {"layers": recorder.names, "epochs": recorder.epochs, "norms": recorder.norms}
    network = (model, _trained_record(run, history)) if run.ship else None
    return history, network


def _trained_record(run: Run, history: History) -> dict:
    """The record of a shipped network (see :class:`resnet_lessons.trained.TrainedRecord`)."""
    record = history.record
    return {
        "name": run.ship, "model": run.model, "model_kwargs": dict(run.model_kwargs), "parameters": record.parameters,
        "epochs": len(history), "seed": run.seed, "data": record.data,
        "train_images": record.train_images, "val_images": record.val_images, "test_images": record.test_images,
        "val_acc": history.val_acc[-1], "test_acc": history.test_acc[-1], "mean": record.mean, "std": record.std,
        "recipe": record.recipe_settings, "command": record.provenance["command"],
        "provenance": {**record.provenance, "precision": record.precision, "torch": record.torch},
        "history": {k: v for k, v in history.to_dict().items() if k != "record"},
    }


def _plan(experiment: Experiment, smoke: bool, epochs: int | None, models: list[str] | None, seed: int) -> list[Run]:
    runs = [replace(r, epochs=epochs if epochs and not r.fixed_epochs else r.epochs, seed=r.seed + seed)
            for r in experiment.plan(smoke)]
    if models:
        wanted = set(models)
        unknown = wanted - {r.name for r in runs} - {r.model for r in runs}
        if unknown:
            names = ", ".join(repr(r.name) for r in runs)
            raise ValueError(f"{sorted(unknown)} not in experiment {experiment.name!r}; its runs are {names} "
                             "(or give their model names).")
        runs = [r for r in runs if r.name in wanted or r.model in wanted]
    return runs


def load_data(root: str | None, smoke: bool, progress: bool):
    """CIFAR-10 from ``root`` (or $RESNET_LESSONS_DATA, or a download); a small subset for a smoke run."""
    from ..data import load_cifar10

    data = load_cifar10(root, progress=progress)
    if smoke:
        train = _stratified_size(plans.SMOKE_TRAIN_IMAGES, data.train_labels, data.classes)
        test = _stratified_size(plans.SMOKE_TEST_IMAGES, data.test_labels, data.classes)
        if train < len(data.train_labels) or test < len(data.test_labels):
            data = data.subset(train, test, seed=0)
    return data


class RunsDiverged(RuntimeError):
    """Some runs of an experiment diverged (their loss became NaN); the others were stored."""


def check_not_mixing(name: str, data, out_dir: str | Path, smoke: bool = False, epochs: int | None = None,
                     seed: int = 0, device: str | None = None) -> None:
    """MixedRuns (a ValueError) when ``out_dir/name`` holds runs made with other settings than this invocation
    would give them (epochs, data, device, recipe...): one experiment's files describe one set of settings."""
    out = Path(out_dir) / name
    stored = store.load_histories(out / store.HISTORIES_FILE)
    if not stored:
        return
    device_name = device_label(device)
    planned = {r.name: store.run_key(r, data, device_name) for r in _plan(EXPERIMENTS[name], smoke, epochs, None, seed)}
    clashes = store.mixed_runs(stored, planned)
    if clashes:
        shown = "\n  ".join(clashes[:5]) + ("\n  ..." if len(clashes) > 5 else "")
        raise store.MixedRuns(f"{out} holds runs made with other settings than this command's, so its figure and "
                              f"summary would mix them:\n  {shown}\nWrite this run elsewhere (--out DIR), or move "
                              "that folder away to make it afresh.")


def run_experiment(name: str, data, out_dir: str | Path, *, smoke: bool = False, epochs: int | None = None,
                   models: list[str] | None = None, seed: int = 0, reuse: bool = True, device: str | None = None,
                   compile: bool | None = None, progress: bool = True, command: str | None = None,
                   dry_run: bool = False) -> Path:
    """Run (or complete) experiment ``name`` into ``out_dir/name`` and return that folder.

    data: a CIFAR10Tensors (see :func:`load_data`). epochs: overrides every run's epochs (except the seed-001
    baseline's). smoke: the tiny plan of ``--smoke`` (a pipeline check, not a result). models: only these runs
    (names or model names). seed: added to every run's seed.
    reuse: take finished runs with the same settings from any experiment under ``out_dir``.
    compile: torch.compile the model (None: on a GPU only, as ``fit`` does).
    dry_run: print the plan (and which runs would be reused) without training.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}.")
    experiment = EXPERIMENTS[name]
    runs = _plan(experiment, smoke, epochs, models, seed)
    check_not_mixing(name, data, out_dir, smoke, epochs, seed, device)
    out_dir = Path(out_dir)
    out = out_dir / name
    device_name = device_label(device)
    command = command or provenance.command_line(["experiment", name])
    histories = store.load_histories(out / store.HISTORIES_FILE)
    invocation = {"command": command, "started": provenance.utc_now(), "git": provenance.git_state(),
                  "code_fingerprint": provenance.code_fingerprint(), "environment": provenance.environment()}
    start = time.perf_counter()
    failed: list[str] = []
    for run in runs:
        key = store.run_key(run, data, device_name)
        stored = store.find_stored_run(out_dir, key, prefer=name) if reuse else None
        if dry_run:
            where = f"reuse from {stored[1]}" if stored else "train"
            print(f"{name}: {run.name:<28} {run.model_description():<40} {run.epochs:>3} epochs, "
                  f"{run.full_recipe().name} recipe, batch {run.full_recipe().batch_size}: {where}")
            continue
        network = None
        if stored is not None:
            history, origin = stored
            if origin != name:
                history.record.reused_from = origin
        else:
            try:
                history, network = train_run(run, data, key, command, device, compile, progress)
            except TrainingDiverged as e:
                failed.append(run.name)
                print(f"{name}: {run.name}: {e} Not stored; the experiment goes on.", file=sys.stderr, flush=True)
                continue
            history.record.reused_from = None
        histories[run.name] = history
        invocation["wall_seconds"] = round(time.perf_counter() - start, 1)
        store.store_experiment(out, experiment, runs, histories, provenance.data_facts(data), invocation, smoke, seed,
                               [network] if network else [])
        seconds = history.record.provenance.get("wall_seconds", 0.0)
        reused = f", reused from {stored[1]}" if stored else ""
        print(f"{name}: {run.name}: {len(history)} epochs, final test accuracy {history.test_acc[-1]:.2%}, "
              f"{sum(history.seconds):.1f} s training ({seconds:.0f} s wall){reused}", flush=True)
    if failed:
        raise RunsDiverged(f"{name}: {', '.join(failed)} diverged (see above); the other runs are stored.")
    return out


def replot_experiment(name: str, out_dir: str | Path) -> Path:
    """Write figure.png, summary.json and provenance.json again from the stored histories (no training, no data,
    any machine): after a change to a figure or a table, or to finish a folder whose writing was interrupted."""
    experiment = EXPERIMENTS[name]
    out = Path(out_dir) / name
    histories = store.load_histories(out / store.HISTORIES_FILE)
    if not histories:
        raise ValueError(f"No stored runs in {out / store.HISTORIES_FILE}: nothing to replot.")
    old = read_json(out / store.PROVENANCE_FILE) if (out / store.PROVENANCE_FILE).exists() else {}
    smoke = is_smoke(old)
    first = next(iter(histories.values())).record
    data_facts = old.get("data") or {"label": first.data or "?", "source": first.data_source or "?",
                                     "train_images": first.train_images, "test_images": first.test_images}
    invocation = old.get("last_invocation", {})
    invocation["replotted"] = provenance.utc_now()
    runs = [r for r in experiment.plan(smoke) if r.name in histories]
    seed = min((h.record.seed for h in histories.values()), default=0)
    with replaced_folder(out) as new:
        store.write_results(experiment, runs, histories, new, data_facts, invocation, smoke, seed)
    return out


