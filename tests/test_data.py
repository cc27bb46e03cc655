"""Tests for resnet_lessons.data on tiny copies of both sources (an ImageFolder and torchvision's format).

No test decodes the full dataset. The ImageFolder tests copy a few JPEGs per class from the shared JPEG
copy of CIFAR-10 when $RESNET_LESSONS_DATA points at it (as in CI), else they write small JPEGs
themselves; the torchvision tests write a tiny CIFAR-10 in torchvision's own pickle format.
"""

import os
import pickle
import shutil
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from resnet_lessons import config, data
from resnet_lessons.data import (
    CLASSES,
    JPEG_COPY_LABEL,
    TORCHVISION_LABEL,
    CIFAR10Tensors,
    DataNotFoundError,
    channel_mean_std,
    load_cifar10,
    load_course_data,
    stratified_subset,
)

# Read before the autouse fixture below clears the variable for each test.
SHARED_COPY = Path(os.environ.get(config.DATA_ENV) or "/nonexistent")
HAVE_SHARED_COPY = (SHARED_COPY / "train" / "airplane").is_dir()
TRAIN_PER_CLASS, TEST_PER_CLASS = 4, 2


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """Every test gets its own cache in tmp_path, no data folder, and fast mode off."""
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    monkeypatch.setenv(config.FAST_ENV, "0")


def _write_images(folder: Path, count: int, seed: int, suffix: str = ".jpg", size: int = 32) -> None:
    """Write ``count`` random RGB images of size x size into folder as JPEG (quality 75) or PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:04d}{suffix}", quality=75)  # quality: JPEG only


def make_image_folder(root: Path, classes=CLASSES, suffix: str = ".jpg") -> Path:
    """A synthetic ImageFolder: TRAIN_PER_CLASS / TEST_PER_CLASS random images per class."""
    for label, name in enumerate(classes):
        _write_images(root / "train" / name, TRAIN_PER_CLASS, seed=label, suffix=suffix)
        _write_images(root / "test" / name, TEST_PER_CLASS, seed=100 + label, suffix=suffix)
    return root


@pytest.fixture(scope="session")
def _tiny_folder_once(tmp_path_factory) -> Path:
    """A few real CIFAR-10 JPEGs per class copied from the shared copy, or synthetic ones without it."""
    root = tmp_path_factory.mktemp("shared") / "cifar10-jpeg"
    if not HAVE_SHARED_COPY:
        return make_image_folder(root)
    for split, count in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        for name in CLASSES:
            (root / split / name).mkdir(parents=True)
            for file_name in sorted(os.listdir(SHARED_COPY / split / name))[:count]:
                shutil.copy(SHARED_COPY / split / name / file_name, root / split / name / file_name)
    return root


@pytest.fixture
def tiny_folder(_tiny_folder_once, tmp_path) -> Path:
    """A fresh copy of the tiny ImageFolder for each test (tests may change it)."""
    return Path(shutil.copytree(_tiny_folder_once, tmp_path / "cifar10-jpeg"))


def _pil_images(folder: Path) -> torch.Tensor:
    """Every image in folder decoded by PIL: uint8 [N, 3, H, W], in file-name order."""
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)


# ----------------------------------------------------------------------------------- ImageFolder


def test_image_folder_is_read_as_the_jpeg_copy(tiny_folder):
    d = load_cifar10(tiny_folder, progress=False)
    assert d.train_images.shape == (10 * TRAIN_PER_CLASS, 3, 32, 32)
    assert d.test_images.shape == (10 * TEST_PER_CLASS, 3, 32, 32)
    assert d.train_images.dtype == torch.uint8 and d.train_labels.dtype == torch.int64
    assert d.classes == CLASSES
    assert d.train_labels.bincount().tolist() == [TRAIN_PER_CLASS] * 10
    assert d.test_labels.bincount().tolist() == [TEST_PER_CLASS] * 10
    assert d.data_label == JPEG_COPY_LABEL == "CIFAR-10 (JPEG q75 copy)"
    assert d.source == f"CIFAR-10 (JPEG q75 copy) from {tiny_folder}"
    assert d.root == tiny_folder
    assert not d.is_subset


def test_image_folder_pixels_and_labels_match_pil(tiny_folder):
    """Every decoded image equals PIL's decoding of a file in the folder of its label."""
    d = load_cifar10(tiny_folder, progress=False)
    for split in ("train", "test"):
        images, labels = getattr(d, f"{split}_images"), getattr(d, f"{split}_labels")
        for label, name in enumerate(CLASSES):
            expected = _pil_images(tiny_folder / split / name)
            mine = images[labels == label]
            assert len(mine) == len(expected)
            for image in mine:
                assert (expected == image).flatten(1).all(dim=1).any(), f"{split}/{name}: an image matches no file"


