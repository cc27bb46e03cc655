"""How much faster is the package's trainer than the loop the course starts with? (Not a test.)

Part 1, throughput (images per second of training), for each model, in this one process:

- the seed-style loop of lesson 001: a Dataset of PIL images with torchvision transforms
  (RandomCrop(32, padding=4), ToTensor, Normalize), DataLoader(batch_size=256, num_workers=0),
  fp32, the model not compiled, ``loss.item()`` after every step;
- the package's trainer, :func:`resnet_lessons.train.fit` with the onecycle recipe: data and augmentation
  on the device, bf16 autocast (fp16 on older GPUs), channels-last, torch.compile with CUDA graphs.

Part 2 (``--time-to-accuracy``): ResNet-20 trained with the onecycle recipe and with the paper's recipe on
the same data; prints test accuracy against epochs and against training seconds for both.

    python benchmarks/throughput.py --data /path/to/cifar10-jpeg
    python benchmarks/throughput.py --data /path/to/cifar10-jpeg --time-to-accuracy --epochs-paper 84
    python benchmarks/throughput.py --device cpu --steps 3 --models resnet20      # a quick smoke check
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from resnet_lessons import config
from resnet_lessons.data import load_cifar10
from resnet_lessons.history import History
from resnet_lessons.loader import DeviceLoader
from resnet_lessons.loop import evaluate
from resnet_lessons.models import build_model
from resnet_lessons.recipes import Recipe, get_recipe
from resnet_lessons.train import EVAL_BATCH_SIZE, fit

SEED_BATCH_SIZE = 256


# ----------------------------------------------------------------------------------------------
# the seed-style loop (lesson 001)
# ----------------------------------------------------------------------------------------------

class PILImages(Dataset):
    """CIFAR images as torchvision's CIFAR10 dataset serves them: a PIL image per index, then transforms."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images = images.permute(0, 2, 3, 1).contiguous().numpy()  # [N, H, W, C] uint8, like torchvision's .data
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def seed_style_images_per_s(model: nn.Module, data, device: torch.device, steps: int, warmup: int) -> float:
    """Train ``warmup`` + ``steps`` steps the seed way; images per second over the last ``steps``."""
    mean, std = data.mean_std()
    transform = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.ToTensor(),
        transforms.Normalize(mean.tolist(), std.tolist()),
    ])
    loader = DataLoader(PILImages(data.train_images, data.train_labels, transform),
                        batch_size=SEED_BATCH_SIZE, shuffle=True, num_workers=0, drop_last=True)
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    criterion = nn.CrossEntropyLoss()
    done, running_loss, started = 0, 0.0, None
    while done < warmup + steps:
        for x, y in loader:
            if done == warmup:
                started = time.perf_counter()
            x, y = x.to(device), y.to(device)
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running_loss += loss.item()  # as the seed loop does; this also waits for the GPU
            done += 1
            if done == warmup + steps:
                break
    return steps * SEED_BATCH_SIZE / (time.perf_counter() - started)


# ----------------------------------------------------------------------------------------------
# the package's trainer
# ----------------------------------------------------------------------------------------------

class ProfileSecondEpoch:
    """A fit() callback that records epoch 2 (training and evaluation) with torch.profiler."""

    def __init__(self, device: torch.device):
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        self.profiler = torch.profiler.profile(activities=activities)
        self.sort_by = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"

    def __call__(self, history: History, model: nn.Module) -> None:
        if len(history) == 1:
            self.profiler.start()
        elif len(history) == 2:
            self.profiler.stop()

    def report(self, trace: Path) -> None:
        print(self.profiler.key_averages().table(sort_by=self.sort_by, row_limit=30))
        trace.parent.mkdir(parents=True, exist_ok=True)
        self.profiler.export_chrome_trace(str(trace))
        print(f"profile of epoch 2 written to {trace} (open it in https://ui.perfetto.dev or chrome://tracing)")


def trainer_images_per_s(model: nn.Module, data, device: torch.device, epochs: int, recipe: Recipe,
                         compile: bool, callbacks=()) -> tuple[float, History]:
    """fit() for ``epochs`` epochs; mean images/s of the epochs after the first (which compiles)."""
    config.set_progress(False)
    history = fit(model, data, epochs, recipe, device=device, compile=None if compile else False, callbacks=callbacks)
    speeds = history.images_per_s[1:] or history.images_per_s
    return sum(speeds) / len(speeds), history


def cuda_graph_skips() -> int:
    """How often torch.compile fell back from CUDA graphs (0: every compiled graph ran as a CUDA graph).

    The reasons are logged only on request: run with TORCH_LOGS=cudagraphs to see them.
    """
    from torch._dynamo.utils import counters

    return int(counters["inductor"]["cudagraph_skips"])


def eval_images_per_s(model: nn.Module, data, device: torch.device, repeats: int = 3) -> float:
    """Evaluation speed of the trained model over data's test images (the trainer's evaluation code)."""
    mean, std = data.mean_std()
    loader = DeviceLoader(data.test_images, data.test_labels, EVAL_BATCH_SIZE, mean, std, train=False,
                          device=device, channels_last=device.type in ("cuda", "cpu"))
    amp = config.amp_dtype_for(device)
    evaluate(model, loader, amp)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        evaluate(model, loader, amp)
    return repeats * loader.num_images / (time.perf_counter() - started)


