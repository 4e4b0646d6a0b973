"""The ``export`` pipeline: trained models as SavedModel, ONNX and LiteRT/TFLite (README.md)."""

from cifar100_kedro.pipelines.export.pipeline import create_pipeline

__all__ = ["create_pipeline"]
