"""Paper 002's model 7: random + grid hyperparameter search over model 6, then retraining."""

from cifar100_kedro.pipelines.hyperparameter_search.pipeline import create_pipeline

__all__ = ["create_pipeline"]