def test_image_folder_order_mixes_classes_and_is_repeatable(tiny_folder, tmp_path, monkeypatch):
    first = load_cifar10(tiny_folder, progress=False)
    assert first.train_labels[:10].unique().numel() > 1  # not all airplanes first
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "other-cache"))  # decode again from scratch
    again = load_cifar10(tiny_folder, progress=False)
    assert torch.equal(first.train_labels, again.train_labels)
    assert torch.equal(first.train_images, again.train_images)


def test_data_folder_from_the_environment(tiny_folder, monkeypatch):
    monkeypatch.setenv(config.DATA_ENV, str(tiny_folder))
    d = load_cifar10(progress=False)
    assert d.root == tiny_folder and len(d.train_labels) == 10 * TRAIN_PER_CLASS


def test_other_classes_still_work_but_the_source_says_so(tmp_path):
    root = make_image_folder(tmp_path / "pets", classes=["cat", "dog", "fish"])
    d = load_cifar10(root, progress=False)
    assert d.classes == ["cat", "dog", "fish"]
    assert d.train_labels.bincount().tolist() == [TRAIN_PER_CLASS] * 3
    assert d.data_label == f"ImageFolder at {root}"
    assert d.source == f"ImageFolder at {root} (3 classes, not CIFAR-10's: cat, dog, fish)"


def test_png_folder_is_not_labelled_as_the_jpeg_copy(tmp_path):
    root = make_image_folder(tmp_path / "cifar-png", suffix=".png")
    d = load_cifar10(root, progress=False)
    assert d.classes == CLASSES
    assert d.data_label == d.source == f"ImageFolder at {root}"
    # PNG is lossless: the pixels are exactly the ones written.
    assert _pil_images(root / "test" / "cat").sum() == d.test_images[d.test_labels == 3].sum()


def test_hidden_folders_and_other_files_are_ignored(tiny_folder):
    (tiny_folder / "train" / ".ipynb_checkpoints").mkdir()
    (tiny_folder / "train" / "cat" / "notes.txt").write_text("not an image")
    d = load_cifar10(tiny_folder, progress=False)
    assert d.classes == CLASSES and len(d.train_labels) == 10 * TRAIN_PER_CLASS


def test_train_and_test_class_folders_must_match(tiny_folder):
    shutil.rmtree(tiny_folder / "test" / "truck")
    with pytest.raises(ValueError, match="same class folders"):
        load_cifar10(tiny_folder, progress=False)


def test_images_of_another_size_are_named(tiny_folder):
    _write_images(tiny_folder / "train" / "dog", 1, seed=7, size=48)  # overwrites 0000.jpg with a 48x48 image
    with pytest.raises(ValueError, match=r"same size: .*dog.*0000\.jpg is \[3, 48, 48\]"):
        load_cifar10(tiny_folder, progress=False)


def test_a_broken_file_is_named(tiny_folder):
    (tiny_folder / "test" / "frog" / "broken.jpg").write_bytes(b"this is not a JPEG")
    with pytest.raises(ValueError, match=r"Could not decode .*frog.*broken\.jpg"):
        load_cifar10(tiny_folder, progress=False)


def test_an_empty_image_file_is_named(tiny_folder):
    (tiny_folder / "train" / "cat" / "empty.jpg").write_bytes(b"")
    with pytest.raises(data.DataError, match=r"train/cat/empty\.jpg is empty \(0 bytes\)"):
        load_cifar10(tiny_folder, progress=False)


