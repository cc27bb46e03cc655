"""The live experiments of the notebooks: what each one trains, in fast mode and in full mode.

A live run is the student's own evidence, so even fast mode (a laptop CPU, about two minutes of training) must
show the lesson's effect above the run-to-run noise: ``benchmarks/fast_mode_signal.py`` measured the sizes
below over several seeds and stored the effect and its standard deviation in
``results/fast_mode_signal/<label>.json``. A notebook takes its runs and their data::

    runs = live_plan("01")               # fast or full, by rl.is_fast(): one Run per network
    data = live_data(runs)               # the subset, average-pooled to 16x16 in fast mode

trains them as :mod:`resnet_lessons.plans` shows, and says what its comparison shows with :func:`signal_verdict`
or :func:`verdict`, never a hand-typed sentence.

Fast mode trains at 16x16 (each 2x2 block of pixels averaged): the CIFAR networks end in global average pooling,
so they take any size, and a quarter of the pixels costs a quarter of the time. A network trained so is a
stand-in for the real one and is named so wherever it is shown (e.g. "plain-32 (16x16 stand-in)").
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from . import config
from .data import CIFAR10Tensors, load_course_data
from .files import read_json
from .plans import Run
from .recipes import get_recipe

# --- the settings ---


@dataclass(frozen=True)
class LiveExperiment:
    """A notebook's live experiment: its plans, fast and full (one :class:`Run` per network, in the order the
    notebook compares them), and ``effect``, what the fast-mode run must show, in words (the benchmark checks it).
    """

    key: str
    notebook: str
    effect: str
    fast: tuple[Run, ...]
    full: tuple[Run, ...]

    def plan(self, fast: bool | None = None) -> tuple[Run, ...]:
        """The runs of the current mode (``rl.is_fast()``), or of the mode asked for."""
        fast = config.is_fast() if fast is None else fast
        return self.fast if fast else self.full


LIVE_RECIPE = replace(get_recipe("onecycle"), name="onecycle, gentle start", lr=0.1, batch_size=128, warmup=0.3)
"""The onecycle recipe with a gentler start (peak lr 0.1, a 30 % warm-up, batch 128), for runs of a few hundred
steps: the fast-mode live runs and the lab's gradients experiment. With onecycle's batch 512, two epochs are only
78 steps, too few for ResNet-56 and ResNet-110 to leave the 90 % error of guessing; with this one the residual
networks start learning, and the deep plain ones may still not, which is the point."""


def _experiment(notebook: str, *, fast: tuple[str, ...], full: tuple[str, ...], train_images: int, image_size: int,
                epochs: int, effect: str) -> LiveExperiment:
    """Notebook ``notebook``'s live experiment, its key the notebook's number. Fast mode: the ``fast`` models on
    ``train_images`` training images and 1,000 test images at ``image_size``, ``epochs`` epochs of
    :data:`LIVE_RECIPE`; full mode: the ``full`` models on all of CIFAR-10, 20 epochs of onecycle at batch 512."""
    return LiveExperiment(
        key=notebook[:2], notebook=notebook, effect=effect,
        fast=tuple(Run(model, epochs=epochs, recipe=LIVE_RECIPE, batch_size=128, train_images=train_images,
                       test_images=1_000, image_size=image_size) for model in fast),
        full=tuple(Run(model, epochs=20, recipe="onecycle", batch_size=512) for model in full),
    )


# In fast mode 01 and 02 compare plain-8, plain-32 and ResNet-32 (not 20 and 56): in 390 steps a plain-56
# does not start learning at all, while a plain-32 learns, more slowly than a plain-8, which is the paper's
# degradation (measured: results/fast_mode_signal/).
LIVE_EXPERIMENTS: dict[str, LiveExperiment] = {experiment.key: experiment for experiment in (
    _experiment("01_plain_nets_degradation", fast=("plain8", "plain32"), full=("plain20", "plain56"),
                train_images=10_000, image_size=16, epochs=5,
                effect="both plain nets learn, and the deeper one ends with the higher training error"),
    _experiment("02_residual_learning", fast=("plain32", "resnet32"), full=("plain56", "resnet56"),
                train_images=10_000, image_size=16, epochs=5,
                effect="the residual net ends with a lower training error than its plain twin"),
    _experiment("03_basicblock_cifar_resnets", fast=("resnet20",), full=("resnet20",),
                train_images=5_000, image_size=32, epochs=6,
                effect="ResNet-20 learns: its test error falls far below the 90 % of guessing"),
    _experiment("05_resnext_grouped_convs", fast=("resnet44", "resnext11_2x4d"), full=("resnet110", "resnext29_8x4d"),
                train_images=5_000, image_size=16, epochs=4,
                effect="the ResNeXt and the ResNet both learn (test accuracy well above the 10 % of guessing)"),
    _experiment("07_identity_mappings_loss_landscape", fast=("resnet20", "preact_resnet20"),
                full=("resnet20", "preact_resnet20"), train_images=10_000, image_size=16, epochs=3,
                effect="the pre-activation ResNet against the original at equal depth"),
)}


def live_plan(key: str, fast: bool | None = None) -> tuple[Run, ...]:
    """The runs of live experiment ``key`` ("01", "02", "03", "05", "07") in the current mode."""
    if key not in LIVE_EXPERIMENTS:
        raise ValueError(f"no live experiment {key!r}; the live experiments are {sorted(LIVE_EXPERIMENTS)}.")
    return LIVE_EXPERIMENTS[key].plan(fast)


# --- the data ---


def downsample(data: CIFAR10Tensors, size: int) -> CIFAR10Tensors:
    """A new CIFAR10Tensors with every image average-pooled to ``size`` x ``size`` (labels unchanged).

    data: uint8 images [N, 3, H, W] with H = W a multiple of ``size``; each k x k block of pixels
        (k = H // size) becomes its mean, rounded to the nearest integer: uint8 [N, 3, size, size].
    """
    height, width = data.train_images.shape[-2:]
    if height != width or data.test_images.shape[-2:] != (height, width):
        raise ValueError(f"downsample needs square images of one size, got train {tuple(data.train_images.shape)} "
                         f"and test {tuple(data.test_images.shape)}.")
    if not isinstance(size, int) or size < 1 or height % size:
        raise ValueError(f"size must be a positive divisor of the image size {height}, got {size!r}.")
    factor = height // size

    def pool(images: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(images.float(), factor).round().to(torch.uint8)

    note = f"average-pooled from {height}x{height} to {size}x{size}"
    return CIFAR10Tensors(
        pool(data.train_images), data.train_labels, pool(data.test_images), data.test_labels,
        list(data.classes), data.source, data_label=data.data_label, root=data.root,
        subset_note=f"{data.subset_note}, {note}" if data.subset_note else note,
    )


def live_data(runs: Sequence[Run], data: CIFAR10Tensors | None = None, verbose: bool = True) -> CIFAR10Tensors:
    """The images a live experiment trains on: the stratified subset of its runs (seed 0), at their image size.

    runs: a plan whose runs share their data (train_images, test_images, image_size), e.g. ``live_plan("01")``.
    data: the full CIFAR-10 if already loaded (default: :func:`~resnet_lessons.data.load_course_data`).
    """
    sizes = {(r.train_images, r.test_images, r.image_size) for r in runs}
    if len(sizes) != 1:
        raise ValueError(f"live_data needs runs that train on the same images; these differ: {sorted(sizes, key=str)}.")
    run = runs[0]
    if data is None:
        data = load_course_data(run.train_images, run.test_images, verbose=False)
    elif run.train_images is not None or run.test_images is not None:
        data = data.subset(run.train_images, run.test_images)
    if run.is_stand_in:
        data = downsample(data, run.image_size)
    if verbose:
        print("Data:", data.summary())
    return data


# --- the stored signal and the verdicts ---

SIGNAL_FOLDER = "fast_mode_signal"
DEFAULT_SIGNAL_LABEL = "cpu-2cores"
NOISE = "standard deviation over seeds"
"""The noise statistic: the sample standard deviation (n - 1) of the effect over the seeds."""
CLEAR_FACTOR = 2.0
"""A margin is clear when it is larger than this many standard deviations between seeds."""


@dataclass(frozen=True)
class Signal:
    """An effect measured over several seeds by ``benchmarks/fast_mode_signal.py``.

    effect: the mean over the seeds of the effect, in percentage points (e.g. deep minus shallow
        training error); noise: its standard deviation over the seeds (:data:`NOISE`), in points;
    values: the effect of each seed; source: one short line saying where it was measured.
    """

    key: str
    measure: str
    effect: float
    noise: float
    values: tuple[float, ...]
    seconds: float
    source: str


def seed_noise(values: Sequence[float]) -> float:
    """The standard deviation of ``values`` over the seeds (:data:`NOISE`); needs at least two."""
    if len(values) < 2:
        raise ValueError(f"a standard deviation needs at least two seeds, got {len(values)}.")
    return statistics.stdev(values)


def signal_path(label: str = DEFAULT_SIGNAL_LABEL, results_dir: str | os.PathLike | None = None) -> Path:
    """Where the benchmark stores its results: ``results/fast_mode_signal/<label>.json``."""
    root = Path(results_dir) if results_dir is not None else config.default_results_dir()
    return root / SIGNAL_FOLDER / f"{label}.json"


def read_signal(key: str, path: str | os.PathLike | None = None) -> Signal:
    """The stored effect and noise of live experiment ``key`` (default file: :func:`signal_path`)."""
    path = Path(path) if path is not None else signal_path()
    record = read_json(path)
    experiments = record.get("experiments", {})
    if key not in experiments:
        raise KeyError(f"{path} has no experiment {key!r}; it has {sorted(experiments)}. "
                       f"Rerun: {record.get('command', 'python benchmarks/fast_mode_signal.py')}")
    e = experiments[key]
    prov = record.get("provenance", {})
    source = f"{len(e['values'])} seeds, {prov.get('data', '?')}, results/{SIGNAL_FOLDER}/{path.name}"
    return Signal(key, e["measure"], float(e["effect"]), float(e["noise"]), tuple(float(v) for v in e["values"]),
                  float(e["seconds"]), source)


def is_clear(margin: float, noise: float) -> bool:
    """True when ``margin`` (points, positive in the expected direction) exceeds :data:`CLEAR_FACTOR` x noise."""
    if noise < 0:
        raise ValueError(f"noise is a standard deviation and cannot be negative, got {noise}.")
    return margin > CLEAR_FACTOR * noise


def verdict(margin: float, noise: float, claim: str, otherwise: str = "") -> str:
    """A sentence about a comparison that its numbers carry.

    margin: the measured difference in points, positive in the direction ``claim`` states;
    noise: the standard deviation of that difference between seeds (:data:`NOISE`), in points;
    claim: what a clear margin shows, e.g. "plain-56 ends with a clearly higher training error than plain-20";
    otherwise: what to read instead when it is not clear, e.g. "the stored full runs below show ...".

    >>> verdict(12.0, 4.0, "the deeper net trains worse")
    'the deeper net trains worse: 12.0 points, more than twice the 4.0-point standard deviation between seeds.'
    >>> verdict(5.0, 4.0, "the deeper net trains worse", "the stored full runs below show it")[:60]
    'within run-to-run noise at this size (5.0 points, not more t'
    """
    if is_clear(margin, noise):
        return f"{claim}: {margin:.1f} points, more than twice the {noise:.1f}-point standard deviation between seeds."
    tail = f"; {otherwise}" if otherwise else ""
    return (f"within run-to-run noise at this size ({margin:.1f} points, not more than twice the {noise:.1f}-point "
            f"standard deviation between seeds){tail}.")


def signal_verdict(key: str, claim: str, otherwise: str = "", path: str | os.PathLike | None = None) -> str:
    """:func:`verdict` for the stored fast-mode measurement of experiment ``key``."""
    s = read_signal(key, path)
    return verdict(s.effect, s.noise, claim, otherwise)
