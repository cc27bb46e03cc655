"""Block diagrams drawn from the modules themselves, so that a picture cannot disagree with the code.

Each diagram runs one forward pass with a hook on every layer and draws the layers in the order they ran, with
their real names, channel counts, strides and output shapes (C×H×W for one image). It returns a :class:`Diagram`:
the figure plus the text of every box (``labels``) and every shape beside an arrow (``shapes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch
from torch import nn

from .counting import run_eval
from .models import BasicBlock, Bottleneck, ResNeXtBottleneck, cifar_resnet
from .models.shortcuts import AvgPoolPadding, ConvProjection, IdentityPadding

# Modules drawn as one box although they have children (the pool shortcut's pooling is only half of what it does).
ATOMIC = (IdentityPadding, AvgPoolPadding)
COLORS = {"conv": "#cfe2f3", "bn": "#fff2cc", "relu": "#d9ead3", "shortcut": "#fce5cd", "stage": "#e4dcf1",
          "other": "#eeeeee"}
SHORTCUT_COLOR, NOTE_COLOR = "#b45f06", "#555555"
FONT, SMALL, TITLE = 9.5, 8.5, 11.5
BOX_H, STEP = 0.42, 0.78  # inches: height of a one-line box, distance between the tops of two boxes
ARROW = STEP - BOX_H  # inches: length of the arrow between two boxes
LINE_H = 0.19  # inches a box grows for each further line of text


@dataclass
class Diagram:
    """A drawn diagram: the figure, the text of its boxes and the shapes written beside its arrows."""

    figure: Figure
    labels: list[str] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)

    def save(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the figure as a PNG (folders are created); return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figure.savefig(path, dpi=dpi, facecolor="white")
        return path

    def _repr_png_(self) -> bytes:
        """Show the figure when a Diagram is the last value of a notebook cell."""
        buffer = BytesIO()
        self.figure.savefig(buffer, format="png", dpi=100, facecolor="white")
        return buffer.getvalue()


@dataclass
class Call:
    """One layer as it ran: its name in the module, the layer, and the shapes in and out (without N)."""

    name: str
    module: nn.Module
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


# --- reading the module ---


def trace(module: nn.Module, input_shape: tuple[int, ...], depth: int | None = None) -> list[Call]:
    """Run ``module`` once (eval mode, no gradients) on zeros of ``input_shape`` ([C, H, W]) and list its layers in
    the order they ran: the leaves and ATOMIC shortcut modules, or with ``depth=1`` the direct children."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"a diagram draws an nn.Module, got {type(module).__name__}.")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape is one image's [C, H, W], e.g. (16, 32, 32); got {tuple(input_shape)}.")
    if depth == 1:
        names = {sub: name for name, sub in module.named_children()}
    else:  # not what is inside an ATOMIC module (a module comes before the modules inside it)
        names = {}
        for name, sub in module.named_modules():
            inside_atomic = any(name.startswith(f"{outer}.") for m, outer in names.items() if isinstance(m, ATOMIC))
            if not inside_atomic and (isinstance(sub, ATOMIC) or not list(sub.children())):
                names[sub] = name
    calls: list[Call] = []

    def record(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        calls.append(Call(names[m], m, tuple(args[0].shape[1:]), tuple(out.shape[1:])))

    run_eval(module, torch.zeros(1, *input_shape), names, record)
    return calls


def describe(module: nn.Module) -> str:
    """What a layer does, in the course's words: "3×3 conv, 16→32, stride 2", "BatchNorm, 32", ..."""
    if isinstance(module, nn.Conv2d):
        k, s = module.kernel_size[0], module.stride[0]
        text = f"{k}×{k} conv, {module.in_channels}→{module.out_channels}"
        if module.groups > 1:
            text += f", {module.groups} groups"
        return text + (f", stride {s}" if s != 1 else "")
    if isinstance(module, nn.BatchNorm2d):
        return f"BatchNorm, {module.num_features}"
    if isinstance(module, nn.ReLU):
        return "ReLU"
    if isinstance(module, IdentityPadding):
        s, extra = module.stride, module.out_channels - module.in_channels
        return f"option A (no parameters):\nkeep x[:, :, ::{s}, ::{s}],\nadd {extra} zero channels"
    if isinstance(module, AvgPoolPadding):
        k, extra = module.pool.kernel_size, module.out_channels - module.in_channels
        return f"pool shortcut (no parameters):\naverage {k}×{k} squares,\nadd {extra} zero channels"
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return "global average pool"
    if isinstance(module, nn.MaxPool2d):
        return f"{module.kernel_size}×{module.kernel_size} max pool, stride {module.stride}"
    if isinstance(module, nn.Linear):
        return f"fully connected, {module.in_features}→{module.out_features}"
    return type(module).__name__


def shape_text(shape: tuple[int, ...]) -> str:
    """(16, 32, 32) -> "16×32×32"."""
    return "×".join(str(n) for n in shape)


def shortcut_name(block: nn.Module) -> str:
    """How a block's shortcut treats x: "identity", "option A", "option B", "option pool", or "none" (plain)."""
    if not hasattr(block, "downsample"):
        return "none"
    downsample = block.downsample
    if downsample is None:
        return "identity"
    names = {IdentityPadding: "option A", ConvProjection: "option B", AvgPoolPadding: "option pool"}
    return names.get(type(downsample), type(downsample).__name__)


def _kind(module: nn.Module) -> str:
    """The key of the box's colour in COLORS."""
    for types, kind in ((nn.Conv2d, "conv"), (nn.BatchNorm2d, "bn"), (nn.ReLU, "relu"), (ATOMIC, "shortcut")):
        if isinstance(module, types):
            return kind
    return "other"


# --- drawing ---


def _canvas(width: float, height: float, title: str) -> tuple[Axes, Diagram, float]:
    """A titled figure of width x height inches whose data coordinates are inches, (0, 0) at the bottom left;
    returns the axes, the Diagram, and the y where drawing starts (0.75 inch below the top edge, under the title)."""
    fig = plt.figure(figsize=(width, height))
    plt.close(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.text(width / 2, height - 0.3, title, ha="center", va="center", fontsize=TITLE, weight="bold")
    return ax, Diagram(fig), height - 0.75


def _box(ax: Axes, cx: float, top: float, width: float, text: str, kind: str, fontsize: float = FONT) -> float:
    """A rounded box whose top edge is at ``top``, centred on ``cx``; one line of text or more. Returns its height."""
    height = BOX_H + LINE_H * text.count("\n")
    ax.add_patch(FancyBboxPatch((cx - width / 2, top - height), width, height,
                                boxstyle="round,pad=0,rounding_size=0.08", facecolor=COLORS[kind],
                                edgecolor="#444444", linewidth=1.0))
    ax.text(cx, top - height / 2, text, ha="center", va="center", fontsize=fontsize, linespacing=1.3)
    return height


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], color: str = "#333333") -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": 1.2, "shrinkA": 0, "shrinkB": 0})