def test_a_dangling_symlink_is_reported_not_skipped(tiny_folder):
    (tiny_folder / "test" / "ship" / "gone.jpg").symlink_to(tiny_folder / "nowhere.jpg")
    with pytest.raises(data.DataError, match=r"gone\.jpg is a symbolic link to .*nowhere\.jpg, which does not exist"):
        load_cifar10(tiny_folder, progress=False)


def test_a_working_symlink_is_read(tiny_folder):
    target = next((tiny_folder / "train" / "ship").iterdir())
    (tiny_folder / "train" / "ship" / "link.jpg").symlink_to(target)
    assert load_cifar10(tiny_folder, progress=False).train_labels.bincount()[8] == TRAIN_PER_CLASS + 1


def test_grayscale_images_are_not_labelled_as_the_jpeg_copy(tmp_path):
    root = tmp_path / "gray"
    for split, count in (("train", 2), ("test", 1)):
        for name in CLASSES:
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = np.full((32, 32), 40 * i + 7, np.uint8)
                Image.fromarray(pixels, mode="L").save(root / split / name / f"{i}.jpg")
    d = load_cifar10(root, progress=False)
    assert d.data_label == f"ImageFolder at {root}" and "grayscale" in d.source
    assert JPEG_COPY_LABEL not in d.source


def test_64x64_images_are_not_labelled_as_the_jpeg_copy(tmp_path):
    root = tmp_path / "big"
    for label, name in enumerate(CLASSES):
        _write_images(root / "train" / name, 1, seed=label, size=64)
        _write_images(root / "test" / name, 1, seed=50 + label, size=64)
    d = load_cifar10(root, progress=False)
    assert d.train_images.shape[1:] == (3, 64, 64)
    assert d.data_label == f"ImageFolder at {root}" and "64x64 images, not CIFAR-10's 32x32" in d.source


def test_a_corrupt_tar_gz_is_a_clear_error(tiny_folder, tmp_path):
    archive = tmp_path / "cifar10-jpeg.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_folder, arcname="cifar10-jpeg")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # an interrupted download
    with pytest.raises(data.DataError, match=r"Could not extract .*cifar10-jpeg\.tar\.gz.*damaged or incomplete"):
        load_cifar10(archive, progress=False)
    assert not list((tmp_path / "cache" / "extracted").iterdir())  # nothing half-extracted left
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive at all")
    with pytest.raises(data.DataError, match="Could not extract"):
        load_cifar10(tmp_path / "junk.tar.gz", progress=False)


def test_a_cache_folder_that_cannot_be_created_is_a_clear_error(tiny_folder, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "a-file" / "cache"))  # fails even for root
    with pytest.raises(data.DataError, match=r"cache folder cannot be created.*Set \$RESNET_LESSONS_CACHE"):
        load_cifar10(tiny_folder, progress=False)


def test_tar_gz_of_the_folder_is_extracted_once(tiny_folder, tmp_path, monkeypatch):
    archive = tmp_path / "cifar10-jpeg.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_folder, arcname="cifar10-jpeg")  # the data sits inside one top-level folder
    d = load_cifar10(archive, progress=False)
    assert d.data_label == JPEG_COPY_LABEL
    assert d.source == f"CIFAR-10 (JPEG q75 copy) from {archive}"
    assert len(d.train_labels) == 10 * TRAIN_PER_CLASS

    def no_extracting(*args, **kwargs):
        raise AssertionError("the archive was extracted a second time")

    monkeypatch.setattr(tarfile, "open", no_extracting)
    again = load_cifar10(archive, progress=False)
    assert torch.equal(again.train_images, d.train_images)
    assert not list((tmp_path / "cache" / "extracted").glob(".partial-*"))


# ----------------------------------------------------------------------------------- torchvision


