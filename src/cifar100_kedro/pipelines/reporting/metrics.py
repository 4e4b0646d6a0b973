"""Test-set predictions and the metrics computed from them.

Everything here is a pure function over arrays (``probabilities`` float N×C, integer
``labels`` of length N, class names passed in), except :func:`predict_test_set`, the one node
that runs a model. No function assumes 100 classes: a 20-class coarse model or a 5-class fish
model goes through the same code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    log_loss,
    top_k_accuracy_score,
)

logger = logging.getLogger(__name__)

LABEL_MODES = ("fine", "coarse")
# Rows of a softmax output sum to 1 up to float32 rounding; anything further off is not a
# probability vector (logits, a wrong model head, a corrupted file).
_ROW_SUM_TOLERANCE = 1e-3


class Metrics(TypedDict):
    """The schema of ``data/08_reporting/<namespace>/metrics.json`` (:func:`compute_metrics`).

    Every key is always present; ``None`` (``null``) means "does not apply to this model".
    Accuracies are fractions in [0, 1]; losses mean categorical cross-entropy (natural log);
    scores are on the test set except ``best_val_*``. (Table: the reporting README.)
    """

    namespace: str  # the Kedro namespace (the registry's Architecture.namespace)
    builder: str | None  # the registered model builder the recipe names
    seed: int | None  # the seed it was trained with (training_run.seeds; None: not recorded)
    label_mode: str  # "fine" (the dataset's classes) | "coarse" (20 superclasses)
    num_classes: int  # classes the model predicts (100, 20, 5 for the fish subset)
    test_samples: int  # test images scored
    top_k: int  # the k of top_k_accuracy / coarse_top_k_accuracy
    accuracy: float | None  # fine labels; None for a coarse-label model
    top_k_accuracy: float | None  # fine labels; None for a coarse-label model
    loss: float | None  # fine labels; None for a coarse-label model
    coarse_accuracy: float | None  # fine predictions mapped to superclasses, or a coarse
    # model's own; None without superclasses
    coarse_top_k_accuracy: float | None  # a coarse-label model's; None for fine-label models
    coarse_loss: float | None  # a coarse-label model's; None for fine-label models
    trainable_params: int | None  # from the training summary
    total_params: int | None  # from the training summary
    epochs_requested: int | None  # epochs the recipe allowed
    epochs_run: int | None  # epochs run (early stopping stops sooner)
    best_epoch: int | None  # the epoch whose weights were kept (1-based)
    best_val_accuracy: float | None  # validation, at best_epoch, in the model's label space
    best_val_loss: float | None  # validation, at best_epoch, in the model's label space
    training_seconds: float | None  # training wall-clock time, resumed epochs included
    batch_size: int | None  # training batch size
    protocol: str  # "holdout" | "paper": how training used the data (architectures.PROTOCOLS)
    accuracy_ci: list[float] | None  # [low, high]: bootstrap over the test images (fine)
    coarse_accuracy_ci: list[float] | None  # the same for coarse_accuracy
    ci_confidence: float  # the intervals' confidence level (reporting.bootstrap.confidence)


# ------------------------------------------------------------------ validation
def validate_predictions(
    probabilities: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    name: str,
    label_kind: str = "test",
) -> None:
    """Fail with a clear message unless ``probabilities`` (N×C) fits ``labels`` (N,) and C classes.

    The message names both shapes, e.g. ``predictions for 'khanna_vgg_cnn' have shape
    (500, 100) but test labels have shape (400,)``.
    """
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"{label_kind} labels for {name!r} must be one-dimensional, got shape {labels.shape}"
        )
    if probabilities.ndim != 2:
        raise ValueError(
            f"predictions for {name!r} must be a 2-D array (samples × classes) but have shape "
            f"{probabilities.shape}; {label_kind} labels have shape {labels.shape}"
        )
    if probabilities.shape[0] != labels.shape[0]:
        raise ValueError(
            f"predictions for {name!r} have shape {probabilities.shape} but {label_kind} labels "
            f"have shape {labels.shape}"
        )
    if probabilities.shape[1] != num_classes:
        raise ValueError(
            f"predictions for {name!r} have shape {probabilities.shape} ({probabilities.shape[1]} "
            f"classes) but there are {num_classes} class names for {label_kind} labels of shape "
            f"{labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{label_kind} labels for {name!r} (shape {labels.shape}) must lie in "
            f"[0, {num_classes - 1}], found [{labels.min()}, {labels.max()}]"
        )
    if not np.all(np.isfinite(probabilities)):
        raise ValueError(f"predictions for {name!r} (shape {probabilities.shape}) contain NaN/inf")
    if probabilities.size:
        row_sums = probabilities.sum(axis=1, dtype=np.float64)
        worst = float(np.max(np.abs(row_sums - 1.0)))
        if probabilities.min() < 0 or worst > _ROW_SUM_TOLERANCE:
            raise ValueError(
                f"predictions for {name!r} (shape {probabilities.shape}) are not class "
                f"probabilities: rows must be non-negative and sum to 1 (worst row sum is off "
                f"by {worst:.3g}); did the model end in a softmax?"
            )


def _check_mapping(fine_to_coarse: Sequence[int], num_fine: int, num_coarse: int) -> np.ndarray:
    mapping = np.asarray(fine_to_coarse, dtype=np.int64)
    if mapping.shape != (num_fine,):
        raise ValueError(
            f"fine_to_coarse has shape {mapping.shape} but there are {num_fine} fine classes"
        )
    if mapping.size and (mapping.min() < 0 or mapping.max() >= num_coarse):
        raise ValueError(
            f"fine_to_coarse values must lie in [0, {num_coarse - 1}], "
            f"found [{mapping.min()}, {mapping.max()}]"
        )
    return mapping


def label_mode_of(training_summary: dict[str, Any]) -> str:
    """The label mode (``fine``/``coarse``) a model was trained on, from its training summary."""
    mode = training_summary.get("label_mode", "fine")
    if mode not in LABEL_MODES:
        raise ValueError(f"training_summary label_mode must be one of {LABEL_MODES}, got {mode!r}")
    return mode


def model_name_of(training_summary: dict[str, Any]) -> str:
    """The name reports show for a model: its Kedro namespace (the summary's ``namespace``).

    ``architecture`` is the engine's name for that key before it was renamed; it is read while
    summaries written by older runs are around.
    """
    name = training_summary.get("namespace") or training_summary.get("architecture")
    return str(name or training_summary.get("builder") or "model")


def has_coarse(
    label_names: dict[str, Any], test_split: dict[str, np.ndarray] | None = None
) -> bool:
    """Whether superclass names, the fine→coarse mapping (and coarse test labels) are available."""
    ok = "coarse" in label_names and "fine_to_coarse" in label_names
    return ok and (test_split is None or "coarse" in test_split)


# ------------------------------------------------------------------ small metrics
def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Fraction of samples whose predicted class equals the label."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return float("nan")
    return float(accuracy_score(labels, predicted))


def top_k_accuracy(labels: np.ndarray, probabilities: np.ndarray, k: int = 5) -> float:
    """Fraction of samples whose label is among the ``k`` most probable classes.

    With ``k`` at least the number of classes every sample counts (the score is 1).
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities)
    num_classes = probabilities.shape[1]
    if labels.size == 0:
        return float("nan")
    if k >= num_classes:
        return 1.0
    if num_classes == 2:  # sklearn's binary case wants a 1-D score; k must be 1 here
        return accuracy(labels, probabilities.argmax(axis=1))
    return float(top_k_accuracy_score(labels, probabilities, k=k, labels=np.arange(num_classes)))


