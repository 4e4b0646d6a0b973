"""Plot nodes return figures with the expected axes, titles and labels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from cifar100_kedro.pipelines.reporting import metrics as m
from cifar100_kedro.pipelines.reporting import plots as p
from tests.pipelines.reporting.fakes import FakeModel, make_history, make_summary


@pytest.fixture
def predictions(label_names, split, reporting):
    return m.predict_test_set(FakeModel(6), split, label_names, make_summary(), reporting)


def _ticks(axis_labels):
    return [t.get_text() for t in axis_labels]


def test_confusion_matrix_plot_names_every_class_grouped_by_superclass(predictions, label_names):
    table = m.confusion_matrix_table(predictions, label_names, make_summary())
    fig = p.plot_confusion_matrix(table, label_names, make_summary())
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert "toy_cnn" in ax.get_title() and "6 fine classes" in ax.get_title()
    # classes ordered by superclass (already consecutive here), underscores shown as spaces
    assert _ticks(ax.get_xticklabels()) == [f"class {i}" for i in range(6)]
    assert _ticks(ax.get_yticklabels()) == [f"class {i}" for i in range(6)]
    image = ax.get_images()[0].get_array()
    np.testing.assert_allclose(np.asarray(image).sum(axis=1), 1.0)  # row-normalised
    # the secondary axis names the superclasses
    (secondary,) = ax.child_axes
    assert _ticks(secondary.get_yticklabels()) == ["super 0", "super 1", "super 2"]


def test_confusion_matrix_orders_by_superclass():
    names = ["a", "b", "c", "d"]
    counts = np.diag([1, 2, 3, 4])
    fig = p.confusion_matrix_figure(
        counts, names, "t", groups=[1, 0, 1, 0], group_names=["g0", "g1"]
    )
    assert _ticks(fig.axes[0].get_xticklabels()) == ["b", "d", "a", "c"]


def test_confusion_matrix_100_classes_is_large_and_legible():
    names = [f"class_{i}" for i in range(100)]
    fig = p.confusion_matrix_figure(np.eye(100, dtype=int), names, "t")
    width, height = fig.get_size_inches()
    assert height >= 25 and width >= 25
    assert fig.axes[0].get_xticklabels()[0].get_fontsize() >= 6
    assert len(fig.axes[0].get_xticklabels()) == 100


def test_coarse_confusion_matrix_plot(predictions, label_names):
    table = m.coarse_confusion_matrix_table(predictions, label_names)
    fig = p.plot_coarse_confusion_matrix(table, make_summary())
    ax = fig.axes[0]
    assert _ticks(ax.get_xticklabels()) == ["super 0", "super 1", "super 2"]
    assert "superclass" in ax.get_title() and "toy_cnn" in ax.get_title()
    assert len(ax.texts) >= 1  # cells annotated with percentages


def test_best_worst_plot(predictions, label_names):
    report = m.classification_report_table(predictions, label_names, make_summary())
    table = m.best_worst_classes(report, {"best_worst_n": 2})
    fig = p.plot_best_worst_classes(table, make_summary())
    assert len(fig.axes) == 2
    assert "best" in fig.axes[0].get_title() and "worst" in fig.axes[1].get_title()
    assert len(fig.axes[0].get_yticklabels()) == 2
    assert "toy_cnn" in fig._suptitle.get_text()


def test_a_panel_of_classes_never_predicted_says_so_instead_of_showing_empty_bars(
    predictions, label_names
):
    report = m.classification_report_table(predictions, label_names, make_summary())
    table = m.best_worst_classes(report, {"best_worst_n": 2})
    scores = ["precision", "recall", "f1-score"]
    table.loc[:, scores] = 0.5
    fig = p.plot_best_worst_classes(table, make_summary())
    assert not any(ax.texts for ax in fig.axes)
    table.loc[table["group"] == "worst", scores] = 0.0
    fig = p.plot_best_worst_classes(table, make_summary())
    best, worst = fig.axes
    assert not best.texts
    assert ["no correct prediction" in t.get_text() for t in worst.texts] == [True]


def test_training_curves_mark_best_epoch():
    fig = p.plot_training_curves(make_history(4), make_summary())
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "epoch" and "accuracy" in acc_ax.get_ylabel()
    labels = [line.get_label() for line in loss_ax.get_lines()]
    assert "training" in labels and "validation" in labels
    assert any(label.startswith("best epoch 2") for label in labels)
    assert "toy_cnn" in fig._suptitle.get_text() and "best epoch 2" in fig._suptitle.get_text()


def test_training_curves_reject_missing_columns():
    with pytest.raises(ValueError, match="val_accuracy"):
        p.plot_training_curves(make_history().drop(columns=["val_accuracy"]), make_summary())


def test_prediction_grid_marks_wrong_predictions(split, label_names, reporting):
    probs = np.full((18, 6), 0.02, dtype=np.float32)
    predicted = split["fine"].copy()
    predicted[::2] = (predicted[::2] + 1) % 6  # every other one wrong
    probs[np.arange(18), predicted] = 0.9
    predictions = m.assemble_predictions(probs, split, label_names, "fine", "toy_cnn")
    fig = p.plot_prediction_grid(split, predictions, label_names, make_summary(), reporting)
    image_axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(image_axes) == 6  # 2 x 3 grid
    titles = [ax.get_title() for ax in image_axes]
    assert all(t.startswith("T: ") and "\nP: " in t for t in titles)
    wrong = [ax for ax in image_axes if "✗" in ax.get_title()]
    assert wrong and all(ax.spines["top"].get_linewidth() == 4 for ax in wrong)
    assert f"{len(wrong)} wrong" in fig._suptitle.get_text()
