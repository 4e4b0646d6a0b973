"""Paper 003's Table I / Table II statistics and our corrected test, on hand-computed folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cifar100_kedro.pipelines.cross_validation import statistics as st

# Two models on K = 5 folds of 100 held-out / 400 training images (made-up numbers).
ACC_A = [0.40, 0.42, 0.41, 0.43, 0.39]
ACC_B = [0.38, 0.41, 0.40, 0.40, 0.39]


def fold_results(
    scores: dict[str, list[float]],
    losses: dict[str, list[float]] | None = None,
    train_images: int = 400,
    held_out_images: int = 100,
) -> pd.DataFrame:
    rows = []
    for name, accuracies in scores.items():
        for fold, accuracy in enumerate(accuracies):
            rows.append(
                {
                    "architecture": name,
                    "fold": fold,
                    "accuracy": accuracy,
                    "loss": (losses or {}).get(name, [1.0] * len(accuracies))[fold],
                    "train_images": train_images,
                    "held_out_images": held_out_images,
                }
            )
    return pd.DataFrame(rows)


def test_t_critical_comes_from_scipy_and_matches_the_paper():
    assert st.critical_t(5, 0.95) == pytest.approx(2.132, abs=5e-4)  # paper: 2.132 for K = 5
    assert st.critical_t(2, 0.95) == pytest.approx(6.3138, abs=1e-4)


@pytest.mark.parametrize("folds", [1, 0, -3, 2.5, "5"])
def test_bad_k_names_the_setting(folds):
    with pytest.raises(ValueError, match=r"settings\.CROSS_VALIDATION\['folds'\]"):
        st.critical_t(folds, 0.95)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, "0.95"])
def test_bad_confidence_names_the_parameter(confidence):
    with pytest.raises(ValueError, match=r"cross_validation\.confidence"):
        st.critical_t(5, confidence)


def test_table_1_means_per_model():
    results = fold_results(
        {"A": ACC_A, "B": ACC_B}, {"A": [2.0, 2.2, 2.4, 2.6, 2.8], "B": [3.0] * 5}
    )
    table = st.mean_scores_table(results).set_index("model")
    assert list(table.index) == ["A", "B"]
    assert table.loc["A", "mean_accuracy"] == pytest.approx(0.41)
    assert table.loc["B", "mean_accuracy_percent"] == pytest.approx(39.6)
    assert table.loc["A", "mean_loss"] == pytest.approx(2.4)
    assert table.loc["B", "mean_loss"] == pytest.approx(3.0)
    assert (table["folds"] == 5).all()


def test_table_2_entry_by_hand():
    # d = A − B = [.02, .01, .01, .03, 0]; p = .014; Σ(d − p)² = .00052;
    # s_p = sqrt(.00052 / (5·4)) = .0050990; t(0.95, 4) = 2.131847;
    # p + t·s_p = .014 + .010870 = .024870; reversed: −.014 + .010870 = −.003130.
    bounds = st.confidence_bound_matrix(fold_results({"A": ACC_A, "B": ACC_B}))
    assert bounds.loc["A", "B"] == pytest.approx(0.024870, abs=1e-6)
    assert bounds.loc["B", "A"] == pytest.approx(-0.003130, abs=1e-6)
    assert bounds.loc["A", "A"] == 0 and bounds.loc["B", "B"] == 0
    p, s_p, bound = st.paired_difference_bound(np.array(ACC_A), np.array(ACC_B), 2.131847)
    assert (p, s_p) == (pytest.approx(0.014), pytest.approx(0.0050990, abs=1e-7))
    assert bound == pytest.approx(0.024870, abs=1e-6)


def test_optimal_per_row_and_verdict_by_hand():
    results = fold_results({"A": ACC_A, "B": ACC_B})
    bounds = st.confidence_bound_matrix(results)
    optimal = st.optimal_per_row(bounds)
    # Row B: −.00313 (column A) < 0 (diagonal) → A beats B; row A: 0 < .02487 → A.
    assert optimal.to_dict() == {"A": "A", "B": "A"}
    verdict = st.model_selection_verdict(results)
    paper = verdict["paper_003"]
    assert paper["best_overall"] == "A" and paper["unanimous"] is True
    assert paper["rows_won"] == {"A": 2, "B": 0}
    assert paper["self_optimal"] == ["A"]
    assert paper["significantly_better_than"] == ["B"]
    assert verdict["highest_mean_accuracy"] == "A"
    assert verdict["t_critical"] == pytest.approx(2.131847, abs=1e-6)


def test_corrected_resampled_ttest_by_hand():
    # S² = .00052 / 4 = .00013; n_test / n_train = 100 / 400 = .25;
    # SE = sqrt((1/5 + .25) · .00013) = .0076485; t = .014 / .0076485 = 1.8304 on 4 df;
    # two-sided p = 2 · P(T4 > 1.8304) = 0.1412 — not significant, although the paper's
    # uncorrected bound above says A beats B.
    table = st.corrected_resampled_ttest(fold_results({"A": ACC_A, "B": ACC_B}))
    row = table.iloc[0]
    assert (row.model_a, row.model_b, row.df) == ("A", "B", 4)
    assert row.test_train_ratio == pytest.approx(0.25)
    assert row.corrected_standard_error == pytest.approx(0.0076485, abs=1e-7)
    assert row.t_statistic == pytest.approx(1.8304, abs=1e-4)
    assert row.p_value == pytest.approx(0.1412, abs=1e-4)
    assert not row.significant and row.better == ""
    corrected = st.confidence_bound_matrix(fold_results({"A": ACC_A, "B": ACC_B}), corrected=True)
    # −.014 + 2.131847 · .0076485 = .002305 > 0: with the corrected variance A no longer wins row B.
    assert corrected.loc["B", "A"] == pytest.approx(0.002305, abs=1e-6)
    assert st.optimal_per_row(corrected).to_dict() == {"A": "A", "B": "B"}


def test_corrected_test_finds_a_large_consistent_difference_and_applies_holm():
    results = fold_results(
        {
            "good": [0.60, 0.62, 0.61, 0.63, 0.59],
            "bad": [0.20, 0.22, 0.19, 0.21, 0.20],
            "bad_too": [0.21, 0.20, 0.21, 0.20, 0.22],
        }
    )
    table = st.corrected_resampled_ttest(results).set_index(["model_a", "model_b"])
    assert (
        table.loc[("good", "bad"), "significant"] and table.loc[("good", "bad"), "better"] == "good"
    )
    assert table.loc[("bad", "bad_too"), "better"] == ""
    assert (table["p_value_holm"] >= table["p_value"] - 1e-15).all()
    verdict = st.model_selection_verdict(results)
    assert verdict["our_addition_corrected_resampled_ttest"]["best_overall"] == "good"
    pairs = verdict["our_addition_corrected_resampled_ttest"]["significant_pairs"]
    assert {(p["better"], p["worse"]) for p in pairs} == {("good", "bad"), ("good", "bad_too")}


def test_zero_variance_differences():
    table = st.corrected_resampled_ttest(
        fold_results({"A": [0.5, 0.5], "B": [0.4, 0.4], "C": [0.4, 0.4]})
    )
    by_pair = table.set_index(["model_a", "model_b"])
    assert (
        by_pair.loc[("A", "B"), "t_statistic"] == np.inf and by_pair.loc[("A", "B"), "p_value"] == 0
    )
    assert by_pair.loc[("B", "C"), "t_statistic"] == 0 and by_pair.loc[("B", "C"), "p_value"] == 1


# Paper 003, Table I (mean accuracy %), in its row order.
PAPER_TABLE_1 = {
    "Arch1-Hyp1": 35.07,
    "Arch1-Hyp2": 39.29,
    "Arch1-Hyp3": 41.28,
    "Arch2-Hyp1": 36.33,
    "Arch2-Hyp2": 40.81,
    "Arch2-Hyp3": 41.94,
    "T_Arch1": 29.21,
    "T_Arch2": 20.38,
}
# Paper 003, Table II, first and sixth rows.
PAPER_TABLE_2_ROWS = {
    "Arch1-Hyp1": [0.0000, -0.0422, -0.0621, -0.0126, -0.0574, -0.0687, 0.0586, 0.1470],
    "Arch2-Hyp3": [0.0687, 0.0265, 0.0066, 0.0561, 0.0113, 0.0000, 0.1273, 0.2156],
}


def test_paper_table_2_is_reproduced_when_folds_agree():
    # The printed Table II equals the Table I mean differences (t·s_p = 0): fold results that
    # are the same in every fold reproduce it, and the paper's verdict.
    results = fold_results({name: [acc / 100] * 5 for name, acc in PAPER_TABLE_1.items()})
    bounds = st.confidence_bound_matrix(results)
    for row, expected in PAPER_TABLE_2_ROWS.items():
        # Table I is rounded to 0.01 %, so a difference of two entries is within 1e-4
        # (35.07 − 20.38 = 14.69 where the paper prints 0.1470).
        assert bounds.loc[row].tolist() == pytest.approx(expected, abs=1.0001e-4)
    table = st.table_2_with_optimal(
        bounds, st.mean_scores_table(results).set_index("model")["mean_accuracy"]
    )
    assert list(table.columns) == ["model", *PAPER_TABLE_1, "optimal_model"]
    assert set(table["optimal_model"]) == {"Arch2-Hyp3"}  # "optimal ... to every row-model"
    paper = st.model_selection_verdict(results)["paper_003"]
    assert paper["best_overall"] == "Arch2-Hyp3" and paper["unanimous"] is True


def test_tie_in_a_row_goes_to_the_more_accurate_model():
    bounds = pd.DataFrame([[0.0, 0.0], [0.0, 0.0]], index=["A", "B"], columns=["A", "B"])
    optimal = st.optimal_per_row(bounds, pd.Series({"A": 0.3, "B": 0.4}))
    assert optimal.to_dict() == {"A": "B", "B": "B"}


def test_fold_results_must_cover_the_same_folds():
    results = fold_results({"A": ACC_A, "B": ACC_B}).drop(index=3)
    with pytest.raises(ValueError, match=r"lack some of the folds"):
        st.confidence_bound_matrix(results)


def test_one_fold_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match=r"settings\.CROSS_VALIDATION\['folds'\]"):
        st.mean_scores_table(fold_results({"A": [0.4], "B": [0.3]}))


def test_duplicate_fold_and_missing_column_are_refused():
    results = fold_results({"A": ACC_A})
    with pytest.raises(ValueError, match="fold 0 twice"):
        st.score_matrix(pd.concat([results, results.iloc[[0]]]))
    with pytest.raises(ValueError, match="missing column"):
        st.score_matrix(results.drop(columns="loss"))
