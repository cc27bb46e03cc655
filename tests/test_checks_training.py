"""The training checkers (notebook 06) accept right answers and name the usual wrong ones."""

import torch
import torch.nn.functional as F

from resnet_lessons.checks.training import (
    check_augmentation,
    check_channel_mean_std,
    check_most_confused_pair,
    check_normalize,
    most_confused_pairs,
)
from resnet_lessons.data import channel_mean_std
from resnet_lessons.loader import random_crop_flip


def batch(n=16):
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    images[:, 0] //= 2  # channels with different statistics
    images[: n // 2] //= 3  # dark and bright images: the std within an image is not the std over all
    return images


# --- mean and std ----------------------------------------------------------------------------------

def test_mean_std_right_answers_pass(capsys):
    images = batch()
    x = images.float() / 255
    assert check_channel_mean_std(x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3)), images)  # sample std is fine
    assert check_channel_mean_std(*channel_mean_std(images), images)  # the package's own
    assert check_channel_mean_std(x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).numpy(), images)
    assert capsys.readouterr().out.count("Correct:") == 3


def test_mean_std_mistakes_are_named(capsys):
    images = batch()
    x = images.float() / 255
    m, s = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    cases = [
        ((m * 255, s), "pixel units"),
        ((m, s * 255), "pixel units"),
        ((m, s**2), "variance"),
        ((x.mean(), x.std()), "single number"),
        ((x.mean(dim=(0, 1, 2)), s), "one per channel"),
        ((m, x.std(dim=(2, 3)).mean(dim=0)), "per-image"),
        ((m + 0.1, s), "differs"),
        ((None, s), "Not answered yet: your mean is still None"),
        (("abc", s), "should be a tensor"),
    ]
    for (mean, std), phrase in cases:
        assert not check_channel_mean_std(mean, std, images)
        out = capsys.readouterr().out
        assert out.startswith(("Not yet:", "Not answered yet:")) and phrase in out, (phrase, out)


# --- normalisation ---------------------------------------------------------------------------------

def test_normalize(capsys):
    def right(images, mean, std):
        return (images.float() / 255 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)

    assert check_normalize(right)
    assert "Correct:" in capsys.readouterr().out

    wrong = {
        "divide by 255": lambda x, m, s: (x.float() - m.view(1, 3, 1, 1)) / s.view(1, 3, 1, 1),
        "multiplied": lambda x, m, s: (x.float() / 255 - m.view(1, 3, 1, 1)) * s.view(1, 3, 1, 1),
        "0.5": lambda x, m, s: (x.float() / 255 - 0.5) / 0.5,
        "line up with the channel axis": lambda x, m, s: (x.float() / 255 - m) / s,
        "floats": lambda x, m, s: x,
        "keep the shape": lambda x, m, s: x.float().mean(dim=1),
        "only subtracted": lambda x, m, s: x.float() / 255 - m.view(1, 3, 1, 1),
        "differs": lambda x, m, s: right(x, m, s) + 0.01,
    }
    for phrase, fn in wrong.items():
        assert not check_normalize(fn)
        out = capsys.readouterr().out
        assert out.startswith(("Not yet:", "Not answered yet:")) and phrase in out, (phrase, out)
    assert not check_normalize(None)
    assert "Not answered yet" in capsys.readouterr().out
    assert not check_normalize(lambda x, m, s: None)
    assert "returns None" in capsys.readouterr().out


# --- augmentation ----------------------------------------------------------------------------------

def loop_augment(images, randint_high=9, flip_dim=-1, mode="constant", pad=4):
    """A readable reference: one image at a time."""
    out = torch.empty_like(images)
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode=mode).to(images.dtype)
    for i in range(len(images)):
        top, left = torch.randint(0, randint_high + 2 * (pad - 4), (2,)).tolist()
        crop = padded[i, :, top:top + 32, left:left + 32]
        if torch.rand(()) < 0.5:
            crop = crop.flip(flip_dim)
        out[i] = crop
    return out


def test_right_augmentations_pass(capsys):
    assert check_augmentation(loop_augment)
    gen = torch.Generator().manual_seed(1)
    assert check_augmentation(lambda x: random_crop_flip(F.pad(x, (4, 4, 4, 4)), torch.arange(len(x)), 32, gen))
    assert capsys.readouterr().out.count("Correct:") == 2


