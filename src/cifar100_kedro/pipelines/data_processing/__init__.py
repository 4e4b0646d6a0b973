"""Archive → validated, stratified train/validation/test arrays and normalisation statistics."""

from cifar100_kedro.pipelines.data_processing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
