"""Checkers for notebook 06 (training a ResNet on CIFAR-10 end to end): per-channel statistics,
normalisation, augmentation (pad, random crop, flip) and reading a confusion matrix."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .core import TODO, Verdict, as_number, function_placeholder, not_answered, placeholder, right, seeded, wrong

PAD = 4  # pixels of zero padding before the random crop, as in the paper and the course's loader


# --- mean and std ---


def check_channel_mean_std(mean: object, std: object, images: Tensor) -> Verdict:
    """Check a per-channel mean and standard deviation of ``images`` (uint8 [N, 3, H, W]) in 0..1 units. The std
    may be the population or the sample std: for a batch of images they differ by far less than the tolerance."""
    if (verdict := placeholder(mean, "your mean")) is not None:
        return verdict
    if (verdict := placeholder(std, "your std")) is not None:
        return verdict
    x = images.double() / 255
    want_mean, want_std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3), unbiased=False)  # float64 [C]
    channels = images.shape[1]
    problems = []
    got = {}
    for what, value in (("mean", mean), ("std", std)):
        try:
            t = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
        except (TypeError, ValueError, RuntimeError):
            problems.append(f"your {what} should be a tensor (or a list) of {channels} numbers, "
                            f"got {type(value).__name__}.")
            continue
        if t.numel() == 1:
            problems.append(f"your {what} is a single number for all pixels; compute one per colour channel: "
                            f"reduce over the images, rows and columns (dims 0, 2, 3) and keep dim 1.")
        elif t.numel() != channels:
            problems.append(f"your {what} has shape {tuple(t.shape)}; it should have {channels} values, one per "
                            f"channel. Images are [N, C, H, W]: reduce over dims (0, 2, 3), keep dim 1.")
        else:
            got[what] = t.flatten()
    if problems:
        return wrong(*problems)

    tol = 1e-3
    m, s = got["mean"], got["std"]
    if torch.allclose(m, want_mean * 255, atol=255 * tol) or m.max() > 1.5:
        problems.append("your mean is in pixel units (0..255); divide by 255 so it is in the 0..1 units the "
                        "normalisation uses (it is applied after `x / 255`).")
    elif not torch.allclose(m, want_mean, atol=tol):
        problems.append(f"your mean {_fmt(m)} differs from the per-channel mean {_fmt(want_mean)}.")
    if torch.allclose(s, want_std * 255, rtol=0.01):
        problems.append("your std is in pixel units (0..255); divide by 255.")
    elif torch.allclose(s, want_std**2, atol=tol / 10, rtol=0.01):
        problems.append("your std is the variance: take its square root.")
    elif not torch.allclose(s, want_std, atol=tol):
        per_image = x.std(dim=(2, 3)).mean(dim=0)  # std within each image, averaged
        if torch.allclose(s, per_image, atol=tol):
            problems.append("your std is an average of per-image standard deviations, which leaves out how much "
                            "images differ from each other; compute one std over all pixels of all images: "
                            "`x.std(dim=(0, 2, 3))`.")
        else:
            problems.append(f"your std {_fmt(s)} differs from the per-channel std {_fmt(want_std)}.")
    if problems:
        return wrong(*problems)
    return right("your per-channel mean and std are right.")


def _fmt(t: Tensor) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in t.tolist()) + ")"


# --- normalisation ---


def check_normalize(normalize: Callable[[Tensor, Tensor, Tensor], Tensor] | None) -> Verdict:
    """Check ``normalize(images, mean, std)``: uint8 [N, 3, H, W] -> float [N, 3, H, W], (x/255 - mean)/std,
    with mean and std float tensors [3] in 0..1 units. The usual mistakes are named."""
    name = "your normalize"
    if (verdict := function_placeholder(normalize, name, "normalize(images, mean, std)")) is not None:
        return verdict
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8, generator=g)
    mean = torch.tensor([0.49, 0.48, 0.45])
    std = torch.tensor([0.25, 0.24, 0.26])
    m, s = mean.view(1, 3, 1, 1), std.view(1, 3, 1, 1)
    try:
        out = normalize(images.clone(), mean.clone(), std.clone())
    except Exception as e:
        hint = ""
        if "must match the size" in str(e):
            hint = (" mean and std have shape [3]; reshape them to [1, 3, 1, 1] (or index `mean[:, None, None]`) so "
                    "they line up with the channel axis of [N, 3, H, W].")
        return wrong(f"calling {name} on uint8 images [4, 3, 8, 8] failed: {type(e).__name__}: {e}.{hint}")
    if out is None:
        return not_answered(f"{name} returns None (the exercise's placeholder, or a missing `return`): make it "
                            f"return the normalised images, then {TODO}.")
    if not isinstance(out, Tensor):
        return wrong(f"{name} should return a tensor, got {type(out).__name__}.")
    if out.shape != images.shape:
        return wrong(f"{name} returned shape {tuple(out.shape)}; it must keep the shape {tuple(images.shape)}.")
    if not out.is_floating_point():
        return wrong(f"{name} returned {out.dtype}; a network takes floats: convert with `.float()` before dividing.")
    x = images.float()
    expected = (x / 255 - m) / s
    out = out.float()
    if torch.allclose(out, expected, atol=1e-4):
        return right(f"{name} gives (x / 255 - mean) / std per channel.")
    known = {
        "you forgot to divide by 255 first: the mean and std are in 0..1 units, the pixels in 0..255.":
            (x - m) / s,
        "you multiplied by the std; normalising divides by it: (x / 255 - mean) / std.": (x / 255 - m) * s,
        "you divided by the std before subtracting the mean: subtract first, (x / 255 - mean) / std.":
            x / 255 - m / s,
        "you used 0.5 for every channel's mean and std; use the mean and std passed in (the data's own).":
            (x / 255 - 0.5) / 0.5,
        "you only subtracted the mean; then divide by the std.": x / 255 - m,
        "you only scaled to 0..1; then subtract the mean and divide by the std, per channel.": x / 255,
    }
    for message, value in known.items():
        if torch.allclose(out, value, atol=1e-4):
            return wrong(message)
    gap = (out - expected).abs().max().item()
    return wrong(f"{name}'s output differs from (x / 255 - mean) / std by up to {gap:.3g}.")


# --- augmentation: pad 4, random 32 x 32 crop, random horizontal flip ---


def _find_crop(out: Tensor, image: Tensor, pad: int, mode: str = "constant") -> tuple[int, int, bool] | None:
    """(dy, dx, flipped) when ``out`` is a window of ``image`` padded by ``pad`` (flipped left-right or not)."""
    size = image.shape[-1]
    for flipped, source in ((False, image), (True, image.flip(-1))):
        padded = F.pad(source[None].float(), (pad, pad, pad, pad), mode=mode)[0]
        windows = padded.unfold(1, size, 1).unfold(2, size, 1)  # [C, 2 pad + 1, 2 pad + 1, size, size]
        hits = (windows == out.float()[:, None, None]).all(dim=(0, 3, 4)).nonzero()  # (row, column) offsets
        if len(hits):
            dy, dx = (int(offset) - pad for offset in hits[0])
            return dy, (-dx if flipped else dx), flipped  # shift of the picture as seen in the output
    return None


def check_augmentation(augment: Callable[[Tensor], Tensor] | None, batch: int = 128, size: int = 32) -> Verdict:
    """Check ``augment(images)``: uint8 [B, 3, 32, 32] -> uint8 [B, 3, 32, 32], each image padded by 4 zero
    pixels, cropped back to 32 x 32 at a random place and, with probability 1/2, flipped left-right.

    Every output is matched against the 162 allowed results (81 crops, flipped or not) of its input; then the
    shifts and flips must vary from image to image and cover the whole range. It runs under ``seeded(0)``.
    """
    name = "your augment"
    if (verdict := function_placeholder(augment, name, "augment(images)")) is not None:
        return verdict
    g = torch.Generator().manual_seed(0)
    # Random pixels in 1..255: every crop is unique and padding (0) is told apart from the picture.
    images = torch.randint(1, 256, (batch, 3, size, size), dtype=torch.uint8, generator=g)
    original = images.clone()
    try:
        with seeded(0):
            out = augment(images)
    except Exception as e:
        return wrong(f"calling {name} on uint8 images [{batch}, 3, {size}, {size}] failed: {type(e).__name__}: {e}")
    problems = []
    if not torch.equal(images, original):
        problems.append(f"{name} changed its input in place; return new images and leave the input as it is "
                        "(the same images are augmented differently in every epoch).")
    if out is None and not problems:
        return not_answered(f"{name} returns None (the exercise's placeholder, or a missing `return`): make it "
                            f"return the augmented images, then {TODO}.")
    if out is None:
        return wrong(*problems, f"{name} returns None: it must return the augmented images.")
    if not isinstance(out, Tensor):
        return wrong(*problems, f"{name} should return a tensor, got {type(out).__name__}.")
    if out.shape != original.shape:
        hint = ""
        if out.shape[-1] == size + 2 * PAD:
            hint = f" It looks padded but not cropped: cut a {size} x {size} window out of the padded image."
        return wrong(*problems, f"{name} returned shape {tuple(out.shape)}; it must keep the shape "
                                f"{tuple(original.shape)}.{hint}")
    if out.dtype != original.dtype:
        return wrong(*problems, f"{name} returned {out.dtype}; keep uint8: augmentation moves pixels, it does not "
                                "change their values (normalising comes later).")
    if problems:
        return wrong(*problems)

    found = [_find_crop(out[i], original[i], PAD) for i in range(batch)]
    bad = [i for i, f in enumerate(found) if f is None]
    if bad:
        i = bad[0]
        if _find_crop(out[i].flip(-2), original[i], PAD) is not None:
            why = ("it is flipped upside down: a horizontal flip reverses the columns (the last axis, "
                   "`image.flip(-1)`), not the rows")
        elif _find_crop(out[i], original[i], PAD, mode="reflect") is not None:
            why = "its padding is not zeros: the paper pads with zeros (`F.pad(images, (4, 4, 4, 4))`)"
        elif _find_crop(out[i], original[i], 2 * PAD) is not None:
            why = f"it is shifted by more than {PAD} pixels: pad by {PAD} and crop {size} x {size}"
        elif _find_crop(out[i].transpose(-1, -2), original[i], PAD) is not None:
            why = "it is transposed (rows and columns swapped): flip with `.flip(-1)`, do not transpose"
        else:
            why = (f"it is not a {size} x {size} window of the zero-padded image, mirrored or not "
                   "(were the images, channels or pixel values mixed up?)")
        return wrong(f"{len(bad)} of {batch} outputs are not allowed results; output {i}: {why}.")

    shifts = [(dy, dx) for dy, dx, _ in found]
    flips = [f for _, _, f in found]
    n_flipped = sum(flips)
    if n_flipped == 0:
        problems.append("no image is flipped: flip each image left-right with probability 1/2.")
    elif n_flipped == batch:
        problems.append("every image is flipped: only about half should be (probability 1/2 per image).")
    elif not 0.25 * batch <= n_flipped <= 0.75 * batch:
        problems.append(f"{n_flipped} of {batch} images are flipped; with probability 1/2 per image it should be "
                        "about half.")
    if len(set(shifts)) == 1:
        if shifts[0] == (0, 0):
            problems.append("no image is shifted (every crop is the centre): pick the crop's top-left corner at "
                            f"random in 0..{2 * PAD} for each image.")
        else:
            problems.append(f"every image is shifted the same way {shifts[0]}: draw a new random crop position for "
                            "each image.")
    else:
        dys = {dy for dy, _ in shifts}
        dxs = {dx for _, dx in shifts}
        if not ({-PAD, PAD} <= dys and {-PAD, PAD} <= dxs):
            problems.append(f"the shifts never reach one end of -{PAD}..+{PAD} (rows: {min(dys)}..{max(dys)}, "
                            f"columns: {min(dxs)}..{max(dxs)}): there are {2 * PAD + 1} crop positions per axis, "
                            f"0..{2 * PAD}, and torch.randint's upper bound is exclusive: "
                            f"`torch.randint(0, {2 * PAD + 1}, ...)`.")
    if not problems and len(set(zip(shifts, flips, strict=True))) < batch // 4:
        problems.append("the images share a few crops and flips; every image should get its own random crop "
                        "and flip.")
    if problems:
        return wrong(*problems)
    return right(f"all {batch} outputs are zero-padded {size} x {size} crops of their images, shifted -{PAD}..+{PAD} "
                 "pixels at random, and about half of them are mirror images (flipped left-right).")


# --- reading a confusion matrix ---


def most_confused_pairs(confusion: Tensor) -> list[tuple[int, int]]:
    """The pairs (a, b), a < b, with the most mix-ups in both directions, cm[a, b] + cm[b, a] (ties all kept)."""
    cm = torch.as_tensor(confusion).long()
    both = cm + cm.T
    both.fill_diagonal_(-1)
    best = int(both.max())
    return [(a, b) for a in range(len(cm)) for b in range(a + 1, len(cm)) if int(both[a, b]) == best]


def check_most_confused_pair(answer: Sequence[str | int] | None, confusion: Tensor, classes: Sequence[str]) -> Verdict:
    """Check the two classes (names or labels, in either order) that ``confusion`` (int [C, C], rows
    = true class, columns = predicted) mixes up most often, counting both directions: cm[a, b] + cm[b, a]."""
    what = "your pair"
    if (verdict := placeholder(answer, what)) is not None:
        return verdict
    if isinstance(answer, str) or not isinstance(answer, Sequence) or len(answer) != 2:
        return wrong(f"{what} should be two class names, e.g. ('cat', 'dog'), got {answer!r}.")
    labels = []
    for item in answer:
        if isinstance(item, str):
            if item not in classes:
                return wrong(f"{item!r} is not a class name; the classes are {', '.join(classes)}.")
            labels.append(list(classes).index(item))
        elif isinstance(label := as_number(item), int) and 0 <= label < len(classes):
            labels.append(label)
        else:
            return wrong(f"{item!r} is neither a class name nor a label 0..{len(classes) - 1}.")
    a, b = sorted(labels)
    cm = torch.as_tensor(confusion).long()
    if a == b:
        return wrong(f"that is {classes[a]} twice: the diagonal counts correct predictions. Look at the entries off "
                     "the diagonal, cm[a, b] + cm[b, a] for two different classes.")
    best = most_confused_pairs(cm)
    if (a, b) in best:
        return right("that is the pair your network mixes up most often (both directions counted).")
    mine = int(cm[a, b] + cm[b, a])
    top = int(cm[best[0]] + cm[best[0][::-1]])
    off = cm.clone()
    off.fill_diagonal_(-1)
    single = divmod(int(off.argmax()), len(cm))
    if {a, b} == set(single):
        return wrong(f"{classes[a]} and {classes[b]} have the largest single entry, but count both directions: "
                     f"together they are mixed up {mine} times, another pair {top} times.")
    return wrong(f"{classes[a]} and {classes[b]} are mixed up {mine} times (cm[a, b] + cm[b, a]); another pair is "
                 f"mixed up {top} times. Add the matrix to its transpose, ignore the diagonal, and take the largest "
                 "entry.")
