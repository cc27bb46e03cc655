"""Checkers for the notebooks' number exercises, one function per exercise. Each computes the expected value
itself, so a check cell holds no answer: the student edition shows ``check_steps_per_epoch(steps_per_epoch)``,
never the number it is compared with."""

from __future__ import annotations

import math

from ..models import cifar_resnet
from .core import Verdict, count_params, number_verdict

# --- notebook 00 ---


def check_steps_per_epoch(answer: object, images: int = 50_000, batch_size: int = 128) -> Verdict:
    """Notebook 00, exercise 1: batches in one epoch of ``images`` at ``batch_size``, the last, smaller one
    included (``ceil(images / batch_size)``)."""
    return number_verdict(
        answer, math.ceil(images / batch_size), f"batches in one epoch of {images:,} images at batch size {batch_size}",
        wrong_values={"that counts the full batches only; the question counts the last, smaller batch too "
                      "(round up, not down).": images // batch_size},  # not named when it is the right answer
        hint="divide and round up: the last batch is smaller, but it is still a step.")


def check_train_set_bytes(answer: object, images: int = 50_000, shape: tuple[int, int, int] = (3, 32, 32)) -> Verdict:
    """Notebook 00, exercise 2: bytes of ``images`` uint8 images of ``shape`` [C, H, W] (one byte a value)."""
    values = images * math.prod(shape)
    return number_verdict(
        answer, values, f"bytes of the {images:,} training images as uint8",
        wrong_values={"that is their size as float32 (4 bytes a value); as uint8 each value is one byte.": 4 * values,
                      "that is one image; multiply by the number of images.": math.prod(shape)},
        hint="one byte per value: images x channels x height x width.")


# --- notebook 01 ---


def check_plain_parameters(answer: object, depth: int = 26) -> Verdict:
    """Notebook 01, exercise 1: the parameters of the plain CIFAR network of ``depth`` (6n + 2) layers,
    counted from the package's own network."""
    if (depth - 2) % 6 or depth < 8:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 26, ...), got {depth}.")
    n = (depth - 2) // 6
    expected = count_params(cifar_resnet(depth, plain=True))
    batchnorm_values = 2 * (16 + 2 * n * (16 + 32 + 64))  # scale and shift after the stem and every conv
    slips = {
        "the BatchNorms are left out (2 values per channel, after every convolution).": -batchnorm_values,
        "the classifier's 10 biases are left out.": -10,
        "the stem (the first 3x3 convolution, 3 -> 16 channels, and its BatchNorm) is left out.": -(9 * 3 * 16 + 32),
    }
    return number_verdict(answer, expected, f"the parameters of plain-{depth}", slips=slips,
                          hint=f"stem 3->16; stage 1: {2 * n} convs 16->16; stage 2: one 16->32 and {2 * n - 1} "
                               f"32->32; stage 3: one 32->64 and {2 * n - 1} 64->64; a BatchNorm after each of the "
                               f"{6 * n + 1} convs; then the fc.")


# --- notebook 02 ---


def check_paths_total(answer: object, blocks: int = 54) -> Verdict:
    """Notebook 02, exercise 3: paths from the loss to the input of the first of ``blocks`` residual blocks."""
    return number_verdict(
        answer, 2 ** blocks, f"the number of paths through {blocks} residual blocks",
        wrong_values={"that is the number of blocks: each block doubles the number of paths.": blocks,
                      "that counts 2 ways per block but adds them; they multiply.": 2 * blocks},
        hint="each block offers two ways: through its layers or along its shortcut.")


def check_paths_through(answer: object, k: int = 27, blocks: int = 54) -> Verdict:
    """Notebook 02, exercise 3: paths that go through the layers of exactly ``k`` of ``blocks`` blocks."""
    return number_verdict(
        answer, math.comb(blocks, k), f"the number of paths through exactly {k} blocks' layers",
        wrong_values={"that is all the paths; count only those through exactly that many blocks' layers.": 2 ** blocks,
                      "that counts ordered choices; the order of the chosen blocks does not matter.":
                          math.perm(blocks, k)},
        hint=f"choose which {k} of the {blocks} blocks the path goes through.")


# --- notebook 07 ---


def check_scaled_shortcut_units(answer: object, scale: float = 0.9, share: float = 0.01) -> Verdict:
    """Notebook 07, exercise 2: the fewest units L whose shortcut path, scaled by ``scale`` in every unit,
    passes less than ``share`` of the gradient to x_0 (``scale ** L < share``)."""
    if not 0 < scale < 1 or not 0 < share < 1:
        raise ValueError(f"scale and share must lie between 0 and 1, got scale={scale}, share={share}.")
    expected = 1
    while scale**expected >= share:
        expected += 1
    return number_verdict(
        answer, expected, "the number of units",
        wrong_values={"that is one unit too few: the path still passes at least that share there; take one more.":
                          expected - 1},
        hint="try stacks of growing depth, with the branches off; the shortcut path passes scale ** L.")
