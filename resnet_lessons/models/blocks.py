"""The blocks every network of the course is made of, with torchvision's names and semantics.

Residual blocks compute ``ReLU(F(x) + shortcut(x))``; each has a plain twin with the same layers that
computes ``ReLU(F(x))``, so a plain net and its residual twin differ only by the addition. Every convolution
is followed by BatchNorm and has no bias (BatchNorm's own bias replaces it). A block's output has
``planes * expansion`` channels; shapes use N for the batch, s for the stride (1 or 2), H, W for the input's size.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from .shortcuts import make_shortcut

# --- convolutions ---


def check_groups(in_channels: int, out_channels: int, groups: int, where: str) -> None:
    """Raise ValueError unless ``groups`` divides both channel counts (each group needs whole channels)."""
    if not isinstance(groups, int) or groups < 1 or in_channels % groups or out_channels % groups:
        valid = [g for g in range(1, min(in_channels, out_channels) + 1)
                 if in_channels % g == 0 and out_channels % g == 0]
        raise ValueError(
            f"cardinality (groups) {groups!r} does not divide the channels of {where} "
            f"({in_channels} in, {out_channels} out): every group needs a whole number of channels. "
            f"Valid values here: {', '.join(map(str, valid))}."
        )


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1, no bias: [N, C_in, H, W] -> [N, C_out, H/s, W/s]."""
    check_groups(in_channels, out_channels, groups, "a 3x3 convolution")
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """1x1 convolution, no bias: [N, C_in, H, W] -> [N, C_out, H/s, W/s]."""
    check_groups(in_channels, out_channels, groups, "a 1x1 convolution")
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, groups=groups, bias=False)


def check_shortcut_fits(block: str, inplanes: int, out_channels: int, stride: int, downsample: object,
                        shortcut_function: str = "make_shortcut") -> None:
    """Raise ValueError if the block changes the shape of x but has no ``downsample`` to change x as well."""
    if downsample is None and (stride != 1 or inplanes != out_channels):
        raise ValueError(
            f"{block}({inplanes} -> {out_channels} channels, stride {stride}) changes the shape of x, so x cannot "
            f"be added unchanged: pass a downsample module, e.g. {shortcut_function}('B', {inplanes}, "
            f"{out_channels}, {stride}) (options 'A', 'B', 'pool')."
        )


def bottleneck_width(planes: int, width_per_group: int = 64, cardinality: int = 1) -> int:
    """Channels of a bottleneck's 3x3 convolution: ``cardinality`` groups of ``planes * width_per_group / 64``.

    ResNet-50: (64, 64, 1) -> 64. Wide ResNet-50-2: (64, 128, 1) -> 128. ResNeXt-50 32x4d: (64, 4, 32) -> 128,
    the paper's "3x3, 128, C=32" in Table 1. Each stage doubles ``planes`` and so doubles the width.
    """
    if not isinstance(cardinality, int) or cardinality < 1:
        raise ValueError(f"cardinality must be a positive whole number (1, 2, 4, 8, 32, ...), got {cardinality!r}.")
    d, remainder = divmod(planes * width_per_group, 64)
    if remainder or d < 1:
        raise ValueError(
            f"the width of each group, planes * width_per_group / 64 = {planes} * {width_per_group} / 64 = "
            f"{planes * width_per_group / 64:g}, must be a whole number >= 1: choose width_per_group as a "
            f"multiple of {64 // math.gcd(planes, 64)}."
        )
    return cardinality * d


# --- two 3x3 convolutions (ResNet-18/34 and the CIFAR nets) ---


class BasicBlock(nn.Module):
    """Residual block of two 3x3 convolutions: out = ReLU(F(x) + shortcut(x)).

    x        [N, inplanes, H, W]
    conv1    3x3, stride s  -> bn1 -> ReLU    [N, planes, H/s, W/s]
    conv2    3x3            -> bn2            [N, planes, H/s, W/s]   this is F(x)
    shortcut x, or downsample(x) when the shape changes
    out      ReLU(F(x) + shortcut)            [N, planes, H/s, W/s]
    """

    expansion = 1
    has_shortcut = True

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        check_shortcut_fits("BasicBlock", inplanes, planes, stride, downsample)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class PlainBasicBlock(nn.Module):
    """BasicBlock without the shortcut: out = ReLU(F(x)), the same layers and parameters (bn2 is followed by ReLU)."""

    expansion = 1
    has_shortcut = False

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        return self.relu(out)


# --- 1x1, 3x3, 1x1 bottlenecks (ResNet-50/101/152, Wide ResNet, ResNeXt) ---


