"""Top-k predictions for new images dropped in a folder (paper 001's "new random images").

:class:`ImageFolderDataset` reads the folder (catalog entry ``new_images``) as
``{file name: bytes}``; a missing or empty folder is an empty dict, not an error. The node
:func:`predict_new_images` decodes each file (PNG or JPEG, any size, resized to 32×32),
reports an unreadable file by name and skips it, runs the model once, and returns one bar-chart
figure per image plus a table of the top-k classes and probabilities. Decoding and the table
are :mod:`cifar100_kedro.inference`'s (the predict pipeline's library).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError
from matplotlib.figure import Figure
from PIL import Image, ImageOps

# Decoding, top-k tables and batched prediction are the inference library's, shared with the
# predict pipeline; re-exported here, where the reporting pipeline's callers found them.
from cifar100_kedro.inference import (  # noqa: F401
    ACCEPTED_FORMATS,
    IMAGE_SUFFIXES,
    TOP_K_COLUMNS,
    decode_files,
    decode_image,
    top_k_table,
)
from cifar100_kedro.pipelines.reporting.metrics import label_mode_of, model_name_of
from cifar100_kedro.pipelines.reporting.plots import pretty

logger = logging.getLogger(__name__)


class ImageFolderDataset(AbstractDataset[None, dict[str, bytes]]):
    """A folder of images loaded as ``{file name: raw bytes}``, sorted by name (read-only).

    Only ``.png``, ``.jpg`` and ``.jpeg`` files (any case) are read; hidden files are ignored,
    other files are logged and skipped. A missing folder loads as ``{}`` (logged), so a run
    without new images carries on. Decoding happens in the node, which reports bad files.

    Example catalog entry::

        new_images:
          type: cifar100_kedro.pipelines.reporting.new_images.ImageFolderDataset
          path: data/01_raw/new_images
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict[str, bytes]:
        if not self._path.is_dir():
            logger.info("New-images folder %s does not exist: no new images to predict", self._path)
            return {}
        files: dict[str, bytes] = {}
        for entry in sorted(self._path.iterdir()):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            if entry.suffix.lower() not in IMAGE_SUFFIXES:
                logger.warning("Skipping %s: not a PNG or JPEG file (by its extension)", entry)
                continue
            try:
                files[entry.name] = entry.read_bytes()
            except OSError as exc:
                logger.warning("Skipping unreadable new image %s: %s", entry, exc)
        return files

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: ImageFolderDataset is read-only")

    def _exists(self) -> bool:
        # A missing folder is a valid (empty) input, not a missing dataset.
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


def decode_new_images(
    files: dict[str, bytes], size: int = 32, crop_to_square: bool = True, who: str = ""
) -> tuple[list[str], np.ndarray]:
    """Decode every file; an unreadable one is logged by name and skipped.

    Returns the names that decoded and an ``N×size×size×3`` uint8 array (N may be 0).
    """
    batch = decode_files(files, size, crop_to_square)
    prefix = f"{who}: " if who else ""
    for name, reason in batch.skipped:
        logger.warning("%sskipping new image %r: %s", prefix, name, reason)
    return batch.names, batch.images


def top_k_figure(
    original: bytes | None,
    model_input: np.ndarray,
    rows: pd.DataFrame,
    image_name: str,
    model_name: str,
) -> Figure:
    """One image: the file as given, the 32×32 input the model saw, and a bar chart of its top-k."""
    fig = Figure(figsize=(12, 3.8), dpi=100, layout="constrained")
    ax_orig, ax_input, ax_bars = fig.subplots(1, 3, width_ratios=[1, 1, 2.2])
    shown = model_input
    if original is not None:
        try:
            with Image.open(io.BytesIO(original)) as image:
                image = ImageOps.exif_transpose(image).convert("RGB")
                image.thumbnail((256, 256))
                shown = np.asarray(image)
        except (OSError, ValueError):  # already decoded once; keep the model input
            shown = model_input
    ax_orig.imshow(shown)
    ax_orig.set_title("image as given", fontsize=10)
    ax_input.imshow(model_input, interpolation="nearest")
    ax_input.set_title(f"model input ({model_input.shape[0]}×{model_input.shape[1]})", fontsize=10)
    for ax in (ax_orig, ax_input):
        ax.set_xticks([])
        ax.set_yticks([])
    probs = 100 * rows["probability"].to_numpy(float)
    y = np.arange(len(rows))
    bars = ax_bars.barh(y, probs, color=["#4c72b0"] + ["#8da0cb"] * (len(rows) - 1))
    ax_bars.set_yticks(y, labels=[pretty(c) for c in rows["class"]], fontsize=11)
    ax_bars.invert_yaxis()
    ax_bars.set_xlim(0, 100)
    ax_bars.set_xlabel("predicted probability (%)", fontsize=10)
    ax_bars.bar_label(bars, labels=[f"{p:.1f}%" for p in probs], padding=3, fontsize=10)
    ax_bars.grid(axis="x", alpha=0.3)
    ax_bars.set_title(f"top-{len(rows)} predictions", fontsize=11)
    fig.suptitle(f"{model_name}: {image_name}", fontsize=12)
    return fig


def predict_new_images(
    model: Any,
    new_images: dict[str, bytes],
    label_names: dict[str, Any],
    training_summary: dict[str, Any],
    reporting: dict[str, Any],
) -> tuple[dict[str, Figure], pd.DataFrame]:
    """Top-k classes with probabilities for each new image: figures ``{<file>.png: Figure}``
    and a table. No images (missing/empty folder) → ``({}, empty table)`` and a log line."""
    name = model_name_of(training_summary)
    mode = label_mode_of(training_summary)
    settings = reporting.get("new_images", {})
    size = int(settings.get("image_size", 32))
    k = int(settings.get("top_k", reporting.get("top_k", 5)))
    crop = bool(settings.get("crop_to_square", True))
    names, images = decode_new_images(new_images or {}, size, crop, who=name)
    if not names:
        logger.info(
            "%s: no readable new images (folder missing or empty; catalog entry 'new_images'): "
            "skipping top-%d predictions",
            name,
            k,
        )
        return {}, pd.DataFrame(columns=TOP_K_COLUMNS)
    logger.info("%s: predicting top-%d classes for %d new image(s)", name, k, len(names))
    # A handful of images: call the model directly (model.predict would trace a new
    # tf.function per model for a tiny batch, which TensorFlow warns about).
    probabilities = np.concatenate(
        [np.asarray(model(images[i : i + 64], training=False)) for i in range(0, len(images), 64)]
    )
    class_names = list(label_names[mode])
    table = top_k_table(probabilities, names, class_names, k)
    figures = {
        f"{image_name}.png": top_k_figure(
            new_images.get(image_name),
            images[i],
            table[table["image"] == image_name],
            image_name,
            name,
        )
        for i, image_name in enumerate(names)
    }
    return figures, table
