"""Does each notebook's fast-mode live run show its lesson's effect? (Not a test.)

Trains every live experiment of :mod:`resnet_lessons.live` in fast mode on the CPU with several seeds,
exactly as the notebooks do (the same settings table, the same ``fit`` call, ``torch.manual_seed(seed)``
before building each network and ``fit(..., seed=seed)``), and prints for each effect its size (mean over
the seeds, in percentage points), its noise (the standard deviation of the effect over the seeds) and the
training seconds. The effects:

- 01: training error of the deep plain net minus the shallow one's (the degradation problem);
- 02: training error of the plain net minus its residual twin's;
- 03: 90 % (guessing) minus ResNet-20's test error;
- 05: test error of the ResNet minus the ResNeXt's (positive: ResNeXt better); 05-learns: the smaller of
  the two nets' distance below 90 % test error;
- 07: test error of the original ResNet minus the pre-activation one's (07-train: the same for training
  error).

An effect is clear when it is larger than twice its noise (``live.CLEAR_FACTOR``). The record goes to
``results/fast_mode_signal/<label>.json``, which the notebooks read through
:func:`resnet_lessons.live.read_signal`.

    python benchmarks/fast_mode_signal.py                         # 5 seeds, 2 threads, all experiments
    python benchmarks/fast_mode_signal.py --jobs 2 --threads 1    # two runs at once, 1 thread each (as CI)
    python benchmarks/fast_mode_signal.py --experiments 01 --seeds 0 1 --out /tmp/signal   # a quick look

A network both 01 and 02 train with the same settings and seed (the deep plain net) is trained once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import torch

from resnet_lessons import config, live
from resnet_lessons.data import JPEG_COPY_LABEL, load_cifar10
from resnet_lessons.files import write_json
from resnet_lessons.lab import provenance
from resnet_lessons.models import build_model, display_name
from resnet_lessons.plans import Run, describe
from resnet_lessons.train import fit

CHANCE_ERROR = 90.0  # percent: guessing among 10 classes


def cpu_name() -> str:
    """The processor's model name, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ----------------------------------------------------------------------------------------------
# one training run
# ----------------------------------------------------------------------------------------------

_DATA = None  # CIFAR-10, loaded once per worker process


