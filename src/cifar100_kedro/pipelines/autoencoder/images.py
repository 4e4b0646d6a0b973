"""Unlabelled pre-training images: the training split by default, or the user's own.

``autoencoder.pretraining_images`` (parameters):

- nothing set (default): the images of ``train_split``, labels ignored;
- ``folder: PATH``: every image file under PATH (recursive, sorted), decoded with Pillow,
  converted to RGB and resized to 32×32 (box filter when shrinking, as the "downsampled
  ImageNet 32×32" of Chrabaszcz et al. 2017; bicubic when enlarging; the aspect ratio is not
  kept). A file Pillow cannot read is named in a warning and skipped;
- ``npz: PATH`` (or a list of paths): uint8 arrays from ``.npz`` files, read with
  ``allow_pickle=False``; array ``npz_key`` (default ``images``, else ``data``, else the only
  array), shaped N×H×W×3 (resized to 32×32 when H×W differs) or N×3072 (rows in CIFAR's
  channel-major layout, which the downsampled-ImageNet ``.npz`` batches share);
- ``max_images``: a seeded random subset of at most this many images (``seed``).

A missing path or a source with no usable image raises ``ValueError`` naming the parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

WHERE = "autoencoder.pretraining_images"
OPTION_KEYS = ("folder", "npz", "npz_key", "max_images", "seed")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
SIDE = 32
_ROW_PIXELS = SIDE * SIDE * 3


def _to_side(image: Image.Image, side: int = SIDE) -> np.ndarray:
    """An RGB uint8 side×side array from a Pillow image of any mode and size."""
    image = image.convert("RGB")
    if image.size != (side, side):
        shrinking = image.size[0] >= side and image.size[1] >= side
        image = image.resize(
            (side, side), Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
        )
    return np.asarray(image, dtype=np.uint8)


def image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted by path for a stable order."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def read_image_folder(
    folder: str | Path, limit: int | None = None, seed: int = 42
) -> tuple[np.ndarray, int]:
    """Decode the image files under ``folder``; return (uint8 N×32×32×3, files skipped).

    ``limit`` picks a seeded random subset of the files before decoding.
    """
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"parameter '{WHERE}.folder': {path} is not an existing folder")
    files = image_files(path)
    if not files:
        raise ValueError(
            f"parameter '{WHERE}.folder': no image files ({', '.join(IMAGE_SUFFIXES)}) under {path}"
        )
    if limit is not None and limit < len(files):
        keep = np.sort(np.random.default_rng(seed).choice(len(files), size=limit, replace=False))
        files = [files[i] for i in keep]
    images = np.empty((len(files), SIDE, SIDE, 3), dtype=np.uint8)
    count = skipped = 0
    for file in files:
        try:
            with Image.open(file) as image:
                images[count] = _to_side(image)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            logger.warning("%s: unreadable image skipped (%s)", file, exc)
            skipped += 1
            continue
        count += 1
    if count == 0:
        raise ValueError(
            f"parameter '{WHERE}.folder': none of the {len(files)} image files under {path} "
            "could be read"
        )
    return images[:count], skipped


def _npz_array(path: Path, key: str | None) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if key is None:
                key = "images" if "images" in names else "data" if "data" in names else None
                if key is None and len(names) == 1:
                    key = names[0]
                if key is None:
                    raise ValueError(
                        f"parameter '{WHERE}.npz_key': {path} has no 'images' or 'data' array and "
                        f"several others ({names}); name the one to use"
                    )
            if key not in names:
                raise ValueError(
                    f"parameter '{WHERE}.npz_key': {path} has no array {key!r} (arrays: {names})"
                )
            return npz[key]
    except (OSError, EOFError) as exc:
        raise ValueError(
            f"parameter '{WHERE}.npz': {path} is not a readable .npz file ({exc})"
        ) from None
    except ValueError as exc:
        if str(exc).startswith("parameter"):
            raise
        raise ValueError(
            f"parameter '{WHERE}.npz': {path} is not a readable .npz of arrays ({exc})"
        ) from None


def images_from_array(array: np.ndarray, source: str) -> np.ndarray:
    """uint8 N×32×32×3 from N×H×W×3 (resized when needed) or N×3072 channel-major rows."""
    if array.dtype != np.uint8:
        raise ValueError(
            f"parameter '{WHERE}.npz': {source} holds {array.dtype} values; "
            "uint8 pixels (0-255) are needed"
        )
    if array.ndim == 2 and array.shape[1] == _ROW_PIXELS:
        return np.ascontiguousarray(array.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1))
    if array.ndim == 4 and array.shape[-1] == 3:
        if array.shape[1:3] == (SIDE, SIDE):
            return array
        return (
            np.stack([_to_side(Image.fromarray(image)) for image in array])
            if len(array)
            else array[:, :SIDE, :SIDE]
        )
    raise ValueError(
        f"parameter '{WHERE}.npz': {source} has shape {array.shape}; expected N×H×W×3 or "
        f"N×{_ROW_PIXELS} (channel-major rows)"
    )


def read_npz_images(paths: str | Sequence[str], key: str | None = None) -> np.ndarray:
    """uint8 N×32×32×3 from one or more ``.npz`` files (concatenated in the given order)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ValueError(f"parameter '{WHERE}.npz': an empty list")
    arrays = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise ValueError(f"parameter '{WHERE}.npz': {path} is not an existing file")
        arrays.append(images_from_array(_npz_array(path, key), str(path)))
    images = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    if len(images) == 0:
        raise ValueError(f"parameter '{WHERE}.npz': {', '.join(map(str, paths))} hold no images")
    return images


def check_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """The ``pretraining_images`` options, checked; raises naming the first bad key."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ValueError(
            f"parameter '{WHERE}': unknown keys {unknown}; known: {', '.join(OPTION_KEYS)}"
        )
    if options.get("folder") and options.get("npz"):
        raise ValueError(f"parameter '{WHERE}': set 'folder' or 'npz', not both")
    limit = options.get("max_images")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(
            f"parameter '{WHERE}.max_images' must be null or a positive integer, got {limit!r}"
        )
    seed = options.get("seed", 42)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"parameter '{WHERE}.seed' must be a non-negative integer, got {seed!r}")
    return options


def describe_source(options: dict[str, Any] | None) -> str:
    """One line saying where the pre-training images come from."""
    options = dict(options or {})
    if options.get("folder"):
        return f"folder {options['folder']}"
    if options.get("npz"):
        npz = options["npz"]
        return f"npz {', '.join(map(str, npz)) if isinstance(npz, (list, tuple)) else npz}"
    return "train_split (labels ignored)"
