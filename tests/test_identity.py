"""A checkpoint knows which run it belongs to: resuming with any other model, data or setting is refused,
listing each difference; damaged checkpoints are refused; interrupted saves leave nothing behind."""

import re
from dataclasses import replace

import pytest
import torch

from conftest import tiny_net
from resnet_lessons.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from resnet_lessons.data import CIFAR10Tensors
from resnet_lessons.models import build_model
from resnet_lessons.recipes import ONECYCLE
from resnet_lessons.train import fit


def _data(n_train: int = 64, n_test: int = 20, seed: int = 0) -> CIFAR10Tensors:
    g = torch.Generator().manual_seed(seed)
    return CIFAR10Tensors(
        train_images=torch.randint(0, 256, (n_train, 3, 32, 32), dtype=torch.uint8, generator=g),
        train_labels=torch.arange(n_train) % 10,
        test_images=torch.randint(0, 256, (n_test, 3, 32, 32), dtype=torch.uint8, generator=g),
        test_labels=torch.arange(n_test) % 10,
        classes=[f"class{i}" for i in range(10)], source="random pixels",
    )


DATA = _data()
RECIPE = replace(ONECYCLE, batch_size=32)  # 2 steps per epoch
RUN = dict(recipe=RECIPE, device="cpu")


def _refusal(tmp_path, model, data=DATA, name=None, **recipe_settings) -> str:
    """The message of the CheckpointError that resuming the run in tmp_path with these settings raises."""
    with pytest.raises(CheckpointError, match="from a different run") as info:
        fit(model, data, 1, replace(RECIPE, **recipe_settings), name=name, out_dir=tmp_path, resume=True,
            device="cpu")
    return str(info.value)


def test_resnet8_and_plain8_are_different_runs(tmp_path):
    torch.manual_seed(0)
    fit(build_model("resnet8"), DATA, 1, out_dir=tmp_path, name="resnet8", **RUN)
    torch.manual_seed(0)
    said = _refusal(tmp_path, build_model("plain8"), name="plain8")  # same class, same parameter count
    assert "model.name: checkpoint 'resnet8', this call 'plain8'" in said
    assert re.search(r"model\.layers: they differ from line \d+: checkpoint '[^']*residual[^']*', "
                     r"this call '[^']*plain[^']*'", said)  # the line of the printed net that says which it is
    # Without names the layers alone tell them apart.
    fit(build_model("resnet8"), DATA, 1, out_dir=tmp_path / "unnamed", **RUN)
    said = _refusal(tmp_path / "unnamed", build_model("plain8"))
    assert "model.layers" in said and "model.name" not in said


def test_shortcut_option_a_and_pool_are_different_runs(tmp_path):
    fit(build_model("resnet8", shortcut="A"), DATA, 1, out_dir=tmp_path, **RUN)
    said = _refusal(tmp_path, build_model("resnet8", shortcut="pool"))  # option pool adds no parameters either
    assert "shortcut option A" in said and "shortcut option pool" in said
    assert "model.parameters" not in said  # the same count: only the layers tell


def test_another_subset_seed_is_another_run(tmp_path):
    fit(tiny_net(4, bias=True), DATA.subset(40, seed=0), 1, out_dir=tmp_path, **RUN)
    said = _refusal(tmp_path, tiny_net(4, bias=True), DATA.subset(40, seed=1))
    assert "data.fingerprint: checkpoint '" in said
    assert "data.subset: checkpoint 'stratified subset of 64 / 20 (seed 0)', this call '" in said


def test_other_data_of_the_same_size_and_every_setting_are_compared(tmp_path):
    fit(tiny_net(4, bias=True), DATA, 1, out_dir=tmp_path, **RUN)
    assert "data.fingerprint" in _refusal(tmp_path, tiny_net(4, bias=True), _data(seed=1))
    assert "val_size: checkpoint 0, this call 10" in _refusal(tmp_path, tiny_net(4, bias=True), val_size=10)
    assert "augment: checkpoint True, this call False" in _refusal(tmp_path, tiny_net(4, bias=True), augment=False)
    said = _refusal(tmp_path, tiny_net(4, bias=True), weight_decay=0.0, label_smoothing=0.0)
    assert "recipe.weight_decay" in said and "recipe.label_smoothing" in said  # each difference, one per line
    assert "seed: checkpoint 0, this call 1" in _refusal(tmp_path, tiny_net(4, bias=True), seed=1)
    identity = load_checkpoint(tmp_path / "checkpoint.pt")["run"]
    assert set(identity) == {"model", "data", "val_size", "recipe", "epochs", "seed", "augment"}
    assert len(identity["data"]["fingerprint"]) == 64 and identity["data"]["fingerprint"] == DATA.fingerprint()


