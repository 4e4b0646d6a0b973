"""Training the transfer models outside the training pipeline (cross-validation folds).

The training pipeline hands ``chakraborti_t_arch1/2`` the catalog's ``autoencoder_model``.
Pipelines that call the engine themselves with ``fit_model``'s signature (the
cross-validation pipeline's fold trainers) use :func:`fit_transfer_model`, which loads the
saved autoencoder named by the recipe's ``train.pretrained_model_path``.

The autoencoder is pre-trained once, before the folds, as the paper pre-trained it once on
ImageNet; pre-trained on the training split (the default), it has seen the held-out folds'
images without labels. For fully separate data, point ``autoencoder.pretraining_images`` at
an external folder or ``.npz`` (e.g. downsampled ImageNet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.recipe import RecipeError

PRETRAINED_PATH_KEY = "pretrained_model_path"


def load_pretrained(train_params: dict[str, Any], where: str) -> keras.Model:
    """The saved model at ``train_params.pretrained_model_path`` (uncompiled)."""
    path = train_params.get(PRETRAINED_PATH_KEY)
    if not path:
        raise RecipeError(f"parameter '{where}.{PRETRAINED_PATH_KEY}' is missing: the saved autoencoder to start from")
    path = Path(path)
    if not path.is_file():
        raise RecipeError(
            f"parameter '{where}.{PRETRAINED_PATH_KEY}': {path} does not exist; pre-train it first "
            "with `kedro run --pipeline=autoencoder`"
        )
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as exc:
        raise RecipeError(f"parameter '{where}.{PRETRAINED_PATH_KEY}': {path} is not a loadable Keras model ({exc})") from None


def fit_transfer_model(
    train: dict[str, np.ndarray],
    validation: dict[str, np.ndarray],
    normalization_stats: dict[str, Any] | None,
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    *,
    architecture: str,
    work_dir: str | Path,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """``fit_model`` seeded with the saved autoencoder of ``train_params.pretrained_model_path``."""
    pretrained = load_pretrained(train_params, f"{architecture}.train")
    return fit_model(
        train, validation, normalization_stats, model_params, train_params,
        architecture=architecture, work_dir=work_dir, pretrained=pretrained,
    )  # fmt: skip