def _write_fake_torchvision_cifar10(root: Path, per_batch: int = 10, test_count: int = 20) -> dict:
    """A tiny CIFAR-10 in torchvision's format: root/cifar-10-batches-py/{data_batch_1..5, test_batch,
    batches.meta}, pickled dicts with "data" (uint8 [n, 3072], channel-major rows) and "labels"."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {"train": [], "test": []}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        count = test_count if name == "test_batch" else per_batch
        batch = {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8), "labels": [i % 10 for i in range(count)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
        written["test" if name == "test_batch" else "train"].append(batch)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CLASSES, "num_vis": 3072}, f)
    return {
        split: (np.concatenate([b["data"] for b in batches]), sum((b["labels"] for b in batches), []))
        for split, batches in written.items()
    }


@pytest.fixture
def fake_torchvision(tmp_path, monkeypatch):
    """(root, the arrays written). torchvision's MD5 checks are switched off: our files are not the real ones."""
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    root = tmp_path / "tv"
    return root, _write_fake_torchvision_cifar10(root)


def test_torchvision_format(fake_torchvision):
    root, written = fake_torchvision
    d = load_cifar10(root)
    assert d.train_images.shape == (50, 3, 32, 32) and d.test_images.shape == (20, 3, 32, 32)
    assert d.train_images.dtype == torch.uint8 and d.train_labels.dtype == torch.int64
    # Row i of a batch holds 1024 red, then 1024 green, then 1024 blue bytes: our [3, 32, 32] image.
    assert torch.equal(d.train_images, torch.from_numpy(written["train"][0]).reshape(-1, 3, 32, 32))
    assert torch.equal(d.test_images, torch.from_numpy(written["test"][0]).reshape(-1, 3, 32, 32))
    assert d.train_labels.tolist() == written["train"][1]
    assert d.classes == CLASSES
    assert d.data_label == TORCHVISION_LABEL == "CIFAR-10 (original, torchvision)"
    assert d.source == f"CIFAR-10 (original, torchvision) from {root}"


def test_torchvision_batches_folder_itself_works_too(fake_torchvision):
    root, _ = fake_torchvision
    assert load_cifar10(root / "cifar-10-batches-py").root == root


def test_default_is_torchvision_copy_in_the_cache(fake_torchvision, tmp_path, monkeypatch):
    """root=None and $RESNET_LESSONS_DATA unset: torchvision's CIFAR-10 in cache_dir()/cifar10."""
    root, _ = fake_torchvision
    shutil.move(root, tmp_path / "cache" / "cifar10")

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded although the data was there")

    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", no_download)
    d = load_cifar10()
    assert d.data_label == TORCHVISION_LABEL and d.root == tmp_path / "cache" / "cifar10"


# ----------------------------------------------------------------------------------- the cache


def _count_decodes(monkeypatch) -> list:
    calls = []
    real = data._decode_files

    def counting(paths, *args, **kwargs):
        calls.append(len(paths))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(data, "_decode_files", counting)
    return calls


