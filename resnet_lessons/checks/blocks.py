"""Checkers for notebooks 03 (shortcut options, ResNet-32 from blocks) and 04 (parameter and multiply-add
counts, a bottleneck block from scratch, projections on every shortcut)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models import Bottleneck, ConvProjection, IdentityPadding, build_model, cifar_resnet, residual_blocks
from .core import (
    TODO,
    Mistake,
    Verdict,
    compare_outputs,
    conclude,
    conv_layers,
    count_params,
    function_placeholder,
    module_placeholder,
    module_problems,
    not_answered,
    number_verdict,
    right,
    run_module,
    seeded,
    wrong,
)


def _describe_conv(conv: nn.Conv2d) -> str:
    k = conv.kernel_size[0]
    stride = f", stride {conv.stride[0]}" if conv.stride[0] != 1 else ""
    return f"{k}x{k} conv {conv.in_channels}->{conv.out_channels}{stride}"


# --- notebook 03: shortcut options ---


def option_b_cost(depth: int = 20) -> int:
    """Parameters that option B's two projection shortcuts add to a CIFAR ResNet of ``depth``, counted
    from the package's networks: resnet(depth, "B") minus resnet(depth, "A")."""
    return count_params(cifar_resnet(depth, shortcut="B")) - count_params(cifar_resnet(depth, shortcut="A"))


def check_option_b_cost(answer: int | float | None, depth: int = 20) -> Verdict:
    """Check a hand count of the parameters option B adds to ResNet-``depth`` (2,752 for every depth):
    two projections (16 -> 32 and 32 -> 64), each a 1x1 conv without bias and a BatchNorm. The usual slips are named."""
    expected = option_b_cost(depth)
    convs = 16 * 32 + 32 * 64
    bns = 2 * 32 + 2 * 64
    n = (depth - 2) // 6
    mistakes = {
        "the two BatchNorms are missing: each projection is a 1x1 conv *and* a BatchNorm2d with 2 parameters "
        "per channel (2 x 32 + 2 x 64 = 192).": -bns,
        "the BatchNorms' running mean and variance are counted: they are buffers, not learned parameters "
        "(only the weight and bias of a BatchNorm are).": bns,
        "the projection convolutions have no bias (bias=False): the BatchNorm after them has its own shift. "
        "Leave out 32 + 64 = 96 biases.": 32 + 64,
        "a projection is a 1x1 convolution: C_in x C_out weights, not C_in x C_out x 3 x 3.": 8 * convs,
        "only the first block of stage 2 and stage 3 changes the shape, so there are two projections in the "
        f"whole network, not one per block ({n} blocks per stage).": (n - 1) * (convs + bns),
        "the 16 -> 32 projection of stage 2 is missing (stage 2's first block halves the map and doubles "
        "the channels too).": -(16 * 32 + 2 * 32),
        "the 32 -> 64 projection of stage 3 is missing.": -(32 * 64 + 2 * 64),
        "stage 1 needs no projection: its blocks keep 16 channels and 32x32 maps, so its shortcuts are "
        "plain identities.": 16 * 16 + 2 * 16,
    }
    return number_verdict(answer, expected, f"the parameters option B adds to ResNet-{depth}", slips=mistakes,
                          hint="Two projections (16 -> 32 and 32 -> 64), each a 1x1 conv without bias "
                                "(C_in x C_out) plus a BatchNorm (2 x C_out).")


def _pad_channels(x: Tensor, before: int, after: int) -> Tensor:
    return F.pad(x, (0, 0, 0, 0, before, after))


