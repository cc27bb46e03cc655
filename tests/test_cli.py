"""`python -m resnet_lessons`: the help text, and a real training run end to end on a few real images."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_lessons.__main__ import build_parser, main
from resnet_lessons.history import History

PER_CLASS = {"train": 10, "test": 5}  # 100 training and 50 test images


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("train", "visdom", "models"):
        assert command in text
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    for action in train._actions:
        for flag in action.option_strings:
            assert flag in text, f"{flag} is missing from --help"


@pytest.fixture(scope="module")
def tiny_image_folder(tmp_path_factory) -> Path:
    """train/<class>/ and test/<class>/ with a few images per class copied from the offline CIFAR-10 copy."""
    source = os.environ.get("RESNET_LESSONS_DATA")
    if not source or not (Path(source) / "train").is_dir():
        pytest.skip("needs the CIFAR-10 ImageFolder copy named by $RESNET_LESSONS_DATA")
    root = tmp_path_factory.mktemp("cifar-mini")
    for split, n in PER_CLASS.items():
        for class_dir in sorted((Path(source) / split).iterdir()):
            (root / split / class_dir.name).mkdir(parents=True)
            for image in sorted(class_dir.iterdir())[:n]:
                shutil.copy(image, root / split / class_dir.name / image.name)
    return root


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESNET_LESSONS_CACHE": str(cache), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "resnet_lessons", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_train_end_to_end_then_resume_then_a_corrupt_checkpoint(tiny_image_folder, tmp_path, monkeypatch, capsys):
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["train", "--model", "resnet20", "--epochs", "1", "--recipe", "onecycle", "--data", str(tiny_image_folder),
            "--subset", "50", "--batch-size", "25", "--out", str(out), "--no-progress"]
    done = _cli(*args, cache=cache)  # a real `python -m resnet_lessons` process
    assert done.returncode == 0, done.stderr
    assert "final test accuracy:" in done.stdout and "images/s" in done.stdout
    for name in ("history.json", "checkpoint.pt", "curves.png"):
        assert (out / name).is_file(), name
    history = History.load(out / "history.json")
    assert len(history) == 1 and history.record.train_images == 50 and history.record.test_images == 50
    assert history.record.model == "resnet20" and 0 <= history.test_acc[0] <= 1

    # The same command with --resume, in this process (quicker): the run is complete, nothing to do.
    monkeypatch.setenv("RESNET_LESSONS_CACHE", str(cache))
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    assert "already finished" in capsys.readouterr().out

    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert main([*args, "--resume"]) == 2
    assert "checkpoint.pt is not a readable checkpoint" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == b"not a checkpoint"


def test_unknown_model_fails_before_loading_data(capsys):
    assert main(["train", "--model", "resnet21", "--data", "/nonexistent"]) == 2
    assert "Did you mean" in capsys.readouterr().err


def test_an_unknown_recipe_is_a_usage_error_that_lists_the_recipes(capsys):
    assert build_parser().parse_args(["train"]).recipe == "onecycle"  # the default
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--recipe", "fast", "--data", "/nonexistent"])
    assert stopped.value.code == 2
    assert "invalid choice: 'fast' (choose from 'cosine', 'onecycle', 'paper')" in capsys.readouterr().err


def test_ctrl_c_in_epoch_1_gives_a_command_that_works(tmp_path, monkeypatch, capsys):
    import shlex

    import numpy as np
    from PIL import Image

    from resnet_lessons.loader import DeviceLoader

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"):
            (tmp_path / "data" / split / name).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    tmp_path / "data" / split / name / f"{i}.jpg")
    monkeypatch.setenv("RESNET_LESSONS_CACHE", str(tmp_path / "cache"))
    args = ["train", "--model", "resnet8", "--epochs", "1", "--data", str(tmp_path / "data"), "--batch-size", "10",
            "--out", str(tmp_path / "run"), "--no-progress"]

    def ctrl_c(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(DeviceLoader, "epoch_tensors", ctrl_c)  # Ctrl-C as the first epoch starts
        assert main(args) == 130
    said = capsys.readouterr()
    assert "no checkpoint to resume" in said.out
    (advice,) = [line for line in said.err.splitlines() if line.startswith("To start again: ")]
    command = shlex.split(advice.removeprefix("To start again: "))
    assert command[:3] == ["python", "-m", "resnet_lessons"] and "--resume" not in command
    assert main(command[3:]) == 0  # the command it gives works
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