def test_augmentation_mistakes_are_named(capsys):
    def no_flip(x):
        padded = F.pad(x, (4, 4, 4, 4))
        return torch.stack([padded[i, :, t:t + 32, l:l + 32]
                            for i, (t, l) in enumerate(torch.randint(0, 9, (len(x), 2)).tolist())])

    def all_flipped(x):
        return no_flip(x).flip(-1)

    def same_shift(x):
        out = F.pad(x, (4, 4, 4, 4))[:, :, 1:33, 2:34].clone()
        flip = torch.rand(len(x)) < 0.5
        out[flip] = out[flip].flip(-1)
        return out

    def centre_only(x):
        out = x.clone()
        flip = torch.rand(len(x)) < 0.5
        out[flip] = out[flip].flip(-1)
        return out

    def in_place(x):
        x[:] = loop_augment(x)
        return x

    cases = {
        "exclusive": lambda x: loop_augment(x, randint_high=8),
        "upside down": lambda x: loop_augment(x, flip_dim=-2),
        "not zeros": lambda x: loop_augment(x, mode="reflect"),
        "more than 4": lambda x: loop_augment(x, pad=8),
        "no image is flipped": no_flip,
        "every image is flipped": all_flipped,
        "same way": same_shift,
        "no image is shifted": centre_only,
        "in place": in_place,
        "not cropped": lambda x: F.pad(x, (4, 4, 4, 4)),
        "keep uint8": lambda x: loop_augment(x).float() / 255,
        "failed": lambda x: x.nonexistent(),
        "not a 32 x 32 window": lambda x: loop_augment(x[torch.randperm(len(x))]),
    }
    for phrase, fn in cases.items():
        assert not check_augmentation(fn)
        out = capsys.readouterr().out
        assert out.startswith(("Not yet:", "Not answered yet:")) and phrase in out, (phrase, out)
    assert not check_augmentation(None)
    assert "Not answered yet" in capsys.readouterr().out
    assert not check_augmentation(lambda x: None)
    assert "returns None" in capsys.readouterr().out
    assert not check_augmentation(lambda x: x.tolist())
    assert "should return a tensor" in capsys.readouterr().out


def test_augmentation_verdict_is_repeatable(capsys):
    check_augmentation(loop_augment)
    first = capsys.readouterr().out
    check_augmentation(loop_augment)
    assert capsys.readouterr().out == first


# --- confusion matrix ------------------------------------------------------------------------------

CLASSES = ["a", "b", "c", "d"]


def confusion():
    cm = torch.diag(torch.tensor([50, 40, 45, 30]))
    cm[0, 1], cm[1, 0] = 9, 0   # largest single entry: a -> b (9), total 9
    cm[2, 3], cm[3, 2] = 6, 6   # most confused pair in both directions: c <-> d (12)
    return cm


def test_most_confused_pair(capsys):
    cm = confusion()
    assert most_confused_pairs(cm) == [(2, 3)]
    assert check_most_confused_pair(("d", "c"), cm, CLASSES)
    assert check_most_confused_pair([2, 3], cm, CLASSES)
    assert capsys.readouterr().out.count("Correct:") == 2
    cases = [
        (("a", "b"), "both directions"),
        (("a", "a"), "diagonal"),
        (("a", "c"), "Add the matrix to its transpose"),
        (("a", "z"), "not a class name"),
        ("ab", "two class names"),
        ((0, 9), "neither"),
        (None, "Not answered yet: your pair is still None"),
    ]
    for answer, phrase in cases:
        assert not check_most_confused_pair(answer, cm, CLASSES)
        out = capsys.readouterr().out
        assert out.startswith(("Not yet:", "Not answered yet:")) and phrase in out, (answer, out)


def test_ties_accept_either_pair(capsys):
    cm = confusion()
    cm[0, 1] = 12
    assert sorted(most_confused_pairs(cm)) == [(0, 1), (2, 3)]
    assert check_most_confused_pair(("a", "b"), cm, CLASSES)
    assert check_most_confused_pair(("c", "d"), cm, CLASSES)
