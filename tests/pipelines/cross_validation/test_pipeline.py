"""The graph (one node per architecture and fold, from the registry and settings' K), and
``kedro run --pipeline=cross_validation`` through a KedroSession on the test env with two
small models and K = 2: the run, a resume with ``--only-missing-outputs``, and a changed
recipe that is detected and retrained with the command the error names."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from cifar100_kedro import architectures
from cifar100_kedro import settings as project_settings
from cifar100_kedro.pipelines.cross_validation import pipeline as cv_pipeline
from cifar100_kedro.training.kfold import StaleRecordError
from tests.conftest import PROJECT_ROOT, run_session

SMALL = {"folds": 2, "architectures": ("chavez_m1", "chavez_m2")}
RECORDS = "data/07_model_output/cross_validation"
REPORTS = "data/08_reporting/cross_validation"


@pytest.fixture(scope="module")
def small_dimensions():
    """The settings' dimensions narrowed to two small models and K = 2 for this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(project_settings, "CROSS_VALIDATION", SMALL)
        yield


def fold_nodes(pipeline) -> dict[str, object]:
    return {n.name: n for n in pipeline.nodes if n.name.split(".")[-1].startswith("fold_")}


# ----------------------------------------------------------------------------- the graph
def test_the_default_graph_has_a_node_per_registered_architecture_and_fold():
    chosen, folds = cv_pipeline.dimensions()
    assert folds == project_settings.CROSS_VALIDATION["folds"] == 5  # paper 003's K
    # Paper 003's Table I: the six conv models and the two transfer models.
    assert chosen == architectures.cross_validation_defaults() and len(chosen) == 8
    assert {"chakraborti_t_arch1", "chakraborti_t_arch2"} <= {a.namespace for a in chosen}
    # The transfer models' folds start from the autoencoder, which the pipeline pre-trains.
    pipeline = cv_pipeline.create_pipeline()
    assert "autoencoder.train" in {n.name for n in pipeline.nodes}
    assert "autoencoder_model" in fold_nodes(pipeline)["chakraborti_t_arch1.fold_0"].inputs
    nodes = fold_nodes(cv_pipeline.create_pipeline())
    assert set(nodes) == {f"{a.namespace}.fold_{k}" for a in chosen for k in range(folds)}
    node = nodes["chakraborti_arch2_hyp3.fold_4"]
    assert node.namespace == "chakraborti_arch2_hyp3"
    assert node.outputs == ["chakraborti_arch2_hyp3.cv_fold_4"]
    assert {"params:chakraborti_arch2_hyp3.train", "cross_validation_folds"} <= set(node.inputs)


def test_the_fold_records_resolve_through_the_catalog_factory():
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    config = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")
    catalog = DataCatalog.from_config(config["catalog"])
    dataset = catalog.get("chakraborti_arch1_hyp1.cv_fold_3")
    assert str(dataset._filepath).endswith(
        "data/07_model_output/cross_validation/chakraborti_arch1_hyp1/fold_3.json"
    )


def test_the_small_graph_runs_folds_in_parallel_and_checks_them_last(small_dimensions):
    pipeline = cv_pipeline.create_pipeline()
    nodes = fold_nodes(pipeline)
    assert sorted(nodes) == ["chavez_m1.fold_0", "chavez_m1.fold_1", "chavez_m2.fold_0",
                             "chavez_m2.fold_1"]  # fmt: skip
    # No fold waits for another: any runner may train them at the same time.
    for node in nodes.values():
        assert not set(node.inputs) & {o for n in nodes.values() for o in n.outputs}
    check = next(n for n in pipeline.nodes if n.name == "check_cross_validation_results")
    assert check.outputs == [] and "chavez_m2.cv_fold_1" in check.inputs
    assert "autoencoder_model" not in pipeline.inputs() | pipeline.all_outputs()


def test_transfer_models_take_the_autoencoder_and_bring_its_pretraining(monkeypatch):
    monkeypatch.setattr(
        project_settings,
        "CROSS_VALIDATION",
        {"folds": 2, "architectures": ("chakraborti_t_arch1",)},
    )
    pipeline = cv_pipeline.create_pipeline()
    node = fold_nodes(pipeline)["chakraborti_t_arch1.fold_1"]
    assert "autoencoder_model" in node.inputs
    assert "autoencoder.train" in {n.name for n in pipeline.nodes}  # made in the same run


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"folds": 1, "architectures": None}, r"'folds'\] must be an integer >= 2"),
        ({"folds": 5, "architectures": ("chavez_m1", "chavez_m1")}, "distinct registered"),
        ({"folds": 5, "architectures": ("no_such_net",)}, "unknown architecture 'no_such_net'"),
    ],
)
def test_bad_dimensions_fail_when_the_pipeline_is_built(monkeypatch, spec, message):
    monkeypatch.setattr(project_settings, "CROSS_VALIDATION", spec)
    with pytest.raises((ValueError, KeyError), match=message):
        cv_pipeline.create_pipeline()


