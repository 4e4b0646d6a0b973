"""The training pipeline: one namespace per registered architecture, from one template."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from cifar100_kedro import architectures
from cifar100_kedro.pipelines.training.nodes import train_architecture

SHARED_INPUTS = {"train_split", "validation_split", "normalization_stats"}
SHARED_PARAMETERS = {"params:training_run", "params:device"}


def create_training_template(
    architecture: str, extra_inputs: Mapping[str, str] | None = None, protocol: str = "holdout"
) -> Pipeline:
    """``<architecture>.model/.history/.training_summary`` from the shared model input.

    ``extra_inputs`` maps further ``train_architecture`` arguments to datasets outside the
    namespace, e.g. ``{"pretrained": "autoencoder_model"}`` (the template names the input after
    the argument, and the namespace maps it to the dataset). ``protocol="paper"`` also gives
    the node the test split (the paper watched it during training; see ``PROTOCOLS``).
    """
    extra_inputs = dict(extra_inputs or {})
    if protocol == "paper":
        extra_inputs["test_split"] = "test_split"
    train = update_wrapper(
        partial(train_architecture, architecture=architecture, protocol=protocol),
        train_architecture,
    )
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
                    "device_settings": "params:device",
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
        parameters=SHARED_PARAMETERS,
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Train every architecture the registry gives the default run."""
    return sum(
        (
            create_training_template(arch.namespace, arch.extra_inputs, arch.protocol)
            for arch in architectures.default_training()
        ),
        Pipeline([]),
    )
