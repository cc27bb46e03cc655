"""Tests for resnet_lessons.live: the live experiments' settings, downsample, the stored signal and the verdicts."""

import json

import pytest
import torch

from resnet_lessons import config, live
from resnet_lessons.data import CLASSES, CIFAR10Tensors
from resnet_lessons.live import (
    LIVE_EXPERIMENTS,
    downsample,
    is_clear,
    live_data,
    live_plan,
    read_signal,
    seed_noise,
    signal_verdict,
    verdict,
)
from resnet_lessons.models import build_model
from resnet_lessons.plans import Run


def tiny_data(train_per_class: int = 4, test_per_class: int = 2, size: int = 32) -> CIFAR10Tensors:
    g = torch.Generator().manual_seed(0)
    train_labels = torch.arange(10).repeat(train_per_class)
    test_labels = torch.arange(10).repeat(test_per_class)
    return CIFAR10Tensors(
        torch.randint(0, 256, (len(train_labels), 3, size, size), dtype=torch.uint8, generator=g), train_labels,
        torch.randint(0, 256, (len(test_labels), 3, size, size), dtype=torch.uint8, generator=g), test_labels,
        list(CLASSES), "tiny test data", data_label="tiny",
    )


# --- downsample -------------------------------------------------------------------------------


def test_downsample_averages_each_block_of_pixels():
    data = tiny_data()
    # One image whose 2x2 blocks are [0, 255] side by side: averaging gives 128 (127.5 rounded to even
    # would be 128), while keeping every other pixel (a plausible wrong way) would give 0.
    data.train_images[0] = torch.tensor([0, 255], dtype=torch.uint8).repeat(3, 32, 16)
    small = downsample(data, 16)
    assert small.train_images.shape == (40, 3, 16, 16) and small.test_images.shape == (20, 3, 16, 16)
    assert small.train_images.dtype == torch.uint8
    assert torch.equal(small.train_images[0], torch.full((3, 16, 16), 128, dtype=torch.uint8))
    expected = data.test_images[3, :, :2, :2].float().mean(dim=(1, 2)).round().to(torch.uint8)
    assert torch.equal(small.test_images[3, :, 0, 0], expected)


def test_downsample_keeps_labels_and_source_and_leaves_the_input_alone():
    data = tiny_data()
    before = data.train_images.clone()
    small = downsample(data, 8)
    assert small is not data and small.train_images.shape[-1] == 8
    assert torch.equal(small.train_labels, data.train_labels) and torch.equal(small.test_labels, data.test_labels)
    assert small.data_label == "tiny" and small.classes == data.classes
    assert "average-pooled from 32x32 to 8x8" in small.summary()
    assert torch.equal(data.train_images, before) and data.train_images.shape[-1] == 32


@pytest.mark.parametrize("size", [0, 5, 64, 16.0])
def test_downsample_rejects_a_size_that_does_not_divide_the_images(size):
    with pytest.raises(ValueError, match="divisor of the image size 32"):
        downsample(tiny_data(), size)


def test_downsample_to_the_same_size_is_a_copy_with_equal_pixels():
    data = tiny_data()
    same = downsample(data, 32)
    assert torch.equal(same.train_images, data.train_images)


# --- the settings -----------------------------------------------------------------------------


def test_plans_follow_the_mode(monkeypatch):
    monkeypatch.setenv(config.FAST_ENV, "1")
    assert live_plan("01") is LIVE_EXPERIMENTS["01"].fast
    monkeypatch.setenv(config.FAST_ENV, "0")
    assert live_plan("01") is LIVE_EXPERIMENTS["01"].full
    assert live_plan("01", fast=True) is LIVE_EXPERIMENTS["01"].fast


def test_unknown_experiment_names_the_known_ones():
    with pytest.raises(ValueError, match=r"'01', '02'"):
        live_plan("04")


def models(runs) -> tuple[str, ...]:
    return tuple(run.model for run in runs)


def test_full_mode_keeps_the_notebooks_settings():
    """Full mode is what the notebooks trained before fast mode was resized (20 epochs, batch 512, all data)."""
    for exp in LIVE_EXPERIMENTS.values():
        for run in exp.full:
            assert (run.train_images, run.test_images, run.image_size) == (None, None, 32)
            assert (run.epochs, run.batch_size, run.recipe, run.seed) == (20, 512, "onecycle", 0)
    assert models(LIVE_EXPERIMENTS["01"].full) == ("plain20", "plain56")
    assert models(LIVE_EXPERIMENTS["02"].full) == ("plain56", "resnet56")
    assert models(LIVE_EXPERIMENTS["03"].full) == ("resnet20",)
    assert models(LIVE_EXPERIMENTS["05"].full) == ("resnet110", "resnext29_8x4d")


def test_01_and_02_tell_one_story():
    """02's plain net is 01's deep plain net, trained the same way, in both modes."""
    for mode in ("fast", "full"):
        one, two = getattr(LIVE_EXPERIMENTS["01"], mode), getattr(LIVE_EXPERIMENTS["02"], mode)
        assert one[1] == two[0]


def test_every_fast_model_builds_and_takes_its_image_size():
    for key, exp in LIVE_EXPERIMENTS.items():
        for run in exp.fast:
            model = build_model(run.model).eval()
            with torch.no_grad():
                out = model(torch.randn(2, 3, run.image_size, run.image_size))
            assert out.shape == (2, 10), (key, run.name)


