"""Stored results are never replaced or mixed by default: experiments and the landscape command write a new run
under runs/ unless told --update-stored, refuse to mix runs of other settings into one experiment's files, and
write each folder atomically (resnet_lessons.lab.cli, lab.experiments, lab.store, lab.landscape, trained)."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

import resnet_lessons.landscape as L
from resnet_lessons.config import default_results_dir
from resnet_lessons.lab import cli, experiments, store
from resnet_lessons.lab import landscape as command
from resnet_lessons.lab.cli import experiment_main
from resnet_lessons.models import cifar_resnet
from resnet_lessons.trained import TrainedNetworkError, read_record, trained_dir

# --------------------------------------------------------------------------------------------------
# experiments


def test_experiments_write_under_runs_unless_asked_to_update_the_stored_results(tmp_path, capsys):
    assert cli.default_out(smoke=False) == Path("runs") / "experiments"
    assert cli.default_out(smoke=False, update_stored=True) == default_results_dir()
    stored = default_results_dir() / "depth" / "histories.json"
    before = stored.read_bytes()
    status = experiment_main(["depth", "--epochs", "1", "--models", "resnet-20", "--out", str(default_results_dir()),
                              "--data", str(tmp_path / "no-such-data")])
    err = capsys.readouterr().err
    assert status == 2 and "--update-stored" in err and "no-such-data" not in err  # before the data
    assert stored.read_bytes() == before
    assert experiment_main(["depth", "--smoke", "--update-stored", "--data", str(tmp_path / "nothing")]) == 2
    assert "--smoke" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    source = os.environ.get("RESNET_LESSONS_DATA")
    if not source or not (Path(source) / "train").is_dir():
        pytest.skip("needs the JPEG copy of CIFAR-10: set RESNET_LESSONS_DATA to its folder")
    root = tmp_path_factory.mktemp("cifar10-tiny")
    for split in ("train", "test"):
        for class_dir in sorted((Path(source) / split).iterdir()):
            (root / split / class_dir.name).mkdir(parents=True)
            for image in sorted(class_dir.iterdir())[:10]:
                shutil.copy(image, root / split / class_dir.name / image.name)
    return root


@pytest.fixture
def smoke(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_LESSONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RESNET_LESSONS_DATA", str(tiny_data))
    out = tmp_path / "results"

    def run(*args: str) -> int:
        return experiment_main([*args, "--smoke", "--out", str(out), "--data", str(tiny_data), "--device", "cpu",
                                "--no-progress"])

    return run, out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_runs_of_other_settings_are_not_mixed_into_an_experiments_files(smoke, monkeypatch, capsys):
    run, out = smoke
    assert run("shortcuts", "--models", "resnet-8") == 0
    before = _snapshot(out / "shortcuts")
    capsys.readouterr()

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the folder holds runs of other settings")

    monkeypatch.setattr(experiments, "train_run", no_training)
    assert run("shortcuts", "--models", "resnet-8 B", "--epochs", "2") == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "epochs" in err and "resnet-8" in err and "--out" in err
    assert _snapshot(out / "shortcuts") == before


def test_a_crash_while_writing_leaves_the_old_files(smoke, monkeypatch):
    run, out = smoke
    assert run("shortcuts", "--models", "resnet-8") == 0
    before = _snapshot(out / "shortcuts")
    real = store.write_results

    def crash(experiment, runs, histories, folder, *args):
        real(experiment, runs, histories, folder, *args)
        raise KeyboardInterrupt  # after some files of the new results are written

    monkeypatch.setattr(store, "write_results", crash)
    with pytest.raises(KeyboardInterrupt):
        experiments.run_experiment("shortcuts", experiments.load_data(None, True, False), out, smoke=True,
                                   models=["resnet-8 B"], device="cpu", progress=False)
    assert _snapshot(out / "shortcuts") == before
    assert sorted(p.name for p in out.iterdir()) == ["shortcuts"]  # no temporary folder left


# --------------------------------------------------------------------------------------------------
# the landscape command


@pytest.fixture
def landscape_fakes(monkeypatch):
    import resnet_lessons.data as data_module
    import resnet_lessons.trained as trained_module
    from conftest import landscape_inputs

    fake, record = landscape_inputs(seed=0)
    computed = []

    def fake_trained(name):
        if name not in ("resnet8", "plain8"):
            raise TrainedNetworkError(f"No shipped network {name!r}")
        torch.manual_seed(0)
        return cifar_resnet(8).eval(), record

    real_surface = L.surface_2d

    def counting_surface(*args, **kwargs):
        computed.append(1)
        return real_surface(*args, **kwargs)

    monkeypatch.setattr(data_module, "load_cifar10", lambda root=None: fake)
    monkeypatch.setattr(trained_module, "trained", fake_trained)
    monkeypatch.setattr(command, "surface_2d", counting_surface)
    return computed


def test_landscape_writes_under_runs_by_default_and_into_results_only_when_asked(tmp_path, capsys):
    assert command.check_arguments(command.build_parser().parse_args([])) == Path("runs") / "landscape"
    assert command.check_arguments(command.build_parser().parse_args(["--update-stored"])) == command.STORED_DIR
    assert command.main(["--grid", "3", "--images", "10", "--models", "resnet20", "--out", str(command.STORED_DIR),
                   "--data", str(tmp_path / "nothing")]) == 2
    assert "--update-stored" in capsys.readouterr().err


@pytest.mark.parametrize("argv, flag", [
    (["--models", "resnet8", "nonsense"], "nonsense"),
    (["--extent", "0"], "--extent"),
    (["--extent", "nan"], "--extent"),
    (["--extent", "-1"], "--extent"),
    (["--grid", "4"], "--grid"),
    (["--images", "0"], "--images"),
    (["--threads", "0"], "--threads"),
    (["--seed", "123456789012345678901234"], "--seed"),
])
def test_landscape_arguments_are_checked_before_any_surface(landscape_fakes, tmp_path, capsys, argv, flag):
    base = ["--models", "resnet8", "--grid", "3", "--images", "20", "--out", str(tmp_path / "out")]
    assert command.main([*base, *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err
    assert landscape_fakes == []  # no surface computed
    assert not (tmp_path / "out").exists()


def test_landscape_refuses_to_mix_surfaces_of_other_settings(landscape_fakes, tmp_path, capsys):
    out = tmp_path / "out"
    assert command.main(["--models", "resnet8", "plain8", "--grid", "3", "--images", "20", "--out", str(out)]) == 0
    provenance = json.loads((out / "provenance.json").read_text())
    assert set(provenance["surfaces"]) == {"resnet8", "plain8"}
    before = _snapshot(out)
    computed = len(landscape_fakes)
    assert command.main(["--models", "resnet8", "--grid", "5", "--images", "20", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "plain8" in err and "3x3" in err and "5x5" in err
    assert len(landscape_fakes) == computed and _snapshot(out) == before
    # recomputing one surface with the same settings keeps the folder's provenance true of both files
    assert command.main(["--models", "plain8", "--grid", "3", "--images", "20", "--out", str(out)]) == 0
    provenance = json.loads((out / "provenance.json").read_text())
    assert set(provenance["surfaces"]) == {"resnet8", "plain8"}
    assert all(math.isfinite(x) for x in L.load_surface(out / "plain8.json").losses.ravel())


# --------------------------------------------------------------------------------------------------
# shipped records


def test_a_shipped_record_with_a_missing_field_names_the_file(tmp_path):
    shutil.copytree(trained_dir(), tmp_path / "trained" / "networks")
    path = tmp_path / "trained" / "networks" / "resnet20.json"
    record = json.loads(path.read_text())
    del record["val_acc"]
    path.write_text(json.dumps(record))
    with pytest.raises(TrainedNetworkError, match=r"resnet20\.json.*val_acc"):
        read_record("resnet20", tmp_path)


def test_a_stored_history_with_an_unknown_fact_names_the_file(tmp_path):
    from resnet_lessons.lab.reference import load_reference

    folder = tmp_path / "depth"
    shutil.copytree(default_results_dir() / "depth", folder)
    histories = json.loads((folder / "histories.json").read_text())
    next(iter(histories.values()))["record"]["devise"] = "a typo"
    (folder / "histories.json").write_text(json.dumps(histories))
    with pytest.raises(ValueError, match=r"depth/histories\.json.*devise"):
        load_reference("depth", tmp_path)
