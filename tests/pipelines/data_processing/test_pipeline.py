"""data_processing through a KedroSession on the synthetic source (test environment)."""

from __future__ import annotations

import json

import numpy as np

from cifar100_kedro.datasets import NumpyDataset


def test_pipeline_writes_validated_split_arrays(processed_project):
    model_input = processed_project / "data" / "05_model_input"
    train = NumpyDataset(str(model_input / "train.npz")).load()
    val = NumpyDataset(str(model_input / "validation.npz")).load()
    test = NumpyDataset(str(model_input / "test.npz")).load()
    # conf/test: 5 train and 2 test images per class, validation fraction 0.2.
    assert train["images"].shape == (400, 32, 32, 3) and train["images"].dtype == np.uint8
    assert val["images"].shape == (100, 32, 32, 3)
    assert test["images"].shape == (200, 32, 32, 3)
    assert np.bincount(val["fine"], minlength=100).min() == 1
    names = json.loads(
        (processed_project / "data" / "02_intermediate" / "label_names.json").read_text()
    )
    assert len(names["fine"]) == 100 and len(names["coarse"]) == 20
    stats = json.loads((model_input / "normalization_stats.json").read_text())
    assert (
        stats["num_images"] == 400 and len(stats["mean"]) == 3 and all(s > 0 for s in stats["std"])
    )