def _stack(ax: Axes, cx: float, top: float, width: float, boxes: list[tuple[str, str]],
           fontsize: float = FONT) -> list[tuple[float, float]]:
    """Boxes (text, kind) from ``top`` down, joined by arrows; returns the (top, bottom) of each."""
    spans = []
    for text, kind in boxes:
        if spans:
            _arrow(ax, (cx, top), (cx, top - ARROW))
            top -= ARROW
        bottom = top - _box(ax, cx, top, width, text, kind, fontsize)
        spans.append((top, bottom))
        top = bottom
    return spans


def _plus(ax: Axes, cx: float, cy: float, from_y: float) -> None:
    """The + of the shortcut, at (cx, cy), with the arrow coming down into it from ``from_y``."""
    _arrow(ax, (cx, from_y), (cx, cy + 0.17))
    ax.add_patch(Circle((cx, cy), 0.17, facecolor="white", edgecolor="#333333", linewidth=1.2))
    ax.text(cx, cy, "+", ha="center", va="center", fontsize=13)


def _bold(ax: Axes, x: float, y: float, text: str) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT, weight="bold")


def _shape_note(ax: Axes, diagram: Diagram, x: float, y: float, shape: tuple[int, ...],
                fontsize: float = SMALL) -> None:
    """Write ``shape`` at (x, y), left-aligned, and record it in ``diagram.shapes``."""
    text = shape_text(shape)
    ax.text(x, y, text, fontsize=fontsize, color=NOTE_COLOR, va="center")
    diagram.shapes.append(text)


