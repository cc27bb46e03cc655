"""The run store: where an experiment's results live and how they are written and found again.

``results/NAME/`` holds ``histories.json`` (every epoch of every run), ``figure.png``, ``summary.json`` and
``provenance.json``, always written together (:func:`store_experiment`). A stored run is found again by its key
(:func:`run_key`), so an experiment reuses runs that another has trained with the same settings.
"""

from __future__ import annotations

from pathlib import Path

from ..files import read_json, replaced_folder, write_json
from ..history import History
from ..reference import load_histories
from ..trained import TRAINED_FOLDER, write_trained
from . import provenance
from .plans import Experiment, Run
from .tables import BASE_COLUMNS, summary_row

HISTORIES_FILE = "histories.json"
FIGURE_FILE = "figure.png"
SUMMARY_FILE = "summary.json"
PROVENANCE_FILE = "provenance.json"


def run_key(run: Run, data, device: str) -> dict:
    """Everything that decides a run's result: a stored run with the same key can be reused."""
    return {
        "model": run.model,
        "model_kwargs": dict(run.model_kwargs),
        "recipe": run.full_recipe().optimiser_settings(),
        "epochs": run.epochs,
        "seed": run.seed,
        "train_images": run.train_images or len(data.train_labels),
        "data": provenance.data_facts(data)["label"],
        "data_train_images": len(data.train_labels),
        "data_test_images": len(data.test_labels),
        "grad_norms": run.grad_norms,
        "val_size": run.val_size,
        "device": device,
    }


def find_stored_run(results_dir: Path, key: dict, prefer: str) -> tuple[History, str] | None:
    """A finished run with this key stored under ``results_dir`` (experiment ``prefer`` first)."""
    folders = [p for p in results_dir.glob("*") if (p / HISTORIES_FILE).exists()]
    for folder in sorted(folders, key=lambda p: (p.name != prefer, p.name)):
        for h in load_histories(folder / HISTORIES_FILE).values():
            if h.record.run_key == key and len(h) == key["epochs"] and not h.record.interrupted:
                return h, folder.name
    return None


def _canonical_command(experiment: Experiment, runs: list[Run], histories: dict[str, History], smoke: bool,
                       seed: int) -> str:
    """The command that remakes the stored result (the data comes from $RESNET_LESSONS_DATA or --data), read
    from the stored runs: their length (``--epochs``), seeds (``--seed``) and whether they were compiled where
    ``--compile auto`` would have decided otherwise (``--compile on/off``)."""
    parts = ["python -m resnet_lessons experiment", experiment.name]
    if smoke:
        parts.append("--smoke")
    epochs = {len(histories[r.name]) for r in runs if r.name in histories and not r.fixed_epochs}
    default = {r.epochs for r in experiment.plan(smoke) if not r.fixed_epochs}
    if len(epochs) == 1 and epochs != default:
        parts.append(f"--epochs {epochs.pop()}")
    if seed:
        parts.append(f"--seed {seed}")
    auto = [histories[r.name].record for r in runs if r.name in histories and r.compile is None]
    on_gpu = [not (r.device or "cpu").lower().startswith(("cpu", "mps")) for r in auto]
    compiled = [bool(r.compiled) for r in auto]
    if auto and all(on_gpu) and not any(compiled):
        parts.append("--compile off")
    elif auto and not any(on_gpu) and all(compiled):
        parts.append("--compile on")
    return " ".join(parts)


def _noise(name: str, histories: dict[str, History], runs: list[Run], results_dir: Path) -> dict | None:
    """Run-to-run noise: the same run with two seeds (the depth experiment has such a pair)."""
    for repeat in (r for r in runs if r.group == "repeat" and r.name in histories):
        base = next((r.name for r in runs if r.group != "repeat" and r.name in histories
                     and r.model == repeat.model and r.model_kwargs == repeat.model_kwargs), None)
        if base is None:
            continue
        a, b = histories[base].test_acc[-1], histories[repeat.name].test_acc[-1]
        return {
            "runs": [base, repeat.name],
            "test_acc_difference_pct": round(100 * abs(a - b), 3),
            "measured_in": name,
            "note": "Final test accuracy of the same run with two seeds. GPU training is not bit-exact (cuDNN "
                    "picks algorithms at run time, bf16 sums), so a rerun with the same seed differs by about as much.",
        }
    depth = results_dir / "depth" / PROVENANCE_FILE
    if name != "depth" and depth.exists():
        return read_json(depth).get("run_to_run_noise")
    return None


