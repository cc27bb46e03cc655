"""The ResNeXt checkers (notebook 05) accept right answers and name the usual wrong ones."""

import pytest
import torch
from torch import nn

from resnet_lessons.checks.resnext import (
    check_grouped_conv,
    check_grouped_conv_params,
    check_resnext_block,
    check_resnext_block_params,
    check_width_for_cardinality,
    check_width_without_groups,
    cifar_resnext_params,
    grouped_conv_params,
    paths_output,
    resnext_block_params,
    width_for_cardinality,
    width_without_groups,
)


def make_paths(n=4, cin=2, cout=3, bias=False):
    torch.manual_seed(0)
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=bias) for _ in range(n)]


def grouped_from(paths, order=None, groups=None, bias=None):
    order = order if order is not None else range(len(paths))
    first = paths[0]
    bias = (first.bias is not None) if bias is None else bias
    conv = nn.Conv2d(first.in_channels * len(paths), first.out_channels * len(paths), 3, padding=1,
                     groups=groups or len(paths), bias=bias)
    with torch.no_grad():
        conv.weight.copy_(torch.cat([paths[i].weight for i in order], dim=0))
        if bias and first.bias is not None:
            conv.bias.copy_(torch.cat([paths[i].bias for i in order]))
    return conv


# --- grouped conv from separate paths -----------------------------------------------------------

@pytest.mark.parametrize("bias", [False, True])
def test_right_grouped_conv_passes(capsys, bias):
    paths = make_paths(bias=bias)
    conv = grouped_from(paths)
    x = torch.randn(2, 8, 5, 5)
    assert torch.allclose(conv(x), paths_output(paths, x), atol=1e-6)  # the claim the notebook makes
    assert check_grouped_conv(conv, paths)
    assert "Correct:" in capsys.readouterr().out


def test_groups_left_at_one_is_named(capsys):
    paths = make_paths()
    conv = nn.Conv2d(8, 12, 3, padding=1, bias=False)
    assert not check_grouped_conv(conv, paths)
    out = capsys.readouterr().out
    assert "groups=1" in out and "groups=4" in out


def test_wrong_group_count_and_channels(capsys):
    paths = make_paths()
    assert not check_grouped_conv(nn.Conv2d(8, 12, 3, padding=1, groups=2, bias=False), paths)
    assert "one group per path" in capsys.readouterr().out
    assert not check_grouped_conv(nn.Conv2d(2, 3, 3, padding=1, bias=False), paths)
    out = capsys.readouterr().out
    assert "in_channels=2" in out and "out_channels=3" in out


def test_kernel_padding_and_bias_mismatch(capsys):
    paths = make_paths()
    assert not check_grouped_conv(nn.Conv2d(8, 12, 3, padding=0, groups=4, bias=False), paths)
    assert "padding" in capsys.readouterr().out
    assert not check_grouped_conv(nn.Conv2d(8, 12, 3, padding=1, groups=4, bias=True), paths)
    assert "bias" in capsys.readouterr().out


def test_weights_not_copied_or_reversed(capsys):
    paths = make_paths()
    assert not check_grouped_conv(nn.Conv2d(8, 12, 3, padding=1, groups=4, bias=False), paths)
    assert "torch.cat" in capsys.readouterr().out
    assert not check_grouped_conv(grouped_from(paths, order=[3, 2, 1, 0]), paths)
    assert "reverse order" in capsys.readouterr().out
    assert not check_grouped_conv(grouped_from(paths, order=[0, 0, 0, 0]), paths)
    assert "same path" in capsys.readouterr().out


def test_bias_not_copied(capsys):
    paths = make_paths(bias=True)
    conv = grouped_from(paths)
    with torch.no_grad():
        conv.bias.zero_()
    assert not check_grouped_conv(conv, paths)
    assert "bias" in capsys.readouterr().out


def test_not_a_conv_or_placeholder(capsys):
    paths = make_paths()
    assert not check_grouped_conv(None, paths)
    assert "Not answered yet" in capsys.readouterr().out
    assert not check_grouped_conv(nn.ModuleList(paths), paths)
    assert "ONE nn.Conv2d" in capsys.readouterr().out
    assert not check_grouped_conv(nn.Linear(3, 3), paths)
    assert "nn.Conv2d" in capsys.readouterr().out


# --- parameter counts -----------------------------------------------------------------------------

def test_grouped_conv_params_formula_matches_pytorch():
    for cin, cout, k, g, b in [(128, 128, 3, 32, False), (64, 256, 1, 1, True), (256, 128, 1, 32, False)]:
        conv = nn.Conv2d(cin, cout, k, groups=g, bias=b)
        assert grouped_conv_params(cin, cout, k, g, b) == sum(p.numel() for p in conv.parameters())
    with pytest.raises(ValueError, match="divisible"):
        grouped_conv_params(10, 12, 3, 4)