def option_a_mistakes(x: Tensor, out_channels: int, stride: int) -> dict[str, Tensor]:
    """What the usual wrong versions of option A return on ``x``, by the message that explains each."""
    extra = out_channels - x.shape[1]
    sub = x[:, :, ::stride, ::stride]
    return {
        "the zero channels are split before and after x's channels (as some popular CIFAR ResNet code "
        "does). That works just as well, but option A as written here keeps channel c of x at channel c "
        "and appends all the zeros after the existing channels: F.pad(x, (0, 0, 0, 0, 0, extra)).":
            _pad_channels(sub, extra // 2, extra - extra // 2),
        "the zero channels come before x's channels; append them after, so that channel c of x stays "
        "channel c: F.pad(x, (0, 0, 0, 0, 0, extra)).": _pad_channels(sub, extra, 0),
        "you averaged each stride x stride square: that is the course's option \"pool\" (AvgPoolPadding). "
        "Option A keeps one pixel of each square and drops the others: x[:, :, ::stride, ::stride].":
            _pad_channels(F.avg_pool2d(x, stride, stride, ceil_mode=True), 0, extra),
        "you took the maximum of each stride x stride square; option A keeps the top-left pixel of each "
        "square (x[:, :, ::stride, ::stride]), the pixel that the branch's stride-2 convolution is centred on.":
            _pad_channels(F.max_pool2d(x, stride, stride, ceil_mode=True), 0, extra),
        "you kept the pixels at odd positions (x[:, :, 1::2, 1::2]). The branch's 3x3 convolution with "
        "stride 2 and padding 1 computes output pixel i centred on input pixel 2i, so keep the even ones: "
        "x[:, :, ::stride, ::stride].":
            _pad_channels(x[:, :, 1::stride, 1::stride], 0, extra),
        "you repeated x's channels instead of adding zero channels. Option A's new channels are zeros: "
        "the shortcut adds no parameters and no copies.":
            torch.cat([sub] * (out_channels // x.shape[1]) + [sub[:, : out_channels % x.shape[1]]], dim=1),
    }


def check_option_a(student: Callable[[Tensor, int, int], Tensor] | None) -> Verdict:
    """Check a student's option-A shortcut, written as a function ``f(x, out_channels, stride)``.

    Option A (the package's :class:`~resnet_lessons.models.IdentityPadding`) keeps every ``stride``-th pixel
    of x in each direction and appends ``out_channels - C_in`` zero channels after x's channels.
    """
    name = "your option-A shortcut"
    if (verdict := function_placeholder(student, name, "f(x, out_channels, stride)")) is not None:
        return verdict
    g = torch.Generator().manual_seed(0)
    cases = [
        (torch.randn(2, 16, 8, 8, generator=g), 32, 2, "a downsampling block (16 -> 32 channels, stride 2)"),
        (torch.randn(1, 3, 7, 7, generator=g), 8, 2, "an odd size (3 -> 8 channels, 7x7 map, stride 2)"),
        (torch.randn(2, 16, 8, 8, generator=g), 16, 1, "a block that keeps the shape (16 -> 16, stride 1)"),
    ]
    for x, out_channels, stride, case in cases:
        expected = IdentityPadding(x.shape[1], out_channels, stride)(x)
        try:
            with torch.no_grad():
                out = student(x.clone(), out_channels, stride)
        except Exception as e:
            return wrong(f"for {case}, calling {name}(x, {out_channels}, {stride}) with x of shape {tuple(x.shape)} "
                         f"failed: {type(e).__name__}: {e}")
        if out is None:
            return not_answered(f"{name} returns None (the exercise's placeholder, or a missing `return`): write "
                                f"its body, then {TODO}.")
        if not isinstance(out, Tensor):
            return wrong(f"{name} returned {type(out).__name__}, not a tensor.")
        where = f"for {case}, x of shape {tuple(x.shape)}"
        if out.shape != expected.shape:
            problems = [f"{where}, it returns shape {tuple(out.shape)}; expected {tuple(expected.shape)}."]
            if out.shape[-2:] != expected.shape[-2:]:
                problems.append(f"the map must shrink like the branch's stride-{stride} convolution: keep every "
                                f"{stride}-th row and column, x[:, :, ::{stride}, ::{stride}].")
            if out.dim() == 4 and out.shape[1] != expected.shape[1]:
                problems.append(f"it must have out_channels = {out_channels} channels: append "
                                f"{out_channels} - {x.shape[1]} = {out_channels - x.shape[1]} zero channels.")
            return wrong(*problems)
        if torch.allclose(out, expected):
            continue
        for message, value in option_a_mistakes(x, out_channels, stride).items():
            if value.shape == out.shape and torch.allclose(out, value):
                return wrong(f"{where}: {message}")
        gap = (out - expected).abs().max().item()
        return wrong(f"{where}, its values differ from option A's by up to {gap:.3g}. Option A is "
                     "x[:, :, ::stride, ::stride] followed by out_channels - C_in zero channels after the existing "
                     "ones; it learns nothing and changes no value.")
    return right(f"{name} matches IdentityPadding: one pixel in stride x stride kept, zero channels appended after "
                 "x's, no parameters.")


# --- notebook 03: ResNet-32 from blocks ---


def check_resnet32(student: nn.Module | None) -> Verdict:
    """Compare a student's ResNet-32 with the package's ``resnet32`` (option A shortcuts, 10 classes): the
    structure, read from its convolutions whatever their names, the parameter count, then the output with the
    package's weights copied in by registration order (:func:`.core.compare_outputs`)."""
    name = "your ResNet-32"
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    if (verdict := module_placeholder(student, name, x)) is not None:
        return verdict
    with seeded(0):
        reference = build_model("resnet32")
    problems = []
    got, want = count_params(student), count_params(reference)
    if got != want:
        problems.append(f"{name} has {got:,} parameters, the package's resnet32 has {want:,} "
                        f"(difference {got - want:+,}).")
    convs = conv_layers(student)
    convs3 = [c for c in convs if c.kernel_size == (3, 3)]
    projections = [c for c in convs if c.kernel_size == (1, 1)]
    fcs = [m for m in student.modules() if isinstance(m, nn.Linear)]
    by_width = {w: sum(c.out_channels == w for c in convs3) for w in (16, 32, 64)}  # 3x3 convs of each width
    if sum(by_width.values()) != len(convs3) or by_width[16] < 1:
        widths = sorted({c.out_channels for c in convs3})
        problems.append(f"its 3x3 convolutions have {widths} output channels; ResNet-32 has a 3x3 stem with 16 "
                        "filters and three stages of 16, 32 and 64 filters.")
    else:
        depth = len(convs3) + len(fcs)
        if depth != 32:
            problems.append(f"it has {depth} weighted layers on its main path ({len(convs3)} 3x3 convs + {len(fcs)} "
                            "fc); ResNet-32 has 6n + 2 = 32: one stem conv, 3 stages x n = 5 blocks x 2 convs, one fc.")
        blocks = ((by_width[16] - 1) / 2, by_width[32] / 2, by_width[64] / 2)  # two convs a block, and the stem
        if any(b != 5 for b in blocks):
            shown = ", ".join(f"{b:g}" for b in blocks)
            problems.append(f"its stages have {shown} blocks; each of the three stages needs n = 5 blocks "
                            "(the first block of stages 2 and 3 with stride 2).")
    if projections:
        problems.append(f"it has {len(projections)} 1x1 projection convolution(s): that is option B. The paper's "
                        "CIFAR ResNets use option A: the shortcut subsamples and pads with zeros "
                        "(IdentityPadding, or make_layer(..., shortcut='A')) and has no parameters.")
    if any(c.bias is not None for c in convs):
        problems.append("some convolutions have a bias: every conv is followed by a BatchNorm, which has its "
                        "own shift, so use bias=False (conv3x3 in the package does).")
    if len(fcs) != 1 or fcs[0].out_features != 10:
        outs = [f.out_features for f in fcs]
        problems.append(f"it should end in one fully connected layer 64 -> 10 classes; found Linear layers with "
                        f"outputs {outs}.")
    if problems:
        return wrong(*problems)

    out, failure = run_module(student, x, name)
    if failure:
        return wrong(failure)
    if out.shape != (2, 10):
        return wrong(f"its output has shape {tuple(out.shape)}, expected (2, 10) (a batch of 10 class scores).")
    problems = compare_outputs(student, reference, x, name, atol=1e-4, rtol=1e-4,
                               order_hint=" (conv1, bn1, layer1, layer2, layer3, fc)")
    return conclude(problems, f"{name} matches the package's resnet32: 32 layers, {want:,} parameters, same output "
                              "with the same weights.")


# --- notebook 04: parameter arithmetic ---


def check_block_parameters(answer: int | float | None, block: nn.Module,
                           what: str = "the block's parameters") -> Verdict:
    """Check a hand count of ``block``'s parameters; an answer off by a combination of the usual
    slips (BatchNorm, conv biases, the k x k, the projection shortcut) is explained."""
    convs = conv_layers(block)
    bns = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    mistakes = {}
    bn_params = sum(2 * b.num_features for b in bns)
    if bn_params:
        mistakes["the BatchNorms are missing: every conv is followed by a BatchNorm2d with a weight and a bias "
                 f"per channel ({' + '.join(f'2 x {b.num_features}' for b in bns)} = {bn_params:,})."] = -bn_params
        mistakes["the BatchNorms' running mean and variance are counted: they are buffers, updated by "
                 "averaging, not learned parameters; a BatchNorm has 2 parameters per channel."] = bn_params
    biases = sum(c.out_channels for c in convs if c.bias is None)
    if biases:
        mistakes["the convolutions have no bias (bias=False): the BatchNorm after each conv has its own shift, "
                 f"so a bias would be redundant ({biases:,} parameters too many)."] = biases
    for conv in convs:
        k2 = conv.kernel_size[0] * conv.kernel_size[1]
        weights = conv.in_channels // conv.groups * conv.out_channels
        if k2 > 1:
            mistakes[f"the {_describe_conv(conv)} has {k2} weights per input-output channel pair: "
                     f"{conv.in_channels} x {conv.out_channels} x {conv.kernel_size[0]} x {conv.kernel_size[1]}, "
                     f"not {conv.in_channels} x {conv.out_channels}."] = -(k2 - 1) * weights
        else:
            mistakes[f"the {_describe_conv(conv)} is a 1x1 convolution: {conv.in_channels} x {conv.out_channels} "
                     "weights, with no 3 x 3 factor."] = 8 * weights
    downsample = getattr(block, "downsample", None)
    if isinstance(downsample, nn.Module):
        ds = count_params(downsample)
        ds_convs = sum(c.weight.numel() for c in conv_layers(downsample))
        mistakes["the projection shortcut (downsample: a 1x1 conv and a BatchNorm) is missing: this block "
                 f"changes the number of channels, so its shortcut has parameters too ({ds:,})."] = -ds
        # With the BatchNorms already forgotten, only the shortcut's conv is left to forget.
        mistakes["the projection shortcut's 1x1 convolution is missing: this block changes the number of "
                 f"channels, so its shortcut has weights too ({ds_convs:,})."] = -ds_convs
    return number_verdict(answer, count_params(block), what, slips=mistakes,
                          hint="Add conv weights C_in x C_out x k x k (/ groups), no conv biases, 2 x C per "
                                "BatchNorm, and the shortcut's projection if the block has one.")


def _output_hw(conv: nn.Conv2d, input_hw: tuple[int, int]) -> tuple[int, int]:
    """The height and width of ``conv``'s output on an image of ``input_hw`` pixels (shapes only, on "meta")."""
    x = torch.zeros(1, conv.in_channels, *input_hw, device="meta")
    return F.conv2d(x, conv.weight.to("meta"), None, conv.stride, conv.padding, conv.dilation, conv.groups).shape[-2:]


def conv_macs(conv: nn.Conv2d, input_hw: tuple[int, int]) -> int:
    """Multiply-adds of ``conv`` on one image of size ``input_hw``: output pixels x C_out x (C_in / groups) x k x k."""
    h, w = _output_hw(conv, input_hw)
    return h * w * conv.weight.numel()  # each weight is used once per output pixel


def check_conv_macs(answer: int | float | None, conv: nn.Conv2d, input_hw: tuple[int, int],
                    what: str = "the multiply-adds") -> Verdict:
    """Check a hand count of the multiply-adds (MACs) of ``conv`` on one image of ``input_hw`` pixels;
    the usual slips (FLOPs, the input's size, the k x k forgotten, the weights alone) are named."""
    expected = conv_macs(conv, input_hw)
    h_in, w_in = input_hw
    h, w = _output_hw(conv, input_hw)
    kh, kw = conv.kernel_size
    per_pixel = conv.weight.numel()
    named = {
        "that counts FLOPs: a multiply-add is 2 FLOPs (one multiplication, one addition); the question asks "
        "for multiply-adds.": 2 * expected,
        f"that uses the input's {h_in} x {w_in} pixels; the kernel is applied once per *output* pixel, and "
        f"with stride {conv.stride[0]} the output has {h} x {w}.": h_in * w_in * per_pixel,
        f"the kernel's {kh} x {kw} = {kh * kw} multiply-adds per input channel are missing.": expected // (kh * kw),
        "that is the number of weights (the parameters): each weight is used once per output pixel, so "
        f"multiply by {h} x {w}.": per_pixel,
        "that counts FLOPs over the input's pixels: halve it (multiply-adds) and use the output's size.":
            2 * h_in * w_in * per_pixel,
    }
    return number_verdict(answer, expected, what, wrong_values=named,
                          hint="output height x output width x C_out x C_in x k x k.")


# --- notebook 04: a bottleneck block from scratch ---


def reference_bottleneck(inplanes: int = 256, planes: int = 128, stride: int = 2) -> nn.Module:
    """The package's Bottleneck with torchvision's projection shortcut where the shape changes
    (default: the first block of ResNet-50's layer2, 256 -> 512 channels, 56x56 -> 28x28)."""
    out = planes * Bottleneck.expansion
    downsample = ConvProjection(inplanes, out, stride) if stride != 1 or inplanes != out else None
    return Bottleneck(inplanes, planes, stride, downsample)


def _bottleneck_branch(ref: nn.Module, x: Tensor, middle_relu: bool = True) -> Tensor:
    """F(x) of a reference bottleneck: conv1-bn1-ReLU, conv2-bn2-(ReLU), conv3-bn3."""
    out = torch.relu(ref.bn1(ref.conv1(x)))
    out = ref.bn2(ref.conv2(out))
    if middle_relu:
        out = torch.relu(out)
    return ref.bn3(ref.conv3(out))


def _bottleneck_shortcut(ref: nn.Module, x: Tensor) -> Tensor:
    return x if ref.downsample is None else ref.downsample(x)


BOTTLENECK_MISTAKES: dict[str, Mistake] = {
    "the ReLU after the addition is missing: the block's output is ReLU(F(x) + shortcut(x))":
        lambda ref, x: _bottleneck_branch(ref, x) + _bottleneck_shortcut(ref, x),
    "there is a ReLU before the addition: bn3's output is added to the shortcut *first*, then the ReLU "
    "(ReLU(F(x) + shortcut(x)), not ReLU(F(x)) + shortcut(x))":
        lambda ref, x: torch.relu(_bottleneck_branch(ref, x)) + _bottleneck_shortcut(ref, x),
    "there is a ReLU between bn3 and the addition: add bn3's output to the shortcut as it is (it may be "
    "negative), and apply the ReLU once, after the addition":
        lambda ref, x: torch.relu(torch.relu(_bottleneck_branch(ref, x)) + _bottleneck_shortcut(ref, x)),
    "the shortcut is never added: compute identity = downsample(x) (or x) and return ReLU(out + identity)":
        lambda ref, x: torch.relu(_bottleneck_branch(ref, x)),
    "the ReLU after bn2 is missing: conv1-bn1-ReLU, conv2-bn2-ReLU, conv3-bn3, then add and ReLU":
        lambda ref, x: torch.relu(_bottleneck_branch(ref, x, middle_relu=False) + _bottleneck_shortcut(ref, x)),
}


def check_bottleneck(student: nn.Module | None, inplanes: int = 256, planes: int = 128, stride: int = 2) -> Verdict:
    """Compare a student's bottleneck block with the package's ``Bottleneck(inplanes, planes, stride)``
    (default: ResNet-50's ``layer2[0]``): the convolutions one by one (kernel, channels, stride, bias), then the
    output with the reference's weights copied in."""
    name = "your bottleneck"
    x = torch.randn(2, inplanes, 8, 8, generator=torch.Generator().manual_seed(1))
    if (verdict := module_placeholder(student, name, x)) is not None:
        return verdict
    with seeded(0):
        reference = reference_bottleneck(inplanes, planes, stride)
    ref_convs, convs = conv_layers(reference), conv_layers(student)
    problems = []
    got, want = count_params(student), count_params(reference)
    if got != want:
        problems.append(f"{name} has {got:,} parameters, the package's block has {want:,} (difference "
                        f"{got - want:+,}).")
    if len(convs) != len(ref_convs):
        listing = "; ".join(_describe_conv(c) for c in ref_convs)
        problems.append(f"it has {len(convs)} convolutions; the block has {len(ref_convs)}, in this order: {listing}.")
        if len(convs) == len(ref_convs) - 1 and reference.downsample is not None:
            problems.append("the shortcut needs its own 1x1 convolution (with the block's stride) and BatchNorm, "
                            f"because the block changes {inplanes} channels into {planes * 4}"
                            + (" and halves the map" if stride != 1 else "") + ".")
    else:
        labels = ["conv1", "conv2", "conv3", "downsample's conv"]  # the reference has 3 or 4 convolutions
        for i, (mine, ref) in enumerate(zip(convs, ref_convs, strict=True)):
            label = labels[i]
            if (mine.kernel_size, mine.in_channels, mine.out_channels) != (ref.kernel_size, ref.in_channels,
                                                                            ref.out_channels):
                problems.append(f"{label} is a {_describe_conv(mine)}; expected a {_describe_conv(ref)}.")
            if mine.stride != ref.stride and i < 3:
                if i == 0 and mine.stride[0] == stride and convs[1].stride == (1, 1):
                    problems.append(
                        "the stride is on conv1, the first 1x1, as in the original Caffe ResNet-50 (\"v1\"). "
                        "torchvision's ResNet-50 (\"v1.5\") and this package put it on conv2, the 3x3: a 1x1 "
                        "convolution with stride 2 ignores three pixels out of four, while the 3x3 sees "
                        "them all (it costs more multiply-adds and is about 0.5% more accurate).")
                elif i != 0 or convs[1].stride == (1, 1):
                    problems.append(f"{label} has stride {mine.stride[0]}, expected {ref.stride[0]}: the stride "
                                    "belongs to conv2, the 3x3 convolution.")
            elif mine.stride != ref.stride:
                problems.append(f"{label} has stride {mine.stride[0]}; the shortcut must shrink the map like "
                                f"the branch does: stride {ref.stride[0]}.")
            if mine.bias is not None:
                problems.append(f"{label} has a bias: use bias=False, the BatchNorm after it has its own shift.")
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in student.modules())
    n_ref_bn = sum(isinstance(m, nn.BatchNorm2d) for m in reference.modules())
    if n_bn != n_ref_bn:
        problems.append(f"it has {n_bn} BatchNorm2d layers; every convolution is followed by one ({n_ref_bn} "
                        "in all, the shortcut's included).")
    if not problems:  # the layers are right: compare the forward passes
        problems = module_problems(student, reference, x, name, BOTTLENECK_MISTAKES,
                                   order_hint=" (conv1, bn1, conv2, bn2, conv3, bn3, downsample: conv, BN)")
    return conclude(problems, f"{name} matches the package's Bottleneck: same layers, {want:,} parameters, "
                              "same output.")


# --- notebook 04: projections on every shortcut (the paper's option C) ---


def all_projection_cost(model: nn.Module) -> int:
    """Parameters that projection shortcuts on *every* block (the paper's option C) would add to ``model``:
    a 1x1 convolution C -> C without bias and a BatchNorm (2 x C) for each block whose shortcut is the
    identity. Blocks that already have a ``downsample`` keep it."""
    widths = [block.conv1.in_channels for _, block in residual_blocks(model) if block.downsample is None]
    return sum(c * c + 2 * c for c in widths)


def check_all_projection_cost(answer: int | float | None, model_name: str = "resnet50") -> Verdict:
    """Check a hand count of what the paper's option C (projections on every shortcut) adds to
    ``model_name``; the usual slips are named."""
    with torch.device("meta"):  # only the shapes matter
        model = build_model(model_name)
    expected = all_projection_cost(model)
    blocks = [block for _, block in residual_blocks(model)]
    identity_blocks = [b for b in blocks if b.downsample is None]
    projected = [b for b in blocks if b.downsample is not None]
    channels = [b.conv1.in_channels for b in identity_blocks]
    inner = [b.conv1.out_channels for b in identity_blocks]
    mistakes = {
        "the BatchNorm after each projection is missing (2 parameters per channel).": -sum(2 * c for c in channels),
        f"the {len(projected)} blocks that start a stage already have a projection (their downsample); only "
        f"the {len(identity_blocks)} blocks with an identity shortcut get a new one.":
            sum(count_params(b.downsample) for b in projected),
        "a projection on an identity shortcut maps the block's *input and output* width (4 x planes, e.g. "
        "256 in layer1), not the bottleneck's inner width (planes, e.g. 64).":
            sum(p * p + 2 * p for p in inner) - expected,
        "a projection shortcut is a 1x1 convolution: C x C weights, not C x C x 3 x 3.":
            sum(8 * c * c for c in channels),
        "the projection convolutions have no bias (BatchNorm follows).": sum(channels),
    }
    return number_verdict(answer, expected, f"the parameters the paper's option C adds to {model_name}", slips=mistakes,
                          hint="For every block whose shortcut is the identity (not the first block of a stage): "
                                "a 1x1 conv C -> C (C x C weights) and a BatchNorm (2 x C), where C is the "
                                "block's input = output width.")
