"""Late or unclear failures of the command line become early, clear errors that name the flag or file and the
fix, before any data loads (each command below names a data folder that does not exist: had the check come
after loading, the error would be about that folder)."""

from __future__ import annotations

import pytest

from resnet_lessons.__main__ import main


def _train(tmp_path, *extra: str) -> list[str]:
    return ["train", "--data", str(tmp_path / "no-such-data"), "--epochs", "1", *extra]


@pytest.mark.parametrize("extra, expected", [
    (("--device", "xpu"), "--device xpu is not a device the course trains on"),
    (("--device", "meta"), "--device meta is not a device the course trains on"),
    (("--seed", "123456789012345678901234"), "--seed 123456789012345678901234 is not a seed"),
    (("--seed", "-1"), "--seed -1 is not a seed"),
])
def test_bad_train_arguments_are_named_before_the_data(tmp_path, capsys, extra, expected):
    assert main(_train(tmp_path, "--out", str(tmp_path / "run"), *extra)) == 2
    err = capsys.readouterr().err
    assert expected in err and "no-such-data" not in err and "Traceback" not in err


def test_out_inside_the_data_folder_is_refused(tmp_path, capsys):
    data = tmp_path / "cifar"
    (data / "train").mkdir(parents=True)
    assert main(["train", "--data", str(data), "--epochs", "1", "--out", str(data / "train" / "run")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "inside the data folder" in err
    assert not (data / "train" / "run").exists()


def test_a_folder_named_checkpoint_pt_in_out_is_refused(tmp_path, capsys):
    (tmp_path / "run" / "checkpoint.pt").mkdir(parents=True)
    assert main(_train(tmp_path, "--out", str(tmp_path / "run"))) == 2
    err = capsys.readouterr().err
    assert "checkpoint.pt is a folder" in err and "--out" in err and "no-such-data" not in err


@pytest.mark.parametrize("variable, value, extra", [
    ("RESNET_LESSONS_CPU_BF16", "maybe", ("--device", "cpu")),
    ("RESNET_LESSONS_VISDOM_PORT", "99999", ("--visdom",)),
])
def test_bad_environment_switches_are_named_before_the_data(tmp_path, capsys, monkeypatch, variable, value, extra):
    monkeypatch.setenv(variable, value)
    assert main(_train(tmp_path, "--out", str(tmp_path / "run"), *extra)) == 2
    err = capsys.readouterr().err
    assert f"{variable}={value!r}" in err and "no-such-data" not in err


@pytest.mark.parametrize("extra, expected", [
    (("--device", "xpu"), "--device xpu is not a device the course trains on"),
    (("--seed", "123456789012345678901234"), "--seed 123456789012345678901234 is not a seed"),
])
def test_bad_experiment_arguments_are_named_before_the_data(tmp_path, capsys, extra, expected):
    from resnet_lessons.lab.cli import experiment_main

    assert experiment_main(["depth", "--smoke", "--data", str(tmp_path / "no-such-data"), *extra]) == 2
    err = capsys.readouterr().err
    assert expected in err and "no-such-data" not in err
