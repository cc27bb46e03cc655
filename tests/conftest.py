"""Shared test setup.

The suite runs on 2 CPU cores, often with two pytest-xdist workers: one torch thread per worker keeps them
from fighting over the cores (tiny tensors on oversubscribed threads run many times slower).
"""

import os

import matplotlib
import torch

matplotlib.use("Agg")

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
