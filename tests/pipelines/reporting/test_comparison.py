"""Comparison across architectures: collection (with extra namespaces), table, Markdown, charts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cifar100_kedro.pipelines.reporting import comparison as c


def _metrics(acc, coarse, mode="fine", params=1000, seconds=120.0):
    return {
        "label_mode": mode,
        "top_k": 5,
        "accuracy": acc if mode == "fine" else None,
        "top_k_accuracy": None if acc is None or mode != "fine" else min(1.0, acc + 0.2),
        "coarse_accuracy": coarse,
        "loss": 2.0 if mode == "fine" else None,
        "model_loss": 1.5,
        "total_params": params,
        "trainable_params": params,
        "training_seconds": seconds,
        "epochs_run": 3,
        "best_epoch": 2,
    }


REPORTED = {
    "m1": {"paper": "002", "accuracy": 18.5, "split": "test"},
    "m1_coarse": {"paper": "002", "coarse_accuracy": 37.7, "split": "test"},
    "m7": {"paper": "002", "accuracy": 59.5, "split": "test"},
    "m7_coarse": {"paper": "002", "coarse_accuracy": 65.6, "split": "test"},
    "vgg": {"paper": "001", "accuracy": 59.09, "loss": 1.47, "split": "test", "note": "a | note"},
}
PROGRESSION = {
    "stages": ["m1", "m2", "m7"],
    "coarse_models": {"m1": "m1_coarse", "m7": "m7_coarse"},
}


def test_collect_metrics_keeps_order_and_adds_allow_listed_extras():
    extras = {
        "m7": lambda: _metrics(0.6, 0.7),
        "fish": lambda: _metrics(0.9, None),
        "m1": lambda: 1 / 0,
    }
    settings = {"extra_namespaces": ["m7", "m7_coarse"]}
    collected = c.collect_metrics(settings, extras, m1=_metrics(0.2, 0.4), vgg=_metrics(0.5, 0.6))
    assert [m["namespace"] for m in collected] == ["m1", "vgg", "m7"]  # fish not allow-listed


def test_collect_metrics_without_extras():
    collected = c.collect_metrics({"extra_namespaces": ["m7"]}, None, m1=_metrics(0.2, 0.4))
    assert [m["namespace"] for m in collected] == ["m1"]


def test_collect_predictions_drops_probabilities():
    pred = {
        "probabilities": np.ones((2, 3)) / 3,
        "labels": np.array([0, 1]),
        "predicted": np.array([0, 0]),
        "label_mode": np.array("fine"),
    }
    split = {"fine": np.array([0, 1])}
    out = c.collect_predictions({"extra_namespaces": ["x"]}, split, {"x": lambda: pred}, a=pred)
    assert list(out) == ["a", "x"] and "probabilities" not in out["a"]


def test_collect_predictions_skips_extras_from_another_test_set(caplog):
    pred = {
        "labels": np.array([0, 1]),
        "predicted": np.array([0, 0]),
        "label_mode": np.array("fine"),
    }
    stale = dict(pred, labels=np.array([1, 1, 0]), predicted=np.array([1, 1, 0]))
    split = {"fine": np.array([0, 1])}
    out = c.collect_predictions({"extra_namespaces": ["m7"]}, split, {"m7": lambda: stale}, a=pred)
    assert list(out) == ["a"]
    assert "'m7'" in caplog.text and "another test set" in caplog.text


def test_comparison_table_sorted_with_reported_columns():
    metrics = c.collect_metrics(
        {},
        None,
        m1=_metrics(0.2, 0.4, params=500),
        vgg=_metrics(0.55, 0.65, params=13_870_484),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
        weak=_metrics(0.1, 0.3),
    )
    table = c.comparison_table(metrics, REPORTED)
    assert table["model"].tolist() == ["vgg", "m1", "weak", "m1_coarse"]
    assert table["rank"].tolist() == [1, 2, 3, 4]
    vgg = table.iloc[0]
    assert vgg["test accuracy (%)"] == pytest.approx(55.0)
    assert vgg["top-5 accuracy (%)"] == pytest.approx(75.0)
    assert vgg["coarse accuracy (%)"] == pytest.approx(65.0)
    assert vgg["reported accuracy (%) [paper]"] == pytest.approx(59.09)
    assert vgg["parameters"] == 13_870_484 and vgg["training time (min)"] == pytest.approx(2.0)
    coarse = table.iloc[3]
    assert math.isnan(coarse["test accuracy (%)"]) and coarse[
        "coarse accuracy (%)"
    ] == pytest.approx(38.0)
    assert coarse["reported coarse accuracy (%) [paper]"] == pytest.approx(37.7)
    assert math.isnan(table.iloc[2]["reported accuracy (%) [paper]"])


def test_markdown_labels_reported_figures():
    metrics = c.collect_metrics(
        {}, None, vgg=_metrics(0.55, 0.65), m1_coarse=_metrics(None, 0.38, mode="coarse")
    )
    text = c.comparison_markdown(c.comparison_table(metrics, REPORTED))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| rank"))
    assert "reported accuracy (%) [paper]" in header
    assert "not measured here" in text
    rows = [line for line in lines if line.startswith(("| 1 ", "| 2 "))]
    assert len(rows) == 2 and "55.00" in rows[0] and "–" in rows[1]
    assert "- `vgg`: a | note" in text  # notes listed under the table
    assert all(line.count("|") == header.count("|") for line in lines if line.startswith("|"))


def test_comparison_plot_axes():
    metrics = c.collect_metrics(
        {},
        None,
        vgg=_metrics(0.55, 0.65),
        m1=_metrics(0.2, 0.4),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
    )
    table = c.comparison_table(metrics, REPORTED)
    fig = c.plot_comparison(table)
    ax_acc, ax_par, ax_time = fig.axes[:3]
    assert [t.get_text() for t in ax_acc.get_yticklabels()] == ["vgg", "m1", "m1_coarse (coarse)"]
    assert "training time" in ax_time.get_xlabel() and "parameters" in ax_par.get_xlabel()
    assert "sorted by test accuracy" in fig._suptitle.get_text()
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("reported" in t for t in legend_texts)


def test_progression_works_without_m7_and_includes_it_when_present():
    base = c.collect_metrics(
        {},
        None,
        m1=_metrics(0.18, 0.35),
        m2=_metrics(0.25, 0.4),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
    )
    table = c.progression_table(base, PROGRESSION, REPORTED)
    assert table["stage"].tolist() == ["M1", "M2", "M3"]
    assert table["status"].tolist() == ["evaluated", "evaluated", "not evaluated"]
    assert table.loc[0, "coarse-label model accuracy (%)"] == pytest.approx(38.0)
    assert table.loc[2, "reported fine accuracy (%) [paper]"] == pytest.approx(59.5)
    assert c.plot_progression(table).axes  # renders with the gap

    extras = {
        "m7": lambda: _metrics(0.6, 0.7),
        "m7_coarse": lambda: _metrics(None, 0.66, mode="coarse"),
    }
    with_m7 = c.collect_metrics(
        {"extra_namespaces": ["m7", "m7_coarse"]},
        extras,
        m1=_metrics(0.18, 0.35),
        m2=_metrics(0.25, 0.4),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
    )
    table = c.progression_table(with_m7, PROGRESSION, REPORTED)
    assert table["status"].tolist() == ["evaluated"] * 3
    assert table.loc[2, "fine accuracy (%)"] == pytest.approx(60.0)
    assert table.loc[2, "coarse-label model accuracy (%)"] == pytest.approx(66.0)
    fig = c.plot_progression(table)
    ax = fig.axes[0]
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["M1", "M2", "M3"]
    assert "paper 002" in ax.get_title().lower()
    assert ax.get_ylabel() == "test accuracy (%)"
