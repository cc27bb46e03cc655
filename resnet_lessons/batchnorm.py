"""BatchNorm's two modes, measured: why a network's first test loss can be far above its training loss.

In eval mode BatchNorm uses its running statistics, ``running = (1 - momentum) * running + momentum * batch``:
early in training they average about the last 1 / momentum = 10 batches, computed with older weights, so they lag
behind the network. :func:`mode_gap` measures both modes' losses as a network trains; :func:`recalibrate`
recomputes the running statistics for the current weights and closes the gap: the statistics were the cause.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ModeGap:
    """Losses of the same held-out images, measured every few steps of training.

    steps: how many optimisation steps had been taken at each measurement (0 = before training).
    batch_stats_loss: the loss in training mode (each BatchNorm uses the held-out batch's own statistics).
    running_stats_loss: the loss in eval mode (each BatchNorm uses its running statistics), as in a test.
    """

    steps: list[int] = field(default_factory=list)
    batch_stats_loss: list[float] = field(default_factory=list)
    running_stats_loss: list[float] = field(default_factory=list)

    def table(self) -> str:
        """The measurements as a text table, one row per measurement."""
        lines = [f"{'step':>5} {'loss, batch statistics':>23} {'loss, running statistics':>25}"]
        for step, batch, running in zip(self.steps, self.batch_stats_loss, self.running_stats_loss, strict=True):
            lines.append(f"{step:>5} {batch:>23.2f} {running:>25.2f}")
        return "\n".join(lines)


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Every BatchNorm layer of ``model``; a model without one is an error (there is nothing to show)."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no BatchNorm layer: BatchNorm's two modes cannot differ.")
    return layers


def held_out_loss(model: nn.Module, images: Tensor, labels: Tensor, batch_statistics: bool) -> float:
    """Cross-entropy of ``model`` on ``images`` [N, 3, H, W], with BatchNorm in training or in eval mode.

    With ``batch_statistics=True`` the loss is measured on a copy of the model in training mode, so the
    model's running statistics are not updated by the measurement.
    """
    was_training = model.training
    probe = copy.deepcopy(model).train() if batch_statistics else model.eval()
    with torch.no_grad():
        loss = F.cross_entropy(probe(images), labels).item()
    model.train(was_training)
    return loss


def mode_gap(model: nn.Module, train_images: Tensor, train_labels: Tensor, test_images: Tensor,
             test_labels: Tensor, steps: int = 40, every: int = 5, batch_size: int = 128, lr: float = 0.1,
             seed: int = 0) -> ModeGap:
    """Train ``model`` in place with SGD for ``steps`` steps and measure both losses every ``every`` steps.

    train_images, test_images: normalised float images [N, 3, H, W] (as the trainer feeds them); the labels
    are int64 [N]. All ``test_images`` are evaluated as one batch, so keep them to a few hundred.
    Batches are drawn with a generator seeded by ``seed``; SGD with momentum 0.9 and a constant ``lr``
    (the first steps of the course's recipes, without their warm-up).
    """
    batchnorm_layers(model)
    if steps < 1 or every < 1 or batch_size < 1:
        raise ValueError(f"steps, every and batch_size must be at least 1; got {steps}, {every}, {batch_size}.")
    if len(train_images) < batch_size:
        raise ValueError(f"batch_size {batch_size} is larger than the {len(train_images)} training images.")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gap = ModeGap()

    def measure(step: int) -> None:
        gap.steps.append(step)
        gap.batch_stats_loss.append(held_out_loss(model, test_images, test_labels, batch_statistics=True))
        gap.running_stats_loss.append(held_out_loss(model, test_images, test_labels, batch_statistics=False))

    model.train()
    measure(0)
    for step in range(1, steps + 1):
        batch = torch.randint(len(train_images), (batch_size,), generator=generator)
        loss = F.cross_entropy(model(train_images[batch]), train_labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % every == 0:
            measure(step)
    return gap


def recalibrate(model: nn.Module, images: Tensor, batch_size: int = 128) -> None:
    """Recompute every BatchNorm's running statistics for the model's current weights, in place.

    The running statistics are reset and then set to the plain average of the statistics of the batches
    of ``images`` (``momentum=None``), in training mode without gradients; the weights do not change.
    """
    layers = batchnorm_layers(model)
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # None: a cumulative average instead of an exponential one
    was_training = model.training
    model.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            model(images[start:start + batch_size])
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    model.train(was_training)
