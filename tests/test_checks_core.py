"""The shared checker tools catch wrong answers and explain them."""

import torch
from torch import nn

from resnet_lessons.checks import Verdict, check_module, check_number, copy_weights_by_order


def reference_block() -> nn.Module:
    block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
    with torch.no_grad():  # BN that is not the identity, so the order of BN and ReLU matters
        block[1].bias.fill_(-0.3)
        block[1].running_mean.fill_(0.2)
    return block


def test_identical_structure_passes(capsys):
    torch.manual_seed(0)
    assert check_module(reference_block(), reference_block(), (2, 4, 8, 8))
    assert "✅" in capsys.readouterr().out


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
    assert "placeholder" in capsys.readouterr().out


def test_copy_weights_reports_shape_mismatch():
    assert copy_weights_by_order(nn.Linear(3, 2), nn.Linear(2, 3))


def test_check_number(capsys):
    assert check_number(9472, 9472, "stem parameters")
    assert not check_number(9408, 9472, "stem parameters", hint="don't forget the bias")
    out = capsys.readouterr().out
    assert "too low" in out and "bias" in out
    assert not check_number(None, 1, "x")


def test_verdict_shows_nothing_more_as_a_cell_result():
    """IPython calls ``_ipython_display_`` instead of printing the repr, so a check's report is shown once."""
    from IPython.core.formatters import DisplayFormatter

    data, metadata = DisplayFormatter().format(Verdict(True))
    assert data == {} and metadata == {}
    # An object without the hook would show its repr.
    data, _ = DisplayFormatter().format(object())
    assert "text/plain" in data
