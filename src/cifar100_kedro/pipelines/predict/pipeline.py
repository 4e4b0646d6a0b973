"""The ``predict`` pipeline: ``predict_images`` + ``label_names`` + ``params:predict`` →
``predictions`` (top-k CSV) and ``prediction_summary`` (JSON), under
data/07_model_output/predict/."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from cifar100_kedro.pipelines.predict import nodes as n


def create_pipeline(**kwargs) -> Pipeline:
    """Batch prediction with one chosen model."""
    return Pipeline(
        [
            node(
                n.predict_images,
                ["predict_images", "label_names", "params:predict"],
                ["predictions", "prediction_summary"],
                name="predict_images",
            )
        ],
        tags={"predict"},
    )
