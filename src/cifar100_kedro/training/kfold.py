"""The K-fold core: folds, the one fold trainer, held-out scores, records, fingerprints.

Two users train through it: the cross_validation pipeline (one Kedro node per architecture
and fold; each record is a catalog dataset) and the hyperparameter search (every KerasTuner
candidate cross-validated inside its trial; records in the trial's folder). So both have

* **folds**: ``KFold(shuffle=True, random_state=seed)`` (paper 003: one seeded shuffle, then
  K folds) or ``StratifiedKFold`` on the labels, as one array of fold ids ``0 … K−1``;
* **one fold's training** (:func:`train_fold`): the fold's training part only, its own
  normalisation statistics, a fresh Keras session (paper 003 resets the TensorFlow graph),
  the one engine (:func:`~cifar100_kedro.training.engine.fit_model`) with its own run folder
  (an interrupted fold resumes there when the recipe has ``backup_and_restore``);
* **held-out scores** (:func:`score_held_out`) with one naming: ``accuracy`` (top-1) and
  ``loss``, the mean sparse categorical cross-entropy of the predicted probabilities (what
  ``keras.losses.sparse_categorical_crossentropy`` gives on them: no regulariser, no label
  smoothing, so it measures the data fit only);
* **one record per fold** (:func:`fold_record`): the 0-based ``fold``, the ``fingerprint`` of
  what was trained (:func:`fingerprint`), the scores, the sizes and the time.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from cifar100_kedro.data.statistics import compute_normalization_stats
from cifar100_kedro.training import recipe
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.inputs import predict_arrays
from cifar100_kedro.training.recipe import RecipeError

logger = logging.getLogger(__name__)

METRICS = ("accuracy", "loss")
_EPSILON = 1e-7  # keras.backend.epsilon(): Keras clips probabilities there for the loss


class StaleRecordError(ValueError):
    """A fold record belongs to another recipe, other settings or other data."""


# ----------------------------------------------------------------------------- fingerprints
def digest(*parts: Any) -> str:
    """SHA-256 of ``parts``: arrays by shape, dtype and bytes, anything else as sorted JSON."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            hasher.update(f"{part.shape}{part.dtype.str}".encode())
            hasher.update(np.ascontiguousarray(part).tobytes())
        else:
            hasher.update(json.dumps(part, sort_keys=True, default=str).encode())
    return hasher.hexdigest()


def fingerprint(
    model_params: Mapping[str, Any], train_params: Mapping[str, Any], settings: Mapping[str, Any]
) -> str:
    """What a fold's result depends on besides the data: the recipe as trained (epochs after
    the caps) and the fold settings (K, seed, stratification, inner validation)."""
    return digest({"model": model_params, "train": train_params, "settings": settings})[:16]


def cap_epochs(train_params: Mapping[str, Any], *caps: int | None) -> dict[str, Any]:
    """``train_params`` with ``epochs`` lowered to the smallest cap given (``None`` = no cap)."""
    train = dict(train_params)
    if train.get("epochs"):
        train["epochs"] = recipe.cap_epochs(train["epochs"], *caps)
    return train


# ----------------------------------------------------------------------------- folds
def check_fold_count(folds: Any, where: str) -> int:
    """``folds`` if it is an integer K >= 2, else a :class:`RecipeError` naming ``where``."""
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise RecipeError(f"{where} must be an integer >= 2, got {folds!r}")
    return int(folds)


def assign_folds(
    labels: np.ndarray, folds: int, seed: int, *, stratify: bool = False, where: str = "folds"
) -> np.ndarray:
    """The fold (``0 … folds−1``) of every image: a seeded ``KFold`` shuffle, or
    ``StratifiedKFold`` on ``labels``; errors name ``where`` (e.g. ``parameter 'x.folds'``)."""
    labels = np.asarray(labels)
    check_fold_count(folds, where)
    if folds > len(labels):
        raise RecipeError(f"{where}={folds} exceeds the {len(labels)} images")
    if stratify:
        smallest = int(np.unique(labels, return_counts=True)[1].min())
        if smallest < folds:
            raise RecipeError(
                f"{where}={folds}: the smallest class has only {smallest} images, so "
                "stratified folds cannot each hold every class"
            )
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_of = np.full(len(labels), -1, dtype=np.int64)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        fold_of[held_out] = fold
    return fold_of


