"""The checkers of notebooks 01 and 02 catch wrong answers and say, in words, what is wrong."""

import pytest
import torch
from torch import nn

from resnet_lessons.checks.residual import (
    check_basic_block,
    check_block_is_identity,
    check_identity_layer,
    check_plain_block,
    check_shortcut_gradient,
)
from resnet_lessons.models import BasicBlock


class StudentBlock(nn.Module):
    """A two-conv block whose forward pass can be written right or with one of the usual mistakes."""

    def __init__(self, channels: int = 16, mistake: str = "", plain: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.mistake = mistake
        self.plain = plain

    def forward(self, x):
        out = self.bn1(self.conv1(x))
        if self.mistake != "no middle relu":
            out = torch.relu(out)
        out = self.bn2(self.conv2(out))
        if self.mistake == "no shortcut":
            return torch.relu(out)
        if self.mistake == "relu before add":
            return torch.relu(out) + x
        if self.mistake == "no final relu":
            return out if self.plain else out + x
        if self.plain and self.mistake != "added x":
            return torch.relu(out)
        return torch.relu(out + x)


def verdict_text(capsys) -> str:
    return capsys.readouterr().out


# --- check_basic_block -------------------------------------------------------------------------

def test_correct_residual_block_passes(capsys):
    assert check_basic_block(StudentBlock())
    assert "Correct:" in verdict_text(capsys)


@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        ("no shortcut", "never added"),
        ("relu before add", "comes before the addition"),
        ("no final relu", "ReLU after the addition is missing"),
        ("no middle relu", "between the two convolutions is missing"),
    ],
)
def test_each_usual_residual_mistake_is_named(capsys, mistake, words):
    assert not check_basic_block(StudentBlock(mistake=mistake))
    out = verdict_text(capsys)
    assert "Not yet:" in out and words in out


def test_residual_block_with_wrong_channels_reports_parameters_and_crash(capsys):
    assert not check_basic_block(StudentBlock(channels=8))
    out = verdict_text(capsys)
    assert "parameters" in out and "failed" in out


def test_residual_block_with_bias_reports_parameter_difference(capsys):
    student = StudentBlock()
    student.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=True)
    assert not check_basic_block(student)
    assert "+16" in verdict_text(capsys)


def test_residual_block_in_wrong_order_of_layers_is_explained(capsys):
    class Swapped(StudentBlock):
        def forward(self, x):  # ReLU before BN in the first layer
            out = self.bn1(torch.relu(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + x)

    assert not check_basic_block(Swapped())
    out = verdict_text(capsys)
    assert "`bn1` (BatchNorm2d) is the first layer" in out and "between `conv1` and `bn1`" in out


def test_placeholders_and_non_modules_do_not_raise(capsys):
    assert not check_basic_block(None)
    assert "Not answered yet" in verdict_text(capsys)
    assert not check_basic_block("a block")
    assert "nn.Module" in verdict_text(capsys)


def test_block_that_changes_the_shape_is_reported(capsys):
    class Strided(StudentBlock):
        def forward(self, x):
            return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))[..., ::2, ::2]

    assert not check_basic_block(Strided())
    assert "shape" in verdict_text(capsys)


# --- check_plain_block ---------------------------------------------------------------------------

def test_correct_plain_block_passes(capsys):
    assert check_plain_block(StudentBlock(plain=True))
    assert "Correct:" in verdict_text(capsys)


@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        ("added x", "a plain block has no shortcut"),
        ("no final relu", "last ReLU is missing"),
        ("no middle relu", "between the two convolutions is missing"),
    ],
)
def test_each_usual_plain_mistake_is_named(capsys, mistake, words):
    assert not check_plain_block(StudentBlock(mistake=mistake, plain=True))
    assert words in verdict_text(capsys)


# --- check_identity_layer ------------------------------------------------------------------------

def conv_bn_relu() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())


def make_identity(layer: nn.Sequential, conv: bool = True, bn: bool = True) -> nn.Sequential:
    with torch.no_grad():
        if conv:
            nn.init.dirac_(layer[0].weight)
        if bn:
            layer[1].weight.copy_(torch.sqrt(layer[1].running_var + layer[1].eps))
            layer[1].bias.copy_(layer[1].running_mean)
    return layer


def test_identity_layer_passes(capsys):
    assert check_identity_layer(make_identity(conv_bn_relu()))
    assert "Correct:" in verdict_text(capsys)


def test_identity_layer_names_the_convolution(capsys):
    assert not check_identity_layer(make_identity(conv_bn_relu(), conv=False))
    out = verdict_text(capsys)
    assert "dirac_" in out and "BatchNorm alone" not in out