def _refuse_decoding(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("decoded although the cache was valid")

    monkeypatch.setattr(data, "_decode_files", refuse)


def test_second_load_comes_from_the_cache(tiny_folder, tmp_path, monkeypatch):
    calls = _count_decodes(monkeypatch)
    first = load_cifar10(tiny_folder, progress=False)
    assert calls == [10 * TRAIN_PER_CLASS, 10 * TEST_PER_CLASS]
    cache_files = list((tmp_path / "cache").glob("*.pt"))
    assert len(cache_files) == 1
    assert not list((tmp_path / "cache").glob("*.tmp"))  # written atomically, nothing left over

    _refuse_decoding(monkeypatch)
    second = load_cifar10(tiny_folder, progress=False)
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert torch.equal(getattr(first, name), getattr(second, name))
    assert second.source == first.source and second.classes == CLASSES


def test_a_changed_folder_is_decoded_again(tiny_folder, tmp_path, monkeypatch):
    load_cifar10(tiny_folder, progress=False)
    old_cache = list((tmp_path / "cache").glob("*.pt"))
    extra = tiny_folder / "train" / "ship" / "extra.jpg"
    shutil.copy(next((tiny_folder / "train" / "ship").iterdir()), extra)

    calls = _count_decodes(monkeypatch)
    d = load_cifar10(tiny_folder, progress=False)
    assert calls == [10 * TRAIN_PER_CLASS + 1, 10 * TEST_PER_CLASS]
    assert len(d.train_labels) == 10 * TRAIN_PER_CLASS + 1
    new_cache = list((tmp_path / "cache").glob("*.pt"))
    assert len(new_cache) == 1 and new_cache != old_cache  # the stale cache file was deleted


def test_a_damaged_cache_file_is_decoded_again(tiny_folder, tmp_path, monkeypatch, capsys):
    load_cifar10(tiny_folder, progress=False)
    (cache_file,) = (tmp_path / "cache").glob("*.pt")
    cache_file.write_bytes(b"garbage")
    calls = _count_decodes(monkeypatch)
    d = load_cifar10(tiny_folder, progress=False)
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "unreadable cache file" in said[0] and "decoding the images again" in said[0]
    assert len(calls) == 2 and len(d.train_labels) == 10 * TRAIN_PER_CLASS


def _overwrite_inside_the_train_images(cache_file: Path) -> None:
    """Change 16 bytes in the middle of the stored training images, as a bad disk or a stray write would:
    the file stays a valid torch file, only some pixels change."""
    stored = torch.load(cache_file, weights_only=True)["train_images"]
    raw = bytearray(cache_file.read_bytes())
    start = raw.find(stored.flatten()[:512].numpy().tobytes())
    assert start > 0
    for i in range(start + 1000, start + 1016):
        raw[i] ^= 0xFF
    cache_file.write_bytes(bytes(raw))
    changed = torch.load(cache_file, weights_only=True)["train_images"]
    assert not torch.equal(changed, stored)  # torch.load itself does not notice


def test_bytes_overwritten_inside_the_cache_are_noticed(tiny_folder, tmp_path, monkeypatch, capsys):
    first = load_cifar10(tiny_folder, progress=False)
    (cache_file,) = (tmp_path / "cache").glob("*.pt")
    _overwrite_inside_the_train_images(cache_file)
    calls = _count_decodes(monkeypatch)
    again = load_cifar10(tiny_folder, progress=False)
    said = capsys.readouterr().err
    assert "damaged cache file" in said and "checksum" in said
    assert len(calls) == 2 and torch.equal(again.train_images, first.train_images)
    assert again.fingerprint() == first.fingerprint()
    _refuse_decoding(monkeypatch)
    assert torch.equal(load_cifar10(tiny_folder, progress=False).train_images, first.train_images)  # rewritten


@pytest.mark.parametrize("foreign", [
    {"images": torch.zeros(3)},  # a valid torch file with other keys
    {"classes": list(CLASSES), "train_images": torch.zeros(1), "train_labels": torch.zeros(1),
     "test_images": torch.zeros(1), "test_labels": torch.zeros(1)},  # the first cache format: no checksum
    [1, 2, 3],
])
def test_a_foreign_torch_file_as_cache_is_rebuilt(tiny_folder, tmp_path, monkeypatch, capsys, foreign):
    first = load_cifar10(tiny_folder, progress=False)
    (cache_file,) = (tmp_path / "cache").glob("*.pt")
    torch.save(foreign, cache_file)
    calls = _count_decodes(monkeypatch)
    again = load_cifar10(tiny_folder, progress=False)
    assert "holds something else" in capsys.readouterr().err
    assert len(calls) == 2 and torch.equal(again.train_labels, first.train_labels)


def test_images_moved_to_another_class_get_their_new_labels(tiny_folder, tmp_path):
    before = load_cifar10(tiny_folder, progress=False)
    cats, dogs = tiny_folder / "train" / "cat", tiny_folder / "train" / "dog"
    for image in sorted(cats.iterdir())[:2]:  # the count, the total size and the newest mtime stay the same
        os.rename(image, dogs / f"moved-{image.name}")
    after = load_cifar10(tiny_folder, progress=False)
    assert before.train_labels.bincount().tolist()[3:6] == [TRAIN_PER_CLASS] * 3
    assert after.train_labels.bincount().tolist()[3:6] == [TRAIN_PER_CLASS - 2, TRAIN_PER_CLASS, TRAIN_PER_CLASS + 2]
    assert after.fingerprint() != before.fingerprint()
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1  # the stale cache was replaced


def test_the_fingerprint_is_the_same_from_the_cache_and_after_decoding(tiny_folder, tmp_path, monkeypatch):
    decoded = load_cifar10(tiny_folder, progress=False)
    cached = load_cifar10(tiny_folder, progress=False)
    assert cached.fingerprint() == decoded.fingerprint() and len(decoded.fingerprint()) == 64
    fresh = CIFAR10Tensors(decoded.train_images.clone(), decoded.train_labels, decoded.test_images,
                           decoded.test_labels, list(CLASSES), "x")
    assert fresh.fingerprint() == decoded.fingerprint()  # computed from the tensors, not taken from the cache
    fresh.train_images[0, 0, 0, 0] ^= 1
    fresh._fingerprint = ""
    assert fresh.fingerprint() != decoded.fingerprint()
    assert decoded.subset(20, seed=0).fingerprint() != decoded.subset(20, seed=1).fingerprint()


def test_a_cache_that_cannot_be_written_is_only_a_warning(tiny_folder, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.warns(UserWarning, match="Could not save the cache file"):
        d = load_cifar10(tiny_folder, progress=False)
    assert len(d.train_labels) == 10 * TRAIN_PER_CLASS
    assert not list((tmp_path / "cache").iterdir())  # no temporary file left behind


def test_old_temporary_files_of_killed_cache_saves_are_deleted(tiny_folder, tmp_path):
    load_cifar10(tiny_folder, progress=False)
    (cache_file,) = (tmp_path / "cache").glob("*.pt")
    old, young = (cache_file.with_name(cache_file.name + suffix) for suffix in (".a1b2c3.tmp", ".d4e5f6.tmp"))
    for orphan in (old, young):
        orphan.write_bytes(b"\0" * 100)
    os.utime(old, (0, 0))  # left by a save killed long ago
    cats = tiny_folder / "train" / "cat"
    (cats / "extra.jpg").write_bytes(next(cats.iterdir()).read_bytes())
    load_cifar10(tiny_folder, progress=False)  # the folder changed: a new cache is saved
    assert not old.exists() and young.exists()  # a young one may be another process's save in progress


def test_torchvision_source_is_cached_too(fake_torchvision, monkeypatch):
    root, _ = fake_torchvision
    first = load_cifar10(root)

    def refuse(*args, **kwargs):
        raise AssertionError("read torchvision's files although the cache was valid")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", refuse)
    second = load_cifar10(root)
    assert torch.equal(first.train_images, second.train_images)
    assert second.source == first.source


def test_shared_copy_loads_through_the_cache(tiny_folder, monkeypatch):
    """The JPEG copy (a few real files of it when the shared copy is here) set through the environment,
    loaded twice by the notebook function: the second time nothing is decoded."""
    monkeypatch.setenv(config.DATA_ENV, str(tiny_folder))
    first = load_course_data(verbose=False)
    _refuse_decoding(monkeypatch)
    second = load_course_data(verbose=False)
    assert torch.equal(first.train_images, second.train_images)
    assert second.data_label == JPEG_COPY_LABEL


# ----------------------------------------------------------------------------------- no data


def _assert_names_both_ways(message: str) -> None:
    assert "torchvision downloads" in message and "Colab" in message  # way 1: the download
    assert "RESNET_LESSONS_DATA" in message and "train/<class>/" in message and "test/<class>/" in message  # way 2


def test_offline_error_names_both_ways(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", offline)
    with pytest.raises(DataNotFoundError) as caught:
        load_cifar10()
    assert isinstance(caught.value, RuntimeError)
    assert isinstance(caught.value.__cause__, urllib.error.URLError)  # the cause is kept
    message = str(caught.value)
    assert "Could not download CIFAR-10" in message and "Temporary failure in name resolution" in message
    _assert_names_both_ways(message)


def test_no_download_allowed_and_no_data(tmp_path):
    with pytest.raises(DataNotFoundError, match="download=False") as caught:
        load_cifar10(download=False)
    _assert_names_both_ways(str(caught.value))


def test_missing_data_folder_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match=r"\$RESNET_LESSONS_DATA=.*nowhere.* does not exist") as caught:
        load_cifar10()
    _assert_names_both_ways(str(caught.value))


def test_folder_without_data_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="neither train/ and test/ folders") as caught:
        load_cifar10(tmp_path / "empty")
    _assert_names_both_ways(str(caught.value))


# ----------------------------------------------------------------------------------- mean and std


def test_mean_std_by_hand():
    # Two 1x2 images. Channel 0: 0, 255, 0, 255 -> mean 0.5, std 0.5.
    # Channel 1: 51 everywhere -> mean 0.2, std 0. Channel 2: 0, 0, 0, 255 -> mean 0.25,
    # std = sqrt(mean of squares - mean^2) = sqrt(0.25 - 0.0625) = 0.4330127.
    images = torch.tensor(
        [
            [[[0, 255]], [[51, 51]], [[0, 0]]],
            [[[0, 255]], [[51, 51]], [[0, 255]]],
        ],
        dtype=torch.uint8,
    )
    mean, std = channel_mean_std(images)
    assert mean.dtype == std.dtype == torch.float32 and mean.shape == std.shape == (3,)
    torch.testing.assert_close(mean, torch.tensor([0.5, 0.2, 0.25]))
    torch.testing.assert_close(std, torch.tensor([0.5, 0.0, 0.4330127]))


def test_mean_std_matches_numpy_float64():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    pixels = images.numpy().astype(np.float64) / 255
    mean, std = channel_mean_std(images)
    np.testing.assert_allclose(mean.numpy(), pixels.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), pixels.std(axis=(0, 2, 3)), rtol=1e-6)


