"""Nodes of the autoencoder pipeline: pre-training images, training, reports.

The autoencoder trains on eq. (1) of paper 003: the reconstruction MSE (eq. 2, over every
pixel of the [0, 1] image) plus the code's L1 sparsity term, which the model carries itself
(``model.sparsity_l1``), plus the L2 kernel penalties. It trains through the one engine
(``fit_model(..., task="reconstruction")``): same recipe parsing, run folder and resume,
history and summary as every classifier.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cifar100_kedro.pipelines.autoencoder.images import (
    check_options,
    describe_source,
    read_image_folder,
    read_npz_images,
)
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.inputs import predict_arrays

logger = logging.getLogger(__name__)

NAMESPACE = "autoencoder"


# ----------------------------------------------------------------------------- images
def select_pretraining_images(
    train_split: dict[str, np.ndarray], options: dict[str, Any] | None
) -> np.ndarray:
    """The unlabelled pre-training images (uint8 N×32×32×3) that ``options`` name.

    Default: the training split's images (labels ignored; never the test split). Otherwise
    a ``folder`` or ``npz`` source (see :mod:`.images`), optionally capped by ``max_images``.
    """
    options = check_options(options)
    limit, seed = options.get("max_images"), options.get("seed", 42)
    skipped = 0
    if options.get("folder"):
        images, skipped = read_image_folder(options["folder"], limit=limit, seed=seed)
    else:
        images = (
            read_npz_images(options["npz"], options.get("npz_key"))
            if options.get("npz")
            else train_split["images"]
        )
        if limit is not None and limit < len(images):
            keep = np.sort(
                np.random.default_rng(seed).choice(len(images), size=limit, replace=False)
            )
            images = images[keep]
    logger.info(
        "%s: %d pre-training images from %s%s",
        NAMESPACE,
        len(images),
        describe_source(options),
        f" ({skipped} unreadable files skipped)" if skipped else "",
    )
    return images


# ----------------------------------------------------------------------------- training
def train_autoencoder(
    images: np.ndarray,
    validation_split: dict[str, np.ndarray],
    normalization_stats: dict[str, Any] | None,
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    run_settings: dict[str, Any],
    device_settings: dict[str, Any],
    pretraining_options: dict[str, Any] | None = None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Train the autoencoder on ``images`` through the engine's ``reconstruction`` task,
    watching the validation split's reconstructions.

    The saved model takes uint8 images (the recipe's ``normalization`` inside, as every model
    of the project) and returns reconstructions on the [0, 1] scale. Resumable, capped and
    summarised like every other training (``training.engine.fit_model``); the summary adds
    ``pretraining_source`` and ``pretraining_images``.
    """
    model, history, summary = fit_model(
        {"images": images}, validation_split, normalization_stats, model_params, train_params,
        architecture=NAMESPACE, run_settings=run_settings, device_settings=device_settings,
        task="reconstruction",
    )  # fmt: skip
    summary = {
        **summary,
        "pretraining_source": describe_source(pretraining_options),
        "pretraining_images": len(images),
    }
    return model, history, summary


# ----------------------------------------------------------------------------- reports
def plot_reconstructions(
    model: keras.Model, validation_split: dict[str, np.ndarray], options: dict[str, Any] | None
) -> Figure:
    """Input (top row) against reconstruction (bottom row) for ``num_examples`` seeded
    validation images, each titled with its reconstruction MSE."""
    options = dict(options or {})
    count = options.get("num_examples", 10)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(
            f"parameter '{NAMESPACE}.report.num_examples' must be a positive integer, got {count!r}"
        )
    images = validation_split["images"]
    count = min(count, len(images))
    picked = np.sort(
        np.random.default_rng(options.get("seed", 0)).choice(len(images), size=count, replace=False)
    )
    originals = images[picked]
    reconstructions = np.clip(
        predict_arrays(model, originals).astype(np.float32), 0.0, 1.0
    )
    targets = originals.astype(np.float32) / 255.0
    errors = ((reconstructions - targets) ** 2).mean(axis=(1, 2, 3))

    figure = Figure(figsize=(1.3 * count + 1.0, 3.2))
    axes = figure.subplots(2, count, squeeze=False)
    for column in range(count):
        for row, picture in enumerate((targets[column], reconstructions[column])):
            axis = axes[row, column]
            axis.imshow(picture, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        axes[1, column].set_title(f"MSE {errors[column]:.4f}", fontsize=7)
    axes[0, 0].set_ylabel("input", fontsize=9)
    axes[1, 0].set_ylabel("reconstruction", fontsize=9)
    figure.suptitle(
        f"Autoencoder reconstructions of {count} validation images (mean MSE {errors.mean():.4f})",
        fontsize=10,
    )
    return figure


def plot_reconstruction_loss(history: pd.DataFrame) -> Figure:
    """Per-epoch training and validation curves: the total loss (eq. 1 + L2 penalties) and
    the reconstruction MSE (eq. 2)."""
    figure = Figure(figsize=(10, 3.8))
    axes = figure.subplots(1, 2)
    panels = (
        ("loss", "total loss (MSE + sparsity + L2)"),
        ("reconstruction_mse", "reconstruction MSE"),
    )
    for axis, (column, title) in zip(axes, panels, strict=True):
        for prefix, label in (("", "train"), ("val_", "validation")):
            if prefix + column in history and len(history):
                axis.plot(
                    history["epoch"],
                    history[prefix + column],
                    marker="o",
                    markersize=3,
                    label=label,
                )
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    figure.suptitle("Autoencoder pre-training")
    figure.tight_layout()
    return figure
