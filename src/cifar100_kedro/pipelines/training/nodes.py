"""Nodes of the training pipeline (thin wrappers around the shared engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from cifar100_kedro.training.engine import fit_model


def train_architecture(
    train_split: dict[str, np.ndarray],
    validation_split: dict[str, np.ndarray],
    normalization_stats: dict[str, Any],
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    run_settings: dict[str, Any],
    architecture: str,
    pretrained: keras.Model | None = None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Train ``architecture`` with its recipe; return model, per-epoch history and summary.

    Checkpoints and the resumable state live in ``run_settings.work_dir/<architecture>``.
    ``pretrained`` (optional): a trained model whose same-named layers seed the weights.
    """
    max_epochs = run_settings.get("max_epochs")
    if max_epochs and train_params.get("epochs", 0) > max_epochs:
        train_params = {**train_params, "epochs": int(max_epochs)}
    work_dir = Path(run_settings.get("work_dir", "data/06_models/_training_state")) / architecture
    return fit_model(
        train_split,
        validation_split,
        normalization_stats,
        model_params,
        train_params,
        architecture=architecture,
        work_dir=work_dir,
        pretrained=pretrained,
    )
