"""Comparison across architectures: collection (absent optional ones), table, Markdown, charts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cifar100_kedro import architectures
from cifar100_kedro.architectures import Architecture, ReportedFigure
from cifar100_kedro.pipelines.reporting import comparison as c


def _metrics(acc, coarse, mode="fine", params=1000, seconds=120.0):
    return {
        "label_mode": mode,
        "top_k": 5,
        "accuracy": acc if mode == "fine" else None,
        "accuracy_ci": None if acc is None or mode != "fine" else [acc - 0.02, acc + 0.02],
        "top_k_accuracy": None if acc is None or mode != "fine" else min(1.0, acc + 0.2),
        "coarse_accuracy": coarse,
        "loss": 2.0 if mode == "fine" else None,
        "coarse_top_k_accuracy": 0.9 if mode == "coarse" else None,
        "coarse_loss": 1.5 if mode == "coarse" else None,
        "total_params": params,
        "trainable_params": params,
        "training_seconds": seconds,
        "epochs_run": 3,
        "best_epoch": 2,
    }


def _arch(namespace, *figures, **fields):
    return Architecture(namespace, fields.pop("paper", "002"), "toy", reported=figures, **fields)


REGISTRY = c.registry_view(
    [
        _arch("m1", ReportedFigure("accuracy", 18.5, "test", "Abstract")),
        _arch("m1_coarse", ReportedFigure("coarse_accuracy", 37.7, "test", "Abstract")),
        _arch("m2"),
        _arch("m7", ReportedFigure("accuracy", 59.5, "test", "Abstract")),
        _arch("m7_coarse", ReportedFigure("coarse_accuracy", 65.6, "test", "Abstract")),
        _arch(
            "vgg",
            ReportedFigure("accuracy", 59.28, "validation", "Conclusion"),
            ReportedFigure("accuracy", 59.09, "test", "Conclusion", "a | note"),
            ReportedFigure("loss", 1.47, "test", "Conclusion"),
            paper="001",
        ),
    ]
)
STAGES = (("M1", "m1", "m1_coarse"), ("M2", "m2", None), ("M7", "m7", "m7_coarse"))


def test_collect_metrics_keeps_order_and_leaves_out_absent_ones():
    collected = c.collect_metrics(
        m1=_metrics(0.2, 0.4), m7=None, vgg=_metrics(0.5, 0.6), m7_coarse=None
    )
    assert [m["namespace"] for m in collected] == ["m1", "vgg"]
    collected = c.collect_metrics(m1=_metrics(0.2, 0.4), m7=_metrics(0.6, 0.7))
    assert [m["namespace"] for m in collected] == ["m1", "m7"]


def test_collect_predictions_drops_probabilities():
    pred = {
        "probabilities": np.ones((2, 3)) / 3,
        "labels": np.array([0, 1]),
        "predicted": np.array([0, 0]),
        "label_mode": np.array("fine"),
    }
    split = {"fine": np.array([0, 1])}
    out = c.collect_predictions(split, ("x", "y"), a=pred, x=pred, y=None)
    assert list(out) == ["a", "x"] and "probabilities" not in out["a"]


def test_collect_predictions_skips_optional_ones_from_another_test_set(caplog):
    pred = {
        "labels": np.array([0, 1]),
        "predicted": np.array([0, 0]),
        "label_mode": np.array("fine"),
    }
    stale = dict(pred, labels=np.array([1, 1, 0]), predicted=np.array([1, 1, 0]))
    split = {"fine": np.array([0, 1])}
    out = c.collect_predictions(split, ("m7",), a=pred, m7=stale)
    assert list(out) == ["a"]
    assert "'m7'" in caplog.text and "another test set" in caplog.text


def test_reported_figure_prefers_the_test_split():
    figures = REGISTRY["vgg"]["reported"]
    assert c.reported_figure(figures, "accuracy").value == 59.09
    assert c.reported_figure(figures, "coarse_accuracy") is None
    cv = ReportedFigure("accuracy", 41.9, "cross_validation", "Table I")
    holdout = ReportedFigure("accuracy", 44.1, "holdout", "Section V")
    assert c.reported_figure([holdout, cv], "accuracy") is cv


def test_comparison_table_sorted_with_reported_columns():
    metrics = c.collect_metrics(
        m1=_metrics(0.2, 0.4, params=500),
        vgg=_metrics(0.55, 0.65, params=13_870_484),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
        weak=_metrics(0.1, 0.3),
    )
    table = c.comparison_table(metrics, REGISTRY)
    assert table["model"].tolist() == ["vgg", "m1", "weak", "m1_coarse"]
    assert table["rank"].tolist() == [1, 2, 3, 4]
    vgg = table.iloc[0]
    assert vgg["test accuracy (%)"] == pytest.approx(55.0)
    assert vgg["test accuracy CI low (%)"] == pytest.approx(53.0)
    assert vgg["test accuracy CI high (%)"] == pytest.approx(57.0)
    assert np.isnan(table.set_index("model").loc["m1_coarse", "test accuracy CI low (%)"])
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


def test_markdown_labels_reported_figures_and_never_prints_nan():
    metrics = c.collect_metrics(
        vgg=_metrics(0.55, 0.65),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
        m2=_metrics(0.3, 0.5),
        unregistered=_metrics(None, None, params=None, seconds=None),
    )
    text = c.comparison_markdown(c.comparison_table(metrics, REGISTRY))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| rank"))
    assert "reported accuracy (%) [paper]" in header
    assert "not measured here" in text
    rows = [line for line in lines if line.startswith(("| 1 ", "| 2 ", "| 3 ", "| 4 "))]
    assert len(rows) == 4 and "55.00" in rows[0] and "59.09" in rows[0]
    m2 = next(row for row in rows if "| m2 |" in row)
    assert m2.endswith("| – | – | – | – |")  # no paper figures: a dash, not nan
    assert "nan" not in text.lower()
    # every figure the paper gives, with its source, is listed under the table
    vgg_note = next(line for line in lines if line.startswith("- `vgg`: "))
    assert "accuracy 59.09% on test (Conclusion: a | note)" in vgg_note
    assert "accuracy 59.28% on validation" in vgg_note and "loss 1.47 on test" in vgg_note
    assert all(line.count("|") == header.count("|") for line in lines if line.startswith("|"))


def test_markdown_of_a_table_read_back_from_csv_never_prints_nan(tmp_path):
    """The pipeline's Markdown node loads the table from CSV, where empty cells become NaN."""
    metrics = c.collect_metrics(
        vgg=_metrics(0.55, 0.65), m2=_metrics(0.3, 0.5), other=_metrics(0.1, 0.2)
    )
    c.comparison_table(metrics, REGISTRY).to_csv(tmp_path / "table.csv", index=False)
    text = c.comparison_markdown(pd.read_csv(tmp_path / "table.csv"))
    assert "nan" not in text.lower()
    assert [line for line in text.splitlines() if line.startswith("- `")] == [
        next(line for line in text.splitlines() if line.startswith("- `vgg`"))
    ]


