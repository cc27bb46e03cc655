"""Bad input is refused before any work: a clear paragraph and exit code 2 from the command line (never a
traceback), a SettingsError naming fit's arguments from Python."""

import errno
import os
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import tiny_net
from resnet_lessons import files
from resnet_lessons.__main__ import main
from resnet_lessons.data import CLASSES, CIFAR10Tensors, load_cifar10
from resnet_lessons.preflight import SettingsError
from resnet_lessons.recipes import ONECYCLE
from resnet_lessons.train import fit


def _image_folder(root: Path, classes=CLASSES, per_class=(4, 2), size: int = 32) -> Path:
    """train/<class>/ and test/<class>/ with a few random JPEGs each."""
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "test"), per_class, strict=True):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.jpg", quality=75)
    return root


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LESSONS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def folder(tmp_path) -> Path:
    return _image_folder(tmp_path / "images")


def _train(capsys, *args: str, out: Path | None = None) -> str:
    """Run `python -m resnet_lessons train ...` in this process; it must refuse with exit code 2. Returns stderr."""
    out_args = ["--out", str(out)] if out is not None else []
    code = main(["train", "--model", "resnet8", "--epochs", "1", "--no-progress", *out_args, *args])
    said = capsys.readouterr().err
    assert code == 2, said
    assert said.startswith("error: ") and "Traceback" not in said
    return said


# ----------------------------------------------------------------------- settings, before the data is read


@pytest.mark.parametrize("flags, expected", [
    (["--epochs", "0"], "--epochs 0 trains nothing"),
    (["--lr", "0"], "--lr 0.0 cannot train: the learning rate must be a number above 0"),
    (["--lr", "nan"], "--lr nan cannot train"),
    (["--batch-size", "0"], "--batch-size 0 is not a batch size"),
    (["--label-smoothing", "1.5"], "--label-smoothing 1.5 is not a label smoothing"),
    (["--weight-decay", "-1"], "--weight-decay -1.0 is not a weight decay"),
    (["--val-size", "-5"], "--val-size -5 is not a number of images"),
    (["--subset", "0"], "--subset 0 holds no images"),
    (["--device", "gpu7"], "--device gpu7 is not a device"),
])
def test_bad_settings_are_refused_before_the_data_is_read(capsys, tmp_path, flags, expected):
    said = _train(capsys, "--data", str(tmp_path / "no-data-here"), *flags, out=tmp_path / "run")
    assert expected in said
    assert "RESNET_LESSONS_DATA" not in said  # the data was not even looked for


