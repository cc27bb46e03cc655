"""The training loop in plain PyTorch: the functions :func:`resnet_lessons.train.fit` runs, on every device.

    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        train_loss, train_acc = train_one_epoch(model, train_loader, optimizer, scheduler, criterion)
        test_loss, test_acc = evaluate(model, test_loader)

``loader`` is anything that yields batches ``(images, labels)`` already on the model's device:
images float32 [B, 3, 32, 32] (normalised), labels int64 [B]. ``fit`` adds the rest around these
functions: the data loaders, checkpoints, progress bars and curves. On a GPU it also passes
``amp_dtype`` and ``scaler`` (mixed precision) and trains a :class:`CompiledModel`; on a CPU in
float32 both are no-ops and the model is used as it is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NO_SCALING = torch.amp.GradScaler("cpu", enabled=False)  # scale(loss) is loss, step(optimizer) is optimizer.step()


def train_step(model: nn.Module, images: Tensor, labels: Tensor, optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LRScheduler, criterion: nn.Module,
               amp_dtype: torch.dtype | None = None,
               scaler: torch.amp.GradScaler = NO_SCALING) -> tuple[Tensor, Tensor]:
    """One SGD step on one batch. Returns the batch's mean loss and its number of correct predictions,
    as tensors on the device (reading them with ``.item()`` would make the CPU wait for the GPU).

    amp_dtype: torch.bfloat16 or torch.float16 runs the forward pass in mixed precision; None: float32.
    scaler: a ``torch.amp.GradScaler``, needed with float16 only (fit passes a disabled one otherwise).
    """
    # mixed precision: matrix products in bf16/fp16 on a GPU's tensor cores (off when amp_dtype is None)
    with torch.autocast(images.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        logits = model(images)  # [B, 10]: one score per class
    loss = criterion(logits.float(), labels)  # the mean cross-entropy of the batch, a number
    correct = (logits.argmax(dim=1) == labels).sum()
    optimizer.zero_grad(set_to_none=True)  # forget the previous step's gradients
    scaler.scale(loss).backward()  # the gradient of the loss for every parameter (fp16: of loss x scale)
    scaler.step(optimizer)  # move every parameter a little against its gradient (SGD with momentum)
    scaler.update()  # fp16 only: a smaller scale after an overflow (whose step was skipped), else no-op
    scheduler.step()  # the learning rate of the next step
    return loss.detach(), correct


def train_one_epoch(model: nn.Module, loader: Iterable[tuple[Tensor, Tensor]], optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, criterion: nn.Module,
                    amp_dtype: torch.dtype | None = None, scaler: torch.amp.GradScaler = NO_SCALING,
                    after_step: Callable[[int, Tensor], None] | None = None) -> tuple[float, float]:
    """Train on every batch of ``loader`` once with :func:`train_step`; returns (mean training loss,
    training accuracy). after_step: called as ``after_step(i, loss)`` after batch ``i`` (fit moves its
    progress bar and checks the loss there)."""
    model.train()  # BatchNorm uses each batch's own statistics
    total_loss, correct, seen = 0.0, 0, 0
    for i, (images, labels) in enumerate(loader):
        loss, batch_correct = train_step(model, images, labels, optimizer, scheduler, criterion, amp_dtype, scaler)
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
        with torch.autocast(images.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(images)  # [B, 10]
        total_loss = total_loss + F.cross_entropy(logits.float(), labels, reduction="sum")
        correct = correct + (logits.argmax(dim=1) == labels).sum()
        seen += len(labels)
    model.train(was_training)
    return float(total_loss) / seen, int(correct) / seen


class CompiledModel(nn.Module):
    """``model`` compiled by ``torch.compile``, for training: what fit trains when it compiles.

    Compiling traces the forward pass once and generates fused kernels (and, for the backward pass, the
    same); mode "reduce-overhead" also records them as CUDA graphs, so a GPU step costs a few graph
    launches instead of hundreds of kernel launches. The weights are ``model``'s own (save and evaluate
    ``model``). Two details only a GPU needs, both here:

    - with CUDA graphs, every step starts with ``torch.compiler.cudagraph_mark_step_begin()``;
    - compiling happens during the first call; if it fails there (an unsupported GPU, no C compiler...),
      it warns once and trains ``model`` uncompiled from then on.
    """

    def __init__(self, model: nn.Module, mode: str = "default"):
        super().__init__()
        self.model = model
        self.compiled = torch.compile(model, mode=mode)  # fuse operations; "reduce-overhead": CUDA graphs too
        self.cuda_graphs = mode in ("reduce-overhead", "max-autotune")
        self.first_call = True

    def forward(self, images: Tensor) -> Tensor:
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # a new step: the last step's graph outputs may be reused
        if not self.first_call:
            return self.compiled(images)
        self.first_call = False
        try:
            return self.compiled(images)
        except Exception as e:  # compiling happens now, during the first call
            warnings.warn(f"torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:300]}); "
                          "training continues without compiling (slower).", stacklevel=2)
            self.compiled, self.cuda_graphs = self.model, False
            return self.model(images)
