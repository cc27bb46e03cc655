"""The checkers of notebooks 03 and 04 accept right answers and name the usual wrong ones in words."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_lessons.checks.blocks import (
    all_projection_cost,
    check_all_projection_cost,
    check_block_parameters,
    check_bottleneck,
    check_conv_macs,
    check_option_a,
    check_option_b_cost,
    check_resnet32,
    conv_macs,
    option_b_cost,
    reference_bottleneck,
)
from resnet_lessons.checks.core import explain_difference
from resnet_lessons.models import BasicBlock, IdentityPadding, build_model, make_layer

# --- option B's cost ---------------------------------------------------------------------------


def test_option_b_cost_is_2752_for_every_depth():
    assert option_b_cost(20) == option_b_cost(32) == 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64 == 2752


def test_option_b_cost_right_answer(capsys):
    assert check_option_b_cost(2752)
    assert "Correct:" in capsys.readouterr().out


@pytest.mark.parametrize("answer, words", [
    (2560, "BatchNorms are missing"),
    (2944, "running mean and variance"),
    (2848, "no bias"),
    (2752 + 8 * 2560, "1x1 convolution"),
    (3 * 2752, "two projections in the whole network"),
    (2176, "16 -> 32 projection of stage 2 is missing"),
    (2752 + 288, "stage 1 needs no projection"),
    (2560 + 96, "no bias"),  # two slips at once: both are named
])
def test_option_b_cost_names_the_slip(capsys, answer, words):
    assert not check_option_b_cost(answer)
    out = capsys.readouterr().out
    assert "Not yet:" in out and words in out


def test_option_b_cost_unexplained_gets_a_hint_and_placeholders_do_not_raise(capsys):
    assert not check_option_b_cost(1234)
    assert "too low" in capsys.readouterr().out and "1x1 conv without bias"
    assert not check_option_b_cost(None)
    assert "Not answered yet" in capsys.readouterr().out
    assert not check_option_b_cost("2752")
    assert "should be a number" in capsys.readouterr().out


def test_explain_difference_finds_the_smallest_combination():
    mistakes = {"a": 10, "b": -3, "c": 100}
    assert explain_difference(17, 10, mistakes) == ["b", "a"] or explain_difference(17, 10, mistakes) == ["a", "b"]
    assert explain_difference(20, 10, mistakes) == ["a"]
    assert explain_difference(11, 10, mistakes) == []


# --- option A as a function --------------------------------------------------------------------


def right_a(x, out_channels, stride):
    return F.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, 0, out_channels - x.shape[1]))


def test_option_a_right_answer_passes(capsys):
    assert check_option_a(right_a)
    assert "Correct:" in capsys.readouterr().out
    assert check_option_a(lambda x, c, s: IdentityPadding(x.shape[1], c, s)(x))


def _both_sides(x, c, s):
    extra = c - x.shape[1]
    return F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, extra // 2, extra - extra // 2))


@pytest.mark.parametrize("student, words", [
    (_both_sides, "split before and after"),
    (lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, c - x.shape[1], 0)), "come before"),
    (lambda x, c, s: F.pad(F.avg_pool2d(x, s, ceil_mode=True), (0, 0, 0, 0, 0, c - x.shape[1])), "option \"pool\""),
    (lambda x, c, s: F.pad(F.max_pool2d(x, s, ceil_mode=True), (0, 0, 0, 0, 0, c - x.shape[1])), "maximum"),
    (lambda x, c, s: F.pad(x[:, :, 1::s, 1::s], (0, 0, 0, 0, 0, c - x.shape[1])), "odd positions"),
    (lambda x, c, s: torch.cat([x[:, :, ::s, ::s]] * (c // x.shape[1]), 1), "repeated x's channels"),
])
def test_option_a_names_the_mistake(capsys, student, words):
    assert not check_option_a(student)
    out = capsys.readouterr().out
    assert "Not yet:" in out and words in out


def test_option_a_shape_problems_say_what_to_do(capsys):
    assert not check_option_a(lambda x, c, s: F.pad(x, (0, 0, 0, 0, 0, c - x.shape[1])))
    out = capsys.readouterr().out
    assert "every 2-th row and column" in out
    assert not check_option_a(lambda x, c, s: x[:, :, ::s, ::s])
    assert "append 32 - 16 = 16 zero channels" in capsys.readouterr().out


def test_option_a_crash_placeholder_and_non_tensor_are_reported(capsys):
    assert not check_option_a(lambda x, c: x)
    assert "failed: TypeError" in capsys.readouterr().out
    assert not check_option_a(None)
    assert "Not answered yet" in capsys.readouterr().out
    assert not check_option_a(lambda x, c, s: None)  # the exercise's placeholder body, or a forgotten return
    out = capsys.readouterr().out
    assert out.startswith("Not answered yet") and "`return`" in out
    assert not check_option_a(lambda x, c, s: x.tolist())
    assert "not a tensor" in capsys.readouterr().out
    assert not check_option_a(42)
    assert "should be a function" in capsys.readouterr().out


def test_option_a_must_not_change_x_when_the_shape_stays(capsys):
    def scaled(x, c, s):
        out = right_a(x, c, s)
        return out if s == 2 else 2 * out

    assert not check_option_a(scaled)
    assert "keeps the shape" in capsys.readouterr().out


# --- ResNet-32 from blocks ---------------------------------------------------------------------


class StudentResNet32(nn.Module):
    """A student's ResNet-32, built from the package's blocks, with its own names."""

    def __init__(self, n=5, shortcut="A", fc_first=False, relu_after_stem=True):
        super().__init__()
        if fc_first:
            self.classifier = nn.Linear(64, 10)
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.stages = nn.Sequential(
            make_layer(BasicBlock, 16, 16, n, 1, shortcut),
            make_layer(BasicBlock, 16, 32, n, 2, shortcut),
            make_layer(BasicBlock, 32, 64, n, 2, shortcut),
        )
        if not fc_first:
            self.classifier = nn.Linear(64, 10)
        self.relu_after_stem = relu_after_stem

    def forward(self, x):
        x = self.stem_bn(self.stem(x))
        if self.relu_after_stem:
            x = torch.relu(x)
        x = self.stages(x)
        return self.classifier(x.mean(dim=(2, 3)))


def test_resnet32_from_blocks_passes(capsys):
    assert check_resnet32(StudentResNet32())
    assert "Correct:" in capsys.readouterr().out
    assert check_resnet32(build_model("resnet32"))


def test_resnet32_with_wrong_depth_is_counted(capsys):
    assert not check_resnet32(StudentResNet32(n=3))
    out = capsys.readouterr().out
    assert "20 weighted layers" in out and "3, 3, 3 blocks" in out and "n = 5" in out


def test_resnet32_with_option_b_is_named(capsys):
    assert not check_resnet32(StudentResNet32(shortcut="B"))
    out = capsys.readouterr().out
    assert "option B" in out and "+2,752" in out


def test_resnet32_forward_mistake_and_order_are_reported(capsys):
    assert not check_resnet32(StudentResNet32(relu_after_stem=False))
    out = capsys.readouterr().out
    assert "between `stem_bn` and `stages.0.0.conv1`" in out  # the ReLU after the stem is missing
    assert not check_resnet32(StudentResNet32(fc_first=True))
    assert "do not line up with the reference's (conv1, bn1, layer1" in capsys.readouterr().out


def test_resnet32_plain_twin_fails_on_the_output(capsys):
    assert not check_resnet32(build_model("plain32"))
    assert "differs" in capsys.readouterr().out


def test_resnet32_bias_classes_and_placeholder(capsys):
    assert not check_resnet32(build_model("resnet32", num_classes=100))
    assert "64 -> 10 classes" in capsys.readouterr().out
    assert not check_resnet32(None)
    assert "Not answered yet" in capsys.readouterr().out
    assert not check_resnet32("resnet32")
    assert "nn.Module" in capsys.readouterr().out
    model = build_model("resnet32")
    model.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=True)
    assert not check_resnet32(model)
    assert "bias=False" in capsys.readouterr().out


# --- parameter counts by hand -------------------------------------------------------------------


def resnet50_shapes():
    """ResNet-50 on the meta device: shapes only, no memory and no initialisation (counting needs no values)."""
    with torch.device("meta"):
        return build_model("resnet50")


def layer1_block():
    return resnet50_shapes().layer1[0]


def test_block_parameters_right_answer(capsys):
    block = layer1_block()
    assert check_block_parameters(75_008, block, "layer1[0]")
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and "75,008" not in out  # a stored output gives nothing away


@pytest.mark.parametrize("answer, words", [
    (73_728, ["BatchNorms are missing"]),
    (75_008 + 640, ["no bias"]),
    (75_008 - 16_896, ["projection shortcut"]),
    (73_728 - 16_384, ["BatchNorms are missing", "projection shortcut's 1x1 convolution is missing"]),
    (75_008 + 1_280, ["running mean and variance"]),
    (75_008 - 8 * 64 * 64, ["3x3 conv 64->64 has 9 weights"]),
])
def test_block_parameters_names_the_slips(capsys, answer, words):
    assert not check_block_parameters(answer, layer1_block(), "layer1[0]")
    out = capsys.readouterr().out
    assert "Not yet:" in out and all(w in out for w in words)


def test_block_parameters_unexplained_and_placeholder(capsys):
    assert not check_block_parameters(12_345, layer1_block())
    out = capsys.readouterr().out
    assert "too low" in out and "Hint: Add conv weights C_in x C_out x k x k" in out
    assert not check_block_parameters(None, layer1_block())
    assert "Not answered yet" in capsys.readouterr().out


def test_conv_macs_of_the_stem(capsys):
    stem = resnet50_shapes().conv1
    assert conv_macs(stem, (224, 224)) == 112 * 112 * 64 * 3 * 7 * 7 == 118_013_952
    assert check_conv_macs(118_013_952, stem, (224, 224))
    assert "Correct:" in capsys.readouterr().out


@pytest.mark.parametrize("answer, words", [
    (2 * 118_013_952, "FLOPs"),
    (4 * 118_013_952, "input's 224 x 224"),
    (118_013_952 // 49, "7 x 7 = 49"),
    (64 * 3 * 49, "number of weights"),
    (1, "too low"),
])
def test_conv_macs_names_the_slip(capsys, answer, words):
    assert not check_conv_macs(answer, resnet50_shapes().conv1, (224, 224))
    out = capsys.readouterr().out
    assert "Not yet:" in out and words in out


# --- a bottleneck from scratch ------------------------------------------------------------------


class StudentBottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride=1, stride_on="conv2", final_relu=True, relu_before_add=False,
                 downsample=True, bias=False, downsample_first=False):
        super().__init__()
        out = 4 * planes
        if downsample_first:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride if stride_on == "conv1" else 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride if stride_on == "conv2" else 1, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=bias)
        self.bn3 = nn.BatchNorm2d(out)
        if downsample and not downsample_first:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))
        self.has_downsample = downsample
        self.final_relu, self.relu_before_add = final_relu, relu_before_add

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.relu_before_add:
            out = torch.relu(out)
        identity = self.downsample(x) if self.has_downsample else x[:, :, ::2, ::2]
        out = out + identity
        return torch.relu(out) if self.final_relu else out


def test_bottleneck_right_answer_passes(capsys):
    assert check_bottleneck(StudentBottleneck(256, 128, 2))
    assert "Correct:" in capsys.readouterr().out
    assert check_bottleneck(reference_bottleneck())
    assert check_bottleneck(StudentBottleneck(64, 64, 1), inplanes=64, planes=64, stride=1)


@pytest.mark.parametrize("kwargs, words", [
    ({"stride_on": "conv1"}, "original Caffe ResNet-50"),
    ({"final_relu": False}, "ReLU after the addition is missing"),
    ({"relu_before_add": True}, "ReLU between bn3 and the addition"),
    ({"downsample": False}, "its own 1x1 convolution"),
    ({"bias": True}, "bias=False"),
    ({"downsample_first": True}, "1x1 conv 256->512, stride 2; expected a 1x1 conv 256->128"),
])
def test_bottleneck_names_the_mistake(capsys, kwargs, words):
    assert not check_bottleneck(StudentBottleneck(256, 128, 2, **kwargs))
    out = capsys.readouterr().out
    assert "Not yet:" in out and words in out


def test_bottleneck_wrong_expansion_and_crash_and_placeholder(capsys):
    class NoExpansion(StudentBottleneck):
        def __init__(self):
            super().__init__(256, 128, 2)
            self.conv3 = nn.Conv2d(128, 128, 1, bias=False)

    assert not check_bottleneck(NoExpansion())
    assert "expected a 1x1 conv 128->512" in capsys.readouterr().out

    class Crashes(StudentBottleneck):
        def forward(self, x):
            raise RuntimeError("not written yet")

    assert not check_bottleneck(Crashes(256, 128, 2))
    assert "failed: RuntimeError: not written yet" in capsys.readouterr().out
    assert not check_bottleneck(None)
    assert "Not answered yet" in capsys.readouterr().out


# --- projections on every shortcut -------------------------------------------------------------


def test_all_projection_cost_of_resnet50(capsys):
    expected = 2 * (256**2 + 512) + 3 * (512**2 + 1024) + 5 * (1024**2 + 2048) + 2 * (2048**2 + 4096)
    with torch.device("meta"):
        assert all_projection_cost(build_model("resnet50")) == expected == 14_571_520
    assert check_all_projection_cost(expected)
    assert "Correct:" in capsys.readouterr().out


@pytest.mark.parametrize("answer, words", [
    (14_571_520 - 2 * (2 * 256 + 3 * 512 + 5 * 1024 + 2 * 2048), "BatchNorm after each projection"),
    (14_571_520 + 16_896 + 132_096 + 526_336 + 2_101_248, "already have a projection"),
    (2 * (64**2 + 128) + 3 * (128**2 + 256) + 5 * (256**2 + 512) + 2 * (512**2 + 1024), "inner width"),
    (14_571_520 + 2 * 256 + 3 * 512 + 5 * 1024 + 2 * 2048, "no bias"),
    (100, "too low"),
])
def test_all_projection_cost_names_the_slip(capsys, answer, words):
    assert not check_all_projection_cost(answer)
    out = capsys.readouterr().out
    assert "Not yet:" in out and words in out
