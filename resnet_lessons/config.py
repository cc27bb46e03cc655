"""One place for the course's switches: fast mode, the device, and where data and caches live.

Fast mode runs the same code on a stratified subset of CIFAR-10, for fewer epochs, with shallower networks,
so that every notebook finishes in a few minutes on a laptop CPU. It is on when there is no GPU, unless
``RESNET_LESSONS_FAST=1`` or ``=0`` (CI sets 1) or ``rl.set_fast(True)`` decides. Only training length and
data size may depend on the mode (choose them with :func:`pick`), never what a notebook prints to compare.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

FAST_ENV = "RESNET_LESSONS_FAST"
DATA_ENV = "RESNET_LESSONS_DATA"
CACHE_ENV = "RESNET_LESSONS_CACHE"
CPU_BF16_ENV = "RESNET_LESSONS_CPU_BF16"
"""Set to 1 to train in bf16 autocast on a CPU that computes bf16 natively (see :func:`cpu_bf16`)."""
PROGRESS_ENV = "RESNET_LESSONS_PROGRESS"
"""Set to 0 to train without progress bars (:func:`show_progress`)."""
RESULTS_ENV = "RESNET_LESSONS_RESULTS"
"""Environment variable naming the results folder (default: the repository's ``results/``)."""
KNOWN_VARIABLES = (FAST_ENV, DATA_ENV, CACHE_ENV, CPU_BF16_ENV, PROGRESS_ENV, RESULTS_ENV,
                   "RESNET_LESSONS_VISDOM_PORT", "RESNET_LESSONS_COMMIT")
"""Every environment variable the package reads (the visdom port and the commit are read in ``lab/``)."""
REPO_DIR = Path(__file__).resolve().parents[1]
"""The folder that holds the package (a clone of the course: notebooks/, results/, ...)."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

T = TypeVar("T")


def _switch(name: str, default: str, on: str, off: str) -> bool:
    """The yes/no environment variable ``name`` (``default`` when unset); ``on`` and ``off`` say what 1 and 0 do."""
    value = os.environ.get(name, default).strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{name}={value!r} is not understood: use 1 ({on}) or 0 ({off}).")
    return value in _TRUE


def is_fast() -> bool:
    """True when fast mode is on: ``RESNET_LESSONS_FAST`` is 1/true/yes/on, or it is unset and there is no GPU."""
    if FAST_ENV not in os.environ:
        return get_device().type == "cpu"
    return _switch(FAST_ENV, "", "fast mode on", "off")


def cpu_bf16() -> bool:
    """True when ``RESNET_LESSONS_CPU_BF16`` asks for bf16 autocast on the CPU (off by default).

    Only CPUs with native bf16 (AVX-512 BF16 or AMX: recent server CPUs, rarely laptops) gain from it;
    elsewhere bf16 is emulated and slower, so asking for it there is refused with an error.
    """
    if not _switch(CPU_BF16_ENV, "0", "bf16 on the CPU", "fp32"):
        return False
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        raise ValueError(f"{CPU_BF16_ENV}=1, but this CPU has no native bf16 (AVX-512 BF16 or AMX): bf16 would "
                         f"be emulated and slower than fp32 here. Unset {CPU_BF16_ENV} to train in fp32.")
    return True


def set_fast(on: bool = True) -> None:
    """Switch fast mode on (True) or off (False) for this process (and the processes it starts)."""
    if not isinstance(on, bool):
        raise TypeError(f"set_fast takes True or False, not {on!r}: rl.set_fast(True) turns fast mode on, "
                        "rl.set_fast(False) turns it off.")
    os.environ[FAST_ENV] = "1" if on else "0"


def mode_reason() -> str:
    """Which mode is on, why, and how to change it, in one line for the environment report."""
    fast = is_fast()
    switch = "rl.set_fast(False) for full mode" if fast else "rl.set_fast(True) for fast mode"
    if FAST_ENV in os.environ:
        why = f"{FAST_ENV}={os.environ[FAST_ENV]} is set"
    else:
        why = "there is no GPU here" if fast else f"this machine has a GPU ({get_device().type})"
    return f"{'fast' if fast else 'full'} mode, because {why}; {switch}."


def unknown_variables() -> list[str]:
    """One line per ``RESNET_LESSONS_*`` (or ``RESNET_LESSON_*``) variable set here that the package does not
    read, naming the nearest one it does: a misspelt switch would otherwise be ignored without a word."""
    lines = []
    for name in sorted(os.environ):
        if name.startswith("RESNET_LESSON") and name not in KNOWN_VARIABLES:
            nearest = difflib.get_close_matches(name, KNOWN_VARIABLES, n=1, cutoff=0)[0]
            lines.append(f"{name} is not a variable resnet_lessons reads, so it changes nothing; did you mean "
                         f"{nearest}? (It reads {', '.join(KNOWN_VARIABLES)}.)")
    return lines


def warn_unknown_variables() -> None:
    """Warn once for each line of :func:`unknown_variables` (called when the package is imported)."""
    for line in unknown_variables():
        warnings.warn(line, stacklevel=2)


def pick(fast: T, full: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise, e.g. ``epochs = pick(2, 30)``."""
    return fast if is_fast() else full


def get_device(prefer: str | None = None) -> torch.device:
    """The best device here: CUDA, then Apple's MPS, then the CPU (or ``prefer`` if given)."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cache_dir() -> Path:
    """Folder for downloads and decoded tensors: ``$RESNET_LESSONS_CACHE`` or ``~/.cache/resnet_lessons``."""
    root = os.environ.get(CACHE_ENV)
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "resnet_lessons"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_results_dir() -> Path:
    """``$RESNET_LESSONS_RESULTS``, else the first ``results/`` found: the repository's (next to the
    package), the current folder's, or its parent's (notebooks run in ``notebooks/``)."""
    env = os.environ.get(RESULTS_ENV)
    if env:
        return Path(env).expanduser()
    candidates = [REPO_DIR / "results", Path.cwd() / "results", Path.cwd().parent / "results"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def data_dir() -> Path | None:
    """The data folder named by ``$RESNET_LESSONS_DATA``, or None when the variable is unset."""
    root = os.environ.get(DATA_ENV)
    return Path(root).expanduser() if root else None


def cpu_threads() -> int:
    """How many threads a CPU run uses: the cores the process may run on, shared out among
    ``PYTEST_XDIST_WORKER_COUNT`` processes (nbval runs notebooks in N parallel kernels under ``pytest -n N``,
    and they inherit it), so N kernels do not fight over the cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        cores = os.cpu_count() or 1
    sharing = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, cores // max(1, sharing))


