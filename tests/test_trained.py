"""Shipped networks: saved small, loaded in one call, refused with a clear message when missing or altered."""

import json

import pytest
import torch

from resnet_lessons.models import build_model
from resnet_lessons.trained import TrainedNetworkError, available_trained, save_trained, trained, trained_dir


def _record(name="resnet8"):
    return {
        "name": name, "model": name, "model_kwargs": {}, "parameters": 0, "epochs": 1, "seed": 0,
        "data": "synthetic", "train_images": 90, "val_images": 10, "test_images": 10, "val_acc": 0.1,
        "test_acc": 0.1, "mean": [0.5] * 3, "std": [0.25] * 3, "recipe": {}, "command": "python -m x",
        "provenance": {"device": "CPU"}, "history": {},
    }


@pytest.fixture
def shipped(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet8")
    for module in model.modules():  # non-trivial BatchNorm statistics, so that they must be saved too
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    save_trained(model, _record(), tmp_path)
    return model, tmp_path


def test_a_saved_network_loads_in_eval_mode_with_its_record(shipped):
    original, root = shipped
    model, record = trained("resnet8", root)
    assert not model.training and record.name == "resnet8" and available_trained(root) == ["resnet8"]
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        expected = original.eval()(x)
        got = model(x)
    assert torch.allclose(got, expected, atol=0.05, rtol=0.05)  # half-precision weights
    assert (trained_dir(root) / "resnet8.pt").stat().st_size < 0.6 * 4 * sum(p.numel() for p in model.parameters())


def test_an_altered_file_is_refused_with_its_expected_checksum_and_the_remake_command(shipped):
    _, root = shipped
    path = trained_dir(root) / "resnet8.pt"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    expected = json.loads((trained_dir(root) / "resnet8.json").read_text())["sha256"]
    with pytest.raises(TrainedNetworkError) as error:
        trained("resnet8", root)
    message = str(error.value)
    assert str(path) in message and expected in message and "python -m x" in message


def test_a_missing_weights_file_or_name_is_explained(shipped):
    _, root = shipped
    with pytest.raises(TrainedNetworkError, match="No shipped network 'resnet99'.*resnet8") as error:
        trained("resnet99", root)
    assert "python -m resnet_lessons train --model resnet99" in str(error.value)  # a command that exists
    assert "lab.ship runs/resnet99 --name resnet99" in str(error.value)
    (trained_dir(root) / "resnet8.pt").unlink()
    with pytest.raises(TrainedNetworkError, match="missing.*SHA-256 should be"):
        trained("resnet8", root)


def test_a_record_with_a_missing_field_is_not_written(tmp_path):
    record = _record()
    del record["test_acc"]
    with pytest.raises(TypeError):
        save_trained(build_model("resnet8"), record, tmp_path)


def test_the_summary_names_the_recipe_device_precision_and_both_accuracies(tmp_path):
    record = _record() | {"recipe": {"name": "onecycle"}, "val_acc": 0.8754, "test_acc": 0.8704,
                          "provenance": {"device": "cpu (1 threads)", "precision": "bf16 autocast"}}
    save_trained(build_model("resnet8"), record, tmp_path)
    summary = trained("resnet8", tmp_path)[1].summary()
    assert summary.startswith("resnet8: trained 1 epochs of the onecycle recipe on 90 images of synthetic")
    assert "(cpu (1 threads), bf16 autocast)" in summary
    assert "validation accuracy 87.54%" in summary and summary.endswith("test accuracy 87.04%")


def test_final_errors_reads_the_last_epoch_of_the_record_not_the_first_or_the_best(tmp_path):
    record = _record() | {"epochs": 3, "val_acc": 0.8, "test_acc": 0.75,
                          "history": {"train_acc": [0.5, 0.95, 0.9]}}
    save_trained(build_model("resnet8"), record, tmp_path)
    line = trained("resnet8", tmp_path)[1].final_errors()
    assert line == ("after 3 epochs: training error 10.0% (last epoch, augmented images), validation error "
                    "20.0%, test error 25.0%")


def test_a_records_curves_are_its_runs_epochs(tmp_path):
    history = {"epoch": [1, 2, 3], "train_loss": [2.0, 1.0, 0.5], "train_acc": [0.5, 0.95, 0.9],
               "test_loss": [2.1, 1.2, 0.7], "test_acc": [0.4, 0.7, 0.75], "lr": [0.1, 0.05, 0.0],
               "seconds": [1.0, 1.0, 1.0], "images_per_s": [90.0, 90.0, 90.0]}
    save_trained(build_model("resnet8"), _record() | {"epochs": 3, "history": history}, tmp_path)
    record = trained("resnet8", tmp_path)[1]
    assert record.train_error == pytest.approx(10.0)  # the last epoch's, not the best (5 %)
    curves = record.curves()
    assert len(curves) == 3 and curves.train_err == pytest.approx([0.5, 0.05, 0.1])
    assert curves.test_err[-1] == pytest.approx(0.25)


def test_compare_names_the_data_of_both_accuracies_and_flags_a_different_copy(tmp_path):
    record = _record() | {"data": "CIFAR-10 (JPEG q75 copy)", "test_images": 10_000, "test_acc": 0.8704}
    save_trained(build_model("resnet8"), record, tmp_path)
    loaded = trained("resnet8", tmp_path)[1]
    same = loaded.compare(0.8703, "CIFAR-10 (JPEG q75 copy)", 10_000)
    assert same == ("test accuracy measured here: 87.03% on 10,000 test images of CIFAR-10 (JPEG q75 copy); "
                    "its record: 87.04% on 10,000 of CIFAR-10 (JPEG q75 copy)")
    other = loaded.compare(0.8912, "CIFAR-10 (original, torchvision)", 10_000)
    assert other.startswith("test accuracy measured here: 89.12% on 10,000 test images of CIFAR-10 (original")
    assert "it was trained on CIFAR-10 (JPEG q75 copy)" in other
