"""Reading users' images: PNG/JPEG bytes, folders, ``.npz`` arrays and CIFAR-format archives.

Every reader ends in the models' input: uint8 ``N×size×size×3`` RGB arrays. A file that cannot
be decoded is a *named skip* (its name and the reason), never a crash; a source that cannot be
read at all (missing path, a folder without images, a malformed ``.npz`` or archive) raises
:class:`InferenceError` naming the path and what is wrong.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ACCEPTED_FORMATS = ("PNG", "JPEG")
SOURCE_KINDS = ("folder", "npz", "cifar_archive")
CIFAR_SPLITS = ("test", "train")


class InferenceError(ValueError):
    """A model or an input that cannot be used for prediction; the message says which and why."""


def decode_image(data: bytes, size: int = 32, crop_to_square: bool = True) -> np.ndarray:
    """Decode PNG/JPEG bytes to a uint8 ``size×size×3`` RGB array.

    EXIF rotation is applied, transparency is composited on white, and with
    ``crop_to_square`` the central square is taken before resizing (no distortion).
    Raises ``ValueError`` for anything that is not a decodable PNG or JPEG.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise ValueError(f"format {image.format} is not PNG or JPEG")
            image.load()
            return fit_image(image, size, crop_to_square)
    except UnidentifiedImageError as exc:
        raise ValueError("not a readable PNG or JPEG image (unrecognised image data)") from exc
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable PNG or JPEG image ({exc})") from exc


def fit_image(image: Image.Image, size: int = 32, crop_to_square: bool = True) -> np.ndarray:
    """A PIL image as the models' input: upright, RGB on white, centre-cropped, resized."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("RGB")
    if image.size == (size, size):
        return np.asarray(image, dtype=np.uint8).copy()
    resample = Image.Resampling.LANCZOS
    if crop_to_square:
        image = ImageOps.fit(image, (size, size), method=resample)
    else:
        image = image.resize((size, size), resample=resample)
    return np.asarray(image, dtype=np.uint8).copy()


def resize_array(images: np.ndarray, size: int = 32, crop_to_square: bool = True) -> np.ndarray:
    """uint8 ``N×H×W×3`` arrays of any size as ``N×size×size×3`` (no copy when already so)."""
    if images.shape[1:3] == (size, size):
        return images
    return np.stack([fit_image(Image.fromarray(i), size, crop_to_square) for i in images])


@dataclass
class Batch:
    """One batch of decoded images: ``names[i]`` is ``images[i]``; ``skipped``: (name, reason)."""

    names: list[str]
    images: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)
    labels: np.ndarray | None = None  # true fine labels, where the source has them


def decode_files(
    files: Mapping[str, bytes], size: int = 32, crop_to_square: bool = True
) -> Batch:
    """Decode every file (sorted by name); an undecodable one is skipped with its reason."""
    names: list[str] = []
    arrays: list[np.ndarray] = []
    skipped: list[tuple[str, str]] = []
    for name in sorted(files):
        try:
            arrays.append(decode_image(files[name], size, crop_to_square))
            names.append(name)
        except ValueError as exc:
            skipped.append((name, str(exc)))
    images = np.stack(arrays) if arrays else np.zeros((0, size, size, 3), dtype=np.uint8)
    return Batch(names, images, skipped)


class ImageSource:
    """Images to predict, read lazily in batches (:meth:`batches`). ``len()``: items to read
    (files, including the ones that will turn out unreadable, or array rows)."""

    kind = ""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __len__(self) -> int:
        raise NotImplementedError

    def batches(
        self, batch_size: int, size: int = 32, crop_to_square: bool = True
    ) -> Iterator[Batch]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {len(self)} items)"


class FolderSource(ImageSource):
    """PNG/JPEG files of a folder (not recursive; hidden files ignored), sorted by name.

    Files with another extension are named skips; so is a file that does not decode.
    """

    kind = "folder"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        entries = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        self.files = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
        self.ignored = [
            (p.name, "not a PNG or JPEG file (by its extension)")
            for p in entries
            if p.suffix.lower() not in IMAGE_SUFFIXES
        ]
        if not self.files:
            raise InferenceError(
                f"{path}: no PNG or JPEG images in this folder"
                + (f" ({len(self.ignored)} other file(s) ignored)" if self.ignored else "")
            )

    def __len__(self) -> int:
        return len(self.files) + len(self.ignored)

    def batches(self, batch_size, size=32, crop_to_square=True):
        pending = list(self.ignored)
        for start in range(0, len(self.files), batch_size):
            files: dict[str, bytes] = {}
            unreadable: list[tuple[str, str]] = []
            for entry in self.files[start : start + batch_size]:
                try:
                    files[entry.name] = entry.read_bytes()
                except OSError as exc:
                    unreadable.append((entry.name, f"cannot be read ({exc.strerror or exc})"))
            batch = decode_files(files, size, crop_to_square)
            batch.skipped = pending + unreadable + batch.skipped
            pending = []
            yield batch


class ArraySource(ImageSource):
    """uint8 images already in memory (an ``.npz`` or a CIFAR archive's split)."""

    def __init__(self, path: Path, images: np.ndarray, names: list[str], labels=None) -> None:
        super().__init__(path)
        self.images, self.names, self.labels = images, names, labels

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batch_size, size=32, crop_to_square=True):
        for start in range(0, len(self.images), batch_size):
            stop = start + batch_size
            labels = None if self.labels is None else self.labels[start:stop]
            images = resize_array(self.images[start:stop], size, crop_to_square)
            yield Batch(self.names[start:stop], images, [], labels)