def _column(ax: Axes, calls: list[Call], cx: float, top: float, width: float, diagram: Diagram) -> float:
    """Draw ``calls`` as boxes from ``top`` down, each arrow labelled with the shape; return the last bottom."""
    labels = [f"{call.name}: {describe(call.module)}" for call in calls]
    diagram.labels += labels
    shown = [label if len(label) <= 36 or "\n" in label else label.replace(": ", ":\n", 1)  # long: 2 lines
             for label in labels]
    spans = _stack(ax, cx, top, width, [(text, _kind(call.module)) for text, call in zip(shown, calls, strict=True)])
    for call, (_, bottom) in zip(calls[:-1], spans[:-1], strict=True):  # the shape on each arrow
        _shape_note(ax, diagram, cx + 0.12, bottom - ARROW / 2, call.out_shape)
    return spans[-1][1]


def _identity_sum(ax: Axes, cx: float, top: float, bottom: float, plus_y: float, right: float, out: int) -> None:
    """The end of a ResNeXt form: the + at ``plus_y`` under the paths (ending at ``bottom``), the identity x from
    ``top`` along the ``right`` edge into it, and the ``out`` channels below."""
    _plus(ax, cx, plus_y, bottom)
    ax.plot([cx, right, right], [top - 0.2, top - 0.2, plus_y], color=SHORTCUT_COLOR, linewidth=1.4)
    ax.text(right - 0.08, (top + plus_y) / 2, "identity x", rotation=90, ha="right", va="center", fontsize=SMALL,
            color=SHORTCUT_COLOR)
    _arrow(ax, (right, plus_y), (cx + 0.17, plus_y), color=SHORTCUT_COLOR)
    _bold(ax, cx, plus_y - 0.45, f"out: {out} channels")


def _check_residual(block: nn.Module) -> None:
    if not isinstance(block, BasicBlock | Bottleneck | ResNeXtBottleneck):
        raise TypeError(f"expected a residual block (BasicBlock, Bottleneck or ResNeXtBottleneck), got "
                        f"{type(block).__name__}; for a whole network use stage_map(model).")


def _side_by_side(diagrams: list[Diagram], title: str) -> Diagram:
    """Put finished diagrams next to each other in one figure (tops aligned), keeping their labels."""
    widths = [d.figure.get_figwidth() for d in diagrams]
    heights = [d.figure.get_figheight() for d in diagrams]
    head = 0.45  # inches above the panels, for the title
    width, height = sum(widths), max(heights) + head
    fig = plt.figure(figsize=(width, height))
    plt.close(fig)
    x = 0.0
    for d, w, h in zip(diagrams, widths, heights, strict=True):
        ax = fig.add_axes((x / width, (height - head - h) / height, w / width, h / height))
        ax.axis("off")
        d.figure.set_dpi(200)  # the finished panel, as pixels
        canvas = FigureCanvasAgg(d.figure)
        canvas.draw()
        ax.imshow(np.asarray(canvas.buffer_rgba()), extent=(0, w, 0, h), interpolation="lanczos")
        x += w
    fig.text(0.5, 1 - head / 2 / height, title, ha="center", va="center", fontsize=TITLE + 1, weight="bold")
    return Diagram(fig, [lab for d in diagrams for lab in d.labels], [s for d in diagrams for s in d.shapes])


# --- the course's diagrams ---