def test_cuda_without_a_gpu(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    said = _train(capsys, "--device", "cuda", "--data", str(tmp_path / "none"), out=tmp_path / "run")
    assert "--device cuda: this machine has no CUDA GPU" in said
    with pytest.raises(SettingsError, match="device='cuda': this machine has no CUDA GPU"):
        fit(tiny_net(4, bias=True), _tensors(), 1, device="cuda")


def test_python_names_its_arguments(tmp_path):
    for settings, expected in [({"lr": 0}, "lr=0 cannot train"), ({"batch_size": 0}, "batch_size=0 is not"),
                               ({"label_smoothing": 1.5}, "label_smoothing=1.5 is not"),
                               ({"val_size": -1}, "val_size=-1 is not")]:
        with pytest.raises(SettingsError, match=expected):  # a Recipe is checked when it is made
            replace(ONECYCLE, **settings)
    with pytest.raises(SettingsError, match="epochs=0 trains nothing"):
        fit(tiny_net(4, bias=True), _tensors(), 0, device="cpu")


# ----------------------------------------------------------------------- the output folder


def test_an_out_that_is_a_file(capsys, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    said = _train(capsys, "--data", str(tmp_path / "none"), out=tmp_path / "taken")
    assert f"--out {tmp_path / 'taken'} cannot hold this run's files" in said
    assert (tmp_path / "taken").read_text() == "a file, not a folder"


def test_a_read_only_out(capsys, tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)  # (chmod would not stop root)
    said = _train(capsys, "--data", str(tmp_path / "none"), out=tmp_path / "run")
    assert "cannot hold this run's files (Permission denied" in said


def test_a_full_disk(capsys, tmp_path, monkeypatch):
    asked = []

    def full(fd, offset, size):
        asked.append(size)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    said = _train(capsys, "--data", str(tmp_path / "none"), out=tmp_path / "run")
    assert "cannot hold this run's files (No space left on device; the checkpoint needs about" in said
    assert asked and asked[0] > 2 * 78_000 * 4  # resnet8's weights and momentum, at least
    assert not list((tmp_path / "run").iterdir())  # the test file is gone


# ----------------------------------------------------------------------- the data


def test_a_subset_below_the_batch_size(capsys, tmp_path, folder):
    said = _train(capsys, "--data", str(folder), "--subset", "20", "--batch-size", "32", out=tmp_path / "run")
    assert "Only 20 training images for --batch-size 32: not one full batch" in said
    with pytest.raises(SettingsError, match="Only 20 training images for batch_size=32"):
        fit(tiny_net(4, bias=True), load_cifar10(folder, progress=False).subset(20),
            1, replace(ONECYCLE, batch_size=32), device="cpu")


def test_eleven_classes(capsys, tmp_path):
    root = _image_folder(tmp_path / "eleven", classes=[*CLASSES, "zebra"])
    said = _train(capsys, "--data", str(root), "--batch-size", "8", out=tmp_path / "run")
    assert "The data has 11 classes, so the model must return 11 scores per image" in said
    assert "returned shape [2, 10]" in said and "num_classes=11" in said


def test_a_corrupt_tar_gz(capsys, tmp_path, folder):
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar")
    archive.write_bytes(archive.read_bytes()[:2000])
    said = _train(capsys, "--data", str(archive), out=tmp_path / "run")
    assert "Could not extract" in said and "damaged or incomplete" in said


def test_a_cache_folder_that_cannot_be_created(capsys, tmp_path, folder, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RESNET_LESSONS_CACHE", str(tmp_path / "file" / "cache"))
    said = _train(capsys, "--data", str(folder), out=tmp_path / "run")
    assert "The cache folder cannot be created" in said and "RESNET_LESSONS_CACHE" in said


def test_an_empty_image_and_a_dangling_link(capsys, tmp_path, folder):
    (folder / "train" / "dog" / "empty.jpg").write_bytes(b"")
    assert "empty.jpg is empty (0 bytes)" in _train(capsys, "--data", str(folder), out=tmp_path / "run")
    (folder / "train" / "dog" / "empty.jpg").unlink()
    (folder / "train" / "dog" / "link.jpg").symlink_to(tmp_path / "gone.jpg")
    said = _train(capsys, "--data", str(folder), out=tmp_path / "run")
    assert "link.jpg is a symbolic link to" in said and "does not exist" in said


def test_batch_norm_with_batches_of_one(capsys, tmp_path, folder):
    said = _train(capsys, "--data", str(folder), "--batch-size", "1", out=tmp_path / "run")
    assert "--batch-size 1: the model has BatchNorm layers" in said


def test_a_model_that_cannot_take_the_images(tmp_path):
    with pytest.raises(SettingsError, match=r"parameters are torch.float64.*model.float\(\)"):
        fit(tiny_net(4, bias=True).double(), _tensors(), 1, replace(ONECYCLE, batch_size=8), device="cpu")
    wrong_input = nn.Sequential(nn.Flatten(), nn.Linear(5, 10))  # made for other images
    with pytest.raises(SettingsError, match=r"fails on a batch of 2 training images .*RuntimeError"):
        fit(wrong_input, _tensors(), 1, replace(ONECYCLE, batch_size=8), device="cpu")
    with pytest.raises(SettingsError, match="data has 10 classes.*returned shape \\[2, 3\\]"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 3)), _tensors(), 1, replace(ONECYCLE, batch_size=8),
            device="cpu")


def test_nothing_was_written_when_refused(tmp_path):
    with pytest.raises(SettingsError):
        fit(tiny_net(4, bias=True), _tensors(), 1, replace(ONECYCLE, batch_size=1), out_dir=tmp_path / "run",
            device="cpu")
    assert not (tmp_path / "run").exists() or not list((tmp_path / "run").iterdir())


# ----------------------------------------------------------------------- near-equal subsets


def test_a_subset_that_is_not_a_multiple_of_the_classes_trains_and_says_so(tmp_path):
    data = _tensors(100).subset(45)
    assert data.train_labels.bincount().tolist() == [5] * 5 + [4] * 5
    history = fit(tiny_net(4, bias=True), data, 1, replace(ONECYCLE, batch_size=16), out_dir=tmp_path, device="cpu")
    assert "near-equal classes (45 training images are not a multiple of 10 classes)" in history.record.subset


def _tensors(n: int = 40) -> CIFAR10Tensors:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 10
    return CIFAR10Tensors(images, labels, images[:20], labels[:20], [f"c{i}" for i in range(10)], "random")