def test_mean_std_uses_the_training_images_only():
    train = torch.full((4, 3, 2, 2), 255, dtype=torch.uint8)
    d = CIFAR10Tensors(train, torch.arange(4) % 2, torch.zeros(2, 3, 2, 2, dtype=torch.uint8), torch.arange(2),
                       classes=["a", "b"], source="test")
    mean, std = d.mean_std()
    assert mean.tolist() == [1.0, 1.0, 1.0] and std.tolist() == [0.0, 0.0, 0.0]


def test_mean_std_rejects_wrong_input():
    with pytest.raises(TypeError, match="uint8"):
        channel_mean_std(torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        channel_mean_std(torch.zeros(3, 4, 4, dtype=torch.uint8))


# ----------------------------------------------------------------------------------- subsets


def _numbered(n: int = 100, classes: int = 10):
    """images[i] is filled with the value i and labels[i] = i % classes: pairs can be checked after subsetting."""
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 3, 2, 2).clone()
    return images, torch.arange(n) % classes


def test_subset_has_equal_counts_per_class_and_keeps_pairs():
    images, labels = _numbered()
    sub_images, sub_labels = stratified_subset(images, labels, 30, seed=0)
    assert sub_labels.bincount().tolist() == [3] * 10
    index = sub_images[:, 0, 0, 0].long()  # which original image each one is
    assert torch.equal(sub_labels, labels[index])  # every image kept its own label
    assert torch.equal(index, index.sort().values)  # original order
    assert index.unique().numel() == 30  # no image twice


