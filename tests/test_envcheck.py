"""The environment check and the time estimates every notebook prints before its long cells."""

import torch
from torch import nn

from resnet_lessons import envcheck
from resnet_lessons.envcheck import environment_report, estimate_training_seconds, measure_step_seconds
from resnet_lessons.models import build_model


class BatchRecorder(nn.Module):
    """A tiny classifier that remembers the batch sizes it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3, 10)
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        return self.fc(self.bn(x).mean(dim=(2, 3)))


def test_measure_step_seconds_leaves_weights_and_batchnorm_statistics_unchanged():
    torch.manual_seed(0)
    model = build_model("resnet8")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seconds = measure_step_seconds(model, batch_size=8, steps=1, device=torch.device("cpu"))
    assert seconds > 0
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == []


def test_a_slow_warm_up_step_means_one_timed_step(monkeypatch):
    model = BatchRecorder()
    ticks = iter([0.0, 5.0, 5.0, 10.0])  # warm-up 5 s, then one step of 5 s
    monkeypatch.setattr(envcheck.time, "perf_counter", lambda: next(ticks))
    seconds = measure_step_seconds(model, batch_size=4, steps=3, device=torch.device("cpu"))
    assert len(model.batches) == 2  # warm-up + one timed step, not 1 + 3
    assert seconds == 5.0


def test_a_quick_warm_up_step_means_the_requested_timed_steps(monkeypatch):
    model = BatchRecorder()
    ticks = iter([0.0, 0.5, 0.5, 2.0])  # warm-up 0.5 s, then three steps in 1.5 s
    monkeypatch.setattr(envcheck.time, "perf_counter", lambda: next(ticks))
    seconds = measure_step_seconds(model, batch_size=4, steps=3, device=torch.device("cpu"))
    assert model.batches == [4, 4, 4, 4]  # the real batch size, warm-up + 3 timed steps
    assert seconds == 0.5


def test_estimate_multiplies_the_step_time_by_the_number_of_steps(monkeypatch, capsys):
    monkeypatch.setattr(envcheck, "measure_step_seconds", lambda model, batch_size, device, image_size: 0.5)
    total = estimate_training_seconds(BatchRecorder(), train_images=1000, epochs=4, batch_size=128)
    assert total == 0.5 * 4 * 7  # 1000 images in batches of 128: 7 full steps per epoch, as the trainer takes
    printed = capsys.readouterr().out
    assert "about 14 s" in printed and "4 epochs x 1,000 images" in printed and "500 ms per batch of 128" in printed


def test_estimate_reads_long_times_in_minutes_and_hours(monkeypatch, capsys):
    monkeypatch.setattr(envcheck, "measure_step_seconds", lambda model, batch_size, device, image_size: 2.0)
    estimate_training_seconds(BatchRecorder(), train_images=128 * 100, epochs=1, batch_size=128)  # 200 s
    estimate_training_seconds(BatchRecorder(), train_images=128 * 100, epochs=30, batch_size=128)  # 6000 s
    printed = capsys.readouterr().out
    assert "about 3 min" in printed and "about 1.7 h" in printed


def test_environment_report_names_the_device_mode_and_data(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("RESNET_LESSONS_FAST", "0")
    monkeypatch.setenv("RESNET_LESSONS_DATA", str(tmp_path))
    report = environment_report(device=torch.device("cpu"))
    assert report["device"].startswith("cpu: CPU (")
    assert report["mode"].startswith("full mode, because RESNET_LESSONS_FAST=0")
    assert str(tmp_path) in report["data"]
    # On a CPU in full mode the student is told how long that takes and how to make the notebook quick.
    hint = "No GPU here: full mode will take hours. Turn on fast mode with rl.set_fast(True)."
    assert hint in capsys.readouterr().out


def test_environment_report_in_fast_mode_without_a_data_folder(monkeypatch, capsys):
    monkeypatch.setenv("RESNET_LESSONS_FAST", "1")
    monkeypatch.delenv("RESNET_LESSONS_DATA", raising=False)
    report = environment_report(device=torch.device("cpu"))
    assert report["mode"].startswith("fast mode, because RESNET_LESSONS_FAST=1")
    assert report["data"].startswith("torchvision download into")
    assert "will take hours" not in capsys.readouterr().out


def test_environment_report_says_the_mode_follows_the_machine(monkeypatch, capsys):
    monkeypatch.delenv("RESNET_LESSONS_FAST", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    report = environment_report(device=torch.device("cpu"))
    assert report["mode"] == "fast mode, because there is no GPU here; rl.set_fast(False) for full mode."
    assert "will take hours" not in capsys.readouterr().out
