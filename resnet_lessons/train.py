"""`fit`: the one training loop that every notebook and the command line use.

    history = fit(model, data, epochs=30, recipe="onecycle", out_dir="runs/resnet20")
    history = fit(model, data, 30, replace(ONECYCLE, lr=0.1, val_size=5000), callbacks=[LivePlot()])

One epoch: a :class:`~resnet_lessons.loader.DeviceLoader` shuffles and augments the training set on the device;
:func:`~resnet_lessons.loop.train_one_epoch` takes one step per batch (bf16 autocast on recent GPUs, fp16 with a
gradient scaler on older ones, fp32 on the CPU), and a :class:`StepWatcher` checks the losses a few times per epoch;
:func:`~resnet_lessons.loop.evaluate` measures the validation split and the test set; the epoch's numbers go into
the :class:`~resnet_lessons.history.History`, a checkpoint is saved (with ``out_dir``) and the callbacks are called.

On a GPU the model trains through :class:`~resnet_lessons.loop.CompiledModel` (``torch.compile``, "reduce-overhead"
mode: CUDA graphs, a few launches per step instead of hundreds).
Ctrl-C stops cleanly, keeping the last finished epoch's checkpoint; ``resume=True`` continues from it and ends
exactly where an uninterrupted run would (bit for bit on the CPU).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from . import config
from .checkpoint import (
    CHECKPOINT_FILE,
    RESUME_MODES,
    OutDirLock,
    check_run_folder,
    resume_run,
    run_identity,
    save_run,
)
from .data import channel_mean_std, validation_split
from .history import History, RunRecord
from .loader import DeviceLoader
from .loop import CompiledModel, evaluate, train_one_epoch
from .preflight import check_data_and_model, check_out_dir, check_settings, checkpoint_bytes
from .progress import tqdm  # tqdm.auto, with notebook bars that read as finished once saved
from .recipes import Recipe, get_recipe, make_optimizer, make_scheduler

EVAL_BATCH_SIZE = 1000

Callback = Callable[[History, nn.Module], None]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite. ``epoch`` and ``step`` (1-based) say where."""

    def __init__(self, epoch: int, step: int, steps: int, loss: float, lr: float):
        self.epoch, self.step, self.loss, self.lr = epoch, step, loss, lr
        super().__init__(f"The training loss became {loss} at epoch {epoch}, step {step} of {steps} (learning rate "
                         f"{lr:.4g}); training stopped. A smaller learning rate (or a longer warm-up) usually helps.")


