"""Nodes of the cross_validation pipeline (paper 003, Section IV).

Paper 003 shuffles the official training set once (seed 42), cuts it into K = 5 folds, trains
every model from scratch on each K − 1 folds and scores it on the fold held out. The graph:

* ``assign_cross_validation_folds``: the fold (0 … K−1) of every image of ``train_split`` +
  ``validation_split`` (the official training set), the same folds for every model;
* ``<namespace>.fold_<k>``, one node per architecture and fold: the architecture's recipe
  (``<namespace>.model`` / ``.train``) trained by the K-fold core
  (:func:`cifar100_kedro.training.kfold.train_fold`) on the other folds and scored on fold k;
  its record ``<namespace>.cv_fold_<k>`` holds the scores and the fingerprint of the recipe
  and fold settings it was trained with;
* ``collect_cross_validation_folds``: the records as one table, refused if any is stale;
* the statistics (:mod:`.statistics`): Tables I and II, the corrected test, the verdict;
* ``check_cross_validation_results`` (no outputs, so every run runs it, also
  ``--only-missing-outputs`` when everything else is skipped): the records still match the
  recipes, and the table still matches the records.

K and the architectures are fixed when Kedro builds the pipeline (``settings.CROSS_VALIDATION``,
see pipeline.py); a ``cross_validation.folds`` parameter must agree with it.

Choices where the paper is silent (parameters ``cross_validation.*``):

* ``stratify``: ``KFold(shuffle=True, random_state=seed)`` as the paper (default), or
  ``StratifiedKFold`` on the fine labels.
* ``inner_validation_fraction``: by default the engine's callbacks watch the held-out fold
  (the paper uses no early stopping, so it is only watched). A recipe whose callbacks select
  on validation metrics would tune on it and bias its score: a warning says so, and a
  fraction (e.g. 0.1) gives those callbacks a random part of the fold's training part.
* Held-out scores: ``accuracy`` and ``loss`` (the mean cross-entropy of the predicted
  probabilities, :func:`~cifar100_kedro.training.kfold.score_held_out`) of the model the
  engine returns (the last epoch, unless the recipe restores the best weights).
* Transfer models (an architecture whose registry entry has ``extra_inputs``, e.g. paper 003's
  ``chakraborti_t_arch1/2`` and the autoencoder): the fold nodes take that dataset and the
  engine copies its same-named layers; all folds of a model must start from the same one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from cifar100_kedro.pipelines.cross_validation import statistics
from cifar100_kedro.pipelines.cross_validation.plots import plot_confidence_bounds
from cifar100_kedro.training import kfold
from cifar100_kedro.training.kfold import StaleRecordError

logger = logging.getLogger(__name__)

FOLD_RESULT_COLUMNS = [
    "architecture", "fold", "accuracy", "loss", "train_images", "held_out_images",
    "epochs_run", "best_epoch", "training_seconds", "builder", "label_mode",
]  # fmt: skip
# ``cross_validation.*`` parameters and their defaults.
DEFAULTS: dict[str, Any] = {
    "seed": 42,
    "stratify": False,
    "confidence": 0.95,
    "inner_validation_fraction": None,
    "max_epochs": None,
    "evaluation_batch_size": 256,
    "work_dir": "data/06_models/_cross_validation",
    "keep_fold_state": False,
}
# Fixed when the pipeline is built: settings.CROSS_VALIDATION, not parameters.
BUILT = {
    "folds": "K is settings.CROSS_VALIDATION['folds'] in src/cifar100_kedro/settings.py "
    "(this pipeline: K = {folds})",
    "architectures": "they are settings.CROSS_VALIDATION['architectures'] in "
    "src/cifar100_kedro/settings.py (to run some: `kedro run --pipeline=cross_validation "
    "--namespaces=...`)",
}
# Callbacks that choose weights or change training from validation metrics.
_SELECTING_CALLBACKS = ("early_stopping", "reduce_lr_on_plateau")
_RECORD = re.compile(r"^(?P<namespace>.+)\.cv_fold_(?P<fold>\d+)$")
_REDO = "`kedro run --pipeline=cross_validation --from-nodes={}`"


# ----------------------------------------------------------------------------- settings
def _fail(key: str, message: str) -> None:
    raise ValueError(f"parameter 'cross_validation.{key}' {message}")


def check_settings(cv_params: Mapping[str, Any], folds: int) -> dict[str, Any]:
    """The ``cross_validation`` parameters, checked, with defaults (:data:`DEFAULTS`).

    ``folds`` is the K the pipeline was built with: a ``folds`` parameter must equal it, and
    ``architectures`` is no parameter any more (:data:`BUILT`).
    """
    if not isinstance(cv_params, Mapping):
        raise TypeError("parameter 'cross_validation' must be a mapping")
    for key, where in BUILT.items():
        if key in cv_params and not (key == "folds" and cv_params[key] == folds):
            _fail(key, f"= {cv_params[key]!r}: Kedro builds this pipeline before it reads "
                  f"parameters, so {where.format(folds=folds)}; remove the parameter")  # fmt: skip
    unknown = sorted(set(cv_params) - set(DEFAULTS) - set(BUILT))
    if unknown:
        _fail(unknown[0], f"is unknown; known: {', '.join(DEFAULTS)}")
    settings = {**DEFAULTS, **{k: v for k, v in cv_params.items() if k in DEFAULTS}}
    for key in ("seed", "evaluation_batch_size", "max_epochs"):
        value, least = settings[key], 0 if key == "seed" else 1
        if not (value is None and key == "max_epochs") and (
            isinstance(value, bool) or not isinstance(value, int) or value < least
        ):
            _fail(key, f"must be an integer >= {least}, got {value!r}")
    for key in ("stratify", "keep_fold_state"):
        if not isinstance(settings[key], bool):
            _fail(key, f"must be true or false, got {settings[key]!r}")
    inner = settings["inner_validation_fraction"]
    if inner is not None and (not isinstance(inner, (int, float)) or not 0 < inner < 1):
        _fail("inner_validation_fraction", f"must be null or in (0, 1), got {inner!r}")
    statistics.critical_t(folds, settings["confidence"])  # checks the confidence level
    return settings


def _fold_settings(settings: Mapping[str, Any], folds: int) -> dict[str, Any]:
    """The settings a fold's result depends on (part of its fingerprint)."""
    keys = ("seed", "stratify", "inner_validation_fraction")
    return {"folds": folds, **{key: settings[key] for key in keys}}


