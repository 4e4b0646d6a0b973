"""Across architectures: collect the per-model results, the comparison table, Markdown and chart,
and paper 002's M1…M7 progression chart.

The comparison takes the metrics/predictions of the pipeline's own namespaces as explicit node
inputs (so Kedro orders it after every evaluation and the order is the architecture order), and
optionally *extra* namespaces produced by other pipelines (paper 002's M7 from
``hyperparameter_search``): those are read, if their files exist, from partitioned datasets over
``data/08_reporting/*/metrics.json`` and ``data/07_model_output/*/test_predictions.npz``, limited
to the allow-list ``reporting.comparison.extra_namespaces`` so stray folders (e.g. the 5-class
fish subset) never enter the CIFAR-100 comparison.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

logger = logging.getLogger(__name__)

REPORTED_NOTE = "reported in the paper, not measured here"


# ------------------------------------------------------------------ collecting
def _extras(
    settings: dict[str, Any],
    extra: Mapping[str, Callable[[], Any] | Any] | None,
    present: set[str],
    what: str,
) -> dict[str, Any]:
    wanted = [ns for ns in settings.get("extra_namespaces", []) or [] if ns not in present]
    found: dict[str, Any] = {}
    for ns in wanted:
        if extra is None or ns not in extra:
            logger.info("Comparison: no %s for extra namespace %r yet; leaving it out", what, ns)
            continue
        value = extra[ns]
        found[ns] = value() if callable(value) else value
        logger.info("Comparison: including %s of extra namespace %r", what, ns)
    return found


def collect_metrics(
    comparison: dict[str, Any],
    extra_metrics: Mapping[str, Callable[[], dict]] | None = None,
    **metrics: dict[str, Any],
) -> list[dict[str, Any]]:
    """Every model's metrics in order: the pipeline's namespaces, then allow-listed extras."""
    merged = dict(metrics)
    merged.update(_extras(comparison, extra_metrics, set(metrics), "metrics"))
    return [{**m, "namespace": ns} for ns, m in merged.items()]


_SLIM_KEYS = ("labels", "predicted", "label_mode", "coarse_labels", "coarse_predicted")


def _same_test_set(pred: Mapping[str, Any], test_split: Mapping[str, np.ndarray]) -> bool:
    mode = str(np.asarray(pred.get("label_mode", "fine")))
    labels = np.asarray(pred.get("labels", []))
    reference = np.asarray(test_split.get(mode, []))
    return labels.shape == reference.shape and np.array_equal(labels, reference)


def collect_predictions(
    comparison: dict[str, Any],
    test_split: Mapping[str, np.ndarray] | None = None,
    extra_predictions: Mapping[str, Callable[[], dict]] | None = None,
    **predictions: dict[str, np.ndarray],
) -> dict[str, dict[str, np.ndarray]]:
    """Every model's test-set labels and predicted classes (probabilities dropped: the
    statistics need only which samples each model got right).

    An extra namespace whose predictions were made on another test set (e.g. before the data
    was re-split) is left out with a warning instead of failing the comparison.
    """
    merged = dict(predictions)
    extras = _extras(comparison, extra_predictions, set(predictions), "test predictions")
    for ns, pred in extras.items():
        if test_split is not None and not _same_test_set(pred, test_split):
            logger.warning(
                "Comparison: leaving out the test predictions of %r: they were made on another "
                "test set (labels of shape %s); re-run the pipeline that evaluates it",
                ns,
                np.asarray(pred.get("labels", [])).shape,
            )
            continue
        merged[ns] = pred
    return {ns: {k: np.asarray(p[k]) for k in _SLIM_KEYS if k in p} for ns, p in merged.items()}


# ------------------------------------------------------------------ the comparison table
def _pct(value: Any) -> float:
    return float("nan") if value is None else 100.0 * float(value)


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def comparison_table(all_metrics: list[dict[str, Any]], reported: dict[str, Any]) -> pd.DataFrame:
    """One row per model, sorted by test accuracy (coarse-label models after, by coarse accuracy).

    Measured columns come from this run's test set. ``reported …`` columns are the papers'
    own figures (``reporting.reported`` in parameters), on whatever split the paper used
    (``reported on``); they were not measured here.
    """
    k = next((m.get("top_k") for m in all_metrics if m.get("top_k")), 5)
    rows = []
    for m in all_metrics:
        ns = m["namespace"]
        rep = (reported or {}).get(ns, {}) or {}
        seconds = m.get("training_seconds")
        rows.append(
            {
                "model": ns,
                "paper": rep.get("paper", ""),
                "label mode": m.get("label_mode", "fine"),
                "test accuracy (%)": _pct(m.get("accuracy")),
                f"top-{k} accuracy (%)": _pct(m.get("top_k_accuracy")),
                "coarse accuracy (%)": _pct(m.get("coarse_accuracy")),
                "test loss": _num(
                    m.get("loss") if m.get("loss") is not None else m.get("model_loss")
                ),
                "parameters": m.get("total_params")
                if m.get("total_params") is not None
                else m.get("trainable_params"),
                "trainable parameters": m.get("trainable_params"),
                "training time (min)": float("nan") if seconds is None else float(seconds) / 60.0,
                "epochs run": m.get("epochs_run"),
                "best epoch": m.get("best_epoch"),
                "reported accuracy (%) [paper]": _num(rep.get("accuracy")),
                "reported coarse accuracy (%) [paper]": _num(rep.get("coarse_accuracy")),
                "reported loss [paper]": _num(rep.get("loss")),
                "reported on [paper]": rep.get("split", ""),
                "reported note [paper]": rep.get("note", ""),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["_fine"] = frame["test accuracy (%)"].notna()
    frame["_key"] = frame["test accuracy (%)"].fillna(frame["coarse accuracy (%)"])
    frame = frame.sort_values(
        ["_fine", "_key", "model"], ascending=[False, False, True], kind="mergesort"
    )
    frame = frame.drop(columns=["_fine", "_key"]).reset_index(drop=True)
    for col in ("parameters", "trainable parameters", "epochs run", "best epoch"):
        frame[col] = pd.array(frame[col], dtype="Int64")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def _format_cell(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if column in ("parameters", "trainable parameters"):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.2f}" if "loss" not in column else f"{value:.3f}"
    return str(value).replace("|", "\\|")


def comparison_markdown(table: pd.DataFrame) -> str:
    """The comparison table as a Markdown document (measured vs reported clearly separated)."""
    lines = [
        "# Comparison of architectures on the CIFAR-100 test set",
        "",
        (
            "Measured here: one evaluation of each trained model on the held-out test set "
            "(accuracies in %, loss = mean cross-entropy). Columns marked **[paper]** are the "
            f"figures the source papers report ({REPORTED_NOTE}); *reported on* says which split "
            "the paper used (paper 000 reports validation accuracy, paper 003 the mean of 5-fold "
            "cross-validation on the training set)."
        ),
        "",
    ]
    if table.empty:
        return "\n".join(lines + ["No models were evaluated.", ""])
    columns = [c for c in table.columns if c != "reported note [paper]"]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append(
        "|"
        + "|".join(
            "---:" if table[c].dtype.kind in "fiu" or str(table[c].dtype) == "Int64" else "---"
            for c in columns
        )
        + "|"
    )
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_format_cell(row[c], c) for c in columns) + " |")
    notes = [
        (r["model"], r["reported note [paper]"])
        for _, r in table.iterrows()
        if r["reported note [paper]"]
    ]
    if notes:
        lines += ["", "Notes on the reported figures:", ""]
        lines += [f"- `{model}`: {note}" for model, note in notes]
    lines.append("")
    return "\n".join(lines)


def _human(count: float) -> str:
    """13870484 -> '13.87 M', 25812 -> '25.8 k'."""
    if count >= 1e6:
        return f"{count / 1e6:.2f} M"
    if count >= 1e3:
        return f"{count / 1e3:.1f} k"
    return f"{count:.0f}"


def plot_comparison(table: pd.DataFrame) -> Figure:
    """Bar chart across models: accuracies (with the papers' reported figures as markers),
    parameter count and training time, in the table's order (best first)."""
    n = max(1, len(table))
    height = max(4.0, 0.55 * n + 2.0)
    fig = Figure(figsize=(17, height), dpi=100, layout="constrained")
    ax_acc, ax_par, ax_time = fig.subplots(1, 3, sharey=True, width_ratios=[2.4, 1, 1])
    if table.empty:
        ax_acc.text(0.5, 0.5, "no models evaluated", ha="center", va="center")
        fig.suptitle("Comparison of architectures (test set)")
        return fig
    y = np.arange(len(table))
    topk_col = next(c for c in table.columns if c.startswith("top-") and c.endswith("accuracy (%)"))
    series = [
        ("test accuracy (%)", "test accuracy", "#4c72b0"),
        (topk_col, topk_col.replace(" (%)", ""), "#8da0cb"),
        ("coarse accuracy (%)", "coarse (superclass) accuracy", "#55a868"),
    ]
    width = 0.27
    for offset, (col, label, colour) in zip((-width, 0.0, width), series):
        values = table[col].to_numpy(float)
        bars = ax_acc.barh(
            y + offset, np.nan_to_num(values), height=width, color=colour, label=label
        )
        ax_acc.bar_label(
            bars, labels=["" if np.isnan(v) else f"{v:.1f}" for v in values], padding=2, fontsize=7
        )
    rep = table["reported accuracy (%) [paper]"].to_numpy(float)
    rep_coarse = table["reported coarse accuracy (%) [paper]"].to_numpy(float)
    ax_acc.scatter(
        rep,
        y - width,
        marker="D",
        s=45,
        color="black",
        zorder=3,
        label=f"paper's accuracy ({REPORTED_NOTE}; split varies)",
    )
    ax_acc.scatter(
        rep_coarse,
        y + width,
        marker="D",
        s=45,
        facecolors="white",
        edgecolors="black",
        zorder=3,
        label="paper's coarse accuracy (reported)",
    )
    ax_acc.set_xlim(0, 100)
    ax_acc.set_xlabel("% of the test set", fontsize=11)
    ax_acc.set_yticks(
        y,
        labels=[
            f"{m} ({mode})" if mode != "fine" else m
            for m, mode in zip(table["model"], table["label mode"])
        ],
        fontsize=10,
    )
    ax_acc.invert_yaxis()
    ax_acc.grid(axis="x", alpha=0.3)
    ax_acc.set_title("accuracy (measured bars, reported diamonds)", fontsize=11)
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=9)

    params = table["parameters"].astype("float").to_numpy()
    known = params[np.isfinite(params) & (params > 0)]
    if known.size:  # log scale: sizes span 10^4 to 10^7; bars start below the smallest
        left = 10 ** np.floor(np.log10(known.min()) - 0.3)
        ax_par.barh(y, np.where(np.isfinite(params), params, left), left=0, color="#937860")
        ax_par.set_xscale("log")
        ax_par.set_xlim(left, known.max() * 30)
        ax_par.xaxis.set_major_locator(LogLocator(base=10))
        ax_par.xaxis.set_minor_formatter(NullFormatter())
        ax_par.xaxis.set_major_formatter(
            FuncFormatter(
                lambda v, _: _human(v).replace(".00 ", "").replace(".0 ", "").replace(" ", "")
            )
        )
    else:
        ax_par.barh(y, np.zeros(len(y)), color="#937860")
    ax_par.bar_label(
        ax_par.containers[0],
        labels=["" if np.isnan(p) else _human(p) for p in params],
        padding=2,
        fontsize=8,
    )
    ax_par.set_xlabel("parameters (log scale)", fontsize=11)
    ax_par.set_title("model size", fontsize=11)
    ax_par.grid(axis="x", alpha=0.3)

    minutes = table["training time (min)"].to_numpy(float)
    ax_time.barh(y, np.nan_to_num(minutes), color="#da8bc3")
    ax_time.bar_label(
        ax_time.containers[0],
        labels=["" if np.isnan(t) else f"{t:.1f}" for t in minutes],
        padding=2,
        fontsize=8,
    )
    ax_time.set_xlabel("training time (minutes)", fontsize=11)
    ax_time.set_title("training time (this run)", fontsize=11)
    ax_time.grid(axis="x", alpha=0.3)
    ax_time.margins(x=0.25)
    fig.suptitle(
        f"Comparison of {len(table)} architectures on the CIFAR-100 test set, "
        "sorted by test accuracy",
        fontsize=13,
    )
    return fig