def test_subset_is_deterministic_given_the_seed():
    images, labels = _numbered()
    a = stratified_subset(images, labels, 20, seed=3)[0]
    b = stratified_subset(images, labels, 20, seed=3)[0]
    c = stratified_subset(images, labels, 20, seed=4)[0]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_a_subset_that_is_not_a_multiple_of_the_classes_is_near_equal():
    images, labels = _numbered()
    sub_images, sub_labels = stratified_subset(images, labels, 25, seed=0)
    assert sub_labels.bincount().tolist() == [3] * 5 + [2] * 5  # the first 25 % 10 classes get one more
    assert torch.equal(sub_labels, labels[sub_images[:, 0, 0, 0].long()])
    small = _tensors().subset(25, 10, seed=0)
    assert small.subset_note == ("stratified subset of 100 / 50 (seed 0); near-equal classes (25 training images "
                                 "are not a multiple of 10 classes): 5 classes have 3 images, 5 have 2")
    assert "near-equal" not in _tensors().subset(20, 10).subset_note


def test_subset_errors_say_what_is_valid():
    images, labels = _numbered()
    with pytest.raises(ValueError, match=r"needs 11 images per class.*only 10.*at most 100"):
        stratified_subset(images, labels, 110)
    with pytest.raises(ValueError, match="positive int"):
        stratified_subset(images, labels, 0)
    # The smallest class sets the limit: class 0 has only 2 images here.
    uneven = torch.cat([torch.tensor([0, 0]), torch.ones(10, dtype=torch.int64)])
    with pytest.raises(ValueError, match="smallest class has only 2"):
        stratified_subset(torch.zeros(12, 3, 2, 2, dtype=torch.uint8), uneven, 6)


