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

from cifar100_kedro.seed_axis import architecture_of

ACCURACY = "val_accuracy"
COLUMNS = [
    "model",
    "labels",
    "target accuracy (%)",
    "seeds",
    "seeds reached",
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


def _first_hit(history: pd.DataFrame, target: float) -> dict[str, Any] | None:
    """Epoch, wall and CPU seconds at which ``history`` first reached ``target`` (None: never)."""
    accuracy = history[ACCURACY].astype(float).to_numpy() * 100.0
    hits = np.flatnonzero(accuracy >= target - 1e-9)
    if not hits.size:
        return None
    first = int(hits[0])
    cpu = _cumulative(history, "cpu_seconds")[first]
    return {
        "epochs": int(history["epoch"].iloc[first]),
        "wall": float(_cumulative(history, "seconds")[first]),
        "cpu": None if np.isnan(cpu) else float(cpu),
    }


def _mean(values: list[float | None], digits: int = 3) -> float | None:
    known = [v for v in values if v is not None]
    return round(float(np.mean(known)), digits) if known and len(known) == len(values) else None


def time_to_accuracy_table(
    histories: Mapping[str, pd.DataFrame | None],
    params: Mapping[str, Any],
    coarse: Collection[str] = (),
) -> pd.DataFrame:
    """One row per (model, target): when its validation accuracy first reached the target,
    as the mean over the model's seeds.

    Args:
        histories: namespace → its training history (``None``: not run, left out). A further
            seed's namespace (``<architecture>.seed_<s>``) counts as a seed of its architecture.
        params: ``reporting.time_to_accuracy`` (``targets``: accuracies in percent).
        coarse: the namespaces trained on the 20 superclasses (their accuracy is not
            comparable with the 100-class models'; the ``labels`` column says which).

    Returns:
        :data:`COLUMNS`: ``seeds`` (histories of the model), ``seeds reached``, ``reached``
        (every seed reached it), ``epochs``, ``wall seconds``, ``cpu seconds`` (means over the
        seeds, given only when every seed reached the target; ``cpu seconds`` also needs a
        ``cpu_seconds`` column in every history), ``best accuracy (%)`` and ``epochs run``
        (means over the seeds).
    """
    targets = check_targets(params.get("targets"), "reporting.time_to_accuracy.targets")
    runs: dict[str, list[pd.DataFrame]] = {}
    for namespace, history in histories.items():
        if history is None or not len(history) or ACCURACY not in history:
            continue
        runs.setdefault(architecture_of(namespace), []).append(history)
    rows = []
    for model, model_runs in runs.items():
        best = [float(np.nanmax(h[ACCURACY].astype(float))) * 100.0 for h in model_runs]
        for target in targets:
            hits = [_first_hit(h, target) for h in model_runs]
            reached = [hit for hit in hits if hit is not None]
            every = len(reached) == len(hits)
            rows.append(
                {
                    "model": model,
                    "labels": "coarse" if model in coarse else "fine",
                    "target accuracy (%)": target,
                    "seeds": len(model_runs),
                    "seeds reached": len(reached),
                    "reached": every,
                    "epochs": _mean([h["epochs"] for h in reached], 2) if every else None,
                    "wall seconds": _mean([h["wall"] for h in reached]) if every else None,
                    "cpu seconds": _mean([h["cpu"] for h in reached]) if every else None,
                    "best accuracy (%)": round(float(np.mean(best)), 4),
                    "epochs run": round(float(np.mean([len(h) for h in model_runs])), 2),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


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
    colours: dict[str, Any] = {}
    for model in dict.fromkeys(architecture_of(m) for m in shown):
        colours[model] = f"C{len(colours) % 10}"
    seeds = {model: sum(architecture_of(m) == model for m in shown) for model in colours}
    labelled: set[str] = set()
    for namespace, history in shown.items():
        model = architecture_of(namespace)
        index = list(colours).index(model)
        minutes = _cumulative(history, "seconds") / 60.0
        accuracy = history[ACCURACY].astype(float).to_numpy() * 100.0
        label = f"{model} (20 superclasses)" if model in coarse else model
        if seeds[model] > 1:
            label += f" [{seeds[model]} seeds]"
        ax.plot(
            minutes,
            accuracy,
            color=colours[model],
            # The default colour cycle has 10 colours: the marker tells the next ten apart.
            marker=MARKERS[(index // 10) % len(MARKERS)],
            markersize=4 if len(history) > 15 else 6,
            linestyle="-",
            linewidth=1.5 if seeds[model] == 1 else 1.0,
            alpha=1.0 if seeds[model] == 1 else 0.75,
            label=None if model in labelled else label,
        )
        labelled.add(model)
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
