"""Time every notebook of the series on this machine and record the figures for the README.

    python benchmarks/notebook_times.py --label "CPU (2 cores)" [--fast] [--out results/notebook_times]
    python benchmarks/notebook_times.py --label "CPU (2 cores)" --fast --only 08 --add   # one more notebook
    python benchmarks/notebook_times.py --update-readme README.md

Each notebook is executed top to bottom in a fresh kernel (as `make run` does); the wall time of the whole
notebook is written to results/notebook_times/<label>.json together with the mode, the device and the date.
`--update-readme` rewrites the table between the README's `<!-- times:start -->` and `<!-- times:end -->`
markers from every stored JSON file, so the README's timings are read from runs, never typed.
`--add` times only the `--only` notebooks and adds them to the stored record of the same label and mode
(the others keep their times; each notebook's date is kept in the record's "dates").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "results" / "notebook_times"


def kernel_env() -> dict[str, str]:
    """This process's environment for a kernel, with the inline backend whatever backend is set here
    (MPLBACKEND=Agg would be inherited and store every figure as "<Figure size ...>" text only)."""
    return {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def time_notebooks(label: str, fast: bool, out: Path, only: list[str] | None = None,
                   save_dir: Path | None = None, add: bool = False) -> Path:
    import nbformat
    import torch
    from nbclient import NotebookClient

    os.environ["RESNET_LESSONS_FAST"] = "1" if fast else "0"
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    record = {"label": label, "mode": "fast" if fast else "full", "device": device,
              "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "python": platform.python_version(), "torch": torch.__version__,
              "data": _data_label(), "data_root": os.environ.get("RESNET_LESSONS_DATA", "torchvision download"),
              "only": only or [], "seconds": {}}
    out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{label} {record['mode']}".lower()).strip("-")
    target = out / f"{slug}.json"
    if add:  # keep the stored record's times, and each notebook's date
        stored = json.loads(target.read_text())
        dates = stored.get("dates") or {name: stored["date"] for name in stored["seconds"]}
        record = {**stored, "dates": dates}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if only and not any(path.name.startswith(o) for o in only):
            continue
        notebook = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        client = NotebookClient(notebook, timeout=3600, resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute(env=kernel_env())
        record["seconds"][path.stem] = round(time.perf_counter() - start, 1)
        if add:
            record["dates"][path.stem] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        print(f"{path.name}: {record['seconds'][path.stem]:.1f} s", flush=True)
        target.write_text(json.dumps(record, indent=1))  # after every notebook, so a cut-off run keeps its times
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, save_dir / path.name)
    return target


def _data_label() -> str:
    """The name of the data copy the notebooks will read, e.g. "CIFAR-10 (JPEG q75 copy)"."""
    from resnet_lessons.data import load_cifar10

    return load_cifar10(progress=False).data_label


def readme_table(out: Path) -> str:
    records = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    names = sorted({name for r in records for name in r["seconds"]})
    columns = [f"{r['label']}, {r['mode']} mode" for r in records]
    lines = ["| notebook | " + " | ".join(columns) + " |", "|---|" + "---|" * len(records)]
    for name in names:
        cells = [_fmt(r["seconds"].get(name)) for r in records]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines.append("")
    for r in records:
        command = f"python benchmarks/notebook_times.py --label \"{r['label']}\""
        if r["mode"] == "fast":
            command += " --fast"
        if r.get("only"):
            command += " --only " + " ".join(r["only"])
        dates = sorted({d[:10] for d in r.get("dates", {}).values()} or {r["date"][:10]})
        when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        added = "; " + ", ".join(f"`{n[:2]}` on {d[:10]} with `{command} --only {n[:2]} --add`"
                                 for n, d in sorted(r.get("dates", {}).items()) if d[:10] != r["date"][:10]) \
            if r.get("dates") else ""
        lines.append(f"- {r['label']}, {r['mode']} mode: {r['device']}, torch {r['torch']}, {when}, "
                     f"{r['data']}; measured with `{command}`{added}")
    return "\n".join(lines)


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "not measured"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def update_readme(readme: Path, out: Path) -> None:
    text = readme.read_text()
    start, end = "<!-- times:start -->", "<!-- times:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{readme} has no {start} ... {end} markers to fill.")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{readme_table(out)}\n{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", help="name of this machine in the table, e.g. 'CPU (2 cores)' or 'H100'")
    parser.add_argument("--fast", action="store_true", help="run in fast mode (RESNET_LESSONS_FAST=1)")
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 02")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the JSON records")
    parser.add_argument("--add", action="store_true",
                        help="add the --only notebooks to the stored record of this label and mode")
    parser.add_argument("--save-dir", type=Path, help="also write the executed notebooks into this folder")
    parser.add_argument("--update-readme", type=Path, metavar="README", help="rewrite the README's timing table")
    args = parser.parse_args()
    if args.update_readme:
        update_readme(args.update_readme, args.out)
        return
    if not args.label:
        parser.error("--label is required to time notebooks")
    if args.add and not args.only:
        parser.error("--add needs --only: the notebooks to add to the stored record")
    print(f"wrote {time_notebooks(args.label, args.fast, args.out, args.only, args.save_dir, args.add)}")


if __name__ == "__main__":
    main()
