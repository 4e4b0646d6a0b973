"""Pairwise comparison of models on the shared test set: McNemar's exact test, Holm-corrected.

Each model is trained once, so the per-sample correctness on the one test set is what we can
compare. McNemar's test looks only at the discordant samples (one model right, the other
wrong); Dietterich (1998, "Approximate statistical tests for comparing supervised
classification learning algorithms") recommends it for exactly this one-run setting. The exact
(binomial) version from statsmodels is used, and the p-values of all pairs are adjusted with
Holm's step-down method (statsmodels ``multipletests``) to control the family-wise error rate.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

MCNEMAR_COLUMNS = [
    "model_a",
    "model_b",
    "accuracy_a",
    "accuracy_b",
    "difference_pp",
    "both_correct",
    "only_a_correct",
    "only_b_correct",
    "both_wrong",
    "p_value",
    "p_value_holm",
    "significant",
    "better",
]


def contingency_table(correct_a: np.ndarray, correct_b: np.ndarray) -> np.ndarray:
    """2×2 table ``[[both right, only A right], [only B right, both wrong]]``."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(
            f"per-sample correctness arrays must have the same shape, got {a.shape} and {b.shape}"
        )
    return np.array(
        [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]], dtype=np.int64
    )


def mcnemar_exact(table: np.ndarray) -> float:
    """Two-sided exact McNemar p-value of a 2×2 table (binomial test on the discordant cells)."""
    table = np.asarray(table)
    if table[0, 1] + table[1, 0] == 0:
        return 1.0  # the models never disagree: no evidence of a difference
    return float(mcnemar(table, exact=True).pvalue)


def pairwise_mcnemar(correct: Mapping[str, np.ndarray], alpha: float = 0.05) -> pd.DataFrame:
    """All pairs of models (in the given order): McNemar exact p-values, Holm-adjusted.

    ``correct`` maps a model name to its boolean per-sample correctness on the shared test set.
    ``difference_pp`` is accuracy A − accuracy B in percentage points; ``better`` names the more
    accurate model when the Holm-adjusted p-value is below ``alpha``.
    """
    names = list(correct)
    rows = []
    for a, b in itertools.combinations(names, 2):
        table = contingency_table(correct[a], correct[b])
        n = table.sum()
        acc_a = (table[0, 0] + table[0, 1]) / n if n else float("nan")
        acc_b = (table[0, 0] + table[1, 0]) / n if n else float("nan")
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "accuracy_a": acc_a,
                "accuracy_b": acc_b,
                "difference_pp": 100 * (acc_a - acc_b),
                "both_correct": table[0, 0],
                "only_a_correct": table[0, 1],
                "only_b_correct": table[1, 0],
                "both_wrong": table[1, 1],
                "p_value": mcnemar_exact(table),
            }
        )
    frame = pd.DataFrame(rows, columns=MCNEMAR_COLUMNS)
    if len(frame):
        reject, adjusted, _, _ = multipletests(
            frame["p_value"].to_numpy(), alpha=alpha, method="holm"
        )
        frame["p_value_holm"] = adjusted
        frame["significant"] = reject
        frame["better"] = [
            (r.model_a if r.difference_pp > 0 else r.model_b) if r.significant else ""
            for r in frame.itertuples()
        ]
    return frame


def mcnemar_heatmap(table: pd.DataFrame, title: str, alpha: float = 0.05) -> Figure:
    """Models × models: colour = accuracy difference (row − column, percentage points); text =
    the difference and the Holm-adjusted p-value, ``*`` where significant at ``alpha``."""
    names = list(dict.fromkeys(list(table["model_a"]) + list(table["model_b"])))
    n = len(names)
    if n < 2:
        fig = Figure(figsize=(7, 2.5), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            "fewer than two comparable models: no pairwise test",
            ha="center",
            va="center",
            fontsize=12,
        )
        ax.set_title(title, fontsize=12)
        return fig
    index = {name: i for i, name in enumerate(names)}
    diff = np.full((n, n), np.nan)
    pval = np.full((n, n), np.nan)
    for r in table.itertuples():
        i, j = index[r.model_a], index[r.model_b]
        diff[i, j], diff[j, i] = r.difference_pp, -r.difference_pp
        pval[i, j] = pval[j, i] = r.p_value_holm
    limit = max(1.0, float(np.nanmax(np.abs(diff))))
    side = max(6.0, 0.95 * n + 3.0)
    font = 8 if n > 10 else 10
    fig = Figure(figsize=(side + 1.5, side), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(diff, cmap="RdBu", norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            p = pval[i, j]
            star = "*" if p < alpha else ""
            ptext = "p<0.001" if p < 0.001 else f"p={p:.3f}"
            strong = abs(diff[i, j]) > 0.6 * limit
            shown = round(float(diff[i, j]), 1) + 0.0  # no "-0.0"
            ax.text(
                j,
                i,
                f"{shown:+.1f}{star}\n{ptext}",
                ha="center",
                va="center",
                fontsize=font - 1,
                color="white" if strong else "black",
                fontweight="bold" if star else "normal",
            )
    ax.set_xticks(np.arange(n), labels=names, rotation=45, ha="right", fontsize=font + 1)
    ax.set_yticks(np.arange(n), labels=names, fontsize=font + 1)
    ax.set_xlabel("model (column)", fontsize=11)
    ax.set_ylabel("model (row)", fontsize=11)
    ax.set_title(title, fontsize=12)
    colorbar = fig.colorbar(image, ax=ax, shrink=0.6)
    colorbar.set_label("accuracy of row − column (percentage points)", fontsize=10)
    return fig


def correctness_from_predictions(
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    test_split: Mapping[str, np.ndarray],
    level: str,
) -> dict[str, np.ndarray]:
    """Boolean per-sample correctness for every model that can be scored at ``level``.

    ``level="fine"``: models predicting fine labels; ``level="coarse"``: every model with
    superclass predictions (fine predictions mapped to superclasses, or a coarse model's own).
    A model whose stored labels differ from the test split's is not on the shared test set and
    is rejected with an error naming both shapes.
    """
    reference = np.asarray(test_split[level])
    out: dict[str, np.ndarray] = {}
    for name, pred in predictions.items():
        mode = str(np.asarray(pred.get("label_mode", "fine")))
        if level == "fine":
            if mode != "fine":
                continue
            labels, predicted = pred["labels"], pred["predicted"]
        else:
            if "coarse_predicted" not in pred:
                continue
            labels, predicted = pred["coarse_labels"], pred["coarse_predicted"]
        labels = np.asarray(labels)
        if labels.shape != reference.shape or not np.array_equal(labels, reference):
            raise ValueError(
                f"predictions for {name!r} were scored against {level} labels of shape "
                f"{labels.shape} that differ from the test split's {level} labels of shape "
                f"{reference.shape}: not the shared test set"
            )
        out[name] = np.asarray(predicted) == reference
    return out


def mcnemar_node(
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    test_split: Mapping[str, np.ndarray],
    settings: dict[str, Any],
    level: str,
) -> pd.DataFrame:
    """The pairwise McNemar table at ``level`` for the collected predictions."""
    alpha = float(settings.get("alpha", 0.05))
    return pairwise_mcnemar(correctness_from_predictions(predictions, test_split, level), alpha)
