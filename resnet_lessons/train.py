"""`fit`: the one training loop that every notebook and the command line use.

    history = fit(model, data, epochs=30, recipe="onecycle", out_dir="runs/resnet20")

What happens in one epoch:

1. :class:`~resnet_lessons.loader.DeviceLoader` shuffles and augments the whole training set on the
   device and hands out batches (views, no copies);
2. :class:`TrainStep` runs forward, loss, backward and the SGD update for each batch, under bf16
   autocast on recent GPUs (fp16 with a gradient scaler on older ones, full fp32 on the CPU);
3. losses and correct counts are written into tensors on the device; the CPU reads them only a few
   times per epoch (a GPU that has to stop and report after every step is a slow GPU), to move the
   progress bar and to check that the loss is still a finite number;
4. the validation images (with ``val_size``) and the test set are evaluated, the epoch's numbers go
   into the :class:`~resnet_lessons.history.History`,
   and, with ``out_dir``, a checkpoint and ``history.json`` are written.

On a GPU the forward pass and the loss are compiled with ``torch.compile(mode="reduce-overhead")``:
the compiler fuses small operations and records the forward and backward passes as CUDA graphs, so
each step costs two graph launches instead of hundreds of kernel launches. On the CPU the same code
runs without compiling.

Stopping and resuming: Ctrl-C stops training cleanly (the checkpoint of the last finished epoch stays
on disk, and fit says how to continue); ``resume=True`` continues from it and ends exactly where an
uninterrupted run would (bit for bit on the CPU). A loss that becomes NaN or infinite stops the run
with :class:`TrainingDiverged`, naming the epoch and step.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from . import config
from .checkpoint import (
    FORMAT,
    FORMAT_V1,
    CheckpointError,
    OutDirLock,
    check_not_replacing,
    check_same_hardware,
    clear_run,
    load_checkpoint,
    record_hardware_switch,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .data import channel_mean_std, validation_split
from .evaluate import loss_and_accuracy
from .files import remove_orphans, tensor_checksum
from .history import History, RunRecord
from .loader import DeviceLoader
from .loop import train_one_epoch
from .preflight import check_data_and_model, check_out_dir, check_seed, check_settings, checkpoint_bytes
from .progress import tqdm  # tqdm.auto, with notebook bars that read as finished once saved
from .recipes import Recipe, get_recipe, make_optimizer, make_scheduler

CHECKPOINT_FILE = "checkpoint.pt"
HISTORY_FILE = "history.json"
EVAL_BATCH_SIZE = 1000

Callback = Callable[[History, nn.Module], None]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite. ``epoch`` and ``step`` (1-based) say where."""

    def __init__(self, epoch: int, step: int, steps: int, loss: float, lr: float):
        self.epoch, self.step, self.loss, self.lr = epoch, step, loss, lr
        super().__init__(
            f"The training loss became {loss} at epoch {epoch}, step {step} of {steps} (learning rate "
            f"{lr:.4g}); training stopped. A smaller learning rate (or a longer warm-up) usually helps."
        )


def amp_dtype_for(device: torch.device) -> torch.dtype | None:
    """Autocast precision: bf16 on GPUs that compute in it natively (Ampere, 2020, and newer),
    fp16 on older GPUs such as Colab's T4 (with a gradient scaler), None (fp32) on the CPU unless
    ``RESNET_LESSONS_CPU_BF16=1`` asks for bf16 (:func:`resnet_lessons.config.cpu_bf16`).

    The CPU default is fp32 on purpose. bf16 autocast trained ResNet-20 1.41x (AMD EPYC, AVX-512 BF16) and
    1.69x (Intel Xeon, AMX) as fast at the same accuracy (results/benchmarks/throughput-cpu-2cores.log), but
    most laptop CPUs have neither and emulate bf16 slowly; and a fast-mode run whose precision depended on
    the CPU would no longer be the run whose seed-to-seed noise the course measured (results/fast_mode_signal).
    """
    if device.type == "cpu":
        return torch.bfloat16 if config.cpu_bf16() else None
    if device.type != "cuda":
        return None
    major, _minor = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


