"""Networks by name: ``build_model("resnet20", shortcut="B")``, ``list_models()``, ``display_name("resnet20")``.

A model has one name, the one :func:`build_model` takes ("plain56", "preact_resnet20", "resnext29_8x4d"),
like torchvision's builder functions; what figures and tables show is derived from it by :func:`display_name`
("plain-56", "preact-resnet-20", "resnext-29 (8x4d)").
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable

from torch import nn

from . import cifar, imagenet, preact

CIFAR_MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet8": cifar.resnet8,
    "resnet14": cifar.resnet14,
    "resnet20": cifar.resnet20,
    "resnet32": cifar.resnet32,
    "resnet44": cifar.resnet44,
    "resnet56": cifar.resnet56,
    "resnet110": cifar.resnet110,
    "resnet1202": cifar.resnet1202,
    "plain8": cifar.plain8,
    "plain14": cifar.plain14,
    "plain20": cifar.plain20,
    "plain32": cifar.plain32,
    "plain44": cifar.plain44,
    "plain56": cifar.plain56,
    "plain110": cifar.plain110,
    "preact_resnet20": preact.preact_resnet20,
    "preact_resnet56": preact.preact_resnet56,
    "preact_resnet110": preact.preact_resnet110,
    "preact_resnet164": preact.preact_resnet164,
    "resnext11_2x4d": cifar.resnext11_2x4d,
    "resnext29_8x4d": cifar.resnext29_8x4d,
    "resnext29_8x64d": cifar.resnext29_8x64d,
    "resnext29_16x64d": cifar.resnext29_16x64d,
    "resnet50_lab10": imagenet.resnet50_lab10,
}

IMAGENET_MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet18": imagenet.resnet18,
    "resnet34": imagenet.resnet34,
    "resnet50": imagenet.resnet50,
    "resnet101": imagenet.resnet101,
    "resnet152": imagenet.resnet152,
    "resnext50_32x4d": imagenet.resnext50_32x4d,
    "resnext101_32x8d": imagenet.resnext101_32x8d,
    "wide_resnet50_2": imagenet.wide_resnet50_2,
    "plain18": imagenet.plain18,
    "plain34": imagenet.plain34,
}

MODELS: dict[str, Callable[..., nn.Module]] = {**CIFAR_MODELS, **IMAGENET_MODELS}


def list_models(dataset: str | None = None) -> list[str]:
    """Every name :func:`build_model` accepts; ``dataset="cifar"`` or ``"imagenet"`` for one family only.

    "cifar" networks expect 32x32 images (10 classes by default), "imagenet" ones 224x224 (1000 classes),
    though all of them accept other sizes thanks to the global average pooling.
    """
    families = {None: MODELS, "cifar": CIFAR_MODELS, "imagenet": IMAGENET_MODELS}
    if dataset not in families:
        raise ValueError(f"dataset must be None, 'cifar' or 'imagenet'; got {dataset!r}.")
    return list(families[dataset])


def build_model(name: str, **kwargs) -> nn.Module:
    """A fresh, randomly initialised network by name, e.g. ``build_model("resnet56", shortcut="B")``.

    ``kwargs`` go to the network's function (see its signature: ``shortcut``, ``num_classes``,
    ``zero_init_residual``, ``group_first_conv``, ...). Unknown names or arguments raise an error that
    lists the valid ones.
    """
    if name not in MODELS:
        close = difflib.get_close_matches(str(name), MODELS, n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Valid names: {', '.join(MODELS)}. "
                         "(CIFAR ResNets of any depth 6n+2: resnet_lessons.models.cifar_resnet(depth).)")
    builder = MODELS[name]
    allowed = list(inspect.signature(builder).parameters)
    unknown = [k for k in kwargs if k not in allowed]
    if "shortcut" in unknown and name.startswith("plain"):
        raise TypeError(f"{name} is a plain network: it has no shortcuts, so it takes no shortcut option. Its "
                        f"residual twin does: build_model({name.replace('plain', 'resnet')!r}, "
                        f"shortcut={kwargs['shortcut']!r}).")
    if unknown:
        raise TypeError(f"{name} does not take {', '.join(map(repr, unknown))}; "
                        f"it accepts: {', '.join(allowed) or 'no arguments'}.")
    return builder(**kwargs)


def display_name(name: str) -> str:
    """How figures and tables show a model: ``"plain56"`` -> ``"plain-56"``, ``"preact_resnet20"`` ->
    ``"preact-resnet-20"``, ``"resnext29_8x4d"`` -> ``"resnext-29 (8x4d)"``. Unknown names raise ValueError."""
    if name not in MODELS:
        build_model(name)  # raises the error that lists the valid names
    family, depth, variant = re.fullmatch(r"([a-z_]+?)(\d+)(?:_(\w+))?", name).groups()
    shown = f"{family.replace('_', '-')}-{depth}"
    return f"{shown} ({variant})" if variant else shown
