"""A tiny classifier shaped like the project's models, for the inference/export/predict tests:
uint8 32×32×3 input, normalisation with captured statistics, training-only augmentation
(including the project's own registered layer), a softmax over the label names' classes."""

from __future__ import annotations

import numpy as np


def tiny_classifier(num_classes: int = 6, seed: int = 0):
    import keras

    from cifar100_kedro.training.layers import SymmetricRandomShear

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0, name="to_float")(inputs)
    # Normalization's statistics are captured tensors: what tf2onnx's from_function misses.
    x = keras.layers.Normalization(mean=[120.0, 115.0, 100.0], variance=[4000.0] * 3)(x)
    x = keras.layers.RandomFlip("horizontal", seed=seed)(x)
    x = keras.layers.RandomTranslation(0.1, 0.1, seed=seed)(x)
    x = SymmetricRandomShear(0.2, 0.2, seed=seed)(x)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="tiny")


def random_images(n: int, seed: int = 0, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def tiny_split(n: int, seed: int) -> dict[str, np.ndarray]:
    """A split of ``n`` random 16×16 uint8 images with 4 fine / 2 coarse labels (engine tests)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    return {
        "images": rng.integers(0, 256, (n, 16, 16, 3)).astype(np.uint8),
        "fine": labels,
        "coarse": labels % 2,
    }