class Bottleneck(nn.Module):
    """Residual bottleneck: 1x1 reduces, 3x3 (with the stride, as torchvision) works, 1x1 expands x4.

    x        [N, inplanes, H, W]
    conv1    1x1                      -> bn1 -> ReLU   [N, width, H, W]
    conv2    3x3, C groups, stride s  -> bn2 -> ReLU   [N, width, H/s, W/s]
    conv3    1x1                      -> bn3           [N, 4*planes, H/s, W/s]   this is F(x)
    out      ReLU(F(x) + shortcut)                     [N, 4*planes, H/s, W/s]

    width = C * planes * width_per_group / 64 (:func:`bottleneck_width`), C = ``cardinality``.
    ``width_per_group`` (torchvision's ``base_width``) is 64 for ResNet and 128 for Wide ResNet-50-2;
    ``cardinality`` (torchvision's ``groups``) above 1 makes it a ResNeXt block: see :class:`ResNeXtBottleneck`.
    """

    expansion = 4
    has_shortcut = True

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 width_per_group: int = 64, cardinality: int = 1, group_first_conv: bool = False):
        super().__init__()
        width = bottleneck_width(planes, width_per_group, cardinality)
        first_groups = cardinality if group_first_conv else 1
        check_groups(inplanes, width, first_groups, "conv1, the grouped first 1x1 convolution (group_first_conv)")
        check_shortcut_fits(type(self).__name__, inplanes, planes * self.expansion, stride, downsample)
        self.conv1 = conv1x1(inplanes, width, groups=first_groups)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups=cardinality)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)
        out = self.conv3(out)
        out = self.bn3(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class PlainBottleneck(nn.Module):
    """Bottleneck without the shortcut: out = ReLU(F(x)), the same layers and parameters (bn3 is followed by ReLU)."""

    expansion = 4
    has_shortcut = False

    def __init__(self, inplanes: int, planes: int, stride: int = 1, width_per_group: int = 64,
                 cardinality: int = 1, group_first_conv: bool = False):
        super().__init__()
        width = bottleneck_width(planes, width_per_group, cardinality)
        first_groups = cardinality if group_first_conv else 1
        check_groups(inplanes, width, first_groups, "conv1, the grouped first 1x1 convolution (group_first_conv)")
        self.conv1 = conv1x1(inplanes, width, groups=first_groups)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups=cardinality)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)
        out = self.conv3(out)
        out = self.bn3(out)
        return self.relu(out)


class ResNeXtBottleneck(Bottleneck):
    """ResNeXt block (the paper's Fig. 3c): a Bottleneck whose 3x3 convolution has ``cardinality`` groups.

    conv1 and conv2 are C*d channels wide (C = cardinality, d = width_per_group * planes / 64); each of the
    C groups of conv2 sees only its own d input channels: C parallel paths, concatenated. "32x4d" is
    cardinality=32, width_per_group=4 (torchvision's ``groups`` and ``width_per_group``).

    ``group_first_conv=True`` also splits conv1 into C groups, as seed lesson 002 (after weiaicunzai's
    code) does; the paper groups only the 3x3. It divides conv1's weights by C.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 cardinality: int = 32, width_per_group: int = 4, group_first_conv: bool = False):
        super().__init__(inplanes, planes, stride, downsample, width_per_group, cardinality, group_first_conv)


class PlainResNeXtBottleneck(PlainBottleneck):
    """ResNeXtBottleneck without the shortcut: out = ReLU(F(x)), the same layers and parameters."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 cardinality: int = 32, width_per_group: int = 4, group_first_conv: bool = False):
        super().__init__(inplanes, planes, stride, width_per_group, cardinality, group_first_conv)


RESIDUAL_BLOCKS = (BasicBlock, Bottleneck, ResNeXtBottleneck)
PLAIN_BLOCKS = (PlainBasicBlock, PlainBottleneck, PlainResNeXtBottleneck)
"""The package's blocks. Code that takes a block class asks the class itself (``has_shortcut``,
``expansion``), so a student's own block works everywhere these do."""


# --- stages, initialisation, walking the blocks, checking the input ---


def check_block_class(block: object) -> None:
    """Raise TypeError unless ``block`` (the package's or a student's) is an ``nn.Module`` subclass with the class
    attributes ``expansion`` (output channels = planes * expansion) and ``has_shortcut`` (True: its ``__init__``
    is ``(inplanes, planes, stride, downsample, ...)``; False: a plain block, ``(inplanes, planes, stride, ...)``).
    """
    if not (isinstance(block, type) and issubclass(block, nn.Module)):
        raise TypeError(f"block must be a block class (a subclass of nn.Module, not an instance), got {block!r}.")
    missing = [a for a in ("expansion", "has_shortcut") if not hasattr(block, a)]
    if missing:
        raise TypeError(
            f"{block.__name__} needs the class attribute(s) {' and '.join(missing)}: expansion = 1 (or 4 for a "
            "bottleneck: output channels = planes * expansion), and has_shortcut = True if its __init__ takes "
            "(inplanes, planes, stride, downsample) and adds the shortcut, False for a plain block."
        )


