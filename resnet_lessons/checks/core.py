"""Shared tools for the exercise checkers: the verdict (printed in words, so it reads the same without an emoji
font), the placeholder tests, the verdict on a number, and the comparison of a student's module with the
package's (BatchNorm randomised, eval and train mode)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations

import torch
from torch import Tensor, nn


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside the block, torch's global generator starts from ``seed`` (the same verdict every time); after it,
    the caller's generator is back where it was, so a check cell never resets a student's own seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


#: A known wrong forward pass, computed from the reference's own layers: (reference, x) -> output.
Mistake = Callable[[nn.Module, Tensor], Tensor]


@dataclass
class Verdict:
    """The outcome of a check: ``ok``, the reasons when it is not, and whether the exercise was answered."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    success: str = "your answer is right."
    answered: bool = True

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        """Show nothing when a verdict is the last value of a notebook cell: ``report()`` printed it already
        (nbval runs cells with ``store_history=False``, where IPython ignores a trailing ``;``)."""

    def report(self) -> Verdict:
        """Print the verdict for the student and return it."""
        if self.ok:
            print(f"Correct: {self.success}")
        elif not self.answered:
            print(f"Not answered yet: {' '.join(self.problems)}")
        else:
            print("Not yet:")
            for problem in self.problems:
                print(f"   - {problem}")
        return self


def right(success: str) -> Verdict:
    """Print and return a passing verdict."""
    return Verdict(True, success=success).report()


def wrong(*problems: str) -> Verdict:
    """Print and return a failing verdict with ``problems``, one sentence each."""
    return Verdict(False, list(problems)).report()


def not_answered(what_to_do: str) -> Verdict:
    """Print and return the verdict for an exercise that still holds its placeholder."""
    return Verdict(False, [what_to_do], answered=False).report()


def conclude(problems: list[str], success: str) -> Verdict:
    """``wrong(*problems)`` when there are any, else ``right(success)``."""
    return wrong(*problems) if problems else right(success)


# --- placeholders: the exercise cell was not filled in yet ---

TODO = "fill in the exercise cell above, run it, then run this cell again"


def placeholder(answer: object, what: str) -> Verdict | None:
    """The "not answered yet" verdict when ``answer`` is still None or ``...``, else None."""
    if answer is None or answer is ...:
        shown = "None" if answer is None else "..."
        return not_answered(f"{what} is still {shown}: {TODO}.")
    return None


def function_placeholder(answer: object, name: str, signature: str) -> Verdict | None:
    """The verdict when ``answer`` is still None or ``...`` (not answered yet) or is not a function
    (``signature`` says how it is called, e.g. "f(x, out_channels, stride)"); else None."""
    if (verdict := placeholder(answer, name)) is not None:
        return verdict
    if not callable(answer):
        return wrong(f"{name} should be a function {signature}, got {type(answer).__name__}.")
    return None


def module_placeholder(student: object, name: str, x: Tensor) -> Verdict | None:
    """The verdict when ``student`` is not a module to compare yet, else None: "not answered yet" for None,
    ``...`` and a module that has no weights and returns ``x`` as it is (the exercise's class with
    ``forward`` still ``return x``) or None; "not yet" for anything that is not an ``nn.Module``."""
    if (verdict := placeholder(student, name)) is not None:
        return verdict
    if not isinstance(student, nn.Module):
        return wrong(f"{name} should be an nn.Module (an instance of your class), got {type(student).__name__}.")
    if any(True for _ in student.parameters()):
        return None
    try:
        with torch.no_grad():
            out = copy_for_checking(student).eval()(x.clone())
    except Exception:  # a half-written module: let the full check describe the failure
        return None
    if out is None or (isinstance(out, Tensor) and out.shape == x.shape and torch.equal(out, x)):
        return not_answered(f"{name} has no layers yet and does not change its input: write its __init__ and "
                            f"forward, then {TODO}.")
    return None


# --- numbers ---


def as_number(answer: object) -> int | float | None:
    """``answer`` as a Python int or float: Python numbers, NumPy scalars and one-element tensors or
    arrays (``np.int64(391)``, ``torch.tensor(391)``) are accepted; True/False and anything else give None."""
    if hasattr(answer, "item") and getattr(answer, "shape", None) in ((), (1,)):
        try:
            answer = answer.item()
        except (TypeError, ValueError, RuntimeError):
            return None
    return answer if isinstance(answer, int | float) and not isinstance(answer, bool) else None


def explain_difference(answer: float, expected: float, mistakes: dict[str, int], most: int = 3) -> list[str]:
    """Which of the known ``mistakes`` (message -> the amount it adds to the right answer) explain
    ``answer``: the messages of the smallest combination, up to ``most`` at once, whose amounts add up to
    ``answer - expected``; an empty list when none does."""
    gap = answer - expected
    items = [(message, offset) for message, offset in mistakes.items() if offset != 0]
    for k in range(1, most + 1):
        for combo in combinations(items, k):
            if sum(offset for _, offset in combo) == gap:
                return [message for message, _ in combo]
    return []


