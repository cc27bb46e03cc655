"""The reference experiments, end to end as smoke runs (``--smoke``) on a tiny ImageFolder (10 images per class)."""

import os
import shutil
from pathlib import Path

import pytest

from resnet_lessons.history import History
from resnet_lessons.lab import cli, experiments
from resnet_lessons.lab.cli import experiment_main
from resnet_lessons.lab.experiments import EXPERIMENTS
from resnet_lessons.lab.plans import seed001_recipe
from resnet_lessons.recipes import lr_factor
from resnet_lessons.reference import load_reference, reference_label, results_table


def _source() -> Path | None:
    """The JPEG copy of CIFAR-10 named by $RESNET_LESSONS_DATA, if it is there."""
    candidate = os.environ.get("RESNET_LESSONS_DATA")
    if candidate and (Path(candidate) / "train").is_dir() and (Path(candidate) / "test").is_dir():
        return Path(candidate)
    return None


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """train/<class>/ and test/<class>/ with 10 JPEG images each, copied from the CIFAR-10 JPEG copy."""
    source = _source()
    if source is None:
        pytest.skip("needs the JPEG copy of CIFAR-10: set RESNET_LESSONS_DATA to its folder")
    root = tmp_path_factory.mktemp("cifar10-tiny")
    for split in ("train", "test"):
        for class_dir in sorted((source / split).iterdir()):
            target = root / split / class_dir.name
            target.mkdir(parents=True)
            for image in sorted(class_dir.iterdir())[:10]:
                shutil.copy(image, target / image.name)
    return root


@pytest.fixture
def run_smoke(tiny_data, tmp_path, monkeypatch):
    """Run ``python -m resnet_lessons experiment ... --smoke`` into tmp_path/results; returns that folder."""
    monkeypatch.setenv("RESNET_LESSONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RESNET_LESSONS_DATA", str(tiny_data))  # the data root: records quote paths from it
    out = tmp_path / "results"

    def run(*args: str) -> Path:
        argv = [*args, "--smoke", "--out", str(out), "--data", str(tiny_data), "--device", "cpu", "--no-progress"]
        assert experiment_main(argv) == 0
        return out

    return run


