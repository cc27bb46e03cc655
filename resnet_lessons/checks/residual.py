"""Checkers for notebooks 01 (plain networks) and 02 (residual learning): plain and residual blocks against
the package's, layers and blocks that are the identity, and the gradient through a shortcut."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..models import BasicBlock, PlainBasicBlock
from .core import (
    TODO,
    Mistake,
    Verdict,
    conclude,
    conv_layers,
    copy_for_checking,
    module_placeholder,
    module_problems,
    not_answered,
    placeholder,
    right,
    run_module,
    seeded,
    wrong,
)

# --- comparing a student's block with the package's, and naming the mistake ---


def _branch(ref: nn.Module, x: Tensor, middle_relu: bool = True) -> Tensor:
    """conv1 -> bn1 -> (ReLU) -> conv2 -> bn2 of a reference block: the residual branch F(x)."""
    out = ref.bn1(ref.conv1(x))
    if middle_relu:
        out = torch.relu(out)
    return ref.bn2(ref.conv2(out))


BASIC_BLOCK_MISTAKES: dict[str, Mistake] = {
    "the input x is never added: a residual block computes ReLU(F(x) + x), so add the shortcut "
    "(`out = out + identity`) just before the last ReLU":
        lambda ref, x: torch.relu(_branch(ref, x)),
    "the last ReLU comes before the addition: the paper adds first and then applies ReLU, "
    "ReLU(F(x) + x), not ReLU(F(x)) + x":
        lambda ref, x: torch.relu(_branch(ref, x)) + x,
    "the ReLU after the addition is missing: the block's output is ReLU(F(x) + x)":
        lambda ref, x: _branch(ref, x) + x,
    "the ReLU between the two convolutions is missing: F(x) = BN(conv(ReLU(BN(conv(x)))))":
        lambda ref, x: torch.relu(_branch(ref, x, middle_relu=False) + x),
}

PLAIN_BLOCK_MISTAKES: dict[str, Mistake] = {
    "the input x is added to the output: that is a residual block; a plain block has no shortcut":
        lambda ref, x: torch.relu(_branch(ref, x) + x),
    "the last ReLU is missing: a plain block is conv-BN-ReLU twice":
        lambda ref, x: _branch(ref, x),
    "the ReLU between the two convolutions is missing: a plain block is conv-BN-ReLU twice":
        lambda ref, x: torch.relu(_branch(ref, x, middle_relu=False)),
}


def _compare_block(student: object, block_class: type[nn.Module], in_channels: int, channels: int, name: str,
                   mistakes: dict[str, Mistake]) -> Verdict:
    """Compare ``student`` with ``block_class(in_channels, channels)`` (:func:`.core.module_problems`); a wrong
    output is matched against the known ``mistakes``."""
    with seeded(0):
        reference = block_class(in_channels, channels)
    x = torch.rand(2, in_channels, 8, 8, generator=torch.Generator().manual_seed(1))
    if (verdict := module_placeholder(student, name, x)) is not None:
        return verdict
    problems = module_problems(student, reference, x, name, mistakes, order_hint=" (conv1, bn1, conv2, bn2)",
                               count_hint="two 3x3 convolutions without bias, each followed by a BatchNorm2d.")
    return conclude(problems, f"{name} matches the package's block: same parameters, same output.")


def check_plain_block(student: nn.Module | None, in_channels: int = 16, channels: int = 16) -> Verdict:
    """Compare a student's plain block (conv3x3-BN-ReLU twice, no shortcut) with the package's
    ``PlainBasicBlock(in_channels, channels)``; its layers must be registered as conv1, bn1, conv2, bn2."""
    return _compare_block(student, PlainBasicBlock, in_channels, channels, "your plain block", PLAIN_BLOCK_MISTAKES)


def check_basic_block(student: nn.Module | None, in_channels: int = 16, channels: int = 16) -> Verdict:
    """Compare a student's residual block, ReLU(F(x) + x) with F = conv3x3-BN-ReLU-conv3x3-BN, with the
    package's ``BasicBlock(in_channels, channels)``; the usual mistakes are named."""
    return _compare_block(student, BasicBlock, in_channels, channels, "your residual block", BASIC_BLOCK_MISTAKES)


