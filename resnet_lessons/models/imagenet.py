"""The ImageNet networks of the ResNet paper (Table 1), ResNeXt and Wide ResNet, written out here.

Every parameter and buffer has torchvision's name and shape, so ``model.load_state_dict(tv_model.state_dict())``
works with ``strict=True`` and gives the same outputs (torchvision's pretrained weights load the same way).
Multiply-adds are counted for one 224x224 image. ``stem="cifar"`` gives the seed lessons' CIFAR variants:
:func:`resnet50_lab10` (seed 001) and seed 002's ResNeXt-50, ``ResNet(ResNeXtBottleneck, [3, 4, 6, 3], 100,
stem="cifar", block_kwargs={"cardinality": 32, "width_per_group": 4, "group_first_conv": True})``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .blocks import (
    BasicBlock,
    Bottleneck,
    PlainBasicBlock,
    ResNeXtBottleneck,
    check_block_class,
    check_input,
    check_num_classes,
    conv3x3,
    init_weights,
    make_layer,
)

STEMS = ("imagenet", "cifar")


def _check_four(name: str, values: Sequence[int]) -> list[int]:
    """Four positive whole numbers, one per stage."""
    values = list(values)
    if len(values) != 4 or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(f"{name} needs four positive whole numbers, one per stage (layer1 ... layer4), "
                         f"e.g. [3, 4, 6, 3]; got {values!r}.")
    return values


class ResNet(nn.Module):
    """ResNet for ImageNet (the paper's Table 1), with torchvision's layer names.

    x        [N, 3, 224, 224]
    conv1    7x7, 64, stride 2 -> bn1 -> ReLU    [N, 64, 112, 112]
    maxpool  3x3, stride 2                       [N, 64, 56, 56]
    layer1   layers[0] blocks, planes 64         [N, 64*e, 56, 56]     e = block.expansion (1 or 4)
    layer2   layers[1] blocks, planes 128        [N, 128*e, 28, 28]    the first block has stride 2
    layer3   layers[2] blocks, planes 256        [N, 256*e, 14, 14]    the first block has stride 2
    layer4   layers[3] blocks, planes 512        [N, 512*e, 7, 7]      the first block has stride 2
    avgpool -> flatten                           [N, 512*e]
    fc                                           [N, num_classes]

    ``block`` is any block class of :mod:`.blocks` or your own (:func:`~.blocks.check_block_class`); residual
    blocks get torchvision's shortcuts (option B: 1x1 conv + BN where the shape changes). ``block_kwargs`` go to
    every block, e.g. ``{"cardinality": 32, "width_per_group": 4}`` or ``{"width_per_group": 128}``.
    ``stem="cifar"`` replaces the 7x7 convolution and the max-pool by a 3x3 convolution with stride 1 for
    32x32 images; ``widths`` (planes per stage) and ``strides`` change the stages.
    """

    def __init__(self, block: type[nn.Module], layers: Sequence[int], num_classes: int = 1000,
                 zero_init_residual: bool = False, *, stem: str = "imagenet",
                 widths: Sequence[int] = (64, 128, 256, 512), strides: Sequence[int] = (1, 2, 2, 2),
                 block_kwargs: dict | None = None):
        super().__init__()
        check_block_class(block)
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}: 'imagenet' (7x7 conv stride 2 + max-pool) or 'cifar' "
                             f"(3x3 conv stride 1, no max-pool); got {stem!r}.")
        if zero_init_residual and not block.has_shortcut:
            raise ValueError("zero_init_residual needs shortcuts: a plain network would output 0. "
                             "Use it with a residual block.")
        layers = _check_four("layers", layers)
        widths = _check_four("widths", widths)
        strides = _check_four("strides", strides)
        block_kwargs = block_kwargs or {}
        e = block.expansion

        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = conv3x3(3, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if stem == "imagenet" else nn.Identity()
        self.layer1 = make_layer(block, widths[0], widths[0], layers[0], strides[0], **block_kwargs)
        self.layer2 = make_layer(block, widths[0] * e, widths[1], layers[1], strides[1], **block_kwargs)
        self.layer3 = make_layer(block, widths[1] * e, widths[2], layers[2], strides[2], **block_kwargs)
        self.layer4 = make_layer(block, widths[2] * e, widths[3], layers[3], strides[3], **block_kwargs)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        check_num_classes(num_classes)
        self.fc = nn.Linear(widths[3] * e, num_classes)
        init_weights(self, zero_init_residual)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, dtype=self.conv1.weight.dtype)
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def resnet18(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-18: BasicBlock x [2, 2, 2, 2], 11,689,512 parameters, 1.81 G multiply-adds."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, zero_init_residual)


def resnet34(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-34: BasicBlock x [3, 4, 6, 3], 21,797,672 parameters, 3.66 G multiply-adds."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, zero_init_residual)


def resnet50(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-50: Bottleneck x [3, 4, 6, 3], 25,557,032 parameters, 4.09 G multiply-adds."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, zero_init_residual)


def resnet101(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-101: Bottleneck x [3, 4, 23, 3], 44,549,160 parameters, 7.80 G multiply-adds."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, zero_init_residual)


def resnet152(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-152: Bottleneck x [3, 8, 36, 3], 60,192,808 parameters, 11.51 G multiply-adds."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, zero_init_residual)


def resnext50_32x4d(num_classes: int = 1000, zero_init_residual: bool = False,
                    group_first_conv: bool = False) -> ResNet:
    """ResNeXt-50 (32x4d): 25,028,904 parameters, 4.23 G multiply-adds; ``group_first_conv=True``: seed 002's."""
    block_kwargs = {"cardinality": 32, "width_per_group": 4, "group_first_conv": group_first_conv}
    return ResNet(ResNeXtBottleneck, [3, 4, 6, 3], num_classes, zero_init_residual, block_kwargs=block_kwargs)


def resnext101_32x8d(num_classes: int = 1000, zero_init_residual: bool = False,
                     group_first_conv: bool = False) -> ResNet:
    """ResNeXt-101 (32x8d): 88,791,336 parameters, 16.41 G multiply-adds."""
    block_kwargs = {"cardinality": 32, "width_per_group": 8, "group_first_conv": group_first_conv}
    return ResNet(ResNeXtBottleneck, [3, 4, 23, 3], num_classes, zero_init_residual, block_kwargs=block_kwargs)


def wide_resnet50_2(num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """Wide ResNet-50-2: ResNet-50 with bottlenecks twice as wide (the 3x3 has 2 * planes), 68,883,240
    parameters, 11.40 G multiply-adds."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, zero_init_residual, block_kwargs={"width_per_group": 128})


def plain18(num_classes: int = 1000) -> ResNet:
    """Plain-18: ResNet-18's layers without shortcuts (the paper's plain baseline, Fig. 4 left)."""
    return ResNet(PlainBasicBlock, [2, 2, 2, 2], num_classes)


def plain34(num_classes: int = 1000) -> ResNet:
    """Plain-34: ResNet-34's layers without shortcuts (the paper's Fig. 3 middle)."""
    return ResNet(PlainBasicBlock, [3, 4, 6, 3], num_classes)


def resnet50_lab10(num_classes: int = 10, zero_init_residual: bool = False) -> ResNet:
    """Seed lesson 001's CIFAR network ("Lab10-6"): Bottleneck x [3, 4, 6, 3] with a 3x3 stem and no max-pool,
    widths 16/32/64/128 and strides 1/1/2/2: [N, 3, 32, 32] -> layer4 [N, 512, 8, 8] -> [N, num_classes]."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, zero_init_residual, stem="cifar",
                  widths=(16, 32, 64, 128), strides=(1, 1, 2, 2))
