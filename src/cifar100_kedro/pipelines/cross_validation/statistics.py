"""Model comparison from K-fold results: paper 003's Tables I and II, and our corrected test.

Everything here is a pure function of the per-fold results table (one row per architecture
and fold: ``architecture, fold, accuracy, loss, train_images, held_out_images``; ``loss`` is
the held-out mean cross-entropy, :func:`cifar100_kedro.training.kfold.score_held_out`).

Paper 003 (Chakraborti & Moore, Section IV, eqs. (3)–(4)), for every ordered pair
(row model r, column model c) over the same K folds:

* ``p_i = accuracy_r,i − accuracy_c,i`` (row minus column: the printed Table II has
  Arch1-Hyp1 vs Arch1-Hyp2 = −0.0422 = 35.07 % − 39.29 %), ``p`` their mean;
* ``s_p = sqrt(Σ (p_i − p)² / (K (K − 1)))``;
* entry ``p + t_{c,K−1} s_p`` with ``t_{c,K−1}`` the one-sided 95 % Student-t quantile
  (2.132 for K = 5, from ``scipy.stats.t.ppf``): an upper confidence bound on how much better
  the row model is than the column model. A negative entry means the column model is better
  at that confidence.
* "the model with the smallest value [in a row] outperformed the model specified by that
  row"; the diagonal is 0, so a row whose own model is optimal has no model that beats it.
* Overall verdict: the model that is optimal in every row is "clearly better overall"; when no
  model wins every row, the paper only says to look for "a particular model which
  consistently outperforms all others". We take the model optimal in the most rows, ties
  broken by the higher mean accuracy (Table I), and say whether the win was unanimous.

Note on the paper's own Table II: its printed entries are exactly antisymmetric and equal to
the differences of the Table I mean accuracies (e.g. 0.0687 = 41.94 % − 35.07 %), which is
``p`` alone; eq. (3) adds ``t·s_p ≥ 0`` to both ``(r, c)`` and ``(c, r)``, so a table of
eq. (3) cannot be antisymmetric unless every ``s_p`` is 0. We implement eq. (3) as written
(``s_p`` is also reported), which is the paper's stated method.

Our addition (not in the paper): the fold results of K-fold cross-validation are not
independent (the training sets overlap), so the plain paired t-test above underestimates the
variance (Dietterich 1998; Nadeau & Bengio 2003). ``corrected_resampled_ttest`` applies
Nadeau & Bengio's corrected resampled t-test in its K-fold form (Bouckaert & Frank 2004):
``t = p / sqrt((1/K + n_test/n_train) · S²)`` with ``S²`` the sample variance of the ``p_i``,
K − 1 degrees of freedom, Holm's correction over all pairs (statsmodels). No maintained
Python library offers this test on precomputed fold scores (mlxtend's ``paired_ttest_*``
functions fit scikit-learn estimators themselves, refitting both models for every pair, and
its 5×2cv test needs five repetitions of 2-fold training, a different design from the paper's
5-fold one), so it is written here with ``scipy.stats.t``; baycomp's ``CorrelatedTTest`` uses
the same corrected variance for its Bayesian posterior.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

REQUIRED_COLUMNS = ("architecture", "fold", "accuracy", "loss")
TIE_TOLERANCE = 1e-12

CORRECTED_TEST_COLUMNS = [
    "model_a",
    "model_b",
    "folds",
    "mean_accuracy_a",
    "mean_accuracy_b",
    "mean_difference",
    "std_difference",
    "test_train_ratio",
    "paper_s_p",
    "corrected_standard_error",
    "t_statistic",
    "df",
    "p_value",
    "p_value_holm",
    "significant",
    "better",
]


# ----------------------------------------------------------------------------- inputs
def score_matrix(fold_results: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Folds × architectures table of ``metric``, architectures in their first-seen order.

    Raises a ``ValueError`` when a column is missing, an architecture lacks some fold, a fold
    is recorded twice, or there are fewer than 2 folds.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in fold_results.columns]
    if missing:
        raise ValueError(
            f"fold results: missing column(s) {missing}; found {list(fold_results.columns)}"
        )
    if fold_results.empty:
        raise ValueError("fold results: no rows (no architecture was cross-validated)")
    duplicated = fold_results.duplicated(["architecture", "fold"])
    if duplicated.any():
        first = fold_results.loc[duplicated, ["architecture", "fold"]].iloc[0].tolist()
        raise ValueError(f"fold results: architecture {first[0]!r} has fold {first[1]} twice")
    order = list(dict.fromkeys(fold_results["architecture"]))
    matrix = fold_results.pivot(index="fold", columns="architecture", values=metric)[order]
    incomplete = matrix.columns[matrix.isna().any()].tolist()
    if incomplete:
        raise ValueError(
            f"fold results: architecture(s) {incomplete} lack some of the folds "
            f"{matrix.index.tolist()}; every model must be scored on the same folds"
        )
    if len(matrix) < 2:
        raise ValueError(
            f"fold results: {len(matrix)} fold(s); the comparison needs K >= 2 "
            "(K, settings.CROSS_VALIDATION['folds'])"
        )
    matrix.columns.name = None
    return matrix.sort_index()


def critical_t(folds: int, confidence: float = 0.95) -> float:
    """One-sided Student-t quantile ``t_{c,K−1}`` (paper 003: 2.132 for K = 5, 95 %)."""
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(
            f"K (settings.CROSS_VALIDATION['folds']) must be an integer >= 2, got {folds!r}"
        )
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float))
        or not 0 < confidence < 1
    ):
        raise ValueError(
            f"parameter 'cross_validation.confidence' must be in (0, 1), got {confidence!r}"
        )
    return float(stats.t.ppf(confidence, folds - 1))


# ----------------------------------------------------------------------------- paper 003
def mean_scores_table(fold_results: pd.DataFrame) -> pd.DataFrame:
    """Table I: mean (and standard deviation) accuracy and loss (cross-entropy) per model."""
    accuracy = score_matrix(fold_results, "accuracy")
    loss = score_matrix(fold_results, "loss")
    return pd.DataFrame(
        {
            "model": accuracy.columns,
            "folds": len(accuracy),
            "mean_accuracy": accuracy.mean().to_numpy(),
            "mean_accuracy_percent": 100 * accuracy.mean().to_numpy(),
            "std_accuracy": accuracy.std(ddof=1).to_numpy(),
            "mean_loss": loss.mean().to_numpy(),
            "std_loss": loss.std(ddof=1).to_numpy(),
        }
    )


def paired_difference_bound(
    row_scores: np.ndarray,
    column_scores: np.ndarray,
    t_value: float,
    correction: float | None = None,
) -> tuple[float, float, float]:
    """``(p, s, p + t·s)`` for the fold-wise differences row − column.

    ``correction=None`` is paper 003's eq. (4), ``s_p = sqrt(Σ(p_i − p)² / (K(K − 1)))``;
    a number ``c`` gives Nadeau & Bengio's ``s = sqrt((1/K + c) · S²)`` with
    ``c = n_test / n_train``.
    """
    differences = np.asarray(row_scores, dtype=np.float64) - np.asarray(
        column_scores, dtype=np.float64
    )
    folds = differences.size
    p = float(differences.mean())
    sum_squares = float(np.square(differences - p).sum())
    if correction is None:
        s = float(np.sqrt(sum_squares / (folds * (folds - 1))))
    else:
        s = float(np.sqrt((1.0 / folds + correction) * sum_squares / (folds - 1)))
    return p, s, p + t_value * s


def test_train_ratio(fold_results: pd.DataFrame) -> float:
    """Mean ``held_out_images / train_images`` over the folds (1/(K − 1) for equal folds)."""
    for column in ("train_images", "held_out_images"):
        if column not in fold_results.columns:
            raise ValueError(
                f"fold results: missing column {column!r} (needed by the corrected test)"
            )
    per_fold = fold_results.drop_duplicates("fold")
    return float((per_fold["held_out_images"] / per_fold["train_images"]).mean())


def confidence_bound_matrix(
    fold_results: pd.DataFrame, confidence: float = 0.95, corrected: bool = False
) -> pd.DataFrame:
    """Table II: entry (row r, column c) = ``p + t_{c,K−1} s_p`` for accuracy r − c.

    ``corrected=True`` swaps eq. (4)'s ``s_p`` for Nadeau & Bengio's corrected standard error
    (our addition); the diagonal is 0 either way.
    """
    accuracy = score_matrix(fold_results, "accuracy")
    t_value = critical_t(len(accuracy), confidence)
    correction = test_train_ratio(fold_results) if corrected else None
    names = list(accuracy.columns)
    table = pd.DataFrame(0.0, index=names, columns=names)
    for row, column in itertools.permutations(names, 2):
        _, _, bound = paired_difference_bound(accuracy[row], accuracy[column], t_value, correction)
        table.loc[row, column] = bound
    table.index.name = "model"
    return table


def optimal_per_row(bounds: pd.DataFrame, mean_accuracy: pd.Series | None = None) -> pd.Series:
    """The optimal model of each row: its column with the smallest ``p + t s_p``.

    Exact ties (within 1e-12) go to the model with the higher mean accuracy, then to the
    first in table order.
    """
    rank = mean_accuracy if mean_accuracy is not None else pd.Series(0.0, index=bounds.columns)
    chosen = {}
    for row in bounds.index:
        values = bounds.loc[row]
        tied = [c for c in bounds.columns if values[c] <= values.min() + TIE_TOLERANCE]
        chosen[row] = max(tied, key=lambda c: (rank[c], -bounds.columns.get_loc(c)))
    return pd.Series(chosen, name="optimal_model")


def table_2_with_optimal(
    bounds: pd.DataFrame, mean_accuracy: pd.Series | None = None
) -> pd.DataFrame:
    """Table II as saved: a ``model`` column, the bound matrix and each row's optimal model."""
    table = bounds.copy()
    table["optimal_model"] = optimal_per_row(bounds, mean_accuracy)
    return table.reset_index(names="model")


