"""Nodes of the cross_validation pipeline (paper 003, Section IV).

The official training set (``train_split`` + ``validation_split``) is shuffled once with a
fixed seed and cut into K folds, the same folds for every model. Each architecture is
trained from scratch on every K − 1 folds by the one training engine (``fit_model``) with its
own recipe (``<namespace>.model`` / ``<namespace>.train``), and scored on the held-out fold.
The statistics nodes are pure functions of the persisted per-fold table.

Choices where the paper is silent or the brief leaves room (all parameters):

* Folds: ``sklearn.model_selection.KFold(shuffle=True, random_state=seed)`` (paper: images
  shuffled once with seed 42, then 5 folds, no further shuffling); ``stratify: true`` uses
  ``StratifiedKFold`` on the fine labels instead.
* Fresh model per fold: ``keras.backend.clear_session()`` (the paper resets the TensorFlow
  graph), then the engine builds new weights from the recipe's seed.
* Normalisation statistics come from the fold's training part only.
* What the engine sees as validation data: by default the held-out fold (the paper trains
  with no early stopping, so validation data is only watched). A recipe whose callbacks
  select on validation metrics (early stopping with ``restore_best_weights``,
  ``reduce_lr_on_plateau``) would then tune on the held-out fold and bias its score: a
  warning says so, and ``inner_validation_fraction`` (e.g. 0.1) gives those callbacks a
  random part of the fold's training data instead.
* Held-out scores: accuracy, and the mean cross-entropy of the predicted probabilities
  (Keras' sparse categorical cross-entropy, without the L2 penalty and without label
  smoothing), of the model ``fit_model`` returns (last epoch, unless the recipe restores
  the best weights).
* Transfer models (paper 003's ``chakraborti_t_arch1/2``): a recipe with
  ``train.pretrained_model_path`` is trained by ``fit_transfer_model`` (the saved
  autoencoder's weights copied in, per fold); the file must exist before the run (``kedro
  run --pipeline=autoencoder``), and its checksum is part of each fold's fingerprint.
  Other special trainers plug in through ``register_fold_trainer``.
* Resumable: each finished fold is recorded in ``<work_dir>/<namespace>/fold<k>.json`` with a
  fingerprint of the recipe, the data and the fold; a rerun reuses matching records and
  trains only the rest. An interrupted fold resumes from its last epoch when the recipe has
  ``backup_and_restore``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from cifar100_kedro.pipelines.cross_validation import statistics
from cifar100_kedro.pipelines.cross_validation.plots import plot_confidence_bounds
from cifar100_kedro.pipelines.data_processing.nodes import compute_normalization_stats
from cifar100_kedro.training.engine import fit_model, labels_for
from cifar100_kedro.training.recipe import RecipeError, validate_model_params, validate_train_params

logger = logging.getLogger(__name__)

FOLD_RESULT_COLUMNS = [
    "architecture",
    "fold",
    "accuracy",
    "cross_entropy",
    "train_images",
    "heldout_images",
    "epochs_run",
    "training_seconds",
    "builder",
    "label_mode",
]
# Callbacks that choose weights or change training from validation metrics.
_SELECTING_CALLBACKS = ("early_stopping", "reduce_lr_on_plateau")

FoldTrainer = Callable[..., tuple[keras.Model, pd.DataFrame, dict[str, Any]]]

# The recipe key of a saved model to start from (paper 003's transfer models name the
# pre-trained autoencoder there; pipelines/autoencoder/transfer.py trains them).
PRETRAINED_PATH_KEY = "pretrained_model_path"

# Extension point: an architecture whose training needs more than ``fit_model`` registers a
# callable with ``fit_model``'s signature under its namespace. Without an entry, a recipe
# with ``train.pretrained_model_path`` is trained by the autoencoder pipeline's
# ``fit_transfer_model`` (the saved model's weights copied in by layer name), every other
# one by ``fit_model``.
FOLD_TRAINERS: dict[str, FoldTrainer] = {}


def register_fold_trainer(namespace: str) -> Callable[[FoldTrainer], FoldTrainer]:
    """Use the decorated callable (``fit_model``'s signature) to train ``namespace``'s folds."""

    def decorator(trainer: FoldTrainer) -> FoldTrainer:
        FOLD_TRAINERS[namespace] = trainer
        return trainer

    return decorator


def fold_trainer_for(namespace: str, train_params: dict[str, Any]) -> FoldTrainer:
    """The callable that trains ``namespace``'s folds (see ``FOLD_TRAINERS``)."""
    if namespace in FOLD_TRAINERS:
        return FOLD_TRAINERS[namespace]
    if train_params.get(PRETRAINED_PATH_KEY):
        from cifar100_kedro.pipelines.autoencoder.transfer import fit_transfer_model

        return fit_transfer_model
    return fit_model


def _file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- plan
def _known_architectures(parameters: dict[str, Any]) -> list[str]:
    return sorted(
        name
        for name, value in parameters.items()
        if isinstance(value, dict)
        and isinstance(value.get("model"), dict)
        and isinstance(value.get("train"), dict)
    )


def _positive_int(value: Any, key: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"parameter 'cross_validation.{key}' must be an integer >= {minimum}, got {value!r}"
        )
    return value


def plan_cross_validation(
    cv_params: dict[str, Any], training_run: dict[str, Any], parameters: dict[str, Any]
) -> dict[str, Any]:
    """Check every setting and recipe before any work; return the run's plan (saved as JSON).

    The plan holds K, the seed, the options and, per architecture, the recipe as it will be
    trained (epochs capped by ``training_run.max_epochs`` and ``cross_validation.max_epochs``).
    """
    if not isinstance(cv_params, dict):
        raise ValueError("parameter 'cross_validation' must be a mapping")
    folds = _positive_int(cv_params.get("folds", 5), "folds", minimum=2)
    seed = _positive_int(cv_params.get("seed", 42), "seed", minimum=0)
    confidence = cv_params.get("confidence", 0.95)
    statistics.critical_t(folds, confidence)  # checks the confidence level
    stratify = cv_params.get("stratify", False)
    if not isinstance(stratify, bool):
        raise ValueError(
            f"parameter 'cross_validation.stratify' must be true or false, got {stratify!r}"
        )
    inner = cv_params.get("inner_validation_fraction")
    if inner is not None and (not isinstance(inner, (int, float)) or not 0 < inner < 1):
        raise ValueError(
            "parameter 'cross_validation.inner_validation_fraction' must be null or in (0, 1), "
            f"got {inner!r}"
        )
    batch = _positive_int(cv_params.get("evaluation_batch_size", 256), "evaluation_batch_size")

    names = cv_params.get("architectures")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(
            "parameter 'cross_validation.architectures' must be a non-empty list of namespace "
            f"names, got {names!r}"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"parameter 'cross_validation.architectures' lists {repeated} more than once"
        )
    known = _known_architectures(parameters)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"parameter 'cross_validation.architectures': unknown architecture(s) {unknown}; "
            f"known (namespaces with 'model' and 'train' parameters): {', '.join(known)}"
        )
    if cv_params.get("max_epochs") is not None:
        _positive_int(cv_params["max_epochs"], "max_epochs")
    caps = [c for c in (training_run.get("max_epochs"), cv_params.get("max_epochs")) if c]
    architectures = {}
    for name in names:
        model_params, train_params = parameters[name]["model"], dict(parameters[name]["train"])
        validate_model_params(model_params, f"{name}.model")
        validate_train_params(train_params, f"{name}.train")
        pretrained = train_params.get(PRETRAINED_PATH_KEY)
        if pretrained and name not in FOLD_TRAINERS and not Path(pretrained).is_file():
            raise RecipeError(
                f"parameter '{name}.train.{PRETRAINED_PATH_KEY}': {pretrained} does not exist; "
                "pre-train it first (for paper 003's transfer models: "
                "`kedro run --pipeline=autoencoder`)"
            )
        if caps and train_params.get("epochs") and train_params["epochs"] > min(caps):
            train_params["epochs"] = int(min(caps))
        selecting = [
            c for c in _SELECTING_CALLBACKS if (train_params.get("callbacks") or {}).get(c)
        ]
        if selecting and inner is None:
            logger.warning(
                "cross_validation: %s.train uses %s on validation metrics; with "
                "inner_validation_fraction null these watch the held-out fold, which biases "
                "its score upwards (set cross_validation.inner_validation_fraction to avoid it)",
                name,
                ", ".join(selecting),
            )
        architectures[name] = {"model": model_params, "train": train_params}
    return {
        "folds": folds,
        "seed": seed,
        "stratify": stratify,
        "confidence": float(confidence),
        "inner_validation_fraction": inner,
        "evaluation_batch_size": batch,
        "work_dir": str(cv_params.get("work_dir", "data/06_models/_cross_validation")),
        "keep_fold_state": bool(cv_params.get("keep_fold_state", False)),
        "architectures": architectures,
    }