def write_results(experiment: Experiment, runs: list[Run], histories: dict[str, History], out: Path,
                  data_facts: dict, invocation: dict, smoke: bool, seed: int) -> None:
    """Write figure.png, summary.json and provenance.json for the runs stored in ``out``.

    data_facts: :func:`resnet_lessons.lab.provenance.data_facts` of the data; invocation: the command that wrote
    the files, with its git state, environment and wall time; smoke: the runs are a ``--smoke`` run.
    """
    plan_names = [r.name for r in runs]
    all_runs = runs + [r for r in experiment.plan(smoke) if r.name not in plan_names]
    ordered = {r.name: histories[r.name] for r in all_runs if r.name in histories}
    ordered.update({n: h for n, h in histories.items() if n not in ordered})

    rows = {name: summary_row(name, h) for name, h in ordered.items()}
    if experiment.extra is not None:
        experiment.extra(ordered, all_runs, rows)
    first = next(iter(ordered.values())).record
    run_records = {
        name: {
            **h.record.provenance,
            "model": h.record.model_spec, "recipe": h.record.recipe_settings,
            "epochs": len(h), "seed": h.record.seed, "precision": h.record.precision,
            "compiled": h.record.compiled, "train_seconds": round(sum(h.seconds), 1),
            "train_images": h.record.train_images,  # a run may train on a subset of the data below
            "reused_from": h.record.reused_from,
        }
        for name, h in ordered.items()
    }
    command = _canonical_command(experiment, all_runs, ordered, smoke, seed)
    summary = {
        "experiment": experiment.name, "title": experiment.title, "about": experiment.about, "command": command,
        "device": first.device or "?", "data": first.data or "?",
        "train_images": first.train_images, "test_images": first.test_images,
        "epochs": sorted({len(h) for h in ordered.values()}),
        "commits": sorted({r.get("commit", "unknown") for r in run_records.values()}),
        "smoke": smoke,
        "columns": experiment.columns() if experiment.columns else list(BASE_COLUMNS),
        "rows": list(rows.values()),
        "notes": list(experiment.notes),
    }
    record = {
        "experiment": experiment.name, "reproduce": command, "written": provenance.utc_now(), "smoke": smoke,
        "last_invocation": invocation,
        "data": data_facts,
        "seeds": {n: h.record.seed for n, h in ordered.items()},
        "runs": run_records,
        "total_wall_seconds": round(sum(r.get("wall_seconds", 0) for r in run_records.values()), 1),
        "run_to_run_noise": _noise(experiment.name, ordered, all_runs, out.parent),
    }
    write_json(out / SUMMARY_FILE, summary)
    write_json(out / PROVENANCE_FILE, record)
    fig = experiment.figure(ordered, all_runs)  # last: a figure that fails leaves the tables written
    fig.savefig(out / FIGURE_FILE, dpi=110, bbox_inches="tight")


class MixedRuns(ValueError):
    """An experiment's folder holds runs made with other settings than the runs about to join them."""


def mixed_runs(stored: dict[str, History], planned: dict[str, dict]) -> list[str]:
    """One line per stored run whose key differs from the key this invocation would give it (``planned``:
    {run name: :func:`run_key`} of the whole plan), or that is not a run of this plan at all."""
    lines = []
    for name, history in stored.items():
        if name not in planned:
            lines.append(f"{name}: not a run of this plan (a --smoke run, or another plan)")
            continue
        saved, now = history.record.run_key or {}, planned[name]
        different = []
        for key in sorted(set(saved) | set(now)):
            a, b = saved.get(key, "(not recorded)"), now.get(key, "(not recorded)")
            if a != b:
                different.append(key if isinstance(a, dict) or isinstance(b, dict) else f"{key} {a!r} (now {b!r})")
        if different:
            lines.append(f"{name}: {', '.join(different)}")
    return lines


def store_experiment(out: Path, experiment: Experiment, runs: list[Run], histories: dict[str, History],
                     data_facts: dict, invocation: dict, smoke: bool, seed: int, networks: list = ()) -> None:
    """Write ``out`` whole: histories.json, the shipped ``networks`` ([(model, record)], into out/networks, see
    :func:`resnet_lessons.trained.write_trained`), then figure, summary and provenance (:func:`write_results`).
    The files are written into a folder beside ``out`` that then replaces it: a crash leaves the old folder."""
    with replaced_folder(out) as new:
        write_json(new / HISTORIES_FILE, {n: h.to_dict() for n, h in histories.items()})
        for model, record in networks:
            write_trained(model, record, new / TRAINED_FOLDER.name)
        write_results(experiment, runs, histories, new, data_facts, invocation, smoke, seed)
