"""Table 1 of the ResNet paper, read off built networks instead of typed.

    print(imagenet_table({18: build_model("resnet18"), 50: build_model("resnet50")}))

A row per stage: the map size it outputs (measured with forward hooks) and its blocks in the paper's notation,
read off the modules, e.g. ``[1×1, 64; 3×3, 64; 1×1, 256] × 3``; the last row: multiply-adds.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .counting import count_macs, run_eval

# torchvision's names of the stem convolution and the four stages, and the paper's
STAGES = {"conv1": "conv1", "layer1": "conv2_x", "layer2": "conv3_x", "layer3": "conv4_x", "layer4": "conv5_x"}


def stage_output_sizes(model: nn.Module, image_size: int = 224) -> dict[str, str]:
    """The map size after the stem convolution and after each stage, e.g. {"conv1": "112×112", ...}.

    Runs one [1, 3, image_size, image_size] image through ``model`` (on its own device, in eval mode,
    without gradients) with a forward hook on each of :data:`STAGES`; the model is left as it was.
    """
    stages = {getattr(model, name): name for name in STAGES}
    sizes: dict[str, str] = {}

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        sizes[stages[module]] = f"{output.shape[-2]}×{output.shape[-1]}"

    image = torch.zeros(1, 3, image_size, image_size, device=next(model.parameters()).device)
    run_eval(model, image, stages, record)
    return sizes


def _conv(conv: nn.Conv2d) -> str:
    """One convolution in the paper's notation: "3×3, 64"."""
    return f"{conv.kernel_size[0]}×{conv.kernel_size[1]}, {conv.out_channels}"


def stage_notation(stage: nn.Sequential) -> str:
    """A stage in the paper's notation: its first block's convolutions, times the number of blocks.

    The block's main-path convolutions are its children named conv1, conv2, (conv3); the shortcut's
    projection is not part of the notation, as in the paper.
    """
    convs = [m for name, m in stage[0].named_children() if name.startswith("conv")]
    return f"[{'; '.join(_conv(c) for c in convs)}] × {len(stage)}"


def _pool(model: nn.Module) -> str:
    """The stem's max pool, which opens the paper's conv2_x row."""
    pool = model.maxpool
    if not isinstance(pool, nn.MaxPool2d):
        return ""
    return f"{pool.kernel_size}×{pool.kernel_size} max pool, stride {pool.stride}<br>"


def imagenet_table(models: Mapping[int, nn.Module], image_size: int = 224) -> str:
    """The paper's Table 1 for ``models`` ({depth: ImageNet ResNet}) as a Markdown table.

    Rows: the five stages (output size from the first model), the classifier, and the multiply-adds
    of one image per model.
    """
    nets = list(models.values())
    sizes = stage_output_sizes(nets[0], image_size)
    rows = [("conv1", sizes["conv1"], [f"{_conv(m.conv1)}, stride {m.conv1.stride[0]}" for m in nets])]
    for name, paper_name in list(STAGES.items())[1:]:
        cells = [(_pool(m) if name == "layer1" else "") + stage_notation(getattr(m, name)) for m in nets]
        rows.append((paper_name, sizes[name], cells))
    rows.append(("", "1×1", [f"average pool, {m.fc.out_features}-d fc, softmax" for m in nets]))
    rows.append(("multiply-adds", "", [f"{count_macs(m, (1, 3, image_size, image_size)) / 1e9:.2f}×10⁹" for m in nets]))
    lines = ["| layer name | output size | " + " | ".join(f"{d}-layer" for d in models) + " |",
             "|---|---|" + "---|" * len(models)]
    lines += [f"| {name} | {size} | " + " | ".join(cells) + " |" for name, size, cells in rows]
    return "\n".join(lines)
