"""Transfer learning: reuse a network trained on some classes for new ones, with few images.

The course's experiment runs offline, on CIFAR-10 split into two groups that share no class:

    source = class_group(data, ANIMALS)            # bird, cat, deer, dog, frog, horse: 6 classes
    target = class_group(data, VEHICLES, 100)      # airplane, automobile, ship, truck: 100 images each
    net = cifar_resnet(20, num_classes=6); train(net, source, epochs=...)      # the source network
    fine_tuned = fine_tune(net, target, epochs=..., lr=...)   # a copy with a new fc, all of it trained
    scratch = cifar_resnet(20, num_classes=4); train(scratch, target, epochs=..., lr=...)   # from random weights
    probe = linear_probe(net, target)              # frozen features, only a new linear layer trained

With internet, :func:`imagenet_resnet18` and :func:`adapt_imagenet_resnet` do the same with torchvision's
ImageNet-trained ResNet-18.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchvision.models import ResNet18_Weights, resnet18

from .config import default_results_dir
from .data import CIFAR10Tensors, stratified_subset
from .files import read_json
from .loader import DeviceLoader
from .loop import train_one_epoch
from .metrics import accuracy, predict
from .models import cifar_resnet
from .recipes import get_recipe, make_optimizer, make_scheduler
from .trained import TrainedNetworkError, sha256_of

ANIMALS = ("bird", "cat", "deer", "dog", "frog", "horse")
VEHICLES = ("airplane", "automobile", "ship", "truck")


def class_group(data: CIFAR10Tensors, classes: Sequence[str], train_per_class: int | None = None,
                test_per_class: int | None = None, seed: int = 0) -> CIFAR10Tensors:
    """The images of ``classes`` only, relabelled 0..len(classes)-1 in the order given.

    train_per_class, test_per_class: keep this many images of each class (a stratified draw, the same
    for the same seed), or all of them (None).
    """
    unknown = [c for c in classes if c not in data.classes]
    if unknown or len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct names among {data.classes}; got {list(classes)}.")
    old = torch.tensor([data.classes.index(c) for c in classes])
    new_label = torch.full((len(data.classes),), -1, dtype=torch.int64)  # old label -> new label (-1: dropped)
    new_label[old] = torch.arange(len(classes))
    splits = []
    for images, labels, per_class in ((data.train_images, data.train_labels, train_per_class),
                                      (data.test_images, data.test_labels, test_per_class)):
        keep = torch.isin(labels, old)
        images, labels = images[keep], new_label[labels[keep]]
        if per_class is not None:
            available = int(labels.bincount(minlength=len(classes)).min())
            if not 1 <= per_class <= available:
                raise ValueError(f"per_class must be between 1 and {available} (the images of the smallest "
                                 f"class here), got {per_class}.")
            images, labels = stratified_subset(images, labels, per_class * len(classes), seed)
        splits += [images, labels]
    note = (f"classes {', '.join(classes)}; {train_per_class or 'all'} training and {test_per_class or 'all'} "
            f"test images per class (seed {seed})")
    return CIFAR10Tensors(*splits, classes=list(classes), source=data.source, data_label=data.data_label,
                          root=data.root, subset_note=note)


def train(model: nn.Module, data: CIFAR10Tensors, epochs: int, mean: Sequence[float], std: Sequence[float], *,
          lr: float, batch_size: int = 32, recipe: str = "onecycle", seed: int = 0,
          device: str | torch.device = "cpu", verbose: bool = False) -> nn.Module:
    """Train ``model`` on ``data``'s training images with the recipe's optimiser and schedule (its peak
    learning rate set to ``lr``), augmenting as in the paper; returns the model, trained in place.

    Only parameters with ``requires_grad`` are trained. Nothing is evaluated during training (the test
    images are for the end: :func:`test_accuracy`). mean, std: the normalisation (0..1 units).
    """
    recipe = replace(get_recipe(recipe), lr=lr, batch_size=batch_size)
    device = torch.device(device)
    model.to(device)
    loader = DeviceLoader(data.train_images, data.train_labels, batch_size, mean, std, train=True,
                          device=device, seed=seed, channels_last=False)
    optimizer = make_optimizer(model, recipe, device)
    scheduler = make_scheduler(optimizer, recipe, epochs * len(loader))
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    for epoch in range(1, epochs + 1):
        loss, acc = train_one_epoch(model, loader, optimizer, scheduler, criterion)
        if verbose:
            print(f"  epoch {epoch}/{epochs}: training loss {loss:.3f}, training accuracy {acc:.1%}", flush=True)
    return model.eval()


def epochs_for_steps(images: int, steps: int, batch_size: int = 32) -> int:
    """Epochs that give at least ``steps`` SGD steps on ``images`` training images (the last incomplete
    batch of every epoch is dropped): small training sets get more epochs, so every run takes as many steps."""
    per_epoch = images // batch_size
    if per_epoch < 1:
        raise ValueError(f"{images} images give no full batch of {batch_size}: use more images or a smaller batch.")
    return -(-steps // per_epoch)


def test_accuracy(model: nn.Module, data: CIFAR10Tensors, mean: Sequence[float], std: Sequence[float]) -> float:
    """Accuracy of ``model`` on ``data``'s test images (a fraction)."""
    return accuracy(predict(model, data.test_images, mean, std), data.test_labels)


