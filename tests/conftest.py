"""Shared test setup.

The suite runs on 2 CPU cores, often with two pytest-xdist workers: one torch thread per worker keeps them
from fighting over the cores (tiny tensors on oversubscribed threads run many times slower).
"""

import os
import socket

import matplotlib
import torch
from torch import nn

matplotlib.use("Agg")

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

os.environ.setdefault("RESNET_LESSONS_PROGRESS", "0")  # no progress bars in the tests' output


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (``from conftest import free_port``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_net(channels: int = 8, bias: bool = False) -> nn.Module:
    """The tests' tiny CIFAR classifier, [N, 3, H, W] -> [N, 10]: one convolution with BatchNorm, global
    average pooling and a linear layer; the same weights every time (``from conftest import tiny_net``)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=bias), nn.BatchNorm2d(channels), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))


def landscape_inputs(seed: int):
    """What the landscape command reads, faked for its tests (``from conftest import landscape_inputs``):
    100 random training and 20 test images of 10 classes, and the record of a shipped network whose training
    started from ``torch.manual_seed(seed); build_model("resnet8")``."""
    from types import SimpleNamespace

    from resnet_lessons.data import CIFAR10Tensors

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (100, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(100) % 10
    data = CIFAR10Tensors(images, labels, images[:20], labels[:20], [str(i) for i in range(10)], "fake data")
    record = SimpleNamespace(mean=[0.5] * 3, std=[0.25] * 3, file="x.pt", sha256="0" * 64, epochs=1, val_acc=0.1,
                             test_acc=0.1, command="made for a test", summary=lambda: "a tiny test network",
                             model="resnet8", model_kwargs={}, seed=seed)
    return data, record
