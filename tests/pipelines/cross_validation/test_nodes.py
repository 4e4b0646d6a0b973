"""Nodes of the cross_validation pipeline: settings, folds, one fold, collecting and checking
the records (training is the K-fold core's, replaced here by a stand-in; the session test in
test_pipeline.py trains for real)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from cifar100_kedro.pipelines.cross_validation import nodes
from cifar100_kedro.training import kfold
from cifar100_kedro.training.kfold import StaleRecordError

MODEL = {"builder": "chavez_progressive", "stage": 1}
TRAIN = {"label_mode": "fine", "epochs": 50, "batch_size": 10, "optimizer": {"name": "adam"}}
K = 3


def splits(n_train: int = 40, n_val: int = 20, classes: int = 4):
    rng = np.random.default_rng(0)

    def make(n, offset):
        fine = (np.arange(n) + offset) % classes
        return {
            "images": rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
            "fine": fine.astype(np.int64),
            "coarse": (fine // 2).astype(np.int64),
        }

    return make(n_train, 0), make(n_val, 1)


# ----------------------------------------------------------------------------- settings
def test_settings_get_defaults_and_k_is_the_built_one():
    settings = nodes.check_settings({"seed": 7}, folds=K)
    assert settings == {**nodes.DEFAULTS, "seed": 7}
    assert nodes.check_settings({"folds": K}, folds=K)["seed"] == 42  # agreeing K is fine
    with pytest.raises(ValueError, match=r"'cross_validation\.folds' = 2.*settings\.CROSS_VAL"):
        nodes.check_settings({"folds": 2}, folds=K)
    with pytest.raises(ValueError, match=r"'cross_validation\.architectures'.*--namespaces"):
        nodes.check_settings({"architectures": ["chavez_m1"]}, folds=K)


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"confidence": 1.2}, "confidence"),
        ({"stratify": "yes"}, "stratify"),
        ({"inner_validation_fraction": 1.0}, "inner_validation_fraction"),
        ({"evaluation_batch_size": 0}, "evaluation_batch_size"),
        ({"max_epochs": "ten"}, "max_epochs"),
        ({"seed": -1}, "seed"),
        ({"keep_fold_state": 1}, "keep_fold_state"),
        ({"sede": 1}, "sede"),
    ],
)
def test_bad_settings_are_refused_naming_them(params, key):
    with pytest.raises(ValueError, match=rf"'cross_validation\.{key}'"):
        nodes.check_settings(params, folds=K)


# ----------------------------------------------------------------------------- folds
def test_folds_cover_the_whole_training_set_and_say_how_they_were_made():
    train, val = splits()
    assignment = nodes.assign_cross_validation_folds(train, val, {"seed": 3}, folds=K)
    assert np.bincount(assignment["fold"]).tolist() == [20, 20, 20]
    assert (assignment["folds"].item(), assignment["seed"].item()) == (K, 3)
    assert assignment["stratify"].item() is False and len(str(assignment["data"])) == 16
    stratified = nodes.assign_cross_validation_folds(train, val, {"stratify": True}, folds=K)
    labels = np.concatenate([train["fine"], val["fine"]])
    assert np.bincount(labels[stratified["fold"] == 0]).tolist() == [5, 5, 5, 5]


# ----------------------------------------------------------------------------- one fold
class Constant:
    def predict(self, images, batch_size=None, verbose=0):
        return np.tile(np.array([0.7, 0.1, 0.1, 0.1], dtype=np.float32), (len(images), 1))


def fake_fit(calls):
    def fit(train, validation, stats, model_params, train_params, **kwargs):
        calls.append({"train_params": train_params, **kwargs})
        summary = {"epochs_run": train_params["epochs"], "best_epoch": 1, "training_seconds": 1.0}
        return Constant(), pd.DataFrame(), summary

    return fit


@pytest.fixture
def fits(monkeypatch):
    calls = []
    monkeypatch.setattr(kfold, "fit_model", fake_fit(calls))
    return calls


def run_fold(assignment, namespace, fold, train=TRAIN, cv_params=None, **kwargs):
    train_split, val = splits()
    return nodes.cross_validate_fold(
        train_split, val, assignment, MODEL, train, cv_params or {}, {"max_epochs": 4},
        {"seed": 1}, namespace=namespace, fold=fold, folds=K, **kwargs,
    )  # fmt: skip


@pytest.fixture
def assignment():
    return nodes.assign_cross_validation_folds(*splits(), {}, folds=K)


def test_a_fold_node_trains_its_fold_and_records_what_it_trained(fits, assignment, tmp_path):
    cv_params = {"max_epochs": 2, "work_dir": str(tmp_path)}
    record = run_fold(assignment, "net_a", 1, cv_params=cv_params)
    (call,) = fits
    assert call["architecture"] == "net_a_fold_1" and call["device_settings"] == {"seed": 1}
    assert call["work_dir"] == tmp_path / "net_a" / "fold_1"
    assert call["train_params"]["epochs"] == 2  # the smaller of the two epoch caps
    assert record["architecture"] == "net_a" and record["fold"] == 1
    assert (record["train_images"], record["held_out_images"]) == (40, 20)
    assert record["recipe"] == {"model": MODEL, "train": {**TRAIN, "epochs": 2}}
    assert record["data"] == str(assignment["data"]) and record["pretrained"] is None
    settings = {"folds": K, "seed": 42, "stratify": False, "inner_validation_fraction": None}
    assert record["fingerprint"] == kfold.fingerprint(MODEL, {**TRAIN, "epochs": 2}, settings)


def test_selecting_callbacks_warn_when_they_watch_the_held_out_fold(fits, assignment, caplog):
    early = {**TRAIN, "callbacks": {"early_stopping": {"patience": 2}}}
    with caplog.at_level(logging.WARNING, logger=nodes.__name__):
        run_fold(assignment, "net_a", 0, train=early)
    assert "biases its score upwards" in caplog.text


def test_folds_made_for_other_settings_or_data_are_refused(fits, assignment):
    with pytest.raises(StaleRecordError, match="--from-nodes=assign_cross_validation_folds"):
        run_fold(assignment, "net_a", 0, cv_params={"seed": 7})
    other = {**assignment, "data": np.asarray("0" * 16)}
    with pytest.raises(StaleRecordError, match="other data or settings"):
        run_fold(other, "net_a", 0)
    assert fits == []


# ----------------------------------------------------------------------------- records
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The collect node's inputs: two architectures' recipes and their K records each."""
    datasets, work_dir = {}, str(tmp_path_factory.mktemp("folds"))
    assignment = nodes.assign_cross_validation_folds(*splits(), {}, folds=K)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kfold, "fit_model", fake_fit([]))
        for namespace in ("net_a", "net_b"):
            datasets[f"{namespace}.model"], datasets[f"{namespace}.train"] = MODEL, TRAIN
            for fold in range(K):
                record = run_fold(assignment, namespace, fold, cv_params={"work_dir": work_dir})
                datasets[f"{namespace}.cv_fold_{fold}"] = record
    return datasets


