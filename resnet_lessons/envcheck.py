"""The environment check every notebook starts with: versions, device, fast mode, data, time estimates."""

from __future__ import annotations

import platform
import sys
import time

import torch
import torchvision
from torch import nn

from . import config


def device_name(device: torch.device) -> str:
    """A readable name: 'NVIDIA H100 80GB HBM3', 'Apple MPS' or 'CPU (2 threads)'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def environment_report(device: torch.device | None = None) -> dict[str, str]:
    """Print and return what this notebook will run on: versions, device (with a hint for Colab without
    a GPU), fast mode and where the data will come from."""
    device = device or config.get_device()
    if device.type == "cpu":
        config.set_cpu_threads()
    data = config.data_dir()
    report = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "device": f"{device.type}: {device_name(device)}",
        "mode": config.mode_reason(),
        "data": f"{data} (${config.DATA_ENV})" if data else "torchvision download into " + str(config.cache_dir()),
    }
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key:<{width}} : {value}")
    if device.type == "cpu" and "google.colab" in sys.modules:  # a Colab runtime without a GPU
        print("\nThis Colab runtime has no GPU. For full mode: Runtime > Change runtime type > T4 GPU, "
              "then run the notebook again from the top.")
    elif device.type == "cpu" and not config.is_fast():
        print("\nNo GPU here: full mode will take hours. Turn on fast mode with rl.set_fast(True).")
    return report


def measure_step_seconds(model: nn.Module, batch_size: int = 128, steps: int = 3,
                         device: torch.device | None = None, image_size: int = 32) -> float:
    """Seconds per SGD training step of ``model`` on random images, measured after one warm-up step.

    The real batch size is timed: the cost per image changes with the batch. When the warm-up step alone
    takes over a second, one timed step is enough. The model's weights and BatchNorm statistics are
    restored afterwards.
    """
    device = device or config.get_device()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model = model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    images = torch.randn(batch_size, 3, image_size, image_size, device=device)
    labels = torch.randint(0, 10, (batch_size,), device=device)

    def timed_steps(n: int) -> float:
        """Run n steps and return the seconds they took."""
        start = time.perf_counter()
        for _ in range(n):
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    warm_up = timed_steps(1)  # the first step allocates memory and picks kernels: slower, not counted
    steps = 1 if warm_up > 1.0 else steps
    seconds = timed_steps(steps) / steps
    model.load_state_dict(state)
    return seconds


def estimate_training_seconds(model: nn.Module, train_images: int, epochs: int, batch_size: int = 128,
                              device: torch.device | None = None, image_size: int = 32) -> float:
    """Estimate how long ``epochs`` of training on ``train_images`` images take here, and print it.

    A few steps are timed on this machine (:func:`measure_step_seconds`; evaluation and data loading add
    a little on top). On a GPU the trainer's compiled loop is faster than this.
    """
    per_step = measure_step_seconds(model, batch_size=batch_size, device=device, image_size=image_size)
    steps = epochs * max(1, train_images // batch_size)  # the trainer drops the last, incomplete batch
    total = per_step * steps
    print(f"Estimated training time here: about {_readable(total)} "
          f"({epochs} epochs x {train_images:,} images, {per_step * 1000:.0f} ms per batch of {batch_size}).")
    return total


def _readable(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
