"""A read-only wrapper that loads another pipeline's results if they exist, ``None`` if not.

Kedro has no optional node inputs: a missing file fails the run. The comparison wants the
results of architectures another pipeline produces (paper 002's M7 from
``hyperparameter_search``) when that pipeline has run, so the catalog factory
``{namespace}.metrics_if_present`` wraps the same file as ``{namespace}.metrics`` in
:class:`OptionalDataset`. The pipeline asks for it only for the registry's namespaces, so no
folder is ever globbed.
"""

from __future__ import annotations

from typing import Any

from kedro.io.core import AbstractDataset, DatasetError


class OptionalDataset(AbstractDataset[None, Any]):
    """Loads the wrapped dataset, or ``None`` when it does not exist (read-only).

    Example catalog entry::

        "{namespace}.metrics_if_present":
          type: cifar100_kedro.pipelines.reporting.datasets.OptionalDataset
          dataset:
            type: json.JSONDataset
            filepath: data/08_reporting/{namespace}/metrics.json
    """

    def __init__(self, dataset: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self._dataset = AbstractDataset.from_config("wrapped", dict(dataset))
        self.metadata = metadata

    def load(self) -> Any:
        return self._dataset.load() if self._dataset.exists() else None

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._dataset}: OptionalDataset is read-only")

    def _exists(self) -> bool:
        return True  # absent data is a valid (None) input, not a missing dataset

    def _describe(self) -> dict[str, Any]:
        return {"dataset": str(self._dataset)}
