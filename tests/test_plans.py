"""resnet_lessons.plans: one Run per network trained, for the notebooks' live runs and the lab's experiments."""

from dataclasses import replace

import pytest
import torch

from resnet_lessons import live
from resnet_lessons.loader import DeviceLoader
from resnet_lessons.plans import Run, describe
from resnet_lessons.recipes import ONECYCLE


def test_a_stand_in_is_named_as_such():
    run = Run("plain56", 1, batch_size=128, train_images=1000, image_size=16)
    assert run.name == "plain-56 (16x16 stand-in)"
    assert "average-pooled to 16x16" in describe([run])
    real = Run("plain56", 1, batch_size=128, train_images=1000)
    assert real.name == "plain-56" and "stand-in" not in describe([real])
    assert Run("plain56", 1, label="plain-56 (second seed)").name == "plain-56 (second seed)"
    assert replace(run, model="plain20").name == "plain-20 (16x16 stand-in)"  # the name follows the model


def test_a_plan_is_described_in_one_line_when_its_runs_share_their_settings():
    pair = [Run(m, 1, batch_size=128, train_images=1000) for m in ("plain8", "plain32")]
    assert describe(pair).startswith("plain-8 and plain-32: 1,000 training images")  # shown names, not keys
    options = [Run("resnet20", 1, label=f"resnet-20 {option}") for option in ("A", "B", "pool")]
    assert describe(options).startswith("resnet-20 A and resnet-20 B and resnet-20 pool: all 50,000")  # labels
    with pytest.raises(AttributeError):  # a plan's runs are values: change one with replace(run, ...)
        pair[0].epochs = 3
    mixed = [pair[0], replace(pair[1], epochs=3)]
    lines = describe(mixed).splitlines()
    assert len(lines) == 2 and lines[1].startswith("plain-32: 1,000 training images; 3 epochs")


def test_the_recipe_fit_gets_carries_the_runs_overrides():
    assert live.LIVE_RECIPE.name == "onecycle, gentle start" and live.LIVE_RECIPE.schedule == "onecycle"
    run = Run("plain56", 1, batch_size=128)
    assert run.recipe == "onecycle" and run.full_recipe() == replace(ONECYCLE, batch_size=128)  # what fit gets
    assert Run("plain56", 1).full_recipe().batch_size == ONECYCLE.batch_size  # None: the recipe's own
    other = Run("plain56", 1, seed=3, val_size=5000).full_recipe()
    assert (other.seed, other.val_size) == (3, 5000)
    with pytest.raises(ValueError, match="Unknown recipe 'fast'"):  # an unknown name fails at once, not in fit
        Run("plain56", 1, "fast")


def test_steps_are_the_trainers_steps():
    """The trainer drops the last, incomplete batch of an epoch; the described step count must agree."""
    run = Run("plain20", 3, batch_size=128, train_images=1000, image_size=16)
    loader = DeviceLoader(torch.zeros(1000, 3, 16, 16, dtype=torch.uint8), torch.zeros(1000, dtype=torch.int64),
                          128, [0.5] * 3, [0.25] * 3, train=True, device="cpu")
    assert run.steps == 3 * len(loader) == 3 * 7
    assert Run("plain20", 20, batch_size=512).steps == 20 * 97
    assert Run("plain20", 1, batch_size=500, val_size=5000).steps == 90  # the validation images are not trained on


@pytest.mark.parametrize("bad, message", [
    ({"image_size": 12}, "image_size must divide 32"),
    ({"model": "plain57"}, "unknown model 'plain57'"),
    ({"model": "resnet18"}, "a run trains a CIFAR network"),  # an ImageNet network
])
def test_bad_runs_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        Run(**{"model": "plain20", "epochs": 1, **bad})
