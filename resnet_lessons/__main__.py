"""The command line: ``python -m resnet_lessons train|visdom|experiment|models``.

    python -m resnet_lessons train --model resnet20 --epochs 30 --recipe onecycle --out runs/resnet20
    python -m resnet_lessons train --model resnet20 --epochs 30 --recipe onecycle --out runs/resnet20 --resume
    python -m resnet_lessons visdom --port 8097
    python -m resnet_lessons models
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import torch

from . import config
from .checkpoint import CheckpointError, check_run_folder
from .data import DataNotFoundError, load_cifar10
from .lab import visdom_logger
from .lab.cli import add_arguments as add_experiment_arguments
from .lab.cli import refuse, run_from_args
from .models import build_model, list_models
from .plots import plot_curves, save_figure
from .preflight import SettingsError, check_out_dir, check_out_dir_place, check_settings, checkpoint_bytes
from .recipes import RECIPES, get_recipe
from .train import TrainingDiverged, fit

TRAIN_FLAGS = {  # a setting of fit or of the Recipe -> the train command's flag, to name it in error messages
    "epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "weight_decay": "--weight-decay",
    "label_smoothing": "--label-smoothing", "val_size": "--val-size", "seed": "--seed", "device": "--device",
    "out_dir": "--out", "resume": "--resume", "overwrite": "--overwrite", "switch_hardware": "--switch-hardware",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; ``--help`` shows all their options."""
    parser = argparse.ArgumentParser(
        prog="python -m resnet_lessons", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train the course's networks on CIFAR-10, and serve their curves in visdom.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a network and save its history, checkpoint and curves",
        description="Train a network on CIFAR-10. Writes history.json, checkpoint.pt (after every epoch) "
        "and curves.png into --out, then prints the final test accuracy and the training speed. "
        "Ctrl-C stops after saving; add --resume to the same command to continue.")
    train.add_argument("--model", default="resnet20",
                       help="network name, e.g. resnet20, resnet56, plain20 (see the 'models' command); "
                       "default resnet20")
    train.add_argument("--epochs", type=int, default=30, help="epochs to train (default 30)")
    recipes = "; ".join(r.summary() for r in RECIPES.values()).replace("%", "%%")
    train.add_argument("--recipe", default="onecycle", choices=sorted(RECIPES),
                       help=f"optimiser and learning-rate schedule (default onecycle). {recipes}")
    train.add_argument("--data", default=None, metavar="PATH",
                       help="CIFAR-10 folder (ImageFolder train/ and test/, or torchvision's files); "
                       "default $RESNET_LESSONS_DATA, else a torchvision download")
    train.add_argument("--subset", type=int, default=None, metavar="N",
                       help="train on a stratified subset of N training images (equal per class; "
                       "near-equal when N is not a multiple of the number of classes)")
    train.add_argument("--test-subset", type=int, default=None, metavar="N",
                       help="evaluate on a stratified subset of N test images (default: all of them)")
    train.add_argument("--val-size", type=int, default=0, metavar="N",
                       help="hold out N training images (stratified) as a validation split, evaluated "
                       "every epoch; choose epochs and settings on it, not on the test set (default 0: none)")
    train.add_argument("--out", default=None, metavar="DIR",
                       help="output folder (default runs/ and a name made of every setting given, e.g. "
                       "runs/resnet20-onecycle-30ep-seed0-subset1000)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run saved in --out (same settings as when it started)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run saved in --out (without it, a folder that holds a run is refused)")
    train.add_argument("--switch-hardware", action="store_true",
                       help="with --resume: continue on another device or precision than the run started on "
                       "(recorded in the history)")
    train.add_argument("--batch-size", type=int, default=None, help="override the recipe's batch size")
    train.add_argument("--lr", type=float, default=None, help="override the recipe's (peak) learning rate")
    train.add_argument("--weight-decay", type=float, default=None, help="override the recipe's weight decay")
    train.add_argument("--label-smoothing", type=float, default=None, help="override the recipe's label smoothing")
    train.add_argument("--no-augment", action="store_true", help="train without random crops and flips")
    train.add_argument("--seed", type=int, default=0,
                       help="seed for the initial weights, shuffling and augmentation (default 0)")
    train.add_argument("--device", default=None, help="cuda, cpu, mps... (default: the best available)")
    compiling = train.add_mutually_exclusive_group()
    compiling.add_argument("--no-compile", action="store_true", help="do not torch.compile on a GPU")
    compiling.add_argument("--compile", action="store_true",
                           help="torch.compile on any device, the CPU included (on a CPU it pays in runs of an "
                                "hour or more: about 30 s of compiling for about x1.1)")
    train.add_argument("--visdom", nargs="?", const="resnet_lessons", default=None, metavar="ENV",
                       help="also send the curves to the visdom server on 127.0.0.1:8097, "
                       "environment ENV (default resnet_lessons)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")

    visdom = commands.add_parser(
        "visdom", help="start a visdom server on 127.0.0.1 and print its URL",
        description="Start a visdom server on this computer only (127.0.0.1). The first time, it fetches "
        "the files its web page needs from the npm registry (about 25 MB, kept in <cache>/npm); after that it "
        "works offline. Runs until Ctrl-C.")
    visdom.add_argument("--port", type=int, default=None,
                        help="port (default $RESNET_LESSONS_VISDOM_PORT, else 8097; train --visdom uses the same)")
    visdom.add_argument("--env-path", default=None, help="folder for saved environments (default <cache>/visdom)")

    experiment = commands.add_parser(
        "experiment", help="run one of the course's reference experiments and store its results",
        description="Run named reference experiments with fixed seeds; each writes per-epoch histories (JSON), "
        "a figure (PNG), a summary and a provenance record into results/NAME/.")
    add_experiment_arguments(experiment)

    commands.add_parser("models", help="list the network names --model accepts",
                        description="List the network names that --model accepts.")

    # `python -m resnet_lessons --help` shows every command's options, not only the command names.
    parser.epilog = "\n".join(f"--- python -m resnet_lessons {name} ---\n{sub.format_help()}"
                               for name, sub in commands.choices.items())
    return parser


