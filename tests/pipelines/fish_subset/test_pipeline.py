"""The fish_subset pipeline: registry wiring, and end to end through KedroSession (env
``test``: synthetic archive, 32×32 input, random frozen VGG16) in a temporary project copy."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
from kedro.framework.project import configure_project, find_pipelines

from cifar100_kedro.pipeline_registry import register_pipelines
from cifar100_kedro.pipelines import data_processing, fish_subset
from tests.conftest import copy_project, run_session

FISH = ["aquarium_fish", "flatfish", "ray", "shark", "trout"]


def test_every_node_is_named_and_reports_reuse_the_reporting_template():
    pipeline = fish_subset.create_pipeline()
    names = {node.name for node in pipeline.nodes}
    assert all(node.name and "(" not in node.name for node in pipeline.nodes)
    assert {
        "fish_subset.select_subset",
        "fish_subset.extract_features",
        "fish_subset.train_head",
        "fish_subset.assemble_classifier",
        "fish_subset.predict_test_set",
        "fish_subset.plot_confusion_matrix",
        "fish_subset.plot_prediction_grid",
    } <= names
    # data_processing is included as is; no superclass report for a subset of one superclass.
    assert set(data_processing.create_pipeline().nodes) <= set(pipeline.nodes)
    assert "fish_subset.coarse_confusion_matrix_table" not in names
    assert {"fish_subset.test_split", "fish_subset.label_names"} <= pipeline.all_inputs()


def test_registered_by_name_but_not_in_the_default_run():
    configure_project("cifar100_kedro")  # what `kedro run` does before it looks pipelines up
    pipelines = register_pipelines()
    assert "fish_subset" in find_pipelines()
    default = {node.name for node in pipelines["__default__"].nodes}
    assert not any(name.startswith("fish_subset.") for name in default)
    # Summing with the pipeline it includes deduplicates the shared nodes.
    both = pipelines["data_processing"] + pipelines["fish_subset"]
    assert len(both.nodes) == len(pipelines["fish_subset"].nodes)


@pytest.fixture(scope="module")
def fish_run(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("fish") / "project")
    run_session(project, ["fish_subset"])
    return project


@pytest.mark.slow
def test_end_to_end_outputs(fish_run):
    data = fish_run / "data"
    reports = data / "08_reporting/fish_subset"
    label_names = json.loads((data / "05_model_input/fish_subset/label_names.json").read_text())
    assert label_names["fine"] == FISH

    splits = {
        s: np.load(data / f"05_model_input/fish_subset/{s}.npz")
        for s in ("train", "validation", "test")
    }
    # conf/test: 5 training and 2 test images per class; 20% of the training images validate.
    assert len(splits["train"]["fine"]) + len(splits["validation"]["fine"]) == 25
    assert sorted(set(splits["validation"]["fine"].tolist())) == [0, 1, 2, 3, 4]  # stratified
    assert np.bincount(splits["test"]["fine"]).tolist() == [2] * 5

    metrics = json.loads((reports / "metrics.json").read_text())
    assert metrics["namespace"] == "fish_subset" and metrics["num_classes"] == 5
    assert metrics["test_samples"] == 10 and metrics["builder"] == "vgg16_transfer"
    assert 0.0 <= metrics["accuracy"] <= 1.0
    confusion = pd.read_csv(reports / "confusion_matrix.csv")
    assert list(confusion.columns[1:]) == FISH and confusion.iloc[:, 1:].to_numpy().sum() == 10
    report = pd.read_csv(reports / "classification_report.csv")
    assert report["class"].tolist()[:5] == FISH
    for png in ("confusion_matrix.png", "training_curves.png", "prediction_grid.png"):
        assert (reports / png).stat().st_size > 1000, png
    assert not (reports / "coarse_confusion_matrix.png").exists()

    summary = json.loads((data / "07_model_output/fish_subset/training_summary.json").read_text())
    assert summary["feature_cache"]["feature_shape"] == [1, 1, 512]
    assert summary["trainable_params"] == 512 * 16 + 16 + 16 * 5 + 5  # conf/test: dense_units 16
    history = pd.read_csv(data / "07_model_output/fish_subset/history.csv")
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.columns)

    # The saved model is the full network: raw uint8 32×32 images in, 5 probabilities out.
    model = keras.models.load_model(data / "06_models/fish_subset/model.keras")
    probabilities = model.predict(splits["test"]["images"], verbose=0)
    assert probabilities.shape == (10, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    predictions = np.load(data / "07_model_output/fish_subset/test_predictions.npz")
    np.testing.assert_allclose(predictions["probabilities"], probabilities, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_unknown_class_fails_before_training(project_copy):
    with pytest.raises(ValueError, match="unknown class 'goldfish'.*Valid fine class names: apple"):
        run_session(
            project_copy,
            ["fish_subset"],
            runtime_params={"fish_subset": {"subset": {"classes": ["shark", "goldfish"]}}},
        )
    assert not (project_copy / "data/06_models/fish_subset").exists()