def test_the_same_run_still_resumes(tmp_path, capsys):
    fit(tiny_net(4, bias=True), DATA, 2, out_dir=tmp_path, callbacks=[_stop_after_epoch_1], **RUN)
    history = fit(tiny_net(4, bias=True), DATA, 2, out_dir=tmp_path, resume=True, **RUN)
    assert len(history) == 2 and "resuming from the checkpoint of epoch 1" in capsys.readouterr().out


def _stop_after_epoch_1(history, model):
    if len(history) == 1:
        raise KeyboardInterrupt


def _flip_bytes_inside(path, tensor: torch.Tensor) -> None:
    """Overwrite a few bytes in the middle of ``tensor``'s stored data; the file stays a valid zip."""
    raw = bytearray(path.read_bytes())
    start = raw.find(bytes(tensor.untyped_storage())[:64])  # as stored (channels-last order)
    assert start > 0
    for i in range(start + 16, start + 24):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_overwritten_checkpoint_tensors_are_refused_like_a_corrupt_file(tmp_path):
    fit(tiny_net(4, bias=True), DATA, 2, out_dir=tmp_path, callbacks=[_stop_after_epoch_1], **RUN)
    path = tmp_path / "checkpoint.pt"
    weights = load_checkpoint(path)["model"]["0.weight"]
    _flip_bytes_inside(path, weights)
    assert not torch.equal(torch.load(path, weights_only=True)["model"]["0.weight"], weights)  # torch.load accepts it
    damaged = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"checkpoint.pt is damaged: .*checksum.*left as it is"):
        fit(tiny_net(4, bias=True), DATA, 2, out_dir=tmp_path, resume=True, **RUN)
    assert path.read_bytes() == damaged


def test_a_checkpoint_of_another_format_is_refused_with_how_to_remake_it(tmp_path):
    fit(tiny_net(4, bias=True), DATA, 2, out_dir=tmp_path, callbacks=[_stop_after_epoch_1], **RUN)
    path = tmp_path / "checkpoint.pt"
    state = load_checkpoint(path)
    save_checkpoint({**state, "format": "resnet_lessons checkpoint v1"}, path)  # an older trainer's format
    kept = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"'resnet_lessons checkpoint v1'.*Train the run again"):
        fit(tiny_net(4, bias=True), DATA, 2, out_dir=tmp_path, resume=True, **RUN)
    assert path.read_bytes() == kept


def test_orphan_temporary_files_are_cleaned_at_the_start_of_a_run(tmp_path, capsys):
    tmp_path.mkdir(exist_ok=True)
    orphans = [tmp_path / "checkpoint.pt.k3j9x2.tmp", tmp_path / "history.jsonab12cd.tmp"]  # kill -9 while saving
    for orphan in orphans:
        orphan.write_bytes(b"\0" * 1000)
    (tmp_path / "notes.tmp").write_text("not ours")
    fit(tiny_net(4, bias=True), DATA, 1, out_dir=tmp_path, **RUN)
    assert not any(orphan.exists() for orphan in orphans)
    assert (tmp_path / "notes.tmp").exists()
    assert "removed 2 unfinished temporary file(s)" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "history.json", "notes.tmp"]


def test_ctrl_c_in_epoch_1_says_there_is_no_checkpoint_and_not_to_resume(tmp_path, capsys):
    model = tiny_net(4, bias=True)

    def press_ctrl_c(module, inputs, output):
        if module.training:
            raise KeyboardInterrupt

    model[-1].register_forward_hook(press_ctrl_c)
    history = fit(model, DATA, 2, out_dir=tmp_path, **RUN)
    said = capsys.readouterr().out
    assert len(history) == 0 and history.record.interrupted
    assert "during epoch 1" in said and "no checkpoint to resume" in said and "without resume=True" in said
    assert not (tmp_path / "checkpoint.pt").exists()
    assert len(fit(tiny_net(4, bias=True), DATA, 1, out_dir=tmp_path, **RUN)) == 1  # what the message says works
