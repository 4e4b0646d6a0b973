"""Nodes of the autoencoder pipeline: pre-training images, training, reports.

The autoencoder trains on eq. (1) of paper 003: the reconstruction MSE (eq. 2, over every
pixel of the [0, 1] image) plus the code's L1 sparsity term, which the model carries itself
(``model.sparsity_l1``), plus the L2 kernel penalties. The training engine's parts are
reused (preprocessing head, optimiser, schedule, callbacks, device strategy); only the
input (image → same image) and the loss differ from ``fit_model``'s classification.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cifar100_kedro.models.registry import build_model
from cifar100_kedro.pipelines.autoencoder.images import (
    check_options,
    describe_source,
    read_image_folder,
    read_npz_images,
)
from cifar100_kedro.training import device
from cifar100_kedro.training.engine import (
    EpochRecorder,
    assemble_model,
    count_params,
    make_callbacks,
    make_optimizer,
)
from cifar100_kedro.training.recipe import RecipeError, validate_train_params
from cifar100_kedro.training.schedules import make_learning_rate

logger = logging.getLogger(__name__)

NAMESPACE = "autoencoder"
HISTORY_COLUMNS = (
    "epoch", "loss", "reconstruction_mse", "val_loss", "val_reconstruction_mse", "learning_rate", "seconds",
)
# Classification keys that have no meaning for a reconstruction loss.
_CLASSIFICATION_KEYS = ("loss", "label_smoothing", "label_mode", "num_classes")


# ----------------------------------------------------------------------------- images
def select_pretraining_images(train_split: dict[str, np.ndarray], options: dict[str, Any] | None) -> np.ndarray:
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
        images = read_npz_images(options["npz"], options.get("npz_key")) if options.get("npz") else train_split["images"]
        if limit is not None and limit < len(images):
            keep = np.sort(np.random.default_rng(seed).choice(len(images), size=limit, replace=False))
            images = images[keep]
    logger.info(
        "%s: %d pre-training images from %s%s", NAMESPACE, len(images), describe_source(options),
        f" ({skipped} unreadable files skipped)" if skipped else "",
    )
    return images


# ----------------------------------------------------------------------------- training
def reconstruction_dataset(images: np.ndarray, batch_size: int, *, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """Batches of ``(uint8 image, float32 image / 255)``: the target is the [0, 1] input."""
    dataset = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda x: (x, tf.cast(x, tf.float32) / 255.0), num_parallel_calls=tf.data.AUTOTUNE
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _check_recipe(train_params: dict[str, Any], num_images: int, where: str) -> None:
    """The engine's recipe checks, plus what an autoencoder cannot take."""
    validate_train_params(train_params, where)
    given = [key for key in _CLASSIFICATION_KEYS if key in train_params]
    if given:
        raise RecipeError(
            f"parameter '{where}.{given[0]}': the autoencoder has no labels; its loss is fixed by "
            "paper 003's eq. (1) (reconstruction MSE + model.sparsity_l1 × L1 of the code)"
        )
    if train_params.get("augmentation"):
        raise RecipeError(
            f"parameter '{where}.augmentation' must be empty: the autoencoder reconstructs its "
            "input, and in-model augmentation would change the input but not the target"
        )
    if train_params.get("time_budget_minutes"):
        raise RecipeError(f"parameter '{where}.time_budget_minutes' is not supported here; give 'epochs'")
    if train_params["batch_size"] > num_images:
        raise RecipeError(
            f"parameter '{where}.batch_size'={train_params['batch_size']} is larger than the "
            f"{num_images} pre-training images"
        )


