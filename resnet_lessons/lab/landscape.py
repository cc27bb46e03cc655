"""``python -m resnet_lessons.lab.landscape``: compute the loss surfaces around the course's trained networks
(:mod:`resnet_lessons.landscape`) and store each as ``<out>/<model>.json``, beside a ``provenance.json``.

With each surface go the line from the network's initial weights to its trained ones, Goodfellow et al. 2015
(``meta["interpolation"]``), and the curvatures along random directions (``meta["curvatures"]``). A 56-layer
surface takes 40 to 60 minutes of one CPU thread: each row is saved for ``--resume``.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from pathlib import Path

import numpy as np
import torch

from ..files import replaced_folder, write_json
from ..landscape import (
    Surface,
    centre_curvatures,
    evaluation_subset,
    grid,
    images_per_second,
    interpolate,
    largest_rise,
    load_surface,
    roughness,
    save_surface,
    surface_2d,
)
from ..models import build_model
from ..preflight import SEED_MAX
from .provenance import command_line, data_facts, environment, git_state, utc_now

STORED_DIR = Path(__file__).resolve().parents[2] / "results" / "landscape"
DEFAULT_OUT = Path("runs") / "landscape"
DEFAULT_PARTIAL = Path("checkpoints") / "landscape"
SETTINGS = ("grid", "extent", "images", "split", "seed")  # what makes two surfaces comparable (and the data)
PREFIX = "python -m resnet_lessons.lab.landscape"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PREFIX, description="Compute the 2-D loss surface around the course's trained networks "
        "(resnet_lessons.trained) and store each as <out>/<model>.json, with a provenance.json that describes every "
        "surface in the folder. Writes into runs/landscape unless told --update-stored (the course's "
        "results/landscape).")
    parser.add_argument("--models", nargs="+", default=["plain20", "resnet20"],
                        help="trained networks (names that resnet_lessons.trained accepts; default plain20 resnet20)")
    parser.add_argument("--grid", type=int, default=21, help="points per axis, odd (default 21)")
    parser.add_argument("--extent", type=float, default=1.0, help="the grid spans -extent..extent (default 1)")
    parser.add_argument("--images", type=int, default=1000, help="training images to evaluate on (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the directions and of the image subset")
    parser.add_argument("--line", type=int, default=41,
                        help="points of the line from the initial to the trained weights, alpha from -0.5 to 1.5 "
                        "(default 41, a step of 0.05; 0: no line)")
    parser.add_argument("--directions", type=int, default=20,
                        help="random directions along which the curvature at the network is measured, stored "
                        "with the surface (default 20; 0: none)")
    parser.add_argument("--curvatures-only", action="store_true",
                        help="measure only the curvatures (--directions) of the stored surfaces of --models in the "
                        "output folder and add them to those surfaces, whose grids are left as they are")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data", default=None, metavar="PATH", help="CIFAR-10 folder (default $RESNET_LESSONS_DATA)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"output folder (default {DEFAULT_OUT}; results/landscape with --update-stored)")
    parser.add_argument("--update-stored", action="store_true",
                        help="write into the course's stored surfaces, results/landscape (replacing those models')")
    parser.add_argument("--partial", default=str(DEFAULT_PARTIAL), metavar="DIR",
                        help=f"where each surface so far is saved after every row of the grid (default "
                        f"{DEFAULT_PARTIAL}); deleted when the surface is stored")
    parser.add_argument("--resume", action="store_true",
                        help="continue the partial surfaces in --partial (same settings, same networks)")
    return parser


def check_arguments(args: argparse.Namespace) -> Path:
    """Every check of the parsed arguments that needs no data, before any work; returns the output folder.
    Raises ValueError naming the flag and what to give instead."""
    if args.grid < 1 or args.grid % 2 == 0:
        raise ValueError(f"--grid {args.grid}: give an odd number of points per axis, 3 or more (e.g. 21), so "
                         "that the grid holds the trained weights at its centre.")
    if not (math.isfinite(args.extent) and args.extent > 0):
        raise ValueError(f"--extent {args.extent}: give a number above 0 (e.g. 1), the grid's half-width in "
                         "filter-normalised units.")
    if args.line != 0 and (args.line < 5 or (args.line - 1) % 4):
        raise ValueError(f"--line {args.line}: give 0 (no line) or a number of points n with n - 1 divisible by 4 "
                         "(e.g. 21 or 41), so that alpha = 0 and alpha = 1 are among them.")
    if args.directions != 0 and args.directions < 2:
        raise ValueError(f"--directions {args.directions}: give 0 (no curvatures) or 2 or more (e.g. 20).")
    if args.curvatures_only and args.directions == 0:
        raise ValueError("--curvatures-only with --directions 0 has nothing to do: give --directions 20, say.")
    if args.curvatures_only and args.resume:
        raise ValueError("--curvatures-only adds to finished surfaces; it has nothing to resume: leave out --resume.")
    if args.images < 1:
        raise ValueError(f"--images {args.images}: give 1 or more training images to evaluate on (e.g. 1000).")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads {args.threads}: give 1 or more, or leave it out for torch's choice.")
    if not 0 <= args.seed <= SEED_MAX:
        raise ValueError(f"--seed {args.seed} is not a seed: give a whole number from 0 to {SEED_MAX:,}.")
    repeated = sorted({m for m in args.models if args.models.count(m) > 1})
    if repeated:
        raise ValueError(f"--models names {', '.join(repeated)} more than once; name each network once.")
    out = Path(args.out) if args.out else (STORED_DIR if args.update_stored else DEFAULT_OUT)
    if not args.update_stored and out.resolve().is_relative_to(STORED_DIR.resolve()):
        raise ValueError(f"--out {out} is the course's stored surfaces: add --update-stored to replace them, or "
                         f"write elsewhere (the default is {DEFAULT_OUT}).")
    return out


def differences(meta: dict, settings: dict, sha256: str | None = None) -> list[str]:
    """How a stored surface (its ``meta``) differs from this command's ``settings`` and, given ``sha256``, from its
    shipped network, e.g. ["images 20 (this command: 10)"]; [] when it is the same."""
    stored = {**{k: meta.get(k) for k in SETTINGS}, "data": (meta.get("data") or {}).get("label")}
    different = [f"{k} {stored[k]} (this command: {settings[k]})" for k in settings if stored[k] != settings[k]]
    if sha256 is not None and meta.get("trained", {}).get("sha256") != sha256:
        different.append("the shipped network (its file has changed since)")
    return different


def check_not_mixing(out: Path, models: list[str], settings: dict) -> None:
    """ValueError when ``out`` holds a surface of another model computed with other ``settings``: one folder
    holds comparable surfaces only (the figure and the notebook set them side by side)."""
    clashes = []
    for path in sorted(out.glob("*.json")):
        if path.name == "provenance.json" or path.stem in models:
            continue
        different = differences(load_surface(path).meta, settings)
        if different:
            clashes.append(f"{path.name}: {', '.join(different)}")
    if clashes:
        raise ValueError(f"{out} holds surfaces computed with other settings, which this command's would sit beside: "
                         f"{'; '.join(clashes)}. Use another --out, or recompute those models too (--models) with "
                         "the same settings.")


def check_partial(path: Path, name: str, settings: dict, sha256: str, resume: bool) -> Surface | None:
    """The partial surface of ``name`` at ``path`` to continue (None: start from the first row). ValueError if
    one is there without ``resume`` (it would be overwritten), or if it was computed with other settings or on
    another network than this command's."""
    if not path.exists():
        return None
    partial = load_surface(path)
    rows = f"{partial.meta.get('rows_done')} of {len(partial.ys)} rows, started {partial.meta.get('started')}"
    if not resume:
        raise ValueError(f"{path} holds a partial surface of {name} ({rows}): add --resume to continue it, or "
                         "delete it to start again.")
    different = differences(partial.meta, settings, sha256)
    if different:
        raise ValueError(f"{path} ({rows}) was computed with other settings: {', '.join(different)}. Resume "
                         "with the settings it was started with, or delete it to start again.")
    return partial


