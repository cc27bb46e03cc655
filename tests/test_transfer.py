"""Transfer learning (resnet_lessons.transfer): class groups, new heads, fine-tuning, linear probes, the
ImageNet ResNet-18 adapted to CIFAR (from a state_dict saved here: no download), the stored experiment."""

import os
import shutil
from pathlib import Path

import pytest
import torch

from resnet_lessons import transfer
from resnet_lessons.data import CLASSES, CIFAR10Tensors
from resnet_lessons.models import cifar_resnet
from resnet_lessons.trained import TrainedNetworkError


def coloured_data(per_class=12, test_per_class=6):
    """CIFAR-10-shaped data whose classes differ in colour and brightness: easy to tell apart."""
    g = torch.Generator().manual_seed(0)

    def split(n):
        labels = torch.arange(10).repeat_interleave(n)
        colour = torch.stack([labels % 3 == 0, labels % 3 == 1, labels % 3 == 2], dim=1).float()  # [N, 3]
        brightness = (60 + 19 * labels).float()[:, None]
        images = (brightness * (0.5 + colour))[:, :, None, None] + 10 * torch.randn(len(labels), 3, 32, 32, generator=g)
        return images.clamp(0, 255).to(torch.uint8), labels

    return CIFAR10Tensors(*split(per_class), *split(test_per_class), classes=list(CLASSES), source="test colours")


def test_a_class_group_keeps_only_its_classes_relabelled_in_the_order_given():
    data = coloured_data()
    vehicles = transfer.class_group(data, transfer.VEHICLES)
    assert vehicles.classes == ["airplane", "automobile", "ship", "truck"]
    assert vehicles.train_labels.bincount().tolist() == [12, 12, 12, 12]
    # the trucks (label 9 in CIFAR-10) are class 3 here, and they are the same images
    assert torch.equal(vehicles.train_images[vehicles.train_labels == 3], data.train_images[data.train_labels == 9])
    few = transfer.class_group(data, ("ship", "cat"), train_per_class=5, test_per_class=2)
    assert few.train_labels.bincount().tolist() == [5, 5] and few.test_labels.bincount().tolist() == [2, 2]
    cats = data.train_images[data.train_labels == CLASSES.index("cat")]
    assert all(any(torch.equal(image, cat) for cat in cats) for image in few.train_images[few.train_labels == 1])
    assert set(transfer.ANIMALS) | set(transfer.VEHICLES) == set(CLASSES)
    assert not set(transfer.ANIMALS) & set(transfer.VEHICLES)


def test_a_bad_class_group_is_refused():
    data = coloured_data()
    for bad in (("ship", "boat"), ("ship", "ship"), ()):
        with pytest.raises(ValueError, match="distinct names among"):
            transfer.class_group(data, bad)
    with pytest.raises(ValueError, match="between 1 and 12"):
        transfer.class_group(data, transfer.VEHICLES, train_per_class=13)


def test_epochs_for_steps_gives_at_least_the_steps():
    assert transfer.epochs_for_steps(100, 400) == 134  # 3 full batches of 32 per epoch
    assert transfer.epochs_for_steps(1600, 400) == 8
    with pytest.raises(ValueError, match="no full batch"):
        transfer.epochs_for_steps(20, 10)


def test_a_new_head_replaces_fc_only():
    torch.manual_seed(0)
    net = cifar_resnet(8, num_classes=6)
    body = {k: v.clone() for k, v in net.state_dict().items() if not k.startswith("fc.")}
    old_fc = net.fc
    transfer.new_head(net, 4)
    assert net.fc is not old_fc and net.fc.out_features == 4 and net.fc.in_features == 64
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in body.items())
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 4)
    with pytest.raises(TypeError, match="no linear layer named fc"):
        transfer.new_head(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)), 4)


def test_fine_tuning_trains_a_copy_and_leaves_the_source_alone():
    data = transfer.class_group(coloured_data(), transfer.VEHICLES)
    mean, std = data.mean_std()
    torch.manual_seed(0)
    source = cifar_resnet(8, num_classes=6).eval()
    before = {k: v.clone() for k, v in source.state_dict().items()}
    tuned = transfer.fine_tune(source, data, 2, mean, std, lr=0.05, batch_size=16)
    assert tuned is not source and tuned.fc.out_features == 4 and not tuned.training
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in before.items())
    changed = [k for k, v in tuned.state_dict().items() if k in before and not torch.equal(v, before[k])]
    assert "conv1.weight" in changed  # the whole network trained, not only fc
    assert 0 <= transfer.test_accuracy(tuned, data, mean, std) <= 1


