"""Seed lesson 004's pieces: VGG's first layers against ResNet's stem, and blocks counted with biases.

Seed lesson 004 counts parameters with ``in x out x k x k + bias``, every convolution with a bias and no
BatchNorm. These builders have exactly its layers, so the counts (in each docstring) come out as the lesson
prints them. The lesson's own blocks have no ReLU (and its bottleneck adds a ``y`` it never defines); these
add the ReLUs a real block has, which changes no count.
"""

from __future__ import annotations

from torch import Tensor, nn


def vgg_front() -> nn.Sequential:
    """VGG-16's first two stages: 3x3 convs 3->64, 64->64, pool, 64->128, 128->128, pool; 260,160 parameters.

    [N, 3, 224, 224] -> [N, 64, 224, 224] -> [N, 64, 112, 112] -> [N, 128, 112, 112] -> [N, 128, 56, 56]
    """
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(64, 64, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(64, 128, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(128, 128, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=2, stride=2),
    )


def resnet_stem(bias: bool = True) -> nn.Sequential:
    """ResNet's first layer: a 7x7 conv with stride 2 and a max-pool; 9,472 parameters with the bias.

    [N, 3, 224, 224] -> conv [N, 64, 112, 112] -> max-pool [N, 64, 56, 56].
    ``bias=False`` (as in the real network, where BatchNorm follows) gives 9,408.
    """
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=bias),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )


class TwoConvBlock(nn.Module):
    """Seed 004's plain "ConvBlock": two 3x3 convolutions with bias, no shortcut; 64 -> 64 has 73,856 parameters.

    x [N, C_in, H, W] -> conv1 -> ReLU [N, C_out, H, W] -> conv2 -> ReLU [N, C_out, H, W]
    """

    def __init__(self, in_channels: int = 64, out_channels: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.relu(out)
        out = self.conv2(out)
        return self.relu(out)


class BiasBottleneck(nn.Module):
    """Seed 004's "BottleneckBlock": 1x1, 3x3, 1x1 convolutions with bias, plus the shortcut.

    x      [N, C_in, H, W]
    conv1  1x1            -> ReLU   [N, mid, H, W]
    conv2  3x3, stride s  -> ReLU   [N, mid, H/s, W/s]
    conv3  1x1                      [N, C_out, H/s, W/s]
    out    ReLU(conv3 + shortcut)   shortcut = x, or ``conv_shortcut`` (1x1, stride s, with bias) when
                                    the shape changes
    (64, 64, 64): 45,248 parameters. (64, 64, 128, stride 2): 57,728, of which the projection is 8,320.
    """

    def __init__(self, in_channels: int = 64, mid_channels: int = 64, out_channels: int = 64, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, mid_channels, kernel_size=1)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, kernel_size=3, stride=stride, padding=1)
        self.conv3 = nn.Conv2d(mid_channels, out_channels, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.conv_shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.conv_shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.relu(out)
        out = self.conv3(out)
        identity = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return self.relu(out + identity)
