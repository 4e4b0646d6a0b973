"""The reporting pipeline's node functions, gathered in one place.

The implementations live in small modules of this package:

- :mod:`.metrics` — test-set predictions, metrics JSON, confusion matrices, classification report;
- :mod:`.plots` — per-architecture figures (confusion matrices, best/worst classes, training
  curves, the grid of test images);
- :mod:`.new_images` — top-k predictions for a folder of new images;
- :mod:`.statistics` — McNemar's exact test with Holm's correction, and its heatmap;
- :mod:`.comparison` — the cross-architecture table, Markdown, chart and paper 002's progression;
- :mod:`.time_to_accuracy` — when each model first reached given validation accuracies, and
  its accuracy against training time;
- :mod:`.reproduction` — the papers' own tables regenerated from our results.

This module adds the thin level-specific wrappers the pipeline wires up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cifar100_kedro.pipelines.reporting.comparison import (
    collect_metrics,
    collect_predictions,
    comparison_markdown,
    comparison_table,
    plot_comparison,
    plot_progression,
    progression_table,
)
from cifar100_kedro.pipelines.reporting.metrics import (
    best_worst_classes,
    classification_report_table,
    coarse_confusion_matrix_table,
    compute_metrics,
    confusion_matrix_table,
    predict_test_set,
    validate_predictions,
)
from cifar100_kedro.pipelines.reporting.new_images import predict_new_images
from cifar100_kedro.pipelines.reporting.plots import (
    plot_best_worst_classes,
    plot_coarse_confusion_matrix,
    plot_confusion_matrix,
    plot_prediction_grid,
    plot_training_curves,
)
from cifar100_kedro.pipelines.reporting.statistics import mcnemar_heatmap, mcnemar_node
from cifar100_kedro.pipelines.reporting.time_to_accuracy import (
    collect_histories,
    plot_accuracy_vs_training_time,
    time_to_accuracy_table,
)

__all__ = [
    "best_worst_classes",
    "classification_report_table",
    "coarse_confusion_matrix_table",
    "collect_histories",
    "collect_metrics",
    "collect_predictions",
    "comparison_markdown",
    "comparison_table",
    "compute_metrics",
    "confusion_matrix_table",
    "mcnemar_coarse",
    "mcnemar_fine",
    "plot_accuracy_vs_training_time",
    "plot_best_worst_classes",
    "plot_coarse_confusion_matrix",
    "plot_comparison",
    "plot_confusion_matrix",
    "plot_mcnemar_coarse",
    "plot_mcnemar_fine",
    "plot_prediction_grid",
    "plot_progression",
    "plot_training_curves",
    "predict_new_images",
    "predict_test_set",
    "progression_table",
    "time_to_accuracy_table",
    "validate_predictions",
]


def mcnemar_fine(
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    test_split: Mapping[str, np.ndarray],
    mcnemar: dict[str, Any],
) -> pd.DataFrame:
    """Pairwise McNemar (exact, Holm) on fine-label correctness of the fine-label models."""
    return mcnemar_node(predictions, test_split, mcnemar, "fine")


def mcnemar_coarse(
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    test_split: Mapping[str, np.ndarray],
    mcnemar: dict[str, Any],
) -> pd.DataFrame:
    """Pairwise McNemar (exact, Holm) on superclass correctness of every model."""
    return mcnemar_node(predictions, test_split, mcnemar, "coarse")


def _heatmap_title(table: pd.DataFrame, what: str) -> str:
    models = len(set(table["model_a"]) | set(table["model_b"])) if len(table) else 0
    return (
        f"McNemar's exact test, Holm-corrected, on {what} ({models} models, "
        f"{len(table)} pairs, shared test set)\ncell: accuracy difference row − column in "
        "percentage points, adjusted p-value; * = significant"
    )


def plot_mcnemar_fine(table: pd.DataFrame, mcnemar: dict[str, Any]) -> Figure:
    """Heatmap of the fine-label pairwise McNemar table."""
    alpha = float(mcnemar.get("alpha", 0.05))
    return mcnemar_heatmap(
        table, _heatmap_title(table, "fine-label (100-class) correctness"), alpha
    )


def plot_mcnemar_coarse(table: pd.DataFrame, mcnemar: dict[str, Any]) -> Figure:
    """Heatmap of the superclass pairwise McNemar table."""
    alpha = float(mcnemar.get("alpha", 0.05))
    return mcnemar_heatmap(table, _heatmap_title(table, "superclass (20-class) correctness"), alpha)


def paper_000_table_1(history: pd.DataFrame) -> pd.DataFrame:
    """Paper 000's Table I (accuracy and loss at epochs 1, 26, …, 172) beside ours.

    Our ``val_*`` columns are on this run's validation split under the default protocol; the
    paper's are on the test set it passed to ``fit`` (it calls it validation).
    """
    from cifar100_kedro.architectures import PAPER_000_TABLE_I
    from cifar100_kedro.pipelines.reporting.reproduction import epoch_table

    return epoch_table(history, PAPER_000_TABLE_I, percent=("accuracy", "val_accuracy"))