def row_verdict(bounds: pd.DataFrame, mean_accuracy: pd.Series) -> dict[str, Any]:
    """The overall verdict from a bound matrix, as paper 003 derives it (see module doc)."""
    optimal = optimal_per_row(bounds, mean_accuracy)
    names = list(bounds.index)
    rows_won = {name: int((optimal == name).sum()) for name in names}
    best = max(names, key=lambda n: (rows_won[n], mean_accuracy[n], -names.index(n)))
    return {
        "best_overall": best,
        "unanimous": rows_won[best] == len(names),
        "rows_won": rows_won,
        "optimal_per_row": optimal.to_dict(),
        # Rows whose own model is optimal: no other model's bound is below 0 there.
        "self_optimal": [n for n in names if optimal[n] == n],
        # Upper bound of accuracy(row) − accuracy(best) below 0: best beats that row model.
        "significantly_better_than": [n for n in names if n != best and bounds.loc[n, best] < 0],
    }


def model_selection_verdict(fold_results: pd.DataFrame, confidence: float = 0.95) -> dict[str, Any]:
    """Table I leaders, paper 003's Table II verdict, and ours with the corrected test."""
    table_1 = mean_scores_table(fold_results).set_index("model")
    folds = int(table_1["folds"].iloc[0])
    mean_accuracy = table_1["mean_accuracy"]
    paper = row_verdict(confidence_bound_matrix(fold_results, confidence), mean_accuracy)
    corrected = row_verdict(
        confidence_bound_matrix(fold_results, confidence, corrected=True), mean_accuracy
    )
    alpha = round(1 - confidence, 12)
    tests = corrected_resampled_ttest(fold_results, alpha=alpha)
    significant = tests[tests["significant"]]
    return {
        "folds": folds,
        "models": list(table_1.index),
        "confidence": confidence,
        "t_critical": critical_t(folds, confidence),
        "highest_mean_accuracy": str(mean_accuracy.idxmax()),
        "lowest_mean_loss": str(table_1["mean_loss"].idxmin()),
        "paper_003": {
            "method": "Table II: p + t*s_p per ordered pair (row - column accuracy), one-sided "
            "Student-t; optimal model per row = smallest entry; best overall = optimal in the "
            "most rows (unanimous = every row)",
            **paper,
        },
        "our_addition_corrected_resampled_ttest": {
            "method": "not in paper 003: Nadeau & Bengio (2003) corrected resampled t-test "
            "(K-fold form, variance x (1/K + n_test/n_train)); the same row/optimal logic on "
            "corrected bounds, and two-sided pairwise tests with Holm's correction",
            "test_train_ratio": test_train_ratio(fold_results),
            "alpha": alpha,
            **corrected,
            "significant_pairs": [
                {
                    "better": r.better,
                    "worse": r.model_b if r.better == r.model_a else r.model_a,
                    "mean_difference": abs(float(r.mean_difference)),
                    "p_value_holm": float(r.p_value_holm),
                }
                for r in significant.itertuples()
            ],
        },
    }