def _data(args):
    """CIFAR-10 from ``--data``, and the subsets that ``--subset`` and ``--test-subset`` ask for."""
    data = load_cifar10(root=args.data, progress=not args.no_progress)
    if args.subset is not None or args.test_subset is not None:
        try:
            data = data.subset(args.subset, args.test_subset, seed=args.seed)
        except ValueError as e:
            raise ValueError(f"--subset {args.subset} / --test-subset {args.test_subset} cannot be drawn from "
                             f"{data.summary()}: {e}") from None
    return data


def default_run_dir(args) -> Path:
    """``--out``'s default: runs/ and a name made of the settings, so runs with different settings never share
    a folder, e.g. ``runs/resnet20-onecycle-30ep-seed0`` or ``runs/resnet20-onecycle-30ep-seed0-subset1000-val100``."""
    parts = [args.model, args.recipe, f"{args.epochs}ep", f"seed{args.seed}"]
    optional = {"subset": args.subset, "test": args.test_subset, "val": args.val_size or None,
                "bs": args.batch_size, "lr": args.lr, "wd": args.weight_decay, "ls": args.label_smoothing}
    parts += [f"{name}{value:g}" if isinstance(value, float) else f"{name}{value}"
              for name, value in optional.items() if value is not None]
    if args.no_augment:
        parts.append("noaugment")
    if args.data:
        parts.append("data-" + (Path(args.data).expanduser().resolve().name or "root"))
    return Path("runs") / "-".join(parts)


def resume_mode(args) -> bool | str:
    """fit's ``resume`` for --resume, --overwrite and --switch-hardware (SettingsError for two that contradict)."""
    if args.overwrite and args.resume:
        raise SettingsError("--resume and --overwrite contradict each other: continue the run in --out, or "
                            "replace it, not both.")
    if args.switch_hardware and not args.resume:
        raise SettingsError("--switch-hardware only applies to a resumed run: add --resume, or leave it out.")
    return "overwrite" if args.overwrite else "switch-hardware" if args.switch_hardware else args.resume


