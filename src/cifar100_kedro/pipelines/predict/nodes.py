"""Predict node: a chosen model (namespace or path, any exported format) over users' images,
batch by batch, into a top-k table and a run summary."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from cifar100_kedro.inference import (
    ImageSource,
    InferenceError,
    class_names_for,
    load_predictor,
    predict_source,
    superclasses_for,
    top_k_table,
)

logger = logging.getLogger(__name__)


def _with_flip_tta(predict):
    """Average each image's probabilities with its left-right mirror's (``training.tta``)."""

    def predict_tta(images: np.ndarray) -> np.ndarray:
        return (predict(images) + predict(np.ascontiguousarray(images[:, :, ::-1]))) / 2.0

    return predict_tta


def predict_images(
    images: ImageSource, label_names: dict[str, Any], predict: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Top-k classes with probabilities (and superclass) for every readable image.

    Args:
        images: the images to predict (catalog ``predict_images``: a folder, ``.npz`` or
            CIFAR-format archive).
        label_names: the dataset's fine and coarse class names and the fine→coarse table.
        predict: the ``predict`` parameters (``model``, ``format``, ``models_folder``,
            ``top_k``, ``batch_size``, ``image_size``, ``crop_to_square``, ``tta``).

    Returns:
        The table (one row per image and rank; ``true_class`` where the source has labels)
        and a summary: model, source, counts, every skipped file with its reason, timing.
        Nothing is returned (so nothing is written) if no image could be read.
    """
    size = int(predict.get("image_size", 32))
    predictor = load_predictor(
        str(predict["model"]), predict.get("models_folder", "data/06_models"),
        predict.get("format", "keras"),
    )  # fmt: skip
    predictor.check_input(size)
    run = _with_flip_tta(predictor.predict) if predict.get("tta") else predictor.predict
    logger.info("predict: %s (%s) on %r", predictor.name, predictor.format, images)
    start = time.perf_counter()
    names, probabilities, skipped, labels = predict_source(
        run, images, int(predict.get("batch_size", 256)), size,
        bool(predict.get("crop_to_square", True)), who=f"predict {predictor.name}",
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if not names:
        raise InferenceError(
            f"{images.path}: none of its {len(images)} image(s) could be read "
            f"({len(skipped)} skipped: {', '.join(n for n, _ in skipped[:5])}"
            f"{', ...' if len(skipped) > 5 else ''}); nothing was written"
        )
    mode, classes = class_names_for(probabilities.shape[1], label_names, predictor.name)
    table = top_k_table(
        probabilities, names, classes, int(predict.get("top_k", 5)),
        superclass_of=superclasses_for(mode, label_names),
    )  # fmt: skip
    summary = _summary(predictor, images, mode, names, skipped, seconds, predict)
    if labels is not None and mode == "fine":
        truth = np.asarray(classes, dtype=object)[labels]
        table["true_class"] = np.repeat(truth, len(table) // len(names))  # k rows per image
        summary["top_1_accuracy"] = float(np.mean(probabilities.argmax(1) == labels))
    return table, summary


def _summary(predictor, images, mode, names, skipped, seconds, predict) -> dict[str, Any]:
    return {
        "model": predictor.name,
        "model_path": str(predictor.path),
        "format": predictor.format,
        "label_mode": mode,
        "source": str(images.path),
        "source_kind": images.kind,
        "images_predicted": len(names),
        "images_skipped": len(skipped),
        "skipped": [{"file": name, "reason": reason} for name, reason in skipped],
        "top_k": int(predict.get("top_k", 5)),
        "tta": bool(predict.get("tta", False)),
        "seconds": round(seconds, 3),
        "images_per_second": round(len(names) / seconds, 1) if seconds > 0 else None,
    }