def _as_trained(
    model_params: Mapping[str, Any],
    train_params: Mapping[str, Any],
    settings: Mapping[str, Any],
    run_settings: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recipe as the folds train it: epochs capped by ``training_run.max_epochs`` and
    ``cross_validation.max_epochs``."""
    caps = ((run_settings or {}).get("max_epochs"), settings["max_epochs"])
    return dict(model_params), kfold.cap_epochs(train_params, *caps)


# ----------------------------------------------------------------------------- folds
def combine_training_set(
    train_split: Mapping[str, np.ndarray], validation_split: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The official training set: ``train_split`` followed by ``validation_split``."""
    if set(train_split) != set(validation_split):
        raise ValueError(
            "train_split and validation_split hold different arrays: "
            f"{sorted(train_split)} vs {sorted(validation_split)}"
        )
    return {key: np.concatenate([train_split[key], validation_split[key]]) for key in train_split}


def _data_digest(data: Mapping[str, np.ndarray], fold_of: np.ndarray) -> str:
    return kfold.digest(sorted(data), *(data[key] for key in sorted(data)), fold_of)[:16]


def assign_cross_validation_folds(
    train_split: dict[str, np.ndarray],
    validation_split: dict[str, np.ndarray],
    cv_params: dict[str, Any],
    *,
    folds: int,
) -> dict[str, np.ndarray]:
    """The fold of every training-set image, one seeded shuffle for every model.

    Args:
        train_split, validation_split: the official training set, in two parts.
        cv_params: the ``cross_validation`` parameters (``seed``, ``stratify``).
        folds: K.

    Returns:
        ``{"fold": int64 ids, "folds", "seed", "stratify", "data"}``: the ids and what they
        were made with (``data``: a digest of the images, labels and ids).
    """
    settings = check_settings(cv_params, folds)
    data = combine_training_set(train_split, validation_split)
    fold_of = kfold.assign_folds(
        data["fine"], folds, settings["seed"], stratify=settings["stratify"],
        where="K (settings.CROSS_VALIDATION['folds'])",
    )  # fmt: skip
    logger.info(
        "cross_validation: %d images in %d folds of %s images%s",
        len(fold_of), folds, "/".join(map(str, np.bincount(fold_of))),
        " (stratified)" if settings["stratify"] else "",
    )  # fmt: skip
    made_with = {"folds": folds, "seed": settings["seed"], "stratify": settings["stratify"]}
    return {"fold": fold_of, "data": np.asarray(_data_digest(data, fold_of))} | {
        key: np.asarray(value) for key, value in made_with.items()
    }


def _checked_fold_ids(
    assignment: Mapping[str, np.ndarray],
    data: Mapping[str, np.ndarray],
    settings: Mapping[str, Any],
    folds: int,
) -> np.ndarray:
    """``assignment["fold"]``, refused when it was made for other settings or other data."""
    fold_of = np.asarray(assignment["fold"])
    wanted = {"folds": folds, "seed": settings["seed"], "stratify": settings["stratify"]}
    made = {key: assignment[key].item() if key in assignment else None for key in wanted}
    same_data = len(fold_of) == len(data["fine"]) and "data" in assignment
    if made != wanted or not same_data or _data_digest(data, fold_of) != str(assignment["data"]):
        raise StaleRecordError(
            f"cross_validation_folds was made with {made} on other data or settings than "
            f"these ({wanted}, {len(data['fine'])} images): reassign the folds and retrain, "
            f"{_REDO.format('assign_cross_validation_folds')}"
        )
    return fold_of


# ----------------------------------------------------------------------------- one fold
def _warn_if_selecting(namespace: str, train: Mapping[str, Any], settings: Mapping[str, Any]):
    callbacks = train.get("callbacks") or {}
    selecting = [name for name in _SELECTING_CALLBACKS if callbacks.get(name)]
    if selecting and settings["inner_validation_fraction"] is None:
        logger.warning(
            "cross_validation: %s.train uses %s on validation metrics; with "
            "inner_validation_fraction null these watch the held-out fold, which biases its "
            "score upwards (set cross_validation.inner_validation_fraction to avoid it)",
            namespace, ", ".join(selecting),
        )  # fmt: skip


def cross_validate_fold(
    train_split: dict[str, np.ndarray],
    validation_split: dict[str, np.ndarray],
    cross_validation_folds: dict[str, np.ndarray],
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    cv_params: dict[str, Any],
    run_settings: dict[str, Any],
    device_settings: dict[str, Any],
    pretrained: keras.Model | None = None,
    *,
    namespace: str,
    fold: int,
    folds: int,
) -> dict[str, Any]:
    """Train ``namespace`` from scratch on every fold but ``fold``; score it on ``fold``.

    Args:
        train_split, validation_split, cross_validation_folds: the data and its folds.
        model_params, train_params: the namespace's recipe.
        cv_params, run_settings, device_settings: ``cross_validation``, ``training_run``
            (epoch cap), ``device``.
        pretrained: the model a transfer architecture starts from (its ``extra_inputs``).
        namespace, fold, folds: which training this node is (bound when it is built).

    Returns:
        The fold's record (:func:`~cifar100_kedro.training.kfold.fold_record`) with the
        architecture, its builder and label mode, the recipe as trained, and digests of the
        data and of the pre-trained model.
    """
    settings = check_settings(cv_params, folds)
    data = combine_training_set(train_split, validation_split)
    fold_of = _checked_fold_ids(cross_validation_folds, data, settings, folds)
    model, train = _as_trained(model_params, train_params, settings, run_settings)
    _warn_if_selecting(namespace, train, settings)
    logger.info("cross_validation: %s, fold %d of 0…%d", namespace, fold, folds - 1)
    record = kfold.train_fold(
        data, fold_of, fold, model, train, name=f"{namespace}_fold_{fold}",
        work_dir=Path(settings["work_dir"]) / namespace / f"fold_{fold}",
        fingerprint=kfold.fingerprint(model, train, _fold_settings(settings, folds)),
        seed=settings["seed"], inner_validation_fraction=settings["inner_validation_fraction"],
        evaluation_batch_size=settings["evaluation_batch_size"],
        keep_state=settings["keep_fold_state"], pretrained=pretrained,
        device_settings=device_settings,
    )  # fmt: skip
    weights = pretrained.get_weights() if pretrained is not None else None
    return {
        "architecture": namespace,
        **record,
        "builder": model.get("builder", ""),
        "label_mode": train.get("label_mode", "fine"),
        "data": str(cross_validation_folds["data"]),
        "pretrained": kfold.digest(*weights)[:16] if weights is not None else None,
        "recipe": {"model": model, "train": train},
    }


# ----------------------------------------------------------------------------- records
def _gather(datasets: Mapping[str, Any]) -> tuple[dict[str, dict], dict[str, dict[int, dict]]]:
    """``{namespace: {"model", "train"}}`` and ``{namespace: {fold: record}}`` from the node
    inputs named ``<namespace>.model`` / ``.train`` / ``.cv_fold_<k>``."""
    recipes: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[int, dict[str, Any]]] = {}
    for name, value in datasets.items():
        match = _RECORD.match(name)
        if match:
            records.setdefault(match["namespace"], {})[int(match["fold"])] = value
        else:
            namespace, part = name.rsplit(".", 1)
            recipes.setdefault(namespace, {})[part] = value
    return recipes, records