def train_autoencoder(
    images: np.ndarray,
    validation_split: dict[str, np.ndarray],
    normalization_stats: dict[str, Any] | None,
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    run_settings: dict[str, Any],
    pretraining_options: dict[str, Any] | None = None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Train the autoencoder on ``images``, watching the validation split's reconstructions.

    The saved model takes uint8 images (the recipe's ``normalization`` inside, as every model
    of the project) and returns reconstructions on the [0, 1] scale. Resumable like
    ``fit_model``: ``backup_and_restore`` and the history CSV live in
    ``run_settings.work_dir/autoencoder``; ``run_settings.max_epochs`` caps the epochs.
    """
    where = f"{NAMESPACE}.train"
    _check_recipe(train_params, len(images), where)
    epochs = int(train_params["epochs"])
    if run_settings.get("max_epochs") and epochs > run_settings["max_epochs"]:
        epochs = int(run_settings["max_epochs"])
    batch_size = int(train_params["batch_size"])
    seed = int(train_params.get("seed", device.current().seed))
    keras.utils.set_random_seed(seed)

    work_dir = Path(run_settings.get("work_dir", "data/06_models/_training_state")) / NAMESPACE
    resuming = (work_dir / "backup").exists() and any((work_dir / "backup").iterdir())
    if not resuming and work_dir.exists():
        shutil.rmtree(work_dir)  # a finished or abandoned earlier run: start clean
    work_dir.mkdir(parents=True, exist_ok=True)
    history_path = work_dir / "history.csv"

    train_ds = reconstruction_dataset(images, batch_size, shuffle=True, seed=seed)
    val_ds = reconstruction_dataset(validation_split["images"], batch_size)
    steps_per_epoch = math.ceil(len(images) / batch_size)
    input_shape = tuple(images.shape[1:])
    hyper = {k: v for k, v in model_params.items() if k != "builder"}
    with device.get_strategy().scope():
        body = build_model(model_params["builder"], num_classes=0, input_shape=input_shape, **hyper)
        model = assemble_model(
            body, train_params.get("normalization", "rescale"), normalization_stats,
            seed=seed, input_shape=input_shape, name=NAMESPACE,
        )  # fmt: skip
        lr = make_learning_rate(train_params["optimizer"], train_params.get("schedule"), steps_per_epoch * epochs, where)
        model.compile(
            optimizer=make_optimizer(train_params["optimizer"], lr, where),
            loss=keras.losses.MeanSquaredError(),
            metrics=[keras.metrics.MeanSquaredError(name="reconstruction_mse")],
            jit_compile=device.current().xla,
        )
    callbacks = make_callbacks(train_params.get("callbacks"), work_dir, where)
    callbacks.append(EpochRecorder(history_path, epochs, NAMESPACE, metrics=HISTORY_COLUMNS[1:5]))
    logger.info(
        "%s: training %s: %d images, batch %d, %d epochs, %s parameters%s",
        NAMESPACE, model_params["builder"], len(images), batch_size, epochs,
        f"{model.count_params():,}", " (resuming)" if resuming else "",
    )
    started = time.perf_counter()
    model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks,
        shuffle=False,  # train_ds already reshuffles every epoch
        verbose=int(train_params.get("verbose", 2)),
    )  # fmt: skip
    seconds = time.perf_counter() - started

    history = pd.read_csv(history_path) if history_path.exists() else pd.DataFrame(columns=HISTORY_COLUMNS)
    history = history.drop_duplicates("epoch", keep="last").reset_index(drop=True)
    last = history.iloc[-1] if len(history) else pd.Series(dtype=float)
    summary = {
        "architecture": NAMESPACE,
        "builder": model_params["builder"],
        "pretraining_source": describe_source(pretraining_options),
        "pretraining_images": len(images),
        "validation_images": len(validation_split["images"]),
        "epochs_requested": epochs,
        "epochs_run": len(history),
        "training_seconds": float(history["seconds"].sum()) if len(history) else seconds,
        "final_loss": float(last.get("loss", math.nan)),
        "final_reconstruction_mse": float(last.get("reconstruction_mse", math.nan)),
        "final_val_reconstruction_mse": float(last.get("val_reconstruction_mse", math.nan)),
        "trainable_params": count_params(model.trainable_weights),
        "total_params": int(model.count_params()),
        "batch_size": batch_size,
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
        raise ValueError(f"parameter '{NAMESPACE}.report.num_examples' must be a positive integer, got {count!r}")
    images = validation_split["images"]
    count = min(count, len(images))
    picked = np.sort(np.random.default_rng(options.get("seed", 0)).choice(len(images), size=count, replace=False))
    originals = images[picked]
    reconstructions = np.clip(np.asarray(model.predict(originals, verbose=0), dtype=np.float32), 0.0, 1.0)
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
    panels = (("loss", "total loss (MSE + sparsity + L2)"), ("reconstruction_mse", "reconstruction MSE"))
    for axis, (column, title) in zip(axes, panels, strict=True):
        for prefix, label in (("", "train"), ("val_", "validation")):
            if prefix + column in history and len(history):
                axis.plot(history["epoch"], history[prefix + column], marker="o", markersize=3, label=label)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    figure.suptitle("Autoencoder pre-training")
    figure.tight_layout()
    return figure