def number_verdict(answer: object, expected: float, what: str, *, hint: str = "", rel: float = 0.0,
                   wrong_values: dict[str, float] | None = None, slips: dict[str, int] | None = None) -> Verdict:
    """The verdict on a number the student worked out: right within ``rel`` of ``expected`` (the success message
    does not repeat the value). A wrong answer is named when it equals one of ``wrong_values`` (message -> the
    wrong value that mistake gives) or is off by a combination of ``slips`` (message -> the amount that slip
    adds); otherwise it is too high or too low, with the ``hint``."""
    if (verdict := placeholder(answer, f"your value for {what}")) is not None:
        return verdict
    value = as_number(answer)
    if value is None:
        return wrong(f"{what} should be a number, got {type(answer).__name__}.")
    if abs(value - expected) <= rel * abs(expected):
        return right(f"your value for {what} is right.")
    for message, wrong_value in (wrong_values or {}).items():
        if wrong_value != expected and value == wrong_value:
            return wrong(f"{what}: {value:,} is not it: {message}")
    direction = "too high" if value > expected else "too low"
    explained = explain_difference(value, expected, slips or {})
    if explained:
        these = "this slip makes" if len(explained) == 1 else "these slips make together"
        return wrong(f"{what}: {value:,} is {direction} by {abs(value - expected):,}, exactly the difference "
                     f"{these}:", *explained)
    return wrong(f"{what}: {value:,} is {direction}." + (f" Hint: {hint}" if hint else ""))


def check_number(answer: object, expected: float, what: str, rel: float = 0.0, hint: str = "") -> Verdict:
    """Check a number the student computed by hand (e.g. a parameter count)."""
    return number_verdict(answer, expected, what, hint=hint, rel=rel)


# --- modules ---


def count_params(module: nn.Module) -> int:
    """Number of learnable values in ``module``."""
    return sum(p.numel() for p in module.parameters())


def randomise_batchnorm(module: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm of ``module`` non-trivial weights, biases and running statistics, in place.

    A fresh BatchNorm in eval mode is almost the identity (mean 0, variance 1, weight 1, bias 0), so a
    block with a BatchNorm or a ReLU in the wrong place could not be told apart from the right one.
    The biases are mostly negative, so that where a ReLU sits matters too.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                if m.affine:
                    m.weight.copy_(0.5 + torch.rand(c, generator=g))
                    m.bias.copy_(torch.rand(c, generator=g) - 0.6)
                if m.track_running_stats:
                    m.running_mean.copy_(torch.rand(c, generator=g) * 0.4 - 0.2)
                    m.running_var.copy_(0.5 + torch.rand(c, generator=g))


def copy_weights_by_order(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy ``source``'s parameters and buffers into ``target`` in registration order, so that a student's
    block can be compared with the reference whatever its layers' names. Returns the problems (empty when every
    tensor matched in shape)."""
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


def copy_for_checking(module: nn.Module) -> nn.Module:
    """A deep copy of ``module``, so that a check never changes the student's own (the module itself
    if it cannot be copied)."""
    try:
        return copy.deepcopy(module)
    except Exception:  # an exotic module that cannot be copied: use it as it is
        return module


def run_module(module: nn.Module, x: Tensor, name: str, train: bool = False) -> tuple[Tensor | None, str | None]:
    """``module``'s output on ``x`` without gradients (eval mode unless ``train``), or the failure in words.
    The module is left in the mode it was in; in train mode its BatchNorms update their running statistics."""
    was_training = module.training
    try:
        with torch.no_grad():
            out = module.train(train)(x)
    except Exception as e:  # a student's forward may fail in any way; say how, in words
        return None, f"calling {name} on an input of shape {tuple(x.shape)} failed: {type(e).__name__}: {e}"
    finally:
        module.train(was_training)
    if not isinstance(out, Tensor):
        return None, f"{name} returned {type(out).__name__}, not a tensor: does `forward` end with `return`?"
    return out, None


def conv_layers(module: nn.Module) -> list[nn.Conv2d]:
    """The convolutions of ``module`` in registration order."""
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _weighted_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers that hold weights (conv, BN, linear, ...), by name, in registration order."""
    return [(name, m) for name, m in module.named_modules() if next(m.parameters(recurse=False), None) is not None]