def block(residual_block: nn.Module, input_shape: tuple[int, int, int], title: str | None = None) -> Diagram:
    """Any residual block on an input of ``input_shape`` ([C, H, W]): F(x) on the left, the shortcut on the right,
    then + and the last ReLU, with every layer's shape."""
    _check_residual(residual_block)
    if title is None:
        title = f"{type(residual_block).__name__}, shortcut: {shortcut_name(residual_block)}"
    calls = trace(residual_block, input_shape)
    shortcut = [c for c in calls if c.name.startswith("downsample")]
    branch = [c for c in calls[:-1] if not c.name.startswith("downsample")]
    box_w, gap = 2.8, 0.4
    width = 0.55 + box_w + gap + (box_w if shortcut else 1.45) + 0.25
    height = 0.75 + 0.55 + len(branch) * STEP + 0.5 + STEP + 0.55
    ax, diagram, top = _canvas(width, height, title)
    cx = 0.55 + box_w / 2
    sx = cx + box_w / 2 + gap + (box_w / 2 if shortcut else 0.35)
    x_shape = shape_text(tuple(input_shape))
    _bold(ax, cx, top, f"x: {x_shape}")
    diagram.shapes.append(x_shape)
    split, first = top - 0.22, top - 0.55
    _arrow(ax, (cx, split), (cx, first))
    bottom = _column(ax, branch, cx, first, box_w, diagram)
    ax.text(0.3, (first + bottom) / 2, "F(x)", rotation=90, ha="center", va="center", fontsize=FONT, style="italic")
    ax.plot([0.45, 0.45], [bottom + 0.05, first - 0.05], color="#888888", linewidth=1.0)
    plus_y = bottom - 0.5
    _plus(ax, cx, plus_y, bottom)
    _shape_note(ax, diagram, cx + 0.12, bottom - 0.16, branch[-1].out_shape)
    # the shortcut: from the split point on the right, down to the +
    ax.plot([cx, sx], [split, split], color=SHORTCUT_COLOR, linewidth=1.4)
    shortcut_bottom = split
    if shortcut:
        ax.text(sx, split + 0.14, f"shortcut: {shortcut_name(residual_block)}", ha="center", va="bottom",
                fontsize=SMALL, color=SHORTCUT_COLOR)
        _arrow(ax, (sx, split), (sx, first), color=SHORTCUT_COLOR)
        shortcut_bottom = _column(ax, shortcut, sx, first, box_w, diagram)
        _shape_note(ax, diagram, sx + 0.12, (shortcut_bottom + plus_y) / 2, shortcut[-1].out_shape)
    else:
        ax.text(sx + 0.1, (split + plus_y) / 2, f"identity:\nx, {x_shape}", fontsize=SMALL, color=SHORTCUT_COLOR,
                va="center")
        diagram.labels.append("identity")
    ax.plot([sx, sx], [shortcut_bottom, plus_y], color=SHORTCUT_COLOR, linewidth=1.4)
    _arrow(ax, (sx, plus_y), (cx + 0.17, plus_y), color=SHORTCUT_COLOR)
    relu_top = plus_y - 0.17 - ARROW
    _arrow(ax, (cx, plus_y - 0.17), (cx, relu_top))
    bottom = _column(ax, calls[-1:], cx, relu_top, box_w, diagram)
    out_shape = shape_text(calls[-1].out_shape)
    _bold(ax, cx, bottom - 0.25, f"out: {out_shape}")
    diagram.shapes.append(out_shape)
    return diagram


def residual_block(basic_block: nn.Module | None = None, input_shape: tuple[int, int, int] = (16, 32, 32)) -> Diagram:
    """The ResNet paper's Figure 2, ReLU(F(x) + x), from a BasicBlock (default: ResNet-20's layer1[0])."""
    if basic_block is None:
        basic_block = cifar_resnet(20).layer1[0]
    return block(basic_block, input_shape, "Residual block (paper, Figure 2): out = ReLU(F(x) + x)")


def shortcut_options(model_a: nn.Module | None = None, model_b: nn.Module | None = None) -> Diagram:
    """ResNet-20's layer2[1] (identity shortcut), and its layer2[0] with option A and with option B, from
    ``model_a``/``model_b``: CIFAR ResNets built with shortcut "A"/"B" (default: ``cifar_resnet(20, ...)``)."""
    model_a = cifar_resnet(20, shortcut="A") if model_a is None else model_a
    model_b = cifar_resnet(20, shortcut="B") if model_b is None else model_b
    layer2 = next(call for call in trace(model_a, (3, 32, 32), depth=1) if call.name == "layer2")
    panels = [
        block(model_a.layer2[1], layer2.out_shape, "layer2[1]: shape kept, x added as it is"),
        block(model_a.layer2[0], layer2.in_shape, "layer2[0], option A: subsample, pad zeros"),
        block(model_b.layer2[0], layer2.in_shape, "layer2[0], option B: 1×1 conv + BN"),
    ]
    return _side_by_side(panels, "BasicBlock with and without its downsample path (ResNet-20, stage 2)")


def basic_vs_bottleneck(basic: nn.Module | None = None, bottleneck: nn.Module | None = None, size: int = 56) -> Diagram:
    """The ResNet paper's Figure 5: ResNet-34's basic block against ResNet-50's bottleneck, on ``size`` x ``size``
    maps (56 for 224x224 images). Defaults: the first stage's ``BasicBlock(64, 64)`` and ``Bottleneck(256, 64)``."""
    basic = BasicBlock(64, 64) if basic is None else basic
    bottleneck = Bottleneck(256, 64) if bottleneck is None else bottleneck
    _check_residual(basic)
    _check_residual(bottleneck)
    panels = [
        block(basic, (basic.conv1.in_channels, size, size), "basic block (ResNet-18/34)"),
        block(bottleneck, (bottleneck.conv1.in_channels, size, size), "bottleneck (ResNet-50/101/152)"),
    ]
    return _side_by_side(panels, "Basic block and bottleneck (paper, Figure 5)")


