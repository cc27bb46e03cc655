"""The shared checker tools catch wrong answers and explain them."""

import numpy as np
import pytest
import torch
from torch import nn

from resnet_lessons.checks import Verdict, check_module, check_number, copy_weights_by_order, randomise_batchnorm
from resnet_lessons.checks.core import as_number
from resnet_lessons.models import BasicBlock


def reference_block() -> nn.Module:
    block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
    with torch.no_grad():  # BN that is not the identity, so the order of BN and ReLU matters
        block[1].bias.fill_(-0.3)
        block[1].running_mean.fill_(0.2)
    return block


def test_identical_structure_passes(capsys):
    torch.manual_seed(0)
    assert check_module(reference_block(), reference_block(), (2, 4, 8, 8))
    assert "Correct:" in capsys.readouterr().out


def test_wrong_parameter_count_is_named(capsys):
    student = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=True), nn.BatchNorm2d(4), nn.ReLU())
    assert not check_module(student, reference_block(), (2, 4, 8, 8))
    out = capsys.readouterr().out
    assert "parameters" in out and "+4" in out


def test_wrong_order_of_operations_is_caught(capsys):
    student = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.ReLU(), nn.BatchNorm2d(4))
    assert not check_module(student, reference_block(), (2, 4, 8, 8))
    assert "order of operations" in capsys.readouterr().out


