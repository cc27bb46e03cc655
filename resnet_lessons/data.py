"""CIFAR-10 as uint8 tensors: load it once, cache it, take stratified subsets, compute mean and std.

The whole dataset (60,000 images of 3x32x32 bytes = 184 MB) is kept in memory as four tensors::

    from resnet_lessons.data import load_course_data
    data = load_course_data()          # full data, or a stratified subset in fast mode
    data.train_images.shape            # torch.Size([50000, 3, 32, 32]), dtype torch.uint8
    mean, std = data.mean_std()        # per channel, 0..1 units, from the training images

Where the images come from: see :func:`load_cifar10`. Decoded tensors are cached in ``cache_dir()`` with a
SHA-256, checked on every load; it is also the data's :meth:`~CIFAR10Tensors.fingerprint`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import Tensor

from .progress import tqdm  # tqdm.auto, with notebook bars that leave no stale widget once saved

try:  # torchvision's fast JPEG decoder: deprecated in 0.29, so it may be gone one day
    from torchvision.io import ImageReadMode, decode_jpeg, read_file
except ImportError:
    decode_jpeg = None

from . import config
from .files import atomic_write, tensor_checksum

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
"""The 10 CIFAR-10 class names, in label order (label 0 is airplane)."""

JPEG_COPY_LABEL = "CIFAR-10 (JPEG q75 copy)"
TORCHVISION_LABEL = "CIFAR-10 (original, torchvision)"

FAST_TRAIN_SIZE = 2_000
"""Training images of ``load_course_data()`` in fast mode (200 per class)."""
FAST_TEST_SIZE = 1_000
"""Test images of ``load_course_data()`` in fast mode (100 per class)."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
"""File types read from an ImageFolder (other files, e.g. ``.DS_Store``, are ignored)."""
_JPEG_SUFFIXES = (".jpg", ".jpeg")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_DECODE_CHUNK = 1_000  # images decoded per call: one progress-bar step
_CACHE_VERSION = 2  # bump when the cache file's contents change
_TENSORS = ("train_images", "train_labels", "test_images", "test_labels")
_ORDER_SEED = 0  # the fixed shuffle of an ImageFolder's images (see _load_image_folder)


class DataNotFoundError(RuntimeError):
    """No CIFAR-10 could be found or downloaded. The message says how to get it."""


class DataError(ValueError):
    """The data (or its cache folder) is there but cannot be used; the message names the file and what to do."""


def _how_to_get_data(problem: str) -> str:
    """The error message for missing data: what went wrong, then both ways to get the data."""
    return (
        f"{problem}\n"
        "Two ways to get CIFAR-10:\n"
        "  1. With internet: leave $RESNET_LESSONS_DATA unset (and root=None); torchvision downloads\n"
        f"     CIFAR-10 (170 MB) into {_cache_root() / 'cifar10'}. On Colab this just works.\n"
        "  2. Without internet: set RESNET_LESSONS_DATA (or pass root=...) to a folder with\n"
        "     train/<class>/ and test/<class>/ images, e.g. the JPEG copy of CIFAR-10:\n"
        "         tar -xzf cifar10-jpeg.tar.gz -C ~/data/cifar10-jpeg\n"
        "         export RESNET_LESSONS_DATA=~/data/cifar10-jpeg\n"
        "     A folder holding torchvision's cifar-10-batches-py/ works too."
    )


