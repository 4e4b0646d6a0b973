"""Across architectures: collect the per-model results, the comparison table, Markdown and chart,
and paper 002's M1…M7 progression chart.

The comparison takes every namespace's metrics/predictions as explicit node inputs, in the
registry's order (:func:`cifar100_kedro.architectures.compared`). Those the reporting pipeline
evaluates itself are required; those another pipeline produces (paper 002's M7 from
``hyperparameter_search``) come through ``{namespace}.metrics_if_present`` /
``{namespace}.test_predictions_if_present`` (:class:`.datasets.OptionalDataset`), which load
``None`` until that pipeline has run, and are then left out. The papers' reported figures and
the progression's stages are the registry's, handed to the nodes as plain data
(:func:`registry_view`, :func:`progression_stages`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from cifar100_kedro.architectures import COUNT_METRICS, Architecture, ReportedFigure

logger = logging.getLogger(__name__)

REPORTED_NOTE = "reported in the paper, not measured here"
# Which of a paper's figures stands beside our test-set measurement, best first: CIFAR-100's
# test set, then a K-fold mean over the training set, someone else's test set, a validation
# split, the training set.
SPLIT_PREFERENCE = ("test", "cross_validation", "holdout", "validation", "training")


# ------------------------------------------------------------------ the registry, as plain data
def registry_view(archs: Iterable[Architecture]) -> dict[str, dict[str, Any]]:
    """``namespace → {"paper": ..., "reported": (ReportedFigure, ...)}`` for the comparison nodes.

    Plain, picklable data (an :class:`Architecture` holds a mappingproxy, which the parallel
    and Dask runners cannot pickle), bound to the nodes when the pipeline is built.
    """
    return {a.namespace: {"paper": a.paper, "reported": tuple(a.reported)} for a in archs}


def progression_stages(archs: Iterable[Architecture]) -> tuple[tuple[str, str, str | None], ...]:
    """``(stage, namespace, coarse-label namespace)`` of paper 002's M1…M7, in stage order."""
    return tuple((f"M{a.progression_stage}", a.namespace, a.coarse_variant) for a in archs)


def reported_figure(figures: Iterable[ReportedFigure], metric: str) -> ReportedFigure | None:
    """The paper's figure for ``metric`` on the split nearest ours (:data:`SPLIT_PREFERENCE`)."""
    candidates = [f for f in figures if f.metric == metric]
    rank = {split: i for i, split in enumerate(SPLIT_PREFERENCE)}
    return min(candidates, key=lambda f: rank.get(f.split, len(rank)), default=None)


def _describe_figure(figure: ReportedFigure) -> str:
    """``accuracy 59.09% on test (Conclusion: early stopping at epoch 49)``."""
    unit = "%" if "accuracy" in figure.metric else ""
    where = figure.source + (f": {figure.note}" if figure.note else "")
    split = figure.split.replace("_", "-")
    return f"{figure.metric.replace('_', ' ')} {figure.value:g}{unit} on {split} ({where})"


