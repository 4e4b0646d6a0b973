"""McNemar's exact test and Holm's correction on known tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from cifar100_kedro.pipelines.reporting import statistics as s


def test_contingency_table_counts():
    a = np.array([1, 1, 0, 0, 1, 0], bool)
    b = np.array([1, 0, 1, 0, 0, 0], bool)
    np.testing.assert_array_equal(s.contingency_table(a, b), [[1, 2], [1, 2]])


def test_contingency_table_rejects_different_lengths():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        s.contingency_table(np.ones(3, bool), np.ones(4, bool))


def test_mcnemar_exact_known_table():
    # discordant cells 5 and 1: two-sided exact p = 2 * P(X <= 1 | n=6, p=1/2) = 2 * 7/64
    assert s.mcnemar_exact(np.array([[10, 5], [1, 4]])) == pytest.approx(14 / 64)
    assert s.mcnemar_exact(np.array([[10, 5], [1, 4]])) == pytest.approx(
        binomtest(1, 6, 0.5).pvalue
    )
    # symmetric discordance: p = 1
    assert s.mcnemar_exact(np.array([[3, 4], [4, 3]])) == pytest.approx(1.0)
    # no disagreement at all
    assert s.mcnemar_exact(np.array([[7, 0], [0, 3]])) == 1.0


def test_pairwise_mcnemar_with_holm():
    n = 40
    truth = np.ones(n, bool)
    a = truth.copy()  # always right
    b = truth.copy()
    b[:12] = False  # wrong on 12 (A right there): 12 vs 0 discordant
    c = truth.copy()
    c[:1] = False  # wrong on 1
    table = s.pairwise_mcnemar({"a": a, "b": b, "c": c}, alpha=0.05)
    assert list(zip(table["model_a"], table["model_b"])) == [("a", "b"), ("a", "c"), ("b", "c")]
    p_ab = 2 * 0.5**12
    assert table.loc[0, "p_value"] == pytest.approx(p_ab)
    assert table.loc[0, "only_a_correct"] == 12 and table.loc[0, "only_b_correct"] == 0
    assert table.loc[1, "p_value"] == pytest.approx(1.0)
    # Holm: smallest p times 3, next times 2, monotone, capped at 1
    p_bc = binomtest(0, 11, 0.5).pvalue  # b wrong on 12, c wrong on 1 -> 11 discordant, all one way
    assert table.loc[2, "p_value"] == pytest.approx(p_bc)
    assert table.loc[0, "p_value_holm"] == pytest.approx(3 * p_ab)
    assert table.loc[2, "p_value_holm"] == pytest.approx(2 * p_bc)
    assert table.loc[1, "p_value_holm"] == pytest.approx(1.0)
    assert table["significant"].tolist() == [True, False, True]
    assert (
        table.loc[0, "better"] == "a"
        and table.loc[2, "better"] == "c"
        and table.loc[1, "better"] == ""
    )
    assert table.loc[0, "difference_pp"] == pytest.approx(30.0)


def test_correctness_levels():
    test_split = {"fine": np.array([0, 1, 2, 3]), "coarse": np.array([0, 0, 1, 1])}
    preds = {
        "fine_model": {
            "label_mode": np.array("fine"),
            "labels": np.array([0, 1, 2, 3]),
            "predicted": np.array([0, 0, 2, 2]),
            "coarse_labels": np.array([0, 0, 1, 1]),
            "coarse_predicted": np.array([0, 0, 1, 1]),
        },
        "coarse_model": {
            "label_mode": np.array("coarse"),
            "labels": np.array([0, 0, 1, 1]),
            "predicted": np.array([1, 0, 1, 1]),
            "coarse_labels": np.array([0, 0, 1, 1]),
            "coarse_predicted": np.array([1, 0, 1, 1]),
        },
    }
    fine = s.correctness_from_predictions(preds, test_split, "fine")
    assert list(fine) == ["fine_model"]
    assert fine["fine_model"].tolist() == [True, False, True, False]
    coarse = s.correctness_from_predictions(preds, test_split, "coarse")
    assert coarse["coarse_model"].tolist() == [False, True, True, True]
    assert coarse["fine_model"].tolist() == [True, True, True, True]


def test_correctness_rejects_another_test_set():
    test_split = {"fine": np.array([0, 1, 2, 3])}
    preds = {
        "m": {
            "label_mode": np.array("fine"),
            "labels": np.array([0, 1, 2]),
            "predicted": np.array([0, 1, 2]),
        }
    }
    with pytest.raises(ValueError, match=r"'m'.*\(3,\).*\(4,\)"):
        s.correctness_from_predictions(preds, test_split, "fine")


def test_heatmap_axes():
    rng = np.random.default_rng(0)
    correct = {name: rng.random(200) < p for name, p in [("m1", 0.3), ("m2", 0.5), ("m3", 0.7)]}
    table = s.pairwise_mcnemar(correct)
    fig = s.mcnemar_heatmap(table, "McNemar test title")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["m1", "m2", "m3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["m1", "m2", "m3"]
    assert ax.get_title() == "McNemar test title"
    assert len(ax.texts) == 6  # off-diagonal cells annotated
    assert len(fig.axes) == 2  # matrix + colour bar


def test_heatmap_with_fewer_than_two_models():
    table = s.pairwise_mcnemar({"only": np.ones(5, bool)})
    assert table.empty
    fig = s.mcnemar_heatmap(table, "t")
    assert "fewer than two" in fig.axes[0].texts[0].get_text()
