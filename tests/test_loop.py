"""The plain training loop students read (resnet_lessons.loop) is the loop fit runs."""

from dataclasses import replace

import torch
from torch import nn

from resnet_lessons import config
from resnet_lessons.data import CIFAR10Tensors
from resnet_lessons.loader import DeviceLoader
from resnet_lessons.loop import evaluate, train_one_epoch, train_step
from resnet_lessons.recipes import get_recipe, make_optimizer, make_scheduler
from resnet_lessons.train import fit


def _data(n=200):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    colour = (labels[:, None, None, None] * 25).expand(n, 3, 32, 32)
    images = (colour + torch.randint(0, 30, (n, 3, 32, 32), generator=g)).clamp(0, 255).to(torch.uint8)
    return CIFAR10Tensors(images, labels, images[:100].clone(), labels[:100].clone(), [f"c{i}" for i in range(10)], "s")


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def test_fit_runs_the_loop_that_the_notebook_prints():
    """One epoch of fit and one call of train_one_epoch with the same start give bit-identical weights."""
    config.set_cpu_threads()  # the thread count fit uses: the sums must be done in the same order
    data = _data()
    recipe = get_recipe("onecycle")
    by_fit = _net()
    fit(by_fit, data, epochs=1, batch_size=50, progress=False, device="cpu", augment=False, seed=3)

    by_hand = _net().to(memory_format=torch.channels_last)  # fit keeps images and weights channels-last
    mean, std = data.mean_std()
    loader = DeviceLoader(data.train_images, data.train_labels, 50, mean, std, train=True, augment=False,
                          device="cpu", seed=3, channels_last=True)
    recipe = replace(recipe, batch_size=50)
    optimizer = make_optimizer(by_hand, recipe, torch.device("cpu"))
    scheduler = make_scheduler(optimizer, recipe, len(loader))
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    train_one_epoch(by_hand, loader, optimizer, scheduler, criterion)

    for (name, a), b in zip(by_fit.state_dict().items(), by_hand.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_train_one_epoch_learns_and_evaluate_measures_it():
    data = _data()
    model = _net()
    mean, std = data.mean_std()
    loader = DeviceLoader(data.train_images, data.train_labels, 20, mean, std, train=True, augment=False, device="cpu")
    test = DeviceLoader(data.test_images, data.test_labels, 50, mean, std, train=False, device="cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    criterion = nn.CrossEntropyLoss()
    _, before = evaluate(model, test)
    losses = [train_one_epoch(model, loader, optimizer, scheduler, criterion)[0] for _ in range(4)]
    loss, after = evaluate(model, test)
    assert losses[-1] < losses[0] and after > before + 0.2
    assert model.training is True  # evaluate puts the mode back


def test_the_step_uses_the_loss_it_is_given():
    """A criterion with label smoothing changes the loss the step optimises (it is not rebuilt inside)."""
    images, labels = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    results = []
    for smoothing in (0.0, 0.5):
        model = _net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        criterion = nn.CrossEntropyLoss(label_smoothing=smoothing)
        loss, _ = train_step(model, images, labels, optimizer, scheduler, criterion)
        results.append(loss.item())
    assert results[0] != results[1]


def test_fit_puts_the_thread_count_back():
    torch.set_num_threads(1)
    fit(_net(), _data(), epochs=1, batch_size=50, progress=False, device="cpu")
    assert torch.get_num_threads() == 1
