"""The autoencoder pipeline (``kedro run --pipeline=autoencoder``).

``autoencoder_model`` (data/06_models/autoencoder/model.keras) is the input the training
pipeline gives the transfer namespaces ``chakraborti_t_arch1`` / ``chakraborti_t_arch2``
(their ``extra_inputs`` in ``cifar100_kedro.architectures``), so the pre-training runs before them.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from cifar100_kedro.pipelines import data_processing
from cifar100_kedro.pipelines.autoencoder.nodes import (
    NAMESPACE,
    plot_reconstruction_loss,
    plot_reconstructions,
    select_pretraining_images,
    train_autoencoder,
)

SHARED_INPUTS = {"train_split", "validation_split", "normalization_stats"}
# The trained autoencoder leaves the namespace under a dot-free name: other namespaces take it
# as an input, and Kedro warns about dotted names that are not a node's own namespace.
MODEL_DATASET = "autoencoder_model"


def create_pretraining_pipeline() -> Pipeline:
    """Pre-training images → trained autoencoder → reconstruction grid and loss curve, in the
    ``autoencoder`` namespace, from the shared model input."""
    template = Pipeline(
        [
            node(
                select_pretraining_images,
                ["train_split", "params:pretraining_images"],
                "pretraining_images",
                name="select_pretraining_images",
            ),
            node(
                train_autoencoder,
                [
                    "pretraining_images",
                    "validation_split",
                    "normalization_stats",
                    "params:model",
                    "params:train",
                    "params:training_run",
                    "params:device",
                    "params:pretraining_images",
                ],
                ["model", "history", "training_summary"],
                name="train",
                tags=["training"],
            ),
            node(
                plot_reconstructions,
                ["model", "validation_split", "params:report"],
                "reconstruction_grid",
                name="plot_reconstructions",
            ),
            node(
                plot_reconstruction_loss, "history", "loss_curve", name="plot_reconstruction_loss"
            ),
        ]
    )
    return Pipeline(
        template,
        namespace=NAMESPACE,
        inputs=SHARED_INPUTS,
        outputs={"model": MODEL_DATASET},
        parameters={"params:training_run", "params:device"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    """data_processing + the pre-training, so ``kedro run --pipeline=autoencoder`` runs alone.

    Kedro drops the repeated data_processing nodes when the registry sums this pipeline with
    ``data_processing`` for the default run.
    """
    return data_processing.create_pipeline() + create_pretraining_pipeline()
