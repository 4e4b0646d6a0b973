"""The training pipeline through KedroSession: two architectures, one epoch, tiny data."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from kedro.framework.project import pipelines

from cifar100_kedro.pipelines.training.architectures import ARCHITECTURES
from tests.conftest import copy_project, run_session


def test_every_architecture_is_a_namespace():
    from cifar100_kedro.pipelines.training import create_pipeline

    pipeline = create_pipeline()
    namespaces = {n.namespace for n in pipeline.nodes}
    assert namespaces == set(ARCHITECTURES)
    assert {f"{ns}.model" for ns in ARCHITECTURES} <= pipeline.outputs()


@pytest.mark.slow
def test_two_architectures_train_through_kedro_session(tmp_path):
    project = copy_project(tmp_path / "project")
    run_session(project, ["data_processing"])
    run_session(project, ["training"], namespaces=["chavez_m1", "chavez_m1_coarse"])
    for ns, classes in (("chavez_m1", 100), ("chavez_m1_coarse", 20)):
        assert (project / f"data/06_models/{ns}/model.keras").is_file()
        history = pd.read_csv(project / f"data/07_model_output/{ns}/history.csv")
        assert list(history["epoch"]) == [1]  # conf/test caps epochs at 1
        summary = json.loads((project / f"data/07_model_output/{ns}/training_summary.json").read_text())
        assert summary["num_classes"] == classes and summary["architecture"] == ns
    # The catalog resolves the namespaced datasets through the factories.
    from kedro.framework.session import KedroSession

    with KedroSession.create(project_path=project, env="test") as session:
        catalog = session.load_context().catalog
        model = catalog.load("chavez_m1.model")
        assert model.output_shape == (None, 100)
        assert catalog.load("chavez_m1_coarse.history").shape[0] == 1


@pytest.mark.slow
def test_bad_recipe_fails_before_any_training(tmp_path):
    project = copy_project(tmp_path / "project")
    (project / "conf/test/parameters_bad.yml").write_text("chavez_m2:\n  train:\n    optimizer: {name: adamm}\n")
    run_session(project, ["data_processing"])
    with pytest.raises(Exception, match=r"chavez_m2.train.optimizer.name': unknown optimiser 'adamm'"):
        run_session(project, ["training"], namespaces=["chavez_m1", "chavez_m2"])
    assert not (project / "data/06_models/chavez_m1").exists()
