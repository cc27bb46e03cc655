"""What a trained network computes inside: feature maps, class activation maps, Grad-CAM, first-layer filters.

Every function takes a model and a batch of **normalised** images x, float [N, 3, H, W] (what the model itself
takes), runs the model in eval mode and leaves it as it found it: same weights, same train/eval mode, no hooks
left behind, no gradients stored on its parameters.

    maps = feature_maps(model, x, "layer2")        # [N, 32, 16, 16]: stage 2 of ResNet-20, by a hook (see recording)
    cam = class_activation_map(model, x, target)   # [N, 8, 8]: Zhou et al. (2016)
    heat = grad_cam(model, x, target, "layer2")    # [N, 16, 16]: Selvaraju et al. (2017), any stage
    upsample(cam, 32)                              # [N, 32, 32]: laid over the image

**CAM**: after global average pooling (GAP) and one linear layer, the score of class c from the last feature maps A
(K maps of H x W) is y_c = (1/HW) sum_ij [ sum_k w_ck A_kij ] + b_c, so the bracket M_c = sum_k w_ck A_k is a map
whose average (plus the bias) *is* the score. **Grad-CAM** needs no GAP: ReLU(sum_k alpha_ck A_k) at any layer, with
alpha_ck the average of dy_c/dA_k; for GAP + linear alpha_ck = w_ck / HW, so at the last stage it is ReLU(M_c) / HW.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn

from .metrics import eval_mode


def normalise(images: Tensor, mean, std) -> Tensor:
    """uint8 images [N, 3, H, W] -> the float32 input the model takes: (x / 255 - mean) / std per channel
    (mean, std: 3 values in 0..1 units, e.g. a shipped network's ``record.mean`` and ``record.std``)."""
    mean = torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (images.float() / 255 - mean) / std


def layer_names(model: nn.Module) -> list[str]:
    """The names of every sub-module, e.g. ["conv1", "bn1", "relu", "layer1", "layer1.0", "layer1.0.conv1", ...]."""
    return [name for name, _ in model.named_modules() if name]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name`` (e.g. "layer2" or "layer3.2.conv1"); a clear error listing the
    top-level names (and how to see all) when there is none."""
    modules = dict(model.named_modules())
    if not isinstance(name, str) or not name or name not in modules:
        top = [n for n, _ in model.named_children()]
        raise ValueError(f"{type(model).__name__} has no layer named {name!r}. Its layers are {top}; the blocks "
                         f"inside them are named like {top[3] + '.0' if len(top) > 3 else top[0]!r} "
                         f"(resnet_lessons.interpret.layer_names(model) lists all {len(modules) - 1}).")
    return modules[name]


def _check_images(model: nn.Module, x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
        got = f"{x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"Expected a batch of normalised images, a float tensor [N, 3, H, W]; got a {got}. "
                         "Normalise uint8 images first, e.g. (images / 255 - mean[:, None, None]) / std[:, None, None] "
                         "with the model's mean and std; add a batch dimension to one image with x[None].")
    first = next(model.parameters(), None)
    if first is not None and x.device != first.device:
        raise ValueError(f"The images are on {x.device} but the model is on {first.device}: move one of them.")


class Recording:
    """What a forward hook saw: ``output``, the layer's output of the last forward pass (a tensor), and
    ``version``, its version counter then (PyTorch raises it whenever a tensor is changed in place)."""

    output: Tensor | None = None
    version: int = 0

    def checked_output(self, name: str) -> Tensor:
        """``output``, after checking that no later layer changed it in place (as ``ReLU(inplace=True)`` does
        to the BatchNorm output before it): it would then hold that layer's values, not this one's."""
        if self.output._version != self.version:
            raise ValueError(f"The output of {name!r} was changed in place by the layer after it (an in-place "
                             "ReLU, say), so it no longer holds what that layer computed. Name the layer that "
                             "changed it, or a whole block or stage, e.g. 'layer2.0' or 'layer2'.")
        return self.output


@contextmanager
def recording(model: nn.Module, name: str) -> Iterator[Recording]:
    """Record the output of layer ``name`` during forward passes inside the ``with`` block.

    A forward hook is registered on entry and removed on exit, also when the block raises::

        with recording(model, "layer3") as rec:
            model(x)
        rec.output   # [N, 64, 8, 8] for a CIFAR ResNet
    """
    layer = get_layer(model, name)
    rec = Recording()

    def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
        rec.output, rec.version = output, output._version

    handle = layer.register_forward_hook(hook)
    try:
        yield rec
    finally:
        handle.remove()


@torch.no_grad()
def feature_maps(model: nn.Module, x: Tensor, name: str) -> Tensor:
    """The output of layer ``name`` for images x [N, 3, H, W]: e.g. [N, 32, 16, 16] for "layer2" of a CIFAR ResNet."""
    _check_images(model, x)
    with eval_mode(model), recording(model, name) as rec:
        model(x)
    return rec.checked_output(name).detach().clone()


def _targets(logits: Tensor, target: Tensor | int | None) -> Tensor:
    """The class of each image: ``target`` (one int for all, or [N]), or the predicted class when None."""
    n, classes = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    target = torch.as_tensor(target, device=logits.device).long()
    if target.ndim == 0:
        target = target.expand(n)
    if target.shape != (n,) or target.min() < 0 or target.max() >= classes:
        raise ValueError(f"target must be one class index or one per image ([{n}]), each in 0..{classes - 1}; "
                         f"got {target.tolist()}.")
    return target


@torch.no_grad()
def class_activation_map(model: nn.Module, x: Tensor, target: Tensor | int | None = None,
                         features: str = "layer3", fc: str = "fc") -> Tensor:
    """CAM of Zhou et al. (2016): M_c = sum_k w_ck A_k, float [N, H', W'] (8 x 8 for a CIFAR ResNet).

    A: the output of layer ``features`` (the last feature maps, [N, K, H', W']); w: the weight [classes, K]
    of the linear layer ``fc`` that follows global average pooling. target: the class per image (one
    int, or [N]); None takes the predicted class. The map's mean plus ``fc.bias[c]`` is the logit of c.
    """
    _check_images(model, x)
    linear = get_layer(model, fc)
    if not isinstance(linear, nn.Linear):
        raise ValueError(f"CAM needs a network that ends in global average pooling and a linear layer; "
                         f"{fc!r} is a {type(linear).__name__}. Use grad_cam, which works for any network.")
    with eval_mode(model), recording(model, features) as rec:
        logits = model(x)
    maps = rec.checked_output(features)  # [N, K, H', W']
    if maps.ndim != 4 or maps.shape[1] != linear.in_features:
        raise ValueError(f"{features!r} outputs {tuple(maps.shape)}, but {fc!r} takes {linear.in_features} features: "
                         "name the layer whose maps are pooled into fc (the last stage).")
    weights = linear.weight[_targets(logits, target)]  # [N, K]: the fc weights of each image's class
    return torch.einsum("nk,nkhw->nhw", weights, maps)


def grad_cam(model: nn.Module, x: Tensor, target: Tensor | int | None = None, layer: str = "layer3") -> Tensor:
    """Grad-CAM of Selvaraju et al. (2017) at layer ``layer``: ReLU(sum_k alpha_ck A_k), float [N, H', W'].

    A: the layer's output [N, K, H', W']; alpha_ck: the average over the pixels of d y_c / d A_k, the gradient of
    each image's class score y_c (the logit) taken with ``torch.autograd.grad``, so no gradient is left on the
    model's parameters. target: the class per image (one int, or [N]); None takes the predicted class.
    """
    _check_images(model, x)
    x = x.detach().clone().requires_grad_(True)  # so that A has a gradient even for a frozen model
    with eval_mode(model), recording(model, layer) as rec, torch.enable_grad():
        logits = model(x)
        maps = rec.checked_output(layer)  # [N, K, H', W']
        scores = logits.gather(1, _targets(logits, target)[:, None]).sum()  # each image's score for its class
        (gradients,) = torch.autograd.grad(scores, maps)  # [N, K, H', W']: images do not mix in eval mode
    alpha = gradients.mean(dim=(2, 3))  # [N, K]
    return F.relu(torch.einsum("nk,nkhw->nhw", alpha, maps.detach()))


def upsample(maps: Tensor, size: int = 32) -> Tensor:
    """Maps [N, h, w] resized to [N, size, size] (bilinear), to lay over the images."""
    return F.interpolate(maps[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def first_layer_filters(model: nn.Module, name: str = "conv1") -> Tensor:
    """The weights of the first convolution as small RGB images, float [out, 3, k, k] in 0..1.

    Each filter is scaled on its own (its smallest weight -> 0, its largest -> 1), so colours show which
    channel a filter weighs more, not how strong it is overall.
    """
    conv = get_layer(model, name)
    if not isinstance(conv, nn.Conv2d) or conv.in_channels != 3:
        raise ValueError(f"{name!r} is not a convolution of RGB images (got {conv}); name the first convolution.")
    w = conv.weight.detach().float().cpu()
    low = w.amin(dim=(1, 2, 3), keepdim=True)
    high = w.amax(dim=(1, 2, 3), keepdim=True)
    return (w - low) / (high - low).clamp_min(1e-12)


# --- Pictures ---


def show_maps(images: Tensor, maps: Tensor, titles: list[str] | None = None, ncols: int = 8,
              title: str | None = None, alpha: float = 0.5) -> Figure:
    """Each uint8 image [N, 3, H, W] with its map [N, h, w] laid over it (upsampled, scaled per image to
    its own maximum: compare where, not how much, between images)."""
    heat = upsample(maps.float().cpu(), images.shape[-1])
    heat = heat / heat.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]
    rows = -(-len(images) // ncols)
    figure, axes = plt.subplots(rows, ncols, figsize=(1.6 * ncols, 2.0 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i].permute(1, 2, 0).cpu().numpy())
            ax.imshow(heat[i].numpy(), cmap="jet", alpha=alpha, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def show_feature_maps(maps: Tensor, count: int = 16, title: str | None = None) -> Figure:
    """The first ``count`` channels of one image's feature maps [C, h, w], each in grey with its own
    scale (black: its smallest value, white: its largest)."""
    count = min(count, len(maps))
    ncols = min(count, 16)
    rows = -(-count // ncols)
    figure, axes = plt.subplots(rows, ncols, figsize=(0.9 * ncols, 1.0 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < count:
            ax.imshow(maps[i].float().cpu().numpy(), cmap="gray")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
