"""Checker for the BatchNorm primer's exercise (notebook 01): BatchNorm in training mode, by hand."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .core import Verdict, function_placeholder, not_answered, right, wrong

EPS = 1e-5


def _test_batch() -> tuple[Tensor, Tensor, Tensor]:
    """x [6, 4, 5, 5] with per-channel offsets and scales (channel 3 so small that eps matters), gamma, beta [4]."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, 5, 5, generator=generator, dtype=torch.float64)
    x = x * torch.tensor([2.0, 0.5, 3.0, 1e-3], dtype=torch.float64).view(1, 4, 1, 1)
    x = x + torch.tensor([1.0, -2.0, 0.5, 4.0], dtype=torch.float64).view(1, 4, 1, 1)
    gamma = torch.tensor([1.5, 0.8, 2.0, 1.2], dtype=torch.float64)
    beta = torch.tensor([0.3, -0.1, 0.7, -0.5], dtype=torch.float64)
    return x, gamma, beta


def _normalise(x: Tensor, dims: tuple[int, ...], unbiased: bool = False) -> Tensor:
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=unbiased, keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS)


def _known_mistakes(x: Tensor, gamma: Tensor, beta: Tensor) -> dict[str, Tensor]:
    """What the usual slips compute on (x, gamma, beta), each with the sentence that explains it."""
    g, b = gamma.view(1, -1, 1, 1), beta.view(1, -1, 1, 1)
    channel = (0, 2, 3)
    mean, var = x.mean(dim=channel, keepdim=True), x.var(dim=channel, unbiased=False, keepdim=True)
    return {
        "it divides by the unbiased variance (n - 1 in the denominator): BatchNorm normalises with the biased "
        "variance, `x.var(dim=..., unbiased=False)` (it uses the unbiased one only for running_var).":
            g * _normalise(x, channel, unbiased=True) + b,
        "it averages over the batch only (dim 0), one mean per channel *and pixel*: BatchNorm2d averages over "
        "the batch and both spatial dimensions, dim=(0, 2, 3), one mean and variance per channel.":
            g * _normalise(x, (0,)) + b,
        "it normalises each image on its own (dims 1, 2, 3), which is LayerNorm's choice; BatchNorm2d shares "
        "one mean and variance per channel across the whole batch, dim=(0, 2, 3).":
            g * _normalise(x, (1, 2, 3)) + b,
        "it leaves out eps: divide by sqrt(var + eps), which keeps a channel of (almost) constant values from "
        "being divided by (almost) zero.":
            g * (x - mean) / torch.sqrt(var) + b,
        "it divides by the variance instead of the standard deviation: x_hat = (x - mean) / sqrt(var + eps).":
            g * (x - mean) / (var + EPS) + b,
        "it swaps gamma and beta: gamma scales x_hat, beta is added.":
            b * _normalise(x, channel) + g,
        "it returns x_hat without gamma and beta: the output is gamma * x_hat + beta.":
            _normalise(x, channel),
    }


def check_batchnorm(my_batchnorm: Callable[..., Tensor] | None) -> Verdict:
    """Check ``my_batchnorm(x, gamma, beta, eps)``: training-mode BatchNorm of x [N, C, H, W], gamma/beta [C],
    against ``F.batch_norm(..., training=True)`` on a batch whose channels have different means and scales."""
    name = "my_batchnorm"
    if (verdict := function_placeholder(my_batchnorm, name, "my_batchnorm(x, gamma, beta, eps)")) is not None:
        return verdict
    x, gamma, beta = _test_batch()
    try:
        out = my_batchnorm(x.clone(), gamma.clone(), beta.clone(), EPS)
    except Exception as error:  # the student's code failed: say how, do not raise
        return wrong(f"{name}(x, gamma, beta, eps) raised {type(error).__name__}: {error}")
    if out is None:
        return not_answered(f"{name} returns None: write its body so that it returns gamma * x_hat + beta, then "
                            "run this cell again.")
    if not isinstance(out, Tensor):
        return wrong(f"{name} should return a tensor, got {type(out).__name__}.")
    if out.shape != x.shape:
        return wrong(f"{name} returned shape {tuple(out.shape)} for x of shape {tuple(x.shape)}: BatchNorm keeps "
                     "the shape. Reshape gamma and beta to [1, C, 1, 1] (gamma.view(1, -1, 1, 1)) so they line up "
                     "with the channels.")
    out = out.detach().to(torch.float64)
    expected = F.batch_norm(x, None, None, gamma, beta, training=True, eps=EPS)
    if torch.allclose(out, expected, rtol=1e-4, atol=1e-5):
        return right("your BatchNorm matches PyTorch's in training mode, channel by channel.")
    for message, mistaken in _known_mistakes(x, gamma, beta).items():
        if torch.allclose(out, mistaken, rtol=1e-4, atol=1e-5):
            return wrong(f"{name} is not BatchNorm yet: {message}")
    worst = (out - expected).abs().amax(dim=(0, 2, 3))
    channel = int(worst.argmax())
    return wrong(f"{name} differs from PyTorch's BatchNorm by up to {worst[channel].item():.3g} (most in channel "
                 f"{channel}). Per channel c: mean and biased variance over dims (0, 2, 3), "
                 "x_hat = (x - mean) / sqrt(var + eps), out = gamma[c] * x_hat + beta[c].")
