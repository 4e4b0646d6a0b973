"""Train every architecture of the papers, one Kedro namespace each."""

from cifar100_kedro.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
