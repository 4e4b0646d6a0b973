"""Cross-validated KerasTuner searches whose every fold is trained by the one engine.

KerasTuner's ``RandomSearch`` / ``GridSearch`` choose the candidates and keep the search state
on disk (``oracle.json`` and one ``trial_<id>/trial.json`` per candidate); a rerun with
``overwrite=False`` reloads it, skips finished trials and retries the one that was running.
Their ``run_trial`` is replaced (the pattern KerasTuner documents for custom training) by
:class:`FoldEvaluator`: stratified K-fold cross-validation in which each fold is trained by
:func:`cifar100_kedro.training.engine.fit_model` (same preprocessing, augmentation, optimiser,
callbacks as every other model) and scored on its held-out part. Each finished fold is written
to ``trial_<id>/fold_<k>.json``, so a trial interrupted mid-way keeps its finished folds, and
the engine's BackupAndRestore (when the recipe asks for it) resumes the fold that was running.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from cifar100_kedro.pipelines.hyperparameter_search.space import apply_hyperparameters
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.recipe import RecipeError

logger = logging.getLogger(__name__)

OBJECTIVE = "cv_accuracy"
SEARCH_KIND = {"random_search": "random", "grid_search": "grid"}


# ----------------------------------------------------------------------------- folds
def fold_indices(
    labels: np.ndarray, folds: int, seed: int, where: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold splits (shuffled with ``seed``), the same for every candidate."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise RecipeError(f"parameter '{where}.folds' must be an integer >= 2, got {folds!r}")
    present = np.bincount(labels)
    smallest = int(present[present > 0].min()) if present.any() else 0
    if smallest < folds:
        raise RecipeError(
            f"parameter '{where}.folds'={folds}: the smallest class of the search data has only "
            f"{smallest} images, so stratified folds cannot each hold every class; lower 'folds' "
            "or raise 'hyperparameter_search.subset_fraction'"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def _take(split: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {key: np.asarray(value)[index] for key, value in split.items()}


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write-then-rename, so an interruption never leaves half a record behind."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload, indent=2))
    os.replace(temporary, path)


def held_out_scores(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int
) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on held-out images (integer labels)."""
    probabilities = np.asarray(
        model.predict(images, batch_size=batch_size, verbose=0), dtype=np.float64
    )
    picked = probabilities[np.arange(len(labels)), labels]
    return {
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
        "loss": float(np.mean(-np.log(np.clip(picked, 1e-12, 1.0)))),
    }


class FoldEvaluator:
    """Scores one candidate by K-fold cross-validation (the tuners' ``run_trial``)."""

    def __init__(
        self,
        split: Mapping[str, np.ndarray],
        normalization_stats: Mapping[str, Any] | None,
        model_params: Mapping[str, Any],
        train_params: Mapping[str, Any],
        folds: Sequence[tuple[np.ndarray, np.ndarray]],
        stage: str,
        known: Mapping[str, tuple[Any, ...]],
    ) -> None:
        self.split, self.stats = split, normalization_stats
        self.model_params, self.train_params = model_params, train_params
        self.folds, self.stage, self.known = folds, stage, known
        self.label_mode = train_params.get("label_mode", "fine")

    def __call__(
        self, trial_id: str, values: Mapping[str, Any], trial_dir: Path
    ) -> dict[str, float]:
        model_params, train_params = apply_hyperparameters(
            self.model_params, self.train_params, values, self.known
        )
        records = []
        for k, (train_index, held_out_index) in enumerate(self.folds, start=1):
            record_path = trial_dir / f"fold_{k}.json"
            if record_path.exists():
                record = json.loads(record_path.read_text())
                logger.info(
                    "[%s trial %s] fold %d/%d already done (accuracy %.4f)",
                    self.stage,
                    trial_id,
                    k,
                    len(self.folds),
                    record["accuracy"],
                )
                records.append(record)
                continue
            held_out = _take(self.split, held_out_index)
            started = time.perf_counter()
            model, history, summary = fit_model(
                _take(self.split, train_index),
                held_out,
                self.stats,
                model_params,
                train_params,
                architecture=f"{self.stage}_trial_{trial_id}_fold_{k}",
                work_dir=trial_dir / f"fold_{k}",
            )
            scores = held_out_scores(
                model, held_out["images"], held_out[self.label_mode], train_params["batch_size"]
            )
            record = {
                "fold": k,
                **scores,
                "epochs_run": int(summary["epochs_run"]),
                "best_epoch": int(summary["best_epoch"]),
                "train_images": len(train_index),
                "held_out_images": len(held_out_index),
                "seconds": time.perf_counter() - started,
            }
            _write_json(record_path, record)
            records.append(record)
            logger.info(
                "[%s trial %s] fold %d/%d: held-out accuracy %.4f, loss %.4f, %d epochs, %.1fs",
                self.stage,
                trial_id,
                k,
                len(self.folds),
                record["accuracy"],
                record["loss"],
                record["epochs_run"],
                record["seconds"],
            )
            # Free the fold's graph before the next one (KerasTuner does the same per trial).
            del model, history
            keras.backend.clear_session()
            gc.collect()
        accuracies = [r["accuracy"] for r in records]
        losses = [r["loss"] for r in records]
        return {
            OBJECTIVE: float(np.mean(accuracies)),
            "cv_accuracy_std": float(np.std(accuracies)),
            "cv_loss": float(np.mean(losses)),
        }


