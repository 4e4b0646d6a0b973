"""Nodes of the training pipeline (a thin wrapper around the shared engine)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pandas as pd

from cifar100_kedro.data.splits import protocol_data
from cifar100_kedro.training.engine import fit_model


def train_architecture(
    train_split: dict[str, np.ndarray],
    validation_split: dict[str, np.ndarray],
    normalization_stats: dict[str, Any],
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    run_settings: dict[str, Any],
    device_settings: dict[str, Any],
    architecture: str,
    pretrained: keras.Model | None = None,
    test_split: dict[str, np.ndarray] | None = None,
    protocol: str = "holdout",
    seed: int | None = None,
    run_namespace: str | None = None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Train ``architecture`` with its recipe; return model, per-epoch history and summary.

    Args:
        train_split, validation_split: the shared model input (uint8 images, labels).
        normalization_stats: per-channel statistics of the training split.
        model_params, train_params: ``<architecture>.model`` / ``.train`` from conf.
        run_settings: ``training_run`` (epoch cap, folder of the resumable state).
        device_settings: ``device`` (strategy, XLA, precision, seed).
        architecture: the namespace.
        pretrained: a trained model whose same-named layers seed the weights (optional).
        test_split: the test set, for ``protocol="paper"`` only (the paper watched it).
        protocol: ``holdout`` or ``paper`` (``data.splits.protocol_data``).
        seed: the seed from ``training_run.seeds`` (None: the recipe's own).
        run_namespace: the namespace of a further seed (``<architecture>.seed_<s>``).
    """
    fit_on, watched = protocol_data(train_split, validation_split, test_split, protocol)
    return fit_model(
        fit_on, watched, normalization_stats, model_params, train_params,
        architecture=architecture, run_settings=run_settings, device_settings=device_settings,
        pretrained=pretrained, protocol=protocol, seed=seed, run_namespace=run_namespace,
    )  # fmt: skip