@dataclass(repr=False)
class CIFAR10Tensors:
    """CIFAR-10 (or another ImageFolder) held in memory as tensors.

    train_images: uint8 [N, 3, H, W] (H = W = 32 for CIFAR-10), values 0..255, RGB.
    train_labels: int64 [N], values 0..len(classes)-1.
    test_images: uint8 [M, 3, H, W]; test_labels: int64 [M].
    classes: class names in label order (``CLASSES`` for CIFAR-10).
    source: where the images came from, e.g. "CIFAR-10 (JPEG q75 copy) from /data/cifar10-jpeg".
    data_label: the short name to put next to every accuracy, e.g. "CIFAR-10 (JPEG q75 copy)".
    root: the folder (or archive) the images were read from.
    subset_note: empty for the full data, else how this subset was drawn (see :meth:`subset`).
    """

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    classes: list[str]
    source: str
    data_label: str = ""
    root: Path | None = None
    subset_note: str = ""
    _fingerprint: str = field(default="", init=False, compare=False)  # see fingerprint()

    def __post_init__(self) -> None:
        if not self.data_label:
            self.data_label = self.source
        for split in ("train", "test"):
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or labels.dtype != torch.int64:
                raise TypeError(f"{split}_images must be uint8 and {split}_labels int64; "
                                f"got {images.dtype} and {labels.dtype}")
            if images.dim() != 4 or labels.shape != images.shape[:1]:
                raise ValueError(f"{split}_images must have shape [N, 3, H, W] and {split}_labels [N] (one label "
                                 f"per image); got {list(images.shape)} and {list(labels.shape)}")

    def __repr__(self) -> str:
        return (f"CIFAR10Tensors(train={len(self.train_labels):,}, test={len(self.test_labels):,}, "
                f"classes={len(self.classes)}, source={self.source!r}{', subset' if self.subset_note else ''})")

    @property
    def is_subset(self) -> bool:
        """True when this is a stratified subset rather than the full data."""
        return bool(self.subset_note)

    def summary(self) -> str:
        """One line: where the data came from, the sizes, and whether it is a subset."""
        sizes = f"{len(self.train_labels):,} train / {len(self.test_labels):,} test images"
        return f"{self.source}: {sizes}, {self.subset_note or 'full data'}"

    def fingerprint(self) -> str:
        """SHA-256 (64 hex digits) of the images, labels and class names: equal exactly when the data is.

        Computed on the first call (cached data already has it): change tensors in place only before that.
        """
        if not self._fingerprint:
            self._fingerprint = _checksum({name: getattr(self, name) for name in (*_TENSORS, "classes")})
        return self._fingerprint

    def mean_std(self) -> tuple[Tensor, Tensor]:
        """Per-channel mean and std of the TRAINING images: float32 [3] each, in 0..1 units."""
        return channel_mean_std(self.train_images)

    def subset(self, train_n: int | None = None, test_n: int | None = None, seed: int = 0) -> CIFAR10Tensors:
        """A new CIFAR10Tensors holding stratified subsets (see :func:`stratified_subset`).

        train_n, test_n: images to keep from each split (None keeps that split whole). When ``n`` is not a
        multiple of the number of classes, some classes get one image more (``subset_note`` then says so).
        """
        note = f"stratified subset of {len(self.train_labels):,} / {len(self.test_labels):,} (seed {seed})"
        kept = {}  # the subset's tensors, e.g. kept["train_images"]
        for split, n, words in (("train", train_n, "training"), ("test", test_n, "test")):
            if n is not None:
                images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
                kept[f"{split}_images"], kept[f"{split}_labels"] = stratified_subset(images, labels, n, seed)
                note += _uneven_note(words, kept[f"{split}_labels"])
        if self.subset_note:
            note += f", which was a {self.subset_note}"
        return replace(self, **kept, classes=list(self.classes), subset_note=note)


