"""The training loop in plain PyTorch: what :func:`resnet_lessons.train.fit` runs, epoch after epoch.

    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        train_loss, train_acc = train_one_epoch(model, train_loader, optimizer, scheduler, criterion)
        test_loss, test_acc = evaluate(model, test_loader)

``loader`` is anything that yields batches ``(images, labels)`` already on the model's device:
images float32 [B, 3, 32, 32] (normalised), labels int64 [B]. ``fit`` adds the rest around these
two functions: the data loader, checkpoints, progress bars, curves, and on a GPU a faster
``step`` (:class:`resnet_lessons.train.TrainStep`: mixed precision, compiled forward pass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def train_step(model: nn.Module, images: Tensor, labels: Tensor, optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LRScheduler, criterion: nn.Module) -> tuple[Tensor, Tensor]:
    """One SGD step on one batch. Returns the batch's mean loss and its number of correct predictions,
    as tensors on the device (reading them with ``.item()`` would make the CPU wait for the GPU)."""
    logits = model(images)  # [B, 10]: one score per class
    loss = criterion(logits, labels)  # the mean cross-entropy of the batch, a number
    optimizer.zero_grad(set_to_none=True)  # forget the previous step's gradients
    loss.backward()  # the gradient of the loss for every parameter
    optimizer.step()  # move every parameter a little against its gradient (SGD with momentum)
    scheduler.step()  # the learning rate of the next step
    correct = (logits.argmax(dim=1) == labels).sum()
    return loss.detach(), correct


def train_one_epoch(model: nn.Module, loader: Iterable[tuple[Tensor, Tensor]], optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, criterion: nn.Module,
                    step: Callable = train_step, after_step: Callable | None = None) -> tuple[float, float]:
    """Train on every batch of ``loader`` once; returns (mean training loss, training accuracy).

    step: how one batch is trained (same arguments as :func:`train_step`, which is the default).
    after_step: called as ``after_step(i, loss)`` after batch ``i`` (fit moves its progress bar there).
    """
    model.train()  # BatchNorm uses each batch's own statistics
    total_loss, correct, seen = 0.0, 0, 0
    for i, (images, labels) in enumerate(loader):
        loss, batch_correct = step(model, images, labels, optimizer, scheduler, criterion)
        total_loss = total_loss + loss * len(labels)  # a tensor on the device: nothing waits here
        correct = correct + batch_correct
        seen += len(labels)
        if after_step is not None:
            after_step(i, loss)
    return float(total_loss) / seen, int(correct) / seen


@torch.no_grad()  # no gradients needed: faster, and less memory
def evaluate(model: nn.Module, loader: Iterable[tuple[Tensor, Tensor]],
             amp_dtype: torch.dtype | None = None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over every batch of ``loader``, in eval mode.

    amp_dtype: torch.bfloat16 or torch.float16 runs the model under autocast, as in training.
    """
    was_training = model.training
    model.eval()  # BatchNorm uses its running statistics
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        with torch.autocast(images.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(images)  # [B, 10]
        total_loss = total_loss + F.cross_entropy(logits.float(), labels, reduction="sum")
        correct = correct + (logits.argmax(dim=1) == labels).sum()
        seen += len(labels)
    model.train(was_training)
    return float(total_loss) / seen, int(correct) / seen
