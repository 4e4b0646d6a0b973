"""Nodes of the ``hyperparameter_search`` pipeline: paper 002's model 7.

Model 7 is model 6 (MobileNet features + model 4's head, ``chavez_m6``'s recipe) with its
hyperparameters chosen in two stages, as Section II describes:

1. **Random search** — ``random_search.max_trials`` (30) random candidates from the space in
   conf, each scored by 3-fold stratified cross-validation on ``train_split`` with 20 epochs
   and batch 250 ("for efficiency");
2. **Grid search** — the hyperparameters whose values differ among the top 3 candidates form a
   grid of the values seen there (the others keep the value the three share); every
   combination is cross-validated again with more epochs and a smaller batch (50 and 50).

The grid's winner is retrained on the whole ``train_split`` (validated on ``validation_split``,
with model 6's callbacks: early stopping etc.) as ``chavez_m7``, and with the 20 superclass
labels as ``chavez_m7_coarse`` (the paper tests models 1 and 7 on the superclasses).

Choices where the paper is silent (each a parameter):

* Stage 2's cross-validation — the paper says the grid models were "retrained"; the tool it
  names (grid search after a cross-validated random search, i.e. scikit-learn's
  ``GridSearchCV``) cross-validates too, so stage 2 uses ``grid_search.folds`` (3) as well.
* Stage 2's "greater number of epochs and a smaller batchsize" — 50 epochs and batch 50, the
  recipe of every other model of the paper; the final retrain uses the same (``GridSearchCV``
  refits the winner with its own settings).
* Candidate score — accuracy on the held-out fold of the model the engine returns (model 6's
  early stopping keeps the best weights, watching that held-out fold's loss, as a Keras
  search with ``validation_data`` does); mean over folds. ``ModelCheckpoint`` is dropped during
  the search only (a file per fold would add nothing).
* Folds — stratified, seeded, 0-based, trained and scored by the K-fold core
  (``training/kfold.py``, shared with the cross_validation pipeline): each fold's
  normalisation statistics come from its own training part; held-out ``accuracy`` and
  ``loss`` (mean cross-entropy) per fold, their means ``cv_accuracy`` / ``cv_loss``.
* Search data — ``train_split`` (the 40,000 training images; the test set is never used, the
  validation split only for the final retrain); ``subset_fraction`` < 1 searches on a
  stratified subset, for quick runs.
* The space — the paper names no values; the default space (conf) covers learning rate,
  optimiser, both hidden layers' widths, dropout and a frozen vs fine-tuned backbone.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from cifar100_kedro.pipelines.hyperparameter_search.search import (
    OBJECTIVE,
    FoldEvaluator,
    best_trials,
    fingerprint,
    run_tuner,
    trials_table,
)
from cifar100_kedro.pipelines.hyperparameter_search.space import (
    SearchSpaceError,
    apply_hyperparameters,
    grid_space,
    known_hyperparameters,
    tuner_hyperparameters,
    validate_space,
)
from cifar100_kedro.training import kfold
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.recipe import RecipeError, validate_model_params, validate_train_params

logger = logging.getLogger(__name__)

SETTINGS = "hyperparameter_search"
# Model 7 is model 6 with its hyperparameters searched: model 6's recipe is the base.
BASE_NAMESPACE = "chavez_m6"
# Callbacks that write files per fit: pointless for the thousands of search fits.
_SEARCH_DROPPED_CALLBACKS = ("model_checkpoint",)


# ----------------------------------------------------------------------------- settings
def _merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` with ``override`` merged in key by key (nested mappings too)."""
    merged = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _positive_int(value: Any, where: str, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RecipeError(
            f"parameter '{where}' must be a positive integer"
            f"{' or null' if allow_none else ''}, got {value!r}"
        )
    return value


def stage_settings(settings: Mapping[str, Any], stage: str) -> dict[str, Any]:
    """The checked settings of one stage (``random_search`` or ``grid_search``)."""
    where = f"{SETTINGS}.{stage}"
    values = settings.get(stage)
    if not isinstance(values, Mapping):
        raise RecipeError(f"parameter '{where}' is missing or not a mapping")
    checked = {
        "max_trials": _positive_int(
            values.get("max_trials"), f"{where}.max_trials", allow_none=stage == "grid_search"
        ),
        "folds": kfold.check_fold_count(values.get("folds"), f"parameter '{where}.folds'"),
        "epochs": _positive_int(values.get("epochs"), f"{where}.epochs"),
        "batch_size": _positive_int(values.get("batch_size"), f"{where}.batch_size"),
        "seed": int(values.get("seed", settings.get("seed", 42))),
    }
    if stage == "grid_search":
        checked["top_k"] = _positive_int(values.get("top_k", 3), f"{where}.top_k")
    return checked


def base_recipe(
    base_model: Mapping[str, Any], base_train: Mapping[str, Any], settings: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model 6's recipe with ``model_overrides`` / ``train_overrides`` merged in, checked."""
    model = _merge(base_model, settings.get("model_overrides"))
    train = _merge(base_train, settings.get("train_overrides"))
    validate_model_params(model, f"{BASE_NAMESPACE}.model (+ {SETTINGS}.model_overrides)")
    validate_train_params(train, f"{BASE_NAMESPACE}.train (+ {SETTINGS}.train_overrides)")
    return model, train


def search_recipe(
    train_params: Mapping[str, Any],
    stage: Mapping[str, Any],
    run_settings: Mapping[str, Any],
    num_classes: int,
) -> dict[str, Any]:
    """The ``train`` recipe of every search fit: the stage's epochs (under the run's cap) and
    batch, the number of classes fixed, and no per-fit checkpoint files."""
    train = copy.deepcopy(dict(train_params))
    train["epochs"] = stage["epochs"]
    train = kfold.cap_epochs(train, (run_settings or {}).get("max_epochs"))
    train["batch_size"] = stage["batch_size"]
    train["num_classes"] = int(num_classes)
    callbacks = dict(train.get("callbacks") or {})
    for name in _SEARCH_DROPPED_CALLBACKS:
        callbacks.pop(name, None)
    train["callbacks"] = callbacks
    return train


def search_data(
    train_split: Mapping[str, np.ndarray], label_mode: str, settings: Mapping[str, Any], seed: int
) -> dict[str, np.ndarray]:
    """``train_split``, or a stratified ``subset_fraction`` of it (quick searches)."""
    fraction = settings.get("subset_fraction", 1.0)
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not 0 < fraction <= 1
    ):
        raise RecipeError(
            f"parameter '{SETTINGS}.subset_fraction' must be in (0, 1], got {fraction!r}"
        )
    if fraction >= 1:
        return dict(train_split)
    labels = np.asarray(train_split[label_mode])
    keep, _ = train_test_split(
        np.arange(len(labels)), train_size=fraction, stratify=labels, random_state=seed
    )
    keep = np.sort(keep)
    return {key: np.asarray(value)[keep] for key, value in train_split.items()}


def _search_directory(settings: Mapping[str, Any]) -> Path:
    return Path(settings.get("directory") or "data/06_models/hyperparameter_search")


# ----------------------------------------------------------------------------- one stage
def _run_stage(
    stage: str,
    space: Mapping[str, Mapping[str, Any]],
    train_split: Mapping[str, np.ndarray],
    model: Mapping[str, Any],
    train: Mapping[str, Any],
    settings: Mapping[str, Any],
    run_settings: Mapping[str, Any],
    device_settings: Mapping[str, Any] | None,
):
    """Cross-validate the candidates of one stage with KerasTuner; return tuner, table, stage."""
    checked = stage_settings(settings, stage)
    label_mode = train.get("label_mode", "fine")
    data = search_data(train_split, label_mode, settings, checked["seed"])
    labels = np.asarray(data[label_mode])
    num_classes = int(max(np.asarray(train_split[label_mode]).max() + 1, labels.max() + 1))
    fit_recipe = search_recipe(train, checked, run_settings, num_classes)
    fold_of = kfold.assign_folds(
        labels, checked["folds"], checked["seed"], stratify=True,
        where=f"parameter '{SETTINGS}.{stage}.folds'",
    )  # fmt: skip
    known = known_hyperparameters(model)
    project = f"{stage}_" + fingerprint(
        space,
        model,
        fit_recipe,
        {k: v for k, v in checked.items() if k != "max_trials"},
        settings.get("subset_fraction", 1.0),
        labels,
        data["images"],
    )
    logger.info(
        "[%s] %d-fold cross-validation of %s candidates on %d images: %d epochs, batch %d",
        stage,
        checked["folds"],
        checked["max_trials"] or "all grid",
        len(labels),
        fit_recipe["epochs"],
        fit_recipe["batch_size"],
    )
    evaluate = FoldEvaluator(
        data, model, fit_recipe, fold_of, checked["seed"], stage, known, device_settings
    )
    tuner = run_tuner(
        "random" if stage == "random_search" else "grid",
        tuner_hyperparameters(space),
        evaluate,
        _search_directory(settings),
        project,
        checked["max_trials"],
        checked["seed"],
        overwrite=bool(settings.get("overwrite", False)),
    )
    table = trials_table(tuner, stage, list(space), checked["folds"], fit_recipe)
    return tuner, table, checked


def _require_finished(tuner, table: pd.DataFrame, stage: str) -> None:
    if len(table) and (table["status"] == "COMPLETED").any():
        return
    messages = "; ".join(sorted({m for m in table["message"] if m})) if len(table) else ""
    raise RuntimeError(
        f"[{stage}] no candidate finished its cross-validation (search state in "
        f"{tuner.project_dir}){': ' + messages if messages else ''}"
    )


# ----------------------------------------------------------------------------- nodes
def run_random_search(
    train_split: dict[str, np.ndarray],
    base_model: dict[str, Any],
    base_train: dict[str, Any],
    settings: dict[str, Any],
    run_settings: dict[str, Any],
    device_settings: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Stage 1: KerasTuner's RandomSearch over the conf space, each candidate 3-fold
    cross-validated; return every trial as a table and the top candidates for stage 2.

    Every setting is checked (empty space, unknown hyperparameter names, bad stage settings)
    before anything trains. Resumes an interrupted search of the same settings and data.
    """
    model, train = base_recipe(base_model, base_train, settings)
    space = validate_space(settings.get("space"), model, train)
    top_k = stage_settings(settings, "grid_search")["top_k"]  # checks stage 2 before stage 1 runs
    tuner, table, _ = _run_stage(
        "random_search", space, train_split, model, train, settings, run_settings, device_settings
    )
    _require_finished(tuner, table, "random_search")
    top = best_trials(tuner, list(space), top_k)
    logger.info(
        "[random_search] top %d: %s",
        len(top),
        "; ".join(
            f"trial {t['trial_id']} {OBJECTIVE}={t[OBJECTIVE]:.4f} {t['hyperparameters']}"
            for t in top
        ),
    )
    return table, {"space": space, "top_trials": top}


def run_grid_search(
    train_split: dict[str, np.ndarray],
    base_model: dict[str, Any],
    base_train: dict[str, Any],
    settings: dict[str, Any],
    run_settings: dict[str, Any],
    random_search_top: dict[str, Any],
    device_settings: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Stage 2: KerasTuner's GridSearch over the hyperparameters that differ among the top
    random-search candidates (values seen there), cross-validated with the stage's longer
    training; return every trial as a table and the winner's full recipe (model 7)."""
    model, train = base_recipe(base_model, base_train, settings)
    names = list(random_search_top["space"])
    space = grid_space(random_search_top["top_trials"], names)
    varying = {name: spec["values"] for name, spec in space.items() if spec["type"] == "choice"}
    combinations = int(np.prod([len(v) for v in varying.values()])) if varying else 1
    logger.info(
        "[grid_search] grid over %s (%d combinations); fixed: %s",
        varying or "nothing",
        combinations,
        {name: spec["value"] for name, spec in space.items() if spec["type"] == "fixed"},
    )
    if combinations > 100 and not (settings.get("grid_search") or {}).get("max_trials"):
        logger.warning(
            "[grid_search] %d combinations, each cross-validated: grid_search.max_trials caps "
            "the grid (it starts from the best random candidate's values)",
            combinations,
        )
    tuner, table, checked = _run_stage(
        "grid_search", space, train_split, model, train, settings, run_settings, device_settings
    )
    _require_finished(tuner, table, "grid_search")
    winner = best_trials(tuner, names, 1)[0]
    # The final recipe: model 6's, with the winner's values and stage 2's epochs and batch.
    final_train = {**train, "epochs": checked["epochs"], "batch_size": checked["batch_size"]}
    final_model, final_train = apply_hyperparameters(model, final_train, winner["hyperparameters"])
    logger.info(
        "[grid_search] winner: trial %s, %s=%.4f, %s",
        winner["trial_id"],
        OBJECTIVE,
        winner[OBJECTIVE],
        winner["hyperparameters"],
    )
    best = {
        "stage": "grid_search",
        "trial_id": winner["trial_id"],
        OBJECTIVE: winner[OBJECTIVE],
        "cv_accuracy_std": winner["cv_accuracy_std"],
        "hyperparameters": winner["hyperparameters"],
        "grid": space,
        "random_search_top": random_search_top["top_trials"],
        "model": final_model,
        "train": final_train,
    }
    return table, best


def combine_trials(
    random_search_trials: pd.DataFrame, grid_search_trials: pd.DataFrame
) -> pd.DataFrame:
    """Both stages' trials in one table (stage 1 first)."""
    return pd.concat([random_search_trials, grid_search_trials], ignore_index=True, sort=False)


def train_best_model(
    train_split: dict[str, np.ndarray],
    validation_split: dict[str, np.ndarray],
    normalization_stats: dict[str, Any],
    m7_recipe: dict[str, Any],
    run_settings: dict[str, Any],
    device_settings: dict[str, Any] | None = None,
    *,
    architecture: str,
    label_mode: str,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Retrain the search's winner on all of ``train_split`` with ``label_mode`` labels, through
    the engine (the run's epoch cap, work folder ``training_run.work_dir/<architecture>``)."""
    if "model" not in m7_recipe or "train" not in m7_recipe:
        raise SearchSpaceError(
            "dataset 'chavez_m7_recipe' has no 'model'/'train' recipe: rerun the grid search"
        )
    run_settings = run_settings or {}
    train = kfold.cap_epochs(
        {**m7_recipe["train"], "label_mode": label_mode}, run_settings.get("max_epochs")
    )
    work_dir = Path(run_settings.get("work_dir") or "data/06_models/_training_state")
    model, history, summary = fit_model(
        train_split, validation_split, normalization_stats, m7_recipe["model"], train,
        architecture=architecture, work_dir=work_dir / architecture,
        device_settings=device_settings,
    )  # fmt: skip
    summary = {
        **summary,
        "hyperparameters": m7_recipe["hyperparameters"],
        # The search scored candidates on model 6's labels (fine), also for the coarse retrain.
        "search_cv_accuracy": m7_recipe.get(OBJECTIVE),
    }
    return model, history, summary
