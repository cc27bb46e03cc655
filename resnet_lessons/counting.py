"""Counting parameters and operations, by formula and by machine, so the two can be compared.

Operations are counted by ``torch.utils.flop_counter``: convolutions and matrix products only (BatchNorm, ReLU,
pooling and the shortcuts' additions are comparatively free). One multiply-add (MAC) is two FLOPs; torchvision's
documentation lists MACs under the name "GFLOPS" (ResNet-50: 4.09), so compare its numbers with :func:`count_macs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torchinfo
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .metrics import eval_mode, model_device

# --- formulas ---


def conv_params(in_ch: int, out_ch: int, kernel_size: int | Sequence[int], groups: int = 1, bias: bool = False) -> int:
    """Parameters of a 2-D convolution: (in_ch / groups) x out_ch x k x k, plus out_ch if it has a bias.

    >>> conv_params(64, 64, 3, bias=True)            # seed 004: 64 x 64 x 3 x 3 + 64
    36928
    >>> conv_params(128, 128, 3, groups=32)          # ResNeXt's grouped 3x3: each filter sees 4 channels
    4608
    """
    if groups < 1 or in_ch % groups or out_ch % groups:
        valid = [g for g in range(1, min(in_ch, out_ch) + 1) if in_ch % g == 0 and out_ch % g == 0]
        raise ValueError(f"groups={groups} does not divide in_ch={in_ch} and out_ch={out_ch}: each group needs a "
                         f"whole number of channels. Valid groups: {', '.join(map(str, valid))}.")
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return in_ch // groups * out_ch * kh * kw + (out_ch if bias else 0)


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Parameters of a fully connected layer: in x out, plus out if it has a bias (ResNet's fc: 2048 x 1000 + 1000)."""
    return in_features * out_features + (out_features if bias else 0)


def batchnorm_params(channels: int) -> int:
    """Learnable parameters of a BatchNorm: a scale (weight) and a shift (bias) per channel, 2 x channels."""
    return 2 * channels


def _formula(module: nn.Module) -> tuple[str, int] | None:
    """The formula for one layer's parameters as text and value, or None for a layer type it does not know."""
    has_bias = getattr(module, "bias", None) is not None
    if isinstance(module, nn.Conv2d):
        c_in, c_out, g = module.in_channels, module.out_channels, module.groups
        kh, kw = module.kernel_size
        text = f"{c_in} x {c_out} x {kh} x {kw}" if g == 1 else f"({c_in} / {g}) x {c_out} x {kh} x {kw}"
        return text + (f" + {c_out}" if has_bias else ""), conv_params(c_in, c_out, (kh, kw), g, has_bias)
    if isinstance(module, nn.Linear):
        text = f"{module.in_features} x {module.out_features}" + (f" + {module.out_features}" if has_bias else "")
        return text, linear_params(module.in_features, module.out_features, has_bias)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
        return f"2 x {module.num_features}", batchnorm_params(module.num_features)
    return None


def _macs(module: nn.Module, output: torch.Tensor) -> int | None:
    """Multiply-adds of one call of a conv or linear layer that produced ``output``."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return None


# --- counting the model's own tensors ---


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """sum(p.numel()) over the parameters (each shared tensor once); ``trainable_only``: requires_grad only."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def count_parameters_by_formula(model: nn.Module) -> int:
    """The sum of :func:`conv_params`, :func:`linear_params` and :func:`batchnorm_params` over the layers
    (layers of other types by ``numel()``): equal to :func:`count_parameters` for the course's networks."""
    return sum(row.by_formula for row in layer_rows(model))


# --- running the model once ---


def _example_input(model: nn.Module, input_size: Sequence[int]) -> torch.Tensor:
    """Zeros of ``input_size`` ((N, C, H, W), or (C, H, W) for one image) on the model's device."""
    size = tuple(input_size)
    if len(size) == 3:
        size = (1, *size)
    if len(size) != 4 or not all(isinstance(s, int) and s >= 1 for s in size):
        raise ValueError(f"input_size must be (N, C, H, W) or (C, H, W) with positive whole numbers, "
                         f"e.g. (1, 3, 32, 32); got {input_size!r}.")
    return torch.zeros(size, device=model_device(model))


def run_eval(model: nn.Module, x: torch.Tensor, hooks_on: Iterable[nn.Module] = (), hook=None):
    """``model(x)`` once in eval mode without gradients, with the forward ``hook`` on each of ``hooks_on``;
    returns the output. The hooks are removed and the model's train/eval mode is restored afterwards."""
    handles = [m.register_forward_hook(hook) for m in hooks_on] if hook else []
    try:
        with eval_mode(model), torch.no_grad():
            return model(x)
    finally:
        for h in handles:
            h.remove()


def _run_counted(model: nn.Module, x: torch.Tensor) -> tuple[object, int]:
    """:func:`run_eval` under torch's flop counter: the output and the FLOPs."""
    counter = FlopCounterMode(display=False)
    with counter:
        output = run_eval(model, x)
    return output, counter.get_total_flops()


def count_flops(model: nn.Module, input_size: Sequence[int]) -> int:
    """FLOPs of one forward pass (eval mode, on zeros) on a batch of ``input_size``, (N, C, H, W) or (C, H, W), by
    ``torch.utils.flop_counter``. A multiply-add counts as 2 FLOPs; see :func:`count_macs`."""
    return _run_counted(model, _example_input(model, input_size))[1]


def count_macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """Multiply-adds (MACs) of one forward pass: :func:`count_flops` / 2. torchvision calls these "GFLOPS"."""
    return count_flops(model, input_size) // 2


