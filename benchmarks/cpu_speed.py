"""Which CPU switches make training faster without changing what it learns? (Not a test.)

Trains one network from the same start for the same steps under each variant, on the CPU:

- precision: fp32 (what fit does on the CPU today) or bf16 autocast (the forward pass in bfloat16;
  CPUs with AVX-512 BF16 or AMX compute it natively);
- memory layout: channels-last (N, H, W, C in memory, what fit uses) or the default (N, C, H, W);
- ``torch.compile`` of the forward pass and the loss (mode "default": no CUDA graphs on a CPU).

For each it prints images per second of training (wall clock, steps after the first few, so compiling
is left out and reported apart), images per CPU-second (steadier on a shared machine), and the test
accuracy after the run (bf16 must not cost accuracy), with the load average beside the timings.

    python benchmarks/cpu_speed.py --threads 2 --steps 200 | tee results/benchmarks/throughput-cpu-2cores.log

The step is the one fit takes (SGD with the recipe's schedule, label smoothing, autocast around the
forward pass only, the loss in fp32), written out here so that each switch can be set by itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass, replace

import torch
from torch import nn

from resnet_lessons.data import load_cifar10
from resnet_lessons.lab import provenance
from resnet_lessons.loader import DeviceLoader
from resnet_lessons.models import build_model
from resnet_lessons.recipes import get_recipe, make_optimizer, make_scheduler


@dataclass(frozen=True)
class Variant:
    name: str
    bf16: bool
    channels_last: bool
    compile: bool


VARIANTS = [
    Variant("fp32, channels-last (fit today)", False, True, False),
    Variant("fp32, NCHW", False, False, False),
    Variant("bf16 autocast, channels-last", True, True, False),
    Variant("bf16 autocast, NCHW", True, False, False),
    Variant("fp32, channels-last, compiled", False, True, True),
    Variant("bf16 autocast, channels-last, compiled", True, True, True),
]


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_variant(v: Variant, data, model_name: str, steps: int, batch_size: int, skip: int) -> dict:
    device = torch.device("cpu")
    recipe = replace(get_recipe("onecycle"), lr=0.1, batch_size=batch_size, warmup=0.3)
    torch.manual_seed(0)
    model = build_model(model_name)
    model.to(memory_format=torch.channels_last if v.channels_last else torch.contiguous_format)
    mean, std = data.mean_std()
    train = DeviceLoader(data.train_images, data.train_labels, batch_size, mean, std, train=True, device=device,
                         seed=0, channels_last=v.channels_last)
    test = DeviceLoader(data.test_images, data.test_labels, 500, mean, std, train=False, device=device,
                        channels_last=v.channels_last)
    optimizer = make_optimizer(model, recipe, device)
    scheduler = make_scheduler(optimizer, recipe, steps)
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    dtype = torch.bfloat16 if v.bf16 else torch.float32

    def forward_and_loss(x, y):
        with torch.autocast("cpu", dtype=dtype, enabled=v.bf16):
            logits = model(x)
        return criterion(logits.float(), y)

    forward = torch.compile(forward_and_loss) if v.compile else forward_and_loss
    model.train()
    done, first_seconds = 0, 0.0
    timed_wall = timed_cpu = 0.0
    while done < steps:
        for x, y in train:
            wall, cpu = time.perf_counter(), time.process_time()
            loss = forward(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if not torch.isfinite(loss):
                raise RuntimeError(f"{v.name}: loss {loss.item()} at step {done}")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if done == 0:
                first_seconds = wall
            if done >= skip:
                timed_wall += wall
                timed_cpu += cpu
            done += 1
            if done == steps:
                break
    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype, enabled=v.bf16):
        for x, y in test:
            correct += int((model(x).argmax(1) == y).sum())
    images = (steps - skip) * batch_size
    return {"variant": v.name, "images_per_s": images / timed_wall, "images_per_cpu_s": images / timed_cpu,
            "first_step_s": first_seconds, "test_acc": correct / len(data.test_labels),
            "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--skip", type=int, default=10, help="first steps left out of the timing")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-images", type=int, default=10_000)
    parser.add_argument("--test-images", type=int, default=1_000)
    parser.add_argument("--variants", nargs="+", type=int, default=None, help="indices into VARIANTS")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_cifar10(progress=False).subset(args.train_images, args.test_images)
    git = provenance.git_state()
    print(f"{provenance.utc_now()}  commit {git['commit'][:7]} (dirty: {git['dirty']})  torch {torch.__version__}")
    print(f"CPU: {cpu_name()}, {torch.get_num_threads()} threads; {args.model}, {args.steps} steps of batch "
          f"{args.batch_size} (timed after step {args.skip}) on {data.summary()}")
    print(f"{'variant':<40} {'img/s':>7} {'img/cpu-s':>10} {'1st step':>9} {'test acc':>9} {'load':>5}")
    chosen = [VARIANTS[i] for i in args.variants] if args.variants else VARIANTS
    base = None
    for v in chosen:
        r = run_variant(v, data, args.model, args.steps, args.batch_size, args.skip)
        base = base or r["images_per_s"]
        print(f"{r['variant']:<40} {r['images_per_s']:>7.0f} {r['images_per_cpu_s']:>10.0f} "
              f"{r['first_step_s']:>8.1f}s {r['test_acc']:>9.1%} {r['load']:>5.1f}   x{r['images_per_s'] / base:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