def _layer_inputs(module: nn.Module, x: Tensor, train: bool) -> dict[int, Tensor]:
    """The input each weighted layer receives on its first call, by registration index, in the order of the calls."""
    index_of = {layer: i for i, (_, layer) in enumerate(_weighted_layers(module))}
    seen: dict[int, Tensor] = {}

    def hook(layer: nn.Module, args: tuple) -> None:
        if index_of[layer] not in seen and args and isinstance(args[0], Tensor):
            seen[index_of[layer]] = args[0].detach().clone()

    handles = [layer.register_forward_pre_hook(hook) for layer in index_of]
    try:
        run_module(module, x, "", train)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _where_it_differs(student: nn.Module, reference: nn.Module, x: Tensor, train: bool, atol: float) -> str:
    """In words: the first layer (in the reference's order) whose input differs from the reference's."""
    mine, theirs = _weighted_layers(student), _weighted_layers(reference)
    if len(mine) != len(theirs):
        return "check the order of operations (conv, BN, ReLU, the addition, the last ReLU)."
    got = _layer_inputs(student, x, train)
    want = _layer_inputs(reference, x, train)
    previous = "the input x"
    for index in want:  # in the reference's order of calls
        name = mine[index][0]
        layer = f"`{name}` ({type(mine[index][1]).__name__})"
        if index not in got:
            return f"{layer} is never used in forward; in the reference it comes after {previous}."
        if got[index].shape != want[index].shape or not torch.allclose(got[index], want[index], atol=atol):
            return (f"{layer} is the first layer that receives something else than in the reference: check the "
                    f"order of operations between {previous} and `{name}`.")
        previous = f"`{name}`"
    return (f"every layer receives the same input as in the reference, so the difference comes after {previous}: "
            "check the order of operations at the end (the addition of the shortcut, the last ReLU).")


def compare_outputs(student: nn.Module, reference: nn.Module, x: Tensor, name: str,
                    mistakes: dict[str, Mistake] | None = None, atol: float = 1e-5, rtol: float = 1e-5,
                    order_hint: str = "") -> list[str]:
    """Copy ``reference``'s weights into a copy of ``student`` (in registration order) and compare the outputs;
    neither module is changed.

    The reference's BatchNorms are randomised first, so the order of convolutions, BatchNorms and ReLUs matters;
    the outputs are compared in eval mode and, with BatchNorm, in train mode too. A wrong eval-mode output is
    matched against the known ``mistakes``, else the first layer whose input differs is named. Returns the problems.
    """
    reference = copy.deepcopy(reference)
    randomise_batchnorm(reference)
    student = copy_for_checking(student)
    copy_problems = copy_weights_by_order(reference, student)
    if copy_problems:
        return [f"its layers do not line up with the reference's{order_hint}, so the weights cannot be copied "
                f"across: {problem}" for problem in copy_problems]
    has_batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in reference.modules())
    modes = (False, True) if has_batchnorm else (False,)
    for train in modes:
        mode = "train" if train else "eval"
        expected, _ = run_module(reference, x, "the reference", train)
        out, failure = run_module(student, x, name, train)
        if failure:
            return [f"in {mode} mode, {failure}"]
        if out.shape != expected.shape:
            return [f"in {mode} mode its output has shape {tuple(out.shape)}, expected {tuple(expected.shape)}."]
        if torch.allclose(out, expected, atol=atol, rtol=rtol):
            continue
        if not train:
            with torch.no_grad():
                for message, mistake in (mistakes or {}).items():
                    if torch.allclose(out, mistake(reference.eval(), x), atol=atol, rtol=rtol):
                        return [message + "."]
        gap = (out - expected).abs().max().item()
        where = _where_it_differs(student, reference, x, train, atol)
        return [f"with the reference's weights copied in, its output in {mode} mode differs by up to {gap:.3g}: "
                f"{where}"]
    return []


def module_problems(student: nn.Module, reference: nn.Module, x: Tensor, name: str,
                    mistakes: dict[str, Mistake] | None = None, count_hint: str = "", order_hint: str = "",
                    atol: float = 1e-5, rtol: float = 1e-5) -> list[str]:
    """Everything that differs between ``student`` and ``reference`` on input ``x``, in words: the parameter
    count (with ``count_hint``), a failing forward, the output shape, then the outputs with copied weights
    (:func:`compare_outputs`). Empty when they agree."""
    problems = []
    got, want = count_params(student), count_params(reference)
    if got != want:
        problems.append(f"{name} has {got:,} parameters, the reference has {want:,} (difference {got - want:+,})"
                        + (f": {count_hint}" if count_hint else "."))
    out, failure = run_module(copy_for_checking(student), x, name)
    if failure:
        return problems + [failure]
    expected, _ = run_module(copy_for_checking(reference), x, "the reference")
    if out.shape != expected.shape:
        problems.append(f"its output has shape {tuple(out.shape)}, expected {tuple(expected.shape)}.")
    return problems or compare_outputs(student, reference, x, name, mistakes, atol, rtol, order_hint)


def check_module(student: nn.Module | None, reference: nn.Module, input_shape: tuple[int, ...],
                 name: str = "your module", atol: float = 1e-5) -> Verdict:
    """Compare ``student`` with ``reference`` on a random input of ``input_shape``: parameter count, output
    shape, and the output with the reference's weights copied in (:func:`compare_outputs`), so that a BatchNorm or
    ReLU in the wrong place is found and the first layer that sees a different input is named."""
    x = torch.rand(input_shape, generator=torch.Generator().manual_seed(1))
    if (verdict := module_placeholder(student, name, x)) is not None:
        return verdict
    problems = module_problems(student, reference, x, name, atol=atol, rtol=atol)
    return conclude(problems, f"{name} matches the reference.")
