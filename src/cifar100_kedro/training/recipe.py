"""Validation of training recipes (``<namespace>.train`` / ``.model`` parameters).

Every check names the parameter key, and runs before any training starts (the run hook
validates every architecture's recipe at pipeline start).
"""

from __future__ import annotations

from typing import Any

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "nadam", "adagrad", "adadelta", "adamax", "lion")
SCHEDULES = ("constant", "inverse_time", "cosine", "warmup_linear", "one_cycle")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")
NORMALIZATIONS = ("standardize", "center", "rescale", "none")
LABEL_MODES = ("fine", "coarse")
AUGMENTATION_PLACEMENTS = ("model", "dataset")  # the first is the default
CALLBACKS = (
    "early_stopping",
    "reduce_lr_on_plateau",
    "model_checkpoint",
    "terminate_on_nan",
    "backup_and_restore",
)
AUGMENTATIONS = {
    "random_flip": "RandomFlip",
    "random_translation": "RandomTranslation",
    "random_zoom": "RandomZoom",
    "random_rotation": "RandomRotation",
    "random_shear": "SymmetricRandomShear",  # training/layers.py: Keras' own cannot be reloaded
    "random_crop": "RandomCrop",
    "random_contrast": "RandomContrast",
    "random_brightness": "RandomBrightness",
}


class RecipeError(ValueError):
    """A training recipe parameter is missing or invalid."""


def _fail(where: str, key: str, message: str) -> None:
    raise RecipeError(f"parameter '{where}.{key}': {message}")


def validate_train_params(train: dict[str, Any], where: str = "train") -> None:
    """Check a ``train`` recipe; raise :class:`RecipeError` naming the first bad key."""
    if not isinstance(train, dict):
        raise RecipeError(f"parameter '{where}' must be a mapping, got {type(train).__name__}")
    epochs = train.get("epochs")
    budget = train.get("time_budget_minutes")
    # With a time budget, ``epochs`` is optional (an upper bound); when given it must be valid.
    if (budget is None or epochs is not None) and (not isinstance(epochs, int) or epochs < 1):
        _fail(where, "epochs", f"must be a positive integer, got {epochs!r}")
    if budget is not None and (not isinstance(budget, (int, float)) or budget <= 0):
        _fail(where, "time_budget_minutes", f"must be a positive number, got {budget!r}")
    batch = train.get("batch_size")
    if not isinstance(batch, int) or batch < 1:
        _fail(where, "batch_size", f"must be a positive integer, got {batch!r}")
    if train.get("label_mode", "fine") not in LABEL_MODES:
        _fail(where, "label_mode", f"must be one of {LABEL_MODES}, got {train.get('label_mode')!r}")
    if train.get("normalization", "standardize") not in NORMALIZATIONS:
        _fail(where, "normalization", f"must be one of {NORMALIZATIONS}, got {train.get('normalization')!r}")
    if train.get("loss", "sparse_categorical_crossentropy") not in LOSSES:
        _fail(where, "loss", f"must be one of {LOSSES}, got {train.get('loss')!r}")
    smoothing = train.get("label_smoothing", 0.0)
    if not isinstance(smoothing, (int, float)) or not 0 <= smoothing < 1:
        _fail(where, "label_smoothing", f"must be in [0, 1), got {smoothing!r}")
    if not isinstance(train.get("tta", False), bool):
        _fail(where, "tta", f"must be true or false (flip test-time augmentation), got {train.get('tta')!r}")
    optimizer = train.get("optimizer")
    if not isinstance(optimizer, dict) or "name" not in optimizer:
        _fail(where, "optimizer", "must be a mapping with a 'name'")
    if optimizer["name"] not in OPTIMIZERS:
        _fail(where, "optimizer.name", f"unknown optimiser {optimizer['name']!r}; known: {', '.join(OPTIMIZERS)}")
    lr = optimizer.get("learning_rate", 1e-3)
    if not isinstance(lr, (int, float)) or lr <= 0:
        _fail(where, "optimizer.learning_rate", f"must be a positive number, got {lr!r}")
    schedule = train.get("schedule") or {"name": "constant"}
    if not isinstance(schedule, dict) or schedule.get("name") not in SCHEDULES:
        _fail(where, "schedule.name", f"must be one of {SCHEDULES}, got {schedule!r}")
    augmentation = train.get("augmentation") or []
    if not isinstance(augmentation, list):
        _fail(where, "augmentation", "must be a list of {name: ..., <layer arguments>}")
    for index, step in enumerate(augmentation):
        if not isinstance(step, dict) or step.get("name") not in AUGMENTATIONS:
            name = step.get("name") if isinstance(step, dict) else step
            _fail(
                where,
                f"augmentation[{index}].name",
                f"unknown augmentation {name!r}; known: {', '.join(AUGMENTATIONS)}",
            )
    per_call = train.get("steps_per_execution", 1)
    if not isinstance(per_call, int) or isinstance(per_call, bool) or per_call < 1:
        _fail(where, "steps_per_execution", f"must be a positive integer, got {per_call!r}")
    placement = train.get("augmentation_placement", AUGMENTATION_PLACEMENTS[0])
    if placement not in AUGMENTATION_PLACEMENTS:
        _fail(where, "augmentation_placement", f"must be one of {AUGMENTATION_PLACEMENTS}, got {placement!r}")
    callbacks = train.get("callbacks") or {}
    if not isinstance(callbacks, dict):
        _fail(where, "callbacks", "must be a mapping of callback name → settings (or true/false)")
    for name in callbacks:
        if name not in CALLBACKS:
            _fail(where, f"callbacks.{name}", f"unknown callback; known: {', '.join(CALLBACKS)}")


def validate_model_params(model: dict[str, Any], where: str = "model") -> None:
    """Check that ``model.builder`` names a registered builder."""
    from cifar100_kedro.models.registry import get_builder

    if not isinstance(model, dict) or "builder" not in model:
        raise RecipeError(f"parameter '{where}.builder' is missing")
    try:
        get_builder(model["builder"])
    except ValueError as exc:
        raise RecipeError(f"parameter '{where}.builder': {exc}") from None