def _stale_message(stale: list[tuple[str, int, str]]) -> str:
    nodes = ",".join(f"{namespace}.fold_{fold}" for namespace, fold, _ in stale)
    reasons = "; ".join(reason for _, _, reason in stale[:3])
    return (
        f"cross_validation: {len(stale)} fold record(s) do not match the current recipes and "
        f"settings ({reasons}{'; …' if len(stale) > 3 else ''}). `--only-missing-outputs` keeps "
        f"finished folds as they are; retrain these and redo the comparison: "
        f"{_REDO.format(nodes)}"
    )


def _agree(rows: list[dict[str, Any]], key: str, what: str, per_architecture: bool) -> None:
    """Raise unless every record (of an architecture) has the same ``key``."""
    seen: dict[str, set] = {}
    for row in rows:
        seen.setdefault(row["architecture"] if per_architecture else "all", set()).add(row.get(key))
    mixed = [group for group, values in seen.items() if len(values) > 1]
    if mixed:
        raise StaleRecordError(
            f"cross_validation: the fold records of {', '.join(mixed)} models were trained on "
            f"different {what}; retrain every fold: `kedro run --pipeline=cross_validation`"
        )


def checked_records(
    cv_params: Mapping[str, Any], run_settings: Mapping[str, Any], datasets: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every record, in architecture then fold order, after checking that each matches its
    recipe's fingerprint and that all were trained on the same data (and, per architecture,
    from the same pre-trained model); :class:`StaleRecordError` names the folds to retrain."""
    recipes, records = _gather(datasets)
    folds = len(next(iter(records.values())))
    settings = check_settings(cv_params, folds)
    stale, rows = [], []
    for namespace, by_fold in records.items():
        model, train = _as_trained(
            recipes[namespace]["model"], recipes[namespace]["train"], settings, run_settings
        )
        expected = kfold.fingerprint(model, train, _fold_settings(settings, folds))
        for fold in range(folds):
            try:
                kfold.check_record(by_fold[fold], fold, expected, f"{namespace}.cv_fold_{fold}")
            except StaleRecordError as exc:
                stale.append((namespace, fold, str(exc)))
            rows.append(by_fold[fold])
    if stale:
        raise StaleRecordError(_stale_message(stale))
    _agree(rows, "data", "data or fold assignments", per_architecture=False)
    _agree(rows, "pretrained", "pre-trained models", per_architecture=True)
    return rows


def collect_cross_validation_folds(
    cv_params: dict[str, Any], run_settings: dict[str, Any], **datasets: Any
) -> pd.DataFrame:
    """One row per architecture and fold (:data:`FOLD_RESULT_COLUMNS`) from the fold records.

    Args:
        cv_params, run_settings: ``cross_validation`` and ``training_run``.
        **datasets: ``<namespace>.model``, ``<namespace>.train`` and ``<namespace>.cv_fold_<k>``
            of every architecture (its recipe and its K records).
    """
    rows = checked_records(cv_params, run_settings, datasets)
    return pd.DataFrame([{c: r.get(c) for c in FOLD_RESULT_COLUMNS} for r in rows])


def check_cross_validation_results(
    fold_results: pd.DataFrame, cv_params: dict[str, Any], run_settings: dict[str, Any],
    **datasets: Any,
) -> None:  # fmt: skip
    """Raise unless the fold records match the recipes and ``fold_results`` matches them.

    The records are checked as :func:`collect_cross_validation_folds` does; the table (and
    the reports made from it) must hold the same scores: after folds are retrained with
    ``--only-missing-outputs``, Kedro keeps the existing table.
    """
    rows = pd.DataFrame(checked_records(cv_params, run_settings, datasets))
    keys, scores = ["architecture", "fold"], list(kfold.METRICS)
    merged = rows[keys + scores].merge(
        fold_results[keys + scores], on=keys, how="outer", suffixes=("", "_table")
    )
    table = merged[[f"{s}_table" for s in scores]].to_numpy(dtype=float)
    if len(merged) != len(rows) or not np.allclose(merged[scores], table, rtol=1e-9):
        raise StaleRecordError(
            "cross_validation_fold_results (and the tables made from it) do not hold the "
            "scores of the fold records: redo the comparison, "
            f"{_REDO.format('collect_cross_validation_folds')}"
        )
    logger.info(
        "cross_validation: %d fold records of %d architectures match their recipes and the "
        "tables", len(rows), rows["architecture"].nunique(),
    )  # fmt: skip


# ----------------------------------------------------------------------------- statistics
def _confidence(cv_params: Mapping[str, Any]) -> float:
    return float(cv_params.get("confidence", DEFAULTS["confidence"]))


def make_table_1(fold_results: pd.DataFrame) -> pd.DataFrame:
    """Paper 003's Table I: mean accuracy and mean loss (cross-entropy) per model."""
    return statistics.mean_scores_table(fold_results)