class TrainStep:
    """The fast version of :func:`resnet_lessons.loop.train_step`: the same step, with the same
    arguments, made faster for GPUs. What it adds, and why:

    - mixed precision: the forward pass runs under autocast (``amp_dtype`` bf16 or fp16), so the GPU's
      tensor cores do the matrix products; fp16 needs ``scaler`` (a GradScaler) so that small gradients
      do not round to zero, and the scaler skips a step whose gradients overflowed;
    - compiling: with ``compile_mode`` (e.g. "reduce-overhead") the forward pass and the loss go through
      ``torch.compile``, which fuses small operations and, in that mode, replays them as CUDA graphs.
      If compiling fails on the first step (an unsupported GPU, no C compiler...), it warns once and
      continues without compiling.

    ``model`` and ``criterion`` are fixed when it is built (the compiled function belongs to them);
    each call trains one batch and returns its mean loss and its number of correct predictions, as
    tensors on the device.
    """

    def __init__(
        self,
        model: nn.Module,
        criterion: nn.Module,
        scaler: torch.amp.GradScaler,
        amp_dtype: torch.dtype | None = None,
        compile_mode: str | None = None,
    ):
        self.model = model
        self.criterion = criterion
        self.scaler = scaler
        self.amp_dtype = amp_dtype
        self.device_type = next(model.parameters()).device.type
        self.forward = self.forward_and_loss
        self.compiled = compile_mode is not None
        self.uses_cuda_graphs = compile_mode in ("reduce-overhead", "max-autotune")
        if self.compiled:
            self.forward = torch.compile(self.forward_and_loss, mode=compile_mode)
        self.steps_done = 0

    def forward_and_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean loss (float32 scalar) and number of correct predictions (int64 scalar) of a batch."""
        enabled = self.amp_dtype is not None
        with torch.autocast(self.device_type, dtype=self.amp_dtype or torch.float32, enabled=enabled):
            logits = self.model(x)
        loss = self.criterion(logits.float(), y)
        correct = (logits.argmax(dim=1) == y).sum()
        return loss, correct

    def _step(self, x, y, optimizer, scheduler) -> tuple[torch.Tensor, torch.Tensor]:
        if self.uses_cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's graph outputs may be reused
        loss, correct = self.forward(x, y)
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # the scaler multiplies fp16 losses so small gradients survive
        self.scaler.step(optimizer)  # unscales, skips the update if a gradient is inf/NaN
        self.scaler.update()
        scheduler.step()  # the learning rate for the next step
        return loss.detach(), correct

    def __call__(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                 criterion: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        if model is not self.model or criterion is not self.criterion:
            raise ValueError("This TrainStep was built for another model or loss; build one per run.")
        if self.compiled and self.steps_done == 0:
            try:
                result = self._step(images, labels, optimizer, scheduler)
            except Exception as e:  # compiling happens during the first call
                warnings.warn(
                    f"torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:300]}); "
                    "training continues without compiling (slower).",
                    stacklevel=2,
                )
                optimizer.zero_grad(set_to_none=True)
                self.compiled = self.uses_cuda_graphs = False
                self.forward = self.forward_and_loss
                result = self._step(images, labels, optimizer, scheduler)
        else:
            result = self._step(images, labels, optimizer, scheduler)
        self.steps_done += 1
        return result


class StepWatcher:
    """What fit does after every step (``after_step`` of :func:`resnet_lessons.loop.train_one_epoch`):
    every ``check_every`` steps (and at the last one) the CPU waits for the device once, checks that
    the losses are finite (else :class:`TrainingDiverged`, naming the step) and moves the progress bar.
    Checking rarely matters on a GPU: a GPU that has to stop and report after every step is a slow GPU.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, epoch: int, n_steps: int, batch_size: int,
                 check_every: int = 1, bar=None):
        self.optimizer, self.epoch, self.n_steps = optimizer, epoch, n_steps
        self.batch_size, self.check_every, self.bar = batch_size, check_every, bar
        self.lrs = [optimizer.param_groups[0]["lr"]]  # lrs[i]: the learning rate of step i
        self.losses: list[torch.Tensor] = []
        self.checked = 0  # steps whose losses were read and checked
        self.loss_sum = 0.0

    def __call__(self, i: int, loss: torch.Tensor) -> None:
        self.losses.append(loss)
        self.lrs.append(self.optimizer.param_groups[0]["lr"])
        if (i + 1) % self.check_every != 0 and i + 1 != self.n_steps:
            return
        new = torch.stack(self.losses[self.checked :]).tolist()  # waits for the device
        for j, value in enumerate(new):
            if not math.isfinite(value):
                bad = self.checked + j
                raise TrainingDiverged(self.epoch, bad + 1, self.n_steps, value, self.lrs[bad])
        self.loss_sum += sum(new)
        self.checked = i + 1
        if self.bar is not None:
            self.bar.update(self.checked * self.batch_size - self.bar.n)
            self.bar.set_postfix(loss=f"{self.loss_sum / self.checked:.3f}")

    @property
    def last_lr(self) -> float:
        """The learning rate of the last step taken."""
        return self.lrs[-2]


