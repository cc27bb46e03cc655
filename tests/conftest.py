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
