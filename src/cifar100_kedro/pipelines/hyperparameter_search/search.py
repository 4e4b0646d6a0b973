"""Cross-validated KerasTuner searches whose every fold is trained by the K-fold core.

KerasTuner's ``RandomSearch`` / ``GridSearch`` choose the candidates and keep the search state
on disk (``oracle.json`` and one ``trial_<id>/trial.json`` per candidate); a rerun with
``overwrite=False`` reloads it, skips finished trials and retries the one that was running.
Their ``run_trial`` is replaced (the pattern KerasTuner documents for custom training) by
:class:`FoldEvaluator`: stratified K-fold cross-validation through the project's K-fold core
(:mod:`cifar100_kedro.training.kfold`, the same one the cross_validation pipeline uses): folds,
per-fold training by the one engine, held-out ``accuracy`` and ``loss``, and the fold record.
Each finished fold's record is ``trial_<id>/fold_<k>.json`` (0-based, with its fingerprint),
so a trial interrupted mid-way keeps its finished folds, and the engine's resume state
(when the recipe has ``backup_and_restore``) resumes the fold that was running.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cifar100_kedro.pipelines.hyperparameter_search.space import apply_hyperparameters
from cifar100_kedro.training import kfold

logger = logging.getLogger(__name__)

OBJECTIVE = "cv_accuracy"


class FoldEvaluator:
    """Scores one candidate by K-fold cross-validation (the tuners' ``run_trial``).

    Args:
        split: the search data.
        model_params, train_params: the base recipe the candidates' values go into.
        fold_of: the fold of every image of ``split`` (:func:`kfold.assign_folds`).
        seed: the folds' seed (part of each record's fingerprint).
        stage: ``random_search`` or ``grid_search`` (names the trainings).
        known: where each hyperparameter goes (:func:`space.known_hyperparameters`).
        device_settings: the ``device`` parameters, for the engine.
    """

    def __init__(
        self,
        split: Mapping[str, np.ndarray],
        model_params: Mapping[str, Any],
        train_params: Mapping[str, Any],
        fold_of: np.ndarray,
        seed: int,
        stage: str,
        known: Mapping[str, tuple[Any, ...]],
        device_settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.split, self.fold_of, self.folds = split, fold_of, int(fold_of.max()) + 1
        self.model_params, self.train_params = model_params, train_params
        self.settings = {"folds": self.folds, "seed": seed, "stratify": True}
        self.stage, self.known, self.device_settings = stage, known, device_settings

    def __call__(
        self, trial_id: str, values: Mapping[str, Any], trial_dir: Path
    ) -> dict[str, float]:
        model_params, train_params = apply_hyperparameters(
            self.model_params, self.train_params, values, self.known
        )
        fingerprint = kfold.fingerprint(model_params, train_params, self.settings)
        records = []
        for k in range(self.folds):
            name, path = f"{self.stage}_trial_{trial_id}_fold_{k}", trial_dir / f"fold_{k}.json"
            record = kfold.read_record(path, k, fingerprint)
            if record is not None:
                logger.info("%s: done before (accuracy %.4f)", name, record["accuracy"])
            else:
                record = kfold.train_fold(
                    self.split, self.fold_of, k, model_params, train_params, name=name,
                    work_dir=trial_dir / f"fold_{k}", fingerprint=fingerprint,
                    seed=self.settings["seed"], evaluation_batch_size=train_params["batch_size"],
                    device_settings=self.device_settings,
                )  # fmt: skip
                kfold.save_record(path, record)
            records.append(record)
        accuracies = [r["accuracy"] for r in records]
        return {
            OBJECTIVE: float(np.mean(accuracies)),
            "cv_accuracy_std": float(np.std(accuracies)),
            "cv_loss": float(np.mean([r["loss"] for r in records])),
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
    return kfold.digest(*parts)[:10]


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
        records = {k: kfold.read_record(trial_dir / f"fold_{k}.json", k) for k in range(folds)}
        records = {k: record for k, record in records.items() if record is not None}
        metrics = trial.metrics
        row: dict[str, Any] = {"stage": stage, "trial_id": trial_id, "status": trial.status}
        row.update({name: _plain(trial.hyperparameters.values.get(name)) for name in names})
        for metric in kfold.METRICS:
            for k in range(folds):
                row[f"fold_{k}_{metric}"] = records[k][metric] if k in records else math.nan
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
                "seconds": float(sum(r["training_seconds"] for r in records.values())),
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
