"""Stored reference results: loading, labels, tables, the README section, the reproduction check."""

import json

import pytest
from matplotlib.figure import Figure

from resnet_lessons.history import History, RunRecord
from resnet_lessons.lab.reference import (
    END_MARKER,
    START_MARKER,
    compare_results,
    main,
    results_markdown,
    update_readme_results,
)
from resnet_lessons.reference import (
    available,
    grad_norms,
    is_smoke,
    load_reference,
    plot_degradation_with_reference,
    plot_with_reference,
    reference_label,
    results_table,
    short_device,
)

DEVICE = "NVIDIA H100 80GB HBM3"
DATA = "CIFAR-10 (JPEG q75 copy)"


def _history(name: str, accs: list[float], commit: str = "abc1234def5678") -> History:
    h = History(record=RunRecord(model=name, device=DEVICE, data=DATA, recipe="onecycle", seed=0,
                                 provenance={"commit": commit, "dirty": False, "wall_seconds": 12.0}))
    for i, acc in enumerate(accs, start=1):
        h.append(epoch=i, train_loss=1.0 / i, train_acc=acc + 0.05, test_loss=1.2 / i, test_acc=acc, lr=0.1,
                 seconds=2.0, images_per_s=25_000.0)
    return h


def _store(root, name: str, accs: dict[str, list[float]], noise: float | None = None, with_figure=True,
           flags: dict | None = None):
    """Write results/name the way the experiments do: histories, summary, provenance, figure.

    flags: replace the summary's ``{"smoke": False}``, e.g. ``{"fast": True}`` as results written before
    ``--fast`` became ``--smoke`` say."""
    folder = root / name
    folder.mkdir(parents=True)
    histories = {run: _history(run, a) for run, a in accs.items()}
    (folder / "histories.json").write_text(json.dumps({n: h.to_dict() for n, h in histories.items()}))
    rows = [{"run": n, "test_err": 100 * h.test_err[-1], "parameters": 272_474, "epochs": len(h)}
            for n, h in histories.items()]
    summary = {
        "experiment": name, "title": f"The {name} experiment", "about": "What it shows.",
        "command": f"python -m resnet_lessons experiment {name}", "device": DEVICE, "data": DATA,
        "train_images": 50_000, "test_images": 10_000, **(flags if flags is not None else {"smoke": False}),
        "columns": [["run", "run", ""], ["parameters", "parameters", ",d"], ["epochs", "epochs", "d"],
                    ["test_err", "test error (%)", ".2f"]],
        "rows": rows, "notes": ["A note."],
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    noise_record = {"runs": ["a", "b"], "test_acc_difference_pct": noise, "measured_in": name} if noise else None
    (folder / "provenance.json").write_text(json.dumps({"experiment": name, "run_to_run_noise": noise_record}))
    if with_figure:
        (folder / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return folder


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    _store(root, "depth", {"resnet-20": [0.5, 0.8, 0.9], "resnet-56": [0.45, 0.82, 0.92]}, noise=0.2)
    _store(root, "shortcuts", {"resnet-20": [0.5, 0.8, 0.9]})
    return root


def test_load_reference_round_trip(results):
    ref = load_reference("depth", results)
    assert list(ref.histories) == ["resnet-20", "resnet-56"]
    assert isinstance(ref.histories["resnet-56"], History)
    assert ref.histories["resnet-56"].test_acc == [0.45, 0.82, 0.92]
    assert ref.summary["rows"][1]["run"] == "resnet-56"
    assert ref.provenance["run_to_run_noise"]["test_acc_difference_pct"] == 0.2
    assert ref.figure_path == results / "depth" / "figure.png"
    assert list(ref.runs("resnet-20")) == ["resnet-20"]
    with pytest.raises(KeyError, match="resnet-110"):
        ref.runs("resnet-110")


def test_missing_reference_names_the_stored_ones_and_the_command(results, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_reference("degradation", results)
    message = str(e.value)
    assert "No stored result 'degradation'" in message
    assert "available: depth, shortcuts" in message  # the README's order
    assert "python -m resnet_lessons experiment degradation" in message
    with pytest.raises(FileNotFoundError, match="available: none"):
        load_reference("depth", tmp_path / "empty")


def test_available_in_readme_order(results):
    assert available(results) == ["depth", "shortcuts"]


def test_reference_label_says_hardware_data_length_and_commit(results):
    label = reference_label(load_reference("depth", results))
    assert label == f"reference run: {DEVICE}, {DATA}, 3 epochs, commit abc1234"
    assert short_device(DEVICE) == "H100" and short_device("Tesla T4") == "T4"
    assert short_device("CPU (2 threads)") == "CPU (2 threads)"


def test_a_smoke_run_is_labelled_as_such(tmp_path):
    root = tmp_path / "results"
    _store(root, "depth", {"resnet-8": [0.2]}, flags={"smoke": True})
    _store(root, "shortcuts", {"resnet-8": [0.2]})
    ref = load_reference("depth", root)
    assert is_smoke(ref.summary) and not is_smoke(load_reference("shortcuts", root).summary)
    assert reference_label(ref).endswith(", smoke run (tiny data, not a real reference)")
    assert "smoke run" not in reference_label(load_reference("shortcuts", root))
    assert "**Warning:** depth stored from smoke runs" in results_markdown(root)
    assert not is_smoke({"fast": True}) and not is_smoke({})  # only the key "smoke" says so


def test_results_table_is_read_from_the_summary(results):
    table = results_table("depth", results).splitlines()
    assert table[0] == "| run | parameters | epochs | test error (%) |"
    assert table[2] == "| resnet-20 | 272,474 | 3 | 10.00 |"
    assert table[3] == "| resnet-56 | 272,474 | 3 | 8.00 |"


def test_update_readme_replaces_only_between_the_markers_and_is_idempotent(results, tmp_path):
    readme = tmp_path / "README.md"
    before, after = "# Title\n\nIntro.\n\n## Reference results\n\n", "\n\n## Layout\n\nThe end.\n"
    readme.write_text(f"{before}{START_MARKER}\nold typed numbers 99.9%\n{END_MARKER}{after}")
    assert update_readme_results(readme, results) is True
    text = readme.read_text()
    assert text.startswith(before + START_MARKER + "\n") and text.endswith(END_MARKER + after)
    assert "99.9" not in text
    assert "### The depth experiment" in text and "### The shortcuts experiment" in text
    assert "| resnet-56 | 272,474 | 3 | 8.00 |" in text
    assert DEVICE in text and DATA in text and "commit abc1234" in text
    assert "`python -m resnet_lessons experiment depth`" in text
    assert "![The depth experiment](results/depth/figure.png)" in text
    assert "original CIFAR-10" in text  # what a student on the original data should expect
    assert "differ by 0.20 points" in text  # the recorded run-to-run noise
    assert update_readme_results(readme, results) is False
    assert readme.read_text() == text


def test_update_readme_needs_the_markers(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# No markers here\n")
    with pytest.raises(ValueError, match="results:start"):
        update_readme_results(readme, results)
    assert readme.read_text() == "# No markers here\n"


def test_command_line_updates_readme_and_prints_tables(results, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"{START_MARKER}\n{END_MARKER}\n")
    assert main(["--results", str(results), "--update-readme", str(readme)]) == 0
    assert "updated" in capsys.readouterr().out
    assert main(["--results", str(results), "--table", "shortcuts"]) == 0
    assert "| resnet-20 | 272,474 | 3 | 10.00 |" in capsys.readouterr().out
    assert main(["--results", str(results), "--table", "nothing"]) == 2
    assert "No stored result 'nothing'" in capsys.readouterr().err


def test_compare_uses_the_recorded_noise(results, tmp_path):
    rerun = tmp_path / "rerun"
    _store(rerun, "depth", {"resnet-20": [0.5, 0.8, 0.905], "resnet-56": [0.45, 0.8, 0.915]})
    text, ok = compare_results(results / "depth", rerun / "depth")
    assert ok, text  # within max(1.0, 2 * 0.2) points
    assert "| resnet-20 | 90.00 | 90.50 | +0.50 |" in text
    far = tmp_path / "far"
    _store(far, "depth", {"resnet-20": [0.5, 0.8, 0.85]})
    text, ok = compare_results(results / "depth", far / "depth")
    assert not ok and "NO" in text
    assert main(["--compare", str(results / "depth"), str(far / "depth")]) == 1


def test_plot_with_reference_labels_live_and_stored_runs(results):
    live = {"resnet-8": _history("resnet-8", [0.3, 0.4])}
    fig = plot_with_reference(live, "depth", runs=["resnet-20"], results_dir=results)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "resnet-8 (this run)" in labels
    assert "resnet-20 (reference, H100)" in labels
    assert "reference run: " in ax.get_title() and DATA in ax.get_title()
    alone = plot_with_reference(None, "depth", results_dir=results)
    assert "reference run:" in alone.axes[0].get_title()


def test_degradation_with_reference_and_stored_grad_norms(tmp_path):
    root = tmp_path / "results"
    _store(root, "degradation", {"plain-20": [0.5, 0.8], "plain-56": [0.4, 0.7],
                                 "resnet-20": [0.5, 0.8], "resnet-56": [0.55, 0.85]})
    live_plain, live_res = {"plain-8": _history("plain-8", [0.3, 0.4])}, {"resnet-8": _history("resnet-8", [0.3, 0.5])}
    fig = plot_degradation_with_reference(live_plain, live_res, results_dir=root)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "plain-8 (this run)" in labels and "plain-56 (reference, H100)" in labels
    assert "resnet-56 (reference, H100)" not in labels  # residual runs are on the right
    assert fig.get_suptitle().startswith("faded: reference run: ")

    grads = tmp_path / "g"
    folder = _store(grads, "gradients", {"plain-20": [0.2], "resnet-20": [0.3]})
    stored = json.loads((folder / "histories.json").read_text())
    for d in stored.values():
        d["record"]["grad_norms"] = {"layers": ["conv1.weight", "fc.weight"], "epochs": [0, 1],
                                   "norms": [[0.1, 0.5], [0.2, 0.4]]}
    (folder / "histories.json").write_text(json.dumps(stored))
    ref = load_reference("gradients", grads)
    assert grad_norms(ref) == {"plain-20": [0.1, 0.5], "resnet-20": [0.1, 0.5]}
    assert grad_norms(ref, "trained")["resnet-20"] == [0.2, 0.4]
    with pytest.raises(ValueError, match="no gradient norms"):
        grad_norms(load_reference("degradation", root))


def test_the_shipped_networks_table_is_read_from_their_records(results):
    from conftest import tiny_net
    from resnet_lessons.lab.reference import networks_markdown, results_markdown
    from resnet_lessons.trained import save_trained

    assert networks_markdown(results) == ""  # nothing shipped: no section
    record = {"name": "tiny", "model": "tiny_net", "model_kwargs": {}, "parameters": 1234, "epochs": 40, "seed": 0,
              "data": "CIFAR-10 (JPEG q75 copy)", "train_images": 45000, "val_images": 5000, "test_images": 10000,
              "val_acc": 0.8712, "test_acc": 0.8634, "mean": [0.5] * 3, "std": [0.25] * 3,
              "recipe": {"name": "onecycle", "batch_size": 256}, "command": "scripts/train_cpu_networks.sh 0 tiny",
              "provenance": {"device": "cpu (1 threads)"}}
    save_trained(tiny_net(), record, results)
    table = networks_markdown(results)
    row = next(line for line in table.splitlines() if line.startswith("| `tiny`"))
    assert "| 1,234 | 40 | onecycle (256) | 87.12% | 86.34% | cpu (1 threads), CIFAR-10 (JPEG q75 copy) |" in row
    assert "`scripts/train_cpu_networks.sh 0 tiny`" in row
    assert results_markdown(results).endswith(table)  # the README section ends with it