def set_cpu_threads() -> int:
    """Use :func:`cpu_threads` threads for intra-op work; returns the thread count."""
    torch.set_num_threads(cpu_threads())
    return torch.get_num_threads()


def show_progress() -> bool:
    """False when ``RESNET_LESSONS_PROGRESS`` is 0/false/no/off (no progress bars); True when it is unset or
    1/true/yes/on. The command line's ``--no-progress`` sets it for its process; the tests set it off."""
    return _switch(PROGRESS_ENV, "1", "progress bars", "none")


def set_progress(on: bool = True) -> None:
    """Show (True) or hide (False) fit's progress bars in this process, as ``RESNET_LESSONS_PROGRESS`` would."""
    if not isinstance(on, bool):
        raise TypeError(f"set_progress takes True or False, not {on!r}.")
    os.environ[PROGRESS_ENV] = "1" if on else "0"


# --- the process settings fit uses: precision, and switches it turns on while it trains ---


def amp_dtype_for(device: torch.device) -> torch.dtype | None:
    """Autocast precision: bf16 on GPUs that compute in it natively (Ampere, 2020, and newer),
    fp16 on older GPUs such as Colab's T4 (with a gradient scaler), None (fp32) on the CPU unless
    ``RESNET_LESSONS_CPU_BF16=1`` asks for bf16 (:func:`cpu_bf16`).

    The CPU default is fp32 on purpose: most laptop CPUs emulate bf16 slowly, and a fast-mode run whose
    precision depended on the CPU would no longer be the run whose seed-to-seed noise the course measured.
    """
    if device.type == "cpu":
        return torch.bfloat16 if cpu_bf16() else None
    if device.type != "cuda":
        return None
    major, _minor = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


def apply_process_settings(device: torch.device, compiling: bool) -> Callable[[], None]:
    """Every process-wide switch that fit changes, in one place. Returns a function that puts them back
    (fit calls it when training ends, however it ends):

    - on the CPU, torch's thread count (:func:`set_cpu_threads`);
    - on a GPU, cuDNN's autotuner (time the convolution algorithms once per shape, keep the fastest) and
      TF32 matrix products (tensor cores for fp32 work, about 3 significant digits instead of 7);
    - when compiling, PyTorch's recompile limit: by default it keeps 8 compiled versions of a function and
      then silently stops compiling; a notebook's worth of runs needs more.

    (The random seed is not put back: fit calls ``torch.manual_seed(seed)`` when a run starts afresh.)
    """
    dynamo_config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(dynamo_config, "recompile_limit") else "cache_size_limit"
    saved = {
        "threads": torch.get_num_threads(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_tf32": torch.backends.cudnn.allow_tf32,
        "recompile_limit": getattr(dynamo_config, limit),
    }
    if device.type == "cpu":
        set_cpu_threads()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if compiling:
        setattr(dynamo_config, limit, max(saved["recompile_limit"], 64))

    def restore() -> None:
        torch.set_num_threads(saved["threads"])
        torch.backends.cudnn.benchmark = saved["cudnn_benchmark"]
        torch.backends.cuda.matmul.allow_tf32 = saved["matmul_tf32"]
        torch.backends.cudnn.allow_tf32 = saved["cudnn_tf32"]
        setattr(dynamo_config, limit, saved["recompile_limit"])

    return restore
