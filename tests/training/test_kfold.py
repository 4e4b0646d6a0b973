"""The K-fold core: folds, held-out scores, fingerprints, records and the one fold trainer."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from cifar100_kedro.training import kfold
from cifar100_kedro.training.recipe import RecipeError

MODEL = {"builder": "chavez_progressive", "stage": 1}
TRAIN = {"epochs": 50, "batch_size": 10, "optimizer": {"name": "adam"}}


def dataset(n: int = 60, classes: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    fine = np.arange(n) % classes
    return {
        "images": rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
        "fine": fine.astype(np.int64),
        "coarse": (fine // 2).astype(np.int64),
    }


# ----------------------------------------------------------------------------- folds
def test_folds_partition_reproducibly_and_shuffled():
    labels = dataset()["fine"]
    fold_of = kfold.assign_folds(labels, 3, seed=42)
    assert fold_of.dtype == np.int64 and np.bincount(fold_of).tolist() == [20, 20, 20]
    assert np.array_equal(fold_of, kfold.assign_folds(labels, 3, seed=42))
    assert not np.array_equal(fold_of, kfold.assign_folds(labels, 3, seed=7))
    assert not np.array_equal(fold_of, np.sort(fold_of))  # shuffled, not contiguous blocks


def test_stratified_folds_balance_classes_and_refuse_rare_classes():
    labels = dataset()["fine"]
    fold_of = kfold.assign_folds(labels, 3, seed=42, stratify=True)
    for fold in range(3):
        assert np.bincount(labels[fold_of == fold]).tolist() == [5, 5, 5, 5]
    with pytest.raises(RecipeError, match=r"^x\.folds=16: the smallest class has only 15"):
        kfold.assign_folds(labels, 16, seed=0, stratify=True, where="x.folds")


@pytest.mark.parametrize("folds", [1, 0, "5", 2.0, True])
def test_bad_fold_counts_name_where_they_come_from(folds):
    with pytest.raises(RecipeError, match=r"^parameter 'a\.folds' must be an integer >= 2"):
        kfold.assign_folds(np.zeros(10), folds, seed=0, where="parameter 'a.folds'")
    with pytest.raises(RecipeError, match="exceeds the 10 images"):
        kfold.assign_folds(np.zeros(10), 11, seed=0)


# ----------------------------------------------------------------------------- scores
def test_held_out_scores_are_accuracy_and_keras_cross_entropy():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    data = dataset(40)
    scores = kfold.score_held_out(model, data, "fine", batch_size=16)
    probabilities = model.predict(data["images"], verbose=0)
    keras_loss = keras.losses.sparse_categorical_crossentropy(data["fine"], probabilities)
    assert set(scores) == set(kfold.METRICS)
    assert scores["loss"] == pytest.approx(float(np.mean(keras_loss)), rel=1e-5)
    assert scores["accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == data["fine"]))
    coarse = kfold.score_held_out(model, {**data, "coarse": data["fine"] % 2}, "coarse")
    assert 0 <= coarse["accuracy"] <= 1
    with pytest.raises(ValueError, match="held-out label 7 has no output unit"):
        kfold.score_held_out(model, {**data, "fine": np.full(40, 7)}, "fine")


# ----------------------------------------------------------------------------- fingerprints
def test_fingerprint_follows_the_recipe_and_the_fold_settings():
    settings = {"folds": 5, "seed": 42, "stratify": False}
    base = kfold.fingerprint(MODEL, TRAIN, settings)
    assert base == kfold.fingerprint(dict(MODEL), json.loads(json.dumps(TRAIN)), dict(settings))
    assert base != kfold.fingerprint(MODEL, {**TRAIN, "epochs": 1}, settings)
    assert base != kfold.fingerprint({**MODEL, "stage": 2}, TRAIN, settings)
    assert base != kfold.fingerprint(MODEL, TRAIN, {**settings, "seed": 1})
    assert kfold.digest(np.zeros(3, np.uint8)) != kfold.digest(np.zeros(3, np.int64))


def test_epoch_caps_lower_epochs_only():
    assert kfold.cap_epochs(TRAIN, 3, None)["epochs"] == 3
    assert kfold.cap_epochs(TRAIN, None, 7, 9)["epochs"] == 7
    assert kfold.cap_epochs(TRAIN)["epochs"] == 50 and kfold.cap_epochs(TRAIN, 99)["epochs"] == 50
    assert TRAIN["epochs"] == 50  # not changed in place


# ----------------------------------------------------------------------------- records
def test_records_round_trip_and_stale_ones_are_not_reused(tmp_path):
    summary = {"epochs_run": 2, "best_epoch": 1, "training_seconds": 1.5}
    record = kfold.fold_record(0, "abc", {"accuracy": 0.5, "loss": 1.2}, summary, 40, 20)
    assert record == {
        "fold": 0, "fingerprint": "abc", "accuracy": 0.5, "loss": 1.2, "train_images": 40,
        "held_out_images": 20, "epochs_run": 2, "best_epoch": 1, "training_seconds": 1.5,
    }  # fmt: skip
    path = tmp_path / "trial" / "fold_0.json"
    kfold.save_record(path, record)
    assert not list(path.parent.glob("*.tmp"))
    assert kfold.read_record(path, 0, "abc") == record == kfold.read_record(path, 0)
    assert kfold.read_record(path, 0, "other") is None  # another recipe: train again
    assert kfold.read_record(path, 1, "abc") is None
    assert kfold.read_record(tmp_path / "absent.json", 0) is None
    with pytest.raises(kfold.StaleRecordError, match=r"net\.cv_fold_0: trained with another"):
        kfold.check_record(record, 0, "other", "net.cv_fold_0")


# ----------------------------------------------------------------------------- one fold
class HalfSure:
    """A stand-in model: probability 0.7 for class 0, 0.1 for each of three others."""

    def predict(self, images, batch_size=None, verbose=0):
        return np.tile(np.array([0.7, 0.1, 0.1, 0.1], dtype=np.float32), (len(images), 1))


@pytest.fixture
def fits(monkeypatch):
    calls = []

    def fake_fit(train, validation, stats, model_params, train_params, **kwargs):
        calls.append({"train": train, "validation": validation, "stats": stats, **kwargs})
        summary = {"epochs_run": train_params["epochs"], "best_epoch": 1, "training_seconds": 2.0}
        return HalfSure(), pd.DataFrame(), summary

    monkeypatch.setattr(kfold, "fit_model", fake_fit)
    return calls


def test_a_fold_trains_on_the_other_folds_and_is_scored_on_its_own(fits, tmp_path):
    data = dataset()
    fold_of = kfold.assign_folds(data["fine"], 3, seed=42)
    pretrained = object()
    work_dir = tmp_path / "net" / "fold_1"
    record = kfold.train_fold(
        data, fold_of, 1, MODEL, {**TRAIN, "epochs": 2}, name="net_fold_1", work_dir=work_dir,
        fingerprint="f1", pretrained=pretrained, device_settings={"seed": 1},
    )  # fmt: skip
    (call,) = fits
    assert len(call["train"]["fine"]) == 40 and len(call["validation"]["fine"]) == 20
    assert np.array_equal(call["validation"]["images"], data["images"][fold_of == 1])
    assert call["stats"]["num_images"] == 40  # statistics of the fold's training part only
    assert call["architecture"] == "net_fold_1" and call["work_dir"] == work_dir
    assert call["pretrained"] is pretrained and call["device_settings"] == {"seed": 1}
    held_out = data["fine"][fold_of == 1]
    assert record["fold"] == 1 and record["fingerprint"] == "f1"
    assert record["accuracy"] == pytest.approx(np.mean(held_out == 0))
    expected_loss = np.mean(np.where(held_out == 0, -np.log(0.7), -np.log(0.1)))
    assert record["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert (record["train_images"], record["held_out_images"], record["epochs_run"]) == (40, 20, 2)


def test_inner_validation_keeps_the_held_out_fold_unseen_and_state_is_optional(fits, tmp_path):
    data = dataset()
    fold_of = kfold.assign_folds(data["fine"], 3, seed=42)
    work_dir = tmp_path / "fold_0"
    work_dir.mkdir()
    kfold.train_fold(
        data, fold_of, 0, MODEL, TRAIN, name="n", work_dir=work_dir, fingerprint="f",
        inner_validation_fraction=0.25,
    )  # fmt: skip
    assert (len(fits[0]["train"]["fine"]), len(fits[0]["validation"]["fine"])) == (30, 10)
    held_out = set(map(bytes, data["images"][fold_of == 0]))
    assert not held_out & set(map(bytes, fits[0]["validation"]["images"]))
    assert not work_dir.exists()  # a finished fold's run folder is removed ...
    work_dir.mkdir()
    kfold.train_fold(
        data, fold_of, 0, MODEL, TRAIN, name="n", work_dir=work_dir, fingerprint="f",
        keep_state=True,
    )  # fmt: skip
    assert work_dir.exists()  # ... unless asked to keep it