# ------------------------------------------------------------------ paper 002's progression
def progression_table(
    all_metrics: list[dict[str, Any]], progression: dict[str, Any], reported: dict[str, Any]
) -> pd.DataFrame:
    """Paper 002's models M1…M7 in order: fine accuracy, coarse accuracy derived from fine
    predictions, the separately coarse-trained model's accuracy, and the paper's figures.
    A stage without metrics yet (M7 before ``hyperparameter_search`` ran) is listed as
    ``not evaluated``."""
    by_ns = {m["namespace"]: m for m in all_metrics}
    coarse_models = progression.get("coarse_models", {}) or {}
    rows = []
    for i, ns in enumerate(progression.get("stages", []), start=1):
        m = by_ns.get(ns)
        coarse_ns = coarse_models.get(ns)
        cm = by_ns.get(coarse_ns) if coarse_ns else None
        rep = (reported or {}).get(ns, {}) or {}
        rep_coarse = ((reported or {}).get(coarse_ns, {}) or {}) if coarse_ns else {}
        rows.append(
            {
                "stage": f"M{i}",
                "model": ns,
                "status": "evaluated" if m else "not evaluated",
                "fine accuracy (%)": _pct(m.get("accuracy")) if m else float("nan"),
                "coarse accuracy from fine predictions (%)": _pct(m.get("coarse_accuracy"))
                if m
                else float("nan"),
                "coarse-label model": coarse_ns or "",
                "coarse-label model accuracy (%)": _pct(cm.get("coarse_accuracy"))
                if cm
                else float("nan"),
                "reported fine accuracy (%) [paper]": _num(rep.get("accuracy")),
                "reported coarse accuracy (%) [paper]": _num(rep_coarse.get("coarse_accuracy")),
            }
        )
    return pd.DataFrame(rows)