def subset(data, train: int | None, test: int | None, seed: int = 0):
    """A stratified subset (None, or a size at least the split's, keeps a split whole)."""
    classes = len(data.classes)
    train = train if train is not None and train < len(data.train_labels) else None
    test = test if test is not None and test < len(data.test_labels) else None
    # stratified subsets hold the same number of images of every class: round up to a multiple
    train = None if train is None else -(-train // classes) * classes
    test = None if test is None else -(-test // classes) * classes
    return data if train is None and test is None else data.subset(train, test, seed=seed)


def throughput(args, data, device: torch.device, recipe: Recipe) -> None:
    on_gpu = device.type == "cuda"
    train_images = args.trainer_images or (None if on_gpu else args.steps * recipe.batch_size)
    test_images = args.test_images or (None if on_gpu else 500)
    trainer_data = subset(data, train_images, test_images, args.seed)
    rows = []
    for name in args.models.split(","):
        torch.manual_seed(args.seed)
        seed = seed_style_images_per_s(build_model(name), data, device, args.steps, args.warmup)
        torch.manual_seed(args.seed)
        model = build_model(name)
        profile = ProfileSecondEpoch(device) if args.profile and args.trainer_epochs >= 2 else None
        skips_before = cuda_graph_skips()
        fast, history = trainer_images_per_s(model, trainer_data, device, args.trainer_epochs, recipe,
                                             not args.no_compile, callbacks=[profile] if profile else [])
        skips = cuda_graph_skips() - skips_before
        evaluation = eval_images_per_s(model, trainer_data, device)
        rows.append((name, seed, fast, fast / seed, evaluation))
        print(f"{name}: seed-style {seed:,.0f} img/s, trainer {fast:,.0f} img/s "
              f"(per epoch: {', '.join(f'{v:,.0f}' for v in history.images_per_s)}), eval {evaluation:,.0f} img/s",
              flush=True)
        if device.type == "cuda" and history.record.compiled:
            print(f"{name}: CUDA graph skips during training: {skips}"
                  + (" (see why with TORCH_LOGS=cudagraphs)" if skips else " (forward and backward ran as graphs)"))
        if profile:
            profile.report(Path(args.out) / f"trace-{name}.json")
    record = history.record
    print()
    print(f"device: {record.device}; torch {torch.__version__}")
    print(f"seed-style loop: fp32, batch {SEED_BATCH_SIZE}, PIL + torchvision transforms, DataLoader(num_workers=0), "
          f"{args.steps} timed steps after {args.warmup} warm-up steps")
    print(f"trainer: {recipe.summary()}; {record.precision}, compiled: {record.compiled}, "
          f"{record.train_images} images per epoch, mean of epochs 2..{args.trainer_epochs}")
    print()
    print(f"{'model':<10} {'seed-style img/s':>17} {'trainer img/s':>14} {'ratio':>7} {'eval img/s':>11}")
    for name, seed, fast, ratio, evaluation in rows:
        print(f"{name:<10} {seed:>17,.0f} {fast:>14,.0f} {ratio:>6.1f}x {evaluation:>11,.0f}")


# ----------------------------------------------------------------------------------------------
# time to accuracy
# ----------------------------------------------------------------------------------------------

def parse_settings(pairs: list[str]) -> dict:
    """['lr=0.2', 'batch_size=256'] -> {'lr': 0.2, 'batch_size': 256}, typed like Recipe's fields."""
    types = {f.name: f.type for f in dataclasses.fields(Recipe)}
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in types or key == "name":
            raise SystemExit(f"--*-set {pair!r}: unknown recipe field; fields: {sorted(set(types) - {'name'})}")
        kind = types[key]
        if kind == "bool":
            out[key] = value.lower() in ("1", "true", "yes")
        elif kind == "int":
            out[key] = int(value)
        elif kind == "str":
            out[key] = value
        elif kind.startswith("tuple"):
            out[key] = tuple(float(v) for v in value.split(","))
        else:
            out[key] = float(value)
    return out


def first_reaching(history: History, target: float) -> tuple[int, float] | None:
    """(epoch, cumulative training seconds) when test accuracy first reached ``target``."""
    for epoch, acc, elapsed in zip(history.epoch, history.test_acc, history.elapsed, strict=True):
        if acc >= target:
            return epoch, elapsed
    return None


def time_to_accuracy(args, data, device: torch.device, onecycle: Recipe, paper: Recipe) -> None:
    out = Path(args.out)
    histories = {}
    for recipe, epochs in ((onecycle, args.epochs_onecycle), (paper, args.epochs_paper)):
        if epochs == 0:  # e.g. tuning the onecycle recipe against a known --target
            continue
        torch.manual_seed(args.seed)
        model = build_model("resnet20")
        print(f"\nResNet-20, {recipe.summary()}, {epochs} epochs", flush=True)
        config.set_progress(not args.no_progress)
        history = fit(model, data, epochs, replace(recipe, seed=args.seed), device=device,
                      compile=False if args.no_compile else None, name=f"resnet20 {recipe.name}")
        history.save(out / f"resnet20-{recipe.name}.json")
        histories[recipe.name] = history
        print(f"{'epoch':>5} {'seconds':>8} {'test acc':>8}")
        for epoch, elapsed, acc in zip(history.epoch, history.elapsed, history.test_acc, strict=True):
            print(f"{epoch:>5} {elapsed:>8.1f} {acc:>8.2%}")
    if not histories:
        return

    if args.target is not None:
        target, what = args.target, f"--target {args.target:.2%}"
    elif "paper" in histories:
        target, what = histories["paper"].test_acc[-1], "the paper recipe's final test accuracy"
    else:
        target, what = None, ""
    print(f"\n{'recipe':<8} {'epochs':>6} {'final acc':>9} {'best acc':>8} {'train s':>8} {'epoch-1 s':>9}"
          f" {'reaches target':>20}")
    for label, h in histories.items():
        hit = first_reaching(h, target) if target is not None else None
        where = f"epoch {hit[0]} ({hit[1]:.0f} s)" if hit else "no"
        print(f"{label:<8} {len(h):>6} {h.test_acc[-1]:>9.2%} {max(h.test_acc):>8.2%} {sum(h.seconds):>8.1f}"
              f" {h.seconds[0]:>9.1f} {where:>20}")
    first = next(iter(histories.values()))
    if target is not None:
        print(f"(target: {what}, {target:.2%})")
    print(f"('epoch-1 s' includes compiling; data: {first.record.data}, {first.record.train_images} training images;"
          f" device: {first.record.device})")
    named = {f"resnet20 {k}": h for k, h in histories.items()}
    try:
        from resnet_lessons.plots import plot_curves, save_figure

        for x in ("epoch", "seconds"):
            save_figure(plot_curves(named, x=x, title="ResNet-20: onecycle vs paper recipe"),
                        out / f"time-to-accuracy-{x}.png")
        print(f"histories and curves saved in {out}")
    except Exception as e:  # the numbers above matter more than the figure
        print(f"could not draw the curves: {e}")
    summary = {k: {"final_test_acc": h.test_acc[-1], "best_test_acc": max(h.test_acc),
                   "train_seconds": sum(h.seconds), "epochs": len(h), "recipe": h.record.recipe_settings}
               for k, h in named.items()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "time-to-accuracy.json").write_text(json.dumps(summary, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="CIFAR-10 folder (default $RESNET_LESSONS_DATA)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: the best available)")
    parser.add_argument("--models", default="resnet20,resnet56", help="comma-separated (default resnet20,resnet56)")
    parser.add_argument("--steps", type=int, default=100, help="timed steps of the seed-style loop (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed seed-style steps first (default 5)")
    parser.add_argument("--trainer-epochs", type=int, default=3,
                        help="trainer epochs; the first (compiling) is not counted (default 3)")
    parser.add_argument("--trainer-images", type=int, default=None,
                        help="training images per trainer epoch (default: all on a GPU, steps x batch elsewhere)")
    parser.add_argument("--test-images", type=int, default=None,
                        help="test images for the evaluation (throughput default: all on a GPU, 500 elsewhere;"
                        " time to accuracy default: all)")
    parser.add_argument("--no-compile", action="store_true", help="trainer without torch.compile")
    parser.add_argument("--profile", action="store_true",
                        help="profile the trainer's second epoch: print the top operations, save a trace in --out")
    parser.add_argument("--time-to-accuracy", action="store_true",
                        help="instead of throughput: ResNet-20 with the onecycle and the paper recipe")
    parser.add_argument("--epochs-onecycle", type=int, default=30,
                        help="epochs of the onecycle recipe (default 30; 0 skips it)")
    parser.add_argument("--epochs-paper", type=int, default=84,
                        help="epochs of the paper recipe (default 84; 0 skips it)")
    parser.add_argument("--onecycle-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change a field of the onecycle recipe, e.g. --onecycle-set lr=0.3 "
                        "--onecycle-set batch_size=512")
    parser.add_argument("--target", type=float, default=None,
                        help="accuracy (0..1) to time against (default: the paper recipe's final accuracy)")
    parser.add_argument("--paper-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change a field of the paper recipe")
    parser.add_argument("--subset", type=int, default=None, help="time-to-accuracy on N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", default="runs/benchmark", help="folder for histories and figures")
    args = parser.parse_args(argv)

    device = config.get_device(args.device)
    if device.type == "cpu":
        config.set_cpu_threads()
    data = load_cifar10(root=args.data)
    print(f"data: {data.source}; {len(data.train_labels)} train / {len(data.test_labels)} test images")
    onecycle = replace(get_recipe("onecycle"), **parse_settings(args.onecycle_set))
    paper = replace(get_recipe("paper"), **parse_settings(args.paper_set))
    if args.time_to_accuracy:
        time_to_accuracy(args, subset(data, args.subset, args.test_images, args.seed), device, onecycle, paper)
    else:
        throughput(args, data, device, onecycle)


if __name__ == "__main__":
    main()