def apply_process_settings(device: torch.device, compiling: bool) -> Callable[[], None]:
    """Every process-wide switch that fit changes, in one place. Returns a function that puts them back
    (fit calls it when training ends, however it ends):

    - on the CPU, torch's thread count: all the cores this process may use (shared out when several
      notebooks run at once under pytest-xdist, see :func:`resnet_lessons.config.set_cpu_threads`);
    - on a GPU, cuDNN's autotuner (time the convolution algorithms once per shape, keep the fastest) and
      TF32 matrix products (tensor cores for fp32 work, about 3 significant digits instead of 7);
    - when compiling, PyTorch's recompile limit: it keeps 8 compiled versions of a function by default
      and then silently stops compiling; a notebook's worth of runs needs more.

    The random seed is the one global fit does not put back: ``torch.manual_seed(seed)`` when a run
    starts afresh, as any training script does.
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
        config.set_cpu_threads()
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


def _run_settings(model: nn.Module, recipe: Recipe, epochs: int, seed: int, augment: bool, data,
                  val_size: int = 0, name: str | None = None) -> dict:
    """The run's identity, stored in its checkpoint: all of it must be the same to resume the run.

    model: its name, class, parameter count and printed layers (which show the depth, the block
    types, the shortcut option, the widths and groups, the number of classes); data: what it is, its
    fingerprint (a SHA-256 of every image and label) and how a subset was drawn; then the validation
    split, every hyper-parameter of the recipe, the epochs, the seed and the augmentation.
    """
    fingerprint = data.fingerprint() if hasattr(data, "fingerprint") else tensor_checksum(
        [data.train_images, data.train_labels, data.test_images, data.test_labels])
    return {
        "model": {
            "name": name or type(model).__name__,
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "parameters": sum(p.numel() for p in model.parameters()),
            "layers": repr(model),
        },
        "data": {
            "source": getattr(data, "data_label", "") or getattr(data, "source", ""),
            "fingerprint": fingerprint,
            "subset": getattr(data, "subset_note", ""),
            "train_images": len(data.train_labels),
            "test_images": len(data.test_labels),
        },
        "val_size": val_size,
        "recipe": recipe.to_dict(),
        "epochs": epochs,
        "seed": seed,
        "augment": augment,
    }


def _legacy_run_settings(run: dict) -> dict:
    """This call's identity in the layout of the first checkpoint format (FORMAT_V1), which held less."""
    return {
        "val_size": run["val_size"],
        "model": run["model"]["class"].rsplit(".", 1)[-1],
        "parameters": run["model"]["parameters"],
        "recipe": run["recipe"],
        "epochs": run["epochs"],
        "seed": run["seed"],
        "augment": run["augment"],
        "train_images": run["data"]["train_images"],
        "test_images": run["data"]["test_images"],
    }