def plot_progression(table: pd.DataFrame) -> Figure:
    """Paper 002's Figure 2 re-measured: accuracy of M1…M7 in order, fine and coarse."""
    fig = Figure(figsize=(11, 6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    if table.empty:
        ax.text(0.5, 0.5, "no progression stages configured", ha="center", va="center")
        return fig
    x = np.arange(len(table))
    fine = table["fine accuracy (%)"].to_numpy(float)
    derived = table["coarse accuracy from fine predictions (%)"].to_numpy(float)
    coarse_model = table["coarse-label model accuracy (%)"].to_numpy(float)
    ax.plot(
        x, fine, marker="o", color="#4c72b0", linewidth=2, label="100 classes (fine) — measured"
    )
    ax.plot(
        x,
        derived,
        marker="s",
        color="#55a868",
        linewidth=2,
        linestyle="--",
        label="20 superclasses, from fine predictions — measured",
    )
    ax.scatter(
        x,
        coarse_model,
        marker="^",
        s=110,
        color="#c44e52",
        zorder=3,
        label="20 superclasses, model trained on coarse labels — measured",
    )
    ax.scatter(
        x,
        table["reported fine accuracy (%) [paper]"].to_numpy(float),
        marker="D",
        s=70,
        facecolors="white",
        edgecolors="#4c72b0",
        linewidths=2,
        zorder=3,
        label="paper 002, fine (reported, not measured here)",
    )
    ax.scatter(
        x,
        table["reported coarse accuracy (%) [paper]"].to_numpy(float),
        marker="D",
        s=70,
        facecolors="white",
        edgecolors="#c44e52",
        linewidths=2,
        zorder=3,
        label="paper 002, superclasses (reported, not measured here)",
    )
    # Fine labels below their points, superclass labels above (fine ≤ superclass accuracy, so
    # they point away from each other); the y-range has room beyond 0 and 100 (see below), so
    # labels of values near 0 or 100 stay inside the axes, clear of the tick labels and title.
    for values, dy, va, colour in (
        (fine, -6, "top", "#4c72b0"),
        (derived, 6, "bottom", "#55a868"),
    ):
        for xi, value in zip(x, values):
            if not np.isnan(value):
                ax.annotate(
                    f"{value:.1f}",
                    (xi, value),
                    textcoords="offset points",
                    xytext=(0, dy),
                    ha="center",
                    va=va,
                    fontsize=9,
                    color=colour,
                )
    for xi, value in zip(x, coarse_model):
        if not np.isnan(value):
            ax.annotate(
                f"{value:.1f}",
                (xi, value),
                textcoords="offset points",
                xytext=(12, -4),
                fontsize=9,
                color="#c44e52",
            )
    for xi, status in zip(x, table["status"]):
        if status != "evaluated":
            ax.annotate(
                "not evaluated yet",
                (xi, 3),
                ha="center",
                fontsize=9,
                color="#777777",
                rotation=90,
                va="bottom",
            )
    ax.set_xticks(
        x, labels=[f"{s}\n{m}" for s, m in zip(table["stage"], table["model"])], fontsize=10
    )
    ax.set_ylim(-8, 108)  # margin for the value labels of points at 0 % or 100 %
    ax.set_yticks(np.arange(0, 101, 20))
    ax.set_ylabel("test accuracy (%)", fontsize=11)
    ax.set_xlabel("paper 002's models in order of added complexity", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    ax.set_title(
        "Paper 002 (Chavez Lazo): accuracy progression of models M1…M7, fine and superclass",
        fontsize=12,
    )
    return fig
