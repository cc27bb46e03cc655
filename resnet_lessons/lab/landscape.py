"""``python -m resnet_lessons.lab.landscape``: compute the loss surfaces around the course's trained
networks (:mod:`resnet_lessons.trained`) with :mod:`resnet_lessons.landscape`, and store each with its
provenance as ``results/landscape/<model>.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..files import write_json
from ..landscape import (
    evaluation_subset,
    grid,
    images_per_second,
    roughness,
    save_surface,
    surface_2d,
)
from .provenance import command_line, data_facts, environment, git_state, utc_now

STORED_DIR = Path(__file__).resolve().parents[2] / "results" / "landscape"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_lessons.lab.landscape",
        description="Compute the 2-D loss surface around the course's trained networks (resnet_lessons.trained) "
        "and store it with its provenance as results/landscape/<model>.json, plus a figure of all stored ones.",
    )
    parser.add_argument("--models", nargs="+", default=["plain20", "resnet20"],
                        help="trained networks (names that resnet_lessons.trained accepts; default plain20 resnet20)")
    parser.add_argument("--grid", type=int, default=21, help="points per axis, odd (default 21)")
    parser.add_argument("--extent", type=float, default=1.0, help="the grid spans -extent..extent (default 1)")
    parser.add_argument("--images", type=int, default=1000, help="training images to evaluate on (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the directions and of the image subset")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data", default=None, metavar="PATH", help="CIFAR-10 folder (default $RESNET_LESSONS_DATA)")
    parser.add_argument("--out", default=str(STORED_DIR), metavar="DIR",
                        help="output folder (default results/landscape)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..data import load_cifar10
    from ..trained import trained

    args = build_parser().parse_args(argv)
    grid(args.grid)  # check before any work
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data = load_cifar10(args.data)
    out = Path(args.out)
    for name in args.models:
        model, record = trained(name)
        images, labels = evaluation_subset(data, args.images, "train", args.seed, record.mean, record.std)
        speed = images_per_second(model, images, labels)
        points = args.grid**2
        print(f"{name}: {speed:,.0f} images/s, {points} points x {args.images} images: "
              f"about {points * args.images / speed / 60:.1f} min", flush=True)
        started = utc_now()
        surface = surface_2d(model, images, labels, grid(args.grid, args.extent), grid(args.grid, args.extent),
                             seed=args.seed, progress=True)
        surface.meta = {
            "model": name,
            "trained": {"summary": record.summary(), "file": record.file, "sha256": record.sha256,
                        "epochs": record.epochs, "val_acc": record.val_acc, "test_acc": record.test_acc,
                        "command": record.command},
            "grid": f"{args.grid}x{args.grid}",
            "extent": args.extent,
            "images": args.images,
            "split": "train",
            "seed": args.seed,
            "directions": "random Gaussian, filter-normalised; BatchNorm and bias parameters left out (zero)",
            "mode": "eval (BatchNorm running statistics)",
            "command": command_line(argv if argv is not None else sys.argv[1:],
                                    prefix="python -m resnet_lessons.lab.landscape"),
            "started": started,
            "finished": utc_now(),
            "wall_seconds": round(surface.seconds, 1),
            "images_per_second": round(speed),
            "git": git_state(),
            "environment": environment(),
            "data": data_facts(data),
        }
        save_surface(out / f"{name}.json", surface)
        print(f"{name}: {roughness(surface).line()} ({surface.seconds / 60:.1f} min) -> {out / (name + '.json')}",
              flush=True)
    write_json(out / "provenance.json", {"command": command_line(argv if argv is not None else sys.argv[1:],
                                                                 prefix="python -m resnet_lessons.lab.landscape"),
                                         "finished": utc_now(), "models": args.models, "git": git_state()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
