"""K-fold cross-validation and paper 003's model comparison (Tables I and II, verdict)."""

from cifar100_kedro.pipelines.cross_validation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
