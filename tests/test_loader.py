"""DeviceLoader: shapes, normalisation, augmentation that matches a per-image reference, determinism."""

import pytest
import torch
import torch.nn.functional as F

from resnet_lessons.loader import PAD, DeviceLoader, random_crop_flip

MEAN = (0.5, 0.4, 0.3)
STD = (0.25, 0.2, 0.3)


def _images(n=40, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g), torch.arange(n) % 10


def _normalised(x_uint8):
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x_uint8.float() / 255 - mean) / std


def test_train_batches_have_the_right_shape_layout_and_count():
    images, labels = _images(40)
    loader = DeviceLoader(images, labels, 16, MEAN, STD, train=True, device="cpu")
    batches = list(loader)
    assert len(loader) == len(batches) == 2  # 40 // 16, the last incomplete batch dropped
    for x, y in batches:
        assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32
        assert x.is_contiguous(memory_format=torch.channels_last)
        assert y.shape == (16,) and y.dtype == torch.int64


def test_eval_loader_keeps_order_and_every_image_and_normalises():
    images, labels = _images(40)
    loader = DeviceLoader(images, labels, 16, MEAN, STD, train=False, device="cpu", channels_last=False)
    batches = list(loader)
    assert len(loader) == 3 and [len(y) for _, y in batches] == [16, 16, 8]
    x = torch.cat([b[0] for b in batches])
    assert torch.equal(torch.cat([b[1] for b in batches]), labels)
    torch.testing.assert_close(x, _normalised(images))


def test_crop_and_flip_match_a_per_image_reference():
    images, _ = _images(12)
    padded = F.pad(images, (PAD, PAD, PAD, PAD))
    order = torch.randperm(12)
    out = random_crop_flip(padded, order, 32, torch.Generator().manual_seed(5))
    # Draw the same numbers again and crop each image with plain slicing.
    g = torch.Generator().manual_seed(5)
    top = torch.randint(0, 9, (12, 1), generator=g)
    left = torch.randint(0, 9, (12, 1), generator=g)
    flip = torch.rand(12, 1, generator=g) < 0.5
    assert 0 < flip.sum() < 12  # both cases are exercised
    for b in range(12):
        t, lft = int(top[b]), int(left[b])
        expected = padded[order[b], :, t : t + 32, lft : lft + 32]
        if flip[b]:
            expected = expected.flip(-1)
        assert torch.equal(out[b], expected)


def test_crops_shift_by_at_most_four_pixels():
    images = torch.full((64, 3, 32, 32), 200, dtype=torch.uint8)
    loader = DeviceLoader(images, torch.zeros(64, dtype=torch.int64), 64, (0, 0, 0), (1, 1, 1), train=True)
    x, _ = next(iter(loader))
    zero_rows = (x[:, 0].sum(dim=2) == 0).sum(dim=1)  # padding shows as all-zero rows
    zero_cols = (x[:, 0].sum(dim=1) == 0).sum(dim=1)
    assert zero_rows.max() <= 4 and zero_cols.max() <= 4
    assert zero_rows.max() > 0  # some crops did move


def test_same_seed_same_epochs_and_the_generator_state_resumes():
    images, labels = _images(48)
    a = DeviceLoader(images, labels, 16, MEAN, STD, train=True, seed=3)
    b = DeviceLoader(images, labels, 16, MEAN, STD, train=True, seed=3)
    c = DeviceLoader(images, labels, 16, MEAN, STD, train=True, seed=4)
    xa, xb, xc = next(iter(a))[0], next(iter(b))[0], next(iter(c))[0]
    assert torch.equal(xa, xb) and not torch.equal(xa, xc)
    state = a.generator.get_state()  # what a checkpoint saves (checkpoint.rng_state)
    next_epoch = torch.cat([x for x, _ in a])
    c.generator.set_state(state)
    assert torch.equal(torch.cat([x for x, _ in c]), next_epoch)


def test_epochs_differ_and_labels_follow_their_images():
    images = torch.arange(30, dtype=torch.uint8).view(30, 1, 1, 1).expand(30, 3, 32, 32).contiguous()
    labels = torch.arange(30)
    loader = DeviceLoader(images, labels, 10, (0, 0, 0), (1, 1, 1), train=True, augment=False)
    first = torch.cat([y for _, y in loader])
    second = torch.cat([y for _, y in loader])
    assert sorted(first.tolist()) == list(range(30)) and not torch.equal(first, second)
    for x, y in loader:  # without augmentation, each image still carries its own label
        assert torch.equal((x[:, 0, 0, 0] * 255).round().long(), y)


def test_bad_inputs_say_what_is_wrong():
    images, labels = _images(8)
    with pytest.raises(TypeError, match="uint8"):
        DeviceLoader(images.float(), labels, 4, MEAN, STD, train=True)
    with pytest.raises(ValueError, match="labels"):
        DeviceLoader(images, labels[:5], 4, MEAN, STD, train=True)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(images, labels, 16, MEAN, STD, train=True)
    with pytest.raises(ValueError, match="3 values"):
        DeviceLoader(images, labels, 4, (0.5, 0.5), STD, train=True)