def resnext_forms(resnext_block: nn.Module | None = None, size: int = 56) -> Diagram:
    """The ResNeXt paper's Figure 3: (a) C paths summed, (b) paths concatenated, (c) one grouped convolution.

    All three are the same function. C and d come from ``resnext_block``'s grouped 3x3 (default: ResNeXt-50's
    first-stage ``ResNeXtBottleneck(256, 64)``, C = 32, d = 4); (c) is its own layers, without BN and ReLU.
    """
    resnext_block = ResNeXtBottleneck(256, 64) if resnext_block is None else resnext_block
    if not isinstance(resnext_block, ResNeXtBottleneck):
        raise TypeError(f"expected a ResNeXtBottleneck, got {type(resnext_block).__name__}.")
    calls = trace(resnext_block, (resnext_block.conv1.in_channels, size, size))
    convs = [c for c in calls if isinstance(c.module, nn.Conv2d) and not c.name.startswith("downsample")]
    conv1, conv2, conv3 = (c.module for c in convs)
    cardinality = conv2.groups
    d = conv2.out_channels // cardinality
    c_in, c_out = conv1.in_channels, conv3.out_channels
    panels = [
        _paths_panel("(a) aggregated transformations", c_in, c_out, cardinality, d, concatenate=False),
        _paths_panel("(b) early concatenation", c_in, c_out, cardinality, d, concatenate=True),
        _grouped_panel("(c) grouped convolution", convs),
    ]
    title = f"Three equivalent ResNeXt blocks (ResNeXt paper, Figure 3): C = {cardinality} paths of width d = {d}"
    return _side_by_side(panels, title)


def _paths_panel(title: str, c_in: int, c_out: int, cardinality: int, d: int, concatenate: bool) -> Diagram:
    """Forms (a) and (b): paths 1, 2, ..., C drawn as three columns and a gap."""
    col_w, box_w = 1.45, 1.3
    rows = 3 if not concatenate else 2
    width = 0.3 + 4 * col_w + 0.9
    height = 1.25 + rows * STEP + 0.45 + (STEP + BOX_H if concatenate else 0) + 1.3
    ax, diagram, top = _canvas(width, height, title)
    mid = 0.3 + 2 * col_w
    _bold(ax, mid, top, f"x: {c_in} channels")
    first = top - 0.5
    layers = [f"1×1, {c_in}→{d}", f"3×3, {d}→{d}"] + ([] if concatenate else [f"1×1, {d}→{c_out}"])
    diagram.labels += layers
    for j, path in enumerate(["path 1", "path 2", None, f"path {cardinality}"]):
        px = 0.3 + col_w * (j + 0.5)
        if path is None:
            ax.text(px, first - rows * STEP / 2, "…", ha="center", va="center", fontsize=18)
            continue
        ax.text(px, first + 0.08, path, ha="center", va="bottom", fontsize=SMALL, color=NOTE_COLOR)
        ax.plot([mid, px], [top - 0.2, first + 0.25], color="#999999", linewidth=0.8)
        bottom = _stack(ax, px, first, box_w, [(text, "conv") for text in layers], fontsize=SMALL + 0.5)[-1][1]
    join_y = bottom - 0.45  # where the paths meet
    for j in (0, 1, 3):
        ax.plot([0.3 + col_w * (j + 0.5), mid], [bottom, join_y], color="#999999", linewidth=0.8)
    y = join_y
    if concatenate:
        concat = f"concatenate: {cardinality}×{d} = {cardinality * d} channels"
        last = f"1×1, {cardinality * d}→{c_out}"
        y = _stack(ax, mid, y, 3.2, [(concat, "other"), (last, "conv")])[-1][1]
        diagram.labels += [concat, last]
    else:
        ax.text(mid + 0.2, join_y, f"sum of {cardinality} paths", fontsize=SMALL, color=NOTE_COLOR, va="center")
        diagram.labels.append(f"sum of {cardinality} paths")
    _identity_sum(ax, mid, top, y, y - 0.45, width - 0.35, c_out)
    return diagram


