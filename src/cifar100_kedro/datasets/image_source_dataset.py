"""Users' images to predict: a folder of PNG/JPEG files, an ``.npz`` or a CIFAR-format archive."""

from __future__ import annotations

from typing import Any

from kedro.io.core import AbstractDataset, DatasetError


class ImageSourceDataset(AbstractDataset[None, Any]):
    """Loads ``path`` as a :class:`cifar100_kedro.inference.ImageSource` (read-only).

    What ``path`` is decides how it is read: a folder (PNG/JPEG files of any size), an
    ``.npz`` (uint8 N×H×W×3 under ``npz_key``, else ``images``, else its only array) or a
    CIFAR-100 python ``.tar.gz`` (its ``split``). Folder files are read batch by batch, as the
    node asks for them. A missing path, a folder without images or a malformed file is a
    ``DatasetError`` naming the path and the problem.

    Example catalog entry::

        predict_images:
          type: cifar100_kedro.datasets.ImageSourceDataset
          path: ${runtime_params:predict_input,data/01_raw/new_images}
    """

    def __init__(
        self,
        path: str,
        split: str = "test",
        npz_key: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = path
        self._split = split
        self._npz_key = npz_key
        self.metadata = metadata

    def load(self) -> Any:
        from cifar100_kedro.inference import InferenceError, open_image_source

        try:
            return open_image_source(self._path, split=self._split, npz_key=self._npz_key)
        except InferenceError as exc:
            raise DatasetError(str(exc)) from None

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: ImageSourceDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "split": self._split, "npz_key": self._npz_key}