def _differences(saved: dict, now: dict, prefix: str = "") -> list[str]:
    """One line per setting that differs between a checkpoint's identity and this call's."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key, "(not recorded)"), now.get(key, "(not recorded)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, prefix + key + ".")
        elif isinstance(a, str) and isinstance(b, str) and "\n" in a + b and a != b:
            # printed layers: show the first line that differs, not two whole networks
            lines_a, lines_b = a.splitlines(), b.splitlines()
            line = next((i for i in range(max(len(lines_a), len(lines_b)))
                         if lines_a[i : i + 1] != lines_b[i : i + 1]), 0)
            where = lines_a[line].strip() if line < len(lines_a) else "(the end)"
            here = lines_b[line].strip() if line < len(lines_b) else "(the end)"
            out.append(f"{prefix}{key}: they differ from line {line + 1}: checkpoint {where!r}, this call {here!r}")
        elif a != b:
            out.append(f"{prefix}{key}: checkpoint {a!r}, this call {b!r}")
    return out


def fit(
    model: nn.Module,
    data,
    epochs: int,
    recipe: str | Recipe = "onecycle",
    *,
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    label_smoothing: float | None = None,
    out_dir: str | Path | None = None,
    resume: bool | str = False,
    live_plot=False,
    visdom=None,
    callbacks: Sequence[Callback] = (),
    seed: int = 0,
    device: str | torch.device | None = None,
    compile: bool | str | None = None,
    augment: bool = True,
    progress: bool = True,
    name: str | None = None,
    val_size: int = 0,
    overwrite: bool = False,
    switch_hardware: bool = False,
) -> History:
    """Train ``model`` on ``data`` for ``epochs`` epochs and return the per-epoch History.

    model: any classifier of [N, 3, 32, 32] images (trained in place and moved to ``device``).
    data: a :class:`resnet_lessons.data.CIFAR10Tensors` (uint8 images, int64 labels); images are
        normalised with ``data.mean_std()``.
    recipe: "onecycle", "paper", "cosine" or a :class:`~resnet_lessons.recipes.Recipe`; ``batch_size``,
        ``lr``, ``weight_decay`` and ``label_smoothing`` override the recipe's values.
    out_dir: folder for ``checkpoint.pt`` (after every epoch) and ``history.json``; None saves nothing.
    resume: True continues the run saved in ``out_dir`` (same model, data, recipe and epochs);
        "auto" does so when there is a checkpoint and starts afresh otherwise; False starts afresh
        (refused when ``out_dir`` holds a run, unless ``overwrite``). While fit runs, ``out_dir/run.lock``
        keeps a second training out of the folder.
    live_plot: True draws the loss and error curves in the notebook, updated in place after every
        epoch; pass a :class:`~resnet_lessons.plots.LivePlot` instead to draw several runs on one figure.
    visdom: a :class:`~resnet_lessons.lab.visdom_logger.VisdomLogger`, or an environment name, to send the
        curves to a visdom server as well.
    callbacks: functions called as ``callback(history, model)`` after every epoch.
    seed: seeds the shuffling and augmentation (seed the model's initialisation yourself, before
        building it, e.g. with ``torch.manual_seed``).
    device: "cuda", "cpu", ... (default: the best available).
    compile: compile the forward pass (default: on a GPU only); a string picks the torch.compile mode.
    augment: random crops and flips of the training images (True, as in the paper).
    progress: show progress bars.
    name: the run's name in plots and messages (default: the model's class name).
    val_size: hold out this many training images (stratified, always the same ones for the same
        number, whatever the seed) as a validation split, evaluated after every epoch
        (``history.val_acc``). Choose epochs and settings on it, never on the test set. 0: none.
    overwrite: replace the run stored in ``out_dir`` (its files are deleted before training starts).
    switch_hardware: resume a run on another device or precision than it started on (refused otherwise,
        as it changes the run's numbers); the history's ``device`` and ``precision`` record the change.
    """
    # --- every check that can fail, before any work (preflight.SettingsError says what to change) ---
    check_settings(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                   label_smoothing=label_smoothing, val_size=val_size, device=device)
    if resume not in (True, False, "auto"):
        raise ValueError(f"resume must be True, False or 'auto', got {resume!r}.")
    if resume is True and out_dir is None:
        raise ValueError("resume=True needs out_dir: the folder that holds the run's checkpoint.")
    check_seed(seed)
    check_not_replacing(out_dir, resume, overwrite)
    recipe = get_recipe(recipe)
    overrides = {"batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "label_smoothing": label_smoothing}
    recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    device = config.get_device(None if device is None else str(device))
    name = name or type(model).__name__
    out_dir = Path(out_dir) if out_dir is not None else None
    checkpoint_path = out_dir / CHECKPOINT_FILE if out_dir is not None else None

    # --- the device: precision, memory layout, compiling ----------------------------------------
    amp_dtype = amp_dtype_for(device)
    if compile is None:
        compile = device.type == "cuda"
    # compile=True: CUDA graphs on a GPU ("reduce-overhead"); a CPU has none, so its mode is "default".
    compile_mode = (("reduce-overhead" if device.type == "cuda" else "default") if compile is True else compile) \
        if compile else None
    channels_last = device.type in ("cuda", "cpu")  # N,H,W,C in memory: faster convolutions on both
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    check_data_and_model(model, data, batch_size=recipe.batch_size, val_size=val_size, device=device)
    if out_dir is not None:
        check_out_dir(out_dir, checkpoint_bytes(model))
        OutDirLock(out_dir).acquire()  # released when fit ends; refused while another process trains here
        if overwrite:
            clear_run(out_dir)
        removed = remove_orphans(out_dir, [CHECKPOINT_FILE, HISTORY_FILE])
        if removed:
            print(f"{name}: removed {len(removed)} unfinished temporary file(s) of interrupted saves in "
                  f"{out_dir} ({', '.join(p.name for p in removed)}).")

    # --- data, optimiser, schedule ---------------------------------------------------------------
    train_images, train_labels = data.train_images, data.train_labels
    val_loader = None
    if val_size:
        train_index, val_index = validation_split(data.train_labels, val_size)  # raises on a bad size
        train_images, train_labels = data.train_images[train_index], data.train_labels[train_index]
    mean, std = channel_mean_std(train_images)  # of the images it trains on, as data.mean_std() without a split
    if val_size:
        val_loader = DeviceLoader(
            data.train_images[val_index], data.train_labels[val_index], EVAL_BATCH_SIZE, mean, std,
            train=False, device=device, channels_last=channels_last,
        )
    train_loader = DeviceLoader(
        train_images, train_labels, recipe.batch_size, mean, std,
        train=True, augment=augment, device=device, seed=seed, channels_last=channels_last,
    )
    test_loader = DeviceLoader(
        data.test_images, data.test_labels, EVAL_BATCH_SIZE, mean, std,
        train=False, device=device, channels_last=channels_last,
    )
    steps_per_epoch = len(train_loader)
    optimizer = make_optimizer(model, recipe, device)
    scheduler = make_scheduler(optimizer, recipe, epochs * steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    step = TrainStep(model, criterion, scaler, amp_dtype, compile_mode)

    run = _run_settings(model, recipe, epochs, seed, augment, data, val_size, name) if out_dir is not None else {}
    history = History(record=RunRecord(
        model=name,
        recipe=recipe.name,
        recipe_settings=recipe.to_dict(),
        epochs=epochs,
        batch_size=recipe.batch_size,
        seed=seed,
        device=_device_name(device),
        precision={None: "fp32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}[amp_dtype],
        compiled=compile_mode or False,
        data=getattr(data, "data_label", "") or getattr(data, "source", ""),
        data_source=getattr(data, "source", ""),
        subset=getattr(data, "subset_note", ""),
        train_images=len(train_labels),
        val_images=val_size,
        test_images=len(data.test_labels),
        mean=[round(float(v), 6) for v in mean],
        std=[round(float(v), 6) for v in std],
        torch=str(torch.__version__),
    ))

    # --- start afresh or resume ------------------------------------------------------------------
    start_epoch = 0
    has_checkpoint = checkpoint_path is not None and checkpoint_path.exists()
    if resume is True or (resume == "auto" and has_checkpoint):
        saved = load_checkpoint(checkpoint_path)  # clear errors for a missing, corrupt or damaged file
        if saved["format"] == FORMAT_V1:  # an older checkpoint: compare the settings it recorded
            print(f"{name}: {checkpoint_path} was written by an earlier version of the trainer, which recorded "
                  "fewer of the run's settings; only those are compared.")
            legacy = _legacy_run_settings(run)
            different = _differences(saved["run"], {k: legacy[k] for k in saved["run"] if k in legacy})
        else:
            different = _differences(saved["run"], run)
        if different:
            raise CheckpointError(
                f"The checkpoint {checkpoint_path} is from a different run, so it cannot be resumed here:\n  "
                + "\n  ".join(different)
                + "\nCall fit with the run's original settings (on the command line: the run's original command "
                "with --resume), or use another out_dir (--out) to start a new run."
            )
        try:
            model.load_state_dict(saved["model"])
        except RuntimeError as e:
            raise CheckpointError(f"The model in {checkpoint_path} does not fit this model: {e}") from None
        _load_optimizer_state(optimizer, saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        set_rng_state(saved["rng"], train_loader.generator)
        this_call, history = history.record, History.from_dict(saved["history"])
        start_epoch = saved["epoch"]
        if start_epoch >= epochs:
            print(f"{name}: the run in {out_dir} already finished its {epochs} epochs; loaded it.")
            OutDirLock(out_dir).release()
            return history
        switched = check_same_hardware(history.record, this_call, switch_hardware, checkpoint_path)
        if switched:
            record_hardware_switch(history.record, this_call, switched, start_epoch)
            print(f"{name}: continuing on other hardware; the history records it ({', '.join(switched)}).")
        print(f"{name}: resuming from the checkpoint of epoch {start_epoch} of {epochs} in {out_dir}.")
    else:
        torch.manual_seed(seed)

    # --- where the curves go ---------------------------------------------------------------------
    epoch_callbacks = list(callbacks)
    if live_plot:
        from .plots import LivePlot

        live = LivePlot(title=name) if live_plot is True else live_plot

        def draw(history: History, model: nn.Module) -> None:
            live.update(name, history)  # by name, so several runs can share one LivePlot

        epoch_callbacks.insert(0, draw)
    if visdom is not None:
        from .lab.visdom_logger import VisdomLogger

        logger = VisdomLogger(env=visdom, name=name) if isinstance(visdom, str) else visdom
        epoch_callbacks.insert(0, logger)

    # --- the epochs ------------------------------------------------------------------------------
    check_every = 1 if device.type == "cpu" else max(1, steps_per_epoch // 10)
    saved_epoch = start_epoch
    epoch = start_epoch
    restore_settings = apply_process_settings(device, compiling=compile_mode is not None)
    epochs_bar = tqdm(total=epochs, initial=start_epoch, desc=name, unit="epoch", disable=not progress)
    try:
        for epoch in range(start_epoch + 1, epochs + 1):
            with tqdm(
                total=steps_per_epoch * recipe.batch_size, desc=f"epoch {epoch}/{epochs}", unit="img",
                unit_scale=True, leave=False, disable=not progress,
            ) as bar:
                started = time.perf_counter()
                if step.compiled and step.steps_done == 0:
                    bar.set_postfix_str("compiling the model (first epoch only, about a minute)")
                watch = StepWatcher(optimizer, epoch, steps_per_epoch, recipe.batch_size, check_every, bar)
                train_loss, train_acc = train_one_epoch(model, train_loader, optimizer, scheduler, criterion,
                                                        step=step, after_step=watch)
                last_lr = watch.last_lr
                seconds = time.perf_counter() - started
            validation = {}
            if val_loader is not None:
                val_loss, val_acc = loss_and_accuracy(model, val_loader, amp_dtype)
                validation = {"val_loss": val_loss, "val_acc": val_acc}
            test_loss, test_acc = loss_and_accuracy(model, test_loader, amp_dtype)
            history.append(
                epoch=epoch, train_loss=train_loss, train_acc=train_acc, test_loss=test_loss,
                test_acc=test_acc, lr=last_lr, seconds=seconds,
                images_per_s=steps_per_epoch * recipe.batch_size / seconds, **validation,
            )
            if out_dir is not None:
                _save(checkpoint_path, epoch, run, model, optimizer, scheduler, scaler, train_loader, history)
                history.save(out_dir / HISTORY_FILE)
                saved_epoch = epoch
            epochs_bar.update(1)
            epochs_bar.set_postfix(loss=f"{train_loss:.3f}", test_acc=f"{test_acc:.1%}")
            for callback in epoch_callbacks:
                callback(history, model)
    except KeyboardInterrupt:
        if out_dir is not None and len(history) > saved_epoch:  # stopped while saving: save again
            _save(checkpoint_path, len(history), run, model, optimizer, scheduler, scaler, train_loader, history)
            history.save(out_dir / HISTORY_FILE)
            saved_epoch = len(history)
        epochs_bar.close()
        print(_interrupted_message(name, epoch, epochs, saved_epoch, checkpoint_path))
        history.record.interrupted = True
        return history
    except TrainingDiverged as e:
        if checkpoint_path is not None and saved_epoch > 0:
            e.add_note(f"The checkpoint of epoch {saved_epoch} in {checkpoint_path} was kept.")
        raise
    finally:
        epochs_bar.close()
        restore_settings()
        if out_dir is not None:
            OutDirLock(out_dir).release()
    return history


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({torch.get_num_threads()} threads)" if device.type == "cpu" else device.type


def _save(path, epoch, run, model, optimizer, scheduler, scaler, train_loader, history) -> None:
    save_checkpoint(
        {
            "format": FORMAT,
            "epoch": epoch,
            "run": run,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rng_state(train_loader.generator),
            "history": history.to_dict(),
        },
        path,
    )


def _load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load an optimizer state but keep this device's implementation (fused on a GPU, not on the CPU)."""
    kept = [{k: g[k] for k in ("fused", "foreach") if k in g} for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, flags in zip(optimizer.param_groups, kept, strict=True):
        group.update(flags)


def _interrupted_message(name: str, epoch: int, epochs: int, saved_epoch: int, checkpoint: Path | None) -> str:
    when = f"after epoch {epoch}" if saved_epoch >= epoch else f"during epoch {epoch}"
    text = f"{name}: training stopped by the keyboard {when} of {epochs}."
    if checkpoint is None:
        return text + " Nothing was saved (no out_dir); the model keeps the weights it had when stopped."
    if saved_epoch == 0:
        return text + (" No epoch had finished, so nothing was saved and there is no checkpoint to resume: "
                       "to start again, run the same fit(...) call (without resume=True; on the command line, "
                       "the same command without --resume).")
    return (
        text + f" The checkpoint of epoch {saved_epoch} is in {checkpoint}.\n"
        "To continue, run the same fit(...) call with resume=True "
        "(on the command line: the same command with --resume)."
    )