def already_stored(path: Path, settings: dict, sha256: str) -> bool:
    """Whether ``path`` holds a finished surface of this shipped network with these settings (kept by --resume)."""
    return path.is_file() and not differences(load_surface(path).meta, settings, sha256)


def save_partial(path: Path, meta: dict, so_far: Surface) -> None:
    """Save the surface computed so far (``so_far.meta["rows_done"]`` rows) with what it is, for --resume."""
    so_far.meta.update(meta)
    save_surface(path, so_far)


def store_surface(out: Path, name: str, surface: Surface) -> None:
    """Save ``surface`` as ``out/<name>.json`` and rewrite ``out/provenance.json`` (for every surface in ``out``,
    the command that made it, when, and from which commit): both, or neither."""
    with replaced_folder(out) as new:
        save_surface(new / f"{name}.json", surface)
        surfaces = {}
        for path in sorted(new.glob("*.json")):
            if path.name == "provenance.json":
                continue
            meta = load_surface(path).meta
            surfaces[path.stem] = {k: meta.get(k) for k in ("command", "started", "finished", "git", "grid", "images")}
            if meta.get("resumed"):  # computed in pieces: the commands that continued it
                surfaces[path.stem]["resumed"] = meta["resumed"]
            if meta.get("curvatures"):  # measured by the same command or added later
                surfaces[path.stem]["curvatures"] = {k: meta["curvatures"][k] for k in ("command", "finished", "git")}
        write_json(new / "provenance.json", {"models": sorted(surfaces), "surfaces": surfaces})