def channel_mean_std(images: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of each channel over all images and pixels, in 0..1 units.

    images: uint8 [N, C, H, W]. Returns (mean, std), float32 [C] each; the std is the population std
    (divided by the number of pixels, like NumPy's ``std``).

    A uint8 pixel takes one of only 256 values, so a per-channel histogram gives the exact mean and
    variance in float64, much faster than converting 150 million pixels to float64.
    """
    if not isinstance(images, Tensor) or images.dtype != torch.uint8:
        got = (f"a {images.dtype} tensor of shape {list(images.shape)}" if isinstance(images, Tensor)
               else f"a {type(images).__name__}")
        raise TypeError(f"images must be a uint8 tensor [N, C, H, W] with values 0..255; got {got}")
    if images.dim() != 4 or len(images) == 0:
        raise ValueError(f"images must have shape [N, C, H, W] with N >= 1; got {list(images.shape)}")
    counts = torch.stack([torch.bincount(images[:, c].flatten(), minlength=256) for c in range(images.shape[1])])
    counts = counts.to(torch.float64)  # [C, 256]: counts[c, v] = pixels of channel c with value v
    values = torch.arange(256, dtype=torch.float64, device=counts.device) / 255  # [256], 0..1 units
    pixels = counts.sum(dim=1)  # [C], N * H * W
    mean = (counts * values).sum(dim=1) / pixels
    var = (counts * (values - mean[:, None]) ** 2).sum(dim=1) / pixels
    return mean.float(), var.sqrt().float()


def stratified_subset(images: Tensor, labels: Tensor, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Pick ``n`` images with the same number from every class, at random but repeatably.

    images: [N, ...]; labels: int64 [N]. Returns (images [n, ...], labels [n]) in their original order.
    When ``n`` is not a multiple of the number k of classes present, the first ``n % k`` classes (in
    label order) get one image more than the others.
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} images, {len(labels)} labels")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int; got {n!r}")
    classes, counts = labels.unique(sorted=True, return_counts=True)
    k = len(classes)
    per_class, extra = divmod(n, k)  # the first `extra` classes get per_class + 1 images
    wanted = [per_class + (i < extra) for i in range(k)]
    smallest = int(counts.min())
    if any(want > count for want, count in zip(wanted, counts.tolist(), strict=True)):
        raise ValueError(f"n={n:,} needs {max(wanted):,} images per class, but the smallest class has only "
                         f"{smallest:,}: n can be at most {smallest * k:,}.")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label, count in zip(classes, wanted, strict=True):
        members = (labels == label).nonzero().flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:count]])
    index = torch.cat(chosen).sort().values
    return images[index], labels[index]


def _uneven_note(split: str, labels: Tensor) -> str:
    """"" when every class has the same number of images, else a note saying how many each has."""
    counts = labels.bincount()
    counts = counts[counts > 0]
    if len(counts) == 0 or counts.min() == counts.max():
        return ""
    more = int((counts == counts.max()).sum())
    return (f"; near-equal classes ({len(labels):,} {split} images are not a multiple of {len(counts)} classes): "
            f"{more} classes have {int(counts.max()):,} images, {len(counts) - more} have {int(counts.min()):,}")


def validation_split(labels: Tensor, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Split a training set into a part to train on and ``n`` held-out validation images.

    labels: int64 [N]. Returns (train_index [N - n], val_index [n]), both sorted; the validation images
    are a :func:`stratified_subset`. A network is *chosen* on the validation images (which epoch, which
    setting); the test set only reports how good the chosen network is.
    """
    index = torch.arange(len(labels))
    val_index, _ = stratified_subset(index, labels, n, seed)
    return index[~torch.isin(index, val_index)], val_index


def load_cifar10(root: str | os.PathLike | None = None, download: bool = True, progress: bool = True) -> CIFAR10Tensors:
    """Load CIFAR-10 (all 50,000 + 10,000 images) as uint8 tensors, decoding only the first time.

    root: a folder with ``train/<class>/`` and ``test/<class>/`` images (e.g. the JPEG copy), a ``.tar.gz``
        of one (extracted once into the cache), or a folder holding torchvision's ``cifar-10-batches-py/``.
        None: ``$RESNET_LESSONS_DATA``, or when that is unset too, torchvision's copy in
        ``cache_dir()/cifar10`` (downloaded if missing).
    download: let torchvision download CIFAR-10 when it is not there yet.
    progress: show a progress bar while decoding image files.

    An ImageFolder's images are put in a fixed shuffled order, so that the first images mix all classes.
    Raises DataNotFoundError when there is no data and it cannot be downloaded.
    """
    where = f"root={str(root)!r}"
    if root is None:
        root = config.data_dir()
        where = f"${config.DATA_ENV}={str(root)!r}"
    if root is None:
        return _load_torchvision(_cache_root() / "cifar10", download)
    path = shown_as = Path(root).expanduser()
    if not path.exists():
        raise DataNotFoundError(_how_to_get_data(f"No data at {where}: {path} does not exist."))
    if path.name == "cifar-10-batches-py":  # torchvision's root is the folder above it
        path = shown_as = path.parent
    if path.is_file() and path.name.endswith(_ARCHIVE_SUFFIXES):
        extracted = _extract_once(path)
        # The archive may hold the data at its top level or inside one folder.
        path = next((p for p in (extracted, *sorted(extracted.iterdir())) if _data_kind(p)), extracted)
    kind = _data_kind(path)
    if kind == "imagefolder":
        return _load_image_folder(path, shown_as, progress)
    if kind == "torchvision":
        return _load_torchvision(path, download, shown_as)
    problem = (f"No data at {where}: {shown_as} holds neither train/ and test/ folders (ImageFolder layout) "
               "nor torchvision's cifar-10-batches-py/ (a .tar.gz of either works too).")
    raise DataNotFoundError(_how_to_get_data(problem))


def load_course_data(train_size: int | None = None, test_size: int | None = None,
                     root: str | os.PathLike | None = None, seed: int = 0, verbose: bool = True) -> CIFAR10Tensors:
    """The data for a notebook: all of CIFAR-10, or a stratified subset in fast mode.

    train_size, test_size: images to keep (stratified). None means everything normally and
        FAST_TRAIN_SIZE / FAST_TEST_SIZE (2,000 / 1,000) in fast mode.
    root: where the data is (see :func:`load_cifar10`); seed: which subset.
    verbose: print ``data.summary()``.
    """
    data = load_cifar10(root)
    if config.is_fast():
        train_size = FAST_TRAIN_SIZE if train_size is None else train_size
        test_size = FAST_TEST_SIZE if test_size is None else test_size
    if train_size is not None or test_size is not None:
        data = data.subset(train_size, test_size, seed)
    if verbose:
        print("Data:", data.summary())
    return data


def _data_kind(folder: Path) -> str | None:
    """Which layout ``folder`` has: "imagefolder" (train/ and test/), "torchvision" (cifar-10-batches-py/) or None."""
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        return "imagefolder"
    if (folder / "cifar-10-batches-py").is_dir() or (folder / torchvision.datasets.CIFAR10.filename).is_file():
        return "torchvision"
    return None


# --- Source 1: torchvision's CIFAR-10 (the original pickled batches, downloaded if missing) ---


def _load_torchvision(root: Path, download: bool, shown_as: Path | None = None) -> CIFAR10Tensors:
    """Read torchvision's CIFAR-10 under ``root`` (the folder that holds cifar-10-batches-py/)."""
    batches = root / "cifar-10-batches-py"
    payload = _read_cache(_cache_file("torchvision", root, _folder_listing(batches))) if batches.is_dir() else None
    if payload is None:
        try:
            train = torchvision.datasets.CIFAR10(str(root), train=True, download=download)
            test = torchvision.datasets.CIFAR10(str(root), train=False, download=False)
        except (OSError, RuntimeError) as err:  # URLError and socket errors are OSErrors
            action = f"download CIFAR-10 into {root}" if download else f"find CIFAR-10 in {root} (download=False)"
            problem = f"Could not {action}: {type(err).__name__}: {err}"
            raise DataNotFoundError(_how_to_get_data(problem)) from err
        payload = {"classes": list(train.classes)}
        for split, dataset in (("train", train), ("test", test)):
            # torchvision keeps the images as a NumPy array [N, 32, 32, 3]; we want [N, 3, 32, 32].
            payload[f"{split}_images"] = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
            payload[f"{split}_labels"] = torch.tensor(dataset.targets, dtype=torch.int64)
        _write_cache(_cache_file("torchvision", root, _folder_listing(batches)), payload)
    return _from_payload(payload, TORCHVISION_LABEL, shown_as or root)


# --- Source 2: an ImageFolder (train/<class>/*.jpg, test/<class>/*.jpg), e.g. the JPEG copy ---


def _load_image_folder(root: Path, shown_as: Path, progress: bool = True) -> CIFAR10Tensors:
    """Decode (or read from the cache) every image under root/train and root/test."""
    classes, files, listing = _list_image_folder(root)
    cache_file = _cache_file("imagefolder", root, listing)
    payload = _read_cache(cache_file)
    if payload is None:
        payload = {"classes": classes}
        for split in ("train", "test"):
            paths = [path for path, _ in files[split]]
            images = _decode_files(paths, desc=f"Decoding {split} images (once; then cached)", progress=progress)
            labels = torch.tensor([label for _, label in files[split]], dtype=torch.int64)
            # The files come class by class: shuffle them, always the same way (see load_cifar10).
            order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(_ORDER_SEED))
            payload[f"{split}_images"], payload[f"{split}_labels"] = images[order], labels[order]
        _write_cache(cache_file, payload)
    all_jpeg = all(path.lower().endswith(_JPEG_SUFFIXES) for split in files.values() for path, _ in split)
    not_cifar = _unlike_cifar10(payload["train_images"])  # "" for 32x32 colour images
    if classes == CLASSES and all_jpeg and not not_cifar:
        return _from_payload(payload, JPEG_COPY_LABEL, shown_as)
    label = source = f"ImageFolder at {shown_as}"
    if classes != CLASSES:
        listed = ", ".join(classes[:4]) + (", ..." if len(classes) > 4 else "")
        source = f"{label} ({len(classes)} classes, not CIFAR-10's: {listed})"
    elif not_cifar:
        source = f"{label} ({not_cifar})"
    return _from_payload(payload, label, shown_as, source=source)


def _unlike_cifar10(images: Tensor) -> str:
    """How these images differ from CIFAR-10's 32x32 colour images ("" when they do not)."""
    height, width = images.shape[-2:]
    if (height, width) != (32, 32):
        return f"{height}x{width} images, not CIFAR-10's 32x32"
    for start in range(0, len(images), _DECODE_CHUNK):  # stops at the first chunk with a colour image
        chunk = images[start : start + _DECODE_CHUNK]
        if not (torch.equal(chunk[:, 0], chunk[:, 1]) and torch.equal(chunk[:, 1], chunk[:, 2])):
            return ""
    return "grayscale images, not CIFAR-10's colour ones"


def _list_image_folder(root: Path) -> tuple[list[str], dict[str, list[tuple[str, int]]], str]:
    """Class names (train/'s sub-folders, sorted), the (file, label) pairs of each split, and the
    listing: one line per file (path, size, modification time, label), which changes when they do."""
    classes = _class_folders(root / "train")
    if not classes:
        raise DataNotFoundError(_how_to_get_data(f"{root / 'train'} has no class folders (train/<class>/*.jpg)."))
    test_classes = _class_folders(root / "test")
    if test_classes != classes:
        raise ValueError(f"{root}: train/ and test/ must have the same class folders; "
                         f"train/ has {classes}, test/ has {test_classes}.")
    files: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    listing = []
    for split in ("train", "test"):
        for label, name in enumerate(classes):
            folder = root / split / name
            entries = [e for e in os.scandir(folder) if e.name.lower().endswith(IMAGE_SUFFIXES)]
            if not entries:
                raise ValueError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)} files).")
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_symlink() and not os.path.exists(entry.path):
                    raise DataError(f"{entry.path} is a symbolic link to {os.readlink(entry.path)}, which does not "
                                    "exist. Restore the file it points to, or delete the link.")
                if not entry.is_file():
                    continue  # e.g. a folder named like an image
                stat = entry.stat()
                if stat.st_size == 0:
                    raise DataError(f"{entry.path} is empty (0 bytes): it holds no image. Replace it with "
                                    "the image it should hold, or delete it.")
                files[split].append((entry.path, label))
                listing.append(f"{split}/{name}/{entry.name}|{stat.st_size}|{stat.st_mtime_ns}|{label}")
    return classes, files, "\n".join(listing)