class StepWatcher:
    """What fit does after every step (``after_step`` of :func:`resnet_lessons.loop.train_one_epoch`): every
    ``check_every`` steps (and at the last one) the CPU waits for the device once, checks that the losses are
    finite (else :class:`TrainingDiverged`, naming the step) and moves the progress bar. Checking rarely matters
    on a GPU: a GPU that has to stop and report after every step is a slow GPU.
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


def fit(model: nn.Module, data, epochs: int, recipe: str | Recipe = "onecycle", *, name: str | None = None,
        out_dir: str | Path | None = None, resume: bool | str = False, callbacks: Sequence[Callback] = (),
        device: str | torch.device | None = None, compile: bool | str | None = None) -> History:
    """Train ``model`` on ``data`` for ``epochs`` epochs and return the per-epoch History.

    model: any classifier of [N, 3, 32, 32] images (trained in place and moved to ``device``).
    data: a :class:`resnet_lessons.data.CIFAR10Tensors` (uint8 images, int64 labels).
    recipe: "onecycle", "paper", "cosine" or a :class:`~resnet_lessons.recipes.Recipe`: the optimiser,
        schedule and batch size, and how the training images are served (seed, augmentation, validation
        split). Change any of it with ``dataclasses.replace(recipe, lr=0.05, val_size=5000)``.
    name: the run's name in plots and messages (default: the model's class name).
    out_dir: folder for ``checkpoint.pt`` (after every epoch) and ``history.json``; None saves nothing.
    resume: True continues the run saved in ``out_dir`` (same model, data, recipe and epochs); "auto" does so
        when there is a checkpoint and starts afresh otherwise; False starts afresh (refused when ``out_dir``
        holds a run); "overwrite" starts afresh and replaces the run in ``out_dir``; "switch-hardware"
        continues it on another device or precision than it started on (True refuses that, as it changes the
        run's numbers; the history records the switch). While fit runs, ``out_dir/run.lock`` keeps a second
        training out of the folder.
    callbacks: functions called as ``callback(history, model)`` after every epoch, e.g. a
        :class:`~resnet_lessons.plots.LivePlot` (curves in the notebook) or a visdom logger.
    device: "cuda", "cpu", ... (default: the best available).
    compile: train through ``torch.compile`` (default: on a GPU only); a string picks the mode.

    Progress bars are shown unless ``RESNET_LESSONS_PROGRESS=0`` (:func:`resnet_lessons.config.show_progress`).
    """
    # --- every check that can fail, before any work (preflight.SettingsError says what to change) ---
    recipe = get_recipe(recipe)
    check_settings(epochs=epochs, device=device)
    show = config.show_progress()  # a bad RESNET_LESSONS_PROGRESS is an error here, before any work
    if resume not in RESUME_MODES or (resume in (True, "switch-hardware") and out_dir is None):
        raise ValueError(f"resume must be one of {RESUME_MODES} (continuing needs an out_dir), got {resume!r}.")
    device = config.get_device(None if device is None else str(device))
    name = name or type(model).__name__
    channels_last = device.type in ("cuda", "cpu")  # N,H,W,C in memory: faster convolutions on both
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    check_data_and_model(model, data, batch_size=recipe.batch_size, val_size=recipe.val_size, device=device)
    if out_dir is not None:
        out_dir = Path(out_dir)
        check_out_dir(out_dir, checkpoint_bytes(model))
        check_run_folder(out_dir, resume)  # no run replaced unless resume="overwrite"; no folder shared

    # --- data, optimiser, schedule, precision, compiling ---
    train_loader, val_loader, test_loader = _loaders(data, recipe, device, channels_last)
    steps = len(train_loader)
    optimizer = make_optimizer(model, recipe, device)
    scheduler = make_scheduler(optimizer, recipe, epochs * steps)
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    amp_dtype = config.amp_dtype_for(device)  # bf16 or fp16 on a GPU, None (fp32) on a CPU
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)  # off unless fp16
    compile_mode = _compile_mode(compile, device)
    trained = CompiledModel(model, compile_mode) if compile_mode else model  # the same weights, compiled

    # --- start afresh or resume ---
    identity = run_identity(model, recipe, epochs, data, name)
    record = _record(name, recipe, epochs, device, amp_dtype, compile_mode, data, train_loader)
    history = None if out_dir is None else resume_run(out_dir, resume, identity, record, model, optimizer,
                                                      scheduler, scaler, train_loader.generator)
    if history is None:
        torch.manual_seed(recipe.seed)
        history = History(record=record)
    elif len(history) >= epochs:
        print(f"{name}: the run in {out_dir} already finished its {epochs} epochs; loaded it.")
        return history
    else:
        print(f"{name}: resuming from the checkpoint of epoch {len(history)} of {epochs} in {out_dir}.")

    # --- the epochs ---
    start = saved = epoch = len(history)
    check_every = 1 if device.type == "cpu" else max(1, steps // 10)
    restore_settings = config.apply_process_settings(device, compiling=compile_mode is not None)
    epochs_bar = tqdm(total=epochs, initial=start, desc=name, unit="epoch", disable=not show)
    try:
        for epoch in range(start + 1, epochs + 1):
            with tqdm(total=steps * recipe.batch_size, desc=f"epoch {epoch}/{epochs}", unit="img",
                      unit_scale=True, leave=False, disable=not show) as bar:
                if compile_mode and epoch == start + 1:
                    bar.set_postfix_str("compiling the model (first epoch only, about a minute)")
                watch = StepWatcher(optimizer, epoch, steps, recipe.batch_size, check_every, bar)
                started = time.perf_counter()
                train_loss, train_acc = train_one_epoch(trained, train_loader, optimizer, scheduler, criterion,
                                                        amp_dtype, scaler, after_step=watch)
                seconds = time.perf_counter() - started
            validation = {}
            if val_loader is not None:
                validation = dict(zip(("val_loss", "val_acc"), evaluate(model, val_loader, amp_dtype), strict=True))
            test_loss, test_acc = evaluate(model, test_loader, amp_dtype)
            history.append(epoch=epoch, train_loss=train_loss, train_acc=train_acc, test_loss=test_loss,
                           test_acc=test_acc, lr=watch.last_lr, seconds=seconds,
                           images_per_s=steps * recipe.batch_size / seconds, **validation)
            if out_dir is not None:
                save_run(out_dir, epoch, identity, model, optimizer, scheduler, scaler, train_loader.generator, history)
                saved = epoch
            epochs_bar.update(1)
            epochs_bar.set_postfix(loss=f"{train_loss:.3f}", test_acc=f"{test_acc:.1%}")
            for callback in callbacks:
                callback(history, model)
    except KeyboardInterrupt:
        if out_dir is not None and len(history) > saved:  # stopped while saving: save again
            saved = len(history)
            save_run(out_dir, saved, identity, model, optimizer, scheduler, scaler, train_loader.generator, history)
        epochs_bar.close()
        print(_interrupted_message(name, epoch, epochs, saved, out_dir and out_dir / CHECKPOINT_FILE))
        history.record.interrupted = True
    except TrainingDiverged as e:
        if out_dir is not None and saved > 0:
            e.add_note(f"The checkpoint of epoch {saved} in {out_dir / CHECKPOINT_FILE} was kept.")
        raise
    finally:
        epochs_bar.close()
        restore_settings()
        if out_dir is not None:
            OutDirLock(out_dir).release()
    return history


def _compile_mode(compile: bool | str | None, device: torch.device) -> str | None:
    """torch.compile's mode, or None: by default compile on a GPU only; compile=True means CUDA graphs
    ("reduce-overhead") on a GPU and "default" on a CPU, which has none; a string is the mode itself."""
    if compile is None:
        compile = device.type == "cuda"
    if compile is True:
        return "reduce-overhead" if device.type == "cuda" else "default"
    return compile or None


def _loaders(data, recipe: Recipe, device: torch.device, channels_last: bool):
    """The training loader (shuffled and augmented on the device), the validation loader (None without
    ``recipe.val_size``) and the test loader, all normalised with the training images' mean and std."""
    train_images, train_labels = data.train_images, data.train_labels
    if recipe.val_size:
        train_index, val_index = validation_split(data.train_labels, recipe.val_size)
        train_images, train_labels = data.train_images[train_index], data.train_labels[train_index]
    mean, std = channel_mean_std(train_images)

    def loader(images, labels, batch_size, train):
        return DeviceLoader(images, labels, batch_size, mean, std, train=train, augment=train and recipe.augment,
                            device=device, seed=recipe.seed, channels_last=channels_last)

    val = loader(data.train_images[val_index], data.train_labels[val_index], EVAL_BATCH_SIZE, False) \
        if recipe.val_size else None
    return (loader(train_images, train_labels, recipe.batch_size, True), val,
            loader(data.test_images, data.test_labels, EVAL_BATCH_SIZE, False))


def _record(name: str, recipe: Recipe, epochs: int, device: torch.device, amp_dtype: torch.dtype | None,
            compile_mode: str | None, data, train_loader: DeviceLoader) -> RunRecord:
    """What the run is: the record a new History starts with."""
    return RunRecord(
        model=name, recipe=recipe.name, recipe_settings=recipe.to_dict(), epochs=epochs,
        batch_size=recipe.batch_size, seed=recipe.seed, device=_device_name(device),
        precision={None: "fp32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}[amp_dtype],
        compiled=compile_mode or False, torch=str(torch.__version__),
        data=getattr(data, "data_label", "") or getattr(data, "source", ""), data_source=getattr(data, "source", ""),
        subset=getattr(data, "subset_note", ""), train_images=len(train_loader.labels), val_images=recipe.val_size,
        test_images=len(data.test_labels), mean=[round(float(v), 6) for v in train_loader.mean.flatten()],
        std=[round(float(v), 6) for v in train_loader.std.flatten()],
    )


def _device_name(device: torch.device) -> str:
    """The device as a run's record names it: the GPU's name, "cpu (N threads)" or "mps"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({config.cpu_threads()} threads)" if device.type == "cpu" else device.type  # as fit sets them


def _interrupted_message(name: str, epoch: int, epochs: int, saved_epoch: int, checkpoint: Path | None) -> str:
    """What fit prints when Ctrl-C stops it: when it stopped, what was saved, and how to go on."""
    when = f"after epoch {epoch}" if saved_epoch >= epoch else f"during epoch {epoch}"
    text = f"{name}: training stopped by the keyboard {when} of {epochs}."
    if checkpoint is None:
        return text + " Nothing was saved (no out_dir); the model keeps the weights it had when stopped."
    if saved_epoch == 0:
        return text + (" No epoch had finished, so nothing was saved and there is no checkpoint to resume: "
                       "to start again, run the same fit(...) call (without resume=True; on the command line, "
                       "the same command without --resume).")
    return (text + f" The checkpoint of epoch {saved_epoch} is in {checkpoint}.\n"
            "To continue, run the same fit(...) call with resume=True (on the command line: the same command with "
            "--resume).")