def test_a_linear_probe_separates_easy_classes_without_changing_the_network():
    data = transfer.class_group(coloured_data(), ("airplane", "automobile", "ship", "frog"))
    mean, std = data.mean_std()
    torch.manual_seed(0)
    net = cifar_resnet(8, num_classes=6).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fc = net.fc
    probe = transfer.linear_probe(net, data, mean, std)
    assert probe.test_acc == 1.0  # colours this different are linearly separable even in random features
    assert probe.layer.weight.shape == (4, 64)
    assert net.fc is fc and all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    features = transfer.pooled_features(net, data.test_images, mean, std)
    assert features.shape == (len(data.test_labels), 64)


def test_the_imagenet_resnet18_is_adapted_from_a_saved_state_dict(tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(0)
    original = resnet18()
    torch.save(original.state_dict(), tmp_path / "resnet18.pt")
    loaded = transfer.imagenet_resnet18(tmp_path / "resnet18.pt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in original.state_dict().items())
    adapted = transfer.adapt_imagenet_resnet(loaded, num_classes=4, size=64).eval()
    resize, net = adapted
    assert isinstance(resize, torch.nn.Upsample) and resize.size == (64, 64)
    assert net.fc.out_features == 4 and net.fc.in_features == 512
    assert torch.equal(net.conv1.weight, original.conv1.weight)
    assert adapted(torch.randn(2, 3, 32, 32)).shape == (2, 4)
    mean, std = transfer.imagenet_mean_std()
    assert mean == pytest.approx([0.485, 0.456, 0.406]) and std == pytest.approx([0.229, 0.224, 0.225])


def test_the_stored_source_network_loads_and_a_changed_file_is_refused(tmp_path):
    model, summary = transfer.stored_source_network()
    assert model.fc.out_features == len(transfer.ANIMALS) == len(summary["source"]["classes"])
    assert not model.training
    assert {r["method"] for r in summary["runs"]} == {"fine-tune", "scratch", "linear probe"}
    from resnet_lessons.config import default_results_dir

    shutil.copytree(default_results_dir() / "transfer", tmp_path / "transfer")
    with open(tmp_path / "transfer" / transfer.SOURCE_FILE, "ab") as f:
        f.write(b"\0")
    with pytest.raises(TrainedNetworkError, match="does not match its SHA-256.*transfer_run"):
        transfer.stored_source_network(tmp_path)
    with pytest.raises(TrainedNetworkError, match="No stored transfer experiment"):
        transfer.stored_source_network(tmp_path / "nowhere")


def test_the_experiment_runs_end_to_end_as_a_smoke_run(tmp_path, monkeypatch):
    source = os.environ.get("RESNET_LESSONS_DATA")
    if not source or not (Path(source) / "train").is_dir():
        pytest.skip("needs the JPEG copy of CIFAR-10: set RESNET_LESSONS_DATA to its folder")
    root = tmp_path / "cifar10-tiny"
    for split in ("train", "test"):
        for class_dir in sorted((Path(source) / split).iterdir()):
            (root / split / class_dir.name).mkdir(parents=True)
            for image in sorted(class_dir.iterdir())[:10]:
                shutil.copy(image, root / split / class_dir.name / image.name)
    monkeypatch.setenv("RESNET_LESSONS_DATA", str(root))
    monkeypatch.setenv("RESNET_LESSONS_CACHE", str(tmp_path / "cache"))
    from resnet_lessons.lab import transfer_run

    assert transfer_run.main(["--smoke", "--out", str(tmp_path / "results")]) == 0
    folder = tmp_path / "results" / "transfer"
    assert sorted(p.name for p in folder.iterdir()) == ["figure.png", "provenance.json", "source_animals.pt",
                                                        "summary.json"]
    model, summary = transfer.stored_source_network(tmp_path / "results")
    assert [r["method"] for r in summary["runs"]] == ["fine-tune", "scratch", "linear probe"]
    assert summary["runs"][0]["train_images"] == 40 and summary["runs"][0]["test_images"] == 40
    (folder / "figure.png").unlink()
    assert transfer_run.main(["--replot", "--out", str(tmp_path / "results")]) == 0
    assert (folder / "figure.png").is_file()