def _tensors(n_train: int = 100, n_test: int = 50) -> CIFAR10Tensors:
    train_images, train_labels = _numbered(n_train)
    test_images, test_labels = _numbered(n_test)
    return CIFAR10Tensors(train_images, train_labels, test_images, test_labels, list(CLASSES),
                          source="CIFAR-10 (JPEG q75 copy) from /data", data_label=JPEG_COPY_LABEL)


def test_tensors_subset_repr_and_summary():
    full = _tensors()
    assert repr(full) == "CIFAR10Tensors(train=100, test=50, classes=10, source='CIFAR-10 (JPEG q75 copy) from /data')"
    assert full.summary() == "CIFAR-10 (JPEG q75 copy) from /data: 100 train / 50 test images, full data"

    small = full.subset(20, 10, seed=1)
    assert isinstance(small, CIFAR10Tensors) and small is not full
    assert small.train_labels.bincount().tolist() == [2] * 10
    assert small.test_labels.bincount().tolist() == [1] * 10
    assert small.is_subset and not full.is_subset and len(full.train_labels) == 100  # the original is untouched
    assert small.data_label == JPEG_COPY_LABEL and small.source == full.source
    assert small.summary() == (
        "CIFAR-10 (JPEG q75 copy) from /data: 20 train / 10 test images, stratified subset of 100 / 50 (seed 1)"
    )
    assert repr(small).endswith(", subset)")
    assert torch.equal(full.subset(None, 10).train_images, full.train_images)  # None keeps a split whole


def test_tensors_reject_wrong_types_and_shapes():
    images, labels = _numbered(10)
    with pytest.raises(TypeError, match="must be uint8"):
        CIFAR10Tensors(images.float(), labels, images, labels, list(CLASSES), "x")
    with pytest.raises(ValueError, match="one label per image"):
        CIFAR10Tensors(images, labels[:5], images, labels, list(CLASSES), "x")


# ----------------------------------------------------------------------------------- load_course_data


def test_course_data_full_mode(tiny_folder, capsys):
    d = load_course_data(root=tiny_folder)
    assert len(d.train_labels) == 10 * TRAIN_PER_CLASS and not d.is_subset
    line = capsys.readouterr().out.strip()
    assert line == f"Data: CIFAR-10 (JPEG q75 copy) from {tiny_folder}: 40 train / 20 test images, full data"


def test_course_data_fast_mode_takes_a_stratified_subset(tiny_folder, capsys, monkeypatch):
    monkeypatch.setenv(config.FAST_ENV, "1")
    monkeypatch.setattr(data, "FAST_TRAIN_SIZE", 20)  # the real defaults (2,000 / 1,000) exceed the tiny folder
    monkeypatch.setattr(data, "FAST_TEST_SIZE", 10)
    d = load_course_data(root=tiny_folder, seed=0)
    assert d.train_labels.bincount().tolist() == [2] * 10 and d.test_labels.bincount().tolist() == [1] * 10
    assert "20 train / 10 test images, stratified subset of 40 / 20 (seed 0)" in capsys.readouterr().out
    assert torch.equal(load_course_data(root=tiny_folder, verbose=False).train_images, d.train_images)
    assert len(load_course_data(train_size=30, root=tiny_folder, verbose=False).train_labels) == 30


def test_course_data_sizes_in_full_mode(tiny_folder):
    d = load_course_data(train_size=10, root=tiny_folder, verbose=False)
    assert len(d.train_labels) == 10 and len(d.test_labels) == 10 * TEST_PER_CLASS and d.is_subset


def test_fast_mode_defaults():
    assert (data.FAST_TRAIN_SIZE, data.FAST_TEST_SIZE) == (2_000, 1_000)