def _class_folders(folder: Path) -> list[str]:
    """Sorted names of the sub-folders (hidden ones, e.g. .ipynb_checkpoints, are skipped)."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _decode_files(paths: list[str], desc: str, progress: bool = True) -> Tensor:
    """Decode image files into one uint8 tensor [N, 3, H, W]; all images must have the same size."""
    out = None
    with tqdm(total=len(paths), desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for start in range(0, len(paths), _DECODE_CHUNK):
            chunk = paths[start : start + _DECODE_CHUNK]
            images = _decode_chunk(chunk)
            if out is None:
                out = torch.empty((len(paths), *images[0].shape), dtype=torch.uint8)
            for path, image in zip(chunk, images, strict=True):
                if image.shape != out.shape[1:]:
                    raise ValueError(f"All images must have the same size: {path} is {list(image.shape)} (C, H, W) "
                                     f"but {paths[0]} is {list(out.shape[1:])}.")
            torch.stack(images, out=out[start : start + len(chunk)])
            bar.update(len(chunk))
    return out


def _decode_chunk(paths: list[str]) -> list[Tensor]:
    """Decode a few files into RGB uint8 tensors [3, H, W].

    JPEGs go through torchvision's ``decode_jpeg`` on a whole list at once, about 4x faster than PIL one
    by one. PIL does the rest (same pixels): PNGs, a chunk with a broken file (PIL names it), and
    torchvision versions without the decoders (deprecated in 0.29).
    """
    if decode_jpeg is not None and all(path.lower().endswith(_JPEG_SUFFIXES) for path in paths):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return decode_jpeg([read_file(path) for path in paths], mode=ImageReadMode.RGB)
        except RuntimeError:
            pass  # a broken file, or torchvision built without image support: let PIL try
    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                pixels = np.array(image.convert("RGB"))  # [H, W, 3]
        except OSError as err:  # PIL's UnidentifiedImageError is an OSError
            raise ValueError(f"Could not decode {path}: {err}") from err
        images.append(torch.from_numpy(pixels).permute(2, 0, 1))
    return images


def _extract_once(archive: Path) -> Path:
    """Extract an archive into cache_dir()/extracted (only the first time) and return that folder."""
    stat = archive.stat()
    key = _hash(f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}")
    target = _cache_root() / "extracted" / f"{archive.name.split('.')[0]}-{key}"
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=target.parent, prefix=".partial-")
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            os.rename(tmp, target)  # atomic: a half-extracted folder never has the final name
        except (tarfile.TarError, EOFError, zlib.error, OSError) as err:  # gzip's BadGzipFile is an OSError
            if target.is_dir():  # another process finished first
                return target
            raise DataError(
                f"Could not extract {archive} ({type(err).__name__}: {err}): the archive is damaged or "
                "incomplete (an interrupted download?), or the disk is full. Download it again, or extract it "
                "yourself and point at the folder."
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already after the rename
    return target


# --- The cache: one torch.save file per source, named by a hash of its path and of its files' listing ---


def _cache_root() -> Path:
    """config.cache_dir(), with a clear error when that folder cannot be created."""
    try:
        return config.cache_dir()
    except OSError as err:
        raise DataError(
            f"The cache folder cannot be created ({type(err).__name__}: {err}). Set ${config.CACHE_ENV} to a "
            "folder you can write to, e.g. export RESNET_LESSONS_CACHE=~/.cache/resnet_lessons."
        ) from None


def _folder_listing(folder: Path) -> str:
    """Name, size and modification time of each file in ``folder``, one line per file."""
    entries = sorted((e for e in os.scandir(folder) if e.is_file()), key=lambda e: e.name)
    return "\n".join(f"{e.name}|{e.stat().st_size}|{e.stat().st_mtime_ns}" for e in entries)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _cache_file(kind: str, root: Path, listing: str) -> Path:
    """cache_dir()/cifar10-<kind>-<hash of path>-<hash of the listing>.pt"""
    path_key = _hash(f"{kind}|{root.resolve()}")
    state_key = _hash(f"{_CACHE_VERSION}|{listing}")
    return _cache_root() / f"cifar10-{kind}-{path_key}-{state_key}.pt"


def _checksum(payload: dict) -> str:
    """SHA-256 of the payload's tensors and class names (the data's fingerprint)."""
    return tensor_checksum({name: payload[name] for name in (*_TENSORS, "classes")})


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _read_cache(path: Path) -> dict | None:
    """The tensors saved in ``path``, or None (with one line saying why) when they cannot be used."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, weights_only=True)
    except Exception as err:  # a damaged file: decode again and overwrite it
        _say(f"Ignoring the unreadable cache file {path} ({type(err).__name__}); decoding the images again.")
        return None
    expected = {"version", "checksum", "classes", *_TENSORS}
    if not isinstance(payload, dict) or set(payload) != expected:
        keys = sorted(map(str, payload)) if isinstance(payload, dict) else type(payload).__name__
        _say(f"Ignoring the cache file {path}: it holds something else ({keys}); decoding the images again.")
        return None
    if payload["version"] != _CACHE_VERSION or _checksum(payload) != payload["checksum"]:
        _say(f"Ignoring the damaged cache file {path}: its tensors do not match their checksum; "
             "decoding the images again.")
        return None
    return payload