def make_table_2(fold_results: pd.DataFrame, cv_params: dict[str, Any]) -> pd.DataFrame:
    """Paper 003's Table II (``p + t·s_p``, row − column) with each row's optimal model."""
    mean_accuracy = statistics.mean_scores_table(fold_results).set_index("model")["mean_accuracy"]
    bounds = statistics.confidence_bound_matrix(fold_results, _confidence(cv_params))
    return statistics.table_2_with_optimal(bounds, mean_accuracy)


def make_corrected_ttest(fold_results: pd.DataFrame, cv_params: dict[str, Any]) -> pd.DataFrame:
    """Our addition: Nadeau & Bengio's corrected resampled t-test for every pair, Holm-adjusted."""
    alpha = round(1 - _confidence(cv_params), 12)
    return statistics.corrected_resampled_ttest(fold_results, alpha=alpha)


def make_verdict(fold_results: pd.DataFrame, cv_params: dict[str, Any]) -> dict[str, Any]:
    """Which model is best overall: paper 003's derivation, and ours beside it."""
    verdict = statistics.model_selection_verdict(fold_results, _confidence(cv_params))
    logger.info(
        "cross_validation verdict: paper 003 → %s (%s); corrected test → %s",
        verdict["paper_003"]["best_overall"],
        "optimal in every row" if verdict["paper_003"]["unanimous"] else "optimal in most rows",
        verdict["our_addition_corrected_resampled_ttest"]["best_overall"],
    )
    return verdict


def plot_table_2(fold_results: pd.DataFrame, cv_params: dict[str, Any]):
    """Heatmaps of Table II (paper) and of its corrected-variance version (ours)."""
    confidence = _confidence(cv_params)
    mean_accuracy = statistics.mean_scores_table(fold_results).set_index("model")["mean_accuracy"]
    paper = statistics.confidence_bound_matrix(fold_results, confidence)
    corrected = statistics.confidence_bound_matrix(fold_results, confidence, corrected=True)
    return plot_confidence_bounds(
        paper,
        statistics.optimal_per_row(paper, mean_accuracy),
        corrected,
        statistics.optimal_per_row(corrected, mean_accuracy),
        confidence,
        int(fold_results["fold"].nunique()),
    )
