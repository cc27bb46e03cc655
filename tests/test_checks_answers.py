"""The number checkers of resnet_lessons.checks.answers accept the right answer, name plausible wrong ones
and say "not answered yet" for the exercise's placeholder."""

import math

import pytest

from resnet_lessons.checks.answers import (
    check_paths_through,
    check_paths_total,
    check_plain_parameters,
    check_scaled_shortcut_units,
    check_steps_per_epoch,
    check_train_set_bytes,
)
from resnet_lessons.counting import count_parameters
from resnet_lessons.models import cifar_resnet


def test_steps_per_epoch(capsys):
    assert check_steps_per_epoch(math.ceil(50_000 / 128))
    assert "Correct:" in capsys.readouterr().out
    assert not check_steps_per_epoch(50_000 // 128)  # rounded down: the last batch forgotten
    assert "round up" in capsys.readouterr().out
    assert not check_steps_per_epoch(None)
    assert "Not answered yet" in capsys.readouterr().out


def test_train_set_bytes(capsys):
    assert check_train_set_bytes(50_000 * 3 * 32 * 32)
    assert not check_train_set_bytes(4 * 50_000 * 3 * 32 * 32)  # the float32 size
    assert "float32" in capsys.readouterr().out
    assert not check_train_set_bytes(None)
    assert "Not answered yet" in capsys.readouterr().out


def test_plain_parameters_counts_the_package_network(capsys):
    right = count_parameters(cifar_resnet(26, plain=True))
    assert check_plain_parameters(right)
    capsys.readouterr()
    without_batchnorm = right - sum(p.numel() for name, p in cifar_resnet(26, plain=True).named_parameters()
                                    if "bn" in name)
    assert not check_plain_parameters(without_batchnorm)
    assert "BatchNorms are left out" in capsys.readouterr().out
    assert not check_plain_parameters(right - 10)
    assert "biases" in capsys.readouterr().out
    assert not check_plain_parameters(None)
    assert "Not answered yet" in capsys.readouterr().out
    with pytest.raises(ValueError, match="6n \\+ 2"):
        check_plain_parameters(1000, depth=25)


def test_paths(capsys):
    assert check_paths_total(2 ** 54)
    assert not check_paths_total(2 * 54)
    assert "multiply" in capsys.readouterr().out
    assert check_paths_through(math.comb(54, 27))
    assert not check_paths_through(2 ** 54)
    assert not check_paths_through(math.perm(54, 27))
    assert "order" in capsys.readouterr().out
    assert not check_paths_total(None) and not check_paths_through(None)
    assert capsys.readouterr().out.count("Not answered yet") == 2


def test_scaled_shortcut_units(capsys):
    assert 0.9**44 < 0.01 <= 0.9**43  # so the answer is 44
    assert check_scaled_shortcut_units(44)
    assert not check_scaled_shortcut_units(43)  # one unit too few: 0.9 ** 43 is still above 1 %
    assert "one unit too few" in capsys.readouterr().out
    assert not check_scaled_shortcut_units(22)
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_scaled_shortcut_units(44, scale=1.2)
