"""The training summary (``<namespace>.training_summary``, JSON): one schema for every task.

====================== =====================================================================
key                    meaning
====================== =====================================================================
namespace              the Kedro namespace trained (the architecture's, or a further seed's
                       ``<architecture>.seed_<s>``: ``cifar100_kedro.seed_axis``)
architecture           the architecture's registry name (its recipe)
task                   ``classification`` or ``reconstruction``
builder                the registered model builder
recipe_fingerprint     digest of the parsed recipe (what changes the trained model)
seed                   the seed of initialisation, data order, dropout and augmentation
label_mode             ``fine`` | ``coarse`` (classification only, else null)
num_classes            output units (0 for reconstruction)
epochs_requested       epochs after the run's cap and any time budget
epochs_run             epochs in the history (fewer when early stopping stopped it)
best_epoch             1-based epoch with the best monitored metric (``monitor``)
monitor                the metric ``best_epoch`` refers to (early stopping's, else val_loss)
resumed                whether this run continued an interrupted one
training_seconds       sum of the epochs' wall times, including those before a resume
training_cpu_seconds   sum of the epochs' process CPU times (all threads), likewise
images_per_second      training images × epochs (× partial_epoch) / training_seconds
train_images           images the model was fitted on
validation_images      images watched after every epoch
batch_size             images per step
trainable_params       trainable scalars of the saved model
total_params           all scalars of the saved model
tta                    the recipe asks reports to evaluate with flip test-time augmentation
augmentation_placement ``model`` | ``dataset`` | ``none`` (no augmentation)
final                  the last epoch's history row (``loss``, ``val_loss``, … per task)
run_folder             the run folder (resume state; see ``training.run_folder``)
protocol               ``holdout`` (training split, validation split watched, test untouched)
                       or ``paper`` (the paper's own: ``architectures.PROTOCOLS``)
pretrained_from        (when started from a pre-trained model) that model's name
pretrained_layers      (idem) how many layers' weights were copied
budget                 (with ``time_budget_minutes``) what the budget bought: ``candidate``
                       (``budget_plan`` index or null), ``epochs``, ``steps`` (null: whole
                       epochs), seconds per step and per epoch, ``epochs_bought`` per
                       candidate measured, ``description`` (the log line)
partial_epoch          (when a budget shortened its epochs) the fraction of each epoch trained
====================== =====================================================================

Pipelines may add keys of their own (the autoencoder's pre-training source, the fish
subset's feature cache); those are documented where they are added.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import pandas as pd

from cifar100_kedro.training.assembly import count_params
from cifar100_kedro.training.recipe import Recipe

SCHEMA_KEYS = (
    "namespace", "task", "builder", "recipe_fingerprint", "seed", "label_mode", "num_classes",
    "epochs_requested", "epochs_run", "best_epoch", "monitor", "resumed", "training_seconds",
    "training_cpu_seconds", "images_per_second", "train_images", "validation_images",
    "batch_size", "trainable_params", "total_params", "tta", "augmentation_placement", "final",
)  # fmt: skip


def best_epoch(history: pd.DataFrame, monitor: str) -> int:
    """The 1-based epoch with the best ``monitor`` (max for accuracies, min otherwise)."""
    if not len(history):
        return 0
    if monitor not in history or history[monitor].isna().all():
        return int(history["epoch"].iloc[-1])
    values = history[monitor]
    index = values.idxmax() if "acc" in monitor else values.idxmin()
    return int(history.loc[index, "epoch"])


def build_summary(
    recipe: Recipe,
    model: keras.Model,
    history: pd.DataFrame,
    *,
    seed: int,
    epochs: int,
    monitor: str,
    resumed: bool,
    num_classes: int,
    train_images: int,
    validation_images: int,
    fallback_seconds: float,
) -> dict[str, Any]:
    """The summary of one finished run (see the module docstring for every key)."""
    seconds = float(history["seconds"].sum()) if len(history) else fallback_seconds
    last = history.iloc[-1].to_dict() if len(history) else {}
    settings = recipe.train
    return {
        "namespace": recipe.namespace,
        "task": recipe.task,
        "builder": recipe.builder,
        "recipe_fingerprint": recipe.fingerprint(),
        "seed": int(seed),
        "label_mode": settings.label_mode if recipe.task == "classification" else None,
        "num_classes": int(num_classes),
        "epochs_requested": int(epochs),
        "epochs_run": len(history),
        "best_epoch": best_epoch(history, monitor),
        "monitor": monitor,
        "resumed": bool(resumed),
        "training_seconds": seconds,
        "training_cpu_seconds": float(history["cpu_seconds"].sum())
        if "cpu_seconds" in history and len(history)
        else None,
        "images_per_second": float(train_images * len(history) / max(seconds, 1e-9))
        if len(history)
        else 0.0,
        "train_images": int(train_images),
        "validation_images": int(validation_images),
        "batch_size": int(settings.batch_size),
        "trainable_params": count_params(model.trainable_weights),
        "total_params": int(model.count_params()),
        "tta": settings.tta,
        "augmentation_placement": settings.augmentation_placement
        if settings.augmentation
        else "none",
        "final": {
            k: float(v) for k, v in last.items() if k != "epoch" and not math.isnan(float(v))
        },
    }
