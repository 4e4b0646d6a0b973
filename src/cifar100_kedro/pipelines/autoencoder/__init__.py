"""Paper 003's autoencoder pre-training (Section III-C): unlabelled images → trained tower
autoencoder, reconstruction examples and loss curve. Its encoder seeds the transfer models
``chakraborti_t_arch1`` / ``chakraborti_t_arch2`` of the training pipeline."""

from cifar100_kedro.pipelines.autoencoder.pipeline import (
    create_pipeline,
    create_pretraining_pipeline,
)

__all__ = ["create_pipeline", "create_pretraining_pipeline"]