def test_wrong_shape_and_crash_are_reported(capsys):
    strided = nn.Sequential(nn.Conv2d(4, 4, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
    assert not check_module(strided, reference_block(), (2, 4, 8, 8))
    assert "output has shape" in capsys.readouterr().out
    wrong_input = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
    assert not check_module(wrong_input, reference_block(), (2, 4, 8, 8))
    assert "failed" in capsys.readouterr().out


def test_placeholder_is_not_an_error(capsys):
    assert not check_module(None, reference_block(), (2, 4, 8, 8))
    assert "Not answered yet" in capsys.readouterr().out


# --- BatchNorm randomised, eval and train mode: the order of operations is really tested ------------


class TwoConvBlock(nn.Module):
    """A BasicBlock written by a student; ``relu_before_bn`` puts the first ReLU before bn1
    (conv -> ReLU -> BN), ``frozen_bn`` always normalises with the running statistics."""

    def __init__(self, channels: int = 16, relu_before_bn: bool = False, frozen_bn: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu_before_bn = relu_before_bn
        self.frozen_bn = frozen_bn

    def norm(self, bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
        if self.frozen_bn:  # eval-mode BatchNorm, whatever the mode
            return nn.functional.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False)
        return bn(x)

    def forward(self, x):
        out = self.conv1(x)
        if self.relu_before_bn:
            out = self.norm(self.bn1, torch.relu(out))
        else:
            out = torch.relu(self.norm(self.bn1, out))
        out = self.norm(self.bn2, self.conv2(out))
        return torch.relu(out + x)


def check_against_basic_block(student: nn.Module) -> Verdict:
    torch.manual_seed(0)
    return check_module(student, BasicBlock(16, 16), input_shape=(2, 16, 8, 8), name="MyBasicBlock")


def test_a_right_block_passes(capsys):
    assert check_against_basic_block(TwoConvBlock())
    assert capsys.readouterr().out == "Correct: MyBasicBlock matches the reference.\n"


def test_conv_relu_bn_is_rejected_and_the_layer_named(capsys):
    """With fresh BatchNorms (eval mode: x / sqrt(1 + eps)) ReLU and BN commute, so this block used to pass."""
    assert not check_against_basic_block(TwoConvBlock(relu_before_bn=True))
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "in eval mode differs" in out
    assert "`bn1` (BatchNorm2d) is the first layer that receives something else" in out
    assert "between `conv1` and `bn1`" in out


def test_why_the_batchnorms_are_randomised():
    """The premise of the test above: with fresh BatchNorms the two orders give the same output."""
    torch.manual_seed(0)
    right, swapped = TwoConvBlock().eval(), TwoConvBlock(relu_before_bn=True).eval()
    swapped.load_state_dict(right.state_dict())
    x = torch.rand(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.allclose(right(x), swapped(x), atol=1e-5)
        randomise_batchnorm(right)
        randomise_batchnorm(swapped)
        assert not torch.allclose(right(x), swapped(x), atol=1e-3)


def test_a_block_that_only_works_in_eval_mode_is_rejected_in_train_mode(capsys):
    assert not check_against_basic_block(TwoConvBlock(frozen_bn=True))
    out = capsys.readouterr().out
    assert "in train mode differs" in out and "`bn1`" in out


def test_randomise_batchnorm_gives_both_modules_the_same_values():
    a, b = BasicBlock(16, 16), BasicBlock(16, 16)
    randomise_batchnorm(a)
    randomise_batchnorm(b)
    for (name, x), y in zip(a.bn1.state_dict().items(), b.bn1.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert not torch.all(a.bn1.weight == 1) and not torch.all(a.bn1.running_var == 1)


def test_checking_leaves_the_students_module_unchanged():
    student = TwoConvBlock().train()
    before = {k: v.clone() for k, v in student.state_dict().items()}
    check_against_basic_block(student)
    assert student.training
    for k, v in student.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_forward_returning_none_is_a_verdict_not_an_error(capsys):
    class NoReturn(TwoConvBlock):
        def forward(self, x):
            self.bn1(self.conv1(x))  # forgot `return`

    assert not check_against_basic_block(NoReturn())
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "returned NoneType" in out and "`return`" in out


def test_a_module_still_returning_its_input_is_not_answered_yet(capsys):
    class Unfilled(nn.Module):
        def forward(self, x):
            return x  # TODO

    assert not check_against_basic_block(Unfilled())
    assert capsys.readouterr().out.startswith("Not answered yet: MyBasicBlock has no layers yet")


# --- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [391, 391.0, np.int64(391), np.float32(391), torch.tensor(391),
                                    torch.tensor([391.0]), np.array(391)])
def test_check_number_accepts_numpy_and_tensor_scalars(capsys, answer):
    assert check_number(answer, 391, "batches per epoch")
    out = capsys.readouterr().out
    assert out == "Correct: your value for batches per epoch is right.\n" and "391" not in out


@pytest.mark.parametrize("answer", [True, torch.tensor([391, 1]), "391", [391]])
def test_check_number_rejects_what_is_not_one_number(capsys, answer):
    assert not check_number(answer, 391, "batches per epoch")
    assert "should be a number" in capsys.readouterr().out


def test_as_number():
    assert as_number(np.int64(7)) == 7 and isinstance(as_number(np.int64(7)), int)
    assert as_number(torch.tensor(2.5)) == 2.5
    assert as_number(False) is None and as_number(torch.zeros(2)) is None


def test_copy_weights_reports_shape_mismatch():
    assert copy_weights_by_order(nn.Linear(3, 2), nn.Linear(2, 3))


def test_check_number(capsys):
    assert check_number(9472, 9472, "stem parameters")
    assert not check_number(9408, 9472, "stem parameters", hint="don't forget the bias")
    out = capsys.readouterr().out
    assert "too low" in out and "Hint: don't forget the bias" in out
    assert not check_number(None, 1, "x")
    assert capsys.readouterr().out.startswith("Not answered yet: your value for x is still None")


def test_verdict_shows_nothing_more_as_a_cell_result():
    """IPython calls ``_ipython_display_`` instead of printing the repr, so a check's report is shown once."""
    from IPython.core.formatters import DisplayFormatter

    data, metadata = DisplayFormatter().format(Verdict(True))
    assert data == {} and metadata == {}
    # An object without the hook would show its repr.
    data, _ = DisplayFormatter().format(object())
    assert "text/plain" in data
