"""The README's results section, generated from the stored reference results, and a check that a rerun
reproduced them (the notebook-facing part is :mod:`resnet_lessons.reference`)::

    python -m resnet_lessons.lab.reference --update-readme README.md
    python -m resnet_lessons.lab.reference --compare results/depth /tmp/rerun/depth   # did a rerun reproduce it?
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..reference import (
    Reference,
    _facts,
    available,
    is_smoke,
    load_reference,
    reference_label,
    results_table,
    table_from_summary,
)

START_MARKER = "<!-- results:start -->"
END_MARKER = "<!-- results:end -->"

DATA_CAVEAT = (
    "Every number here was measured on the JPEG copy of CIFAR-10 that these machines use offline (quality 75, 4:2:0 "
    "chroma subsampling: slightly blurred images), labelled \"CIFAR-10 (JPEG q75 copy)\". Comparisons between "
    "networks or recipes on the same copy are sound, but absolute accuracies are several points below what the same "
    "code reaches on the original CIFAR-10: a student training on the original dataset (torchvision's download) "
    "should expect higher accuracy than these tables, closer to the paper's."
)


def _section(ref: Reference, readme_dir: Path) -> str:
    s, title = ref.summary, ref.summary.get("title", ref.name)
    device, data, epochs, commits = _facts(ref)
    train, test = s.get("train_images"), s.get("test_images")
    sizes = f" ({train:,} training / {test:,} test images)" if train and test else ""
    figure = ""
    if ref.figure_path is not None:
        figure = f"\n![{title}]({Path(os.path.relpath(ref.figure_path, readme_dir)).as_posix()})\n"
    lines = [
        f"### {title}",
        "",
        s.get("about", ""),
        "",
        f"Hardware: {device}. Data: {data}{sizes}. Length: {epochs}. Code: commit {commits}. "
        f"Stored in `{Path(os.path.relpath(ref.folder, readme_dir)).as_posix()}/` with its provenance. "
        f"Remake it with `{s.get('command', f'python -m resnet_lessons experiment {ref.name}')}`.",
        figure,
        table_from_summary(s),
    ]
    for note in s.get("notes", []):
        lines += ["", note]
    noise = ref.provenance.get("run_to_run_noise") or {}
    if noise.get("test_acc_difference_pct") is not None and noise.get("measured_in") == ref.name:
        lines += ["", f"Run-to-run noise: {noise['runs'][0]} and {noise['runs'][1]} (two seeds) differ by "
                  f"{noise['test_acc_difference_pct']:.2f} points of final test accuracy."]
    return "\n".join(lines).replace("\n\n\n", "\n\n")


def networks_markdown(results_dir: str | os.PathLike | None = None) -> str:
    """The README's table of the shipped networks (what ``trained(name)`` loads), one row per network, read
    from its record in ``results/trained/networks/NAME.json``; empty when none is shipped."""
    from ..trained import available_trained, read_record

    names = available_trained(results_dir)
    if not names:
        return ""
    lines = [
        "### Shipped networks",
        "",
        "What `resnet_lessons.trained.trained(name)` loads: half-precision weights, checksum-checked. Each row is "
        "read from the network's record (`results/trained/networks/NAME.json`, which also holds every epoch's "
        "numbers); its test accuracy is that of the shipped file on the record's data copy.",
        "",
        "| network | model | parameters | epochs | recipe (batch) | validation acc | test acc | trained on | command |",
        "|---|---|---:|---:|---|---:|---:|---|---|",
    ]
    for name in names:
        r = read_record(name, results_dir)
        lines.append(f"| `{name}` | {r.model} | {r.parameters:,} | {r.epochs} | {r.recipe.get('name', '?')} "
                     f"({r.recipe.get('batch_size', '?')}) | {r.val_acc:.2%} | {r.test_acc:.2%} | "
                     f"{r.provenance.get('device', '?')}, {r.data} | `{r.command}` |")
    return "\n".join(lines)


def results_markdown(results_dir: str | os.PathLike | None = None, readme_dir: str | os.PathLike = ".") -> str:
    """The README's results section: the data caveat, then for each stored experiment its hardware,
    data, command, figure and table, all read from the stored files."""
    names = available(results_dir)
    intro = (
        "Full runs of the course's key experiments (on a GPU; the short gradients experiment on a CPU), made by the "
        "course's own code (`python -m resnet_lessons experiment NAME`) and stored in `results/` with their "
        "per-epoch histories, figure and provenance (command, commit, versions, device, data, seeds, dates, wall "
        "times). The notebooks plot them beside your live run with `resnet_lessons.reference.plot_with_reference`. "
        "Each remake command reads the data from `$RESNET_LESSONS_DATA` (or `--data PATH`). This section is "
        "generated from those files by `python -m resnet_lessons.lab.reference --update-readme README.md`; do not "
        "edit it by hand."
    )
    if not names:
        return f"{intro}\n\nNo reference results are stored yet."
    refs = [load_reference(n, results_dir) for n in names]
    smoke = [ref.name for ref in refs if is_smoke(ref.summary)]
    parts = [intro, f"**About the data.** {DATA_CAVEAT}"]
    if smoke:
        parts.append(f"**Warning:** {', '.join(smoke)} stored from smoke runs (`--smoke`, tiny data): "
                     "not real references.")
    parts += [_section(ref, Path(readme_dir)) for ref in refs]
    networks = networks_markdown(results_dir)
    return "\n\n".join(parts + ([networks] if networks else []))


def update_readme_results(readme_path: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> bool:
    """Rewrite the text between ``<!-- results:start -->`` and ``<!-- results:end -->`` in the README with
    :func:`results_markdown`, leaving everything outside the markers as it was; True when the file changed."""
    path = Path(readme_path)
    text = path.read_text()
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"{path} needs the two lines {START_MARKER} and {END_MARKER} (in that order) "
                         "around the place where the results go.")
    body = results_markdown(results_dir, path.parent)
    new = text[: start + len(START_MARKER)] + "\n" + body + "\n" + text[end:]
    if new != text:
        path.write_text(new)
    return new != text


DEFAULT_TOLERANCE_PCT = 1.0
"""Agreement needed between a stored run and its rerun (final test accuracy, percentage points) when
no run-to-run noise is recorded; with a recorded noise, the tolerance is the larger of this and twice it."""


def compare_results(stored: str | os.PathLike, rerun: str | os.PathLike,
                    tolerance_pct: float | None = None) -> tuple[str, bool]:
    """Compare the runs two result folders have in common (e.g. results/depth and a rerun of it). Returns (a
    markdown table of the final test accuracy in both, their difference, and whether it is within the tolerance;
    True when every common run agrees). Only final numbers are compared: the best epoch by test accuracy would be
    a choice made on the test set."""
    a = load_reference(Path(stored).name, Path(stored).parent)
    b = load_reference(Path(rerun).name, Path(rerun).parent)
    common = [n for n in a.histories if n in b.histories]
    if not common:
        raise ValueError(f"{stored} and {rerun} have no run in common ({list(a.histories)} / {list(b.histories)}).")
    if tolerance_pct is None:
        noise = (a.provenance.get("run_to_run_noise") or {}).get("test_acc_difference_pct")
        tolerance_pct = max(DEFAULT_TOLERANCE_PCT, 2 * noise) if noise else DEFAULT_TOLERANCE_PCT
    lines = [
        f"Tolerance: {tolerance_pct:.2f} points of final test accuracy.",
        "",
        "| run | stored final (%) | rerun final (%) | difference | agrees |",
        "|---|---:|---:|---:|---|",
    ]
    ok = True
    for n in common:
        ha, hb = a.histories[n], b.histories[n]
        fa, fb = 100 * ha.test_acc[-1], 100 * hb.test_acc[-1]
        agrees = abs(fa - fb) <= tolerance_pct and len(ha) == len(hb)
        ok &= agrees
        lines.append(f"| {n} | {fa:.2f} | {fb:.2f} | {fb - fa:+.2f} | {'yes' if agrees else 'NO'} |")
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resnet_lessons.lab.reference", description="List, tabulate "
                                     "and compare the stored reference results; regenerate the README's section.")
    parser.add_argument("--results", default=None, metavar="DIR", help="results folder (default: results/)")
    parser.add_argument("--update-readme", metavar="README", help="rewrite the README's results section")
    parser.add_argument("--table", metavar="NAME", help="print the markdown table of one experiment")
    parser.add_argument("--compare", nargs=2, metavar=("STORED", "RERUN"),
                        help="compare two result folders of the same experiment (exit 1 if they disagree)")
    parser.add_argument("--tolerance", type=float, default=None, help="agreement needed, in accuracy points")
    args = parser.parse_args(argv)
    try:
        if args.update_readme:
            changed = update_readme_results(args.update_readme, args.results)
            print(f"{args.update_readme}: {'updated' if changed else 'already up to date'}")
            return 0
        if args.table:
            print(results_table(args.table, args.results))
            return 0
        if args.compare:
            text, ok = compare_results(*args.compare, tolerance_pct=args.tolerance)
            print(text)
            print("reproduced" if ok else "NOT reproduced within the tolerance")
            return 0 if ok else 1
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name in available(args.results):
        print(f"{name}: {reference_label(load_reference(name, args.results))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