def cross_entropy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean categorical cross-entropy (natural log), as Keras reports ``loss``."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return float("nan")
    probs = np.asarray(probabilities, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)  # float32 softmax rounding
    return float(log_loss(labels, probs, labels=np.arange(probs.shape[1])))


def map_to_coarse(fine: np.ndarray, fine_to_coarse: Sequence[int]) -> np.ndarray:
    """Map fine class indices to their superclass through the fine→coarse table."""
    mapping = np.asarray(fine_to_coarse, dtype=np.int64)
    fine = np.asarray(fine, dtype=np.int64)
    if fine.size and (fine.min() < 0 or fine.max() >= mapping.size):
        raise ValueError(
            f"fine class indices must lie in [0, {mapping.size - 1}], "
            f"found [{fine.min()}, {fine.max()}]"
        )
    return mapping[fine]


def confusion_counts(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """C×C counts: row = true class, column = predicted class (every class, even if unseen)."""
    return confusion_matrix(labels, predicted, labels=np.arange(num_classes))


# ------------------------------------------------------------------ nodes
def predict_test_set(
    model: Any,
    test_split: dict[str, np.ndarray],
    label_names: dict[str, Any],
    training_summary: dict[str, Any],
    reporting: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Run the model once over the test images; return what every report needs.

    A summary with ``tta: true`` (from the recipe) averages each image's prediction with its
    mirror's (``training.tta``). Returns ``probabilities`` (float32 N×C), ``labels`` and
    ``predicted`` (in the model's own label space: fine, or coarse for a coarse-label model),
    ``label_mode``, and where the data has superclasses, ``coarse_labels`` and
    ``coarse_predicted`` (fine predictions mapped through ``fine_to_coarse``; for a coarse
    model, its own predictions).
    """
    name = model_name_of(training_summary)
    mode = label_mode_of(training_summary)
    images = np.asarray(test_split["images"])
    labels = np.asarray(test_split[mode], dtype=np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"test images have shape {images.shape} but {mode} test labels have shape "
            f"{labels.shape}"
        )
    batch_size = int(reporting.get("batch_size", 256))
    logger.info("%s: predicting %d test images (%s labels)", name, len(images), mode)
    # Imported here: it brings TensorFlow, which the rest of this module does not need.
    from cifar100_kedro.training.tta import predict_probabilities

    start = time.perf_counter()
    # Flip TTA where the recipe asks for it (e.g. resnet9_fast).
    probabilities = predict_probabilities(
        model, images, tta=bool(training_summary.get("tta")), batch_size=batch_size
    )
    logger.info(
        "%s: test predictions done in %.1f s%s",
        name,
        time.perf_counter() - start,
        " (with flip TTA)" if training_summary.get("tta") else "",
    )
    return assemble_predictions(probabilities, test_split, label_names, mode, name)


def assemble_predictions(
    probabilities: np.ndarray,
    test_split: dict[str, np.ndarray],
    label_names: dict[str, Any],
    label_mode: str,
    name: str,
) -> dict[str, np.ndarray]:
    """Validate probabilities against the test labels and build the persisted predictions dict."""
    labels = np.asarray(test_split[label_mode], dtype=np.int64)
    validate_predictions(probabilities, labels, len(label_names[label_mode]), name)
    probabilities = probabilities.astype(np.float32, copy=False)
    predicted = probabilities.argmax(axis=1).astype(np.int64)
    out = {
        "probabilities": probabilities,
        "labels": labels,
        "predicted": predicted,
        "label_mode": np.array(label_mode),
    }
    if has_coarse(label_names, test_split):
        coarse_labels = np.asarray(test_split["coarse"], dtype=np.int64)
        if label_mode == "coarse":
            coarse_predicted = predicted
        else:
            mapping = _check_mapping(
                label_names["fine_to_coarse"], len(label_names["fine"]), len(label_names["coarse"])
            )
            derived = mapping[labels]
            if labels.size and not np.array_equal(derived, coarse_labels):
                bad = int(np.sum(derived != coarse_labels))
                raise ValueError(
                    f"label_names.fine_to_coarse disagrees with the test split's coarse labels "
                    f"for {bad} of {labels.size} samples; the superclass mapping is wrong"
                )
            coarse_predicted = mapping[predicted]
        out["coarse_labels"] = coarse_labels
        out["coarse_predicted"] = np.asarray(coarse_predicted, dtype=np.int64)
    return out


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def bootstrap_accuracy_interval(
    correct: np.ndarray, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> list[float]:
    """``[low, high]``: a percentile bootstrap interval of accuracy over the test images.

    One run's test accuracy is a mean of per-image 0/1 outcomes; resampling the images with
    replacement (scipy.stats.bootstrap) shows how much it would move on another test set of
    the same size. It says nothing about another training seed (that needs repeated runs).
    The percentile method: BCa's jackknife is quadratic in the 10,000 test images.
    """
    from scipy.stats import bootstrap

    outcomes = np.asarray(correct, dtype=float)
    if outcomes.size < 2 or np.all(outcomes == outcomes[0]):
        value = float(outcomes.mean()) if outcomes.size else float("nan")
        return [value, value]  # no spread to resample
    result = bootstrap(
        (outcomes,),
        np.mean,
        n_resamples=int(resamples),
        confidence_level=float(confidence),
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return [_round(interval.low), _round(interval.high)]


def _bootstrap_settings(reporting: Mapping[str, Any]) -> dict[str, Any]:
    settings = dict(reporting.get("bootstrap") or {})
    unknown = set(settings) - {"resamples", "confidence", "seed"}
    if unknown:
        raise ValueError(f"parameter 'reporting.bootstrap': unknown key(s) {sorted(unknown)}")
    resamples = settings.get("resamples", 1000)
    confidence = settings.get("confidence", 0.95)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise ValueError(
            f"parameter 'reporting.bootstrap.resamples': {resamples!r} is not an integer >= 100"
        )
    if not isinstance(confidence, float) or not 0 < confidence < 1:
        raise ValueError(
            f"parameter 'reporting.bootstrap.confidence': {confidence!r} is not in (0, 1)"
        )
    return {"resamples": resamples, "confidence": confidence, "seed": int(settings.get("seed", 0))}


def compute_metrics(
    predictions: dict[str, np.ndarray],
    training_summary: dict[str, Any],
    history: pd.DataFrame,
    label_names: dict[str, Any],
    reporting: dict[str, Any],
) -> Metrics:
    """The per-architecture ``metrics.json`` (schema: :class:`Metrics`).

    Args:
        predictions: :func:`predict_test_set`'s output.
        training_summary: the engine's summary (namespace, label mode, parameters, epochs …).
        history: the per-epoch history (for the best epoch's validation scores).
        label_names: class names (``fine``, ``coarse``, ``fine_to_coarse``).
        reporting: the ``reporting`` parameters (``top_k``).

    Returns:
        The metrics, every key of :class:`Metrics` present (``None`` where not applicable).
    """
    name = model_name_of(training_summary)
    mode = label_mode_of(training_summary)
    k = int(reporting.get("top_k", 5))
    probabilities = np.asarray(predictions["probabilities"])
    labels = np.asarray(predictions["labels"])
    num_classes = len(label_names[mode])
    validate_predictions(probabilities, labels, num_classes, name)
    scores = {
        "accuracy": accuracy(labels, probabilities.argmax(axis=1)),
        "top_k_accuracy": top_k_accuracy(labels, probabilities, k),
        "loss": cross_entropy(labels, probabilities),
    }
    fine = mode == "fine"
    coarse_acc = None if fine else scores["accuracy"]
    if fine and "coarse_labels" in predictions and "coarse_predicted" in predictions:
        coarse_acc = accuracy(predictions["coarse_labels"], predictions["coarse_predicted"])
    best_row = _best_epoch_row(history, training_summary.get("best_epoch"))
    bootstrap = _bootstrap_settings(reporting)
    hits = labels == probabilities.argmax(axis=1)
    if not fine:
        coarse_hits = hits  # a coarse-label model's own predictions are superclasses
    elif coarse_acc is not None:
        coarse_hits = np.asarray(predictions["coarse_labels"]) == predictions["coarse_predicted"]
    else:
        coarse_hits = None
    return {
        "namespace": name,
        "builder": training_summary.get("builder"),
        "seed": training_summary.get("seed"),
        "label_mode": mode,
        "num_classes": num_classes,
        "test_samples": int(labels.size),
        "top_k": k,
        "accuracy": _round(scores["accuracy"]) if fine else None,
        "top_k_accuracy": _round(scores["top_k_accuracy"]) if fine else None,
        "loss": _round(scores["loss"]) if fine else None,
        "coarse_accuracy": _round(coarse_acc),
        "coarse_top_k_accuracy": None if fine else _round(scores["top_k_accuracy"]),
        "coarse_loss": None if fine else _round(scores["loss"]),
        "trainable_params": training_summary.get("trainable_params"),
        "total_params": training_summary.get("total_params"),
        "epochs_requested": training_summary.get("epochs_requested"),
        "epochs_run": training_summary.get("epochs_run"),
        "best_epoch": training_summary.get("best_epoch"),
        "best_val_accuracy": _round(best_row.get("val_accuracy")),
        "best_val_loss": _round(best_row.get("val_loss")),
        "training_seconds": _round(training_summary.get("training_seconds"), 2),
        "batch_size": training_summary.get("batch_size"),
        "protocol": training_summary.get("protocol", "holdout"),
        "accuracy_ci": bootstrap_accuracy_interval(hits, **bootstrap) if fine else None,
        "coarse_accuracy_ci": None
        if coarse_hits is None
        else bootstrap_accuracy_interval(coarse_hits, **bootstrap),
        "ci_confidence": bootstrap["confidence"],
    }


def _best_epoch_row(history: pd.DataFrame | None, best_epoch: int | None) -> dict[str, Any]:
    """The history row of ``best_epoch`` as a dict (empty if there is none)."""
    if best_epoch is None or history is None or "epoch" not in history:
        return {}
    rows = history[history["epoch"] == best_epoch]
    return rows.iloc[0].to_dict() if len(rows) else {}


def _validated_class_names(
    predictions: dict[str, np.ndarray],
    label_names: dict[str, Any],
    training_summary: dict[str, Any],
) -> list[str]:
    """The class names of the model's own label space, once its predictions are checked."""
    names = list(label_names[label_mode_of(training_summary)])
    validate_predictions(
        predictions["probabilities"],
        predictions["labels"],
        len(names),
        model_name_of(training_summary),
    )
    return names


def _named_confusion(counts: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(counts, index=list(names), columns=list(names))
    frame.index.name = "true \\ predicted"
    return frame.reset_index()


def confusion_matrix_table(
    predictions: dict[str, np.ndarray],
    label_names: dict[str, Any],
    training_summary: dict[str, Any],
) -> pd.DataFrame:
    """Confusion counts in the model's own label space, rows true, columns predicted, named."""
    names = _validated_class_names(predictions, label_names, training_summary)
    counts = confusion_counts(predictions["labels"], predictions["predicted"], len(names))
    return _named_confusion(counts, names)


def coarse_confusion_matrix_table(
    predictions: dict[str, np.ndarray], label_names: dict[str, Any]
) -> pd.DataFrame:
    """Superclass confusion counts (fine predictions mapped through fine→coarse)."""
    names = list(label_names["coarse"])
    if "coarse_labels" not in predictions:
        raise ValueError("predictions have no coarse labels: the test split has no superclasses")
    counts = confusion_counts(
        predictions["coarse_labels"], predictions["coarse_predicted"], len(names)
    )
    return _named_confusion(counts, names)


def classification_report_table(
    predictions: dict[str, np.ndarray],
    label_names: dict[str, Any],
    training_summary: dict[str, Any],
) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, then the macro and weighted averages."""
    names = _validated_class_names(predictions, label_names, training_summary)
    report = classification_report(
        predictions["labels"],
        predictions["predicted"],
        labels=np.arange(len(names)),
        target_names=names,
        output_dict=True,
        zero_division=0,
    )
    rows = []
    for index, name in enumerate(names):
        rows.append({"class": name, "class_index": index, **report[name]})
    for avg in ("macro avg", "weighted avg"):
        rows.append({"class": avg, "class_index": None, **report[avg]})
    frame = pd.DataFrame(
        rows, columns=["class", "class_index", "precision", "recall", "f1-score", "support"]
    )
    frame["class_index"] = frame["class_index"].astype("Int64")
    frame["support"] = frame["support"].astype(int)
    return frame


def best_worst_classes(report: pd.DataFrame, reporting: dict[str, Any]) -> pd.DataFrame:
    """The ``best_worst_n`` classes with the highest and the lowest F1 (ties: recall, name).

    With fewer than twice that many classes, every class appears once, ranked.
    """
    n = int(reporting.get("best_worst_n", 10))
    classes = report[report["class_index"].notna()].copy()
    classes = classes.sort_values(
        ["f1-score", "recall", "class"], ascending=[False, False, True], kind="mergesort"
    ).reset_index(drop=True)
    classes["rank"] = np.arange(1, len(classes) + 1)
    if len(classes) <= 2 * n:
        classes["group"] = np.where(classes["rank"] <= (len(classes) + 1) // 2, "best", "worst")
        picked = classes
    else:
        best = classes.head(n).assign(group="best")
        worst = classes.tail(n).assign(group="worst")
        picked = pd.concat([best, worst], ignore_index=True)
    return picked[
        ["group", "rank", "class", "class_index", "precision", "recall", "f1-score", "support"]
    ]
