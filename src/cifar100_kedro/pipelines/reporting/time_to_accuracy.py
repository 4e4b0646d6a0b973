"""Time to accuracy: how long each architecture trained before it first reached a target.

From each model's training history (one row per epoch: ``val_accuracy``, ``seconds`` of wall
time and, in histories written since it was added, ``cpu_seconds`` of process CPU time), the
epoch, wall seconds and CPU seconds at which the validation accuracy first reached each target,
and a chart of validation accuracy against cumulative training time. This is what a user
choosing a model for a time budget asks; the accuracy is the validation split's, the one the
run watched (the test set stays for the final evaluation).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

ACCURACY = "val_accuracy"
COLUMNS = [
    "model",
    "labels",
    "target accuracy (%)",
    "reached",
    "epochs",
    "wall seconds",
    "cpu seconds",
    "best accuracy (%)",
    "epochs run",
]


def collect_histories(**histories: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """Every model's training history, in the order given (``None``, not run yet: left out)."""
    return {ns: history for ns, history in histories.items() if history is not None}


def check_targets(targets: Sequence[Any], where: str) -> list[float]:
    """Targets in percent, each in (0, 100], sorted; a clear error naming ``where`` if not."""
    if not isinstance(targets, Sequence) or isinstance(targets, str) or not targets:
        raise ValueError(f"parameter '{where}' must be a non-empty list of accuracies in percent")
    checked = []
    for target in targets:
        if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target <= 100:
            raise ValueError(f"parameter '{where}': {target!r} is not an accuracy in (0, 100] %")
        checked.append(float(target))
    return sorted(set(checked))


def _cumulative(history: pd.DataFrame, column: str) -> np.ndarray:
    if column not in history:
        return np.full(len(history), np.nan)
    return history[column].astype(float).cumsum().to_numpy()


def time_to_accuracy_table(
    histories: Mapping[str, pd.DataFrame | None],
    params: Mapping[str, Any],
    coarse: Collection[str] = (),
) -> pd.DataFrame:
    """One row per (model, target): the first epoch whose validation accuracy reached it.

    Args:
        histories: namespace → its training history (``None``: not run, left out).
        params: ``reporting.time_to_accuracy`` (``targets``: accuracies in percent).
        coarse: the namespaces trained on the 20 superclasses (their accuracy is not
            comparable with the 100-class models'; the ``labels`` column says which).

    Returns:
        :data:`COLUMNS`; ``reached`` is False (and the times empty) for targets the run never
        reached; ``cpu seconds`` is empty for histories without a ``cpu_seconds`` column.
    """
    targets = check_targets(params.get("targets"), "reporting.time_to_accuracy.targets")
    rows = []
    for model, history in histories.items():
        if history is None or not len(history) or ACCURACY not in history:
            continue
        accuracy = history[ACCURACY].astype(float).to_numpy() * 100.0
        wall, cpu = _cumulative(history, "seconds"), _cumulative(history, "cpu_seconds")
        for target in targets:
            hits = np.flatnonzero(accuracy >= target - 1e-9)
            first = int(hits[0]) if hits.size else None
            rows.append(
                {
                    "model": model,
                    "labels": "coarse" if model in coarse else "fine",
                    "target accuracy (%)": target,
                    "reached": first is not None,
                    "epochs": None if first is None else int(history["epoch"].iloc[first]),
                    "wall seconds": None if first is None else round(float(wall[first]), 3),
                    "cpu seconds": None
                    if first is None or np.isnan(cpu[first])
                    else round(float(cpu[first]), 3),
                    "best accuracy (%)": round(float(np.nanmax(accuracy)), 4),
                    "epochs run": len(history),
                }
            )
    table = pd.DataFrame(rows, columns=COLUMNS)
    # Whole epochs, empty where a target was not reached (not 2.0 / NaN floats).
    return table.astype({"epochs": "Int64", "epochs run": "Int64"})


MARKERS = ("o", "s", "^", "D")


def plot_accuracy_vs_training_time(
    histories: Mapping[str, pd.DataFrame | None],
    params: Mapping[str, Any],
    coarse: Collection[str] = (),
) -> Figure:
    """Validation accuracy against cumulative wall-clock training time, one line per model
    (superclass models labelled so), the targets as dotted lines."""
    targets = check_targets(params.get("targets"), "reporting.time_to_accuracy.targets")
    shown = {
        m: h for m, h in histories.items() if h is not None and len(h) and ACCURACY in h
    }
    figure = Figure(figsize=(10, 6))
    ax = figure.subplots()
    for index, (model, history) in enumerate(shown.items()):
        minutes = _cumulative(history, "seconds") / 60.0
        accuracy = history[ACCURACY].astype(float).to_numpy() * 100.0
        ax.plot(
            minutes,
            accuracy,
            # The default colour cycle has 10 colours: the marker tells the next ten apart.
            marker=MARKERS[(index // 10) % len(MARKERS)],
            markersize=4 if len(history) > 15 else 6,
            linestyle="-",
            label=f"{model} (20 superclasses)" if model in coarse else model,
        )
    for target in targets:
        ax.axhline(target, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("cumulative training time (wall-clock minutes)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Validation accuracy against training time (dotted: the target accuracies)")
    ax.grid(alpha=0.3)
    if shown:
        ax.legend(fontsize=7, ncol=2, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        ax.text(0.5, 0.5, "no training histories", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    return figure