# ----------------------------------------------------------------------------- our addition
def corrected_resampled_ttest(fold_results: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Nadeau & Bengio's corrected resampled t-test for every pair of models (our addition).

    Per unordered pair (a, b) in table order: ``d_i = acc_a,i − acc_b,i``, ``S²`` their
    sample variance, ``t = mean(d) / sqrt((1/K + n_test/n_train) S²)`` on K − 1 degrees of
    freedom, two-sided p-value, Holm-adjusted over all pairs; ``better`` names the more
    accurate model where the adjusted p-value is below ``alpha``. Zero variance gives
    ``t = ±inf`` (p = 0) for a non-zero mean difference and ``t = 0`` (p = 1) otherwise.
    ``paper_s_p`` is eq. (4)'s uncorrected ``s_p`` for comparison.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    accuracy = score_matrix(fold_results, "accuracy")
    folds = len(accuracy)
    ratio = test_train_ratio(fold_results)
    rows = []
    for a, b in itertools.combinations(accuracy.columns, 2):
        differences = (accuracy[a] - accuracy[b]).to_numpy(dtype=np.float64)
        mean = float(differences.mean())
        variance = float(differences.var(ddof=1))
        standard_error = float(np.sqrt((1.0 / folds + ratio) * variance))
        if standard_error > 0:
            t_stat = mean / standard_error
        else:
            t_stat = 0.0 if mean == 0 else float(np.copysign(np.inf, mean))
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "folds": folds,
                "mean_accuracy_a": float(accuracy[a].mean()),
                "mean_accuracy_b": float(accuracy[b].mean()),
                "mean_difference": mean,
                "std_difference": float(np.sqrt(variance)),
                "test_train_ratio": ratio,
                "paper_s_p": float(np.sqrt(variance / folds)),
                "corrected_standard_error": standard_error,
                "t_statistic": t_stat,
                "df": folds - 1,
                "p_value": float(2 * stats.t.sf(abs(t_stat), folds - 1)),
            }
        )
    frame = pd.DataFrame(rows, columns=CORRECTED_TEST_COLUMNS[:-3])
    if frame.empty:
        return pd.DataFrame(columns=CORRECTED_TEST_COLUMNS)
    reject, adjusted, _, _ = multipletests(frame["p_value"].to_numpy(), alpha=alpha, method="holm")
    frame["p_value_holm"] = adjusted
    frame["significant"] = reject
    frame["better"] = [
        (r.model_a if r.mean_difference > 0 else r.model_b) if r.significant else ""
        for r in frame.itertuples()
    ]
    return frame[CORRECTED_TEST_COLUMNS]