def collect(datasets, **cv_params):
    return nodes.collect_cross_validation_folds(cv_params, {"max_epochs": 4}, **datasets)


def test_records_are_collected_in_architecture_then_fold_order(inputs):
    table = collect(inputs)
    assert table.columns.tolist() == nodes.FOLD_RESULT_COLUMNS
    assert table[["architecture", "fold"]].values.tolist() == [
        [namespace, fold] for namespace in ("net_a", "net_b") for fold in range(K)
    ]
    assert (table["epochs_run"] == 4).all() and (table["held_out_images"] == 20).all()
    nodes.check_cross_validation_results(table, {}, {"max_epochs": 4}, **inputs)


def test_a_changed_recipe_makes_its_records_stale_and_names_the_nodes_to_rerun(inputs):
    changed = {**inputs, "net_b.train": {**TRAIN, "batch_size": 20}}
    with pytest.raises(StaleRecordError, match=r"3 fold record.*net_b\.cv_fold_0: trained with"):
        collect(changed)
    with pytest.raises(
        StaleRecordError, match=r"--from-nodes=net_b\.fold_0,net_b\.fold_1,net_b\.fold_2`"
    ):
        nodes.check_cross_validation_results(collect(inputs), {}, {"max_epochs": 4}, **changed)
    with pytest.raises(StaleRecordError, match="net_a.fold_0,"):  # settings count too
        collect(inputs, seed=1)


def test_records_of_other_data_or_pretrained_models_are_not_mixed(inputs):
    mixed = {**inputs, "net_a.cv_fold_2": {**inputs["net_a.cv_fold_2"], "data": "other"}}
    with pytest.raises(StaleRecordError, match="different data or fold assignments"):
        collect(mixed)
    started = {**inputs, "net_b.cv_fold_0": {**inputs["net_b.cv_fold_0"], "pretrained": "ae1"}}
    with pytest.raises(StaleRecordError, match="net_b models were trained on different pre-tr"):
        collect(started)


def test_a_table_older_than_its_records_is_refused(inputs):
    table = collect(inputs)
    old = table.assign(accuracy=table["accuracy"] + 0.01)
    with pytest.raises(StaleRecordError, match="--from-nodes=collect_cross_validation_folds"):
        nodes.check_cross_validation_results(old, {}, {"max_epochs": 4}, **inputs)
    with pytest.raises(StaleRecordError, match="do not hold the scores"):
        nodes.check_cross_validation_results(table.iloc[1:], {}, {"max_epochs": 4}, **inputs)