# --- identities ---


def _nonnegative_input(channels: int) -> Tensor:
    """What a layer inside a ReLU network receives: non-negative activations [4, C, 8, 8]."""
    return torch.relu(torch.randn(4, channels, 8, 8, generator=torch.Generator().manual_seed(2)))


def _same(a: Tensor, b: Tensor) -> bool:
    """Equal up to float32 rounding. Stricter than it looks: a fresh BatchNorm in eval mode divides by
    sqrt(1 + eps), a relative change of 5e-6, and does not pass."""
    return torch.allclose(a, b, rtol=1e-6, atol=1e-6)


def _as_built(module: nn.Module) -> bool:
    """True when no weight of ``module`` has been set by hand yet: every BatchNorm holds its initial
    values (weight 1, bias 0, running mean 0, running variance 1) and no weight tensor is all zeros or a
    Dirac (copying) kernel. Used to tell an exercise not started yet from a wrong answer."""
    batchnorms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in batchnorms:
        if bn.affine and not (torch.all(bn.weight == 1) and torch.all(bn.bias == 0)):
            return False
        if bn.track_running_stats and not (torch.all(bn.running_mean == 0) and torch.all(bn.running_var == 1)):
            return False
    for conv in conv_layers(module):
        w = conv.weight.detach()
        copies = w.shape[0] == w.shape[1] and torch.equal(w, nn.init.dirac_(torch.empty_like(w)))
        if copies or not w.any():
            return False
    return bool(batchnorms)


def check_identity_layer(layer: nn.Module | None, channels: int = 16) -> Verdict:
    """Check that a conv-BN-ReLU layer passes non-negative inputs through unchanged (in eval mode).

    This is the construction behind the degradation argument: a deeper plain net could copy a shallower
    one and make its extra layers identities. The verdict says which part is not the identity yet.
    """
    name = "your layer"
    if (verdict := placeholder(layer, name)) is not None:
        return verdict
    if not isinstance(layer, nn.Module):
        return wrong(f"{name} should be an nn.Module, got {type(layer).__name__}.")
    layer = copy_for_checking(layer).eval()  # the identity is asked for in eval mode; the student's layer is kept
    x = _nonnegative_input(channels)
    out, failure = run_module(layer, x, name)
    if failure:
        return wrong(failure)
    if out.shape != x.shape:
        return wrong(f"its output has shape {tuple(out.shape)}; an identity keeps the shape {tuple(x.shape)} "
                     "(3x3 convolution with padding=1, stride 1, as many output channels as inputs).")
    if _same(out, x):
        return right(f"{name} returns its (non-negative) input unchanged in eval mode.")
    if _as_built(layer):
        return not_answered(f"{name} is still as it was built (a random convolution, a BatchNorm with its initial "
                            f"values): set their parameters so that the layer returns x, then {TODO}.")
    gap = (out - x).abs().max().item()
    problems = [f"in eval mode it changes the input by up to {gap:.2g}."]
    with torch.no_grad():
        for m in layer.modules():
            if isinstance(m, nn.Conv2d) and m.weight.shape[0] == m.weight.shape[1] == channels:
                y = m(x)
                if y.shape == x.shape and not _same(y, x):
                    problems.append("the convolution alone changes x: its kernel must copy channel c to channel "
                                    "c (1 at the centre of weight[c, c], 0 everywhere else: "
                                    "`nn.init.dirac_`), and its bias, if any, must be 0.")
            if isinstance(m, nn.BatchNorm2d) and m.num_features == channels:
                if not _same(m(x), x):
                    problems.append("the BatchNorm alone changes x: in eval mode it computes "
                                    "(x - running_mean) / sqrt(running_var + eps) * weight + bias, so choose "
                                    "weight = sqrt(running_var + eps) and bias = running_mean.")
    return wrong(*problems)


