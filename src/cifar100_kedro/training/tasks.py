"""What a training task adds to the shared engine: its data, loss, metrics and history.

``classification``: images → class probabilities, labels ``fine`` or ``coarse``, accuracy
and top-5. ``reconstruction``: images → the same images on the [0, 1] scale (paper 003's
autoencoder; the model adds its own sparsity and L2 penalties), reconstruction MSE.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cifar100_kedro.training.inputs import (
    dataset_augmenter,
    make_dataset,
    make_reconstruction_dataset,
)
from cifar100_kedro.training.recipe import Recipe, RecipeError
from cifar100_kedro.training.resume import epoch_dataset


@dataclass(frozen=True)
class TaskData:
    """The inputs of one training run.

    ``train_for(iterations)`` gives the training batches of the epoch a model's optimiser is at
    (its step counter ``iterations``): each epoch's order and augmentation draws are a pure
    function of ``(seed, epoch)``, so a resumed run sees what an uninterrupted one would.
    ``seed_generators``: random states outside the model that the resume state must keep
    (augmentation placed in the tf.data map).
    """

    train_for: Callable[[Any], tf.data.Dataset]
    validation: tf.data.Dataset
    num_classes: int
    train_images: int
    validation_images: int
    steps_per_epoch: int
    input_shape: tuple[int, ...]
    input_dtype: str
    seed_generators: tuple = ()


@dataclass(frozen=True)
class Task:
    """A task's fixed parts: the Keras log keys its history records."""

    name: str
    history_metrics: tuple[str, ...]


CLASSIFICATION = Task("classification", ("loss", "accuracy", "val_loss", "val_accuracy"))
RECONSTRUCTION = Task(
    "reconstruction", ("loss", "reconstruction_mse", "val_loss", "val_reconstruction_mse")
)
TASKS = {task.name: task for task in (CLASSIFICATION, RECONSTRUCTION)}


def prepare_data(
    recipe: Recipe,
    train: Mapping[str, np.ndarray],
    validation: Mapping[str, np.ndarray],
    seed: int,
    autotune: bool = False,
) -> TaskData:
    """The input pipelines of ``recipe``'s task (checks the batch against the data).

    ``autotune``: tf.data's autotuner on them (``device.data_autotune``).
    """
    settings, where = recipe.train, f"{recipe.namespace}.train"
    images = train["images"]
    if settings.batch_size > len(images):
        raise RecipeError(
            f"parameter '{where}.batch_size'={settings.batch_size} is larger than the "
            f"{len(images)} training images"
        )
    steps = math.ceil(len(images) / settings.batch_size)
    # uint8 images as always; float arrays (cached features) keep a float32 model input.
    dtype = "float32" if np.issubdtype(images.dtype, np.floating) else "uint8"
    shape = tuple(images.shape[1:])
    if recipe.task == "reconstruction":
        return TaskData(
            partial(
                epoch_dataset, images, np.zeros(len(images), np.int32), settings.batch_size,
                seed=seed, reconstruct=True, autotune=autotune,
            ),
            make_reconstruction_dataset(
                validation["images"], settings.batch_size, autotune=autotune
            ),
            0, len(images), len(validation["images"]), steps, shape, dtype,
        )  # fmt: skip
    y_train, y_val = train[settings.label_mode], validation[settings.label_mode]
    num_classes = int(settings.num_classes or max(y_train.max(), y_val.max()) + 1)
    augment = None
    if settings.augmentation_placement == "dataset":
        augment = dataset_augmenter(settings.augmentation, seed, where)
    generators = tuple(augment.seed_generators) if augment is not None else ()
    common = {"num_classes": num_classes, "one_hot": settings.one_hot, "autotune": autotune}
    return TaskData(
        partial(
            epoch_dataset, images, y_train, settings.batch_size, seed=seed, augment=augment,
            augment_seed_generators=generators, **common,
        ),
        make_dataset(validation["images"], y_val, settings.batch_size, **common),
        num_classes, len(y_train), len(y_val), steps, shape, dtype, generators,
    )  # fmt: skip


def loss_and_metrics(recipe: Recipe, num_classes: int) -> tuple[keras.losses.Loss, list]:
    """The compiled loss and metrics of ``recipe``'s task."""
    if recipe.task == "reconstruction":
        return keras.losses.MeanSquaredError(), [
            keras.metrics.MeanSquaredError(name="reconstruction_mse")
        ]
    k = min(5, num_classes)
    if recipe.train.one_hot:
        return keras.losses.CategoricalCrossentropy(label_smoothing=recipe.train.label_smoothing), [
            "accuracy", keras.metrics.TopKCategoricalAccuracy(k=k, name="top5_accuracy"),
        ]  # fmt: skip
    return keras.losses.SparseCategoricalCrossentropy(), [
        "accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=k, name="top5_accuracy"),
    ]  # fmt: skip
