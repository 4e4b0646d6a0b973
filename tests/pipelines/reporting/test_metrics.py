"""Metric nodes against small hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cifar100_kedro.pipelines.reporting import metrics as m
from tests.pipelines.reporting.fakes import FakeModel, make_history, make_summary

# 4 samples, 3 classes. argmax: 0, 2, 1, 1. labels: 0, 1, 1, 2 -> 2 correct of 4.
PROBS = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.3, 0.6],
        [0.2, 0.5, 0.3],
        [0.4, 0.5, 0.1],
    ],
    dtype=np.float32,
)
LABELS = np.array([0, 1, 1, 2])


def test_accuracy_hand_computed():
    assert m.accuracy(LABELS, PROBS.argmax(axis=1)) == pytest.approx(0.5)


def test_top_k_accuracy_hand_computed():
    # top-2 sets: {0,1}, {2,1}, {1,2}, {1,0}; label 2 of the last sample is missing -> 3/4
    assert m.top_k_accuracy(LABELS, PROBS, k=2) == pytest.approx(0.75)
    assert m.top_k_accuracy(LABELS, PROBS, k=1) == pytest.approx(0.5)
    # k >= number of classes: every label is in the top k
    assert m.top_k_accuracy(LABELS, PROBS, k=5) == 1.0


def test_top_k_counts_classes_absent_from_labels():
    # labels use only classes 0 and 1, but the model scores 3 classes
    probs = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    assert m.top_k_accuracy(np.array([0, 1]), probs, k=2) == pytest.approx(0.5)


def test_cross_entropy_hand_computed():
    expected = -np.mean(np.log([0.7, 0.3, 0.5, 0.1]))
    assert m.cross_entropy(LABELS, PROBS) == pytest.approx(expected, rel=1e-5)


def test_coarse_mapping():
    mapping = [0, 0, 1, 1, 2, 2]
    assert m.map_to_coarse(np.array([0, 1, 2, 5, 4]), mapping).tolist() == [0, 0, 1, 2, 2]
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        m.map_to_coarse(np.array([6]), mapping)


def test_confusion_counts_include_unseen_classes():
    counts = m.confusion_counts(LABELS, PROBS.argmax(axis=1), 4)
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 0] = 1  # true 0 -> 0
    expected[1, 2] = 1  # true 1 -> 2
    expected[1, 1] = 1  # true 1 -> 1
    expected[2, 1] = 1  # true 2 -> 1
    np.testing.assert_array_equal(counts, expected)


def test_validation_names_both_shapes_for_length_mismatch():
    with pytest.raises(ValueError) as err:
        m.validate_predictions(np.full((5, 3), 1 / 3), np.zeros(4, int), 3, "khanna_vgg_cnn")
    message = str(err.value)
    assert "'khanna_vgg_cnn'" in message and "(5, 3)" in message and "(4,)" in message


def test_validation_names_both_shapes_for_class_count_mismatch():
    with pytest.raises(ValueError) as err:
        m.validate_predictions(np.full((4, 10), 0.1), np.zeros(4, int), 3, "toy")
    message = str(err.value)
    assert "(4, 10)" in message and "(4,)" in message and "3 class names" in message


@pytest.mark.parametrize(
    "probs, message",
    [
        (np.zeros(4), "2-D"),
        (np.full((4, 3), 2.0), "not class probabilities"),
        (np.full((4, 3), np.nan), "NaN"),
    ],
)
def test_validation_rejects_non_probabilities(probs, message):
    with pytest.raises(ValueError, match=message):
        m.validate_predictions(probs, np.zeros(4, int), 3, "toy")


def test_validation_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        m.validate_predictions(PROBS, np.array([0, 1, 2, 3]), 3, "toy")


def test_predict_test_set_fine_model_maps_coarse(label_names, split, reporting):
    model = FakeModel(6)
    out = m.predict_test_set(model, split, label_names, make_summary(), reporting)
    assert model.calls == 1
    assert out["probabilities"].dtype == np.float32 and out["probabilities"].shape == (18, 6)
    np.testing.assert_array_equal(out["labels"], split["fine"])
    mapping = np.asarray(label_names["fine_to_coarse"])
    np.testing.assert_array_equal(out["coarse_predicted"], mapping[out["predicted"]])
    np.testing.assert_array_equal(out["coarse_labels"], split["coarse"])
    assert str(out["label_mode"]) == "fine"


def test_predict_test_set_coarse_model_uses_coarse_labels(label_names, split, reporting):
    out = m.predict_test_set(
        FakeModel(3),
        split,
        label_names,
        make_summary(label_mode="coarse", num_classes=3),
        reporting,
    )
    np.testing.assert_array_equal(out["labels"], split["coarse"])
    np.testing.assert_array_equal(out["coarse_predicted"], out["predicted"])


def test_predict_test_set_rejects_wrong_class_count(label_names, split, reporting):
    with pytest.raises(ValueError, match=r"\(18, 100\).*\(18,\)"):
        m.predict_test_set(FakeModel(100), split, label_names, make_summary(), reporting)


def test_predict_test_set_rejects_wrong_mapping(label_names, split, reporting):
    bad = dict(label_names, fine_to_coarse=[0, 1, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="fine_to_coarse disagrees"):
        m.predict_test_set(FakeModel(6), split, bad, make_summary(), reporting)


def _predictions(label_names, probs, fine):
    split = {
        "images": np.zeros((len(fine), 32, 32, 3), np.uint8),
        "fine": fine,
        "coarse": np.asarray(label_names["fine_to_coarse"])[fine],
    }
    return m.assemble_predictions(probs, split, label_names, "fine", "toy")


def test_compute_metrics_fine_hand_computed(label_names):
    fine = np.array([0, 1, 2, 3])
    probs = np.full((4, 6), 0.02, dtype=np.float32)
    probs[0, 0] = probs[1, 0] = probs[2, 3] = probs[3, 3] = (
        0.9  # right, wrong(same super), wrong, right
    )
    probs[1, 1] = 0.05  # sample 1: second choice is its label -> counts for top-2
    probs = probs / probs.sum(axis=1, keepdims=True)
    pred = _predictions(label_names, probs, fine)
    metrics = m.compute_metrics(pred, make_summary(), make_history(), label_names, {"top_k": 2})
    assert metrics["accuracy"] == pytest.approx(0.5)
    assert metrics["top_k_accuracy"] == pytest.approx(0.75)
    # superclasses: labels 0,0,1,1 ; predicted 0->0, 0->0, 3->1, 3->1 : all right
    assert metrics["coarse_accuracy"] == pytest.approx(1.0)
    assert metrics["coarse_top_k_accuracy"] is None and metrics["coarse_loss"] is None
    assert metrics["best_epoch"] == 2 and metrics["epochs_run"] == 4
    assert metrics["best_val_accuracy"] == pytest.approx(make_history()["val_accuracy"][1])
    assert metrics["total_params"] == 1300 and metrics["training_seconds"] == 12.5
    assert metrics["namespace"] == "toy_cnn" and metrics["test_samples"] == 4
    low, high = metrics["accuracy_ci"]  # 2 of 4 right: resamples range over 0..1
    assert 0.0 <= low < 0.5 < high <= 1.0 and metrics["ci_confidence"] == 0.95
    assert metrics["coarse_accuracy_ci"] == [1.0, 1.0]  # all right: no spread
    assert set(metrics) == set(m.Metrics.__annotations__)  # the documented schema, exactly


def test_compute_metrics_coarse_model_has_null_fine_metrics(label_names, split, reporting):
    summary = make_summary("toy_coarse", "coarse", 3)
    pred = m.predict_test_set(FakeModel(3), split, label_names, summary, reporting)
    metrics = m.compute_metrics(pred, summary, make_history(), label_names, reporting)
    assert (
        metrics["accuracy"] is None
        and metrics["top_k_accuracy"] is None
        and metrics["loss"] is None
    )
    probs, labels = pred["probabilities"], pred["labels"]
    assert metrics["coarse_accuracy"] == pytest.approx(m.accuracy(labels, probs.argmax(axis=1)))
    assert metrics["coarse_top_k_accuracy"] == pytest.approx(m.top_k_accuracy(labels, probs, 2))
    assert metrics["coarse_loss"] == pytest.approx(m.cross_entropy(labels, probs))
    assert metrics["label_mode"] == "coarse" and metrics["num_classes"] == 3
    assert set(metrics) == set(m.Metrics.__annotations__)


def test_metrics_name_the_namespace_from_old_and_new_summaries(label_names, split, reporting):
    new = make_summary("toy_new")
    old = {k: v for k, v in make_summary().items() if k != "namespace"}
    old["architecture"] = "toy_old"  # the engine's key before it became "namespace"
    for summary, name in ((new, "toy_new"), (old, "toy_old")):
        pred = m.predict_test_set(FakeModel(6), split, label_names, summary, reporting)
        metrics = m.compute_metrics(pred, summary, make_history(), label_names, reporting)
        assert metrics["namespace"] == name and "architecture" not in metrics


def test_compute_metrics_rejects_mismatched_predictions(label_names):
    pred = {"probabilities": np.full((5, 6), 1 / 6), "labels": np.zeros(4, int)}
    with pytest.raises(ValueError, match=r"\(5, 6\).*\(4,\)"):
        m.compute_metrics(pred, make_summary(), make_history(), label_names, {})


def test_confusion_tables(label_names):
    fine = np.array([0, 1, 2, 3])
    probs = np.eye(6, dtype=np.float32)[[0, 0, 3, 3]] * 0.9 + 0.1 / 6
    pred = _predictions(label_names, probs, fine)
    table = m.confusion_matrix_table(pred, label_names, make_summary())
    assert list(table.columns) == ["true \\ predicted", *label_names["fine"]]
    counts = table.iloc[:, 1:].to_numpy()
    assert counts.sum() == 4 and counts[1, 0] == 1 and counts[2, 3] == 1 and np.trace(counts) == 2
    coarse = m.coarse_confusion_matrix_table(pred, label_names).iloc[:, 1:].to_numpy()
    np.testing.assert_array_equal(coarse, [[2, 0, 0], [0, 2, 0], [0, 0, 0]])


def test_classification_report_and_best_worst(label_names):
    fine = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    predicted = np.array([0, 0, 1, 0, 2, 2, 3, 3, 5, 4, 4, 4])
    probs = np.eye(6, dtype=np.float32)[predicted]
    pred = _predictions(label_names, probs, fine)
    report = m.classification_report_table(pred, label_names, make_summary())
    assert list(report["class"])[-2:] == ["macro avg", "weighted avg"]
    assert len(report) == 6 + 2
    row0 = report.iloc[0]  # class 0: predicted 3x (2 right), 2 true -> precision 2/3, recall 1
    assert row0["precision"] == pytest.approx(2 / 3) and row0["recall"] == pytest.approx(1.0)
    assert report.iloc[5]["f1-score"] == 0.0 and report["support"].iloc[:6].tolist() == [2] * 6
    best_worst = m.best_worst_classes(report, {"best_worst_n": 2})
    assert best_worst["group"].tolist() == ["best", "best", "worst", "worst"]
    assert best_worst["class"].tolist()[:2] == ["class_2", "class_3"]  # perfect F1, by name
    assert best_worst["class"].tolist()[-1] == "class_5"


def test_best_worst_with_few_classes_lists_each_once(label_names):
    report = pd.DataFrame(
        {
            "class": ["a", "b", "c", "macro avg"],
            "class_index": pd.array([0, 1, 2, None], dtype="Int64"),
            "precision": [0.5, 0.9, 0.1, 0.5],
            "recall": [0.5, 0.9, 0.1, 0.5],
            "f1-score": [0.5, 0.9, 0.1, 0.5],
            "support": [1, 1, 1, 3],
        }
    )
    table = m.best_worst_classes(report, {"best_worst_n": 10})
    assert table["class"].tolist() == ["b", "a", "c"]
    assert table["group"].tolist() == ["best", "best", "worst"]


def test_predict_test_set_uses_flip_tta_when_the_recipe_asks():
    """A model that only sees the left half: TTA averages it with the mirrored view."""
    from cifar100_kedro.pipelines.reporting.metrics import predict_test_set

    class LeftHalf:
        def predict(self, images, batch_size=256, verbose=0):
            left = images[:, :, :2, 0].mean(axis=(1, 2)) > 100
            return np.stack([left, ~left], axis=1).astype(np.float32)

    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[0, :, :2] = 255  # bright left half: plain says class 0, mirror says class 1
    split = {"images": images, "fine": np.array([0, 1]), "coarse": np.array([0, 0])}
    names = {"fine": ["a", "b"], "coarse": ["x"], "fine_to_coarse": [0, 0]}
    summary = {"namespace": "m", "label_mode": "fine", "num_classes": 2}
    plain = predict_test_set(LeftHalf(), split, names, summary, {"batch_size": 2})
    tta = predict_test_set(LeftHalf(), split, names, {**summary, "tta": True}, {"batch_size": 2})
    np.testing.assert_allclose(plain["probabilities"][0], [1.0, 0.0])
    np.testing.assert_allclose(tta["probabilities"][0], [0.5, 0.5])


def test_bootstrap_interval_matches_the_binomial_spread_and_is_reproducible() -> None:
    from cifar100_kedro.pipelines.reporting.metrics import bootstrap_accuracy_interval

    correct = np.zeros(10_000, dtype=bool)
    correct[:3_000] = True  # accuracy 0.30
    low, high = bootstrap_accuracy_interval(correct, resamples=2000, confidence=0.95, seed=1)
    # Normal approximation of the binomial: 0.30 ± 1.96·sqrt(0.3·0.7/10,000) = ± 0.00898.
    half = 1.96 * np.sqrt(0.3 * 0.7 / 10_000)
    assert low == pytest.approx(0.30 - half, abs=0.002)
    assert high == pytest.approx(0.30 + half, abs=0.002)
    assert [low, high] == bootstrap_accuracy_interval(correct, 2000, 0.95, seed=1)
    assert bootstrap_accuracy_interval(np.ones(5, dtype=bool)) == [1.0, 1.0]


@pytest.mark.parametrize(
    ("bootstrap", "message"),
    [
        ({"resamples": 10}, "reporting.bootstrap.resamples"),
        ({"confidence": 95}, "reporting.bootstrap.confidence"),
        ({"samples": 1000}, "reporting.bootstrap': unknown"),
    ],
)
def test_bad_bootstrap_settings_name_the_parameter(bootstrap, message) -> None:
    from cifar100_kedro.pipelines.reporting.metrics import _bootstrap_settings

    with pytest.raises(ValueError, match=message):
        _bootstrap_settings({"bootstrap": bootstrap})
