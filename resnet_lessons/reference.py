"""Stored reference results: load them, label them, plot them beside a live run, and tabulate them.

The results of the course's key experiments, run in full on a GPU by ``python -m resnet_lessons experiment NAME``,
are stored in ``results/NAME/``. A notebook shows them next to the student's short live run::

    from resnet_lessons.reference import load_reference, plot_with_reference, reference_label
    ref = load_reference("degradation")
    print(reference_label(ref))   # reference run: NVIDIA H100 80GB HBM3, CIFAR-10 (JPEG q75 copy), 10 epochs, ...
    plot_with_reference({"plain-8": history}, "degradation", runs=["plain-20", "plain-56"])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .config import RESULTS_ENV, default_results_dir
from .files import read_json
from .history import History

ORDER = ("degradation", "depth", "shortcuts", "resnext", "recipes", "gradients")
"""The order of the experiments in the README (others follow, alphabetically)."""


@dataclass
class Reference:
    """One stored experiment: its runs' histories, its provenance and summary, and its figure.

    histories: {run name: History}, e.g. {"plain-20": ..., "resnet-56": ...}.
    provenance: how it was made (command, commit, versions, GPU, data, seeds, dates, wall times).
    summary: the final numbers per run (``summary["rows"]``) and the facts a table needs.
    figure_path: the stored figure (PNG), or None.
    """

    name: str
    histories: dict[str, History]
    provenance: dict
    summary: dict
    figure_path: Path | None = None
    folder: Path = field(default_factory=Path)

    def runs(self, *names: str) -> dict[str, History]:
        """The histories of the named runs (all of them when no name is given)."""
        missing = [n for n in names if n not in self.histories]
        if missing:
            raise KeyError(f"{missing} not stored in reference {self.name!r}; it has {list(self.histories)}.")
        return {n: self.histories[n] for n in names} if names else dict(self.histories)


def is_smoke(stored: dict) -> bool:
    """Whether a stored summary or provenance record comes from a smoke run (``experiment NAME --smoke``)."""
    return bool(stored.get("smoke", False))


def available(results_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the stored experiments, in the README's order."""
    root = Path(results_dir) if results_dir is not None else default_results_dir()
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if (p / "histories.json").is_file()]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def load_histories(path: Path) -> dict[str, History]:
    """``histories.json`` as {run name: History}; empty when the file does not exist. A damaged or hand-edited
    file is a ValueError that names it."""
    if not path.exists():
        return {}
    try:
        return {name: History.from_dict(d) for name, d in read_json(path).items()}
    except (TypeError, KeyError, AttributeError, ValueError) as e:
        raise ValueError(f"{path} does not hold readable run histories ({type(e).__name__}: {e}). Restore it "
                         "(git checkout -- histories.json in its folder) or make it again.") from None


def load_reference(name: str, results_dir: str | os.PathLike | None = None) -> Reference:
    """Load the stored experiment ``name`` from ``results_dir/name`` (default :func:`default_results_dir`); a
    FileNotFoundError names the stored experiments and the command that makes this one."""
    root = Path(results_dir) if results_dir is not None else default_results_dir()
    folder = root / name
    if not (folder / "histories.json").is_file():
        stored = available(root)
        raise FileNotFoundError(
            f"No stored result {name!r} in {root}; available: {', '.join(stored) if stored else 'none'}. "
            f"Make it with: python -m resnet_lessons experiment {name} --update-stored"
            + (f" (or set ${RESULTS_ENV} to the folder that holds the course's results/)" if not stored else ""))
    histories = load_histories(folder / "histories.json")  # a damaged file: an error that names it
    record = read_json(folder / "provenance.json") if (folder / "provenance.json").is_file() else {}
    summary = read_json(folder / "summary.json") if (folder / "summary.json").is_file() else {}
    figure = folder / "figure.png"
    return Reference(name, histories, record, summary, figure if figure.is_file() else None, folder)