def _grouped_panel(title: str, convs: list[Call]) -> Diagram:
    """Form (c): the block's own three convolutions, the middle one grouped."""
    box_w = 3.3
    width = 0.3 + box_w + 0.9
    height = 0.75 + 0.5 + 3 * STEP + 1.25
    ax, diagram, top = _canvas(width, height, title)
    cx = 0.3 + box_w / 2
    _bold(ax, cx, top, f"x: {convs[0].module.in_channels} channels")
    _arrow(ax, (cx, top - 0.2), (cx, top - 0.5))
    bottom = _column(ax, convs, cx, top - 0.5, box_w, diagram)
    _identity_sum(ax, cx, top, bottom, bottom - 0.5, width - 0.35, convs[-1].module.out_channels)
    return diagram


def stage_map(model: nn.Module | None = None, input_shape: tuple[int, int, int] = (3, 32, 32)) -> Diagram:
    """A network's top-level layers as they run (default: ResNet-20), with the shape after each. A stage is one box:
    how many blocks of which kind, its channels, and its first block's stride and shortcut."""
    model = cifar_resnet(20) if model is None else model
    calls = trace(model, input_shape, depth=1)
    stages = [i for i, call in enumerate(calls) if _is_stage(call.module)]
    box_w, left = 6.4, 1.0
    width = left + box_w + 1.6
    height = 0.75 + 0.55 + len(calls) * STEP + 0.2
    name = f"ResNet-{model.depth}" if hasattr(model, "depth") else type(model).__name__
    ax, diagram, top = _canvas(width, height, f"{name}: stem, stages and head, with the shape after each layer")
    cx = left + box_w / 2
    x_shape = shape_text(tuple(input_shape))
    _bold(ax, cx, top, f"image: {x_shape}")
    diagram.shapes.append(x_shape)
    _arrow(ax, (cx, top - 0.2), (cx, top - 0.55))
    boxes = [_stage_label(call) for call in calls]
    diagram.labels += [label for label, _ in boxes]
    spans = _stack(ax, cx, top - 0.55, box_w, boxes)
    for call, (box_top, _) in zip(calls, spans, strict=True):
        _shape_note(ax, diagram, cx + box_w / 2 + 0.15, box_top - BOX_H / 2, call.out_shape, fontsize=FONT)
    if stages:  # brackets on the left: the stem before the first stage, the head after the last
        groups = [("stem", 0, stages[0] - 1)] + [(f"stage {k + 1}", i, i) for k, i in enumerate(stages)]
        groups.append(("head", stages[-1] + 1, len(calls) - 1))
        for text, first, last in groups:
            if first > last:
                continue
            y0, y1 = spans[first][0] - 0.03, spans[last][1] + 0.03
            ax.plot([left - 0.12] * 2, [y0, y1], color="#888888", linewidth=1.2)
            ax.text(left - 0.2, (y0 + y1) / 2, text, ha="right", va="center", fontsize=FONT, style="italic")
    return diagram


def _is_stage(module: nn.Module) -> bool:
    """A stage: an nn.Sequential of blocks (modules with a conv1), as make_layer builds them."""
    return isinstance(module, nn.Sequential) and len(module) > 0 and hasattr(module[0], "conv1")


def _stage_label(call: Call) -> tuple[str, str]:
    module = call.module
    if _is_stage(module):
        first = module[0]
        stride = call.in_shape[-1] // call.out_shape[-1]  # read off the forward pass: 32 -> 16 is stride 2
        text = (f"{call.name}: {len(module)} × {type(first).__name__}, {call.out_shape[0]} channels; "
                f"first block: stride {stride}, shortcut {shortcut_name(first)}")
        return text, "stage"
    flatten = "flatten, then " if isinstance(module, nn.Linear) else ""
    return f"{call.name}: {flatten}{describe(module)}", _kind(module)


def save_all(folder: str | Path = "build/diagrams") -> list[Path]:
    """Draw every diagram of the course with its defaults and save them as PNGs in ``folder``."""
    folder = Path(folder)
    drawn = {
        "residual_block": residual_block(),
        "shortcut_options": shortcut_options(),
        "basic_vs_bottleneck": basic_vs_bottleneck(),
        "resnext_forms": resnext_forms(),
        "stage_map_resnet20": stage_map(),
    }
    return [d.save(folder / f"{name}.png") for name, d in drawn.items()]


if __name__ == "__main__":
    for path in save_all():
        print(f"wrote {path}")
