"""Tests for resnet_lessons.config: fast mode, pick, and where data and caches live."""

import os
from pathlib import Path

import pytest
import torch

from resnet_lessons import config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """Every test starts with fast mode off, no data folder, and a cache in tmp_path."""
    monkeypatch.delenv(config.FAST_ENV, raising=False)
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "cache"))


def test_unset_the_mode_follows_the_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert config.is_fast() is True  # no GPU: fast mode
    assert "because there is no GPU here" in config.mode_reason()
    assert "rl.set_fast(False)" in config.mode_reason()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.is_fast() is False  # a GPU: full mode
    assert config.mode_reason().startswith("full mode, because this machine has a GPU (cuda)")


def test_a_set_mode_wins_over_the_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    config.set_fast(False)
    assert config.is_fast() is False  # full mode asked for, on a CPU
    assert config.mode_reason().startswith("full mode, because RESNET_LESSONS_FAST=0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(config.FAST_ENV, "1")
    assert config.is_fast() is True  # fast mode asked for, with a GPU


@pytest.mark.parametrize("value", ["1", "true", "True", "YES", " on "])
def test_fast_mode_on_values(monkeypatch, value):
    monkeypatch.setenv(config.FAST_ENV, value)
    assert config.is_fast() is True


@pytest.mark.parametrize("value", ["0", "false", "No", "off", ""])
def test_fast_mode_off_values(monkeypatch, value):
    monkeypatch.setenv(config.FAST_ENV, value)
    assert config.is_fast() is False


def test_bad_fast_value_says_what_is_valid(monkeypatch):
    monkeypatch.setenv(config.FAST_ENV, "maybe")
    with pytest.raises(ValueError, match=r"RESNET_LESSONS_FAST='maybe'.*use 1 .* or 0"):
        config.is_fast()


def test_set_fast_switches_the_mode_and_the_environment(monkeypatch):
    monkeypatch.setenv(config.FAST_ENV, "0")  # monkeypatch restores the variable after the test
    config.set_fast(True)
    assert config.is_fast() is True
    assert os.environ[config.FAST_ENV] == "1"  # processes started from here see it too
    config.set_fast(False)
    assert config.is_fast() is False


def test_pick_chooses_by_mode(monkeypatch):
    monkeypatch.setenv(config.FAST_ENV, "1")
    assert config.pick(2, 30) == 2
    monkeypatch.setenv(config.FAST_ENV, "0")
    assert config.pick(2, 30) == 30
    assert config.pick(fast="resnet8", full="resnet20") == "resnet20"


def test_cache_dir_follows_the_environment_variable(tmp_path):
    path = config.cache_dir()
    assert path == tmp_path / "cache"
    assert path.is_dir()  # created on first use


def test_cache_dir_default_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv(config.CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config.cache_dir() == tmp_path / "home" / ".cache" / "resnet_lessons"
    assert config.cache_dir().is_dir()


def test_cache_dir_expands_the_user_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(config.CACHE_ENV, "~/rl-cache")
    assert config.cache_dir() == tmp_path / "rl-cache"


def test_data_dir(monkeypatch, tmp_path):
    assert config.data_dir() is None
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(config.DATA_ENV, "~/cifar10-jpeg")
    assert config.data_dir() == Path(tmp_path / "cifar10-jpeg")


def test_get_device():
    assert config.get_device("cpu") == torch.device("cpu")
    assert isinstance(config.get_device(), torch.device)


def test_set_cpu_threads():
    before = torch.get_num_threads()
    try:
        threads = config.set_cpu_threads()
        assert threads >= 1
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_set_cpu_threads_shares_cores_between_parallel_workers(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(2 * cores))
        assert config.set_cpu_threads() == 1
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "1")
        assert config.set_cpu_threads() == cores
    finally:
        torch.set_num_threads(before)