def short_device(device: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'H100'; 'Tesla T4' -> 'T4'; a CPU stays 'CPU (2 threads)'."""
    for prefix in ("NVIDIA ", "Tesla "):
        if device.startswith(prefix):
            rest = device[len(prefix):].split()
            return rest[0] if rest else device
    return device


def _facts(ref: Reference) -> tuple[str, str, str, str]:
    """(device, data label, epochs, commits) of a stored experiment, as text."""
    records = [h.record for h in ref.histories.values()]
    devices = sorted({r.device or "?" for r in records})
    data = sorted({r.data or "?" for r in records})
    epochs = sorted({len(h) for h in ref.histories.values()})
    if len(epochs) == 1:
        epoch_text = f"{epochs[0]} epoch" + ("s" if epochs[0] != 1 else "")
    else:
        epoch_text = f"{epochs[0]}-{epochs[-1]} epochs"
    commits = sorted({r.provenance.get("commit", "unknown") for r in records})
    commit_text = ", ".join(c[:7] if c != "unknown" else c for c in commits)
    if any(r.provenance.get("dirty") for r in records):
        commit_text += " (with uncommitted changes)"
    return " / ".join(devices), " / ".join(data), epoch_text, commit_text


def reference_label(ref: Reference, commit: bool = True) -> str:
    """One line saying what a reference is, e.g.
    ``"reference run: NVIDIA H100 80GB HBM3, CIFAR-10 (JPEG q75 copy), 10 epochs, commit abc1234"``.
    ``commit=False`` leaves the commit out (figure titles: the provenance is in the results files)."""
    device, data, epochs, commits = _facts(ref)
    smoke = ", smoke run (tiny data, not a real reference)" if is_smoke(ref.summary) else ""
    images = sorted({h.record.train_images for h in ref.histories.values()} - {0})
    size = f" on {'/'.join(f'{n:,}' for n in images)} training images" if images else ""
    made = f", commit {commits}" if commit else ""
    return f"reference run: {device}, {data}, {epochs}{size}{made}{smoke}"


def plot_with_reference(live: dict[str, History] | None, name: str, runs: list[str] | None = None,
                        metric: str = "error", x: str | None = None, results_dir: str | os.PathLike | None = None,
                        ax=None, title: str | None = None):
    """Curves of the live runs (full colour, "this run") over the stored reference runs (faded, labelled
    with the GPU), with the reference's hardware, data and length in the title. Returns the Figure.

    live: the student's histories, or None to show the reference alone.
    runs: which stored runs to draw (default all).
    x: "epoch", "seconds" or "images"; by default "images" (training images seen) when live runs are
        drawn over the reference, since a live run on a subset and a full run have different epochs.
    """
    from .plots import plot_curves

    ref = load_reference(name, results_dir)
    reference = ref.runs(*(runs or []))
    heading, label = title or ref.summary.get("title", name), reference_label(ref, commit=False)
    if x is None:
        x = "images" if live else "epoch"
    if live:
        device = short_device(_facts(ref)[0])
        return plot_curves(live, ax=ax, metric=metric, x=x, title=f"{heading}\nfaded: {label}",
                           reference=reference, reference_label=f"(reference, {device})")
    return plot_curves(reference, ax=ax, metric=metric, x=x, title=f"{heading}\n{label}")


def plot_degradation_with_reference(plain: dict[str, History] | None, residual: dict[str, History] | None,
                                    results_dir: str | os.PathLike | None = None,
                                    ylim: tuple[float, float] | None = None, x: str | None = None):
    """The paper's Figure 6 (left and middle) from the stored ``degradation`` runs, faded, with the
    student's plain and residual runs (may be None) drawn over them. Returns the Figure."""
    from .plots import plot_degradation

    ref = load_reference("degradation", results_dir)
    stored_plain = {n: h for n, h in ref.histories.items() if n.startswith("plain")}
    stored_residual = {n: h for n, h in ref.histories.items() if not n.startswith("plain")}
    device = short_device(_facts(ref)[0])
    if plain and residual:
        fig = plot_degradation(plain, residual, reference_plain=stored_plain, reference_residual=stored_residual,
                               reference_label=f"(reference, {device})", ylim=ylim, x=x or "images")
    else:
        fig = plot_degradation(stored_plain, stored_residual, ylim=ylim, x=x or "epoch")
    fig.suptitle(("faded: " if plain and residual else "") + reference_label(ref, commit=False), fontsize="medium")
    return fig


def grad_norms(ref: Reference, when: str = "init") -> dict[str, list[float]]:
    """Per-layer gradient norms stored by the ``gradients`` experiment, ready for
    :func:`resnet_lessons.plots.plot_grad_norms`: ``when="init"`` (before training) or ``"trained"``."""
    if when not in ("init", "trained"):
        raise ValueError(f"when must be 'init' or 'trained', got {when!r}.")
    index = 0 if when == "init" else -1
    norms = {n: h.record.grad_norms["norms"][index] for n, h in ref.histories.items() if h.record.grad_norms}
    if not norms:
        raise ValueError(f"Reference {ref.name!r} holds no gradient norms (the 'gradients' experiment does).")
    return norms


# --- tables ---


def _cell(value, spec: str) -> str:
    """One table cell: ``value`` in format ``spec``, or a dash for a missing value."""
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return "–"
    try:
        return format(value, spec) if spec else str(value)
    except (TypeError, ValueError):
        return str(value)


def table_from_summary(summary: dict) -> str:
    """The summary's rows as a markdown table (columns and formats as the summary lists them)."""
    columns = summary.get("columns") or [[k, k, ""] for k in summary["rows"][0]]
    lines = [
        "| " + " | ".join(header for _, header, _ in columns) + " |",
        "|" + "|".join("---:" if spec else "---" for _, _, spec in columns) + "|",
    ]
    for row in summary.get("rows", []):
        name = row.get("run", "")
        if row.get("reused_from"):
            name += f" (trained for {row['reused_from']})"  # trained once, reused here
        cells = [name] + [_cell(row.get(key), spec) for key, _, spec in columns[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_table(name: str, results_dir: str | os.PathLike | None = None) -> str:
    """The markdown table of a stored experiment's final numbers (from its summary.json)."""
    ref = load_reference(name, results_dir)
    if not ref.summary.get("rows"):
        raise ValueError(f"{ref.folder / 'summary.json'} is missing or has no rows; "
                         f"make it again with: python -m resnet_lessons experiment {name} --update-stored")
    return table_from_summary(ref.summary)
