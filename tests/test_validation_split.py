"""The validation split: held out of training, stratified, fixed; History chooses epochs on it, never on test."""

from dataclasses import replace

import pytest
import torch

from resnet_lessons.data import CIFAR10Tensors, validation_split
from resnet_lessons.history import History
from resnet_lessons.recipes import ONECYCLE
from resnet_lessons.train import fit


def _data(n_train=300, n_test=100):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n_train) % 10
    noise = torch.randint(0, 40, (n_train, 3, 32, 32), generator=g)
    images = (labels[:, None, None, None] * 20 + noise).to(torch.uint8)
    return CIFAR10Tensors(images, labels, images[:n_test].clone(), labels[:n_test].clone(),
                          [f"c{i}" for i in range(10)], "synthetic")


def test_the_split_is_stratified_disjoint_and_repeatable():
    labels = torch.arange(1000) % 10
    train, val = validation_split(labels, 100, seed=0)
    assert len(train) == 900 and len(val) == 100
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(1000))
    assert torch.bincount(labels[val]).tolist() == [10] * 10  # the same number from every class
    again_train, again_val = validation_split(labels, 100, seed=0)
    assert torch.equal(val, again_val) and torch.equal(train, again_train)
    assert not torch.equal(val, validation_split(labels, 100, seed=1)[1])


def test_fit_holds_out_the_validation_images_and_reports_them_every_epoch():
    data = _data()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, 10))
    h = fit(model, data, epochs=2, recipe=replace(ONECYCLE, batch_size=50, val_size=100), device="cpu")
    assert h.record.train_images == 200 and h.record.val_images == 100
    assert len(h.val_acc) == len(h.val_loss) == 2 and h.has_validation
    assert all(0 <= a <= 1 for a in h.val_acc)
    again = History.from_dict(h.to_dict())
    assert again.val_acc == h.val_acc


def test_without_a_split_there_is_no_validation_and_no_best_epoch():
    h = History()
    h.append(epoch=1, train_loss=1.0, train_acc=0.5, test_loss=1.0, test_acc=0.9, lr=0.1, seconds=1.0, images_per_s=1.0)
    assert not h.has_validation
    with pytest.raises(ValueError, match="no validation split"):
        h.best_epoch()  # never chosen on the test accuracy


def test_the_best_epoch_is_chosen_on_validation_not_on_test():
    h = History()
    # epoch 2 is best on test, epoch 1 on validation: validation must win.
    for epoch, val, test in ((1, 0.8, 0.5), (2, 0.6, 0.9)):
        h.append(epoch=epoch, train_loss=1.0, train_acc=0.5, test_loss=1.0, test_acc=test, lr=0.1, seconds=1.0,
                 images_per_s=1.0, val_loss=1.0, val_acc=val)
    assert h.best_epoch() == 1


def test_every_epoch_or_none_has_validation_numbers():
    h = History()
    h.append(epoch=1, train_loss=1.0, train_acc=0.5, test_loss=1.0, test_acc=0.5, lr=0.1, seconds=1.0, images_per_s=1.0)
    with pytest.raises(ValueError, match="(?i)every epoch"):
        h.append(epoch=2, train_loss=1.0, train_acc=0.5, test_loss=1.0, test_acc=0.5, lr=0.1, seconds=1.0,
                 images_per_s=1.0, val_loss=1.0, val_acc=0.5)


@pytest.mark.parametrize("bad", [-1, 1.5, True, 300, 305])
def test_bad_validation_sizes_are_refused_before_training(bad):
    with pytest.raises(ValueError):
        fit(torch.nn.Linear(1, 1), _data(), epochs=1, recipe=replace(ONECYCLE, val_size=bad), device="cpu")
