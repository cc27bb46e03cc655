"""The trainer on tiny data on the CPU: it learns, resumes exactly, stops on NaN, guards its checkpoints."""

import math
import warnings
from dataclasses import replace
from itertools import pairwise

import pytest
import torch

from conftest import tiny_net
from resnet_lessons import metrics
from resnet_lessons.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from resnet_lessons.data import CIFAR10Tensors
from resnet_lessons.history import History
from resnet_lessons.recipes import ONECYCLE, PAPER, RECIPES, get_recipe, lr_factor, parameter_groups
from resnet_lessons.train import TrainingDiverged, fit


def _colour_images(n: int, seed: int):
    """A learnable problem: each class has its own colour; heavy pixel noise on top."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    levels = torch.linspace(20, 235, 10)
    colour = torch.stack([levels[labels], levels[(3 * labels) % 10], levels[(7 * labels) % 10]], dim=1)
    images = colour[:, :, None, None] + 40 * torch.randn(n, 3, 32, 32, generator=g)
    return images.clamp(0, 255).to(torch.uint8), labels


def _data(n_train=256, n_test=128):
    train_images, train_labels = _colour_images(n_train, 0)
    test_images, test_labels = _colour_images(n_test, 1)
    return CIFAR10Tensors(
        train_images=train_images, train_labels=train_labels, test_images=test_images, test_labels=test_labels,
        classes=[f"class{i}" for i in range(10)], source="synthetic colours",
    )


DATA = _data()
RECIPE = replace(ONECYCLE, batch_size=32)  # 8 steps per epoch
RUN = dict(recipe=RECIPE, device="cpu")
NUMBERS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr")


# ----------------------------------------------------------------------------------------------
# recipes


def test_paper_schedule_divides_by_ten_at_half_and_three_quarters():
    factors = [lr_factor(PAPER, s, 100) for s in range(100)]
    assert factors[0] == factors[49] == 1.0
    assert factors[50] == pytest.approx(0.1) and factors[74] == pytest.approx(0.1)
    assert factors[75] == pytest.approx(0.01) and factors[99] == pytest.approx(0.01)


@pytest.mark.parametrize("name", ["onecycle", "cosine"])
def test_warm_up_then_decay(name):
    recipe = get_recipe(name)
    factors = [lr_factor(recipe, s, 1000) for s in range(1000)]
    peak = factors.index(max(factors))
    assert max(factors) == pytest.approx(1.0, abs=0.01)
    assert all(a <= b for a, b in pairwise(factors[: peak + 1]))
    assert all(a >= b for a, b in pairwise(factors[peak:]))
    assert factors[-1] < 0.01


def test_weight_decay_can_spare_batchnorm_and_biases():
    model = tiny_net()
    decay, no_decay = parameter_groups(model, ONECYCLE)
    assert [p.ndim for p in decay["params"]] == [4, 2] and decay["weight_decay"] == ONECYCLE.weight_decay
    assert all(p.ndim == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0
    (everything,) = parameter_groups(model, PAPER)
    assert len(everything["params"]) == len(list(model.parameters()))


def test_bad_recipe_names_and_values():
    with pytest.raises(ValueError, match="onecycle"):
        get_recipe("quick")
    with pytest.raises(ValueError, match="schedule"):
        replace(ONECYCLE, schedule="exponential")
    assert "batch 128" in PAPER.summary()


def test_the_recipes_by_name():
    assert sorted(RECIPES) == ["cosine", "onecycle", "paper"]
    assert get_recipe("onecycle") is ONECYCLE and ONECYCLE.schedule == "onecycle"
    with pytest.raises(ValueError) as error:
        get_recipe("fast")
    assert "['cosine', 'onecycle', 'paper']" in str(error.value)  # the valid names


def test_fit_rejects_an_unknown_recipe_before_any_work():
    model = tiny_net()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="onecycle"):
        fit(model, DATA, epochs=1, recipe="quick", device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


# ----------------------------------------------------------------------------------------------
# training


def test_loss_goes_down_and_accuracy_up():
    history = fit(tiny_net(), DATA, epochs=4, **RUN)
    assert len(history) == 4 and history.epoch == [1, 2, 3, 4]
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.test_acc[-1] > history.test_acc[0] and history.test_acc[-1] > 0.3
    assert all(s > 0 for s in history.seconds) and all(v > 0 for v in history.images_per_s)
    assert history.record.model == "Sequential" and history.record.recipe == "onecycle"


def test_overrides_and_callbacks(tmp_path):
    seen = []
    history = fit(tiny_net(), DATA, epochs=2, recipe=replace(RECIPE, lr=0.01, weight_decay=0.0, label_smoothing=0.0),
                  callbacks=[lambda h, m: seen.append((len(h), type(m).__name__))], device="cpu")
    assert seen == [(1, "Sequential"), (2, "Sequential")]
    assert history.record.recipe_settings["lr"] == 0.01 and history.record.batch_size == 32
    assert max(history.lr) <= 0.01


def test_history_and_checkpoint_files(tmp_path):
    history = fit(tiny_net(), DATA, epochs=2, out_dir=tmp_path, **RUN)
    assert History.load(tmp_path / "history.json").test_acc == history.test_acc
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 2 and set(state["rng"]) >= {"torch", "loader", "python", "numpy"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "history.json"]  # no temp files


def _same_run(a: History, b: History):
    for name in NUMBERS:
        assert getattr(a, name) == getattr(b, name), name  # bitwise: exact float equality


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(tmp_path, capsys):
    straight = tiny_net()
    h_straight = fit(straight, DATA, epochs=3, out_dir=tmp_path / "straight", **RUN)

    def ctrl_c_after_epoch_2(history, model):
        if len(history) == 2:
            raise KeyboardInterrupt

    h_stopped = fit(tiny_net(), DATA, epochs=3, out_dir=tmp_path / "stopped", callbacks=[ctrl_c_after_epoch_2], **RUN)
    assert len(h_stopped) == 2 and h_stopped.record.interrupted
    said = capsys.readouterr().out
    assert "resume=True" in said and "epoch 2" in said

    resumed = tiny_net()  # a fresh process would build a fresh model: resuming loads the weights
    h_resumed = fit(resumed, DATA, epochs=3, out_dir=tmp_path / "stopped", resume=True, **RUN)
    _same_run(h_straight, h_resumed)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name

    again = fit(tiny_net(), DATA, epochs=3, out_dir=tmp_path / "stopped", resume=True, **RUN)
    assert "already finished" in capsys.readouterr().out
    _same_run(h_straight, again)


def test_ctrl_c_in_the_middle_of_an_epoch_keeps_the_last_checkpoint(tmp_path, capsys):
    model = tiny_net()
    steps = [0]

    def press_ctrl_c(module, inputs, output):
        steps[0] += module.training
        if steps[0] == 8 + 3:  # epoch 2, step 3
            raise KeyboardInterrupt
        return output

    model[-1].register_forward_hook(press_ctrl_c)
    history = fit(model, DATA, epochs=3, out_dir=tmp_path, **RUN)
    assert len(history) == 1 and history.record.interrupted
    assert "during epoch 2" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1


def test_resume_with_other_settings_says_what_differs(tmp_path):
    fit(tiny_net(), DATA, epochs=2, out_dir=tmp_path, **RUN)
    with pytest.raises(CheckpointError, match=r"epochs: checkpoint 2, this call 3"):
        fit(tiny_net(), DATA, epochs=3, out_dir=tmp_path, resume=True, **RUN)
    with pytest.raises(CheckpointError, match=r"recipe.lr"):
        fit(tiny_net(), DATA, 2, replace(RECIPE, lr=0.5), out_dir=tmp_path, resume=True, device="cpu")


def test_resume_without_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        fit(tiny_net(), DATA, epochs=1, out_dir=tmp_path, resume=True, **RUN)
    history = fit(tiny_net(), DATA, epochs=1, out_dir=tmp_path, resume="auto", **RUN)  # "auto": starts afresh
    assert len(history) == 1


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    model = tiny_net()
    steps = [0]

    def poison(module, inputs, output):
        steps[0] += module.training  # count training steps only (evaluation also calls the model)
        return output * math.nan if steps[0] == 8 + 5 else output  # epoch 2, step 5

    model[-1].register_forward_hook(poison)
    with pytest.raises(TrainingDiverged, match="nan at epoch 2, step 5 of 8") as info:
        fit(model, DATA, epochs=3, out_dir=tmp_path, **RUN)
    assert (info.value.epoch, info.value.step) == (2, 5)
    assert "checkpoint of epoch 1" in " ".join(info.value.__notes__)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1
    assert len(History.load(tmp_path / "history.json")) == 1


def test_a_corrupt_checkpoint_is_reported_and_left_alone(tmp_path):
    fit(tiny_net(), DATA, epochs=1, out_dir=tmp_path, **RUN)
    path = tmp_path / "checkpoint.pt"
    damaged = path.read_bytes()[: path.stat().st_size // 2]  # as if the disk filled up mid-copy
    path.write_bytes(damaged)
    with pytest.raises(CheckpointError, match="checkpoint.pt is not a readable checkpoint"):
        fit(tiny_net(), DATA, epochs=2, out_dir=tmp_path, resume=True, **RUN)
    with pytest.raises(CheckpointError):
        fit(tiny_net(), DATA, epochs=2, out_dir=tmp_path, resume="auto", **RUN)
    assert path.read_bytes() == damaged


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"weights": torch.ones(3)}, path)
    with pytest.raises(Exception):  # noqa: B017 - whatever torch.save raises for an unpicklable object
        save_checkpoint({"weights": torch.zeros(3), "oops": lambda: None}, path)
    assert torch.equal(torch.load(path)["weights"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_without_a_visdom_server_one_warning_and_training_completes():
    from conftest import free_port
    from resnet_lessons.lab.visdom_logger import VisdomLogger

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(tiny_net(), DATA, epochs=2, callbacks=[VisdomLogger(port=free_port())], **RUN)
    visdom_warnings = [w for w in caught if "visdom" in str(w.message)]
    assert len(visdom_warnings) == 1 and len(history) == 2


def test_live_plot_outside_a_notebook_is_quiet():
    from resnet_lessons.plots import LivePlot

    history = fit(tiny_net(), DATA, epochs=1, callbacks=[LivePlot()], **RUN)
    assert len(history) == 1


def test_several_runs_can_share_one_live_plot():
    from resnet_lessons.plots import LivePlot

    live = LivePlot()
    fit(tiny_net(), DATA, epochs=1, callbacks=[live], name="first", **RUN)
    fit(tiny_net(), DATA, epochs=1, callbacks=[live], name="second", **RUN)
    assert list(live.runs) == ["first", "second"]


# ----------------------------------------------------------------------------------------------
# evaluation helpers


def test_accuracy_confusion_matrix_and_per_class():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    preds = torch.tensor([0, 1, 1, 1, 0, 2])
    assert metrics.accuracy(preds, labels) == pytest.approx(4 / 6)
    cm = metrics.confusion_matrix(preds, labels, num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics.per_class_accuracy(preds, labels, num_classes=3).tolist() == [0.5, 1.0, 0.5]
    logits = torch.nn.functional.one_hot(preds, 3).float()
    assert metrics.accuracy(logits, labels) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="6 labels"):
        metrics.accuracy(preds[:4], labels)


def test_most_confident_mistakes_come_first():
    logits = torch.tensor([[5.0, 0.0], [0.0, 1.0], [0.0, 9.0], [2.0, 0.0]])
    labels = torch.tensor([0, 0, 0, 1])
    wrong = metrics.most_confident_mistakes(logits, labels, k=5)
    assert wrong.index.tolist() == [2, 3, 1]
    assert wrong.true.tolist() == [0, 1, 0] and wrong.pred.tolist() == [1, 0, 1]
    assert wrong.confidence[0] > wrong.confidence[1] > wrong.confidence[2] > 0.5


def test_evaluate_a_trained_model():
    model = tiny_net()
    fit(model, DATA, epochs=2, **RUN)
    result = metrics.score(model, DATA)
    assert result.logits.shape == (128, 10) and result.confusion.sum() == 128
    assert result.accuracy == pytest.approx(metrics.accuracy(result.preds, DATA.test_labels))
    assert model.training  # evaluation put the mode back


# ----------------------------------------------------------------------------------------------
# bf16 on the CPU: off unless asked for, refused where the CPU cannot compute it natively


def test_the_cpu_trains_in_fp32_unless_bf16_is_asked_for(monkeypatch):
    monkeypatch.delenv("RESNET_LESSONS_CPU_BF16", raising=False)
    assert fit(tiny_net(), DATA, 1, **RUN).record.precision == "fp32"


def test_bf16_on_the_cpu_when_asked_for_learns(monkeypatch):
    monkeypatch.setenv("RESNET_LESSONS_CPU_BF16", "1")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    h = fit(tiny_net(), DATA, 3, **RUN)
    assert h.record.precision == "bf16 autocast"
    assert h.train_loss[-1] < h.train_loss[0] and h.test_acc[-1] > 0.2  # chance is 0.1


def test_bf16_on_a_cpu_without_native_bf16_is_refused_before_training(monkeypatch):
    monkeypatch.setenv("RESNET_LESSONS_CPU_BF16", "1")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with pytest.raises(ValueError, match="no native bf16.*Unset RESNET_LESSONS_CPU_BF16"):
        fit(tiny_net(), DATA, 1, **RUN)


def test_a_misspelt_bf16_setting_is_refused(monkeypatch):
    monkeypatch.setenv("RESNET_LESSONS_CPU_BF16", "maybe")
    with pytest.raises(ValueError, match="not understood"):
        fit(tiny_net(), DATA, 1, **RUN)


def test_the_record_names_the_threads_the_run_used(monkeypatch):
    """fit sets the thread count itself (config.cpu_threads); the record must say that count, not the one
    the process had before the run."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "1000")  # 1000 processes share the cores: one thread each
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        history = fit(tiny_net(), DATA, epochs=1, **RUN)
        assert torch.get_num_threads() == 3  # put back when the run ends
    finally:
        torch.set_num_threads(before)
    assert history.record.device == "cpu (1 threads)"
