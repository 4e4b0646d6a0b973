"""OptionalDataset: another pipeline's results when they exist, ``None`` while they do not."""

from __future__ import annotations

import json

import pytest
from kedro.io.core import DatasetError

from cifar100_kedro.pipelines.reporting.datasets import OptionalDataset


def test_loads_none_until_the_file_exists_then_its_contents(tmp_path):
    path = tmp_path / "chavez_m7" / "metrics.json"
    dataset = OptionalDataset({"type": "json.JSONDataset", "filepath": str(path)})
    assert dataset.exists() and dataset.load() is None
    path.parent.mkdir()
    path.write_text(json.dumps({"namespace": "chavez_m7", "accuracy": 0.5}))
    assert dataset.load() == {"namespace": "chavez_m7", "accuracy": 0.5}
    assert str(path) in str(dataset)


def test_is_read_only(tmp_path):
    dataset = OptionalDataset({"type": "json.JSONDataset", "filepath": str(tmp_path / "m.json")})
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save({"a": 1})
