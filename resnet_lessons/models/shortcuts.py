"""The course's three shortcut options: the ResNet paper's A and B (Section 4.2), and a parameter-free "pool".

The first block of a stage halves the image and doubles the channels, so its input ``x`` no longer has the
shape of the branch's output and the shortcut must change it:

=======  ======================  ======================================================  ===========
option   module                  what the shortcut does to x [N, C_in, H, W]            parameters
=======  ======================  ======================================================  ===========
A        :class:`IdentityPadding` keep every ``stride``-th pixel, append zero channels    none
B        :class:`ConvProjection`  1x1 convolution with stride, then BatchNorm             C_in*C_out + 2*C_out
pool     :class:`AvgPoolPadding`  average ``stride`` x ``stride`` pixels, append zeros    none
=======  ======================  ======================================================  ===========

All three return [N, C_out, H / stride, W / stride]; the other blocks' shortcuts are plain identities.
Option B is also torchvision's ``downsample``. The paper's option C ("projections on *every* shortcut") is
not built (notebook 04's exercise 4 counts what it would cost); "pool" is the course's own option.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

SHORTCUT_OPTIONS = ("A", "B", "pool")


def check_shortcut_option(option: object) -> str:
    """Return ``option`` as "A", "B" or "pool" (any case accepted); anything else raises ValueError
    listing the valid options."""
    if isinstance(option, str):
        if option.upper() in ("A", "B"):
            return option.upper()
        if option.lower() == "pool":
            return "pool"
    raise ValueError(
        f"unknown shortcut option {option!r}: valid options are 'A' (IdentityPadding: subsample and add zero "
        "channels, no parameters), 'B' (ConvProjection: 1x1 convolution + BatchNorm) and 'pool' "
        "(AvgPoolPadding: average pooling and zero channels, no parameters)."
    )


def _check_channels(name: str, in_channels: int, out_channels: int) -> None:
    """Zero padding can only add channels: out_channels must be at least in_channels."""
    if out_channels < in_channels:
        raise ValueError(
            f"{name} pads with zero channels, so out_channels ({out_channels}) must be at least "
            f"in_channels ({in_channels}); use ConvProjection (option B) to reduce channels."
        )


def _pad_channels(x: Tensor, extra: int) -> Tensor:
    """[N, C, H, W] -> [N, C + extra, H, W]: the new channels are zeros, after the existing ones."""
    return F.pad(x, (0, 0, 0, 0, 0, extra))


class IdentityPadding(nn.Module):
    """Option A: the identity, subsampled and padded with zero channels. No parameters.

    x [N, C_in, H, W] -> keep every ``stride``-th row and column -> [N, C_in, H/s, W/s]
    -> append C_out - C_in zero channels -> [N, C_out, H/s, W/s].
    (``MaxPool2d(1, stride)``, as KellerJordan writes it, is the same subsampling.)
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        _check_channels("IdentityPadding", in_channels, out_channels)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return _pad_channels(x, self.out_channels - self.in_channels)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class ConvProjection(nn.Sequential):
    """Option B: a learned projection, 1x1 convolution with stride then BatchNorm.

    x [N, C_in, H, W] -> Conv2d(C_in, C_out, 1, stride) -> [N, C_out, H/s, W/s] -> BatchNorm2d(C_out).
    Parameters: C_in * C_out (conv, no bias) + 2 * C_out (BatchNorm's weight and bias). Its parameters are
    named ``0.weight``, ``1.weight``, ``1.bias`` as in torchvision's ``downsample``, so its weights load.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class AvgPoolPadding(nn.Module):
    """Option "pool": average pooling, then zero channels. No parameters.

    x [N, C_in, H, W] -> average each ``stride`` x ``stride`` square -> [N, C_in, H/s, W/s]
    -> append C_out - C_in zero channels -> [N, C_out, H/s, W/s].

    Unlike option A, every input pixel contributes. ``ceil_mode=True`` keeps odd sizes in step with the
    stride-2 convolution of the branch (7 -> 4, as the convolution gives); for even sizes it changes nothing.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        _check_channels("AvgPoolPadding", in_channels, out_channels)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.pool = nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        return _pad_channels(self.pool(x), self.out_channels - self.in_channels)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"


def make_shortcut(option: str, in_channels: int, out_channels: int, stride: int = 1) -> nn.Module:
    """The shortcut module of option "A", "B" or "pool" for a block that maps C_in -> C_out with ``stride``."""
    option = check_shortcut_option(option)
    if option == "A":
        return IdentityPadding(in_channels, out_channels, stride)
    if option == "B":
        return ConvProjection(in_channels, out_channels, stride)
    return AvgPoolPadding(in_channels, out_channels, stride)
