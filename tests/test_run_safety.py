"""A run in an output folder is not replaced, shared or resumed on other hardware by accident
(resnet_lessons.checkpoint: the folder's lock, the refusal to replace a run, the run's hardware)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import tiny_net
from resnet_lessons import config
from resnet_lessons.__main__ import build_parser, default_run_dir, main, resume_mode
from resnet_lessons.checkpoint import LOCK_FILE, OutDirLock
from resnet_lessons.data import CIFAR10Tensors
from resnet_lessons.history import History
from resnet_lessons.preflight import SettingsError
from resnet_lessons.recipes import ONECYCLE
from resnet_lessons.train import fit


def _data(n: int = 64) -> CIFAR10Tensors:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 10
    return CIFAR10Tensors(train_images=images, train_labels=labels, test_images=images[:20], test_labels=labels[:20],
                          classes=[f"c{i}" for i in range(10)], source="random pixels")


def _net() -> nn.Module:
    return tiny_net(channels=4, bias=True)


RUN = dict(recipe=replace(ONECYCLE, batch_size=16), device="cpu")


@pytest.fixture
def sleeper():
    """Another live process (its id goes into a lock file)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_fit_refuses_to_replace_a_finished_run_unless_asked(tmp_path):
    fit(_net(), _data(), 1, out_dir=tmp_path, **RUN)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(SettingsError, match=r"resume=True.*resume='overwrite'") as caught:
        fit(_net(), _data(), 2, out_dir=tmp_path, **RUN)
    assert "finished" in str(caught.value)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    history = fit(_net(), _data(), 2, out_dir=tmp_path, resume="overwrite", **RUN)
    assert len(history) == 2 and len(History.load(tmp_path / "history.json")) == 2


def test_an_unfinished_run_is_not_replaced_either(tmp_path):
    def stop(history, model):
        raise KeyboardInterrupt

    fit(_net(), _data(), 3, out_dir=tmp_path, callbacks=[stop], **RUN)
    with pytest.raises(SettingsError, match=r"epoch 1 of 3"):
        fit(_net(), _data(), 3, out_dir=tmp_path, **RUN)


def test_a_folder_in_use_by_a_live_process_is_refused_naming_it(tmp_path, sleeper):
    (tmp_path / LOCK_FILE).write_text(f'{{"pid": {sleeper}, "host": "{os.uname().nodename}", "started": "x"}}')
    with pytest.raises(SettingsError, match=rf"in use.*process {sleeper}"):
        fit(_net(), _data(), 1, out_dir=tmp_path, **RUN)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_a_lock_left_by_a_dead_process_is_taken_over_and_released_at_the_end(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_FILE).write_text(f'{{"pid": {int(dead.stdout)}, "host": "{os.uname().nodename}"}}')
    fit(_net(), _data(), 1, out_dir=tmp_path, **RUN)
    assert not (tmp_path / LOCK_FILE).exists()


def test_the_lock_is_a_context_manager_that_keeps_a_second_process_out(tmp_path):
    code = ("import sys; from resnet_lessons.checkpoint import OutDirLock\n"
            "try:\n    OutDirLock(sys.argv[1]).acquire()\nexcept ValueError as e:\n    print(e); sys.exit(3)")
    with OutDirLock(tmp_path):
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        assert done.returncode == 3, done.stderr
        assert f"process {os.getpid()}" in done.stdout
    assert not (tmp_path / LOCK_FILE).exists()


def test_resuming_in_another_precision_is_refused_unless_asked_and_then_recorded(tmp_path, monkeypatch):
    def stop(history, model):
        raise KeyboardInterrupt

    fit(_net(), _data(), 2, out_dir=tmp_path, callbacks=[stop], **RUN)
    monkeypatch.setattr(config, "cpu_bf16", lambda: True)  # as RESNET_LESSONS_CPU_BF16=1 on a bf16 CPU
    with pytest.raises(SettingsError, match=r"(?s)fp32.*bf16 autocast.*resume='switch-hardware'"):
        fit(_net(), _data(), 2, out_dir=tmp_path, resume=True, **RUN)
    history = fit(_net(), _data(), 2, out_dir=tmp_path, resume="switch-hardware", **RUN)
    assert len(history) == 2
    assert "fp32" in history.record.precision and "bf16" in history.record.precision
    assert "epoch 2" in history.record.precision


