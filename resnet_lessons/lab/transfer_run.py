"""The stored transfer experiment: ``python -m resnet_lessons.lab.transfer_run [--out results]``.

1. trains a ResNet-20 on the six animal classes of CIFAR-10 (the source network);
2. for each number of vehicle images per class (``--per-class``), trains a classifier of the four vehicle classes
   three ways: fine-tuning the animal network, the same network from scratch, and a linear probe of the animal
   network's frozen features; and measures each on all 4,000 vehicle test images;
3. writes ``transfer/`` under ``--out``: the animal network (``source_animals.pt``, half precision),
   ``summary.json`` (every setting and accuracy), ``provenance.json`` and ``figure.png``.

Sized for one CPU core (tens of minutes with the defaults).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from .. import transfer
from ..data import load_cifar10
from ..files import read_json, write_json
from ..models import cifar_resnet
from ..plots import save_figure
from ..trained import sha256_of
from .provenance import code_fingerprint, command_line, data_facts, environment, git_state, utc_now


def run(out: Path, source_per_class: int, source_epochs: int, per_class: list[int], target_steps: int,
        fine_tune_lr: float, scratch_lr: float, source_lr: float, seed: int, test_per_class: int | None,
        source_batch: int = 128) -> dict:
    """Run the experiment into ``out/transfer`` (see the module docstring); returns its summary."""
    data = load_cifar10(progress=False)
    started, t0 = utc_now(), time.time()
    code = {"git": git_state(), "code_fingerprint": code_fingerprint()}  # the code as it was when the run started
    source = transfer.class_group(data, transfer.ANIMALS, source_per_class, test_per_class, seed)
    mean, std = source.mean_std()  # the source network's normalisation, used for everything below
    torch.manual_seed(seed)
    net = cifar_resnet(20, num_classes=len(transfer.ANIMALS))
    print(f"source: ResNet-20 on {len(source.train_labels):,} animal images, {source_epochs} epochs", flush=True)
    transfer.train(net, source, source_epochs, mean, std, lr=source_lr, batch_size=source_batch, seed=seed,
                   verbose=True)
    source_acc = transfer.test_accuracy(net, source, mean, std)
    source_seconds = time.time() - t0
    print(f"source test accuracy on the six animals: {source_acc:.1%} ({source_seconds:.0f} s)", flush=True)

    folder = out / "transfer"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()},
               folder / transfer.SOURCE_FILE)
    runs = []
    for n in per_class:
        target = transfer.class_group(data, transfer.VEHICLES, n, test_per_class, seed)
        epochs = transfer.epochs_for_steps(len(target.train_labels), target_steps)
        for method in ("fine-tune", "scratch", "linear probe"):
            t = time.time()
            if method == "fine-tune":
                model = transfer.fine_tune(net, target, epochs, mean, std, lr=fine_tune_lr, seed=seed)
                acc = transfer.test_accuracy(model, target, mean, std)
            elif method == "scratch":
                torch.manual_seed(seed)
                model = transfer.train(cifar_resnet(20, num_classes=len(transfer.VEHICLES)), target, epochs,
                                       mean, std, lr=scratch_lr, seed=seed)
                acc = transfer.test_accuracy(model, target, mean, std)
            else:
                acc = transfer.linear_probe(net, target, mean, std).test_acc
            seconds = time.time() - t
            runs.append({"method": method, "per_class": n, "train_images": len(target.train_labels),
                         "epochs": epochs if method != "linear probe" else None, "test_acc": acc,
                         "test_images": len(target.test_labels), "seconds": round(seconds, 1)})
            print(f"{n:4d} per class, {method:12s}: {acc:.1%} ({seconds:.0f} s)", flush=True)

    summary = {
        "data": data.data_label,
        "source": {"classes": list(transfer.ANIMALS), "depth": 20, "train_images": len(source.train_labels),
                   "test_images": len(source.test_labels), "epochs": source_epochs, "lr": source_lr,
                   "batch_size": source_batch, "recipe": "onecycle", "test_acc": source_acc,
                   "seconds": round(source_seconds), "mean": mean.tolist(), "std": std.tolist(),
                   "file": transfer.SOURCE_FILE, "sha256": sha256_of(folder / transfer.SOURCE_FILE)},
        "target": {"classes": list(transfer.VEHICLES), "steps": target_steps, "batch_size": 32,
                   "recipe": "onecycle", "fine_tune_lr": fine_tune_lr, "scratch_lr": scratch_lr,
                   "linear_probe": "L-BFGS on the standardised pooled features, weight decay 1e-3"},
        "seed": seed,
        "runs": runs,
    }
    write_json(folder / "summary.json", summary)
    write_json(folder / "provenance.json", {
        "command": command_line(prefix="python -m resnet_lessons.lab.transfer_run"),
        "started": started, "written": utc_now(), "wall_seconds": round(time.time() - t0, 1),
        **code, "environment": environment(), "data": data_facts(data),
    })
    draw_figure(summary, folder)
    print(f"wrote {folder}")
    return summary


def draw_figure(summary: dict, folder: Path) -> None:
    """Draw the stored experiment's figure (``summary``: its summary.json) into ``folder/figure.png``."""
    save_figure(transfer.plot_transfer(summary), folder / "figure.png", dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder that gets transfer/ (results)")
    parser.add_argument("--source-per-class", type=int, default=3000, help="animal training images per class")
    parser.add_argument("--source-epochs", type=int, default=6)
    parser.add_argument("--per-class", type=int, nargs="+", default=[25, 100, 400],
                        help="vehicle training images per class, one experiment each")
    parser.add_argument("--target-steps", type=int, default=400, help="SGD steps of each vehicle training run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: leave the other cores alone)")
    parser.add_argument("--smoke", action="store_true", help="every step on a few images, to test the command")
    parser.add_argument("--replot", action="store_true", help="only redraw figure.png from the stored summary.json")
    args = parser.parse_args(argv)
    if args.replot:
        folder = args.out / "transfer"
        draw_figure(read_json(folder / "summary.json"), folder)
        print(f"redrew {folder / 'figure.png'}")
        return 0
    torch.set_num_threads(args.threads)
    sizes = dict(source_per_class=args.source_per_class, source_epochs=args.source_epochs, per_class=args.per_class,
                 target_steps=args.target_steps, test_per_class=None)
    if args.smoke:
        sizes = dict(source_per_class=10, source_epochs=1, per_class=[10], target_steps=2, test_per_class=10,
                     source_batch=32)
    run(args.out, fine_tune_lr=0.02, scratch_lr=0.1, source_lr=0.2, seed=args.seed, **sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
