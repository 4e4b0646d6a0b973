"""Horizontal-flip test-time augmentation (TTA).

Page's "How to Train Your ResNet 8: Bag of tricks" and Jordan's airbench (arXiv 2404.00498)
evaluate every test image twice, as it is and mirrored left-right, and average the two
predictions; a network trained with random horizontal flips sees both views as equally
likely, so the average is a cheaper ensemble. It doubles the evaluation cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cifar100_kedro.training.inputs import predict_arrays


def predict_with_flip_tta(model: Any, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of ``images`` averaged with those of their horizontal mirror.

    Args:
        model: A Keras model (or anything with Keras' ``predict(x, batch_size, verbose)``)
            taking ``N×H×W×C`` images and returning ``N×classes`` probabilities.
        images: ``N×H×W×C`` array (uint8 for this project's models); N ≥ 1.
        batch_size: Images per forward pass, a positive integer.

    Returns:
        float32 ``N×classes``: ``(p(x) + p(flip(x))) / 2`` — still probabilities when the
        model outputs probabilities.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            "predict_with_flip_tta: 'images' must be N×height×width×channels, "
            f"got shape {images.shape}"
        )
    if images.shape[0] == 0:
        raise ValueError("predict_with_flip_tta: 'images' is empty (0 images)")
    if (
        not isinstance(batch_size, (int, np.integer))
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(
            f"predict_with_flip_tta: 'batch_size' must be a positive integer, got {batch_size!r}"
        )
    # Axis 2 is the width in N×H×W×C: a left-right mirror, as RandomFlip("horizontal") makes.
    mirrored = np.ascontiguousarray(images[:, :, ::-1, :])
    plain = predict_arrays(model, images, int(batch_size)).astype(np.float32)
    flipped = predict_arrays(model, mirrored, int(batch_size)).astype(np.float32)
    if plain.shape != flipped.shape or plain.shape[0] != images.shape[0]:
        raise ValueError(
            f"predict_with_flip_tta: the model returned {plain.shape} and {flipped.shape} for "
            f"{images.shape[0]} images"
        )
    return (plain + flipped) / 2.0


def predict_probabilities(
    model: Any, images: np.ndarray, tta: bool = False, batch_size: int = 256
) -> np.ndarray:
    """Class probabilities of ``images``: flip-averaged when ``tta`` (the recipe's ``tta``).

    The one place a test-set score decides between a plain pass and flip TTA, so the reports
    and the benchmarks score a model alike.
    """
    if tta:
        return predict_with_flip_tta(model, images, batch_size=batch_size)
    return predict_arrays(model, images, batch_size)