def test_live_data_subsets_and_downsamples():
    runs = [Run("plain20", 1, train_images=20, test_images=10, image_size=16)]
    data = live_data(runs, tiny_data(), verbose=False)
    assert data.train_images.shape == (20, 3, 16, 16) and data.test_images.shape == (10, 3, 16, 16)
    assert torch.bincount(data.train_labels).tolist() == [2] * 10  # stratified
    assert "stratified subset" in data.summary() and "16x16" in data.summary()
    with pytest.raises(ValueError, match="same images"):  # one data set for runs that want two
        live_data([*runs, Run("plain56", 1, train_images=20, test_images=10, image_size=32)], tiny_data())


# --- the verdicts -----------------------------------------------------------------------------


def test_seed_noise_is_the_sample_standard_deviation():
    assert seed_noise([3.0, 7.0, 5.0]) == pytest.approx(2.0)  # deviations -2, 2, 0: sqrt(8 / 2)
    with pytest.raises(ValueError, match="at least two seeds"):
        seed_noise([2.0])


def test_a_margin_below_the_noise_is_not_called_an_effect():
    sentence = verdict(2.4, 3.1, "plain-56 ends with a clearly higher training error than plain-20",
                       "the stored full runs below show the difference")
    assert sentence.startswith("within run-to-run noise at this size")
    assert "clearly" not in sentence and "the stored full runs below show the difference" in sentence
    assert not is_clear(2.4, 3.1) and not is_clear(6.2, 3.1)  # within twice the standard deviation
    assert verdict(6.0, 3.1, "A beats B").startswith("within run-to-run noise")


def test_a_margin_above_the_noise_is_an_effect():
    sentence = verdict(12.0, 4.0, "plain-56 ends with a clearly higher training error than plain-20")
    assert sentence.startswith("plain-56 ends with a clearly higher training error") and "12.0 points" in sentence
    assert "twice the 4.0-point standard deviation" in sentence
    assert is_clear(12.0, 4.0) and is_clear(8.1, 4.0)


def test_a_margin_in_the_wrong_direction_is_not_an_effect():
    assert verdict(-9.0, 2.0, "B beats A").startswith("within run-to-run noise")


def test_negative_noise_is_refused():
    with pytest.raises(ValueError, match="cannot be negative"):
        verdict(1.0, -1.0, "x")


def _signal_file(tmp_path):
    record = {
        "command": "python benchmarks/fast_mode_signal.py --label test",
        "noise": live.NOISE,
        "provenance": {"commit": "abc1234def", "device": "CPU (2 threads)", "data": "CIFAR-10 (JPEG q75 copy)"},
        "experiments": {
            "01": {"measure": "training error of plain-56 minus plain-20 (points)", "values": [10.0, 14.0, 12.5],
                   "effect": 12.1667, "noise": 2.0, "seconds": 61.0},
            "05": {"measure": "test error of resnet-44 minus resnext-11 (points)", "values": [1.0, -2.0, 0.5],
                   "effect": -0.1667, "noise": 3.0, "seconds": 90.0},
        },
    }
    path = tmp_path / "test.json"
    path.write_text(json.dumps(record))
    return path


def test_read_signal_returns_the_effect_and_its_noise(tmp_path):
    path = _signal_file(tmp_path)
    s = read_signal("01", path)
    assert (s.effect, s.noise, s.values, s.seconds) == (12.1667, 2.0, (10.0, 14.0, 12.5), 61.0)
    assert "3 seeds" in s.source and "CIFAR-10 (JPEG q75 copy)" in s.source and "test.json" in s.source
    assert signal_verdict("01", "deeper is worse", path=path).startswith("deeper is worse: 12.2 points")
    assert signal_verdict("05", "ResNeXt wins", "too close to call", path=path).startswith("within run-to-run")


def test_read_signal_names_what_the_file_has(tmp_path):
    with pytest.raises(KeyError, match=r"\['01', '05'\]"):
        read_signal("02", _signal_file(tmp_path))
    with pytest.raises(FileNotFoundError):
        read_signal("01", tmp_path / "missing.json")


def test_the_stored_signal_of_01_and_02_matches_the_settings_and_shows_the_effect():
    """The committed fast-mode record was made with the current settings, over at least five seeds, and
    shows each lesson's effect: every network learns, and the effect is clear of the noise."""
    record = json.loads(live.signal_path().read_text())
    assert record["noise"] == live.NOISE
    for key in ("01", "02"):
        stored = record["experiments"][key]
        plan = LIVE_EXPERIMENTS[key].fast
        run = plan[0]
        settings = stored["settings"]
        assert tuple(settings["models"]) == models(plan), f"{key}: the record was made with other networks; rerun it"
        assert (settings["train_images"], settings["image_size"], settings["epochs"], settings["batch_size"]) == (
            run.train_images, run.image_size, run.epochs, run.batch_size), f"{key}: the record is stale; rerun it"
        assert len(stored["values"]) >= 5
        assert stored["noise"] == pytest.approx(seed_noise(stored["values"]), abs=0.01)
        assert is_clear(stored["effect"], stored["noise"]), f"{key}: the effect is within twice its noise"
        assert all(r["train_error"] < 85 for r in stored["runs"]), f"{key}: a network did not learn"
