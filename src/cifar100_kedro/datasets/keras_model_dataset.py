"""kedro-datasets' TensorFlowModelDataset, aware of the project's custom Keras objects."""

from __future__ import annotations

from typing import Any

from kedro_datasets.tensorflow import TensorFlowModelDataset


class KerasModelDataset(TensorFlowModelDataset):
    """Saves/loads ``.keras`` models like ``tensorflow.TensorFlowModelDataset``; loading first
    registers the project's serialisable Keras objects (augmentation layers, learning-rate
    schedules), so ``safe_mode`` loading works without ``custom_objects`` in the catalog."""

    def load(self) -> Any:
        import cifar100_kedro.training.layers
        import cifar100_kedro.training.schedules  # noqa: F401

        return super().load()
