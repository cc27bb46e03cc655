"""Shared tools for the exercise checkers: compare modules by structure, parameters and output."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Verdict:
    """The outcome of a check: ``ok`` and the reasons when it is not."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    success: str = "Correct!"

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        """Show nothing when a verdict is the last value of a notebook cell: ``report()`` printed it already.

        Without this, ``check_x(answer);`` would also show the object's repr whenever the trailing ``;``
        is not honoured (nbval runs cells with ``store_history=False``, and IPython then cannot see it).
        """

    def report(self) -> Verdict:
        """Print the verdict for the student and return it."""
        if self.ok:
            print(f"✅ {self.success}")
        else:
            print("❌ Not yet:")
            for problem in self.problems:
                print(f"   - {problem}")
        return self


def count_params(module: nn.Module) -> int:
    """Number of learnable values in ``module``."""
    return sum(p.numel() for p in module.parameters())


def copy_weights_by_order(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy ``source``'s parameters and buffers into ``target`` in registration order.

    Lets a student's block be compared with the reference even when its layers have other names.
    Returns a list of problems (empty when every tensor matched in shape).
    """
    src = list(source.state_dict().values())
    dst_state = target.state_dict()
    if len(src) != len(dst_state):
        return [f"it has {len(dst_state)} weight and buffer tensors, the reference has {len(src)}"]
    problems = []
    for (name, dst), value in zip(dst_state.items(), src, strict=True):
        if dst.shape != value.shape:
            problems.append(f"`{name}` has shape {tuple(dst.shape)}, expected {tuple(value.shape)}")
    if not problems:
        target.load_state_dict(dict(zip(dst_state, (v.clone() for v in src), strict=True)))
    return problems


def check_module(student: nn.Module | None, reference: nn.Module, input_shape: tuple[int, ...],
                 name: str = "your module", atol: float = 1e-5) -> Verdict:
    """Compare ``student`` with ``reference``: parameter count, output shape, and output on copied weights.

    Both modules are put in eval mode for the output comparison, so BatchNorm uses its running
    statistics and the comparison is deterministic.
    """
    if student is None or student is ...:
        return Verdict(False, [f"{name} is still a placeholder: fill in the exercise cell first."]).report()
    if not isinstance(student, nn.Module):
        return Verdict(False, [f"{name} should be an nn.Module, got {type(student).__name__}."]).report()
    problems = []
    got, want = count_params(student), count_params(reference)
    if got != want:
        problems.append(f"{name} has {got:,} parameters, the reference has {want:,} "
                        f"(difference {got - want:+,}).")
    x = torch.rand(input_shape)
    try:
        with torch.no_grad():
            out = student.eval()(x)
    except Exception as e:  # a student's forward may fail in any way; report it in words
        return Verdict(False, problems + [f"calling {name} on an input of shape {tuple(input_shape)} "
                                          f"failed: {type(e).__name__}: {e}"]).report()
    with torch.no_grad():
        expected = reference.eval()(x)
    if out.shape != expected.shape:
        problems.append(f"its output has shape {tuple(out.shape)}, expected {tuple(expected.shape)}.")
    elif not problems:
        copy_problems = copy_weights_by_order(reference, student)
        if copy_problems:
            problems += copy_problems
        else:
            with torch.no_grad():
                out = student(x)
            if not torch.allclose(out, expected, atol=atol):
                gap = (out - expected).abs().max().item()
                problems.append(f"with the reference's weights copied in, its output differs by up to {gap:.3g}: "
                                "check the order of operations (conv, BN, ReLU, the addition, the last ReLU).")
    return Verdict(not problems, problems, success=f"{name} matches the reference.").report()


def check_number(answer: float | int | None, expected: float | int, what: str, rel: float = 0.0,
                 hint: str = "") -> Verdict:
    """Check a number the student computed by hand (e.g. a parameter count)."""
    if answer is None or answer is ...:
        return Verdict(False, [f"fill in your value for {what} first."]).report()
    if not isinstance(answer, int | float):
        return Verdict(False, [f"{what} should be a number, got {type(answer).__name__}."]).report()
    if abs(answer - expected) <= rel * abs(expected):
        return Verdict(True, success=f"{what} = {expected:,} is right.").report()
    direction = "too high" if answer > expected else "too low"
    problems = [f"{what}: {answer:,} is {direction}." + (f" Hint: {hint}" if hint else "")]
    return Verdict(False, problems).report()
