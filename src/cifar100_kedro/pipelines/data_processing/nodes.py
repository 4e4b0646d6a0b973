"""Nodes of the data_processing pipeline: small, pure functions over arrays."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from cifar100_kedro.data.labels import NUM_COARSE_CLASSES, NUM_FINE_CLASSES

# The split and the statistics live in the library (fish_subset and the cross-validation
# folds use them too); this pipeline's nodes are the same functions.
from cifar100_kedro.data.splits import split_train_validation  # noqa: F401
from cifar100_kedro.data.statistics import compute_normalization_stats  # noqa: F401

logger = logging.getLogger(__name__)

_PIXELS = 32 * 32 * 3


def _key(payload: dict, name: str) -> Any:
    # The official pickles have bytes keys; accept str keys from friendlier sources too.
    return payload[name.encode()] if name.encode() in payload else payload[name]


def _check_split(payload: dict, split: str, source: str) -> None:
    where = f"{source}:{split}"
    for name in ("data", "fine_labels", "coarse_labels"):
        if name.encode() not in payload and name not in payload:
            raise ValueError(f"{where}: missing key '{name}'")
    data = _key(payload, "data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        found = getattr(data, "dtype", type(data).__name__)
        raise ValueError(f"{where}: 'data' must be a uint8 numpy array, found {found}")
    if data.ndim != 2 or data.shape[1] != _PIXELS or data.shape[0] == 0:
        raise ValueError(f"{where}: 'data' must have shape (N, {_PIXELS}), found {data.shape}")
    count = data.shape[0]
    for name, classes in (("fine_labels", NUM_FINE_CLASSES), ("coarse_labels", NUM_COARSE_CLASSES)):
        labels = np.asarray(_key(payload, name))
        if labels.shape != (count,):
            raise ValueError(f"{where}: '{name}' has {labels.size} entries for {count} images")
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"{where}: '{name}' must lie in [0, {classes - 1}], "
                f"found [{labels.min()}, {labels.max()}]"
            )


def validate_archive(archive: dict[str, Any]) -> dict[str, Any]:
    """Check shapes, dtypes, label ranges and label names; return the archive unchanged."""
    source = archive.get("path", "archive")
    meta = archive["meta"]
    for name, classes in (
        ("fine_label_names", NUM_FINE_CLASSES),
        ("coarse_label_names", NUM_COARSE_CLASSES),
    ):
        if name.encode() not in meta and name not in meta:
            raise ValueError(f"{source}:meta: missing '{name}'")
        names = _key(meta, name)
        if len(names) != classes:
            raise ValueError(f"{source}:meta: '{name}' has {len(names)} names, expected {classes}")
    for split in ("train", "test"):
        _check_split(archive[split], split, source)
    return archive


def _decode(names: list) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _to_images(data: np.ndarray) -> np.ndarray:
    # Rows are channel-major (1024 R, 1024 G, 1024 B): N×3×32×32, then channels last.
    # A view, not a copy: the split's indexing makes the contiguous arrays anyway.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def extract_arrays(
    archive: dict[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list]]:
    """Split the validated archive into train and test arrays (uint8 N×32×32×3) and label names.

    Also derives the fine→coarse mapping from the training labels, and checks it is a
    function (each class in exactly one superclass).
    """
    source = archive.get("path", "archive")
    arrays = {}
    for split in ("train", "test"):
        payload = archive[split]
        arrays[split] = {
            "images": _to_images(_key(payload, "data")),
            "fine": np.asarray(_key(payload, "fine_labels"), dtype=np.int64),
            "coarse": np.asarray(_key(payload, "coarse_labels"), dtype=np.int64),
        }
    fine, coarse = arrays["train"]["fine"], arrays["train"]["coarse"]
    fine_to_coarse = np.full(NUM_FINE_CLASSES, -1, dtype=np.int64)
    fine_to_coarse[fine] = coarse
    pairs = np.unique(np.stack([fine, coarse]), axis=1)
    if pairs.shape[1] != np.unique(fine).size:
        raise ValueError(f"{source}:train: some fine label appears under two coarse labels")
    label_names = {
        "fine": _decode(_key(archive["meta"], "fine_label_names")),
        "coarse": _decode(_key(archive["meta"], "coarse_label_names")),
        "fine_to_coarse": fine_to_coarse.tolist(),
    }
    return arrays["train"], arrays["test"], label_names
