"""Shipping a finished training run: the shipped file is the run's network, and nothing is shipped by mistake."""

from dataclasses import replace

import pytest
import torch

from resnet_lessons.data import CIFAR10Tensors
from resnet_lessons.files import tensor_checksum
from resnet_lessons.lab.ship import ShipError, main, ship
from resnet_lessons.metrics import accuracy, predict
from resnet_lessons.models import build_model
from resnet_lessons.recipes import get_recipe
from resnet_lessons.train import fit
from resnet_lessons.trained import trained


def _data(n_train=200, n_test=60):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n_train + n_test) % 10
    images = (labels[:, None, None, None] * 20 + 40 * torch.randn(len(labels), 3, 32, 32, generator=g))
    images = images.clamp(0, 255).to(torch.uint8)
    return CIFAR10Tensors(
        train_images=images[:n_train], train_labels=labels[:n_train], test_images=images[n_train:],
        test_labels=labels[n_train:], classes=[f"class{i}" for i in range(10)], source="synthetic",
    )


DATA = _data()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    fit(build_model("resnet8"), DATA, 2, replace(get_recipe("onecycle"), batch_size=40, val_size=20), out_dir=out,
        name="resnet8", device="cpu")
    return out


def test_the_shipped_file_is_the_runs_network_and_its_record_measures_that_file(finished_run, tmp_path):
    record = ship(finished_run, "resnet8", "python -m resnet_lessons train --model resnet8", "abc123", data=DATA,
                  results_dir=tmp_path)
    model, stored = trained("resnet8", tmp_path)
    state = torch.load(finished_run / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
    for key, value in model.state_dict().items():
        assert torch.allclose(value.float(), state[key].float(), atol=1e-2, rtol=1e-2), key
    measured = accuracy(predict(model, DATA.test_images, stored.mean, stored.std), DATA.test_labels)
    assert stored.test_acc == round(measured, 4) == record["test_acc"]
    assert stored.epochs == 2 and stored.val_images == 20 and stored.provenance["commit"] == "abc123"
    assert stored.parameters == sum(p.numel() for p in model.parameters())


def test_a_shipped_name_is_not_replaced_unless_asked(finished_run, tmp_path):
    ship(finished_run, "resnet8", "cmd", "abc", data=DATA, results_dir=tmp_path)
    before = (tmp_path / "trained" / "networks" / "resnet8.json").read_bytes()
    with pytest.raises(ShipError, match="--replace"):
        ship(finished_run, "resnet8", "other command", "def", data=DATA, results_dir=tmp_path)
    assert (tmp_path / "trained" / "networks" / "resnet8.json").read_bytes() == before
    ship(finished_run, "resnet8", "other command", "def", data=DATA, replace=True, results_dir=tmp_path)
    assert trained("resnet8", tmp_path)[1].command == "other command"


def test_an_unfinished_or_damaged_run_or_other_data_is_refused_before_anything_is_written(finished_run, tmp_path):
    state = torch.load(finished_run / "checkpoint.pt", map_location="cpu", weights_only=True)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    history = dict(state["history"])
    history["record"] = {**history["record"], "epochs": 5}
    changed = {k: v for k, v in state.items() if k != "checksum"} | {"history": history}
    torch.save({**changed, "checksum": tensor_checksum(changed)}, unfinished / "checkpoint.pt")
    with pytest.raises(ShipError, match="not finished: 2 of 5 epochs.*--resume"):
        ship(unfinished, "x", "cmd", "abc", data=DATA, results_dir=tmp_path)
    torch.save({**changed, "checksum": state["checksum"]}, unfinished / "checkpoint.pt")
    with pytest.raises(ShipError, match="damaged"):
        ship(unfinished, "x", "cmd", "abc", data=DATA, results_dir=tmp_path)
    with pytest.raises(ShipError, match="does not exist"):
        ship(tmp_path / "nowhere", "x", "cmd", "abc", data=DATA, results_dir=tmp_path)
    other = CIFAR10Tensors(DATA.train_images, DATA.train_labels, DATA.test_images[:30], DATA.test_labels[:30],
                           classes=DATA.classes, source="synthetic")
    with pytest.raises(ShipError, match="test images"):
        ship(finished_run, "x", "cmd", "abc", data=other, results_dir=tmp_path)
    assert not (tmp_path / "trained").exists()
    assert main([str(tmp_path / "nowhere"), "--name", "x", "--command", "c", "--commit", "c"]) == 2
