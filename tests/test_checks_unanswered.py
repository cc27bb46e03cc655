"""Every checker, called on an exercise as the notebooks hand it out (None, ``...``, a class whose
``forward`` still returns its input, a function that still returns None, a module left as built), says
"Not answered yet" and what to do, and does not raise: the student edition runs top to bottom.

Verdicts are words, not emoji, so they read the same without an emoji font."""

import re

import pytest
import torch
from torch import nn

from resnet_lessons.checks import check_module, check_number
from resnet_lessons.checks.blocks import (
    check_all_projection_cost,
    check_block_parameters,
    check_bottleneck,
    check_conv_macs,
    check_option_a,
    check_option_b_cost,
    check_resnet32,
)
from resnet_lessons.checks.residual import (
    check_basic_block,
    check_block_is_identity,
    check_identity_layer,
    check_plain_block,
    check_shortcut_gradient,
)
from resnet_lessons.checks.resnext import (
    check_grouped_conv,
    check_grouped_conv_params,
    check_resnext_block,
    check_resnext_block_params,
    check_width_for_cardinality,
    check_width_without_groups,
)
from resnet_lessons.checks.training import (
    check_augmentation,
    check_channel_mean_std,
    check_most_confused_pair,
    check_normalize,
)
from resnet_lessons.models import BasicBlock, build_model


class Unfilled(nn.Module):
    """The exercise cells' classes before the student writes them: no layers, ``return x  # TODO``."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x  # TODO


def identity_layer_as_given() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())


def block_as_given() -> nn.Module:
    torch.manual_seed(0)
    return BasicBlock(16, 16)


def four_paths() -> list[nn.Conv2d]:
    torch.manual_seed(0)
    return [nn.Conv2d(8, 16, kernel_size=3, padding=1, bias=True) for _ in range(4)]


def resnext_reference() -> nn.Module:
    torch.manual_seed(0)
    return build_model("resnext50_32x4d").layer1[0]


CLASSES = ("a", "b", "c")

# (checker, the call as the notebook makes it with the exercise unanswered)
UNANSWERED = {
    "check_number": lambda answer: check_number(answer, 391, "batches in one epoch"),
    "check_module": lambda answer: check_module(answer, BasicBlock(16, 16), (2, 16, 8, 8), name="MyBasicBlock"),
    "check_plain_block": check_plain_block,
    "check_basic_block": check_basic_block,
    "check_shortcut_gradient": lambda answer: check_shortcut_gradient(answer, torch.eye(3), torch.ones(3)),
    "check_option_b_cost": check_option_b_cost,
    "check_option_a": check_option_a,
    "check_resnet32": check_resnet32,
    "check_block_parameters": lambda answer: check_block_parameters(answer, BasicBlock(16, 16)),
    "check_conv_macs": lambda answer: check_conv_macs(answer, nn.Conv2d(3, 64, 7, 2, 3, bias=False), (224, 224)),
    "check_bottleneck": check_bottleneck,
    "check_all_projection_cost": check_all_projection_cost,
    "check_grouped_conv": lambda answer: check_grouped_conv(answer, four_paths()),
    "check_grouped_conv_params": lambda answer: check_grouped_conv_params(answer, 512, 512, 3, 32),
    "check_resnext_block_params": check_resnext_block_params,
    "check_width_for_cardinality": lambda answer: check_width_for_cardinality(answer, cardinality=8),
    "check_width_without_groups": check_width_without_groups,
    "check_resnext_block": lambda answer: check_resnext_block(answer, resnext_reference(), (2, 64, 8, 8)),
    "check_channel_mean_std": lambda answer: check_channel_mean_std(
        answer, answer, torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)),
    "check_normalize": check_normalize,
    "check_augmentation": check_augmentation,
    "check_most_confused_pair": lambda answer: check_most_confused_pair(
        answer, torch.tensor([[5, 1, 0], [2, 5, 0], [0, 0, 5]]), CLASSES),
}

# The placeholders the notebooks use beyond None and `...`.
AS_GIVEN = [
    ("check_module", Unfilled()),
    ("check_plain_block", Unfilled(16)),
    ("check_resnet32", Unfilled()),
    ("check_bottleneck", Unfilled(256, 128, stride=2)),
    ("check_resnext_block", Unfilled()),
    ("check_option_a", lambda x, out_channels, stride: None),
    ("check_normalize", lambda images, mean, std: None),
    ("check_augmentation", lambda images: None),
]

EMOJI = re.compile("[\u2600-\u27bf\U0001f000-\U0001faff]")


@pytest.mark.parametrize("placeholder", [None, ...], ids=["None", "Ellipsis"])
@pytest.mark.parametrize("checker", sorted(UNANSWERED))
def test_unanswered_exercises_say_so_without_raising(capsys, checker, placeholder):
    verdict = UNANSWERED[checker](placeholder)
    out = capsys.readouterr().out
    assert not verdict and not verdict.answered
    assert out.startswith("Not answered yet: ") and "run this cell again" in out, out
    assert out.count("\n") == 1  # one line, nothing about the right answer


@pytest.mark.parametrize(("checker", "as_given"), AS_GIVEN, ids=[name for name, _ in AS_GIVEN])
def test_exercise_cells_as_given_are_not_answered_yet(capsys, checker, as_given):
    verdict = UNANSWERED[checker](as_given)
    out = capsys.readouterr().out
    assert not verdict and not verdict.answered
    assert out.startswith("Not answered yet: "), out


def test_untouched_identity_exercises_are_not_answered_yet(capsys):
    assert not check_identity_layer(identity_layer_as_given())
    assert capsys.readouterr().out.startswith("Not answered yet: your layer is still as it was built")
    assert not check_block_is_identity(block_as_given())
    assert capsys.readouterr().out.startswith("Not answered yet: your block is still as it was built")


def test_a_wrong_answer_is_not_mistaken_for_an_unanswered_one(capsys):
    class HalfWritten(nn.Module):  # layers written, forward not yet: a wrong answer, not a placeholder
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)

        def forward(self, x):
            return x

    assert not check_basic_block(HalfWritten())
    assert capsys.readouterr().out.startswith("Not yet:")
    layer = identity_layer_as_given()
    nn.init.dirac_(layer[0].weight)  # half of the answer: the BatchNorm is still to do
    assert not check_identity_layer(layer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "BatchNorm alone" in out


def test_verdicts_are_words_not_emoji(capsys):
    check_number(391, 391, "x")
    check_number(390, 391, "x")
    check_number(None, 391, "x")
    check_basic_block(BasicBlock(16, 16))
    check_resnext_block(nn.Conv2d(64, 256, 1), resnext_reference(), (2, 64, 8, 8))
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("   - ")]
    assert [line.split(":")[0] for line in lines] == ["Correct", "Not yet", "Not answered yet", "Correct", "Not yet"]
    assert not EMOJI.search("\n".join(lines))