# ----------------------------------------------------------------------------- folds
def combine_training_set(
    train_split: dict[str, np.ndarray], validation_split: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The official training set: ``train_split`` followed by ``validation_split``."""
    if set(train_split) != set(validation_split):
        raise ValueError(
            "train_split and validation_split hold different arrays: "
            f"{sorted(train_split)} vs {sorted(validation_split)}"
        )
    return {key: np.concatenate([train_split[key], validation_split[key]]) for key in train_split}


def assign_folds(
    train_split: dict[str, np.ndarray],
    validation_split: dict[str, np.ndarray],
    plan: dict[str, Any],
) -> dict[str, np.ndarray]:
    """``{"fold": int64 array}``: the fold (0 … K−1) of every training-set image.

    One seeded shuffle for all models, as paper 003 does; ``StratifiedKFold`` on the fine
    labels when the plan says ``stratify``.
    """
    data = combine_training_set(train_split, validation_split)
    labels = data["fine"]
    folds = plan["folds"]
    if folds > len(labels):
        raise ValueError(
            f"parameter 'cross_validation.folds'={folds} exceeds the {len(labels)} training images"
        )
    if plan["stratify"]:
        smallest = int(np.unique(labels, return_counts=True)[1].min())
        if smallest < folds:
            raise ValueError(
                f"parameter 'cross_validation.stratify' is true but a class has only {smallest} "
                f"images, fewer than 'cross_validation.folds'={folds}"
            )
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=plan["seed"])
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=plan["seed"])
    fold_of = np.full(len(labels), -1, dtype=np.int64)
    for fold, (_, heldout) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        fold_of[heldout] = fold
    counts = np.bincount(fold_of, minlength=folds)
    logger.info(
        "cross_validation: %d images in %d folds of %s images",
        len(labels),
        folds,
        "/".join(map(str, counts)),
    )
    return {"fold": fold_of}


# ----------------------------------------------------------------------------- one fold
def evaluate_heldout(
    model: keras.Model, heldout: dict[str, np.ndarray], label_mode: str, batch_size: int = 256
) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on the held-out fold's images."""
    labels = labels_for(heldout, label_mode).astype(np.int64)
    probabilities = np.asarray(
        model.predict(heldout["images"], batch_size=batch_size, verbose=0), dtype=np.float32
    )
    if probabilities.ndim != 2 or probabilities.shape[0] != len(labels):
        raise ValueError(
            f"model output has shape {probabilities.shape}, expected ({len(labels)}, classes)"
        )
    if labels.max(initial=0) >= probabilities.shape[1]:
        raise ValueError(
            f"held-out label {labels.max()} has no output unit ({probabilities.shape[1]} classes)"
        )
    entropy = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
    return {
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
        "cross_entropy": float(np.mean(keras.ops.convert_to_numpy(entropy))),
    }


def _subset(data: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {key: array[mask] for key, array in data.items()}


def _data_digest(data: dict[str, np.ndarray], fold_of: np.ndarray) -> str:
    digest = hashlib.sha256()
    for key in sorted(data):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(data[key]).tobytes())
    digest.update(np.ascontiguousarray(fold_of).tobytes())
    return digest.hexdigest()


def _fingerprint(recipe: dict[str, Any], data_digest: str, fold: int, plan: dict[str, Any]) -> str:
    # A retrained starting model (e.g. a new autoencoder) makes earlier records stale too.
    pretrained = recipe["train"].get(PRETRAINED_PATH_KEY)
    pretrained_digest = (
        _file_digest(pretrained) if pretrained and Path(pretrained).is_file() else None
    )
    payload = json.dumps(
        {
            "recipe": recipe,
            "data": data_digest,
            "fold": fold,
            "pretrained": pretrained_digest,
            "inner_validation_fraction": plan["inner_validation_fraction"],
            "seed": plan["seed"],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _read_record(path: Path, fingerprint: str) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("fingerprint") == fingerprint else None


def train_fold(
    namespace: str,
    recipe: dict[str, Any],
    data: dict[str, np.ndarray],
    fold_of: np.ndarray,
    fold: int,
    plan: dict[str, Any],
) -> dict[str, Any]:
    """Train ``namespace`` from scratch on every fold but ``fold``; score it on ``fold``."""
    heldout = _subset(data, fold_of == fold)
    train = _subset(data, fold_of != fold)
    watched = heldout
    if plan["inner_validation_fraction"]:
        fit_idx, watch_idx = train_test_split(
            np.arange(len(train["fine"])),
            test_size=plan["inner_validation_fraction"],
            random_state=plan["seed"] + fold,
        )
        train, watched = _subset(train, np.sort(fit_idx)), _subset(train, np.sort(watch_idx))
    keras.backend.clear_session()  # a fresh graph for every fold, as the paper resets it
    trainer = fold_trainer_for(namespace, recipe["train"])
    work_dir = Path(plan["work_dir"]) / namespace / f"fold{fold}"
    started = time.perf_counter()
    model, _, summary = trainer(
        train,
        watched,
        compute_normalization_stats(train),
        recipe["model"],
        recipe["train"],
        architecture=f"{namespace}_fold{fold}",
        work_dir=work_dir,
    )
    label_mode = recipe["train"].get("label_mode", "fine")
    scores = evaluate_heldout(model, heldout, label_mode, plan["evaluation_batch_size"])
    del model
    keras.backend.clear_session()
    if not plan["keep_fold_state"]:
        shutil.rmtree(work_dir, ignore_errors=True)  # checkpoints of big models add up fast
    return {
        "architecture": namespace,
        "fold": fold,
        **scores,
        "train_images": int(np.sum(fold_of != fold)),
        "heldout_images": len(heldout["fine"]),
        "epochs_run": int(summary.get("epochs_run", 0)),
        "training_seconds": float(summary.get("training_seconds", time.perf_counter() - started)),
        "builder": recipe["model"].get("builder", ""),
        "label_mode": label_mode,
    }


def cross_validate(
    train_split: dict[str, np.ndarray],
    validation_split: dict[str, np.ndarray],
    folds: dict[str, np.ndarray],
    plan: dict[str, Any],
) -> pd.DataFrame:
    """K-fold cross-validation of every planned architecture: one row per model and fold.

    Folds already recorded under ``plan.work_dir`` with the same recipe, data and fold are
    reused, so an interrupted run continues where it stopped.
    """
    data = combine_training_set(train_split, validation_split)
    fold_of = np.asarray(folds["fold"])
    if fold_of.shape != data["fine"].shape or set(np.unique(fold_of)) != set(range(plan["folds"])):
        raise ValueError(
            f"cross_validation_folds: {fold_of.shape[0]} fold ids in "
            f"{sorted(set(np.unique(fold_of).tolist()))} "
            f"do not match {len(data['fine'])} training images in {plan['folds']} folds "
            "(stale file? rerun the assign_folds node)"
        )
    digest = _data_digest(data, fold_of)
    rows = []
    total = len(plan["architectures"]) * plan["folds"]
    for name, recipe in plan["architectures"].items():
        for fold in range(plan["folds"]):
            done = len(rows) + 1
            record_path = Path(plan["work_dir"]) / name / f"fold{fold}.json"
            fingerprint = _fingerprint(recipe, digest, fold, plan)
            record = _read_record(record_path, fingerprint)
            if record is not None:
                logger.info(
                    "cross_validation [%d/%d] %s fold %d: recorded, skipped",
                    done,
                    total,
                    name,
                    fold,
                )
                rows.append(record["result"])
                continue
            logger.info("cross_validation [%d/%d] %s fold %d: training", done, total, name, fold)
            try:
                result = train_fold(name, recipe, data, fold_of, fold, plan)
            except RecipeError as exc:
                raise RecipeError(f"cross_validation of {name!r}, fold {fold}: {exc}") from None
            _write_json_atomically(record_path, {"fingerprint": fingerprint, "result": result})
            logger.info(
                "cross_validation [%d/%d] %s fold %d: accuracy %.4f, cross-entropy %.4f",
                done,
                total,
                name,
                fold,
                result["accuracy"],
                result["cross_entropy"],
            )
            rows.append(result)
    return pd.DataFrame(rows, columns=FOLD_RESULT_COLUMNS)


# ----------------------------------------------------------------------------- statistics
def make_table_1(fold_results: pd.DataFrame) -> pd.DataFrame:
    """Paper 003's Table I: mean accuracy and mean cross-entropy per model."""
    return statistics.mean_scores_table(fold_results)


def make_table_2(fold_results: pd.DataFrame, plan: dict[str, Any]) -> pd.DataFrame:
    """Paper 003's Table II (``p + t·s_p``, row − column) with each row's optimal model."""
    mean_accuracy = statistics.mean_scores_table(fold_results).set_index("model")["mean_accuracy"]
    bounds = statistics.confidence_bound_matrix(fold_results, plan["confidence"])
    return statistics.table_2_with_optimal(bounds, mean_accuracy)


def make_corrected_ttest(fold_results: pd.DataFrame, plan: dict[str, Any]) -> pd.DataFrame:
    """Our addition: Nadeau & Bengio's corrected resampled t-test for every pair, Holm-adjusted."""
    return statistics.corrected_resampled_ttest(
        fold_results, alpha=round(1 - plan["confidence"], 12)
    )


def make_verdict(fold_results: pd.DataFrame, plan: dict[str, Any]) -> dict[str, Any]:
    """Which model is best overall: paper 003's derivation, and ours beside it."""
    verdict = statistics.model_selection_verdict(fold_results, plan["confidence"])
    logger.info(
        "cross_validation verdict: paper 003 → %s (%s); corrected test → %s",
        verdict["paper_003"]["best_overall"],
        "optimal in every row" if verdict["paper_003"]["unanimous"] else "optimal in most rows",
        verdict["our_addition_corrected_resampled_ttest"]["best_overall"],
    )
    return verdict


def plot_table_2(fold_results: pd.DataFrame, plan: dict[str, Any]):
    """Heatmaps of Table II (paper) and of its corrected-variance version (ours)."""
    mean_accuracy = statistics.mean_scores_table(fold_results).set_index("model")["mean_accuracy"]
    paper = statistics.confidence_bound_matrix(fold_results, plan["confidence"])
    corrected = statistics.confidence_bound_matrix(fold_results, plan["confidence"], corrected=True)
    return plot_confidence_bounds(
        paper,
        statistics.optimal_per_row(paper, mean_accuracy),
        corrected,
        statistics.optimal_per_row(corrected, mean_accuracy),
        plan["confidence"],
        int(fold_results["fold"].nunique()),
    )
