"""`DeviceLoader`: batches of CIFAR images that never leave the GPU (or the CPU, with the same code).

CIFAR-10 is small (50,000 x 3 x 32 x 32 bytes = 150 MB), so instead of decoding and augmenting each image
in Python on the CPU while the GPU waits, this loader copies the uint8 dataset to the device once and, for
all images of an epoch at once, shuffles, augments (pad-4 random crop and horizontal flip, in one indexing
operation) and normalises them there. Each batch is then a view of that epoch tensor. All random numbers
come from the loader's own ``torch.Generator``, so a seed (or a saved generator state) fixes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

PAD = 4  # pixels of zero padding before the random crop (He et al., 2016, Section 4.2)


def _as_channel_vector(values: Sequence[float] | torch.Tensor, name: str, channels: int) -> torch.Tensor:
    """mean or std as a float tensor of shape [1, C, 1, 1], checked."""
    t = torch.as_tensor(values, dtype=torch.float32).flatten()
    if t.numel() != channels:
        raise ValueError(f"{name} needs {channels} values (one per channel), got {t.numel()}.")
    if name == "std" and bool((t <= 0).any()):
        raise ValueError(f"std must be positive, got {t.tolist()}.")
    return t.view(1, channels, 1, 1)


def random_crop_flip(padded: torch.Tensor, order: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Random ``size`` x ``size`` crops of padded images, half of them flipped left-right.

    padded: [N, C, size + 2*PAD, size + 2*PAD] images (any dtype).
    order:  [B] which images to take, e.g. a random permutation of range(N).
    Returns [B, C, size, size].

    Each output image b reads rows ``top[b] + 0..size-1`` and columns ``left[b] + 0..size-1`` of
    its padded image; a flipped image reads its columns in reverse order. Building those row and
    column numbers for every image and indexing once does the crop and the flip together.
    """
    b = order.numel()
    device = padded.device
    max_offset = padded.shape[-1] - size  # 8 for CIFAR: offsets 0..8 move the image by -4..+4 pixels
    top = torch.randint(0, max_offset + 1, (b, 1), device=device, generator=generator)
    left = torch.randint(0, max_offset + 1, (b, 1), device=device, generator=generator)
    flip = torch.rand(b, 1, device=device, generator=generator) < 0.5
    steps = torch.arange(size, device=device)
    rows = top + steps  # [B, size]
    cols = left + torch.where(flip, steps.flip(0), steps)  # [B, size]; reversed when flipped
    channels = torch.arange(padded.shape[1], device=device)
    # Broadcasting the four index tensors to [B, C, size, size] picks one pixel per output position.
    return padded[
        order[:, None, None, None],
        channels[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


class DeviceLoader:
    """Shuffled, augmented, normalised batches from uint8 images kept on ``device``.

    >>> loader = DeviceLoader(data.train_images, data.train_labels, batch_size=512,
    ...                       mean=mean, std=std, train=True, device="cuda", seed=0)
    >>> for x, y in loader:   # x: float [512, 3, 32, 32] (channels-last), y: int64 [512]
    ...     ...

    images: uint8 [N, C, H, W] (H == W), pixel values 0..255.
    labels: int64 [N].
    mean, std: per-channel statistics in 0..1 units (``data.mean_std()``).
    train: True shuffles and augments each epoch (pad-4 random crop + horizontal flip) and drops the
        last incomplete batch (every step then has the same shape, which compiled models and CUDA graphs
        need); False keeps the order, does not augment and keeps every image.
    augment: with ``train``, crop and flip (False: shuffle only, e.g. to show what augmentation is worth).
    seed: seeds the loader's own random generator (order and augmentation).
    channels_last: store batches as N, H, W, C in memory (same shape), faster for convolutions.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor,
                 *, train: bool, augment: bool = True, device: str | torch.device | None = None,
                 seed: int = 0, channels_last: bool = True):
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            got = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images)
            raise TypeError(f"images must be a uint8 tensor [N, C, H, W]; got {got}.")
        if images.shape[2] != images.shape[3]:
            raise ValueError(f"images must be square, got height {images.shape[2]} and width {images.shape[3]}.")
        labels = torch.as_tensor(labels)
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"labels must have shape [{len(images)}], got {tuple(labels.shape)}.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.device = torch.device(device) if device is not None else images.device
        self.batch_size = batch_size
        self.train = train
        self.augment = train and augment
        if train and len(images) < batch_size:
            raise ValueError(f"Only {len(images)} training images for batch_size={batch_size}: not one full batch "
                             "(the last incomplete batch is dropped). Use a smaller batch_size.")
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        channels = images.shape[1]
        self.mean = _as_channel_vector(mean, "mean", channels).to(self.device)
        self.std = _as_channel_vector(std, "std", channels).to(self.device)
        self.size = images.shape[-1]
        self.labels = labels.to(self.device, torch.int64)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.padded = self.images = None
        if self.augment:
            # Pad once; every epoch then crops its random windows from this [N, C, H+8, W+8] copy.
            self.padded = F.pad(images.to(self.device), (PAD, PAD, PAD, PAD))
        elif train:
            self.images = images.to(self.device)  # shuffled each epoch, normalised per epoch
        else:
            # Evaluation data never changes: normalise it once and keep it.
            self.images = self._normalise(images.to(self.device))

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.labels)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    @property
    def num_images(self) -> int:
        return len(self.labels)

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, C, H, W] -> float [B, C, H, W], per channel (x/255 - mean)/std, in the chosen layout."""
        x = images.contiguous(memory_format=self.memory_format).float()
        return (x / 255 - self.mean) / self.std

    def epoch_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images and labels of the next epoch, in batch order: ([N, C, H, W] float, [N] int64)."""
        if not self.train:
            return self.images, self.labels
        order = torch.randperm(len(self.labels), device=self.device, generator=self.generator)
        if self.augment:
            images = random_crop_flip(self.padded, order, self.size, self.generator)
        else:
            images = self.images[order]
        return self._normalise(images), self.labels[order]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.epoch_tensors()
        for i in range(len(self)):
            start = i * self.batch_size
            yield images[start : start + self.batch_size], labels[start : start + self.batch_size]
