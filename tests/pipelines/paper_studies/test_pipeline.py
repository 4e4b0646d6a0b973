"""The paper_studies pipeline: the registry's opt-in experiments, trained and reported."""

from __future__ import annotations

import json

import pytest

from cifar100_kedro import architectures
from tests.conftest import run_session


def test_every_opt_in_experiment_is_a_namespace_outside_the_default_run():
    from cifar100_kedro.pipelines import paper_studies
    from cifar100_kedro.pipelines.training import create_pipeline as training

    pipeline = paper_studies.create_pipeline()
    studies = {n.namespace for n in pipeline.nodes} - {None}
    assert studies == {
        "khanna_baseline_cnn", "khanna_vgg_cnn_adam_1e_2", "khanna_vgg_cnn_adam_1e_3",
        "khanna_vgg_cnn_adam_1e_5", "khanna_vgg_cnn_rmsprop_1e_4",
    }  # fmt: skip
    assert not studies & {n.namespace for n in training().nodes}  # not in the default run
    for namespace in studies:
        assert architectures.get(namespace).reported  # the paper's figure is on record
        assert f"{namespace}.metrics" in pipeline.outputs()


@pytest.mark.slow
def test_the_baseline_trains_and_is_reported(processed_project):
    run_session(processed_project, ["paper_studies"], namespaces=["khanna_baseline_cnn"])
    reports = processed_project / "data/08_reporting/khanna_baseline_cnn"
    metrics = json.loads((reports / "metrics.json").read_text())
    assert metrics["namespace"] == "khanna_baseline_cnn" and metrics["num_classes"] == 100
    assert metrics["trainable_params"] == 643_492
    assert (reports / "training_curves.png").stat().st_size > 1000
