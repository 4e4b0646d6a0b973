"""The seeded, stratified train/validation split (library layer: several pipelines use it)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

logger = logging.getLogger(__name__)


def _take(split: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: array[index] for name, array in split.items()}


def split_train_validation(
    train: dict[str, np.ndarray], split: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Stratified (by fine label), seeded train/validation split of the training set."""
    fraction = split.get("validation_fraction", 0.2)
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(
            f"parameter 'split.validation_fraction' must be in (0, 1), got {fraction!r}"
        )
    indices = np.arange(len(train["fine"]))
    try:
        train_idx, val_idx = train_test_split(
            indices,
            test_size=fraction,
            random_state=split.get("seed", 42),
            stratify=train["fine"] if split.get("stratify", True) else None,
        )
    except ValueError as exc:
        raise ValueError(
            f"parameter 'split.validation_fraction'={fraction} cannot split "
            f"{len(indices)} training images by class: {exc}"
        ) from None
    # Sorted indices keep the archive order and make the fancy-index copy cache friendly.
    train_idx.sort()
    val_idx.sort()
    logger.info(
        "Split %d training images into %d train / %d validation",
        len(indices), len(train_idx), len(val_idx),
    )  # fmt: skip
    return _take(train, train_idx), _take(train, val_idx)


def protocol_data(
    train: Mapping[str, np.ndarray],
    validation: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray] | None,
    protocol: str,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(fit on, watch after every epoch)`` for a protocol (``architectures.PROTOCOLS``).

    ``holdout``: the training split, the validation split. ``paper`` (paper 000): the whole
    official training set (training + validation split) and the test set.
    """
    if protocol == "holdout":
        return dict(train), dict(validation)
    if protocol != "paper":
        raise ValueError(f"protocol must be 'holdout' or 'paper', got {protocol!r}")
    if test is None:
        raise ValueError("protocol 'paper' needs the test split (it is the validation data)")
    if set(train) != set(validation):
        raise ValueError(
            f"train and validation splits hold different arrays: {sorted(train)} vs "
            f"{sorted(validation)}"
        )
    whole = {key: np.concatenate([train[key], validation[key]]) for key in train}
    return whole, dict(test)
