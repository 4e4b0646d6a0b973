"""Top-k tables and batched prediction over an image source, shared by the predict pipeline
and the reporting pipeline's new-images report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cifar100_kedro.inference.images import Batch, ImageSource, InferenceError

logger = logging.getLogger(__name__)

TOP_K_COLUMNS = ["image", "rank", "class", "class_index", "probability"]


def top_k_table(
    probabilities: np.ndarray,
    image_names: Sequence[str],
    class_names: Sequence[str],
    k: int = 5,
    superclass_of: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The ``k`` most probable classes per image, most probable first.

    ``superclass_of[c]``, where given, names class ``c``'s superclass (column ``superclass``).
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[0] != len(image_names):
        raise ValueError(
            f"predictions for new images have shape {probabilities.shape} but there are "
            f"{len(image_names)} images"
        )
    if probabilities.shape[1] != len(class_names):
        raise ValueError(
            f"predictions for new images have shape {probabilities.shape} but there are "
            f"{len(class_names)} class names"
        )
    k = min(k, probabilities.shape[1])
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    index = order.reshape(-1)
    table = pd.DataFrame(
        {
            "image": np.repeat(np.asarray(image_names, dtype=object), k),
            "rank": np.tile(np.arange(1, k + 1), len(image_names)),
            "class": np.asarray(class_names, dtype=object)[index] if index.size else [],
            "class_index": index.astype(int),
            "probability": np.take_along_axis(probabilities, order, axis=1)
            .reshape(-1)
            .astype(float),
        },
        columns=TOP_K_COLUMNS,
    )
    if superclass_of is not None:
        table["superclass"] = np.asarray(superclass_of, dtype=object)[index] if index.size else []
    return table


def class_names_for(num_outputs: int, label_names: dict[str, Any], who: str) -> tuple[str, list]:
    """``(label_mode, names)`` for a model with ``num_outputs`` classes: the fine or the coarse
    label names, whichever has that many (a clear error if neither)."""
    for mode in ("fine", "coarse"):
        names = list(label_names.get(mode) or [])
        if len(names) == num_outputs:
            return mode, names
    sizes = {mode: len(label_names.get(mode) or []) for mode in ("fine", "coarse")}
    raise InferenceError(
        f"model {who!r} predicts {num_outputs} classes, but the label names have {sizes}: "
        "it is not a model of this dataset"
    )


def superclasses_for(label_mode: str, label_names: dict[str, Any]) -> list[str] | None:
    """Each class's superclass name (fine labels with a fine→coarse table), else ``None``."""
    if label_mode != "fine" or "fine_to_coarse" not in label_names or "coarse" not in label_names:
        return None
    coarse = list(label_names["coarse"])
    return [coarse[c] for c in label_names["fine_to_coarse"]]


def predict_source(
    predict: Callable[[np.ndarray], np.ndarray],
    source: ImageSource,
    batch_size: int,
    size: int = 32,
    crop_to_square: bool = True,
    who: str = "predict",
) -> tuple[list[str], np.ndarray, list[tuple[str, str]], np.ndarray | None]:
    """Run ``predict`` over ``source`` batch by batch, logging progress and each skipped file.

    Returns the names predicted, their probabilities (N×C), the skipped ``(name, reason)``
    pairs and the true labels where the source has them.
    """
    names: list[str] = []
    chunks: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    skipped: list[tuple[str, str]] = []
    total, done, start = len(source), 0, time.perf_counter()
    for batch in source.batches(batch_size, size, crop_to_square):
        _log_skips(batch, who)
        skipped += batch.skipped
        if batch.names:
            chunks.append(np.asarray(predict(batch.images), dtype=np.float32))
            names += batch.names
            if batch.labels is not None:
                labels.append(batch.labels)
        done += len(batch.names) + sum(1 for _ in batch.skipped)
        elapsed = time.perf_counter() - start
        rate = len(names) / elapsed if elapsed > 0 else 0.0
        eta = (total - min(done, total)) / rate if rate > 0 else float("nan")
        logger.info(
            "%s: %d/%d images predicted (%d skipped), %.0f images/s, ETA %.0f s",
            who, len(names), total, len(skipped), rate, eta,
        )  # fmt: skip
    probabilities = np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
    true = np.concatenate(labels) if labels and len(labels) == len(chunks) else None
    return names, probabilities, skipped, true


def _log_skips(batch: Batch, who: str) -> None:
    for name, reason in batch.skipped:
        logger.warning("%s: skipping %r: %s", who, name, reason)
