"""The loss that fit() trains with is the recipe's: its label smoothing reaches the cross-entropy."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_net
from resnet_lessons.data import CIFAR10Tensors
from resnet_lessons.recipes import RECIPES
from resnet_lessons.train import fit


def tiny_data(n_train: int = 64, n_test: int = 20) -> CIFAR10Tensors:
    g = torch.Generator().manual_seed(0)
    return CIFAR10Tensors(
        train_images=torch.randint(0, 256, (n_train, 3, 32, 32), dtype=torch.uint8, generator=g),
        train_labels=torch.arange(n_train) % 10,
        test_images=torch.randint(0, 256, (n_test, 3, 32, 32), dtype=torch.uint8, generator=g),
        test_labels=torch.arange(n_test) % 10,
        classes=[f"class{i}" for i in range(10)], source="random pixels",
    )


def smoothing_used_in_training(monkeypatch, recipe) -> set[float]:
    """The label_smoothing of every cross-entropy computed while the model is in training mode."""
    model = tiny_net(4)
    seen = set()
    cross_entropy = F.cross_entropy

    def spy(*args, **kwargs):
        if model.training:
            seen.add(float(kwargs.get("label_smoothing", 0.0)))
        return cross_entropy(*args, **kwargs)

    monkeypatch.setattr(F, "cross_entropy", spy)  # nn.CrossEntropyLoss calls F.cross_entropy
    fit(model, tiny_data(), epochs=1, recipe=replace(recipe, batch_size=32), device="cpu", compile=False)
    return seen


SMOOTHED = [recipe for recipe in RECIPES.values() if recipe.label_smoothing > 0]


def test_some_recipe_smooths_labels():
    assert SMOOTHED, "no recipe uses label smoothing: the test below would test nothing"


@pytest.mark.parametrize("recipe", SMOOTHED, ids=[r.name for r in SMOOTHED])
def test_the_recipes_label_smoothing_reaches_the_training_loss(monkeypatch, recipe):
    assert smoothing_used_in_training(monkeypatch, recipe) == {recipe.label_smoothing}


def test_an_override_reaches_the_training_loss(monkeypatch):
    assert smoothing_used_in_training(monkeypatch, replace(SMOOTHED[0], label_smoothing=0.0)) == {0.0}
    assert smoothing_used_in_training(monkeypatch, replace(RECIPES["paper"], label_smoothing=0.2)) == {0.2}
