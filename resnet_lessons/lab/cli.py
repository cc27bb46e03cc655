"""``python -m resnet_lessons experiment``: the command line of the reference experiments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import default_results_dir
from ..preflight import SettingsError, check_device, check_seed
from . import provenance
from .experiments import EXPERIMENTS, RunsDiverged, check_not_mixing, load_data, replot_experiment, run_experiment
from .plans import FULL_EPOCHS, SMOKE_TRAIN_IMAGES
from .store import FIGURE_FILE, HISTORIES_FILE, PROVENANCE_FILE, SUMMARY_FILE


def default_out(smoke: bool, update_stored: bool = False) -> Path:
    """Where results go by default: runs/experiments (runs/experiments-smoke for --smoke); the course's stored
    results (results/) only with ``--update-stored``."""
    if update_stored:
        return default_results_dir()
    return Path("runs") / ("experiments-smoke" if smoke else "experiments")


def check_out(args: argparse.Namespace) -> Path:
    """The results folder the parsed arguments name; ValueError when they would write into the course's stored
    results without ``--update-stored``, or mix that flag with ``--smoke`` or ``--out``."""
    if args.update_stored and (args.smoke or args.out):
        raise ValueError(f"--update-stored writes the course's stored results ({default_results_dir()}); it does not "
                         f"go with {'--smoke (a smoke run is not a result)' if args.smoke else '--out'}.")
    out = Path(args.out) if args.out else default_out(args.smoke, args.update_stored)
    stored = default_results_dir().resolve()
    if not args.update_stored and out.resolve().is_relative_to(stored):
        raise ValueError(f"--out {out} is the course's stored results: add --update-stored (without --out) to "
                         f"change them, or write elsewhere (the default is {default_out(args.smoke)}).")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m resnet_lessons experiment``."""
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help=f"experiments to run, in order: {', '.join(EXPERIMENTS)}, or 'all'")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run on any CPU that checks the whole pipeline in about a minute "
                        f"(≤{SMOKE_TRAIN_IMAGES} training images, 1 epoch, depths 8 and 14); not a result. "
                        "Default output runs/experiments-smoke")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"epochs of every training run (default {FULL_EPOCHS}; the seed-001 baseline keeps its "
                        "20 and the gradients experiment its 2)")
    parser.add_argument("--models", default=None, metavar="A,B",
                        help="only these runs of the experiment (run names such as 'resnet-110', or model names)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="results folder; each experiment writes DIR/NAME (default runs/experiments, or "
                        "runs/experiments-smoke with --smoke)")
    parser.add_argument("--update-stored", action="store_true",
                        help="write into the course's stored results (results/NAME), adding runs of the same "
                        "settings or replacing them; without it nothing under results/ changes")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="CIFAR-10 folder or .tar.gz (default $RESNET_LESSONS_DATA, else a torchvision download)")
    parser.add_argument("--seed", type=int, default=0, help="added to every run's seed (default 0)")
    parser.add_argument("--no-reuse", action="store_true",
                        help="train every run again even if the same run is stored (to check reproduction)")
    parser.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                        help="torch.compile the models: auto = on a GPU only (default)")
    parser.add_argument("--device", default=None, help="cuda, cpu... (default: the best available)")
    parser.add_argument("--dry-run", action="store_true", help="print the runs and what would be reused; train nothing")
    parser.add_argument("--replot", action="store_true",
                        help="only write figure, summary and provenance again from the stored histories "
                        "(no data, no training)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def experiment_main(argv: list[str]) -> int:
    """``python -m resnet_lessons experiment NAME [NAME ...] [options]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m resnet_lessons experiment", description="Run the course's "
                                     "reference experiments and store histories, figure, summary and provenance.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv), argv)


def refuse(error: Exception, flags: dict[str, str] | None = None, status: int = 2) -> int:
    """Print ``error: <why>`` to stderr (a SettingsError names the command's ``flags``, e.g. {"seed": "--seed"});
    returns ``status``, the exit status (2: the command cannot run)."""
    print(f"error: {error.spelled(flags) if isinstance(error, SettingsError) else error}", file=sys.stderr)
    return status


def run_from_args(args: argparse.Namespace, argv: list[str]) -> int:
    """Run the experiments that parsed ``args`` name (``argv``, the words after ``experiment``, is recorded)."""
    from ..data import DataNotFoundError

    names = list(EXPERIMENTS) if args.names == ["all"] else args.names
    try:
        unknown = [n for n in names if n not in EXPERIMENTS]
        if unknown:
            raise ValueError(f"unknown experiment {', '.join(map(repr, unknown))}; choose from "
                             f"{', '.join(EXPERIMENTS)} or 'all'.")
        if args.epochs is not None and args.epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {args.epochs}.")
        check_seed(args.seed)
        check_device(args.device)
        out_dir = check_out(args)
        if args.replot:
            for name in names:
                if args.names == ["all"] and not (out_dir / name / HISTORIES_FILE).exists():
                    continue
                folder = replot_experiment(name, out_dir)
                print(f"{name}: wrote {folder / FIGURE_FILE}, {SUMMARY_FILE}, {PROVENANCE_FILE}")
            return 0
        selection = select_runs(names, args.models, args.smoke)
        data = load_data(args.data, args.smoke, progress=not args.no_progress)
        for name in selection:  # every experiment's folder, before any training
            check_not_mixing(name, data, out_dir, args.smoke, args.epochs, args.seed, args.device)
    except (ValueError, FileNotFoundError, DataNotFoundError) as e:  # a SettingsError is a ValueError
        return refuse(e, {"seed": "--seed", "device": "--device"})
    command = provenance.command_line(["experiment", *argv])
    compile = {"auto": None, "on": True, "off": False}[args.compile]
    print(f"data: {data.summary()}; results into {out_dir}", flush=True)
    status = 0
    for name, models in selection.items():
        try:
            folder = run_experiment(name, data, out_dir, smoke=args.smoke, epochs=args.epochs, models=models,
                                    seed=args.seed, reuse=not args.no_reuse, device=args.device, compile=compile,
                                    progress=not args.no_progress, command=command, dry_run=args.dry_run)
        except RunsDiverged as e:
            status = refuse(e, status=1)
            continue
        except KeyboardInterrupt:
            print(f"{name}: stopped by the keyboard; finished runs are stored in {out_dir / name} "
                  "and the same command continues from them.", file=sys.stderr)
            return 130
        if not args.dry_run:
            print(f"{name}: wrote {folder / HISTORIES_FILE}, {FIGURE_FILE}, {SUMMARY_FILE}, {PROVENANCE_FILE}")
    return status


def select_runs(names: list[str], models: str | None, smoke: bool) -> dict[str, list[str] | None]:
    """{experiment: the --models names that are its runs (None: all of its runs)}; an experiment with none of
    them is skipped, and a name that is a run of none of the experiments is a ValueError."""
    if not models:
        return {name: None for name in names}
    wanted = [m.strip() for m in models.split(",") if m.strip()]
    selection, known = {}, set()
    for name in names:
        runs = EXPERIMENTS[name].plan(smoke)
        names_here = {r.name for r in runs} | {r.model for r in runs}
        known |= names_here
        kept = [m for m in wanted if m in names_here]
        if kept:
            selection[name] = kept
    missing = [m for m in wanted if m not in known]
    if missing:
        raise ValueError(f"--models {', '.join(map(repr, missing))}: no such run in {', '.join(names)}. "
                         "Use run names such as 'resnet-110' or model names such as 'resnet110' "
                         "(--dry-run lists the runs).")
    return selection


if __name__ == "__main__":
    sys.exit(experiment_main(sys.argv[1:]))
