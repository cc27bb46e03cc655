"""Pre-activation ResNets for CIFAR (He et al. 2016, "Identity Mappings in Deep Residual Networks").

The pre-activation block moves BatchNorm and ReLU in front of each convolution and leaves the addition alone:

    original:        x -> conv -> BN -> ReLU -> conv -> BN -> (+ x) -> ReLU
    pre-activation:  x -> BN -> ReLU -> conv -> BN -> ReLU -> conv -> (+ x)

Between two blocks the signal then goes through nothing but additions, x_L = x_l + sum of F(x_i), and the
gradient reaches every block through a pure identity path (the paper's Eq. 4 and 5). At the ends of the network
(the paper's Section 4.1 and its authors' code) the stem's ``bn1``-ReLU is the first block's pre-activation,
a shape-changing block's shortcut reads its pre-activated input, and ``bn_final``-ReLU follows the last addition.

A basic-block net has exactly the parameters of the original with the same shortcut, because it moves
BatchNorms rather than adding any: -16 (layer1[0]) - 16 - 32 (stages 2, 3 normalise inputs) + 64 (bn_final) = 0.
Shortcut option "B" here is a 1x1 convolution *without* BatchNorm (the authors' code): its input has just
been through BatchNorm and ReLU. Options "A" and "pool" are the modules of :mod:`.shortcuts`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .blocks import check_input, check_shortcut_fits, conv1x1, conv3x3, init_weights
from .cifar import blocks_per_stage
from .shortcuts import check_shortcut_option, make_shortcut

# --- the two pre-activation blocks ---


class PreActBasicBlock(nn.Module):
    """Pre-activation block of two 3x3 convolutions: out = F(x) + shortcut, with no ReLU after the addition.

    x        [N, inplanes, H, W]
    bn1 -> ReLU                  [N, inplanes, H, W]       a; ``preactivate=False``: no bn1, a = x
    conv1    3x3, stride s       [N, planes, H/s, W/s]
    bn2 -> ReLU -> conv2 3x3     [N, planes, H/s, W/s]     this is F(x)
    shortcut x itself, or downsample(a) when the shape changes
    out      F(x) + shortcut     [N, planes, H/s, W/s]
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 preactivate: bool = True):
        super().__init__()
        check_shortcut_fits("PreActBasicBlock", inplanes, planes, stride, downsample, "preact_shortcut")
        self.bn1 = nn.BatchNorm2d(inplanes) if preactivate else None
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = x if self.bn1 is None else self.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + identity


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck: 1x1 reduces, 3x3 (with the stride) works, 1x1 expands x4; no final ReLU.

    x        [N, inplanes, H, W]
    bn1 -> ReLU -> conv1 1x1            [N, planes, H, W]         (no bn1 when ``preactivate=False``)
    bn2 -> ReLU -> conv2 3x3, stride s  [N, planes, H/s, W/s]
    bn3 -> ReLU -> conv3 1x1            [N, 4*planes, H/s, W/s]   this is F(x)
    out      F(x) + shortcut            [N, 4*planes, H/s, W/s]   shortcut: x, or downsample(bn1-ReLU of x)
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 preactivate: bool = True):
        super().__init__()
        check_shortcut_fits("PreActBottleneck", inplanes, planes * self.expansion, stride, downsample,
                            "preact_shortcut")
        self.bn1 = nn.BatchNorm2d(inplanes) if preactivate else None
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv1x1(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = x if self.bn1 is None else self.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + identity


def preact_shortcut(option: str, in_channels: int, out_channels: int, stride: int = 1) -> nn.Module:
    """The shortcut of a shape-changing pre-activation block: "A" or "pool" as in :mod:`.shortcuts`, "B" a 1x1 conv.

    [N, in_channels, H, W] -> [N, out_channels, H/stride, W/stride]. Option B has no BatchNorm here: its
    input has just been through the block's BatchNorm and ReLU (as in the pre-activation paper's code).
    """
    option = check_shortcut_option(option)
    if option == "B":
        return conv1x1(in_channels, out_channels, stride)
    return make_shortcut(option, in_channels, out_channels, stride)


def make_preact_layer(block: type[nn.Module], inplanes: int, planes: int, num_blocks: int, stride: int = 1,
                      shortcut: str = "A", first_preactivate: bool = True) -> nn.Sequential:
    """One stage of pre-activation blocks: [N, inplanes, H, W] -> [N, planes * expansion, H/stride, W/stride].

    Only the first block may change the shape (it then gets :func:`preact_shortcut`). ``first_preactivate=False``
    leaves out the first block's own BatchNorm-ReLU: the network's first stage, whose input the stem has
    already normalised and activated.
    """
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out_channels:
        downsample = preact_shortcut(shortcut, inplanes, out_channels, stride)
    blocks = [block(inplanes, planes, stride, downsample, first_preactivate)]
    blocks += [block(out_channels, planes) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


# --- the networks ---


def bottleneck_blocks_per_stage(depth: int) -> int:
    """n for a bottleneck CIFAR net of ``depth`` = 9n + 2 layers (164 -> 18); anything else raises ValueError."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 11 or (depth - 2) % 9:
        raise ValueError(
            "a bottleneck CIFAR ResNet has depth 9n+2 (1 conv + 3 stages of n bottlenecks of 3 convs + 1 fc) "
            f"with n >= 1, so depth must be one of 11, 20, 29, ..., 164, ..., 1001; got {depth!r}."
        )
    return (depth - 2) // 9


class PreActCifarResNet(nn.Module):
    """Pre-activation ResNet for 32x32 images; ``bottleneck=True`` for the 9n+2 nets (PreAct-ResNet-164).

    x          [N, 3, 32, 32]
    conv1      3x3, 16 -> bn1 -> ReLU        [N, 16, 32, 32]       the first block's pre-activation
    layer1     n blocks, 16 * e channels      [N, 16e, 32, 32]      e = 1 (basic) or 4 (bottleneck)
    layer2     n blocks, 32 * e               [N, 32e, 16, 16]      the first block has stride 2
    layer3     n blocks, 64 * e               [N, 64e, 8, 8]        the first block has stride 2
    bn_final -> ReLU -> avgpool -> flatten    [N, 64e]
    fc                                        [N, num_classes]
    """

    def __init__(self, depth: int, bottleneck: bool = False, shortcut: str | None = None, num_classes: int = 10):
        super().__init__()
        if bottleneck:
            n, block, default_shortcut = bottleneck_blocks_per_stage(depth), PreActBottleneck, "B"
        else:
            n, block, default_shortcut = blocks_per_stage(depth), PreActBasicBlock, "A"
        shortcut = check_shortcut_option(default_shortcut if shortcut is None else shortcut)
        e = block.expansion
        self.depth = depth
        self.bottleneck = bottleneck
        self.shortcut = shortcut

        self.conv1 = conv3x3(3, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_preact_layer(block, 16, 16, n, 1, shortcut, first_preactivate=False)
        self.layer2 = make_preact_layer(block, 16 * e, 32, n, 2, shortcut)
        self.layer3 = make_preact_layer(block, 32 * e, 64, n, 2, shortcut)
        self.bn_final = nn.BatchNorm2d(64 * e)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64 * e, num_classes)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x)
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.relu(self.bn_final(x))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)

    def extra_repr(self) -> str:
        kind = "bottleneck" if self.bottleneck else "basic"
        return f"depth={self.depth} (pre-activation, {kind} blocks, shortcut option {self.shortcut})"


def preact_cifar_resnet(depth: int, bottleneck: bool = False, shortcut: str | None = None,
                        num_classes: int = 10) -> PreActCifarResNet:
    """A pre-activation CIFAR ResNet of any depth 6n+2 (basic blocks) or 9n+2 (``bottleneck=True``)."""
    return PreActCifarResNet(depth, bottleneck, shortcut, num_classes)


def preact_resnet20(shortcut: str = "A", num_classes: int = 10) -> PreActCifarResNet:
    """PreAct-ResNet-20 (n=3): 269,722 parameters with option A."""
    return PreActCifarResNet(20, False, shortcut, num_classes)


def preact_resnet56(shortcut: str = "A", num_classes: int = 10) -> PreActCifarResNet:
    """PreAct-ResNet-56 (n=9): 853,018 parameters with option A."""
    return PreActCifarResNet(56, False, shortcut, num_classes)


def preact_resnet110(shortcut: str = "A", num_classes: int = 10) -> PreActCifarResNet:
    """PreAct-ResNet-110 (n=18): 1,727,962 parameters with option A (the paper's 1.7M)."""
    return PreActCifarResNet(110, False, shortcut, num_classes)


def preact_resnet164(shortcut: str = "B", num_classes: int = 10) -> PreActCifarResNet:
    """PreAct-ResNet-164 (bottlenecks, n=18): 1,703,258 parameters with 1x1 projections (the paper's 1.7M)."""
    return PreActCifarResNet(164, True, shortcut, num_classes)
