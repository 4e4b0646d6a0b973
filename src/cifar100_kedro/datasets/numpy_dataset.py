"""A dict of numpy arrays as one uncompressed ``.npz`` file (kedro-datasets has none)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io.core import AbstractDataset, DatasetError


class NumpyDataset(AbstractDataset[dict[str, np.ndarray], dict[str, np.ndarray]]):
    """Saves and loads ``{name: array}`` as ``.npz``; never unpickles (``allow_pickle=False``).

    Example catalog entry::

        train_split:
          type: cifar100_kedro.datasets.NumpyDataset
          filepath: data/05_model_input/train.npz
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> dict[str, np.ndarray]:
        if not self._filepath.is_file():
            # A `--namespaces`/`--pipelines` run reads what an earlier run wrote: say so.
            raise DatasetError(
                f"{self._filepath}: file not found: an earlier pipeline writes it (the "
                "splits in data/05_model_input/: `kedro run --pipeline=data_processing`; "
                "a whole `kedro run` runs every pipeline in order)"
            )
        try:
            with np.load(self._filepath, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except (ValueError, OSError) as exc:
            raise DatasetError(f"{self._filepath}: not a readable .npz of arrays ({exc})") from exc

    def save(self, data: dict[str, np.ndarray]) -> None:
        if not isinstance(data, dict) or not all(isinstance(v, np.ndarray) for v in data.values()):
            raise DatasetError(f"{self._filepath}: NumpyDataset saves a dict of numpy arrays")
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a crash never leaves half a file.
        fd, tmp_name = tempfile.mkstemp(suffix=".npz", dir=self._filepath.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **data)
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, self._filepath)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