# ----------------------------------------------------------------------------- tuners
def _tuner_class(kind: str):
    """A KerasTuner tuner whose trials are scored by a :class:`FoldEvaluator`."""
    import keras_tuner as kt

    base = {"random": kt.RandomSearch, "grid": kt.GridSearch}[kind]

    class CrossValidatedTuner(base):
        def __init__(self, *args, evaluate: Callable[..., dict[str, float]], **kwargs):
            self._evaluate = evaluate
            super().__init__(*args, **kwargs)

        def run_trial(self, trial, *args, **kwargs):
            trial_dir = Path(self.get_trial_dir(trial.trial_id))
            return self._evaluate(trial.trial_id, dict(trial.hyperparameters.values), trial_dir)

        def save_model(self, trial_id, model, step=0):  # models are not kept per trial
            pass

    CrossValidatedTuner.__name__ = f"CrossValidated{base.__name__}"
    return CrossValidatedTuner


def run_tuner(
    kind: str,
    hyperparameters,
    evaluate: Callable[..., dict[str, float]],
    directory: Path,
    project_name: str,
    max_trials: int | None,
    seed: int,
    overwrite: bool = False,
):
    """Run (or resume) a cross-validated KerasTuner search; return the tuner."""
    import keras_tuner as kt

    tuner = _tuner_class(kind)(
        evaluate=evaluate,
        objective=kt.Objective(OBJECTIVE, direction="max"),
        max_trials=max_trials,
        seed=seed,
        hyperparameters=hyperparameters,
        tune_new_entries=False,
        allow_new_entries=False,
        directory=str(directory),
        project_name=project_name,
        overwrite=overwrite,
    )
    finished = sum(t.status in ("COMPLETED", "FAILED") for t in tuner.oracle.trials.values())
    logger.info(
        "%s search in %s: %d trial(s) already finished, up to %s in all",
        kind,
        Path(directory) / project_name,
        finished,
        max_trials or "every combination",
    )
    tuner.search(verbose=1)
    return tuner


def fingerprint(*parts: Any) -> str:
    """A short hash of settings and data, naming the search's folder: changed settings or
    data start a new search instead of resuming one that no longer matches."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(str((part.shape, part.dtype)).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:10]


# ----------------------------------------------------------------------------- results
def _plain(value: Any) -> Any:
    """Python scalars for JSON (KerasTuner may hand back numpy numbers), floats without the
    binary noise of KerasTuner's stepped ranges (0.0 + 3 * 0.1 → 0.3, not 0.30000000000000004)."""
    value = value.item() if isinstance(value, np.generic) else value
    return float(f"{value:.12g}") if isinstance(value, float) else value


def trials_table(
    tuner, stage: str, names: Sequence[str], folds: int, settings: Mapping[str, Any]
) -> pd.DataFrame:
    """One row per trial: id, stage, status, hyperparameters, fold scores, mean score."""
    rows = []
    oracle = tuner.oracle
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        trial_dir = Path(tuner.project_dir) / f"trial_{trial_id}"
        records = {}
        for k in range(1, folds + 1):
            path = trial_dir / f"fold_{k}.json"
            if path.exists():
                records[k] = json.loads(path.read_text())
        metrics = trial.metrics
        row: dict[str, Any] = {"stage": stage, "trial_id": trial_id, "status": trial.status}
        row.update({name: _plain(trial.hyperparameters.values.get(name)) for name in names})
        for k in range(1, folds + 1):
            row[f"fold_{k}_accuracy"] = records[k]["accuracy"] if k in records else math.nan
        for k in range(1, folds + 1):
            row[f"fold_{k}_loss"] = records[k]["loss"] if k in records else math.nan
        for metric in (OBJECTIVE, "cv_accuracy_std", "cv_loss"):
            row[metric] = metrics.get_last_value(metric) if metrics.exists(metric) else math.nan
        row.update(
            {
                "folds": folds,
                "epochs": settings["epochs"],
                "batch_size": settings["batch_size"],
                "epochs_run_mean": float(np.mean([r["epochs_run"] for r in records.values()]))
                if records
                else math.nan,
                "seconds": float(sum(r["seconds"] for r in records.values())),
                "message": (trial.message or "").strip().splitlines()[-1] if trial.message else "",
            }
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        completed = table["status"] == "COMPLETED"
        table["rank"] = table[OBJECTIVE].where(completed).rank(ascending=False, method="min")
    return table


def best_trials(tuner, names: Sequence[str], count: int) -> list[dict[str, Any]]:
    """The ``count`` best finished trials (best first, ties by trial id) as JSON records, with
    the hyperparameter values exactly as KerasTuner recorded them (types kept)."""
    done = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    done.sort(key=lambda t: (-t.metrics.get_last_value(OBJECTIVE), t.trial_id))
    return [
        {
            "trial_id": str(trial.trial_id),
            OBJECTIVE: float(trial.metrics.get_last_value(OBJECTIVE)),
            "cv_accuracy_std": float(trial.metrics.get_last_value("cv_accuracy_std")),
            "hyperparameters": {name: _plain(trial.hyperparameters.values[name]) for name in names},
        }
        for trial in done[:count]
    ]
