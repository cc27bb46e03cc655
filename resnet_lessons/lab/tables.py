"""The summary table of each reference experiment (summary.json): its columns and per-run rows."""

from __future__ import annotations

import statistics

from ..history import History
from .plans import PAPER_TABLE6_TEST_ERROR, Run

BASE_COLUMNS = [
    ["run", "run", ""],
    ["parameters", "parameters", ",d"],
    ["recipe", "recipe", ""],
    ["epochs", "epochs", "d"],
    ["train_err", "train error (%)", ".2f"],
    ["test_err", "test error (%)", ".2f"],
    ["train_seconds", "training time (s)", ".0f"],
    ["images_per_s", "images/s", ",.0f"],
]
"""[key, header, format spec] of the columns of every summary table."""


def _speed(h: History) -> float:
    """Training images/s, the median of the epochs after the first (which includes compiling)."""
    speeds = h.images_per_s[1:] or h.images_per_s
    return statistics.median(speeds) if speeds else float("nan")


def summary_row(name: str, h: History) -> dict:
    """The final numbers of one run (errors in %)."""
    r = h.record
    return {
        "run": name, "model": r.model_spec or r.model, "parameters": r.parameters, "recipe": r.recipe,
        "batch_size": r.batch_size, "epochs": len(h), "seed": r.seed,
        "train_err": 100 * h.train_err[-1], "test_err": 100 * h.test_err[-1], "test_acc": 100 * h.test_acc[-1],
        "val_err": 100 * h.val_err[-1] if h.has_validation else None,
        "best_val_epoch": h.best_epoch() if h.has_validation else None,
        "train_seconds": sum(h.seconds), "images_per_s": _speed(h), "reused_from": r.reused_from,
    }


def trained_columns() -> list[list[str]]:
    validation = [["val_err", "validation error (%)", ".2f"], ["best_val_epoch", "best epoch (validation)", "d"]]
    return [*BASE_COLUMNS[:5], *validation, *BASE_COLUMNS[5:]]


def depth_columns() -> list[list[str]]:
    return [*BASE_COLUMNS[:6], ["paper_test_err", "paper, Table 6 (%)", ".2f"], *BASE_COLUMNS[6:]]


def depth_extra(histories: dict[str, History], runs: list[Run], rows: dict) -> None:
    for run in runs:
        if run.name in rows and run.group == "residual":
            rows[run.name]["paper_test_err"] = PAPER_TABLE6_TEST_ERROR.get(run.depth)


def recipes_columns() -> list[list[str]]:
    return [*BASE_COLUMNS, ["epochs_to_baseline", "epochs to seed-001 accuracy", "d"],
            ["seconds_to_baseline", "seconds to seed-001 accuracy", ".0f"]]


def recipes_extra(histories: dict[str, History], runs: list[Run], rows: dict) -> None:
    baseline = next((histories[r.name] for r in runs if r.group == "seed 001" and r.name in histories), None)
    if baseline is None:
        return
    target = baseline.test_acc[-1]
    for name, h in histories.items():
        # (epoch, training seconds) at which the test accuracy first reached the baseline's final one
        reached = [(e, s) for e, acc, s in zip(h.epoch, h.test_acc, h.elapsed, strict=True) if acc >= target]
        rows[name]["epochs_to_baseline"], rows[name]["seconds_to_baseline"] = reached[0] if reached else (None, None)


def gradients_columns() -> list[list[str]]:
    return [
        BASE_COLUMNS[0],
        ["layers", "layers measured", "d"],
        ["first_over_last_init", "first/last conv gradient norm, at init", ".3g"],
        ["first_over_last_trained", "first/last conv gradient norm, after training", ".3g"],
        *BASE_COLUMNS[3:6],  # epochs, train and test error
    ]


def gradients_extra(histories: dict[str, History], runs: list[Run], rows: dict) -> None:
    for name, h in histories.items():
        g = h.record.grad_norms
        if not g:
            continue
        first, last = g["norms"][0], g["norms"][-1]  # per layer: every conv, then fc
        rows[name]["layers"] = len(g["layers"])
        rows[name]["first_over_last_init"] = first[0] / first[-2] if first[-2] else None
        rows[name]["first_over_last_trained"] = last[0] / last[-2] if last[-2] else None