def _subset(data: Mapping[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {key: np.asarray(array)[mask] for key, array in data.items()}


# ----------------------------------------------------------------------------- scores
def score_held_out(
    model: keras.Model, held_out: Mapping[str, np.ndarray], label_mode: str, batch_size: int = 256
) -> dict[str, float]:
    """``{"accuracy", "loss"}`` of ``model`` on ``held_out`` (see the module docstring)."""
    labels = np.asarray(held_out[label_mode]).astype(np.int64)
    probabilities = predict_arrays(model, held_out["images"], batch_size).astype(np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] != len(labels):
        raise ValueError(
            f"model output has shape {probabilities.shape}, expected ({len(labels)}, classes)"
        )
    if labels.max(initial=0) >= probabilities.shape[1]:
        raise ValueError(
            f"held-out label {labels.max()} has no output unit ({probabilities.shape[1]} classes)"
        )
    # Keras' cross-entropy on probabilities: rows rescaled to sum to 1, clipped at epsilon.
    picked = probabilities[np.arange(len(labels)), labels] / probabilities.sum(axis=1)
    return {
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
        "loss": float(np.mean(-np.log(np.clip(picked, _EPSILON, 1 - _EPSILON)))),
    }


# ----------------------------------------------------------------------------- records
def fold_record(
    fold: int,
    fingerprint: str,
    scores: Mapping[str, float],
    summary: Mapping[str, Any],
    train_images: int,
    held_out_images: int,
) -> dict[str, Any]:
    """The one record of a finished fold (JSON-ready; ``fold`` 0-based)."""
    return {
        "fold": int(fold),
        "fingerprint": fingerprint,
        **{metric: float(scores[metric]) for metric in METRICS},
        "train_images": int(train_images),
        "held_out_images": int(held_out_images),
        "epochs_run": int(summary["epochs_run"]),
        "best_epoch": int(summary["best_epoch"]),
        "training_seconds": float(summary["training_seconds"]),
    }


def check_record(record: Mapping[str, Any], fold: int, expected: str, name: str) -> None:
    """Raise :class:`StaleRecordError` unless ``record`` is fold ``fold`` of ``expected``."""
    if record.get("fold") != fold or not set(METRICS) <= set(record):
        raise StaleRecordError(f"{name}: not a record of fold {fold} ({sorted(record)})")
    if record.get("fingerprint") != expected:
        raise StaleRecordError(
            f"{name}: trained with another recipe or other fold settings "
            f"(fingerprint {record.get('fingerprint')}, now {expected})"
        )


def save_record(path: str | Path, record: Mapping[str, Any]) -> None:
    """Write ``record`` as JSON beside ``path``, then rename: never half a record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(record, indent=2))
    os.replace(temporary, path)


def read_record(path: str | Path, fold: int, expected: str | None = None) -> dict | None:
    """The record at ``path`` if it is readable, of fold ``fold`` and (when ``expected`` is
    given) of that fingerprint; otherwise ``None`` (the fold is to be trained)."""
    try:
        record = json.loads(Path(path).read_text())
        check_record(record, fold, expected or record.get("fingerprint"), str(path))
    except (OSError, ValueError):  # missing, unreadable or stale
        return None
    return record


# ----------------------------------------------------------------------------- one fold
def train_fold(
    data: Mapping[str, np.ndarray],
    fold_of: np.ndarray,
    fold: int,
    model_params: Mapping[str, Any],
    train_params: Mapping[str, Any],
    *,
    name: str,
    work_dir: str | Path,
    fingerprint: str,
    seed: int = 42,
    inner_validation_fraction: float | None = None,
    evaluation_batch_size: int = 256,
    keep_state: bool = False,
    pretrained: keras.Model | None = None,
    device_settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train from scratch on every fold but ``fold``, score on ``fold``; return its record.

    Args:
        data: the images and labels that ``fold_of`` assigns (``{"images", "fine", ...}``).
        fold_of: the fold id of every image (:func:`assign_folds`).
        fold: the held-out fold (0-based).
        model_params, train_params: the recipe as trained (epoch caps applied).
        name: the engine's name for this training (log lines, the Keras model).
        work_dir: the fold's run folder (resumable state); removed after the fold unless
            ``keep_state``.
        fingerprint: :func:`fingerprint` of the recipe and the fold settings.
        seed: seeds the inner validation split (``seed + fold``).
        inner_validation_fraction: ``None``: the engine's callbacks watch the held-out fold;
            a fraction: they watch that random part of the fold's training part instead.
        evaluation_batch_size: batch size of the held-out predictions.
        keep_state: keep the run folder (checkpoints) after the fold.
        pretrained: a trained model whose same-named layers seed the weights.
        device_settings: the ``device`` parameters, for the engine.
    """
    held_out, train = _subset(data, fold_of == fold), _subset(data, fold_of != fold)
    train_images, watched = len(fold_of) - len(held_out["images"]), held_out
    if inner_validation_fraction:
        fit_index, watch_index = train_test_split(
            np.arange(train_images), test_size=inner_validation_fraction, random_state=seed + fold
        )
        train, watched = _subset(train, np.sort(fit_index)), _subset(train, np.sort(watch_index))
    keras.backend.clear_session()  # a fresh graph for every fold, as paper 003 resets it
    model, _, summary = fit_model(
        train, watched, compute_normalization_stats(train), dict(model_params), dict(train_params),
        architecture=name, work_dir=work_dir, pretrained=pretrained,
        device_settings=device_settings,
    )  # fmt: skip
    label_mode = train_params.get("label_mode", "fine")
    scores = score_held_out(model, held_out, label_mode, evaluation_batch_size)
    del model
    keras.backend.clear_session()
    gc.collect()
    if not keep_state:
        shutil.rmtree(work_dir, ignore_errors=True)  # checkpoints of big models add up fast
    logger.info(
        "%s: held-out accuracy %.4f, loss %.4f (%d epochs, %.1fs)",
        name, scores["accuracy"], scores["loss"], summary["epochs_run"],
        summary["training_seconds"],
    )  # fmt: skip
    return fold_record(fold, fingerprint, scores, summary, train_images, len(held_out["images"]))