def new_head(model: nn.Module, num_classes: int, seed: int = 0) -> nn.Module:
    """Replace ``model.fc`` (the last, linear layer) by a freshly initialised one with ``num_classes``
    outputs; the rest of the network keeps its weights. Returns the model (changed in place)."""
    if not isinstance(getattr(model, "fc", None), nn.Linear):
        raise TypeError(f"{type(model).__name__} has no linear layer named fc to replace: new_head needs a network "
                        "that ends in global average pooling and fc (the course's ResNets, torchvision's).")
    with torch.random.fork_rng(devices=[]):  # the global CPU generator is left as it was
        torch.manual_seed(seed)
        model.fc = nn.Linear(model.fc.in_features, num_classes).to(model.fc.weight.device)
    return model


@torch.no_grad()
def pooled_features(model: nn.Module, images: Tensor, mean: Sequence[float], std: Sequence[float],
                    batch_size: int = 500) -> Tensor:
    """What ``model``'s fc layer sees, for uint8 images [N, 3, H, W]: float [N, fc.in_features], eval mode."""
    fc = model.fc
    model.fc = nn.Identity()  # the network then ends at the pooled features
    try:
        return predict(model, images, mean, std, batch_size)
    finally:
        model.fc = fc


@dataclass
class Probe:
    """The linear layer fitted on frozen features, and its test accuracy."""

    layer: nn.Linear
    test_acc: float


def linear_probe(model: nn.Module, data: CIFAR10Tensors, mean: Sequence[float], std: Sequence[float],
                 weight_decay: float = 1e-3, steps: int = 100) -> Probe:
    """Fit a linear classifier on ``model``'s frozen pooled features of ``data``'s training images
    (full-batch L-BFGS on the cross-entropy plus ``weight_decay`` times the squared weights), then
    measure it on the test images. The model is not changed."""
    train_x = pooled_features(model, data.train_images, mean, std)
    test_x = pooled_features(model, data.test_images, mean, std)
    scale = train_x.std(dim=0).clamp_min(1e-6)  # comparable features: the same penalty means the same for each
    layer = nn.Linear(train_x.shape[1], len(data.classes))
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    optimizer = torch.optim.LBFGS(layer.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def loss_fn() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(train_x / scale), data.train_labels) + weight_decay * layer.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(loss_fn)
    with torch.no_grad():
        test_acc = accuracy(layer(test_x / scale), data.test_labels)
    return Probe(layer=layer, test_acc=test_acc)


def fine_tune(source: nn.Module, data: CIFAR10Tensors, epochs: int, mean: Sequence[float], std: Sequence[float], *,
              lr: float, batch_size: int = 32, seed: int = 0, device: str | torch.device = "cpu") -> nn.Module:
    """A copy of ``source`` with a new fc for ``data``'s classes, all of it trained on ``data``."""
    model = new_head(copy.deepcopy(source), len(data.classes), seed)
    return train(model, data, epochs, mean, std, lr=lr, batch_size=batch_size, seed=seed, device=device)


