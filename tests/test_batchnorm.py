"""BatchNorm's two modes: the measurement of the gap and the recalibration that closes it."""

import pytest
import torch
from torch import nn

from resnet_lessons import batchnorm


def small_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    with torch.no_grad():
        net[-1].weight.mul_(10)  # large logits, so that different normalisations give clearly different losses
    return net


def batches(n: int, offset: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(n, 3, 8, 8, generator=generator) + offset, torch.randint(10, (n,), generator=generator)


def test_measuring_in_training_mode_leaves_the_running_statistics_alone():
    model, (x, y) = small_net(), batches(32)
    before = model[1].running_mean.clone()
    batchnorm.held_out_loss(model, x, y, batch_statistics=True)
    batchnorm.held_out_loss(model, x, y, batch_statistics=False)
    assert torch.equal(model[1].running_mean, before)
    assert model.training


def test_fresh_running_statistics_make_the_two_modes_disagree_and_recalibration_closes_the_gap():
    model, (x, y) = small_net(), batches(64)
    batch = batchnorm.held_out_loss(model, x, y, batch_statistics=True)
    running = batchnorm.held_out_loss(model, x, y, batch_statistics=False)
    assert abs(running - batch) > 0.05  # running mean 0, var 1; the inputs have mean 3
    batchnorm.recalibrate(model, x, batch_size=64)
    assert batchnorm.held_out_loss(model, x, y, batch_statistics=False) == pytest.approx(batch, abs=1e-3)
    assert model[1].momentum == 0.1


def test_mode_gap_trains_and_measures_every_few_steps_reproducibly():
    (x, y), (tx, ty) = batches(64), batches(32, offset=2.0)
    first = batchnorm.mode_gap(small_net(), x, y, tx, ty, steps=6, every=3, batch_size=16)
    again = batchnorm.mode_gap(small_net(), x, y, tx, ty, steps=6, every=3, batch_size=16)
    assert first.steps == [0, 3, 6]
    assert len(first.batch_stats_loss) == len(first.running_stats_loss) == 3
    assert first == again
    assert first.table().splitlines()[0].split() == ["step", "loss,", "batch", "statistics", "loss,", "running",
                                                     "statistics"]


def test_a_model_without_batchnorm_or_bad_sizes_are_refused():
    (x, y) = batches(16)
    with pytest.raises(ValueError, match="no BatchNorm"):
        batchnorm.mode_gap(nn.Sequential(nn.Flatten(), nn.Linear(192, 10)), x, y, x, y)
    with pytest.raises(ValueError, match="larger than the 16 training images"):
        batchnorm.mode_gap(small_net(), x, y, x, y, batch_size=32)
