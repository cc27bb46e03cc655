"""Checkers for notebook 08 (what a trained ResNet has learned): a class activation map computed by hand,
and Grad-CAM written as a function."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..interpret import class_activation_map, feature_maps, grad_cam, recording
from ..metrics import eval_mode
from .core import TODO, Verdict, function_placeholder, not_answered, placeholder, right, wrong


def _same(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=1e-4, atol=1e-5)


def check_cam(answer: object, model: nn.Module, x: Tensor, target: int) -> Verdict:
    """``answer``: the class activation map [8, 8] of class ``target`` for one normalised image x [1, 3, 32, 32]."""
    if (verdict := placeholder(answer, "my_cam")) is not None:
        return verdict
    if not isinstance(answer, Tensor):
        return wrong(f"my_cam should be a tensor of shape [8, 8], got {type(answer).__name__}.")
    answer = answer.detach().cpu().squeeze()
    expected = class_activation_map(model, x, target)[0]
    if _same(answer, expected):
        return right("M_c = sum_k w_ck A_k: the fc weights of the class applied to the last feature maps.")
    if answer.shape != expected.shape:
        if answer.shape[-2:] == (32, 32):
            return wrong("my_cam is 32 x 32: compute it on the 8 x 8 maps of layer3; upsampling comes after, "
                         "only to lay it over the image.")
        return wrong(f"my_cam should have the shape of one feature map, (8, 8); got {tuple(answer.shape)}.")
    mistakes = {
        "it is the plain mean of the 64 maps: weight each map k by fc.weight[c, k] instead.":
            feature_maps(model, x, "layer3")[0].mean(dim=0),
        "it is the map of the predicted class; the exercise asks for class `target`.":
            class_activation_map(model, x)[0],
        "the negative values are clipped (that is Grad-CAM's ReLU); CAM keeps them.":
            torch.relu(expected),
        "it includes the bias; the map is sum_k w_ck A_k alone (its mean plus the bias is the logit).":
            expected + model.fc.bias[target].detach(),
        "it is divided by the number of pixels: CAM itself is not averaged (its average is).": expected / 64,
    }
    for message, value in mistakes.items():
        if _same(answer, value) and not _same(value, expected):
            return wrong(message)
    return wrong("my_cam differs from sum_k fc.weight[target, k] * A_k. Hint: torch.einsum('k,khw->hw', w, A), or "
                 "(w[:, None, None] * A).sum(dim=0).")


def check_grad_cam(fn: Callable | None, model: nn.Module, x: Tensor, layer: str = "layer2") -> Verdict:
    """``fn(model, x, target, layer)`` -> Grad-CAM [N, h, w] of class ``target`` (one int) at ``layer``."""
    if (verdict := function_placeholder(fn, "my_grad_cam", "my_grad_cam(model, x, target, layer)")) is not None:
        return verdict
    was_training = model.training
    target = 3
    try:
        answer = fn(model, x, target, layer)
    except Exception as error:  # the student's code: say what went wrong, do not stop the notebook
        return wrong(f"my_grad_cam raised {type(error).__name__}: {error}")
    finally:
        model.train(was_training)
    if answer is None:
        return not_answered(f"my_grad_cam returns None (the exercise's placeholder): {TODO}.")
    if any(p.grad is not None for p in model.parameters()):
        for p in model.parameters():
            p.grad = None
        return wrong("my_grad_cam left gradients on the model's parameters (.backward() does that): take the "
                     "gradient with torch.autograd.grad(score, maps), which leaves the parameters alone.")
    if not isinstance(answer, Tensor):
        return wrong(f"my_grad_cam should return a tensor, got {type(answer).__name__}.")
    answer = answer.detach().cpu()
    expected = grad_cam(model, x, target, layer)
    if _same(answer, expected):
        return right(f"ReLU of the maps of {layer} weighted by their average gradients: Grad-CAM.")
    if answer.shape != expected.shape:
        return wrong(f"for {len(x)} images at {layer!r} the result should have shape {tuple(expected.shape)} (one map "
                     f"per image, at that layer's resolution); got {tuple(answer.shape)}.")
    maps = feature_maps(model, x, layer)
    pixels = maps.shape[-1] * maps.shape[-2]
    mistakes = {
        "some values are negative: Grad-CAM keeps only the positive part (ReLU of the weighted sum).":
            _unclipped(model, x, target, layer),
        f"it is {pixels} times too large: alpha is the *average* gradient over the pixels, not the sum.":
            expected * pixels,
        "it is the plain mean of the maps, clipped: weight each map by its average gradient.":
            F.relu(maps.mean(dim=1)),
    }
    for message, value in mistakes.items():
        if _same(answer, value) and not _same(value, expected):
            return wrong(message)
    if _same(answer, grad_cam(model, x, None, layer)):
        return wrong("it is the map of each image's predicted class; use the score of class `target`.")
    return wrong("my_grad_cam differs from ReLU(sum_k alpha_k A_k) with alpha_k the mean over the pixels of "
                 "d score / d A_k. Check that the model is in eval mode and that the score is the logit (before "
                 "softmax) of class `target`.")


def _unclipped(model: nn.Module, x: Tensor, target: int, layer: str) -> Tensor:
    """sum_k alpha_k A_k without the ReLU (a plausible slip the checker recognises)."""
    with eval_mode(model):
        with recording(model, layer) as rec:
            logits = model(x.detach().clone().requires_grad_(True))
        (gradients,) = torch.autograd.grad(logits[:, target].sum(), rec.output)
    return torch.einsum("nk,nkhw->nhw", gradients.mean(dim=(2, 3)), rec.output.detach())