# --- ImageNet-trained ResNet-18 (torchvision), for readers with internet ---


def imagenet_resnet18(weights_file: str | os.PathLike | None = None) -> nn.Module:
    """torchvision's ResNet-18 with its ImageNet weights: downloaded once (44.7 MB) into torch's cache, or read
    from ``weights_file`` (a saved ``state_dict``)."""
    if weights_file is None:
        return resnet18(weights=ResNet18_Weights.DEFAULT)
    model = resnet18()
    model.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
    return model


def imagenet_mean_std() -> tuple[list[float], list[float]]:
    """The normalisation the ImageNet ResNet-18 was trained with (from torchvision's weights entry)."""
    transforms = ResNet18_Weights.DEFAULT.transforms()
    return list(transforms.mean), list(transforms.std)


def adapt_imagenet_resnet(model: nn.Module, num_classes: int, size: int = 224, seed: int = 0) -> nn.Sequential:
    """An ImageNet ResNet made ready for 32 x 32 CIFAR images of ``num_classes`` classes: a new fc, and in front a
    bilinear resize to ``size`` x ``size`` (the networks were trained on 224 x 224 crops; at 32 x 32 their stem and
    four stages would shrink each image to a single pixel). Normalise the inputs with :func:`imagenet_mean_std`."""
    return nn.Sequential(nn.Upsample(size=(size, size), mode="bilinear", align_corners=False),
                         new_head(model, num_classes, seed))


# --- The stored experiment (made by ``python -m resnet_lessons.lab.transfer_run``) ---

SOURCE_FILE = "source_animals.pt"


def stored_source_network(results_dir: str | os.PathLike | None = None) -> tuple[nn.Module, dict]:
    """The animal network of the stored transfer experiment, in eval mode, and the experiment's summary
    (``summary["source"]``: how it was trained, its normalisation and test accuracy; ``summary["runs"]``:
    every target run). The weights' SHA-256 is checked against the summary first."""
    folder = (Path(results_dir) if results_dir is not None else default_results_dir()) / "transfer"
    remake = "Remake it with `python -m resnet_lessons.lab.transfer_run` (see results/transfer/README.md)."
    if not (folder / "summary.json").is_file() or not (folder / SOURCE_FILE).is_file():
        raise TrainedNetworkError(f"No stored transfer experiment in {folder}. {remake}")
    summary = read_json(folder / "summary.json")
    if sha256_of(folder / SOURCE_FILE) != summary["source"]["sha256"]:
        raise TrainedNetworkError(f"{folder / SOURCE_FILE} does not match its SHA-256 in summary.json. {remake}")
    state = torch.load(folder / SOURCE_FILE, map_location="cpu", weights_only=True)
    model = cifar_resnet(summary["source"]["depth"], num_classes=len(summary["source"]["classes"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval(), summary


def plot_transfer(summary: dict, live: dict | None = None) -> Figure:
    """Test accuracy on the vehicles against training images per class, one line per method (the stored experiment's
    ``summary``), with the ``live`` accuracies ({method: accuracy} at ``live["per_class"]``) as crosses."""
    figure, ax = plt.subplots(figsize=(6, 4))
    for method, marker in (("fine-tune", "o"), ("scratch", "s"), ("linear probe", "^")):
        rows = [r for r in summary["runs"] if r["method"] == method]
        line, = ax.plot([r["per_class"] for r in rows], [100 * r["test_acc"] for r in rows], marker=marker,
                        label=f"{method} (stored)")
        if live is not None and method in live:
            ax.plot([live["per_class"]], [100 * live[method]], "x", markersize=10, color=line.get_color(),
                    label=f"{method} (this run)")
    sizes = sorted({r["per_class"] for r in summary["runs"]} | ({live["per_class"]} if live else set()))
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.axhline(25, color="grey", linestyle=":", label="chance (4 classes)")
    ax.set(xlabel="vehicle training images per class", ylabel="vehicle test accuracy (%)",
           title=f"Animals -> vehicles, ResNet-20 ({summary['data']})")
    ax.legend(fontsize=8)
    return figure
