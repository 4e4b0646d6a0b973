"""Reporting: per-architecture evaluation on the test set and comparison across architectures."""

from cifar100_kedro.pipelines.reporting.pipeline import (
    create_comparison_pipeline,
    create_evaluation_pipeline,
    create_pipeline,
)

__all__ = ["create_comparison_pipeline", "create_evaluation_pipeline", "create_pipeline"]
