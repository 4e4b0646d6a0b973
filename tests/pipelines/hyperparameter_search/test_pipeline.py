"""The pipeline's shape, and ``kedro run --pipeline=hyperparameter_search --env=test`` end to
end through a KedroSession: MobileNet (weights: null) searched by KerasTuner, retrained as
chavez_m7 / chavez_m7_coarse and evaluated by the reporting template."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from cifar100_kedro.pipelines.hyperparameter_search import create_pipeline
from tests.conftest import run_session

FINAL = ("chavez_m7", "chavez_m7_coarse")


def test_pipeline_searches_then_retrains_and_evaluates_model_7():
    pipeline = create_pipeline()
    names = [n.name for n in pipeline.nodes]
    assert len(names) == len(set(names))
    assert {
        "hyperparameter_search.random_search",
        "hyperparameter_search.grid_search",
        "chavez_m7.train",
        "chavez_m7_coarse.train",
        "chavez_m7.predict_test_set",
    } <= set(names)
    assert {
        "params:hyperparameter_search",
        "params:chavez_m6.model",
        "params:chavez_m6.train",
        "train_split",
        "validation_split",
        "test_split",
    } <= pipeline.inputs()
    outputs = pipeline.all_outputs()
    assert {"hyperparameter_search.trials", "chavez_m7_recipe"} <= outputs
    for ns in FINAL:
        assert {
            f"{ns}.model",
            f"{ns}.history",
            f"{ns}.training_summary",
            f"{ns}.metrics",
        } <= outputs
    # The search needs nothing the retraining makes; the retraining waits for the recipe.
    train = next(n for n in pipeline.nodes if n.name == "chavez_m7.train")
    assert "chavez_m7_recipe" in train.inputs


@pytest.mark.slow
def test_end_to_end_in_the_test_environment(processed_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(processed_project, project)

    run_session(project, ["hyperparameter_search"])

    trials = pd.read_csv(project / "data/08_reporting/hyperparameter_search/trials.csv")
    # conf/test: 2 random candidates, then a 1-combination grid, 2 folds each.
    assert list(trials["stage"]) == ["random_search", "random_search", "grid_search"]
    assert (trials["status"] == "COMPLETED").all()
    assert trials[["fold_0_accuracy", "fold_1_accuracy", "cv_accuracy"]].notna().all().all()
    assert {
        "learning_rate",
        "optimizer",
        "dense_units_1",
        "dense_units_2",
        "dropout",
        "trainable_backbone",
    } <= set(trials.columns)

    recipe = json.loads(
        (project / "data/08_reporting/hyperparameter_search/chavez_m7_recipe.json").read_text()
    )
    assert recipe["model"]["builder"] == "chavez_progressive" and recipe["model"]["stage"] == 6
    assert recipe["model"]["weights"] is None  # conf/test's chavez_m6 override carried over

    for ns, mode, classes in (("chavez_m7", "fine", 100), ("chavez_m7_coarse", "coarse", 20)):
        summary = json.loads(
            (project / f"data/07_model_output/{ns}/training_summary.json").read_text()
        )
        assert summary["label_mode"] == mode and summary["num_classes"] == classes
        assert summary["hyperparameters"] == recipe["hyperparameters"]
        assert (project / f"data/06_models/{ns}/model.keras").exists()
        metrics = json.loads((project / f"data/08_reporting/{ns}/metrics.json").read_text())
        assert 0.0 <= metrics["coarse_accuracy"] <= 1.0
    # KerasTuner's state for a later rerun to resume from.
    state = project / "data/06_models/hyperparameter_search"
    assert len(list(state.glob("random_search_*/trial_*/trial.json"))) == 2
    assert len(list(state.glob("grid_search_*/trial_*/fold_*.json"))) == 2
