"""The CIFAR-10 networks of the ResNet paper (Section 4.2) and of the ResNeXt paper (Section 5.3).

ResNet-(6n+2) has the paper's "0.27M, 0.46M, 0.66M, 0.85M, 1.7M, 19.4M" parameters (each builder's docstring);
its plain twin (``plain=True``) has no shortcuts, so exactly the parameters of the option-A net (option B adds
2,752: a 1x1 convolution and BatchNorm on each of the two downsampling shortcuts). ResNeXt-29 8x64d and 16x64d
have the paper's 34.4M and 68.1M parameters, with a stem convolution without bias and a 1x1-conv + BN
projection on the first block of every stage.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .blocks import (
    BasicBlock,
    PlainBasicBlock,
    PlainResNeXtBottleneck,
    ResNeXtBottleneck,
    check_input,
    check_num_classes,
    conv3x3,
    init_weights,
    make_layer,
)
from .shortcuts import check_shortcut_option


class _CifarNet(nn.Module):
    """What both CIFAR networks share: a 3x3 stem of ``width`` filters, three stages of ``n`` blocks with
    planes ``width``, 2 * ``width`` and 4 * ``width`` (the last two start with stride 2), pooling and fc."""

    def __init__(self, block: type[nn.Module], n: int, width: int, num_classes: int, zero_init_residual: bool,
                 **block_kwargs):
        super().__init__()
        check_num_classes(num_classes)
        e = block.expansion
        self.conv1 = conv3x3(3, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_layer(block, width, width, n, stride=1, **block_kwargs)
        self.layer2 = make_layer(block, width * e, 2 * width, n, stride=2, **block_kwargs)
        self.layer3 = make_layer(block, 2 * width * e, 4 * width, n, stride=2, **block_kwargs)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(4 * width * e, num_classes)
        init_weights(self, zero_init_residual)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, dtype=self.conv1.weight.dtype)
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


# --- ResNet-20 ... ResNet-1202 and their plain twins ---


def blocks_per_stage(depth: int) -> int:
    """n for a CIFAR ResNet of ``depth`` = 6n + 2 layers (20 -> 3, 56 -> 9); anything else raises ValueError."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        hint = ""
        if isinstance(depth, int) and not isinstance(depth, bool) and depth >= 8:
            below = depth - (depth - 2) % 6
            hint = f" The nearest valid depths are {below} and {below + 6}."
        raise ValueError(
            f"a CIFAR ResNet has depth 6n+2 (1 conv + 3 stages of n blocks of 2 convs + 1 fc) with n >= 1, "
            f"so depth must be one of 8, 14, 20, 26, 32, 38, 44, 56, 110, 1202, ...; got {depth!r}.{hint}"
        )
    return (depth - 2) // 6


class CifarResNet(_CifarNet):
    """ResNet-(6n+2) for 32x32 images, the paper's Section 4.2; ``plain=True`` gives its plain twin.

    x        [N, 3, 32, 32]
    conv1    3x3, 16 -> bn1 -> ReLU    [N, 16, 32, 32]
    layer1   n blocks, 16 filters      [N, 16, 32, 32]
    layer2   n blocks, 32 filters      [N, 32, 16, 16]   the first block has stride 2
    layer3   n blocks, 64 filters      [N, 64, 8, 8]     the first block has stride 2
    avgpool                            [N, 64, 1, 1] -> flatten [N, 64]
    fc                                 [N, num_classes]

    ``shortcut`` ("A", the default, "B" or "pool", see :mod:`.shortcuts`) says what the two downsampling
    blocks of a residual net add; a plain net (``plain=True``) has no shortcuts and takes no ``shortcut``.
    """

    def __init__(self, depth: int = 20, shortcut: str | None = None, plain: bool = False, num_classes: int = 10,
                 zero_init_residual: bool = False):
        n = blocks_per_stage(depth)
        if plain and shortcut is not None:
            raise ValueError(
                f"a plain network has no shortcuts, so it takes no shortcut option (got shortcut={shortcut!r}). "
                "Its residual twin with option A has exactly its parameters; option B adds 2,752 (two 1x1 "
                "projections with BatchNorm). Leave shortcut out for plain=True."
            )
        shortcut = check_shortcut_option("A" if shortcut is None else shortcut)
        if plain and zero_init_residual:
            raise ValueError("zero_init_residual zeroes the last BatchNorm of each residual branch; a plain network "
                             "has no shortcut to carry x past it, so every block would output 0. Use it with "
                             "plain=False only.")
        block = PlainBasicBlock if plain else BasicBlock
        super().__init__(block, n, 16, num_classes, zero_init_residual, shortcut=shortcut)
        self.depth = depth
        self.plain = plain
        self.shortcut = None if plain else shortcut

    def extra_repr(self) -> str:
        kind = "plain" if self.plain else f"residual, shortcut option {self.shortcut}"
        return f"depth={self.depth} ({kind})"