def make_layer(block: type[nn.Module], inplanes: int, planes: int, num_blocks: int, stride: int = 1,
               shortcut: str = "B", **block_kwargs) -> nn.Sequential:
    """One stage (torchvision's ``layer1`` ... ``layer4``): ``num_blocks`` blocks in an ``nn.Sequential``.

    [N, inplanes, H, W] -> [N, planes * block.expansion, H/stride, W/stride]. Only the first block changes
    the shape; if ``block.has_shortcut``, its shortcut is option ``shortcut`` ("A", "B" or "pool"); plain
    blocks get none. ``block_kwargs`` go to every block (e.g. ``cardinality=32, width_per_group=4``).
    ``block`` may be a class of your own, see :func:`check_block_class`.
    """
    check_block_class(block)
    if not isinstance(num_blocks, int) or num_blocks < 1:
        raise ValueError(f"a stage needs at least one block, got num_blocks={num_blocks!r}.")
    out_channels = planes * block.expansion
    if not block.has_shortcut:
        blocks = [block(inplanes, planes, stride, **block_kwargs)]
        blocks += [block(out_channels, planes, 1, **block_kwargs) for _ in range(num_blocks - 1)]
        return nn.Sequential(*blocks)
    downsample = None
    if stride != 1 or inplanes != out_channels:
        downsample = make_shortcut(shortcut, inplanes, out_channels, stride)
    blocks = [block(inplanes, planes, stride, downsample, **block_kwargs)]
    blocks += [block(out_channels, planes, 1, None, **block_kwargs) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


def init_weights(model: nn.Module, zero_init_residual: bool = False) -> None:
    """torchvision's initialisation: He-normal convolutions (fan_out), BatchNorm weight 1 and bias 0.

    With ``zero_init_residual`` the last BatchNorm of every residual branch gets weight 0, so F(x) = 0
    and every block starts as ReLU(x + shortcut(x)): the identity for blocks that keep the shape
    (Goyal et al. 2017, "Accurate, Large Minibatch SGD"). Linear layers keep PyTorch's default.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)
            elif isinstance(m, Bottleneck):  # ResNeXtBottleneck too
                nn.init.zeros_(m.bn3.weight)


def block_stride(block: nn.Module) -> int:
    """How much ``block`` shrinks the map: the largest stride of its convolutions (1 or 2). The stride is
    held by the convolution that applies it (conv1 of a BasicBlock, conv2 of a bottleneck), not copied."""
    return max((m.stride[0] for m in block.modules() if isinstance(m, nn.Conv2d)), default=1)


def residual_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The residual blocks of ``model`` (those whose class has ``has_shortcut = True``) in forward order, as
    (name, block), e.g. ("layer2.0", BasicBlock)."""
    return [(name, m) for name, m in model.named_modules() if getattr(type(m), "has_shortcut", False)]


def check_num_classes(num_classes: object) -> None:
    """Raise a clear error unless ``num_classes`` is a whole number of classes, at least 2."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be a whole number of classes, at least 2 (10 for CIFAR-10), "
                         f"got {num_classes!r}.")


def check_input(x: object, channels: int = 3, dtype: object = None) -> None:
    """Raise a clear TypeError/ValueError unless ``x`` is a float batch of images [N, channels, H, W]
    (of the network's own ``dtype`` when it is given, e.g. float32)."""
    want = f"a float batch of images of shape [N, {channels}, H, W]"
    if not isinstance(x, Tensor):
        raise TypeError(f"expected {want}, got {type(x).__name__}.")
    if x.dim() != 4:
        hint = " For a single image add the batch dimension: x.unsqueeze(0)." if x.dim() == 3 else ""
        raise ValueError(f"expected {want} (4 dimensions), got shape {tuple(x.shape)} ({x.dim()} dimensions).{hint}")
    if x.shape[1] != channels:
        hint = " It looks channels-last: use x.permute(0, 3, 1, 2)." if x.shape[-1] == channels else ""
        raise ValueError(f"expected {want} with {channels} channels in dimension 1, got shape {tuple(x.shape)}.{hint}")
    if not x.is_floating_point():
        raise TypeError(f"expected {want}, got dtype {x.dtype}: convert to float and normalise first "
                        "(e.g. (x.float() / 255 - mean) / std).")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"the network's weights are {dtype} but the images are {x.dtype}: convert the images "
                        f"with x.to({dtype}) (usually x.float()), or the network with model.to({x.dtype}).")
