"""Reports across seeds, checked by hand on known numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cifar100_kedro.pipelines.reporting import comparison as c
from cifar100_kedro.pipelines.reporting import seeds as s
from cifar100_kedro.pipelines.reporting.time_to_accuracy import time_to_accuracy_table

PARAMS = {"confidence": 0.95, "alpha": 0.05}


def _metrics(namespace, seed, accuracy, mode="fine"):
    fine = mode == "fine"
    return {
        "namespace": namespace, "seed": seed, "label_mode": mode, "top_k": 5,
        "accuracy": accuracy if fine else None, "top_k_accuracy": accuracy + 0.2 if fine else None,
        "coarse_accuracy": accuracy + 0.1, "loss": 2.0 - accuracy if fine else None,
        "coarse_loss": None if fine else 1.0, "training_seconds": 10.0,
    }  # fmt: skip


def _runs():
    own = [_metrics("a", 0, 0.60), _metrics("b", 0, 0.50), _metrics("c", 0, 0.40, "coarse")]
    more = [
        _metrics("a.seed_1", 1, 0.62), _metrics("a.seed_2", 2, 0.64),
        _metrics("b.seed_1", 1, 0.51), _metrics("b.seed_2", 2, 0.55),
    ]  # fmt: skip
    return s.seed_runs_table(own, more)


def test_every_seed_is_a_row_under_its_architecture():
    runs = _runs()
    assert runs["model"].tolist() == ["a", "a", "a", "b", "b", "b", "c"]
    assert runs["seed"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert runs.loc[1, "namespace"] == "a.seed_1"
    assert runs.loc[1, "test accuracy (%)"] == pytest.approx(62.0)


def test_student_t_interval_by_hand():
    # mean 62, sd 2 (n-1), se = 2/sqrt(3); t(0.975, 2) = 4.302653 → half-width 4.968275.
    summary = s.seed_summary_table(_runs(), PARAMS).set_index("model")
    a = summary.loc["a"]
    assert a["seeds"] == 3 and a["seed list"] == "0, 1, 2"
    assert a["mean test accuracy (%)"] == pytest.approx(62.0)
    assert a["sd test accuracy (%)"] == pytest.approx(2.0)
    assert a["test accuracy t-CI low (%)"] == pytest.approx(62.0 - 4.968275, abs=1e-5)
    assert a["test accuracy t-CI high (%)"] == pytest.approx(62.0 + 4.968275, abs=1e-5)
    assert a["mean test loss"] == pytest.approx(2.0 - 0.62)
    one = summary.loc["c"]  # one seed: its value, no spread and no interval
    assert one["seeds"] == 1 and one["mean coarse accuracy (%)"] == pytest.approx(50.0)
    assert math.isnan(one["sd coarse accuracy (%)"]) and math.isnan(
        one["coarse accuracy t-CI low (%)"]
    )


def test_welch_test_by_hand_and_holm():
    # a = 60, 62, 64 (var 4); b = 50, 51, 55 (mean 52, var 7).
    # t = 10 / sqrt(4/3 + 7/3) = 10 / sqrt(11/3) = 5.222330; Welch–Satterthwaite
    # df = (11/3)^2 / ((4/3)^2/2 + (7/3)^2/2) = 3.723077; two-sided p = 2·t.sf(t, df) = 0.0078004.
    table = s.seed_pairwise_table(_runs(), PARAMS)
    assert len(table) == 1  # c has one seed and other labels: not paired with anything
    row = table.iloc[0]
    assert (row["model A"], row["model B"], row["shared seeds"]) == ("a", "b", 3)
    assert row["t"] == pytest.approx(5.222330, abs=1e-5)
    assert row["p"] == pytest.approx(0.0078004, rel=1e-4)
    assert row["p (Holm)"] == pytest.approx(row["p"])  # one comparison: Holm changes nothing
    assert row["significant"] and row["seeds A higher"] == 3
    assert row["verdict"].startswith("a beats b on 3 of 3 seeds (mean 62.00% vs 52.00%")


def test_holm_adjusts_over_the_pairs():
    own = [_metrics("a", 0, 0.60), _metrics("b", 0, 0.50), _metrics("c", 0, 0.40)]
    more = [
        _metrics("a.seed_1", 1, 0.62), _metrics("a.seed_2", 2, 0.64),
        _metrics("b.seed_1", 1, 0.51), _metrics("b.seed_2", 2, 0.55),
        _metrics("c.seed_1", 1, 0.45), _metrics("c.seed_2", 2, 0.41),
    ]  # fmt: skip
    table = s.seed_pairwise_table(s.seed_runs_table(own, more), PARAMS)
    assert len(table) == 3
    p, holm = sorted(table["p"]), sorted(table["p (Holm)"])
    # Holm: the k-th smallest p times (m - k + 1), kept monotone, capped at 1.
    assert holm[0] == pytest.approx(3 * p[0])
    assert holm[1] == pytest.approx(max(3 * p[0], 2 * p[1]))
    assert holm[2] == pytest.approx(min(1.0, max(holm[1], p[2])))


def test_identical_seeds_are_no_difference_not_nan():
    assert s.welch_test([0.5, 0.5], [0.5, 0.5]) == (0.0, 1.0)
    assert s.welch_test([0.6, 0.6], [0.5, 0.5])[1] == 0.0


@pytest.mark.parametrize("bad", [{"confidence": 1.5}, {"alpha": 0}, {"confidence": "high"}])
def test_bad_reporting_seeds_parameters_are_named(bad):
    with pytest.raises(ValueError, match=r"reporting\.seeds\.(confidence|alpha)"):
        s.seed_summary_table(_runs(), bad)


def test_comparison_ranks_by_the_mean_and_says_how_many_seeds():
    own = [_metrics("a", 0, 0.60), _metrics("b", 0, 0.61)]  # b's own run is the better one …
    more = [_metrics("a.seed_1", 1, 0.70), _metrics("a.seed_2", 2, 0.71)]
    summary = s.seed_summary_table(s.seed_runs_table(own, more), PARAMS)
    table = c.comparison_table(own, {}, summary)
    assert table["model"].tolist() == ["a", "b"]  # … but a's mean over three seeds is higher
    assert table["seeds"].tolist() == [3, 1]
    assert table.loc[0, "mean test accuracy (%)"] == pytest.approx(67.0)
    assert table.loc[0, "test accuracy (%)"] == pytest.approx(60.0)
    figure = c.plot_comparison(table)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == ["a [3 seeds]", "b [1 seed]"]
    from matplotlib.container import BarContainer

    bars = next(b for b in figure.axes[0].containers if isinstance(b, BarContainer))
    assert bars.patches[0].get_width() == pytest.approx(67.0)  # the mean, not the first seed


def test_report_and_chart_show_every_seed():
    runs = _runs()
    summary = s.seed_summary_table(runs, PARAMS)
    text = s.seed_report_markdown(summary, runs, s.seed_pairwise_table(runs, PARAMS))
    assert "a beats b on 3 of 3 seeds" in text and "| a.seed_2 |" not in text.split("##")[1]
    assert "a.seed_2" in text.split("## Every seed")[1]
    figure = s.plot_seed_accuracies(runs, summary)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == ["a  [3 seeds]", "b  [3 seeds]", "c (20 superclasses)  [1 seed]"]


def test_time_to_accuracy_is_the_mean_over_seeds():
    def history(accuracies, seconds):
        n = len(accuracies)
        return pd.DataFrame(
            {"epoch": range(1, n + 1), "val_accuracy": accuracies, "seconds": [seconds] * n,
             "cpu_seconds": [2 * seconds] * n}
        )  # fmt: skip

    histories = {
        "a": history([0.2, 0.4], 10.0),  # reaches 30% at epoch 2: 20 s
        "a.seed_1": history([0.35, 0.5], 30.0),  # at epoch 1: 30 s
        "b": history([0.1, 0.2], 5.0),
    }
    table = time_to_accuracy_table(histories, {"targets": [30]}).set_index("model")
    a = table.loc["a"]
    assert a["seeds"] == 2 and a["seeds reached"] == 2 and a["reached"]
    assert a["epochs"] == pytest.approx(1.5) and a["wall seconds"] == pytest.approx(25.0)
    assert a["cpu seconds"] == pytest.approx(50.0)
    assert not table.loc["b", "reached"] and table.loc["b", "seeds"] == 1