def _write_cache(path: Path, payload: dict) -> None:
    """Add the version and checksum to ``payload``, save it atomically and delete older caches of the source.

    A cache that cannot be written (disk full, read-only folder) is a warning, not an error: the
    data is loaded all the same, and the next load decodes again.
    """
    payload.update(version=_CACHE_VERSION, checksum=_checksum(payload))
    try:
        with atomic_write(path) as f:
            torch.save(payload, f)
    except OSError as err:
        warnings.warn(f"Could not save the cache file {path} ({err}); the next load decodes again.", stacklevel=3)
        return
    prefix = path.name.rsplit("-", 1)[0]  # cifar10-<kind>-<hash of path>
    for old in path.parent.glob(f"{prefix}-*.pt"):
        if old != path:
            old.unlink(missing_ok=True)
    # Temporary files of saves that were killed (kill -9, a power cut) are as big as the cache: delete
    # those over an hour old (a younger one may belong to another process saving right now).
    for orphan in path.parent.glob(f"{prefix}-*.pt.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - orphan.stat().st_mtime > 3600:
                orphan.unlink()


def _from_payload(payload: dict, label: str, root: Path, source: str | None = None) -> CIFAR10Tensors:
    data = CIFAR10Tensors(
        payload["train_images"], payload["train_labels"], payload["test_images"], payload["test_labels"],
        classes=list(payload["classes"]), source=source or f"{label} from {root}", data_label=label, root=root,
    )
    data._fingerprint = payload["checksum"]  # the checksum just verified (or computed): no need to hash again
    return data