def test_a_finished_run_loads_on_other_hardware_without_taking_the_folder(tmp_path, monkeypatch):
    fit(_net(), _data(), 1, out_dir=tmp_path, **RUN)
    monkeypatch.setattr(config, "cpu_bf16", lambda: True)
    history = fit(_net(), _data(), 1, out_dir=tmp_path, resume=True, **RUN)
    assert len(history) == 1 and history.record.precision == "fp32"
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_finished_run_resumed_gives_back_its_trained_network(tmp_path):
    trained = _net()
    fit(trained, _data(), 1, out_dir=tmp_path, **RUN)
    fresh = _net()
    fit(fresh, _data(), 1, out_dir=tmp_path, resume=True, **RUN)
    for (key, a), b in zip(trained.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


def test_fit_refuses_a_resume_it_does_not_know(tmp_path):
    with pytest.raises(ValueError, match="resume must be one of"):
        fit(_net(), _data(), 1, out_dir=tmp_path, resume="replace", **RUN)
    with pytest.raises(ValueError, match="needs an out_dir"):
        fit(_net(), _data(), 1, resume="switch-hardware", **RUN)


def _args(*extra: str):
    return build_parser().parse_args(["train", *extra])


def test_the_default_out_names_every_setting_that_changes_the_run():
    base = default_run_dir(_args())
    variants = [("--subset", "500"), ("--epochs", "3"), ("--seed", "1"), ("--recipe", "paper"), ("--val-size", "50"),
                ("--test-subset", "100"), ("--batch-size", "64"), ("--lr", "0.05"), ("--no-augment",),
                ("--model", "plain20"), ("--data", "/somewhere/cifar-small"), ("--weight-decay", "0.001"),
                ("--label-smoothing", "0.1")]
    outs = [default_run_dir(_args(*v)) for v in variants]
    assert base not in outs and len(set(outs)) == len(outs), outs
    assert all(str(o).startswith("runs") for o in outs)


def test_the_command_line_refuses_to_replace_a_run_before_loading_data(tmp_path, capsys):
    (tmp_path / "checkpoint.pt").write_bytes(b"a run")
    status = main(["train", "--out", str(tmp_path), "--data", str(tmp_path / "no-such-data"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert status == 2
    assert "--resume" in err and "--overwrite" in err and "resume=True" not in err
    assert "no-such-data" not in err  # refused before the data
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"a run"


def test_the_command_line_refuses_a_folder_in_use_before_loading_data(tmp_path, capsys, sleeper):
    (tmp_path / LOCK_FILE).write_text(f'{{"pid": {sleeper}, "host": "{os.uname().nodename}"}}')
    assert main(["train", "--out", str(tmp_path), "--data", str(tmp_path / "nothing"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"process {sleeper}" in err and "--out" in err


def test_the_command_lines_flags_are_fits_resume():
    assert resume_mode(_args()) is False
    assert resume_mode(_args("--resume")) is True
    assert resume_mode(_args("--overwrite")) == "overwrite"
    assert resume_mode(_args("--resume", "--switch-hardware")) == "switch-hardware"
    with pytest.raises(SettingsError, match="--resume and --overwrite contradict"):
        resume_mode(_args("--resume", "--overwrite"))
    with pytest.raises(SettingsError, match="--switch-hardware only applies to a resumed run"):
        resume_mode(_args("--switch-hardware"))


def test_the_command_line_replaces_a_run_with_overwrite_only(tmp_path, capsys):
    fit(_net(), _data(), 1, out_dir=tmp_path, **RUN)
    assert main(["train", "--out", str(tmp_path), "--data", str(tmp_path / "nothing"), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "nothing" in err and "--overwrite" not in err  # the run was not in the way: the data was looked for
    assert (tmp_path / "checkpoint.pt").exists()  # and nothing was deleted before the data loaded