def check_block_is_identity(block: nn.Module | None, channels: int = 16) -> Verdict:
    """Check that a residual block computes exactly x for non-negative x, in training and in eval
    mode (the usual way: zero the last BatchNorm's weight, as torchvision's ``zero_init_residual`` does)."""
    name = "your block"
    if (verdict := placeholder(block, name)) is not None:
        return verdict
    if not isinstance(block, nn.Module):
        return wrong(f"{name} should be an nn.Module, got {type(block).__name__}.")
    x = _nonnegative_input(channels)
    problems = []
    for mode in ("training", "eval"):
        out, failure = run_module(copy_for_checking(block), x, name, train=mode == "training")
        if failure:
            problems.append(failure)
            break
        if out.shape != x.shape:
            problems.append(f"in {mode} mode its output has shape {tuple(out.shape)}, not {tuple(x.shape)}.")
            continue
        gap = (out - x).abs().max().item()
        if gap > 1e-5:
            problems.append(f"in {mode} mode block(x) differs from x by up to {gap:.2g}: the residual branch "
                            "F(x) is not zero yet. Which single parameter multiplies the whole branch's output "
                            "just before the addition?")
    if problems and _as_built(block):
        return not_answered(f"{name} is still as it was built (its BatchNorms hold their initial values, no weight "
                            f"is zero): change one of its tensors so that block(x) == x, then {TODO}.")
    if problems:
        return wrong(*problems)
    # Biases start at zero anyway; the weights say how the student switched the branch off.
    zeroed = [n for n, p in block.named_parameters() if n.endswith("weight") and not p.detach().any()]
    how = f" (all-zero weights: {', '.join(zeroed)})" if zeroed else ""
    note = ""
    if zeroed and set(zeroed) != {"bn2.weight"}:
        note = (" It works, but zeroing only bn2.weight (as torchvision's zero_init_residual does) keeps the "
                "convolutions random, so the branch starts learning as soon as bn2.weight moves.")
    return right(f"{name} is exactly the identity in training and eval mode{how}.{note}")


# --- gradients ---


def check_shortcut_gradient(answer: Tensor | None, W: Tensor, g: Tensor) -> Verdict:
    """Check a hand-computed dL/dx for H(x) = F(x) + x with F(x) = W x, given dL/dH = g: the right
    answer is g + Wᵀ g; dropping the identity, or forgetting the transpose, is named."""
    what = "your dL/dx"
    if (verdict := placeholder(answer, what)) is not None:
        return verdict
    if not isinstance(answer, Tensor):
        return wrong(f"{what} should be a torch tensor, got {type(answer).__name__}.")
    x = torch.zeros(W.shape[1], requires_grad=True)
    (expected,) = torch.autograd.grad(W @ x + x, x, grad_outputs=g)  # autograd's answer
    if answer.shape != expected.shape:
        return wrong(f"{what} has shape {tuple(answer.shape)}; it must have the shape of x, {tuple(expected.shape)}.")
    answer = answer.detach().float()
    if torch.allclose(answer, expected, atol=1e-5):
        return right(f"{what} = g + Wᵀg matches autograd: the shortcut passes g through unchanged, the branch adds "
                     "Wᵀg.")
    known = {
        "you dropped the identity term: H = F(x) + x, so dH/dx = W + I and the shortcut contributes g itself.":
            W.T @ g,
        "the Jacobian needs a transpose: for vectors, dL/dx = (dH/dx)ᵀ dL/dH = (W + I)ᵀ g = g + Wᵀ g.":
            g + W @ g,
        "you dropped the identity term, and the Jacobian needs a transpose: dL/dx = g + Wᵀ g.": W @ g,
        "that is dL/dH itself: the branch F(x) = W x contributes too, so add Wᵀ g.": g,
    }
    for message, value in known.items():
        if torch.allclose(answer, value, atol=1e-5):
            return wrong(message)
    gap = (answer - expected).abs().max().item()
    return wrong(f"{what} differs from autograd's by up to {gap:.3g}. Use the chain rule: dL/dx = (dH/dx)ᵀ dL/dH "
                 "with dH/dx = W + I.")