def train_one(key: str, model_name: str, seed: int, threads: int) -> dict:
    """Train one network of experiment ``key``'s fast settings with ``seed``, as the notebook does."""
    global _DATA
    # fit uses the cores this process may run on, shared out among PYTEST_XDIST_WORKER_COUNT workers
    # (how CI's nbval kernels get one thread each); say how many share them so that fit uses `threads`.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["PYTEST_XDIST_WORKER_COUNT"] = str(max(1, cores // threads))
    if _DATA is None:
        _DATA = load_cifar10(progress=False)
    run = replace(run_of(key, model_name), seed=seed)
    data = live.live_data([run], _DATA, verbose=False)
    load_before = os.getloadavg()[0]
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(run.model)
    config.set_progress(False)
    history = fit(model, data, run.epochs, run.full_recipe(), device="cpu", name=run.name)
    return {
        "model": model_name,
        "seed": seed,
        "train_error": 100 * (1 - history.train_acc[-1]),
        "test_error": 100 * (1 - history.test_acc[-1]),
        "train_error_curve": [round(100 * (1 - a), 2) for a in history.train_acc],
        "test_error_curve": [round(100 * (1 - a), 2) for a in history.test_acc],
        "train_seconds": sum(history.seconds),
        "wall_seconds": time.perf_counter() - wall_started,
        "cpu_seconds": time.process_time() - cpu_started,
        "threads": history.record.device,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def task_of(run: Run, seed: int) -> str:
    """One task per (settings, network, seed): 01's deep plain net and 02's plain net are one task."""
    return repr((replace(run, seed=0), seed))


# ----------------------------------------------------------------------------------------------
# the effects
# ----------------------------------------------------------------------------------------------


def effects_of(key: str, models: tuple[str, ...], runs: dict[tuple[str, int], dict], seeds: list[int]) -> dict:
    """{effect id: (what it measures, [value of each seed])} for experiment ``key``, in points."""
    shown = {m: display_name(m) for m in models}  # "plain-32" in the text, "plain32" as the key

    def per_seed(fn) -> list[float]:
        return [fn({m: runs[(m, s)] for m in models}) for s in seeds]

    if key in ("01", "02"):
        first, second = models
        if key == "01":  # shallow, deep: the deep net's extra training error
            text = f"training error of {shown[second]} minus {shown[first]} (points)"
            return {key: (text, per_seed(lambda r: r[second]["train_error"] - r[first]["train_error"]))}
        text = f"training error of {shown[first]} minus {shown[second]} (points)"  # plain, residual
        return {key: (text, per_seed(lambda r: r[first]["train_error"] - r[second]["train_error"]))}
    if key == "03":
        (model,) = models
        text = f"{CHANCE_ERROR:g} % (guessing) minus the test error of {shown[model]} (points)"
        return {key: (text, per_seed(lambda r: CHANCE_ERROR - r[model]["test_error"]))}
    if key == "05":
        resnet, resnext = models
        return {
            key: (f"test error of {shown[resnet]} minus {shown[resnext]} (points; positive: the ResNeXt is better)",
                  per_seed(lambda r: r[resnet]["test_error"] - r[resnext]["test_error"])),
            f"{key}-learns": (f"{CHANCE_ERROR:g} % minus the higher test error of {shown[resnet]} and "
                              f"{shown[resnext]} (points)",
                              per_seed(lambda r: CHANCE_ERROR - max(r[m]["test_error"] for m in models))),
        }
    if key == "07":
        original, preact = models
        return {
            key: (f"test error of {shown[original]} minus {shown[preact]} (points; positive: pre-activation is better)",
                  per_seed(lambda r: r[original]["test_error"] - r[preact]["test_error"])),
            f"{key}-train": (f"training error of {shown[original]} minus {shown[preact]} (points)",
                             per_seed(lambda r: r[original]["train_error"] - r[preact]["train_error"])),
        }
    raise ValueError(f"no effect defined for experiment {key!r}")


def summarise(values: list[float]) -> dict:
    noise = live.seed_noise(values)
    effect = statistics.fmean(values)
    return {"values": [round(v, 2) for v in values], "effect": round(effect, 2), "noise": round(noise, 2),
            "clear": live.is_clear(effect, noise)}


def run_of(key: str, model: str) -> Run:
    """The fast-mode run of ``model`` in live experiment ``key``."""
    return next(run for run in live.live_plan(key, fast=True) if run.model == model)


def settings_record(runs: tuple[Run, ...]) -> dict:
    """The settings the runs share (their data, length and recipe), with the models and the plan in words."""
    shared = ("train_images", "test_images", "image_size", "epochs", "batch_size")
    return {"models": [run.model for run in runs], **{k: getattr(runs[0], k) for k in shared},
            "recipe": runs[0].full_recipe().optimiser_settings(), "steps": runs[0].steps, "describe": describe(runs)}


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", nargs="+", default=None, help="keys of resnet_lessons.live.LIVE_EXPERIMENTS")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each in its own process)")
    parser.add_argument("--label", default=live.DEFAULT_SIGNAL_LABEL, help="the record's file name")
    parser.add_argument("--out", default=None, help="folder (default: results/fast_mode_signal)")
    parser.add_argument("--resume", action="store_true", help="reuse the runs already in <label>.runs.jsonl")
    args = parser.parse_args(argv)

    keys = args.experiments or list(live.LIVE_EXPERIMENTS)
    unknown = [k for k in keys if k not in live.LIVE_EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiments {unknown}; choose from {sorted(live.LIVE_EXPERIMENTS)}")
    if len(args.seeds) < 2:
        parser.error("the noise is a standard deviation over seeds: give at least two (five for the course's record)")
    out = Path(args.out) if args.out else live.signal_path(args.label).parent
    started = provenance.utc_now()
    load_start = os.getloadavg()
    print(f"{cpu_name()}, {args.jobs} job(s) x {args.threads} thread(s), load average {load_start[0]:.2f}; "
          f"torch {torch.__version__}")

    # One task per (settings, network, seed); 01's deep plain net and 02's plain net are one task.
    tasks: dict[str, tuple[str, str, int]] = {}
    for seed in args.seeds:  # seed by seed, so that a partial log already holds whole comparisons
        for key in keys:
            for run in live.live_plan(key, fast=True):
                tasks.setdefault(task_of(run, seed), (key, run.model, seed))
    # Every finished run is appended to <label>.runs.jsonl at once; a rerun with --resume reuses them.
    runs_path = out / f"{args.label}.runs.jsonl"
    done = {}
    if args.resume and runs_path.is_file():
        for line in runs_path.read_text().splitlines():
            r = json.loads(line)
            done[r["task"]] = r
    elif runs_path.exists():
        runs_path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    todo = {}
    for task, spec in tasks.items():
        if task in done:
            results[task] = done[task]
        else:
            todo[task] = spec
    print(f"{len(tasks)} runs, {len(tasks) - len(todo)} of them already done")

    def finished(task: str, result: dict) -> None:
        result["task"] = task
        results[task] = result
        with open(runs_path, "a") as f:
            f.write(json.dumps(result) + "\n")
        _print_run(result)

    if args.jobs == 1:
        for task, (key, model, seed) in todo.items():
            finished(task, train_one(key, model, seed, args.threads))
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {task: pool.submit(train_one, *spec, args.threads) for task, spec in todo.items()}
            for task, future in futures.items():
                finished(task, future.result())

    experiments = {}
    print(f"\n{'effect':<11} {'mean':>7} {'sd':>7}  clear  {'train s':>8}  what (points, over seeds {args.seeds})")
    for key in keys:
        plan = live.live_plan(key, fast=True)
        models = tuple(run.model for run in plan)
        runs = {(run.model, s): results[task_of(run, s)] for run in plan for s in args.seeds}
        seconds = [sum(runs[(m, s)]["train_seconds"] for m in models) for s in args.seeds]
        for effect_id, (text, values) in effects_of(key, models, runs, args.seeds).items():
            record = {"experiment": key, "notebook": live.LIVE_EXPERIMENTS[key].notebook, "measure": text,
                      **summarise(values), "seconds": round(statistics.fmean(seconds), 1),
                      "seconds_per_seed": [round(s, 1) for s in seconds]}
            experiments[effect_id] = record
            print(f"{effect_id:<11} {record['effect']:>7.1f} {record['noise']:>7.1f}  "
                  f"{'yes' if record['clear'] else 'NO ':<5}  {record['seconds']:>8.0f}  {text}")
        experiments[key]["settings"] = settings_record(plan)
        experiments[key]["runs"] = [runs[(m, s)] for s in args.seeds for m in models]

    git = provenance.git_state()
    record = {
        "command": "python benchmarks/fast_mode_signal.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "noise": live.NOISE,
        "effect": f"mean over the seeds; an effect is clear when it is larger than {live.CLEAR_FACTOR:g} x its noise",
        "provenance": {
            "commit": git["commit"],
            "dirty": git["dirty"],
            "code_fingerprint": provenance.code_fingerprint(),
            "device": f"CPU: {cpu_name()}, {args.threads} thread(s) per run, {args.jobs} run(s) at once",
            "threads": args.threads,
            "jobs": args.jobs,
            "cpu_count": os.cpu_count(),
            "torch": str(torch.__version__),
            "python": platform.python_version(),
            "data": JPEG_COPY_LABEL,
            "seeds": args.seeds,
            "started": started,
            "finished": provenance.utc_now(),
            "load_average_start": [round(v, 2) for v in load_start],
            "load_average_end": [round(v, 2) for v in os.getloadavg()],
            "note": "the machine was shared: training seconds grow with the load average beside them",
        },
        "experiments": experiments,
    }
    previous = out / f"{args.label}.json"
    if previous.is_file():  # keep the experiments not measured now, with where they were measured
        old = json.loads(previous.read_text())
        for key, entry in old.get("experiments", {}).items():
            if key not in experiments:
                entry.setdefault("provenance", old.get("provenance", {}))
                entry.setdefault("command", old.get("command"))
                entry["noise"] = round(live.seed_noise(entry["values"]), 2)  # the current noise statistic
                entry["clear"] = live.is_clear(entry["effect"], entry["noise"])
                experiments[key] = entry
    record["experiments"] = dict(sorted(experiments.items()))
    path = write_json(previous, record)
    print(f"\nwrote {path}")
    return 0


def _print_run(r: dict) -> None:
    print(f"  {r['model']:<20} seed {r['seed']}: training error {r['train_error']:5.1f} %, test error "
          f"{r['test_error']:5.1f} %, {r['train_seconds']:6.1f} s training ({r['threads']}, load "
          f"{r['load_average'][0]:.1f})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