# ------------------------------------------------------------------ collecting
def collect_metrics(**metrics: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every model's metrics, in the order given, each with its ``namespace``.

    Args:
        **metrics: namespace → its ``metrics.json``, or ``None`` for a namespace another
            pipeline produces that has not run yet (left out, with a log line).

    Returns:
        One dict per model that has metrics.
    """
    collected = []
    for ns, m in metrics.items():
        if m is None:
            logger.info("Comparison: no metrics for %r yet (its pipeline has not run)", ns)
            continue
        collected.append({**m, "namespace": ns})
    return collected


_SLIM_KEYS = ("labels", "predicted", "label_mode", "coarse_labels", "coarse_predicted")


def _same_test_set(pred: Mapping[str, Any], test_split: Mapping[str, np.ndarray]) -> bool:
    mode = str(np.asarray(pred.get("label_mode", "fine")))
    labels = np.asarray(pred.get("labels", []))
    reference = np.asarray(test_split.get(mode, []))
    return labels.shape == reference.shape and np.array_equal(labels, reference)


def collect_predictions(
    test_split: Mapping[str, np.ndarray],
    optional: Collection[str] = (),
    **predictions: dict[str, np.ndarray] | None,
) -> dict[str, dict[str, np.ndarray]]:
    """Every model's test-set labels and predicted classes (probabilities dropped: the
    statistics need only which samples each model got right).

    Args:
        test_split: the shared test set.
        optional: the namespaces other pipelines produce. Each is left out, with a log line,
            while it has no predictions (``None``) or when they were made on another test set
            (e.g. before the data was re-split), instead of failing the comparison.
        **predictions: namespace → its test predictions, in the comparison's order.

    Returns:
        namespace → the slimmed predictions.
    """
    kept = {}
    for ns, pred in predictions.items():
        if ns in optional and pred is None:
            logger.info("Comparison: no test predictions for %r yet (its pipeline has not run)", ns)
        elif ns in optional and not _same_test_set(pred, test_split):
            logger.warning(
                "Comparison: leaving out the test predictions of %r: they were made on another "
                "test set (labels of shape %s); re-run the pipeline that evaluates it",
                ns,
                np.asarray(pred.get("labels", [])).shape,
            )
        else:
            kept[ns] = {k: np.asarray(pred[k]) for k in _SLIM_KEYS if k in pred}
    return kept


# ------------------------------------------------------------------ the comparison table
def _pct(value: Any) -> float:
    return float("nan") if value is None else 100.0 * float(value)


def _interval_columns(what: str, interval: Sequence[float] | None) -> dict[str, float]:
    """``<what> CI low/high (%)``: the bootstrap interval over the test images, in percent
    (empty for metrics written before the interval was added)."""
    low, high = (None, None) if not interval else interval
    return {f"{what} CI low (%)": _pct(low), f"{what} CI high (%)": _pct(high)}


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _value(figure: ReportedFigure | None) -> float:
    return float("nan") if figure is None else float(figure.value)


def _reported_columns(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[paper]`` columns of one model from its registry entry."""
    figures = entry.get("reported", ())
    shown = {m: reported_figure(figures, m) for m in ("accuracy", "coarse_accuracy", "loss")}
    splits = dict.fromkeys(f.split.replace("_", "-") for f in shown.values() if f is not None)
    return {
        "reported accuracy (%) [paper]": _value(shown["accuracy"]),
        "reported coarse accuracy (%) [paper]": _value(shown["coarse_accuracy"]),
        "reported loss [paper]": _value(shown["loss"]),
        "reported on [paper]": ", ".join(splits),
        # Scores only: parameter counts and data splits are in the reproduction reports.
        "reported note [paper]": "; ".join(
            _describe_figure(f) for f in figures if f.metric not in COUNT_METRICS
        ),
    }


SEED_COLUMNS = (
    "mean test accuracy (%)", "test accuracy t-CI low (%)", "test accuracy t-CI high (%)",
    "mean coarse accuracy (%)", "coarse accuracy t-CI low (%)", "coarse accuracy t-CI high (%)",
)  # fmt: skip


def _seed_columns(
    model: str, accuracy: float, coarse_accuracy: float, seed_summary: pd.DataFrame | None
) -> dict:
    """``seeds`` and the mean ± Student-t interval over them (one seed: its value, no interval)."""
    found = None
    if seed_summary is not None and len(seed_summary):
        match = seed_summary[seed_summary["model"] == model]
        found = match.iloc[0] if len(match) else None
    if found is None:
        nan = float("nan")
        return {
            "seeds": 1,
            "mean test accuracy (%)": accuracy,
            "test accuracy t-CI low (%)": nan, "test accuracy t-CI high (%)": nan,
            "mean coarse accuracy (%)": coarse_accuracy,
            "coarse accuracy t-CI low (%)": nan, "coarse accuracy t-CI high (%)": nan,
        }  # fmt: skip
    return {"seeds": int(found["seeds"]), **{c: float(found[c]) for c in SEED_COLUMNS}}


