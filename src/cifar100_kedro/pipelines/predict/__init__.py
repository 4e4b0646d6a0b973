"""The ``predict`` pipeline: a trained or exported model on your own images (README.md)."""

from cifar100_kedro.pipelines.predict.pipeline import create_pipeline

__all__ = ["create_pipeline"]
