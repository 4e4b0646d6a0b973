"""tf.data input pipelines over uint8 arrays (labels stay integers until the graph)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cifar100_kedro.training.assembly import augmentation_layers


def pipeline_options(autotune: bool = False, deterministic: bool | None = None) -> tf.data.Options:
    """The options of every input pipeline the engine builds (``device.data_autotune``).

    tf.data's autotuner is off by default. Budget runs stalled 30-50 s with the CPU idle at
    the start of a validation pass (gdb: ``IteratorResource::~IteratorResource`` waiting on
    a tf.data thread), 11-21 % of the 5- and 15-minute runs; the autotuner's optimiser
    thread, which sleeps up to a minute between rounds, is the likely one. With it off no
    training epoch has stalled since (the 60-minute runs, the 1-15-minute rerun), and
    ``benchmarks/predict_teardown.py`` saw a 45 s stall after a predict with it on, none
    with it off. Off, ``AUTOTUNE`` still means a map parallelism of the core count and a
    prefetch buffer that grows with demand (the autotuner-free defaults).
    Measured on the 2-core CPU (docs/engine.md): the same epoch time (18.3 vs 18.4 s), and
    with the autotuner on 5 of 19 epoch ends or iterator teardowns took 1 s longer, none
    with it off.
    """
    options = tf.data.Options()
    options.autotune.enabled = autotune
    if deterministic is not None:
        options.deterministic = deterministic
    return options


def predict_arrays(model: Any, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``model.predict(images)`` for a Keras model, over a pipeline with the autotuner off.

    Keras turns a NumPy array into a ``tf.data`` pipeline with TensorFlow's default options,
    the autotuner on. Measured on the 2-core CPU (2026-12-06): after a 97 s ``predict`` of
    6,000 images, one of two calls took 45 s more to return, the machine idle, after its
    last batch; the benchmark's test-set scoring showed idle spells of 25 and 45 s. Anything
    else with a ``predict(x, batch_size, verbose)`` (e.g. a test double) is called as it is.
    """
    if isinstance(model, keras.Model):
        images = (
            tf.data.Dataset.from_tensor_slices(np.asarray(images))
            .batch(int(batch_size))
            .prefetch(tf.data.AUTOTUNE)
            .with_options(pipeline_options(deterministic=True))
        )
        return np.asarray(model.predict(images, verbose=0))
    return np.asarray(model.predict(images, batch_size=int(batch_size), verbose=0))


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
    autotune: bool = False,
) -> tf.data.Dataset:
    """A batched, prefetched tf.data pipeline over uint8 images and integer labels.

    ``augment``: a batch → batch function (:func:`dataset_augmenter`) mapped over the
    batches on the input pipeline's threads, in parallel and overlapped with training.
    ``autotune``: tf.data's autotuner (:func:`pipeline_options`).
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
    return dataset.with_options(pipeline_options(autotune)).prefetch(tf.data.AUTOTUNE)


def make_reconstruction_dataset(
    images: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    autotune: bool = False,
) -> tf.data.Dataset:
    """Batches of ``(uint8 image, float32 image / 255)``: the target is the [0, 1] input."""
    dataset = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(
        lambda x: (x, tf.cast(x, tf.float32) / 255.0), num_parallel_calls=tf.data.AUTOTUNE
    )
    return dataset.with_options(pipeline_options(autotune)).prefetch(tf.data.AUTOTUNE)


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