class NpzSource(ArraySource):
    kind = "npz"


class CifarArchiveSource(ArraySource):
    kind = "cifar_archive"


def _check_images(images: np.ndarray, where: str) -> np.ndarray:
    if images.ndim == 3:  # one H×W×3 image
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise InferenceError(
            f"{where}: images must be N×height×width×3 (RGB, channels last), "
            f"got shape {images.shape}"
        )
    if images.dtype != np.uint8:
        raise InferenceError(
            f"{where}: images must be uint8 (0-255) as the models take, got {images.dtype}"
        )
    if images.shape[0] == 0:
        raise InferenceError(f"{where}: holds no images (shape {images.shape})")
    return images


def read_npz(path: Path, key: str | None = None) -> NpzSource:
    """An ``.npz`` of uint8 images: the array ``key``, else ``images``, else its only array.

    An optional string array ``names`` names the rows (else ``<file>[i]``); pickled objects
    are refused (``allow_pickle=False``).
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise InferenceError(f"{path}: not a readable .npz file ({exc})") from exc
    wanted = key or ("images" if "images" in arrays else None)
    if wanted is None:
        candidates = [name for name in arrays if name not in ("names", "labels")]
        if len(candidates) != 1:
            raise InferenceError(
                f"{path}: say which array holds the images (predict.npz_key); "
                f"it has {sorted(arrays)}"
            )
        wanted = candidates[0]
    if wanted not in arrays:
        raise InferenceError(f"{path}: no array {wanted!r}; it has {sorted(arrays)}")
    images = _check_images(arrays[wanted], f"{path}[{wanted!r}]")
    names = arrays.get("names")
    if names is None or len(names) != len(images):
        names = [f"{path.name}[{i}]" for i in range(len(images))]
    return NpzSource(path, images, [str(n) for n in names])


def read_cifar_archive(path: Path, split: str = "test") -> CifarArchiveSource:
    """One split of a CIFAR-100 python archive (read with the project's restricted unpickler)."""
    from cifar100_kedro.data.cifar_format import CifarFormatError, read_archive

    if split not in CIFAR_SPLITS:
        raise InferenceError(f"predict.split must be one of {CIFAR_SPLITS}, got {split!r}")
    try:
        payload = read_archive(path)[split]
        data = np.asarray(payload[b"data"], dtype=np.uint8)
        labels = np.asarray(payload.get(b"fine_labels", []), dtype=np.int64)
        filenames = payload.get(b"filenames")
    except (CifarFormatError, KeyError, ValueError, TypeError) as exc:
        raise InferenceError(f"{path}: not a CIFAR-100 python archive ({exc})") from exc
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise InferenceError(f"{path}: {split} data has shape {data.shape}, not N×3072")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # rows are channel-major
    if filenames is not None and len(filenames) == len(images):
        names = [n.decode("latin-1") if isinstance(n, bytes) else str(n) for n in filenames]
    else:
        names = [f"{split}[{i}]" for i in range(len(images))]
    labels = labels if labels.shape == (len(images),) else None
    return CifarArchiveSource(path, np.ascontiguousarray(images), names, labels)


def open_image_source(
    path: str | os.PathLike, split: str = "test", npz_key: str | None = None
) -> ImageSource:
    """The images at ``path``: a folder of PNG/JPEG files, an ``.npz`` or a ``.tar.gz``
    CIFAR-format archive (chosen by what the path is)."""
    path = Path(path)
    if not path.exists():
        raise InferenceError(f"{path}: no such file or folder (the images to predict)")
    if path.is_dir():
        return FolderSource(path)
    name = path.name.lower()
    if name.endswith(".npz"):
        return read_npz(path, npz_key)
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return read_cifar_archive(path, split)
    raise InferenceError(
        f"{path}: not a folder, an .npz or a CIFAR-format .tar.gz archive; "
        "predict reads one of those"
    )
