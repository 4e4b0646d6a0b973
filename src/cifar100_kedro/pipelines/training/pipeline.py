"""The training pipeline: one namespace per architecture, built from one template."""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from cifar100_kedro.pipelines.training.architectures import ARCHITECTURES
from cifar100_kedro.pipelines.training.nodes import train_architecture

SHARED_INPUTS = {"train_split", "validation_split", "normalization_stats"}


def create_training_template(architecture: str) -> Pipeline:
    """``<architecture>.model/.history/.training_summary`` from the shared model input."""
    train = update_wrapper(partial(train_architecture, architecture=architecture), train_architecture)
    template = Pipeline(
        [
            node(
                train,
                inputs=[
                    "train_split",
                    "validation_split",
                    "normalization_stats",
                    "params:model",
                    "params:train",
                    "params:training_run",
                ],
                outputs=["model", "history", "training_summary"],
                name="train",
                tags=["training"],
            )
        ]
    )
    return Pipeline(
        template,
        namespace=architecture,
        inputs=SHARED_INPUTS,
        parameters={"params:training_run"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Train every architecture in ``ARCHITECTURES``."""
    return sum((create_training_template(name) for name in ARCHITECTURES), Pipeline([]))
