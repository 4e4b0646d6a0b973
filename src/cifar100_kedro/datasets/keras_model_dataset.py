"""kedro-datasets' TensorFlowModelDataset, aware of the project's custom Keras objects and
atomic on save."""

from __future__ import annotations

import os
import tempfile
from pathlib import PurePath
from typing import Any

from kedro.io.core import get_filepath_str
from kedro_datasets.tensorflow import TensorFlowModelDataset


class KerasModelDataset(TensorFlowModelDataset):
    """Saves/loads ``.keras`` models like ``tensorflow.TensorFlowModelDataset``, with two
    differences:

    - loading first registers the project's serialisable Keras objects (augmentation layers,
      learning-rate schedules), so ``safe_mode`` loading works without ``custom_objects``;
    - saving copies the file next to its destination under a temporary name and renames it
      into place, so a run killed while a (gigabyte) model is being written leaves the previous
      model readable, never half of the new one.
    """

    def load(self) -> Any:
        import cifar100_kedro.training.layers
        import cifar100_kedro.training.schedules  # noqa: F401

        return super().load()

    def save(self, data: Any) -> None:
        import keras

        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        with tempfile.TemporaryDirectory(prefix=self._tmp_prefix) as tempdir:
            local = str(PurePath(tempdir) / "tmp_tensorflow_model.keras")
            keras.models.save_model(data, local, **self._save_args)
            parent = str(PurePath(save_path).parent)
            if parent:
                self._fs.mkdirs(parent, exist_ok=True)
            partial = f"{save_path}.partial-{os.getpid()}"
            self._fs.put(local, partial)
            self._fs.mv(partial, save_path)  # a rename on local disks: atomic
