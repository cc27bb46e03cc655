"""Checkers for notebook 05 (ResNeXt: cardinality and grouped convolutions): separate paths as one grouped
convolution, parameter counts by hand, the width that keeps a block's cost, and a ResNeXt block."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..models import CifarResNeXt
from .core import (
    Verdict,
    as_number,
    conclude,
    conv_layers,
    count_params,
    module_placeholder,
    module_problems,
    number_verdict,
    placeholder,
    right,
    wrong,
)


def _width_answer(answer: object) -> tuple[int, Verdict | None]:
    """A width answer as an int, or a failing verdict when it is a placeholder or not a positive whole number."""
    what = "your width d"
    if (verdict := placeholder(answer, what)) is not None:
        return 0, verdict
    value = as_number(answer)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 1:
        return 0, wrong(f"{what} should be a positive whole number of channels, got {answer!r}.")
    return value, None


# --- separate paths -> one grouped convolution ---


def paths_output(paths: Sequence[nn.Conv2d], x: Tensor) -> Tensor:
    """Split-transform-merge with separate convolutions: split ``x`` [N, C_in, H, W] into
    ``len(paths)`` equal channel slices, run path i on slice i, concatenate the outputs on channels."""
    slices = torch.chunk(x, len(paths), dim=1)
    return torch.cat([path(part) for path, part in zip(paths, slices, strict=True)], dim=1)


def check_grouped_conv(student: nn.Module | None, paths: Sequence[nn.Conv2d]) -> Verdict:
    """Check that ``student`` is one ``nn.Conv2d`` with ``groups=len(paths)`` computing what the ``paths`` (the
    separate convolutions, all alike) do on their concatenated inputs: group i holds path i's weights."""
    name = "your grouped convolution"
    if (verdict := placeholder(student, name)) is not None:
        return verdict
    paths = list(paths)
    n = len(paths)
    first = paths[0]
    if isinstance(student, nn.Sequential | nn.ModuleList):
        return wrong(f"{name} is a {type(student).__name__} of layers; the point is ONE nn.Conv2d with groups={n} "
                     f"that does the work of all {n} paths.")
    if not isinstance(student, nn.Conv2d):
        return wrong(f"{name} should be an nn.Conv2d, got {type(student).__name__}.")

    in_channels = sum(p.in_channels for p in paths)
    out_channels = sum(p.out_channels for p in paths)
    problems = []
    if student.groups != n:
        if student.groups == 1:
            problems.append(f"groups=1 makes an ordinary convolution, in which every output channel sees all "
                            f"{in_channels} input channels. Each path sees only its own {first.in_channels}: "
                            f"use groups={n}, one group per path.")
        else:
            problems.append(f"groups={student.groups}, but there are {n} paths: one group per path, groups={n}.")
    if student.in_channels != in_channels:
        problems.append(f"in_channels={student.in_channels}; the paths together take {n} x {first.in_channels} "
                        f"= {in_channels} input channels.")
    if student.out_channels != out_channels:
        problems.append(f"out_channels={student.out_channels}; the paths together give {n} x {first.out_channels} "
                        f"= {out_channels} output channels.")
    for attribute in ("kernel_size", "stride", "padding", "dilation"):
        got, want = getattr(student, attribute), getattr(first, attribute)
        if got != want:
            problems.append(f"{attribute}={got}, but each path has {attribute}={want}: the grouped "
                            "convolution must slide the same kernel the same way.")
    if (student.bias is None) != (first.bias is None):
        has = "has a bias" if student.bias is not None else "has no bias"
        want = "have" if first.bias is not None else "have no"
        problems.append(f"it {has}, but the paths {want} biases: set bias={first.bias is not None}.")
    if problems:
        return wrong(*problems)

    weights = [p.weight.detach() for p in paths]
    expected_w = torch.cat(weights, dim=0)
    got_w = student.weight.detach()
    if got_w.shape != expected_w.shape:  # cannot happen with the checks above, but be safe
        return wrong(f"its weight has shape {tuple(got_w.shape)}, expected {tuple(expected_w.shape)}.")
    if not torch.allclose(got_w, expected_w):
        if n > 1 and torch.allclose(got_w, torch.cat(weights[::-1], dim=0)):
            problems.append("the paths' weights are in reverse order: group i (output channels "
                            f"i*{first.out_channels} to (i+1)*{first.out_channels}-1) must hold path i's weights.")
        elif any(torch.allclose(got_w, torch.cat([w] * n, dim=0)) for w in weights):
            problems.append("every group holds the same path's weights: copy path i's weights into group i.")
        else:
            problems.append("its weights are not the paths' weights. The grouped weight has shape "
                            f"[{out_channels}, {first.in_channels}, k, k]: the paths' weights stacked along the "
                            "output channels, `torch.cat([p.weight for p in paths], dim=0)`, copied in under "
                            "`torch.no_grad()`.")
    if first.bias is not None:
        expected_b = torch.cat([p.bias.detach() for p in paths])
        if not torch.allclose(student.bias.detach(), expected_b):
            problems.append("its bias is not the paths' biases: `torch.cat([p.bias for p in paths])`.")
    if problems:
        return wrong(*problems)

    x = torch.randn(2, in_channels, 9, 9, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = paths_output(paths, x)
        out = student(x)
    if out.shape != expected.shape or not torch.allclose(out, expected, atol=1e-5):
        return wrong("its output differs from the paths' concatenated outputs.")
    return right(f"one Conv2d(groups={n}) gives the {n} paths' concatenated outputs.")


# --- parameter counts ---


def grouped_conv_params(in_channels: int, out_channels: int, kernel_size: int, groups: int = 1,
                        bias: bool = False) -> int:
    """Parameters of ``nn.Conv2d(in_channels, out_channels, kernel_size, groups=groups, bias=bias)``:
    out_channels x (in_channels / groups) x k x k weights, plus out_channels biases."""
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                         f"divisible by groups ({groups}).")
    return out_channels * (in_channels // groups) * kernel_size * kernel_size + (out_channels if bias else 0)


def check_grouped_conv_params(answer: int | float | None, in_channels: int, out_channels: int,
                              kernel_size: int, groups: int, bias: bool = False) -> Verdict:
    """Check a hand count of the parameters of a grouped convolution; the usual mistakes (groups
    ignored or divided twice, the k x k or the bias forgotten or added) are named."""
    what = f"parameters of Conv2d({in_channels}, {out_channels}, {kernel_size}, groups={groups}, bias={bias})"
    k2 = kernel_size * kernel_size
    b = out_channels if bias else 0
    expected = grouped_conv_params(in_channels, out_channels, kernel_size, groups, bias)
    mistakes = {
        "that is the count for groups=1. In a grouped convolution each output channel sees only "
        f"in_channels / groups = {in_channels // groups} inputs.": out_channels * in_channels * k2 + b,
        f"that is ONE group's weights (as if you divided by the groups twice). There are {groups} groups, "
        f"each with {out_channels // groups} filters: all {out_channels} filters remain, only the inputs each "
        "filter sees shrink.": (out_channels // groups) * (in_channels // groups) * k2 + b,
        f"the kernel's {kernel_size} x {kernel_size} = {k2} weights per input channel are missing.":
            out_channels * (in_channels // groups) + b,
        f"{'the bias is missing: one per output channel' if bias else 'there is no bias (bias=False)'}.":
            expected - b + (0 if bias else out_channels),
    }
    return number_verdict(answer, expected, what, wrong_values=mistakes,
                          hint="out_channels x (in_channels / groups) x k x k, plus out_channels if there is a bias.")


def resnext_block_params(channels: int = 256, cardinality: int = 32, width: int = 4) -> int:
    """Convolution weights of the paper's ResNeXt block template (Fig. 1 right, no BatchNorm):
    ``cardinality`` paths of 1x1 (channels -> width), 3x3 (width -> width), 1x1 (width -> channels)."""
    return cardinality * (channels * width + 9 * width * width + width * channels)


def check_resnext_block_params(answer: int | float | None, channels: int = 256, cardinality: int = 32,
                               width: int = 4) -> Verdict:
    """Check a hand count of the convolution weights of a ResNeXt block template: ``channels``
    in and out, ``cardinality`` paths of width ``width``, BatchNorm and biases not counted."""
    what = f"weights of a ResNeXt block ({channels}-d in/out, C={cardinality}, d={width})"
    c, d, C = channels, width, cardinality
    expected = resnext_block_params(c, C, d)
    inner = C * d
    mistakes = {
        f"that is one path. There are C = {C} of them.": c * d + 9 * d * d + d * c,
        f"that counts the 3x3 as an ordinary convolution over all {inner} channels; in the block each "
        f"path's 3x3 sees only its own {d} channels (a grouped convolution).":
            c * inner + 9 * inner * inner + inner * c,
        "count the convolution weights only: convolutions in ResNet have no bias.":
            expected + C * (d + d) + c,
        "count the convolution weights only, without BatchNorm's two parameters per channel.":
            expected + 2 * (inner + inner + c),
        f"each path has two 1x1 convolutions ({c} -> {d} and {d} -> {c}); one of them is missing.":
            C * (c * d + 9 * d * d),
    }
    return number_verdict(answer, expected, what, wrong_values=mistakes,
                          hint=f"per path: 1x1 ({c} x {d}) + 3x3 (3 x 3 x {d} x {d}) + 1x1 ({d} x {c}); "
                               f"then multiply by the C = {C} paths.")


def width_for_cardinality(cardinality: int, channels: int = 256) -> int:
    """The integer width d whose ResNeXt block template has the weight count closest to the ResNet bottleneck of
    the same stage (1x1, 3x3, 1x1 with a channels/4 middle: 69,632 weights for channels=256)."""
    budget = resnext_block_params(channels, 1, channels // 4)
    return min(range(1, channels + 1), key=lambda d: abs(resnext_block_params(channels, cardinality, d) - budget))


def check_width_for_cardinality(answer: int | None, cardinality: int, channels: int = 256) -> Verdict:
    """Check the bottleneck width d that keeps a block with ``cardinality`` paths at a ResNet
    bottleneck's cost: the whole number whose block template is closest to it (:func:`width_for_cardinality`)."""
    answer, verdict = _width_answer(answer)
    if verdict is not None:
        return verdict
    budget = resnext_block_params(channels, 1, channels // 4)
    expected = width_for_cardinality(cardinality, channels)
    got = resnext_block_params(channels, cardinality, answer)
    if answer == expected:
        return right(f"your width d is right: with C = {cardinality} paths of that width the block's weights are "
                     f"the closest to the ResNet bottleneck's {budget:,}.")
    direction = "too many" if got > budget else "too few"
    return wrong(f"with d = {answer} the block has {got:,} weights, {direction} compared with the ResNet bottleneck's "
                 f"{budget:,}; the closest whole number gives {'fewer' if got > budget else 'more'}. Write the count "
                 f"as a function of d, {cardinality} x ({channels}d + 9d² + {channels}d), and try whole numbers "
                 "around the solution of count(d) = budget.")


def cifar_resnext_params(depth: int, cardinality: int, width_per_group: int) -> int:
    """Parameters of ``CifarResNeXt(depth, cardinality, width_per_group)``, counted without allocating it."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation work
        model = CifarResNeXt(depth=depth, cardinality=cardinality, width_per_group=width_per_group)
    return count_params(model)


def width_without_groups(depth: int = 29, cardinality: int = 8, width_per_group: int = 4) -> int:
    """The width d for which ``CifarResNeXt(depth, 1, d)`` has the parameter count closest to the grouped one's."""
    target = cifar_resnext_params(depth, cardinality, width_per_group)
    widths = range(1, 4 * cardinality * width_per_group + 1)  # generous: the answer is far below
    return min(widths, key=lambda d: abs(cifar_resnext_params(depth, 1, d) - target))


def check_width_without_groups(answer: int | None, depth: int = 29, cardinality: int = 8,
                               width_per_group: int = 4) -> Verdict:
    """Check the width d of the ungrouped ``CifarResNeXt(depth, 1, d)`` that matches the grouped network's size."""
    answer, verdict = _width_answer(answer)
    if verdict is not None:
        return verdict
    target = cifar_resnext_params(depth, cardinality, width_per_group)
    expected = width_without_groups(depth, cardinality, width_per_group)
    got = cifar_resnext_params(depth, 1, answer)
    grouped = f"ResNeXt-{depth} ({cardinality}x{width_per_group}d)"
    if answer == expected:
        return right(f"your width d is right: ResNeXt-{depth} (1 x d) then has the parameter count closest to "
                     f"{grouped}'s {target:,}.")
    direction = "more" if got > target else "fewer"
    return wrong(f"ResNeXt-{depth} (1x{answer}d) has {got:,} parameters, {abs(got - target):,} {direction} than "
                 f"{grouped}'s {target:,}; try a {'smaller' if got > target else 'larger'} d. Count a model with "
                 "sum(p.numel() for p in model.parameters()) and compare.")


# --- a student's ResNeXt block against the package's ---


def check_resnext_block(student: nn.Module | None, reference: nn.Module, input_shape: tuple[int, ...]) -> Verdict:
    """Compare a student's ResNeXt bottleneck with the package's block ``reference``: the ``groups``
    of its convolutions, then :func:`.core.module_problems` (layers registered as conv1, bn1, conv2, bn2,
    conv3, bn3[, downsample])."""
    name = "your ResNeXt block"
    x = torch.rand(input_shape, generator=torch.Generator().manual_seed(1))
    if (verdict := module_placeholder(student, name, x)) is not None:
        return verdict
    problems = []
    ref_convs, got_convs = conv_layers(reference), conv_layers(student)
    ref_groups = [c.groups for c in ref_convs if c.kernel_size == (3, 3)]
    got_groups = [c.groups for c in got_convs if c.kernel_size == (3, 3)]
    if ref_groups and got_groups and got_groups != ref_groups:
        problems.append(f"its 3x3 convolution has groups={got_groups[0]}; the block's cardinality is "
                        f"{ref_groups[0]}, so the 3x3 needs groups={ref_groups[0]}.")
    if got_convs and got_convs[0].groups != ref_convs[0].groups:
        problems.append(f"its first 1x1 convolution has groups={got_convs[0].groups}; here it should have "
                        f"groups={ref_convs[0].groups} (the paper's block groups only the 3x3).")
    problems += module_problems(student, reference, x, name,
                                order_hint=" (conv1, bn1, conv2, bn2, conv3, bn3, then the shortcut's)")
    return conclude(problems, f"{name} matches the package's: same parameters, same output.")