def test_identity_layer_names_the_batchnorm_even_when_it_is_almost_the_identity(capsys):
    # A fresh BatchNorm in eval mode divides by sqrt(1 + eps): close to, but not exactly, the identity.
    assert not check_identity_layer(make_identity(conv_bn_relu(), bn=False))
    out = verdict_text(capsys)
    assert "BatchNorm alone" in out and "running_var + eps" in out and "convolution alone" not in out


def test_identity_layer_with_trained_statistics(capsys):
    layer = conv_bn_relu()
    with torch.no_grad():
        layer[1].running_mean.uniform_(-1, 1)
        layer[1].running_var.uniform_(0.5, 2)
    assert check_identity_layer(make_identity(layer))
    verdict_text(capsys)
    layer[1].running_var.fill_(3.0)  # statistics changed after the parameters were set
    assert not check_identity_layer(layer)
    assert "BatchNorm alone" in verdict_text(capsys)


def test_identity_layer_wrong_shape_and_placeholder(capsys):
    assert not check_identity_layer(nn.Conv2d(16, 16, 3))  # no padding: 8x8 -> 6x6
    assert "padding=1" in verdict_text(capsys)
    assert not check_identity_layer(None)
    assert "Not answered yet" in verdict_text(capsys)


# --- check_block_is_identity ---------------------------------------------------------------------

def test_zero_init_block_is_identity(capsys):
    block = BasicBlock(16, 16)
    nn.init.zeros_(block.bn2.weight)
    assert check_block_is_identity(block)
    out = verdict_text(capsys)
    assert "Correct:" in out and "bn2.weight" in out and "It works, but" not in out


def test_random_block_is_not_identity_and_the_hint_points_at_the_branch(capsys):
    torch.manual_seed(0)
    block = BasicBlock(16, 16)
    nn.init.constant_(block.bn1.weight, 2.0)  # a change, but not one that switches the branch off
    assert not check_block_is_identity(block)
    out = verdict_text(capsys)
    assert out.startswith("Not yet:") and "training mode" in out and "eval mode" in out and "residual branch" in out


def test_untouched_block_is_not_answered_yet(capsys):
    torch.manual_seed(0)
    assert not check_block_is_identity(BasicBlock(16, 16))  # the exercise cell as it is given
    assert verdict_text(capsys).startswith("Not answered yet: your block is still as it was built")


def test_checking_does_not_change_the_block():
    torch.manual_seed(0)
    block = BasicBlock(16, 16).eval()
    before = {k: v.clone() for k, v in block.state_dict().items()}
    check_block_is_identity(block)
    assert not block.training
    for k, v in block.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_other_ways_to_switch_off_the_branch_pass_with_a_note(capsys):
    block = BasicBlock(16, 16)
    nn.init.zeros_(block.conv2.weight)
    assert check_block_is_identity(block)
    assert "zero_init_residual" in verdict_text(capsys)


def test_zeroing_the_last_bias_is_not_enough_and_placeholders_do_not_raise(capsys):
    torch.manual_seed(0)
    block = BasicBlock(16, 16)
    nn.init.zeros_(block.bn2.bias)  # already zero: the branch still computes gamma * x_hat
    assert not check_block_is_identity(block)
    assert "still as it was built" in verdict_text(capsys)  # zeroing bn2.bias changed nothing
    assert not check_block_is_identity(None)
    assert "Not answered yet" in verdict_text(capsys)


# --- check_shortcut_gradient ---------------------------------------------------------------------

@pytest.fixture
def w_and_g():
    torch.manual_seed(0)
    return torch.randn(3, 3), torch.randn(3)


def test_shortcut_gradient_right_answer(capsys, w_and_g):
    W, g = w_and_g
    assert check_shortcut_gradient(g + W.T @ g, W, g)
    assert "Correct:" in verdict_text(capsys)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda W, g: W.T @ g, "dropped the identity term"),
        (lambda W, g: g + W @ g, "needs a transpose"),
        (lambda W, g: W @ g, "identity term, and the Jacobian needs a transpose"),
        (lambda W, g: g, "dL/dH itself"),
        (lambda W, g: 2 * g, "differs from autograd"),
    ],
)
def test_shortcut_gradient_mistakes_are_named(capsys, w_and_g, wrong, words):
    W, g = w_and_g
    assert not check_shortcut_gradient(wrong(W, g), W, g)
    assert words in verdict_text(capsys)


def test_shortcut_gradient_bad_inputs(capsys, w_and_g):
    W, g = w_and_g
    assert not check_shortcut_gradient(None, W, g)
    assert "Not answered yet" in verdict_text(capsys)
    assert not check_shortcut_gradient([1.0, 2.0, 3.0], W, g)
    assert "torch tensor" in verdict_text(capsys)
    assert not check_shortcut_gradient(torch.zeros(4), W, g)
    assert "shape" in verdict_text(capsys)