# ----------------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def cross_validated(small_dimensions, processed_project, tmp_path_factory):
    project = tmp_path_factory.mktemp("cross_validation") / "project"
    shutil.copytree(processed_project, project)
    run_session(project, ["cross_validation"])
    return project


def records(project) -> dict[str, dict]:
    return {
        f"{path.parent.name}/{path.name}": json.loads(path.read_text())
        for path in sorted((project / RECORDS).glob("*/fold_*.json"))
    }


@pytest.mark.slow
def test_every_model_and_fold_is_trained_recorded_and_compared(cross_validated):
    results = pd.read_csv(cross_validated / RECORDS / "fold_results.csv")
    assert results[["architecture", "fold"]].values.tolist() == [
        ["chavez_m1", 0], ["chavez_m1", 1], ["chavez_m2", 0], ["chavez_m2", 1],
    ]  # fmt: skip
    # 500 synthetic training images (train_split + validation_split), halved.
    assert (results["train_images"] == 250).all() and (results["held_out_images"] == 250).all()
    assert results["accuracy"].between(0, 1).all() and (results["loss"] > 0).all()
    assert (results["epochs_run"] == 1).all()  # training_run.max_epochs: 1 in conf/test
    record = records(cross_validated)["chavez_m2/fold_1.json"]
    assert record["fold"] == 1 and len(record["fingerprint"]) == 16
    assert record["recipe"]["train"]["epochs"] == 1 and record["architecture"] == "chavez_m2"
    reports = cross_validated / REPORTS
    table_1 = pd.read_csv(reports / "table_1_mean_scores.csv")
    assert table_1["model"].tolist() == ["chavez_m1", "chavez_m2"] and "mean_loss" in table_1
    table_2 = pd.read_csv(reports / "table_2_confidence_bounds.csv")
    assert table_2.columns.tolist() == ["model", "chavez_m1", "chavez_m2", "optimal_model"]
    assert table_2.loc[0, "chavez_m1"] == 0 and table_2.loc[1, "chavez_m2"] == 0
    tests = pd.read_csv(reports / "corrected_resampled_ttest.csv")
    assert tests[["model_a", "model_b", "df"]].values.tolist() == [["chavez_m1", "chavez_m2", 1]]
    assert (reports / "table_2_heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    verdict = json.loads((reports / "verdict.json").read_text())
    assert verdict["folds"] == 2 and verdict["t_critical"] == pytest.approx(6.3138, abs=1e-4)
    assert verdict["paper_003"]["optimal_per_row"] == dict(
        zip(table_2["model"], table_2["optimal_model"], strict=True)
    )


@pytest.mark.slow
def test_only_missing_outputs_resumes_with_the_missing_fold_only(cross_validated):
    before = {path: path.stat().st_mtime_ns for path in (cross_validated / RECORDS).glob("*/*")}
    missing = cross_validated / RECORDS / "chavez_m2" / "fold_1.json"
    del before[missing]
    missing.unlink()  # as if the run had stopped while training this fold
    (cross_validated / RECORDS / "fold_results.csv").unlink()
    shutil.rmtree(cross_validated / REPORTS)
    run_session(cross_validated, ["cross_validation"], only_missing_outputs=True)
    assert missing.exists()
    assert {path: path.stat().st_mtime_ns for path in before} == before  # not retrained
    results = pd.read_csv(cross_validated / RECORDS / "fold_results.csv")
    assert len(results) == 4 and (cross_validated / REPORTS / "verdict.json").exists()


@pytest.mark.slow
def test_a_changed_recipe_is_detected_and_retrained_by_the_named_nodes(cross_validated):
    changed = {"runtime_params": {"chavez_m2": {"train": {"batch_size": 25}}}}
    old = records(cross_validated)
    with pytest.raises(
        StaleRecordError, match=r"--from-nodes=chavez_m2\.fold_0,chavez_m2\.fold_1`"
    ):
        run_session(cross_validated, ["cross_validation"], only_missing_outputs=True, **changed)
    assert records(cross_validated) == old  # nothing was retrained or rewritten
    run_session(
        cross_validated, ["cross_validation"], from_nodes=["chavez_m2.fold_0", "chavez_m2.fold_1"],
        **changed,
    )  # fmt: skip
    new = records(cross_validated)
    assert {k: new[k] for k in new if k.startswith("chavez_m1")} == {
        k: old[k] for k in old if k.startswith("chavez_m1")
    }
    assert new["chavez_m2/fold_0.json"]["recipe"]["train"]["batch_size"] == 25
    assert (
        new["chavez_m2/fold_0.json"]["fingerprint"] != old["chavez_m2/fold_0.json"]["fingerprint"]
    )
    # The comparison was redone and checked in the same run (the check node raised nothing).
    results = pd.read_csv(cross_validated / RECORDS / "fold_results.csv")
    assert results["accuracy"].tolist() == [r["accuracy"] for r in new.values()]