def comparison_table(
    all_metrics: list[dict[str, Any]],
    registry: Mapping[str, Mapping[str, Any]],
    seed_summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per model, ranked by mean test accuracy over its seeds (coarse-label models
    after, by mean coarse accuracy).

    Args:
        all_metrics: :func:`collect_metrics`'s output (each architecture's own run).
        registry: :func:`registry_view` of the architectures (paper, reported figures).
        seed_summary: ``seeds.seed_summary_table`` (None or a missing model: one seed).

    Returns:
        The table. Measured columns come from this run's test set: ``test accuracy`` and its
        bootstrap ``CI`` are the architecture's own run (first seed); ``seeds``, ``mean …`` and
        ``t-CI`` summarise all its seeds. ``… [paper]`` columns are the papers' own figures on
        the split nearest ours (``reported on``); every figure the paper gives, with its
        source, is in ``reported note``. They were not measured here.
    """
    k = next((m.get("top_k") for m in all_metrics if m.get("top_k")), 5)
    rows = []
    for m in all_metrics:
        entry = registry.get(m["namespace"], {})
        seconds = m.get("training_seconds")
        loss = m.get("loss") if m.get("loss") is not None else m.get("coarse_loss")
        rows.append(
            {
                "model": m["namespace"],
                "paper": entry.get("paper", ""),
                "label mode": m.get("label_mode", "fine"),
                "protocol": m.get("protocol", "holdout"),
                **_seed_columns(
                    m["namespace"], _pct(m.get("accuracy")), _pct(m.get("coarse_accuracy")),
                    seed_summary,
                ),
                "test accuracy (%)": _pct(m.get("accuracy")),
                **_interval_columns("test accuracy", m.get("accuracy_ci")),
                f"top-{k} accuracy (%)": _pct(m.get("top_k_accuracy")),
                "coarse accuracy (%)": _pct(m.get("coarse_accuracy")),
                **_interval_columns("coarse accuracy", m.get("coarse_accuracy_ci")),
                "test loss": _num(loss),
                "parameters": m.get("total_params")
                if m.get("total_params") is not None
                else m.get("trainable_params"),
                "trainable parameters": m.get("trainable_params"),
                "training time (min)": float("nan") if seconds is None else float(seconds) / 60.0,
                "epochs run": m.get("epochs_run"),
                "best epoch": m.get("best_epoch"),
                **_reported_columns(entry),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["_fine"] = frame["mean test accuracy (%)"].notna()
    frame["_key"] = frame["mean test accuracy (%)"].fillna(frame["mean coarse accuracy (%)"])
    frame = frame.sort_values(
        ["_fine", "_key", "model"], ascending=[False, False, True], kind="mergesort"
    )
    frame = frame.drop(columns=["_fine", "_key"]).reset_index(drop=True)
    for col in ("seeds", "parameters", "trainable parameters", "epochs run", "best epoch"):
        frame[col] = pd.array(frame[col], dtype="Int64")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def _format_cell(value: Any, column: str) -> str:
    missing = value is None or value is pd.NA or (isinstance(value, str) and not value)
    if missing or (isinstance(value, float) and math.isnan(value)):
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
            "Measured here: each trained model on the held-out test set (accuracies in %, loss "
            "= mean cross-entropy). *test accuracy* and its bootstrap *CI* are the "
            "architecture's own run (its first seed); *seeds*, *mean* and *t-CI* (Student t "
            "over seeds) summarise every seed it was trained with (`training_run.seeds`); rows "
            "are ranked by the mean. Columns marked **[paper]** are the "
            f"figures the source papers report ({REPORTED_NOTE}); *reported on* says which split "
            "the paper used (test: CIFAR-100's test set; cross-validation: a K-fold mean over the "
            "training set; holdout: a test set held by someone else); – means not reported."
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
    # A table read back from CSV has NaN, not "", where a model has no reported figures.
    notes = [
        (r["model"], r["reported note [paper]"])
        for _, r in table.iterrows()
        if isinstance(r["reported note [paper]"], str) and r["reported note [paper]"]
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


def _error_bars(table: pd.DataFrame, what: str, values: np.ndarray) -> np.ndarray | None:
    """``xerr`` for the bars of ``what``: the Student-t interval over seeds where a row has two
    or more seeds, else the bootstrap interval over the test images (none without columns)."""
    low, high = f"{what} CI low (%)", f"{what} CI high (%)"
    if low not in table or high not in table:
        return None
    lows, highs = table[low].to_numpy(float), table[high].to_numpy(float)
    t_low, t_high = f"{what} t-CI low (%)", f"{what} t-CI high (%)"
    if "seeds" in table and t_low in table:
        repeated = table["seeds"].fillna(1).to_numpy(int) >= 2
        lows = np.where(repeated, table[t_low].to_numpy(float), lows)
        highs = np.where(repeated, table[t_high].to_numpy(float), highs)
    below = np.nan_to_num(values - lows)
    above = np.nan_to_num(highs - values)
    return np.clip(np.vstack([below, above]), 0.0, None)


def plot_comparison(table: pd.DataFrame) -> Figure:
    """Bar chart across models: accuracies (error bars: the bootstrap interval over the test
    images; the papers' reported figures as markers), parameter count and training time, in
    the table's order (best first)."""
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
    # Tables written before the seed axis have no means: their one run is the mean.
    mean = "mean " if "mean test accuracy (%)" in table else ""
    series = [
        (f"{mean}test accuracy (%)", "test accuracy", "test accuracy", "#4c72b0"),
        (topk_col, topk_col.replace(" (%)", "") + " (first seed)", None, "#8da0cb"),
        (f"{mean}coarse accuracy (%)", "coarse (superclass) accuracy", "coarse accuracy",
         "#55a868"),
    ]  # fmt: skip
    width = 0.27
    for offset, (col, label, what, colour) in zip((-width, 0.0, width), series):
        values = table[col].to_numpy(float)
        bars = ax_acc.barh(
            y + offset, np.nan_to_num(values), height=width, color=colour, label=label,
            xerr=None if what is None else _error_bars(table, what, values),
            error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "black"},
        )  # fmt: skip
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
    ax_acc.set_xlabel(
        "% of the test set: the mean over seeds; error bars: Student-t interval over seeds "
        "(2+ seeds) or bootstrap interval over the test images (1 seed)",
        fontsize=9,
    )
    seeds = table["seeds"].fillna(1).astype(int) if "seeds" in table else [1] * len(table)
    ax_acc.set_yticks(
        y,
        labels=[
            (f"{m} ({mode})" if mode != "fine" else m) + f" [{n} seed{'s' * (n > 1)}]"
            for m, mode, n in zip(table["model"], table["label mode"], seeds)
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
        "ranked by mean test accuracy over seeds",
        fontsize=13,
    )
    return fig


# ------------------------------------------------------------------ paper 002's progression
def progression_table(
    all_metrics: list[dict[str, Any]],
    stages: Sequence[tuple[str, str, str | None]],
    registry: Mapping[str, Mapping[str, Any]],
) -> pd.DataFrame:
    """Paper 002's models M1…M7 in order, with the paper's figures.

    Args:
        all_metrics: :func:`collect_metrics`'s output.
        stages: :func:`progression_stages` (stage, namespace, coarse-label namespace).
        registry: :func:`registry_view` of the architectures.

    Returns:
        One row per stage: fine accuracy, coarse accuracy derived from fine predictions, the
        coarse-trained model's accuracy and the paper's figures. A stage without metrics yet
        (M7 before ``hyperparameter_search`` ran) is ``not evaluated``.
    """
    by_ns = {m["namespace"]: m for m in all_metrics}
    rows = []
    for stage, ns, coarse_ns in stages:
        m = by_ns.get(ns, {})
        cm = by_ns.get(coarse_ns, {}) if coarse_ns else {}
        figures = registry.get(ns, {}).get("reported", ())
        coarse_figures = registry.get(coarse_ns, {}).get("reported", ()) if coarse_ns else ()
        rows.append(
            {
                "stage": stage,
                "model": ns,
                "status": "evaluated" if m else "not evaluated",
                "fine accuracy (%)": _pct(m.get("accuracy")),
                "coarse accuracy from fine predictions (%)": _pct(m.get("coarse_accuracy")),
                "coarse-label model": coarse_ns or "",
                "coarse-label model accuracy (%)": _pct(cm.get("coarse_accuracy")),
                "reported fine accuracy (%) [paper]": _value(reported_figure(figures, "accuracy")),
                "reported coarse accuracy (%) [paper]": _value(
                    reported_figure(coarse_figures, "coarse_accuracy")
                ),
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