def _check_train_arguments(args, out: Path):
    """Every check that needs no data, made before loading it (fit checks the data against the model); returns the
    recipe, with the command's overrides, and the model. Raises SettingsError or ValueError."""
    for flag, value in (("--subset", args.subset), ("--test-subset", args.test_subset)):
        if value is not None and value < 1:
            raise SettingsError(f"{flag} {value} holds no images: give 1 or more (e.g. 1000), or leave it out.")
    check_settings(epochs=args.epochs, device=args.device)
    overrides = {"batch_size": args.batch_size, "lr": args.lr, "weight_decay": args.weight_decay,
                 "label_smoothing": args.label_smoothing}
    recipe = replace(get_recipe(args.recipe), seed=args.seed, augment=not args.no_augment, val_size=args.val_size,
                     **{k: v for k, v in overrides.items() if v is not None})  # a bad value fails here
    if config.get_device(args.device).type == "cpu":
        config.cpu_bf16()  # a bad RESNET_LESSONS_CPU_BF16 is a ValueError here, not after the data loads
    if args.visdom is not None:
        visdom_logger.default_port()  # a bad RESNET_LESSONS_VISDOM_PORT, likewise
    check_out_dir_place(out, args.data or config.data_dir())
    check_run_folder(out, resume_mode(args))
    torch.manual_seed(args.seed)  # the model's initial weights
    model = build_model(args.model)  # a misspelt name should not wait for the data
    check_out_dir(out, checkpoint_bytes(model))
    return recipe, model


def train_main(args, argv: list[str]) -> int:
    """``python -m resnet_lessons train``: check, load the data, train, then save the curves and report."""
    out = Path(args.out) if args.out else default_run_dir(args)
    try:
        recipe, model = _check_train_arguments(args, out)
        data = _data(args)
    except (ValueError, DataNotFoundError) as e:  # a SettingsError is a ValueError
        return refuse(e, TRAIN_FLAGS)
    callbacks = [visdom_logger.VisdomLogger(env=args.visdom, name=args.model)] if args.visdom is not None else []
    config.set_progress(not args.no_progress)
    try:
        history = fit(model, data, args.epochs, recipe, name=args.model, out_dir=out, resume=resume_mode(args),
                      callbacks=callbacks, device=args.device,
                      compile=False if args.no_compile else (True if args.compile else None))
    except (SettingsError, CheckpointError, FileNotFoundError) as e:  # found by fit before any training
        return refuse(e, TRAIN_FLAGS)
    except TrainingDiverged as e:
        print(f"error: {e}", *getattr(e, "__notes__", []), file=sys.stderr)
        return 1
    if len(history):
        save_figure(plot_curves({args.model: history}, title=f"{args.model}, {history.record.recipe} recipe"),
                    out / "curves.png")
    if history.record.interrupted:
        if len(history) == 0:  # no epoch finished: there is no checkpoint, so --resume would fail
            again = [a for a in argv if a != "--resume"]
            print(f"To start again: python -m resnet_lessons {shlex.join(again)}", file=sys.stderr)
        else:
            command = "python -m resnet_lessons " + shlex.join(argv)
            print(f"To continue: {command}{'' if args.resume else ' --resume'}", file=sys.stderr)
        return 130
    # The first epoch includes compiling on a GPU: quote the speed of the later ones when there are any.
    speeds = history.images_per_s[1:] or history.images_per_s
    if history.has_validation:
        print(f"final validation accuracy: {history.val_acc[-1]:.2%} ({history.record.val_images} held-out "
              f"training images; best epoch by validation: {history.best_epoch()})")
    print(f"final test accuracy: {history.test_acc[-1]:.2%} ({args.model}, {history.record.recipe} recipe, "
          f"{len(history)} epochs, {history.record.train_images} training images)")
    print(f"training speed: {sum(speeds) / len(speeds):,.0f} images/s on {history.record.device} "
          f"({sum(history.seconds):.1f} s of training)")
    print(f"saved: {out / 'history.json'}, {out / 'checkpoint.pt'}, {out / 'curves.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command that ``argv`` (default: the process's arguments) names; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return train_main(args, argv)
    if args.command == "visdom":
        rest = (["--port", str(args.port)] if args.port is not None else []) + (
            ["--env-path", args.env_path] if args.env_path else [])
        return visdom_logger.server_main(rest)
    if args.command == "experiment":
        return run_from_args(args, argv[1:])
    if args.command == "models":
        print("\n".join(list_models()))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
