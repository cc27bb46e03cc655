"""The plain training loop students read (resnet_lessons.loop) is the loop fit runs, on every device."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from conftest import tiny_net
from resnet_lessons import config, loop
from resnet_lessons.data import CIFAR10Tensors
from resnet_lessons.loader import DeviceLoader
from resnet_lessons.loop import evaluate, train_one_epoch, train_step
from resnet_lessons.recipes import Recipe
from resnet_lessons.train import fit


def _data(n=200):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    colour = (labels[:, None, None, None] * 25).expand(n, 3, 32, 32)
    images = (colour + torch.randint(0, 30, (n, 3, 32, 32), generator=g)).clamp(0, 255).to(torch.uint8)
    return CIFAR10Tensors(images, labels, images[:100].clone(), labels[:100].clone(), [f"c{i}" for i in range(10)], "s")


# weight decay, momentum, label smoothing and a schedule that changes every step: a step that skips
# any of them (or the zero_grad, the update, the scheduler) ends with other weights than the reference
RECIPE = Recipe(name="test", lr=0.05, batch_size=50, momentum=0.9, weight_decay=5e-4, label_smoothing=0.1,
                schedule="onecycle", warmup=0.5)


def _reference_sgd(data, epochs, seed):
    """The same training written out in the test, with torch's own optimizer and loss (the oracle)."""
    model = tiny_net().to(memory_format=torch.channels_last)  # fit keeps images and weights channels-last
    mean, std = data.mean_std()
    loader = DeviceLoader(data.train_images, data.train_labels, RECIPE.batch_size, mean, std, train=True,
                          augment=False, device="cpu", seed=seed, channels_last=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=RECIPE.lr, momentum=0.9, weight_decay=5e-4)
    total = epochs * len(loader)
    lr_at = lambda s: 0.1 + 0.9 * s / (total * 0.5) if s < total * 0.5 else 1 - (s - total * 0.5) / (total * 0.5)  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    for _ in range(epochs):
        for images, labels in loader:
            loss = nn.functional.cross_entropy(model(images), labels, label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    return model


def test_fit_trains_exactly_like_plain_sgd():
    """fit (through loop.train_step) and the same SGD written out by hand end with the same weights:
    a step that forgets the update, the zero_grad or the schedule, or uses another loss, fails here."""
    config.set_cpu_threads()  # the thread count fit uses: the sums must be done in the same order
    data = _data()
    by_fit = tiny_net()
    fit(by_fit, data, epochs=2, recipe=replace(RECIPE, augment=False, seed=3), device="cpu")
    by_hand = _reference_sgd(data, epochs=2, seed=3)
    for (name, a), b in zip(by_fit.state_dict().items(), by_hand.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_fit_calls_loop_train_step_once_per_batch(monkeypatch):
    """The functions notebook 06 prints are the ones fit runs: replace loop.train_step and fit uses it."""
    calls = []

    def counting_step(*args, **kwargs):
        calls.append(args[1].shape[0])
        return train_step(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", counting_step)
    fit(tiny_net(), _data(), epochs=2, recipe=RECIPE, device="cpu")
    assert calls == [50] * 8  # 200 images, batches of 50, 2 epochs


@pytest.mark.parametrize("broken", ["no update", "no loss smoothing"])
def test_a_broken_step_is_caught_through_fit(monkeypatch, broken):
    """The check above has teeth: the same comparison fails with a step that has a planted bug."""

    def broken_step(model, images, labels, optimizer, scheduler, criterion, amp_dtype=None, scaler=None):
        if broken == "no update":
            optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # updates nothing of the model
        else:
            criterion = nn.CrossEntropyLoss()
        return train_step(model, images, labels, optimizer, scheduler, criterion, amp_dtype, loop.NO_SCALING)

    monkeypatch.setattr(loop, "train_step", broken_step)
    with pytest.raises(AssertionError):
        test_fit_trains_exactly_like_plain_sgd()


def test_fit_compiles_on_the_cpu_and_trains_the_same():
    """compile=True on a CPU: torch.compile in mode "default" (no CUDA graphs), through loop.CompiledModel."""
    compiled_run = fit(tiny_net(), _data(), epochs=1, recipe=RECIPE, device="cpu", compile=True)
    plain_run = fit(tiny_net(), _data(), epochs=1, recipe=RECIPE, device="cpu")
    assert compiled_run.record.compiled == "default"
    assert compiled_run.train_loss[0] == pytest.approx(plain_run.train_loss[0], rel=1e-3)
    assert compiled_run.test_acc[0] == pytest.approx(plain_run.test_acc[0], abs=0.02)


def test_a_failed_compile_warns_and_trains_uncompiled(monkeypatch):
    def failing_compile(model, mode):
        def fails(images):
            raise RuntimeError("no C compiler here")
        return fails

    monkeypatch.setattr(torch, "compile", failing_compile)
    with pytest.warns(UserWarning, match="no C compiler"):
        history = fit(tiny_net(), _data(), epochs=1, recipe=RECIPE, device="cpu", compile=True)
    assert len(history) == 1 and history.train_loss[0] > 0


def test_train_one_epoch_learns_and_evaluate_measures_it():
    data = _data()
    model = tiny_net()
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
        model = tiny_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        criterion = nn.CrossEntropyLoss(label_smoothing=smoothing)
        loss, _ = train_step(model, images, labels, optimizer, scheduler, criterion)
        results.append(loss.item())
    assert results[0] != results[1]


def test_fp16_step_with_gradient_scaler_learns_and_skips_an_overflow():
    """The path a T4 takes (fp16 autocast + GradScaler in loop.train_step), run on the CPU: it learns, and a
    step whose gradients overflow is skipped (weights unchanged) while the scale is halved."""
    model = tiny_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    criterion = nn.CrossEntropyLoss()
    data = _data(64)

    def step(x, y):
        return train_step(model, x, y, optimizer, scheduler, criterion, torch.float16, scaler)

    x = (data.train_images.float() - 128) / 64
    y = data.train_labels
    first, _ = step(x, y)
    for _ in range(30):
        last, _ = step(x, y)
    assert torch.isfinite(last) and last < first

    before = [p.detach().clone() for p in model.parameters()]
    scale = scaler.get_scale()
    step(x * 1e30, y)  # overflows in fp16: inf gradients
    assert scaler.get_scale() == scale / 2
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_fit_puts_the_thread_count_back():
    torch.set_num_threads(1)
    fit(tiny_net(), _data(), epochs=1, recipe=replace(RECIPE), device="cpu")
    assert torch.get_num_threads() == 1
