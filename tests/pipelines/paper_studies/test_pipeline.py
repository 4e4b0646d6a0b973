"""The paper_studies pipeline: the registry's opt-in experiments, trained and reported."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cifar100_kedro import architectures
from tests.conftest import run_session


def test_every_opt_in_experiment_is_a_namespace_outside_the_default_run():
    from cifar100_kedro.pipelines import paper_studies
    from cifar100_kedro.pipelines.training import create_pipeline as training

    pipeline = paper_studies.create_pipeline()
    studies = {n.namespace for n in pipeline.nodes} - {None}
    assert studies == {
        "rana_elu_cnn_paper_protocol", "khanna_baseline_cnn", "khanna_vgg_cnn_adam_1e_2",
        "khanna_vgg_cnn_adam_1e_3", "khanna_vgg_cnn_adam_1e_5", "khanna_vgg_cnn_rmsprop_1e_4",
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


def test_the_paper_protocol_fits_on_the_whole_training_set_and_watches_the_test_set():
    from cifar100_kedro.data.splits import protocol_data
    from cifar100_kedro.pipelines import paper_studies

    node = next(
        n for n in paper_studies.create_pipeline().nodes
        if n.name == "rana_elu_cnn_paper_protocol.train"
    )  # fmt: skip
    assert "test_split" in node.inputs
    split = {"images": np.zeros((4, 2), np.uint8), "fine": np.arange(4)}
    test = {"images": np.ones((3, 2), np.uint8), "fine": np.arange(3)}
    fit_on, watched = protocol_data(split, split, test, "paper")
    assert len(fit_on["fine"]) == 8 and watched is not test and len(watched["fine"]) == 3
    fit_on, watched = protocol_data(split, split, test, "holdout")
    assert len(fit_on["fine"]) == 4 and len(watched["fine"]) == 4
    with pytest.raises(ValueError, match="protocol 'paper' needs the test split"):
        protocol_data(split, split, None, "paper")