def test_shortcuts_smoke_end_to_end(run_smoke, capsys):
    out = run_smoke("shortcuts")
    folder = out / "shortcuts"
    assert sorted(p.name for p in folder.iterdir()) == [
        "figure.png", "histories.json", "provenance.json", "summary.json"]
    assert (folder / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    for name in ("resnet-8", "resnet-8 B", "resnet-8 pool"):  # one summary line per run
        assert f"shortcuts: {name}: 1 epochs, final test accuracy" in printed

    ref = load_reference("shortcuts", out)
    assert list(ref.histories) == ["resnet-8", "resnet-8 B", "resnet-8 pool"]
    for h in ref.histories.values():
        assert isinstance(h, History) and len(h) == 1
        assert h.record.data == "CIFAR-10 (JPEG q75 copy)"
    assert ref.histories["resnet-8 B"].record.parameters > ref.histories["resnet-8"].record.parameters

    record = ref.provenance
    invocation = record["last_invocation"]
    assert invocation["command"].startswith("python -m resnet_lessons experiment shortcuts --smoke --out ")
    assert set(invocation["git"]) == {"commit", "dirty"}
    env = invocation["environment"]
    for key in ("python", "resnet_lessons", "torch", "torchvision", "device", "device_count"):
        assert key in env
    assert record["data"]["label"] == "CIFAR-10 (JPEG q75 copy)"
    assert record["data"]["train_images"] == 100 and record["data"]["test_images"] == 100
    assert record["data"]["root"] == "$RESNET_LESSONS_DATA"  # relative to the data root, not this machine's path
    assert record["data"]["source"].endswith("from $RESNET_LESSONS_DATA")
    for stored in folder.glob("*.json"):
        text = stored.read_text()
        assert str(tiny_data) not in text and str(out.parent) not in text, stored.name
    assert record["seeds"] == {"resnet-8": 0, "resnet-8 B": 0, "resnet-8 pool": 0}
    assert record["reproduce"] == "python -m resnet_lessons experiment shortcuts --smoke"
    run = record["runs"]["resnet-8 pool"]
    assert run["wall_seconds"] > 0 and run["epochs"] == 1 and run["recipe"]["name"] == "onecycle"
    assert run["train_images"] == 100  # what this run trained on (a run may use a subset of the data)
    assert run["started"].endswith("+00:00") and len(run["code_fingerprint"]) == 16
    assert record["total_wall_seconds"] >= run["wall_seconds"]

    summary = ref.summary
    assert summary["smoke"] is True and [r["run"] for r in summary["rows"]] == list(ref.histories)
    assert "fast" not in summary and record["smoke"] is True and "fast" not in record
    assert "smoke run" in reference_label(ref)
    assert results_table("shortcuts", out).splitlines()[0].startswith("| run | parameters |")

    # --replot writes figure, summary and provenance again from the stored histories alone.
    summary_text = (folder / "summary.json").read_text()
    (folder / "figure.png").unlink()
    (folder / "summary.json").unlink()
    assert experiment_main(["shortcuts", "--replot", "--out", str(out)]) == 0
    assert (folder / "figure.png").exists() and (folder / "summary.json").read_text() == summary_text
    assert load_reference("shortcuts", out).provenance["last_invocation"]["replotted"]


def test_runs_are_reused_across_experiments_and_invocations(run_smoke, monkeypatch, capsys):
    out = run_smoke("degradation", "--models", "resnet-8")
    capsys.readouterr()
    out = run_smoke("depth", "--models", "resnet-8,resnet-8 (second seed)")
    printed = capsys.readouterr().out
    assert "depth: resnet-8: 1 epochs" in printed and "reused from degradation" in printed
    ref = load_reference("depth", out)
    assert ref.provenance["runs"]["resnet-8"]["reused_from"] == "degradation"
    assert ref.provenance["runs"]["resnet-8 (second seed)"]["reused_from"] is None
    assert ref.histories["resnet-8"].test_acc == load_reference("degradation", out).histories["resnet-8"].test_acc
    noise = ref.provenance["run_to_run_noise"]
    assert noise["runs"] == ["resnet-8", "resnet-8 (second seed)"] and noise["test_acc_difference_pct"] >= 0
    paper = {row["run"]: row.get("paper_test_err") for row in ref.summary["rows"]}
    assert paper["resnet-8"] is None  # the paper has no ResNet-8

    # Running it again trains nothing: every run is stored.
    def no_training(*args, **kwargs):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(experiments, "train_run", no_training)
    run_smoke("depth", "--models", "resnet8")


def test_gradients_smoke_stores_norms_at_init_and_after_training(run_smoke):
    ref = load_reference("gradients", run_smoke("gradients", "--models", "plain-8,resnet-8"))
    assert list(ref.histories) == ["plain-8", "resnet-8"]
    norms = ref.histories["plain-8"].record.grad_norms
    assert norms["epochs"] == [0, 1]
    assert len(norms["layers"]) == 8 and len(norms["norms"][0]) == 8  # 7 convs + fc
    assert norms["layers"][0] == "conv1.weight" and norms["layers"][-1] == "fc.weight"
    row = next(r for r in ref.summary["rows"] if r["run"] == "resnet-8")
    assert row["first_over_last_init"] > 0


def test_dry_run_and_bad_arguments(run_smoke, tiny_data, capsys):
    out = run_smoke("shortcuts", "--dry-run")
    assert not (out / "shortcuts").exists()
    assert "resnet-8 B" in capsys.readouterr().out
    assert experiment_main(["nonsense", "--smoke", "--data", str(tiny_data)]) == 2
    assert "unknown experiment 'nonsense'" in capsys.readouterr().err
    assert experiment_main(["depth", "--smoke", "--models", "resnet-1000", "--data", str(tiny_data)]) == 2
    assert "no such run" in capsys.readouterr().err


def test_an_unknown_flag_is_a_usage_error_before_any_work(tmp_path, capsys):
    args = ["shortcuts", "--fast", "--out", str(tmp_path / "results")]
    with pytest.raises(SystemExit) as stopped:
        experiment_main(args)
    assert stopped.value.code == 2  # argparse's usage error, before any data is read or anything trained
    assert "unrecognized arguments: --fast" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
    assert cli.default_out(True).name == "experiments-smoke"


def test_models_option_keeps_the_named_runs_of_each_experiment():
    assert cli.select_runs(["depth", "shortcuts"], None, smoke=False) == {"depth": None, "shortcuts": None}
    assert cli.select_runs(["degradation", "depth"], "resnet-110,plain-20", smoke=False) == {
        "degradation": ["plain-20"], "depth": ["resnet-110"]}
    with pytest.raises(ValueError, match="'resnet-7'"):
        cli.select_runs(["depth"], "resnet-7", smoke=False)


def test_full_plans_are_the_documented_experiments():
    names = {name: [r.name for r in EXPERIMENTS[name].plan(False)] for name in EXPERIMENTS}
    for smoke in (True, False):  # --models splits on commas
        assert not [r.name for e in EXPERIMENTS.values() for r in e.plan(smoke) if "," in r.name]
    assert names["degradation"] == [f"{k}-{d}" for k in ("plain", "resnet") for d in (20, 32, 44, 56)]
    assert names["depth"][:5] == [f"resnet-{d}" for d in (20, 32, 44, 56, 110)]
    assert names["shortcuts"] == ["resnet-20", "resnet-20 B", "resnet-20 pool"]
    assert names["recipes"] == ["resnet-20 (paper recipe)", "resnet-20 (onecycle recipe)", "seed-001 baseline"]
    assert {r.full_recipe().name for r in EXPERIMENTS["degradation"].plan(False)} == {"onecycle"}
    assert {r.full_recipe().name for r in EXPERIMENTS["gradients"].plan(False)} == {"onecycle, gentle start"}
    # depth and shortcuts reuse degradation's ResNets: same model, recipe, epochs and seed.
    degradation = {r.name: r for r in EXPERIMENTS["degradation"].plan(False)}
    for name in ("depth", "shortcuts"):
        run = EXPERIMENTS[name].plan(False)[0]
        same = degradation[run.name]
        assert (run.model, run.model_kwargs, run.full_recipe(), run.epochs, run.seed) == (
            same.model, same.model_kwargs, same.full_recipe(), same.epochs, same.seed)


def test_seed001_recipe_halves_the_rate_every_ten_epochs():
    recipe = seed001_recipe(20)
    assert (recipe.lr, recipe.batch_size, recipe.momentum, recipe.weight_decay) == (0.1, 256, 0.9, 5e-4)
    steps = 200  # 10 steps per epoch
    factors = [lr_factor(recipe, s, steps) for s in range(steps)]
    assert factors[0] == factors[99] == 1.0 and factors[100] == factors[199] == 0.5
    assert seed001_recipe(1).schedule == "constant"



def test_provenance_quotes_paths_from_the_data_and_cache_roots(tmp_path, monkeypatch):
    from resnet_lessons.lab.provenance import REPO_DIR, command_line, portable_path

    monkeypatch.setenv("RESNET_LESSONS_DATA", str(tmp_path / "cifar"))
    monkeypatch.setenv("RESNET_LESSONS_CACHE", str(tmp_path / "cache"))
    assert portable_path(tmp_path / "cifar") == "$RESNET_LESSONS_DATA"
    assert portable_path(tmp_path / "cifar" / "train") == "$RESNET_LESSONS_DATA/train"
    assert portable_path(tmp_path / "cache" / "cifar10.pt") == "$RESNET_LESSONS_CACHE/cifar10.pt"
    assert portable_path(REPO_DIR / "results" / "depth") == "results/depth"
    assert portable_path(tmp_path / "elsewhere" / "runs") == "runs"  # outside every root: its name only
    command = command_line(["train", "--data", str(tmp_path / "cifar"), "--out", "runs/a b"])
    assert command == "python -m resnet_lessons train --data $RESNET_LESSONS_DATA --out 'runs/a b'"
