"""The training pipeline: one namespace per architecture, built from one template."""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from cifar100_kedro.pipelines.training.architectures import ARCHITECTURES, EXTRA_INPUTS
from cifar100_kedro.pipelines.training.nodes import train_architecture

SHARED_INPUTS = {"train_split", "validation_split", "normalization_stats"}


def create_training_template(
    architecture: str, extra_inputs: dict[str, str] | None = None
) -> Pipeline:
    """``<architecture>.model/.history/.training_summary`` from the shared model input.

    ``extra_inputs`` maps further ``train_architecture`` arguments to datasets outside the
    namespace, e.g. ``{"pretrained": "autoencoder_model"}`` (the template names the input after
    the argument, and the namespace maps it to the dataset).
    """
    extra_inputs = dict(extra_inputs or {})
    train = update_wrapper(partial(train_architecture, architecture=architecture), train_architecture)
    template = Pipeline(
        [
            node(
                train,
                inputs={
                    "train_split": "train_split",
                    "validation_split": "validation_split",
                    "normalization_stats": "normalization_stats",
                    "model_params": "params:model",
                    "train_params": "params:train",
                    "run_settings": "params:training_run",
                    **{argument: argument for argument in extra_inputs},
                },
                outputs=["model", "history", "training_summary"],
                name="train",
                tags=["training"],
            )
        ]
    )
    return Pipeline(
        template,
        namespace=architecture,
        inputs={name: name for name in SHARED_INPUTS} | extra_inputs,
        parameters={"params:training_run"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Train every architecture in ``ARCHITECTURES``."""
    return sum(
        (create_training_template(name, EXTRA_INPUTS.get(name)) for name in ARCHITECTURES),
        Pipeline([]),
    )