def test_comparison_plot_axes():
    metrics = c.collect_metrics(
        vgg=_metrics(0.55, 0.65),
        m1=_metrics(0.2, 0.4),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
    )
    table = c.comparison_table(metrics, REGISTRY)
    fig = c.plot_comparison(table)
    ax_acc, ax_par, ax_time = fig.axes[:3]
    assert [t.get_text() for t in ax_acc.get_yticklabels()] == [
        "vgg [1 seed]", "m1 [1 seed]", "m1_coarse (coarse) [1 seed]"
    ]
    assert "training time" in ax_time.get_xlabel() and "parameters" in ax_par.get_xlabel()
    assert "ranked by mean test accuracy over seeds" in fig._suptitle.get_text()
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("reported" in t for t in legend_texts)


def test_progression_works_without_m7_and_includes_it_when_present():
    base = c.collect_metrics(
        m1=_metrics(0.18, 0.35),
        m2=_metrics(0.25, 0.4),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
        m7=None,
        m7_coarse=None,
    )
    table = c.progression_table(base, STAGES, REGISTRY)
    assert table["stage"].tolist() == ["M1", "M2", "M7"]
    assert table["status"].tolist() == ["evaluated", "evaluated", "not evaluated"]
    assert table.loc[0, "coarse-label model accuracy (%)"] == pytest.approx(38.0)
    assert table.loc[0, "reported coarse accuracy (%) [paper]"] == pytest.approx(37.7)
    assert table.loc[2, "reported fine accuracy (%) [paper]"] == pytest.approx(59.5)
    assert c.plot_progression(table).axes  # renders with the gap

    with_m7 = c.collect_metrics(
        m1=_metrics(0.18, 0.35),
        m2=_metrics(0.25, 0.4),
        m1_coarse=_metrics(None, 0.38, mode="coarse"),
        m7=_metrics(0.6, 0.7),
        m7_coarse=_metrics(None, 0.66, mode="coarse"),
    )
    table = c.progression_table(with_m7, STAGES, REGISTRY)
    assert table["status"].tolist() == ["evaluated"] * 3
    assert table.loc[2, "fine accuracy (%)"] == pytest.approx(60.0)
    assert table.loc[2, "coarse-label model accuracy (%)"] == pytest.approx(66.0)
    fig = c.plot_progression(table)
    ax = fig.axes[0]
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["M1", "M2", "M7"]
    assert "paper 002" in ax.get_title().lower()
    assert ax.get_ylabel() == "test accuracy (%)"


def test_progression_stages_come_from_the_registry():
    stages = c.progression_stages(architectures.progression())
    assert [s[0] for s in stages] == [f"M{i}" for i in range(1, 8)]
    assert stages[0] == ("M1", "chavez_m1", "chavez_m1_coarse")
    assert stages[-1] == ("M7", "chavez_m7", "chavez_m7_coarse")