def cifar_resnet(depth: int, shortcut: str | None = None, plain: bool = False, num_classes: int = 10,
                 zero_init_residual: bool = False) -> CifarResNet:
    """A CIFAR ResNet of any depth 6n+2 (8, 14, 20, ...), option A unless ``shortcut`` says otherwise;
    ``plain=True`` for its plain twin (no shortcut option)."""
    return CifarResNet(depth, shortcut, plain, num_classes, zero_init_residual)


def resnet8(shortcut: str = "A", num_classes: int = 10, zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-8 (n=1): the shallowest 6n+2 net, for quick experiments."""
    return CifarResNet(8, shortcut, False, num_classes, zero_init_residual)


def resnet14(shortcut: str = "A", num_classes: int = 10, zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-14 (n=2), for quick experiments."""
    return CifarResNet(14, shortcut, False, num_classes, zero_init_residual)


def resnet20(shortcut: str = "A", num_classes: int = 10, zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-20 (n=3): 269,722 parameters with option A."""
    return CifarResNet(20, shortcut, False, num_classes, zero_init_residual)


def resnet32(shortcut: str = "A", num_classes: int = 10, zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-32 (n=5): 464,154 parameters with option A."""
    return CifarResNet(32, shortcut, False, num_classes, zero_init_residual)


def resnet44(shortcut: str = "A", num_classes: int = 10, zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-44 (n=7): 658,586 parameters with option A."""
    return CifarResNet(44, shortcut, False, num_classes, zero_init_residual)


def resnet56(shortcut: str = "A", num_classes: int = 10, zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-56 (n=9): 853,018 parameters with option A."""
    return CifarResNet(56, shortcut, False, num_classes, zero_init_residual)


def resnet110(shortcut: str = "A", num_classes: int = 10, zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-110 (n=18): 1,727,962 parameters with option A."""
    return CifarResNet(110, shortcut, False, num_classes, zero_init_residual)


def resnet1202(shortcut: str = "A", num_classes: int = 10, zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-1202 (n=200): 19,421,274 parameters with option A."""
    return CifarResNet(1202, shortcut, False, num_classes, zero_init_residual)


def plain8(num_classes: int = 10) -> CifarResNet:
    """Plain-8: ResNet-8's layers without the additions."""
    return CifarResNet(8, plain=True, num_classes=num_classes)


def plain14(num_classes: int = 10) -> CifarResNet:
    """Plain-14: ResNet-14's layers without the additions."""
    return CifarResNet(14, plain=True, num_classes=num_classes)


def plain20(num_classes: int = 10) -> CifarResNet:
    """Plain-20: ResNet-20's layers without the additions (269,722 parameters)."""
    return CifarResNet(20, plain=True, num_classes=num_classes)


def plain32(num_classes: int = 10) -> CifarResNet:
    """Plain-32: ResNet-32's layers without the additions (464,154 parameters)."""
    return CifarResNet(32, plain=True, num_classes=num_classes)


def plain44(num_classes: int = 10) -> CifarResNet:
    """Plain-44: ResNet-44's layers without the additions (658,586 parameters)."""
    return CifarResNet(44, plain=True, num_classes=num_classes)


def plain56(num_classes: int = 10) -> CifarResNet:
    """Plain-56: ResNet-56's layers without the additions (853,018 parameters)."""
    return CifarResNet(56, plain=True, num_classes=num_classes)


def plain110(num_classes: int = 10) -> CifarResNet:
    """Plain-110: ResNet-110's layers without the additions (1,727,962 parameters)."""
    return CifarResNet(110, plain=True, num_classes=num_classes)


# --- ResNeXt-29 ---


def resnext_blocks_per_stage(depth: int) -> int:
    """n for a CIFAR ResNeXt of ``depth`` = 9n + 2 layers (29 -> 3); anything else raises ValueError."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 11 or (depth - 2) % 9:
        raise ValueError(
            "a CIFAR ResNeXt has depth 9n+2 (1 conv + 3 stages of n bottlenecks of 3 convs + 1 fc) with n >= 1, "
            f"so depth must be one of 11, 20, 29, 38, ...; got {depth!r}."
        )
    return (depth - 2) // 9


class CifarResNeXt(_CifarNet):
    """ResNeXt-29 (C x d) for 32x32 images, the ResNeXt paper's Section 5.3.

    x        [N, 3, 32, 32]
    conv1    3x3, 64 -> bn1 -> ReLU              [N, 64, 32, 32]
    layer1   n bottlenecks, width C*d,   out 256  [N, 256, 32, 32]
    layer2   n bottlenecks, width 2*C*d, out 512  [N, 512, 16, 16]    the first block has stride 2
    layer3   n bottlenecks, width 4*C*d, out 1024 [N, 1024, 8, 8]     the first block has stride 2
    avgpool -> flatten                            [N, 1024]
    fc                                            [N, num_classes]

    C = ``cardinality``, d = ``width_per_group``; n = 3 for depth 29. ``group_first_conv`` is seed lesson
    002's variant (conv1 of every block grouped too); ``plain=True`` drops the shortcuts.
    """

    def __init__(self, depth: int = 29, cardinality: int = 8, width_per_group: int = 64, num_classes: int = 10,
                 group_first_conv: bool = False, zero_init_residual: bool = False, plain: bool = False):
        n = resnext_blocks_per_stage(depth)
        if plain and zero_init_residual:
            raise ValueError("zero_init_residual needs shortcuts; use it with plain=False only.")
        block = PlainResNeXtBottleneck if plain else ResNeXtBottleneck
        super().__init__(block, n, 64, num_classes, zero_init_residual, cardinality=cardinality,
                         width_per_group=width_per_group, group_first_conv=group_first_conv)
        self.depth = depth
        self.cardinality = cardinality
        self.width_per_group = width_per_group
        self.plain = plain

    def extra_repr(self) -> str:
        return f"depth={self.depth}, {self.cardinality}x{self.width_per_group}d" + (" (plain)" if self.plain else "")


def resnext11_2x4d(num_classes: int = 10, group_first_conv: bool = False,
                   zero_init_residual: bool = False) -> CifarResNeXt:
    """ResNeXt-11, 2x4d: one bottleneck per stage, the smallest CIFAR ResNeXt (smoke runs, quick demos)."""
    return CifarResNeXt(11, 2, 4, num_classes, group_first_conv, zero_init_residual)


def resnext29_8x4d(num_classes: int = 10, group_first_conv: bool = False,
                   zero_init_residual: bool = False) -> CifarResNeXt:
    """ResNeXt-29, 8x4d: the paper's CIFAR net at 1/16 of its 8x64d width, 1,717,578 parameters, about
    ResNet-110's 1,727,962."""
    return CifarResNeXt(29, 8, 4, num_classes, group_first_conv, zero_init_residual)


def resnext29_8x64d(num_classes: int = 10, group_first_conv: bool = False,
                    zero_init_residual: bool = False) -> CifarResNeXt:
    """ResNeXt-29, 8x64d: 34,426,698 parameters for 10 classes (the paper's 34.4M)."""
    return CifarResNeXt(29, 8, 64, num_classes, group_first_conv, zero_init_residual)


def resnext29_16x64d(num_classes: int = 10, group_first_conv: bool = False,
                     zero_init_residual: bool = False) -> CifarResNeXt:
    """ResNeXt-29, 16x64d: 68,155,210 parameters for 10 classes (the paper's 68.1M)."""
    return CifarResNeXt(29, 16, 64, num_classes, group_first_conv, zero_init_residual)