def measure_curvatures(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, args: argparse.Namespace,
                       command: str, git: dict) -> dict:
    """The curvatures at the network along ``args.directions`` directions, with the grid's step and seed, and
    what made them (``meta["curvatures"]`` of a stored surface)."""
    step = 2 * args.extent / (args.grid - 1)
    values = centre_curvatures(model, images, labels, args.directions, step, args.seed)
    return {"values": values.tolist(), "directions": args.directions, "step": step,
            "seeds": f"{args.seed} to {args.seed + args.directions - 1} (the first two are the surface's d1 and d2)",
            "mean": float(values.mean()), "sd": float(values.std(ddof=1)),
            "command": command, "git": git, "finished": utc_now()}


def curvature_line(name: str, curvatures: dict) -> str:
    """One line for the log, e.g. "plain56: curvature at the network 7.04 (sd 2.04 over 20 random directions)"."""
    return (f"{name}: curvature at the network {curvatures['mean']:.2f} (sd {curvatures['sd']:.2f} over "
            f"{curvatures['directions']} random directions)")


def add_curvatures(out: Path, networks: dict, data, args: argparse.Namespace, command: str) -> None:
    """``--curvatures-only``: add the curvatures to the stored surfaces of ``networks`` in ``out`` (each computed
    with this command's settings on the same shipped network, as main checks before any is measured)."""
    git = git_state()
    for name, (model, record) in networks.items():
        surface = load_surface(out / f"{name}.json")
        images, labels = evaluation_subset(data, args.images, "train", args.seed, record.mean, record.std)
        surface.meta["curvatures"] = measure_curvatures(model, images, labels, args, command, git)
        store_surface(out, name, surface)
        print(f"{curvature_line(name, surface.meta['curvatures'])} -> {out / (name + '.json')}", flush=True)