def test_check_grouped_conv_params(capsys):
    assert check_grouped_conv_params(4608, 128, 128, 3, 32)
    assert "Correct:" in capsys.readouterr().out
    cases = {
        147456: "groups=1",           # forgot the groups
        144: "ONE group",             # one group only = divided twice
        1000: None,                   # an arbitrary wrong number: too low
        128 * 4: "3 x 3",             # forgot k*k
        4608 + 128: "no bias",        # counted a bias that isn't there
    }
    for answer, phrase in cases.items():
        assert not check_grouped_conv_params(answer, 128, 128, 3, 32)
        out = capsys.readouterr().out
        assert "Not yet:" in out
        assert (phrase or "too low") in out
    assert not check_grouped_conv_params(4 * 4 * 9, 128, 128, 3, 32)
    assert "ONE group" in capsys.readouterr().out
    assert not check_grouped_conv_params(4608, 128, 128, 3, 32, bias=True)
    assert "bias is missing" in capsys.readouterr().out
    assert not check_grouped_conv_params("4608", 128, 128, 3, 32)
    assert "number" in capsys.readouterr().out
    assert not check_grouped_conv_params(None, 128, 128, 3, 32)
    assert "Not answered yet" in capsys.readouterr().out


def test_resnext_block_params(capsys):
    assert resnext_block_params(256, 32, 4) == 70_144
    assert resnext_block_params(256, 1, 64) == 69_632  # the ResNet bottleneck
    assert check_resnext_block_params(70_144)
    for answer, phrase in [(2_192, "one path"), (212_992, "ordinary convolution"), (70_144 + 1024, "BatchNorm"),
                           (70_144 + 128 + 128 + 256, "no bias"), (37_376, "missing"), (80_000, "too high")]:
        assert not check_resnext_block_params(answer)
        out = capsys.readouterr().out
        assert phrase in out, (answer, out)


def test_width_for_cardinality(capsys):
    # the paper's Table 2: C=1 d=64, C=2 d=40, C=4 d=24, C=8 d=14, C=32 d=4
    assert [width_for_cardinality(c) for c in (1, 2, 4, 8, 32)] == [64, 40, 24, 14, 4]
    assert check_width_for_cardinality(14, 8)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and "14" not in out and "71,456" not in out  # nothing to copy from
    assert not check_width_for_cardinality(16, 8)
    assert "too many" in capsys.readouterr().out
    assert not check_width_for_cardinality(13, 8)
    assert "too few" in capsys.readouterr().out
    assert not check_width_for_cardinality(-3, 8)
    assert "positive whole number" in capsys.readouterr().out
    assert check_width_for_cardinality(14.0, 8)


# --- a whole block ----------------------------------------------------------------------------------

class TinyResNeXtBlock(nn.Module):
    """A stand-in reference with the package's layer names (the real one is tested in notebook 05)."""

    def __init__(self, channels=32, width=16, groups=4, first_groups=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 1, groups=first_groups, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + x)


class NoShortcut(TinyResNeXtBlock):
    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)))


def test_resnext_block(capsys):
    shape = (2, 32, 6, 6)
    assert check_resnext_block(TinyResNeXtBlock(), TinyResNeXtBlock(), shape)
    assert "Correct:" in capsys.readouterr().out
    assert not check_resnext_block(TinyResNeXtBlock(groups=1), TinyResNeXtBlock(), shape)
    assert "groups=4" in capsys.readouterr().out
    assert not check_resnext_block(TinyResNeXtBlock(first_groups=4), TinyResNeXtBlock(), shape)
    assert "first 1x1" in capsys.readouterr().out
    assert not check_resnext_block(NoShortcut(), TinyResNeXtBlock(), shape)
    assert "order" in capsys.readouterr().out
    assert not check_resnext_block(nn.Conv2d(3, 3, 1), TinyResNeXtBlock(), shape)
    assert "Not yet:" in capsys.readouterr().out
    assert not check_resnext_block(None, TinyResNeXtBlock(), shape)
    assert "Not answered yet" in capsys.readouterr().out


def test_width_without_groups_matches_a_count_of_real_models(capsys):
    from resnet_lessons.models import CifarResNeXt

    # the meta-device count is the count of a real model
    real = sum(p.numel() for p in CifarResNeXt(depth=11, cardinality=2, width_per_group=4).parameters())
    assert cifar_resnext_params(11, 2, 4) == real
    best = width_without_groups(29, 8, 4)
    target = cifar_resnext_params(29, 8, 4)
    gap = abs(cifar_resnext_params(29, 1, best) - target)
    assert gap <= abs(cifar_resnext_params(29, 1, best - 1) - target)
    assert gap <= abs(cifar_resnext_params(29, 1, best + 1) - target)
    assert check_width_without_groups(best)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and f"1x{best}d" not in out


def test_check_width_without_groups_says_which_way_to_go(capsys):
    best = width_without_groups(29, 8, 4)
    assert not check_width_without_groups(best + 5)
    out = capsys.readouterr().out
    assert "more than ResNeXt-29 (8x4d)" in out and "smaller d" in out
    assert not check_width_without_groups(best - 5)
    out = capsys.readouterr().out
    assert "fewer than" in out and "larger d" in out
    assert not check_width_without_groups(None)
    assert "Not answered yet" in capsys.readouterr().out
    assert not check_width_without_groups("24")
    assert "positive whole number" in capsys.readouterr().out