# --- tables ---


@dataclass
class LayerRow:
    """One layer with parameters: its count by formula next to PyTorch's, and its multiply-adds."""

    name: str
    kind: str
    formula: str
    by_formula: int
    actual: int
    output_shape: tuple[int, ...] | None = None
    macs: int | None = None

    @property
    def ok(self) -> bool:
        return self.by_formula == self.actual


def layer_rows(model: nn.Module, input_size: Sequence[int] | None = None) -> list[LayerRow]:
    """One :class:`LayerRow` per layer with parameters, in registration order (= forward order here).

    With ``input_size`` the model runs once (eval mode) to record each layer's output shape and the
    multiply-adds of convolutions and fc: output elements x (C_in / groups) x k x k, or x in_features.
    """
    layers = [(name, m) for name, m in model.named_modules() if list(m.parameters(recurse=False))]  # conv, BN, fc
    shapes: dict[nn.Module, tuple[int, ...]] = {}
    macs: dict[nn.Module, int] = {}

    def record(module: nn.Module, inputs, output) -> None:
        shapes[module] = tuple(output.shape)
        m = _macs(module, output)
        if m is not None:
            macs[module] = macs.get(module, 0) + m

    if input_size is not None:
        run_eval(model, _example_input(model, input_size), [m for _, m in layers], record)
    rows = []
    for name, m in layers:
        actual = sum(p.numel() for p in m.parameters(recurse=False))
        formula = _formula(m) or ("(not a conv, fc or BN layer: numel)", actual)
        rows.append(LayerRow(name, type(m).__name__, formula[0], formula[1], actual, shapes.get(m), macs.get(m)))
    return rows


def _human(n: int | None) -> str:
    """4_089_184_256 -> '4.09 G', 231_211_008 -> '231.2 M', 9_472 -> '9,472'."""
    if n is None:
        return "-"
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    return f"{n:,}"


def _format_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).rjust(w) if r else str(c).ljust(w)
                         for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    rule = "-" * len(line(["-" * w for w in widths]))
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def layer_table(model: nn.Module, input_size: Sequence[int] | None = None) -> str:
    """Every layer with parameters: the formula, its value, PyTorch's count, and (with ``input_size``) the
    output shape and multiply-adds; then the totals, by formula and by ``sum(p.numel())``."""
    rows = layer_rows(model, input_size)
    header = ["layer", "type", "formula", "by formula", "numel", ""]
    right = [False, False, False, True, True, False]
    if input_size is not None:
        header[2:2] = ["output shape", "MACs"]
        right[2:2] = [False, True]
    body = []
    for r in rows:
        cells = [r.name, r.kind, r.formula, f"{r.by_formula:,}", f"{r.actual:,}", "ok" if r.ok else "DIFFERENT"]
        if input_size is not None:
            cells[2:2] = [str(list(r.output_shape)) if r.output_shape else "-", _human(r.macs)]
        body.append(cells)
    total_formula = sum(r.by_formula for r in rows)
    total = count_parameters(model)
    footer = f"total: {total_formula:,} by formula, {total:,} by sum(p.numel())"
    footer += " (equal)" if total_formula == total else " (DIFFERENT)"
    if input_size is not None:
        footer += f"; {_human(sum(r.macs or 0 for r in rows))} multiply-adds for input {list(input_size)}"
    return _format_table(header, body, right) + "\n" + footer


class Summary:
    """torchinfo's statistics of a model; ``print()`` it for the table, read ``.total_params`` for the count.

    torchinfo 1.8 prints its units as "(Units.GIGABYTES)" under Python 3.11+ (an Enum formatting change),
    which reads as if multiply-adds were bytes; this prints the letter alone: "Total mult-adds (G): 4.72".
    """

    def __init__(self, stats: torchinfo.ModelStatistics) -> None:
        self.stats = stats
        self.total_params: int = stats.total_params
        self.total_mult_adds: int = stats.total_mult_adds

    def __str__(self) -> str:
        return re.sub(r"\(Units\.(\w)\w*\)", r"(\1)", str(self.stats))

    __repr__ = __str__


def summary(model: nn.Module, input_size: Sequence[int], depth: int = 3) -> Summary:
    """torchinfo's table with the course's fixed settings: layer (and attribute name), output shape,
    parameters; eval mode, on the model's own device. ``print()`` it, or read ``.total_params``."""
    x = _example_input(model, input_size)
    return Summary(torchinfo.summary(model, input_size=tuple(x.shape), col_names=("output_size", "num_params"),
                                     row_settings=("var_names",), depth=depth, device=x.device, mode="eval", verbose=0))


def compare_table(models: Mapping[str, nn.Module], input_size: Sequence[int] | Mapping[str, Sequence[int]]) -> str:
    """Models or blocks side by side: input, output, parameters, multiply-adds (per batch of ``input_size``).

    ``input_size`` is one size for all, or a dict giving each name its own (blocks take feature maps):

    ``print(compare_table({"VGG front": vgg_front(), "ResNet stem": resnet_stem()}, (1, 3, 224, 224)))``
    """
    header = ["model", "input", "output", "parameters", "multiply-adds"]
    rows = []
    for name, model in models.items():
        size = input_size[name] if isinstance(input_size, Mapping) else input_size
        x = _example_input(model, size)
        output, flops = _run_counted(model, x)
        out_shape = str(list(output.shape)) if isinstance(output, torch.Tensor) else "-"
        rows.append([name, str(list(x.shape)), out_shape, f"{count_parameters(model):,}", _human(flops // 2)])
    return _format_table(header, rows, [False, False, False, True, True])
