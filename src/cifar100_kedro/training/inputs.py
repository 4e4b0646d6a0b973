"""tf.data input pipelines over uint8 arrays (labels stay integers until the graph)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cifar100_kedro.training.assembly import augmentation_layers


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    num_classes: int,
    one_hot: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    augment: Callable[[tf.Tensor], tf.Tensor] | None = None,
) -> tf.data.Dataset:
    """A batched, prefetched tf.data pipeline over uint8 images and integer labels.

    ``augment``: a batch → batch function (:func:`dataset_augmenter`) mapped over the
    batches on the input pipeline's threads, in parallel and overlapped with training.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment is not None:
        # Per batch, not per image: one call of each layer per batch is what makes it cheap.
        # (With device.deterministic, TensorFlow runs this stateful map sequentially.)
        dataset = dataset.map(lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    if one_hot:
        dataset = dataset.map(
            lambda x, y: (x, tf.one_hot(y, num_classes)), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_reconstruction_dataset(
    images: np.ndarray, batch_size: int, *, shuffle: bool = False, seed: int = 0
) -> tf.data.Dataset:
    """Batches of ``(uint8 image, float32 image / 255)``: the target is the [0, 1] input."""
    dataset = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda x: (x, tf.cast(x, tf.float32) / 255.0), num_parallel_calls=tf.data.AUTOTUNE
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def dataset_augmenter(
    steps: Sequence[dict[str, Any]] | None, seed: int, where: str = "train"
) -> Callable[[tf.Tensor], tf.Tensor] | None:
    """The recipe's augmentation as a uint8 batch → uint8 batch function for ``make_dataset``.

    The layers see raw 0-255 pixels, as the papers' ImageDataGenerator did; the model then
    normalises. With flips, crops and nearest/reflect/wrap fills (every recipe here),
    augmenting before or after the per-channel affine normalisation is the same transform, up
    to rounding the interpolated pixels back to uint8 (< 0.5 grey levels) so the model keeps
    its uint8 input. Constant fills differ (black here, the mean colour in the model).
    """
    layers = augmentation_layers(steps, seed, where)
    if not layers:
        return None
    pipeline = keras.Sequential(layers, name="augmentation")

    def augment(images: tf.Tensor) -> tf.Tensor:
        augmented = pipeline(tf.cast(images, tf.float32), training=True)
        if images.dtype == tf.uint8:
            return tf.cast(tf.clip_by_value(tf.round(augmented), 0.0, 255.0), tf.uint8)
        return tf.cast(augmented, images.dtype)

    # The layers' random states, which the resumable input sets per (seed, epoch, batch).
    augment.seed_generators = [g for layer in layers for g in layer._seed_generators]
    return augment
