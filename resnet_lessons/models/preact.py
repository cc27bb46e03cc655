"""Pre-activation ResNets for CIFAR (He et al. 2016, "Identity Mappings in Deep Residual Networks").

The original block (:class:`~resnet_lessons.models.blocks.BasicBlock`) computes ``ReLU(F(x) + x)``: the
ReLU after the addition sits on the shortcut path, so no block passes x on unchanged. The pre-activation
block moves BatchNorm and ReLU in front of each convolution and leaves the addition alone:

    original:        x -> conv -> BN -> ReLU -> conv -> BN -> (+ x) -> ReLU
    pre-activation:  x -> BN -> ReLU -> conv -> BN -> ReLU -> conv -> (+ x)

Between two blocks the signal then goes through nothing but additions, x_L = x_l + sum of F(x_i), and the
gradient reaches every block through a pure identity path (the paper's Eq. 4 and 5).

The paper's handling of the ends of the network (its Section 4.1, and its authors' code):

- the stem ``conv1`` is followed by ``bn1`` and a ReLU: that is the first block's pre-activation, done
  once "before splitting into two paths", so ``layer1[0]`` has no BatchNorm-ReLU of its own
  (``preactivate=False``);
- a block that changes the shape (the first of stages 2 and 3, and of stage 1 for the bottleneck nets)
  applies its BatchNorm-ReLU to x *before* the split, and its shortcut reads that activated tensor;
- after the last addition come one more BatchNorm and ReLU (``bn_final``), then pooling and ``fc``.

Networks (10 classes):

=========================  ==========  ===============  ===================  ==========
network                    block       depth            shortcut             parameters
=========================  ==========  ===============  ===================  ==========
``preact_resnet20``        basic       6n+2, n=3        A (zero padding)     269,722
``preact_resnet56``        basic       6n+2, n=9        A                    853,018
``preact_resnet110``       basic       6n+2, n=18       A                    1,727,962
``preact_resnet164``       bottleneck  9n+2, n=18       B (1x1 projection)   1,703,258
=========================  ==========  ===============  ===================  ==========

The paper gives 1.7M for both PreAct-ResNet-110 and PreAct-ResNet-164. A basic-block pre-activation net has
exactly as many parameters as the original with the same shortcut: it moves BatchNorms rather than adding
any. ``layer1[0]`` loses its first BatchNorm (16 channels) to the stem, the first blocks of stages 2 and 3
normalise their 16- and 32-channel inputs instead of 32- and 64-channel outputs, and ``bn_final`` adds 64
channels back: -16 - 16 - 32 + 64 = 0.

Shortcut option "B" here is a 1x1 convolution *without* BatchNorm (the authors' code): its input has just
been through BatchNorm and ReLU. Options "A" and "pool" are the modules of :mod:`.shortcuts`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .blocks import check_input, conv1x1, conv3x3, init_weights
from .cifar import blocks_per_stage
from .shortcuts import check_shortcut_option, make_shortcut

# ---------------------------------------------------------------------------------------------
# the two pre-activation blocks
# ---------------------------------------------------------------------------------------------


class PreActBasicBlock(nn.Module):
    """Pre-activation block of two 3x3 convolutions: out = F(x) + shortcut, with no ReLU after the addition.

    x        [N, inplanes, H, W]
    bn1 -> ReLU                  [N, inplanes, H, W]       a, the pre-activated input (skipped when
                                                          ``preactivate=False``: x is already activated)
    conv1    3x3, stride s       [N, planes, H/s, W/s]
    bn2 -> ReLU -> conv2 3x3     [N, planes, H/s, W/s]     this is F(x)
    shortcut x itself, or downsample(a) when the shape changes
    out      F(x) + shortcut     [N, planes, H/s, W/s]
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 preactivate: bool = True):
        super().__init__()
        _check_fits("PreActBasicBlock", inplanes, planes, stride, downsample)
        self.bn1 = nn.BatchNorm2d(inplanes) if preactivate else None
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample
        self.stride = stride

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
        _check_fits("PreActBottleneck", inplanes, planes * self.expansion, stride, downsample)
        self.bn1 = nn.BatchNorm2d(inplanes) if preactivate else None
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv1x1(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = x if self.bn1 is None else self.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + identity


PREACT_BLOCKS = (PreActBasicBlock, PreActBottleneck)


def _check_fits(block: str, inplanes: int, out_channels: int, stride: int, downsample: object) -> None:
    """A block whose output shape differs from its input's needs a shortcut that changes x as well."""
    if downsample is None and (stride != 1 or inplanes != out_channels):
        raise ValueError(
            f"{block}({inplanes} -> {out_channels} channels, stride {stride}) changes the shape of x, so x cannot "
            f"be added unchanged: pass a downsample module, e.g. preact_shortcut('B', {inplanes}, {out_channels}, "
            f"{stride}) (options 'A', 'B', 'pool')."
        )


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
    if not isinstance(num_blocks, int) or num_blocks < 1:
        raise ValueError(f"a stage needs at least one block, got num_blocks={num_blocks!r}.")
    out_channels = planes * block.expansion
    blocks = []
    for i in range(num_blocks):
        block_in = inplanes if i == 0 else out_channels
        block_stride = stride if i == 0 else 1
        downsample = None
        if block_stride != 1 or block_in != out_channels:
            downsample = preact_shortcut(shortcut, block_in, out_channels, block_stride)
        preactivate = first_preactivate or i > 0
        blocks.append(block(block_in, planes, block_stride, downsample, preactivate))
    return nn.Sequential(*blocks)


# ---------------------------------------------------------------------------------------------
# the networks
# ---------------------------------------------------------------------------------------------


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
