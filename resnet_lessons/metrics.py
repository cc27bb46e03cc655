"""How good is a trained network? Predictions, accuracy, per-class accuracy, confusion matrix, mistakes.

:func:`score` does it all for one split of the data::

    result = score(model, data)               # the test set
    result.accuracy                            # 0.9123
    plots.plot_confusion_matrix(result.confusion, data.classes)
    wrong = most_confident_mistakes(result.logits, result.labels, k=16)
    plots.show_misclassified(data.test_images[wrong.index], wrong.true, wrong.pred,
                             data.classes, wrong.confidence)

The smaller functions take plain tensors (logits or predicted labels, and true labels).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from .loader import DeviceLoader


def model_device(model: nn.Module) -> torch.device:
    """The device the model's parameters live on (the CPU for a model without parameters)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode inside the ``with`` block (BatchNorm uses its running statistics), the model's own mode after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, mean: Sequence[float] | torch.Tensor,
            std: Sequence[float] | torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits of ``model`` for uint8 images [N, 3, H, W]: float32 [N, num_classes] on the CPU.

    The images are normalised with ``mean`` and ``std`` (0..1 units, as in training: ``data.mean_std()``)
    and run in batches, in eval mode, on the model's device.
    """
    device = model_device(model)
    dummy_labels = torch.zeros(len(images), dtype=torch.int64)
    loader = DeviceLoader(images, dummy_labels, batch_size, mean, std, train=False, device=device,
                          channels_last=device.type in ("cuda", "cpu"))
    with eval_mode(model):
        return torch.cat([model(x).float().cpu() for x, _ in loader]) if len(loader) else torch.zeros(0, 0)


def _labels_of(logits_or_preds: torch.Tensor) -> torch.Tensor:
    """Predicted labels [N] from logits [N, C] (argmax) or from labels [N] (unchanged)."""
    if logits_or_preds.ndim == 2:
        return logits_or_preds.argmax(dim=1)
    if logits_or_preds.ndim == 1:
        return logits_or_preds.long()
    raise ValueError(f"Expected logits [N, C] or predicted labels [N], got shape {tuple(logits_or_preds.shape)}.")


def _check_same_length(preds: torch.Tensor, labels: torch.Tensor) -> None:
    if len(preds) != len(labels):
        raise ValueError(f"Got {len(preds)} predictions but {len(labels)} labels.")
    if len(labels) == 0:
        raise ValueError("No labels given: cannot compute an accuracy of nothing.")


def accuracy(logits_or_preds: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of correct predictions, in [0, 1]. Takes logits [N, C] or predicted labels [N]."""
    preds = _labels_of(logits_or_preds)
    _check_same_length(preds, labels)
    return (preds.cpu() == labels.cpu()).float().mean().item()


def confusion_matrix(logits_or_preds: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """int64 [C, C]: entry [t, p] counts images of true class t predicted as class p."""
    preds = _labels_of(logits_or_preds).cpu()
    labels = labels.cpu().long()
    _check_same_length(preds, labels)
    return torch.bincount(labels * num_classes + preds, minlength=num_classes**2).view(num_classes, num_classes)


def per_class_accuracy(logits_or_preds: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """float [C]: accuracy on the images of each true class (NaN for a class with no images)."""
    cm = confusion_matrix(logits_or_preds, labels, num_classes)
    return cm.diag().float() / cm.sum(dim=1).float()


class Mistakes(NamedTuple):
    """Misclassified images: their indices, true and predicted labels, and the predicted class's probability."""

    index: torch.Tensor
    true: torch.Tensor
    pred: torch.Tensor
    confidence: torch.Tensor


def most_confident_mistakes(logits: torch.Tensor, labels: torch.Tensor, k: int = 16) -> Mistakes:
    """The ``k`` wrong predictions the model was surest about, surest first.

    logits: [N, C]; labels: [N]. Index the images with ``data.test_images[m.index]``.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape [N, C], got {tuple(logits.shape)}.")
    logits, labels = logits.cpu().float(), labels.cpu().long()
    _check_same_length(logits, labels)
    confidence, pred = logits.softmax(dim=1).max(dim=1)
    wrong = (pred != labels).nonzero().flatten()
    order = confidence[wrong].argsort(descending=True)[:k]
    index = wrong[order]
    return Mistakes(index=index, true=labels[index], pred=pred[index], confidence=confidence[index])


@dataclass
class Scores:
    """Everything :func:`score` measured on one split (tensors on the CPU)."""

    logits: torch.Tensor  # float [N, C]
    labels: torch.Tensor  # int64 [N]
    accuracy: float  # in [0, 1]
    per_class: torch.Tensor  # float [C]
    confusion: torch.Tensor  # int64 [C, C], rows = true class, columns = predicted

    @property
    def preds(self) -> torch.Tensor:
        """Predicted labels, int64 [N]."""
        return self.logits.argmax(dim=1)


def score(model: nn.Module, data, split: str = "test", batch_size: int = 1000, mean: Sequence[float] | None = None,
          std: Sequence[float] | None = None) -> Scores:
    """Predict every image of ``data``'s ``split`` ("test" or "train") and measure the results.

    data: a :class:`resnet_lessons.data.CIFAR10Tensors`. Images are normalised with ``mean`` and
    ``std`` if given (e.g. ``history.record.mean``, what training used), else ``data.mean_std()``,
    which is what :func:`resnet_lessons.train.fit` uses for the same data.
    """
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', got {split!r}.")
    images, labels = getattr(data, f"{split}_images"), getattr(data, f"{split}_labels")
    if mean is None or std is None:
        mean, std = data.mean_std()
    logits = predict(model, images, mean, std, batch_size=batch_size)
    num_classes = logits.shape[1]
    return Scores(logits=logits, labels=labels.cpu(), accuracy=accuracy(logits, labels),
                  per_class=per_class_accuracy(logits, labels, num_classes),
                  confusion=confusion_matrix(logits, labels, num_classes))
