"""The training pipeline through KedroSession, driven by the architecture registry."""

from __future__ import annotations

import json
import pkgutil
import sys

import keras
import pandas as pd
import pytest

from cifar100_kedro import architectures
from cifar100_kedro.models.registry import BUILDERS, register_builder
from tests.conftest import copy_project, run_session


def test_every_default_architecture_is_a_namespace():
    from cifar100_kedro.pipelines.training import create_pipeline

    pipeline = create_pipeline()
    expected = {a.namespace for a in architectures.default_training()}
    assert {n.namespace for n in pipeline.nodes} == expected
    assert {f"{ns}.model" for ns in expected} <= pipeline.outputs()
    # Extra inputs come from the registry: the transfer models take the autoencoder.
    assert "autoencoder_model" in pipeline.inputs()


def test_registry_entries_name_registered_builders_and_their_recipes_exist():
    import yaml

    from tests.conftest import PROJECT_ROOT

    params = {}
    for path in sorted((PROJECT_ROOT / "conf/base").glob("parameters*.yml")):
        params.update(yaml.safe_load(path.read_text()) or {})
    for arch in architectures.all_architectures():
        assert arch.builder in BUILDERS, arch.namespace
        if arch.pipeline in ("training", "autoencoder", "fish_subset"):
            assert params[arch.namespace]["model"]["builder"] == arch.builder, arch.namespace


def test_builder_modules_are_discovered():
    from cifar100_kedro import models

    found = {m.name for m in pkgutil.iter_modules(models.__path__)} - {"registry"}
    assert found and all(f"cifar100_kedro.models.{name}" in sys.modules for name in found)


@pytest.mark.slow
def test_two_architectures_train_through_kedro_session(tmp_path):
    project = copy_project(tmp_path / "project")
    run_session(project, ["data_processing"])
    run_session(project, ["training"], namespaces=["chavez_m1", "chavez_m1_coarse"])
    for ns, classes in (("chavez_m1", 100), ("chavez_m1_coarse", 20)):
        assert (project / f"data/06_models/{ns}/model.keras").is_file()
        history = pd.read_csv(project / f"data/07_model_output/{ns}/history.csv")
        assert list(history["epoch"]) == [1]  # conf/test caps epochs at 1
        summary = json.loads(
            (project / f"data/07_model_output/{ns}/training_summary.json").read_text()
        )
        assert summary["num_classes"] == classes and summary["namespace"] == ns
        assert summary["task"] == "classification" and summary["final"]["loss"] > 0
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
    (project / "conf/test/parameters_bad.yml").write_text("chavez_m2:\n  model:\n    stag: 3\n")
    run_session(project, ["data_processing"])
    with pytest.raises(
        Exception,
        match=r"'chavez_m2.model.stag': builder 'chavez_progressive' has no such argument",
    ):
        run_session(project, ["training"], namespaces=["chavez_m1", "chavez_m2"])
    assert not (project / "data/06_models/chavez_m1").exists()


@pytest.fixture
def toy_architecture():
    """What CONTRIBUTING.md says adding an architecture takes: a builder, one registry entry
    (and, in the test below, one recipe in conf)."""

    @register_builder("toy_net")
    def build_toy_net(num_classes, input_shape=(32, 32, 3), *, filters=4):
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(filters, 3, activation="relu")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(
            inputs, keras.layers.Dense(num_classes, activation="softmax")(x), name="toy_net"
        )

    architectures.register(architectures.Architecture("toy_net", "ours", "toy_net"))
    yield "toy_net"
    architectures.unregister("toy_net")
    BUILDERS.pop("toy_net")


@pytest.mark.slow
def test_a_registered_toy_architecture_trains_like_every_other(tmp_path, toy_architecture):
    project = copy_project(tmp_path / "project")
    (project / "conf/base/parameters_toy.yml").write_text(
        "toy_net:\n  model: {builder: toy_net, filters: 3}\n"
        "  train: {epochs: 2, batch_size: 50, optimizer: {name: adam}}\n"
    )
    run_session(project, ["data_processing"])
    run_session(project, ["training"], namespaces=[toy_architecture])
    summary = json.loads(
        (project / "data/07_model_output/toy_net/training_summary.json").read_text()
    )
    assert summary["namespace"] == "toy_net" and summary["epochs_run"] == 1  # capped by conf/test
    assert (project / "data/06_models/toy_net/model.keras").is_file()


def test_the_papers_per_class_figures_name_real_classes():
    from cifar100_kedro.data.labels import COARSE_LABEL_NAMES, FINE_LABEL_NAMES

    for statement in architectures.PAPER_002_PER_CLASS:
        assert set(statement.get("classes", ())) <= set(FINE_LABEL_NAMES)
        assert set(statement.get("superclasses", ())) <= set(COARSE_LABEL_NAMES)
    figure_11 = architectures.PAPER_001_FIGURE_11
    assert sorted(figure_11) == list(range(10))
    for precision, recall, f1 in figure_11.values():  # the paper's F1 is their harmonic mean
        assert abs(2 * precision * recall / (precision + recall) - f1) < 0.011
    fish = {f.metric: f for f in architectures.get("fish_subset").reported}
    assert fish["overfitting_epoch"].value == 12
