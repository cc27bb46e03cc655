"""How large is the gradient that reaches each layer? :func:`layer_grad_norms` measures it on one batch,
:class:`GradNormRecorder` on a fixed batch after every epoch; plot either with ``plots.plot_grad_norms``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]

LAYER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def layer_grad_norms(model: nn.Module, images: Tensor, labels: Tensor,
                     loss_fn: LossFn | None = None) -> list[tuple[str, float]]:
    """L2 norm of the loss gradient of each conv/linear weight, in the order the forward pass uses them.

    images: float batch [N, C, H, W], normalised as the model expects; labels: int64 [N].
    loss_fn(outputs, labels) -> scalar; cross-entropy by default.
    Returns ``[("conv1.weight", 0.012), ("layer1.0.conv1.weight", 0.009), ..., ("fc.weight", 0.3)]``,
    names as in ``model.named_parameters()``. A copy of the model is measured, in training mode (batch
    statistics, as during training): the model's gradients, running statistics and mode stay as they were.
    """
    if not isinstance(images, Tensor) or not images.is_floating_point():
        got = type(images).__name__ + (f" of {images.dtype}" if isinstance(images, Tensor) else "")
        raise TypeError(f"images must be a float tensor, normalised as for training (got {got}).")
    if not isinstance(labels, Tensor) or labels.shape[:1] != images.shape[:1]:
        raise ValueError("labels must be a tensor with one label per image.")
    loss_fn = loss_fn or nn.functional.cross_entropy

    probe = copy.deepcopy(model).train()
    probe.zero_grad(set_to_none=True)

    # Which conv/linear layers run, in the order they run (module registration order can differ,
    # e.g. a shortcut registered before the convolutions it skips).
    names = {module: name for name, module in probe.named_modules() if isinstance(module, LAYER_TYPES)}
    order: list[nn.Module] = []

    def remember(module: nn.Module, inputs, output) -> None:
        if module not in order:
            order.append(module)

    for module in names:
        module.register_forward_hook(remember)  # on the copy, which is dropped afterwards
    device = next(probe.parameters()).device
    loss_fn(probe(images.to(device)), labels.to(device)).backward()
    norms = []
    for module in order:
        grad = module.weight.grad
        norm = 0.0 if grad is None else grad.norm().item()
        norms.append((f"{names[module]}.weight" if names[module] else "weight", norm))
    return norms


class GradNormRecorder:
    """A trainer callback that measures :func:`layer_grad_norms` on one fixed batch after each epoch.

    >>> recorder = GradNormRecorder(images[:128], labels[:128])   # float, normalised
    >>> fit(model, data, epochs=5, callbacks=[recorder])
    >>> plot_grad_norms(recorder.by_epoch())

    The trainer calls ``recorder(history, model)``; ``every=k`` measures every k-th call only.
    Call ``recorder.measure(model, epoch=0)`` yourself for the model at initialisation.
    """

    def __init__(self, images: Tensor, labels: Tensor, loss_fn: LossFn | None = None, every: int = 1):
        if every < 1:
            raise ValueError(f"every must be a positive number of epochs, got {every}.")
        self.images = images
        self.labels = labels
        self.loss_fn = loss_fn
        self.every = every
        self.epochs: list[int] = []
        self.norms: list[list[float]] = []  # norms[i][layer] at epochs[i]
        self.names: list[str] = []  # layer names, input side first
        self._calls = 0

    def measure(self, model: nn.Module, epoch: int) -> list[float]:
        """Measure now and store the result under ``epoch``; returns the norms."""
        pairs = layer_grad_norms(model, self.images, self.labels, self.loss_fn)
        self.names = [name for name, _ in pairs]
        self.epochs.append(epoch)
        self.norms.append([norm for _, norm in pairs])
        return self.norms[-1]

    def __call__(self, history, model: nn.Module) -> None:
        self._calls += 1
        if self._calls % self.every == 0:
            epoch = history.epoch[-1] if len(history) else self._calls
            self.measure(model, epoch)

    def by_epoch(self) -> dict[str, list[float]]:
        """``{"epoch 0": [...], "epoch 5": [...]}``, ready for ``plot_grad_norms``."""
        return {f"epoch {e}": n for e, n in zip(self.epochs, self.norms, strict=True)}
