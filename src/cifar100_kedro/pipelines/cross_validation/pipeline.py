"""The cross_validation pipeline: folds → per-fold training → paper 003's tables and verdict.

``kedro run --pipeline=cross_validation`` includes data_processing, so it works on a fresh
clone; which architectures it compares is ``cross_validation.architectures`` in conf.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from cifar100_kedro.pipelines import data_processing
from cifar100_kedro.pipelines.cross_validation.nodes import (
    assign_folds,
    cross_validate,
    make_corrected_ttest,
    make_table_1,
    make_table_2,
    make_verdict,
    plan_cross_validation,
    plot_table_2,
)


def create_cross_validation_pipeline() -> Pipeline:
    """The cross-validation nodes alone (inputs: ``train_split``, ``validation_split``)."""
    return Pipeline(
        [
            node(
                plan_cross_validation,
                ["params:cross_validation", "params:training_run", "parameters"],
                "cross_validation_plan",
                name="plan_cross_validation",
            ),
            node(
                assign_folds,
                ["train_split", "validation_split", "cross_validation_plan"],
                "cross_validation_folds",
                name="assign_cross_validation_folds",
            ),
            node(
                cross_validate,
                [
                    "train_split",
                    "validation_split",
                    "cross_validation_folds",
                    "cross_validation_plan",
                ],
                "cross_validation_fold_results",
                name="cross_validate_architectures",
            ),
            node(
                make_table_1,
                "cross_validation_fold_results",
                "cross_validation_table_1",
                name="make_cross_validation_table_1",
            ),
            node(
                make_table_2,
                ["cross_validation_fold_results", "cross_validation_plan"],
                "cross_validation_table_2",
                name="make_cross_validation_table_2",
            ),
            node(
                plot_table_2,
                ["cross_validation_fold_results", "cross_validation_plan"],
                "cross_validation_table_2_heatmap",
                name="plot_cross_validation_table_2",
            ),
            node(
                make_corrected_ttest,
                ["cross_validation_fold_results", "cross_validation_plan"],
                "cross_validation_corrected_ttest",
                name="make_cross_validation_corrected_ttest",
            ),
            node(
                make_verdict,
                ["cross_validation_fold_results", "cross_validation_plan"],
                "cross_validation_verdict",
                name="make_cross_validation_verdict",
            ),
        ],
        tags=["cross_validation"],
    )


def create_pipeline(**kwargs) -> Pipeline:
    """data_processing + K-fold cross-validation of the configured architectures."""
    return data_processing.create_pipeline() + create_cross_validation_pipeline()
