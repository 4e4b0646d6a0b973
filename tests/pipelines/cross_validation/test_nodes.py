"""Nodes of the cross_validation pipeline: plan checks, folds, per-fold loop and resuming."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from cifar100_kedro.pipelines.cross_validation import nodes

RECIPE = {
    "model": {"builder": "chavez_progressive", "stage": 1},
    "train": {
        "label_mode": "fine",
        "epochs": 50,
        "batch_size": 10,
        "normalization": "rescale",
        "optimizer": {"name": "adam", "learning_rate": 1e-3},
    },
}


def parameters(**extra) -> dict:
    return {"net_a": RECIPE, "net_b": RECIPE, "split": {"seed": 42}, **extra}


def cv_params(**overrides) -> dict:
    return {"architectures": ["net_a", "net_b"], "folds": 3, "seed": 42, **overrides}


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


# ----------------------------------------------------------------------------- plan
def test_plan_keeps_recipes_and_caps_epochs():
    plan = nodes.plan_cross_validation(cv_params(max_epochs=3), {"max_epochs": 2}, parameters())
    assert plan["folds"] == 3 and plan["seed"] == 42 and plan["stratify"] is False
    assert list(plan["architectures"]) == ["net_a", "net_b"]
    assert plan["architectures"]["net_a"]["train"]["epochs"] == 2
    assert RECIPE["train"]["epochs"] == 50  # the parameters themselves are not changed
    json.dumps(plan)  # saved by json.JSONDataset


@pytest.mark.parametrize("folds", [1, 0, "5", 2.0, True])
def test_plan_refuses_bad_k(folds):
    with pytest.raises(ValueError, match=r"'cross_validation\.folds'"):
        nodes.plan_cross_validation(cv_params(folds=folds), {}, parameters())


def test_plan_lists_known_architectures_for_an_unknown_one():
    with pytest.raises(
        ValueError, match=r"unknown architecture\(s\) \['nope'\].*known.*net_a, net_b"
    ):
        nodes.plan_cross_validation(cv_params(architectures=["net_a", "nope"]), {}, parameters())


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"architectures": []}, "architectures"),
        ({"architectures": ["net_a", "net_a"]}, "architectures"),
        ({"confidence": 1.2}, "confidence"),
        ({"stratify": "yes"}, "stratify"),
        ({"inner_validation_fraction": 1.0}, "inner_validation_fraction"),
        ({"evaluation_batch_size": 0}, "evaluation_batch_size"),
        ({"max_epochs": "ten"}, "max_epochs"),
    ],
)
def test_plan_refuses_bad_settings_naming_them(overrides, key):
    with pytest.raises(ValueError, match=rf"'cross_validation\.{key}'"):
        nodes.plan_cross_validation(cv_params(**overrides), {}, parameters())


def test_plan_checks_each_recipe_before_training():
    bad = {"model": RECIPE["model"], "train": {**RECIPE["train"], "batch_size": 0}}
    with pytest.raises(ValueError, match=r"net_b\.train\.batch_size"):
        nodes.plan_cross_validation(cv_params(), {}, parameters(net_b=bad))
    unknown_builder = {"model": {"builder": "nope"}, "train": RECIPE["train"]}
    with pytest.raises(ValueError, match=r"net_a\.model\.builder"):
        nodes.plan_cross_validation(cv_params(), {}, parameters(net_a=unknown_builder))


def test_transfer_recipes_need_their_pretrained_model_and_get_its_trainer(tmp_path):
    from cifar100_kedro.pipelines.autoencoder.transfer import fit_transfer_model
    from cifar100_kedro.training.engine import fit_model

    missing = tmp_path / "autoencoder.keras"
    transfer = {
        "model": RECIPE["model"],
        "train": {**RECIPE["train"], "pretrained_model_path": str(missing)},
    }
    with pytest.raises(
        ValueError, match=r"'net_b\.train\.pretrained_model_path'.*does not exist.*autoencoder"
    ):
        nodes.plan_cross_validation(cv_params(), {}, parameters(net_b=transfer))
    assert nodes.fold_trainer_for("net_b", transfer["train"]) is fit_transfer_model
    assert nodes.fold_trainer_for("net_a", RECIPE["train"]) is fit_model


def test_registered_fold_trainer_wins(monkeypatch):
    monkeypatch.setattr(nodes, "FOLD_TRAINERS", {})
    trainer = nodes.register_fold_trainer("net_a")(lambda *a, **k: None)
    assert nodes.fold_trainer_for("net_a", RECIPE["train"]) is trainer


# ----------------------------------------------------------------------------- folds
def test_folds_partition_the_whole_training_set_reproducibly():
    train, val = splits()
    plan = nodes.plan_cross_validation(cv_params(), {}, parameters())
    fold_of = nodes.assign_folds(train, val, plan)["fold"]
    assert fold_of.shape == (60,) and set(fold_of) == {0, 1, 2}
    assert np.bincount(fold_of).tolist() == [20, 20, 20]
    assert np.array_equal(fold_of, nodes.assign_folds(train, val, plan)["fold"])
    other_seed = nodes.assign_folds(train, val, {**plan, "seed": 7})["fold"]
    assert not np.array_equal(fold_of, other_seed)
    assert not np.array_equal(fold_of, np.sort(fold_of))  # shuffled, not contiguous blocks


def test_stratified_folds_balance_classes_and_refuse_rare_classes():
    train, val = splits()
    plan = nodes.plan_cross_validation(cv_params(stratify=True), {}, parameters())
    fold_of = nodes.assign_folds(train, val, plan)["fold"]
    labels = np.concatenate([train["fine"], val["fine"]])
    for fold in range(3):
        assert np.bincount(labels[fold_of == fold]).tolist() == [5, 5, 5, 5]
    with pytest.raises(ValueError, match=r"'cross_validation\.stratify'.*only 15 images"):
        nodes.assign_folds(train, val, {**plan, "folds": 16})
    with pytest.raises(ValueError, match=r"'cross_validation\.folds'=61 exceeds the 60"):
        nodes.assign_folds(train, val, {**plan, "folds": 61, "stratify": False})


# ----------------------------------------------------------------------------- per-fold loop
class ConstantModel:
    """Predicts class ``label % classes`` for every image whose first pixel is even."""

    def __init__(self, classes: int) -> None:
        self.classes = classes

    def predict(self, images, batch_size=None, verbose=0):
        probabilities = np.full(
            (len(images), self.classes), 0.1 / (self.classes - 1), dtype=np.float32
        )
        probabilities[:, 0] = 0.9
        return probabilities


@pytest.fixture
def fake_trainer(monkeypatch):
    calls = []

    def trainer(train, validation, stats, model_params, train_params, *, architecture, work_dir):
        calls.append(
            {
                "architecture": architecture,
                "train": len(train["fine"]),
                "validation": len(validation["fine"]),
                "stats": stats,
            }
        )
        return ConstantModel(4), pd.DataFrame(), {"epochs_run": 1, "training_seconds": 0.5}

    for name in ("net_a", "net_b"):
        monkeypatch.setitem(nodes.FOLD_TRAINERS, name, trainer)
    return calls


def test_every_model_is_trained_on_every_fold_and_scored_on_the_held_out_one(
    tmp_path, fake_trainer
):
    train, val = splits()
    plan = nodes.plan_cross_validation(cv_params(work_dir=str(tmp_path)), {}, parameters())
    folds = nodes.assign_folds(train, val, plan)
    results = nodes.cross_validate(train, val, folds, plan)
    assert results[["architecture", "fold"]].values.tolist() == [
        ["net_a", 0],
        ["net_a", 1],
        ["net_a", 2],
        ["net_b", 0],
        ["net_b", 1],
        ["net_b", 2],
    ]
    assert [c["architecture"] for c in fake_trainer] == [
        f"net_{m}_fold{k}" for m in "ab" for k in range(3)
    ]
    assert {(c["train"], c["validation"]) for c in fake_trainer} == {(40, 20)}
    assert all(
        c["stats"]["num_images"] == 40 for c in fake_trainer
    )  # statistics of the fold's training part
    labels = np.concatenate([train["fine"], val["fine"]])
    for row in results.itertuples():
        heldout = labels[folds["fold"] == row.fold]
        assert row.accuracy == pytest.approx(np.mean(heldout == 0))
        assert row.cross_entropy == pytest.approx(
            np.mean(np.where(heldout == 0, -np.log(0.9), -np.log(0.1 / 3))), rel=1e-5
        )
        assert (row.train_images, row.heldout_images, row.epochs_run) == (40, 20, 1)


def test_a_rerun_skips_recorded_folds_and_retrains_changed_ones(tmp_path, fake_trainer):
    train, val = splits()
    plan = nodes.plan_cross_validation(cv_params(work_dir=str(tmp_path)), {}, parameters())
    folds = nodes.assign_folds(train, val, plan)
    first = nodes.cross_validate(train, val, folds, plan)
    assert len(fake_trainer) == 6
    (tmp_path / "net_b" / "fold1.json").unlink()  # as if the run had stopped there
    second = nodes.cross_validate(train, val, folds, plan)
    assert [c["architecture"] for c in fake_trainer[6:]] == ["net_b_fold1"]
    pd.testing.assert_frame_equal(first, second)
    changed = {
        **plan,
        "architectures": {
            **plan["architectures"],
            "net_a": {"model": RECIPE["model"], "train": {**RECIPE["train"], "epochs": 7}},
        },
    }
    nodes.cross_validate(train, val, folds, changed)
    assert [c["architecture"] for c in fake_trainer[7:]] == [
        "net_a_fold0",
        "net_a_fold1",
        "net_a_fold2",
    ]


def test_inner_validation_fraction_keeps_the_held_out_fold_unseen(tmp_path, fake_trainer):
    train, val = splits()
    plan = nodes.plan_cross_validation(
        cv_params(work_dir=str(tmp_path), inner_validation_fraction=0.25), {}, parameters()
    )
    nodes.cross_validate(train, val, nodes.assign_folds(train, val, plan), plan)
    assert {(c["train"], c["validation"]) for c in fake_trainer} == {(30, 10)}


def test_stale_folds_file_is_refused(tmp_path, fake_trainer):
    train, val = splits()
    plan = nodes.plan_cross_validation(cv_params(work_dir=str(tmp_path)), {}, parameters())
    with pytest.raises(ValueError, match="cross_validation_folds.*stale"):
        nodes.cross_validate(train, val, {"fold": np.zeros(10, dtype=np.int64)}, plan)


def test_evaluate_heldout_with_a_keras_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    train, _ = splits()
    scores = nodes.evaluate_heldout(model, train, "fine", batch_size=16)
    probabilities = model.predict(train["images"], verbose=0)
    expected = -np.mean(np.log(probabilities[np.arange(40), train["fine"]]))
    assert scores["cross_entropy"] == pytest.approx(expected, rel=1e-5)
    assert scores["accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == train["fine"]))