def main(argv: list[str] | None = None) -> int:
    from ..data import DataNotFoundError, load_cifar10
    from ..trained import TrainedNetworkError, trained

    args = build_parser().parse_args(argv)
    command = command_line(argv if argv is not None else sys.argv[1:], prefix=PREFIX)
    partial_dir = Path(args.partial)
    try:
        out = check_arguments(args)
        networks = {name: trained(name) for name in args.models}  # every name checked before any surface
        data = load_cifar10(args.data)
        settings = {"grid": f"{args.grid}x{args.grid}", "extent": args.extent, "images": args.images,
                    "split": "train", "seed": args.seed, "data": data_facts(data)["label"]}
        check_not_mixing(out, args.models, settings)
        partials = {name: check_partial(partial_dir / f"{name}.json", name, settings, record.sha256, args.resume)
                    for name, (_, record) in networks.items()}
        for name, (_, record) in networks.items():
            if args.curvatures_only and not already_stored(out / f"{name}.json", settings, record.sha256):
                wanted = ", ".join(f"{k} {v}" for k, v in settings.items())
                raise ValueError(f"{out / (name + '.json')} holds no surface of the shipped {name} computed with these "
                                 f"settings ({wanted}): compute the surface first (without --curvatures-only), or "
                                 "give the settings it was computed with.")
    except (ValueError, FileNotFoundError, TrainedNetworkError, DataNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.curvatures_only:
        add_curvatures(out, networks, data, args, command)
        return 0
    git = git_state()  # the code as it was when the command started, not when a later surface is saved
    for name, (model, record) in networks.items():
        path, partial_path = out / f"{name}.json", partial_dir / f"{name}.json"
        if args.resume and partials[name] is None and already_stored(path, settings, record.sha256):
            print(f"{name}: its surface is stored already ({path}); left as it is", flush=True)
            continue
        images, labels = evaluation_subset(data, args.images, "train", args.seed, record.mean, record.std)
        speed = images_per_second(model, images, labels)
        done = partials[name]
        rows_left = args.grid - (done.meta["rows_done"] if done else 0)
        print(f"{name}: {speed:,.0f} images/s, {rows_left * args.grid} points x {args.images} images: "
              f"about {rows_left * args.grid * args.images / speed / 60:.1f} min", flush=True)
        trained_facts = {"summary": record.summary(), "file": record.file, "sha256": record.sha256,
                         "epochs": record.epochs, "val_acc": record.val_acc, "test_acc": record.test_acc,
                         "command": record.command}
        network = {"model": name, "trained": trained_facts, **{k: settings[k] for k in SETTINGS}}
        # who started the surface: this command, or the one whose partial surface it continues
        begun = done.meta if done else {"command": command, "started": utc_now(), "git": git}
        first = {k: begun[k] for k in ("command", "started", "git")}
        resumed = (done.meta.get("resumed", []) + [{"command": command, "git": git}]) if done else []
        partial = {**network, "data": {"label": settings["data"]}, **first, "resumed": resumed}
        axis = grid(args.grid, args.extent)
        try:
            surface = surface_2d(model, images, labels, axis, axis, seed=args.seed, progress=True, done=done,
                                 after_row=functools.partial(save_partial, partial_path, partial))
        except KeyboardInterrupt:
            print(f"\n{name}: stopped; the rows finished so far are in {partial_path}. Continue with the same "
                  "command and --resume.", file=sys.stderr)
            return 130
        if args.line:
            alphas = np.linspace(-0.5, 1.5, args.line)  # 0 and 1 among them: (args.line - 1) is divisible by 4
            torch.manual_seed(record.seed)  # the weights before training, rebuilt as training built them
            initial = build_model(record.model, **record.model_kwargs).eval()
            line = interpolate(initial, model, images, labels, alphas)
            interpolation = {"alphas": line.alphas.tolist(), "losses": line.losses.tolist(),
                             "accuracies": line.accuracies.tolist(), "largest_rise": largest_rise(line),
                             "initial": f"torch.manual_seed({record.seed}); build_model({record.model!r}"
                                        + "".join(f", {k}={v!r}" for k, v in record.model_kwargs.items()) + ")",
                             "seconds": round(line.seconds, 1)}
        surface.meta = {
            **network,
            "directions": "random Gaussian, filter-normalised; BatchNorm and bias parameters left out (zero)",
            "mode": "eval (BatchNorm running statistics)",
            **first,
            **({"resumed": resumed} if resumed else {}),
            "finished": utc_now(),
            "wall_seconds": round(surface.seconds, 1),
            "images_per_second": round(speed),
            "environment": environment(),
            "data": data_facts(data),
            **({"interpolation": interpolation} if args.line else {}),
        }
        if args.directions:
            surface.meta["curvatures"] = measure_curvatures(model, images, labels, args, command, git)
        store_surface(out, name, surface)
        partial_path.unlink(missing_ok=True)
        print(f"{name}: {roughness(surface).line()} ({surface.seconds / 60:.1f} min) -> {path}", flush=True)
        if args.directions:
            print(curvature_line(name, surface.meta["curvatures"]), flush=True)
        if args.line:
            print(f"{name}: from the initial to the trained weights, the loss climbs at most "
                  f"{interpolation['largest_rise']:.3f} above its lowest value so far", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
