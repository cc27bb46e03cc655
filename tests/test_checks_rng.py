"""Running a check cell leaves the student's random generator where it was: a checker that seeds torch for a
repeatable verdict forks the generator (torch.random.fork_rng) instead of resetting the caller's."""

import pytest
import torch
from torch import nn

from resnet_lessons.checks.blocks import check_bottleneck, check_resnet32
from resnet_lessons.checks.residual import check_basic_block, check_plain_block
from resnet_lessons.checks.training import check_augmentation


def _flip_only(images):
    return images.flip(-1)  # a wrong augmentation that draws from the global generator below


def _wrong_augment(images):
    torch.rand(1)
    return _flip_only(images)


CALLS = {  # (checker, a plausible wrong answer, built before the caller's state is recorded)
    "check_plain_block": (check_plain_block, lambda: nn.Conv2d(16, 16, 3, padding=1)),
    "check_basic_block": (check_basic_block, lambda: nn.Identity()),
    "check_resnet32": (check_resnet32, lambda: nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))),
    "check_bottleneck": (check_bottleneck, lambda: nn.Conv2d(256, 512, 1, stride=2)),
    "check_augmentation": (check_augmentation, lambda: _wrong_augment),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_checker_leaves_the_callers_random_state_as_it_found_it(name, capsys):
    check, build_answer = CALLS[name]
    torch.manual_seed(1234)
    answer = build_answer()
    torch.rand(3)  # the student's generator is somewhere after their own seed
    expected_state = torch.get_rng_state()
    expected_next = torch.rand(5, generator=torch.Generator().set_state(expected_state))
    verdict = check(answer)
    assert not verdict.ok  # each call above is a plausible wrong answer
    assert torch.equal(torch.get_rng_state(), expected_state), f"{name} moved the caller's random generator"
    assert torch.equal(torch.rand(5), expected_next)
