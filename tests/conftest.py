"""Shared test setup.

The suite runs on 2 CPU cores, often with two pytest-xdist workers: one torch thread per worker keeps them
from fighting over the cores (tiny tensors on oversubscribed threads run many times slower).
"""

import os
import socket

import matplotlib
import torch

matplotlib.use("Agg")

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

os.environ.setdefault("RESNET_LESSONS_PROGRESS", "0")  # no progress bars in the tests' output


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (``from conftest import free_port``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
