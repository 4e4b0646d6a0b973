"""Training recipes (``<namespace>.model`` / ``<namespace>.train``), parsed once into types.

:func:`parse_recipe` is the one parser: it fills every default, applies the run's epoch cap
(``training_run.max_epochs``), checks every ``train`` key and checks the ``model`` keys
against the builder's signature, so a typo fails at pipeline start (the run hook parses every
recipe the pipeline will train) naming the key, not hours later. The engine parses again
when it trains (the same function, so the same result); nothing else reads recipe dicts.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "nadam", "adagrad", "adadelta", "adamax", "lion")
SCHEDULES = ("constant", "inverse_time", "cosine", "warmup_linear", "one_cycle")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")
# The first is the default: x/255 is what most of the papers do (001-004).
NORMALIZATIONS = ("rescale", "rescale_center", "standardize", "center", "none")
LABEL_MODES = ("fine", "coarse")
AUGMENTATION_PLACEMENTS = ("model", "dataset")  # the first is the default
TASKS = ("classification", "reconstruction")
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
    # training/layers.py: pad + per-image integer crop, compiles under XLA (jit_compile)
    "random_crop_translate": "RandomCropTranslate",
    "random_contrast": "RandomContrast",
    "random_brightness": "RandomBrightness",
}
# ``train`` keys a recipe may have; anything else is a typo.
TRAIN_KEYS = (
    "label_mode", "epochs", "time_budget_minutes", "batch_size", "normalization", "optimizer",
    "schedule", "loss", "label_smoothing", "augmentation", "augmentation_placement",
    "steps_per_execution", "callbacks", "seed", "num_classes", "tta", "verbose", "budget_plan",
    "progressive_resizing",
    "lookahead",
)  # fmt: skip
# ``train.budget_plan`` keys, and the learning-rate rules when a candidate changes the batch.
BUDGET_PLAN_KEYS = ("min_epochs", "candidates", "lr_scaling", "reference_batch")
LR_SCALINGS = ("linear", "sqrt", "none")
# ``train.lookahead`` keys and defaults (Zhang et al. 2019: k=5, α=0.5; training/lookahead.py).
LOOKAHEAD_DEFAULTS = {"steps": 5, "alpha": 0.5}
# Keys that only mean something for labels; a reconstruction recipe must not set them.
CLASSIFICATION_KEYS = ("loss", "label_smoothing", "label_mode", "num_classes", "tta")


class RecipeError(ValueError):
    """A training recipe parameter is missing or invalid."""


@dataclass(frozen=True)
class TrainSettings:
    """A checked ``train`` recipe with every default filled (see ``TRAIN_KEYS``)."""

    epochs: int | None
    batch_size: int
    optimizer: dict[str, Any]
    label_mode: str = "fine"
    time_budget_minutes: float | None = None
    normalization: str = NORMALIZATIONS[0]
    schedule: dict[str, Any] = field(default_factory=lambda: {"name": "constant"})
    loss: str = "sparse_categorical_crossentropy"
    label_smoothing: float = 0.0
    augmentation: tuple[dict[str, Any], ...] = ()
    augmentation_placement: str = AUGMENTATION_PLACEMENTS[0]
    steps_per_execution: int = 1
    callbacks: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    num_classes: int | None = None
    tta: bool = False
    verbose: int = 2
    budget_plan: dict[str, Any] | None = None
    progressive_resizing: tuple[dict[str, Any], ...] = ()
    lookahead: dict[str, Any] | None = None

    @property
    def one_hot(self) -> bool:
        """Labels go one-hot when the loss needs it (categorical CE, label smoothing)."""
        return self.loss == "categorical_crossentropy" or self.label_smoothing > 0


@dataclass(frozen=True)
class Recipe:
    """One namespace's parsed recipe: what the engine trains and how."""

    namespace: str
    builder: str
    hyperparameters: dict[str, Any]
    train: TrainSettings
    task: str = "classification"

    def fingerprint(self) -> str:
        """A digest of everything that changes the trained model (for stale-result checks)."""
        fields = asdict(self)
        for option in ("lookahead", "progressive_resizing"):
            if not fields["train"][option]:
                # An option that is off leaves the recipes trained before it existed unchanged
                # (their saved training states stay resumable).
                del fields["train"][option]
        payload = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cap_epochs(epochs: int | None, *caps: int | None) -> int | None:
    """The one epoch cap: ``epochs`` lowered to the smallest cap given (``None`` = no cap).

    With no ``epochs`` (a time-budget recipe) the cap is the upper bound the budget works under.
    """
    given = [int(c) for c in caps if c]
    if not given:
        return epochs
    return min(epochs, *given) if epochs else min(given)


def _fail(where: str, key: str, message: str) -> None:
    raise RecipeError(f"parameter '{where}.{key}': {message}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _choice(train: Mapping[str, Any], where: str, key: str, allowed: tuple[str, ...]) -> str:
    value = train.get(key, allowed[0])
    if value not in allowed:
        _fail(where, key, f"must be one of {allowed}, got {value!r}")
    return value


def parse_train(
    train: Mapping[str, Any], where: str = "train", max_epochs: int | None = None,
    task: str = "classification",
) -> TrainSettings:  # fmt: skip
    """Check a ``train`` recipe and fill its defaults; raise :class:`RecipeError` naming the
    first bad key. ``max_epochs`` (the run's cap) lowers ``epochs``."""
    if not isinstance(train, Mapping):
        raise RecipeError(f"parameter '{where}' must be a mapping, got {type(train).__name__}")
    unknown = sorted(set(train) - set(TRAIN_KEYS))
    if unknown:
        _fail(where, unknown[0], f"unknown key; known: {', '.join(TRAIN_KEYS)}")
    if task == "reconstruction":
        given = [key for key in CLASSIFICATION_KEYS if key in train]
        if given:
            _fail(where, given[0], "a reconstruction recipe has no labels; its loss is fixed")
        if train.get("augmentation"):
            _fail(where, "augmentation", "must be empty: the target is the unaugmented input")
        if train.get("time_budget_minutes"):
            _fail(where, "time_budget_minutes", "is not supported for reconstruction; give epochs")
    epochs, budget = train.get("epochs"), train.get("time_budget_minutes")
    # With a time budget, ``epochs`` is optional (an upper bound); when given it must be valid.
    if (budget is None or epochs is not None) and not _positive_int(epochs):
        _fail(where, "epochs", f"must be a positive integer, got {epochs!r}")
    if budget is not None and (not isinstance(budget, (int, float)) or budget <= 0):
        _fail(where, "time_budget_minutes", f"must be a positive number, got {budget!r}")
    if max_epochs is not None:
        if not _positive_int(max_epochs):
            raise RecipeError(
                "parameter 'training_run.max_epochs' must be null or a positive integer, "
                f"got {max_epochs!r}"
            )
        epochs = cap_epochs(epochs, max_epochs)
    if not _positive_int(train.get("batch_size")):
        _fail(where, "batch_size", f"must be a positive integer, got {train.get('batch_size')!r}")
    smoothing = train.get("label_smoothing", 0.0)
    if not isinstance(smoothing, (int, float)) or not 0 <= smoothing < 1:
        _fail(where, "label_smoothing", f"must be in [0, 1), got {smoothing!r}")
    if not isinstance(train.get("tta", False), bool):
        _fail(
            where,
            "tta",
            f"must be true or false (flip test-time augmentation), got {train.get('tta')!r}",
        )
    optimizer = train.get("optimizer")
    if not isinstance(optimizer, Mapping) or "name" not in optimizer:
        _fail(where, "optimizer", "must be a mapping with a 'name'")
    if optimizer["name"] not in OPTIMIZERS:
        _fail(
            where,
            "optimizer.name",
            f"unknown optimiser {optimizer['name']!r}; known: {', '.join(OPTIMIZERS)}",
        )
    lr = optimizer.get("learning_rate", 1e-3)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0:
        _fail(where, "optimizer.learning_rate", f"must be a positive number, got {lr!r}")
    schedule = train.get("schedule") or {"name": "constant"}
    if not isinstance(schedule, Mapping) or schedule.get("name") not in SCHEDULES:
        _fail(where, "schedule.name", f"must be one of {SCHEDULES}, got {schedule!r}")
    augmentation = train.get("augmentation") or []
    if not isinstance(augmentation, list):
        _fail(where, "augmentation", "must be a list of {name: ..., <layer arguments>}")
    for index, step in enumerate(augmentation):
        if not isinstance(step, Mapping) or step.get("name") not in AUGMENTATIONS:
            name = step.get("name") if isinstance(step, Mapping) else step
            _fail(
                where,
                f"augmentation[{index}].name",
                f"unknown augmentation {name!r}; known: {', '.join(AUGMENTATIONS)}",
            )
    per_call = train.get("steps_per_execution", 1)
    if not _positive_int(per_call):
        _fail(where, "steps_per_execution", f"must be a positive integer, got {per_call!r}")
    callbacks = train.get("callbacks") or {}
    if not isinstance(callbacks, Mapping):
        _fail(where, "callbacks", "must be a mapping of callback name → settings (or true/false)")
    for name in callbacks:
        if name not in CALLBACKS:
            _fail(where, f"callbacks.{name}", f"unknown callback; known: {', '.join(CALLBACKS)}")
    seed, num_classes = train.get("seed"), train.get("num_classes")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        _fail(where, "seed", f"must be an integer or null, got {seed!r}")
    if num_classes is not None and not _positive_int(num_classes):
        _fail(where, "num_classes", f"must be a positive integer or null, got {num_classes!r}")
    plan = _parse_budget_plan(train.get("budget_plan"), where, train["batch_size"])
    resizing = _parse_progressive_resizing(train.get("progressive_resizing"), where)
    lookahead = _parse_lookahead(train.get("lookahead"), where)
    return TrainSettings(
        epochs=epochs,
        batch_size=train["batch_size"],
        optimizer=dict(optimizer),
        label_mode=_choice(train, where, "label_mode", LABEL_MODES),
        time_budget_minutes=budget,
        normalization=_choice(train, where, "normalization", NORMALIZATIONS),
        schedule=dict(schedule),
        loss=_choice(train, where, "loss", LOSSES),
        label_smoothing=float(smoothing),
        augmentation=tuple(dict(step) for step in augmentation),
        augmentation_placement=_choice(
            train, where, "augmentation_placement", AUGMENTATION_PLACEMENTS
        ),
        steps_per_execution=per_call,
        callbacks={k: v for k, v in callbacks.items()},
        seed=seed,
        num_classes=num_classes,
        tta=bool(train.get("tta", False)),
        verbose=int(train.get("verbose", 2)),
        budget_plan=plan,
        progressive_resizing=resizing,
        lookahead=lookahead,
    )


def _parse_lookahead(value: Any, where: str) -> dict[str, Any] | None:
    """Check ``train.lookahead``: null (off) or ``{steps, alpha}`` (defaults 5 and 0.5)."""
    if value is None:
        return None
    key = "lookahead"
    if not isinstance(value, Mapping):
        _fail(
            where, key, f"must be null (off) or a mapping with 'steps' and 'alpha', got {value!r}"
        )
    unknown = sorted(set(value) - set(LOOKAHEAD_DEFAULTS))
    if unknown:
        _fail(where, f"{key}.{unknown[0]}", f"unknown key; known: {', '.join(LOOKAHEAD_DEFAULTS)}")
    settings = {**LOOKAHEAD_DEFAULTS, **value}
    if not _positive_int(settings["steps"]):
        _fail(where, f"{key}.steps", f"must be a positive integer, got {settings['steps']!r}")
    alpha = settings["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 1:
        _fail(where, f"{key}.alpha", f"must be in (0, 1], got {alpha!r}")
    return {"steps": settings["steps"], "alpha": float(alpha)}


def _parse_progressive_resizing(phases: Any, where: str) -> tuple[dict[str, Any], ...]:
    """Check ``train.progressive_resizing``: ``[{size: 16, until: 0.35}, ...]``, sizes and
    fractions of the run increasing; epochs from the last ``until`` on train at full size."""
    key = "progressive_resizing"
    if not phases:
        return ()
    if not isinstance(phases, list):
        _fail(where, key, "must be a list of {size: pixels, until: fraction of the epochs}")
    previous_size, previous_until = 0, 0.0
    for index, phase in enumerate(phases):
        at = f"{key}[{index}]"
        if not isinstance(phase, Mapping) or set(phase) != {"size", "until"}:
            _fail(where, at, f"must be a mapping with exactly 'size' and 'until', got {phase!r}")
        size, until = phase["size"], phase["until"]
        if not _positive_int(size) or size < 8 or size <= previous_size:
            _fail(
                where,
                f"{at}.size",
                f"must be an integer of at least 8 pixels, larger than the phase before, "
                f"got {size!r}",
            )
        if (
            not isinstance(until, (int, float))
            or isinstance(until, bool)
            or not previous_until < until < 1
        ):
            _fail(
                where,
                f"{at}.until",
                f"must be a fraction of the epochs in ({previous_until:g}, 1), increasing, "
                f"got {until!r}",
            )
        previous_size, previous_until = size, float(until)
    return tuple({"size": int(p["size"]), "until": float(p["until"])} for p in phases)


def resize_for_epoch(phases: tuple[dict[str, Any], ...], epoch: int, epochs: int) -> int:
    """The training image size of ``epoch`` (0-based) of ``epochs`` (0 = the full size).

    The first phase whose ``until`` lies beyond ``epoch / epochs`` gives the size; the last
    epoch always trains at full size (a one-epoch run never resizes), so that batch-norm
    statistics end at the size the model is tested at.
    """
    if epoch >= epochs - 1:
        return 0
    for phase in phases:
        if epoch / epochs < phase["until"]:
            return phase["size"]
    return 0


def _parse_budget_plan(plan: Any, where: str, batch_size: int) -> dict[str, Any] | None:
    """Check ``train.budget_plan``: which network and batch a ``time_budget_minutes`` run
    trains (``training/budget.py``). Candidate model keys are checked in :func:`parse_recipe`
    against the builder."""
    if plan is None:
        return None
    key = "budget_plan"
    if not isinstance(plan, Mapping):
        _fail(where, key, "must be a mapping with 'candidates' (and 'min_epochs', 'lr_scaling')")
    unknown = sorted(set(plan) - set(BUDGET_PLAN_KEYS))
    if unknown:
        _fail(where, f"{key}.{unknown[0]}", f"unknown key; known: {', '.join(BUDGET_PLAN_KEYS)}")
    min_epochs = plan.get("min_epochs", 1)
    if not isinstance(min_epochs, (int, float)) or isinstance(min_epochs, bool) or min_epochs <= 0:
        _fail(where, f"{key}.min_epochs", f"must be a positive number, got {min_epochs!r}")
    scaling = plan.get("lr_scaling", LR_SCALINGS[0])
    if scaling not in LR_SCALINGS:
        _fail(where, f"{key}.lr_scaling", f"must be one of {LR_SCALINGS}, got {scaling!r}")
    reference = plan.get("reference_batch", batch_size)
    if not _positive_int(reference):
        _fail(where, f"{key}.reference_batch", f"must be a positive integer, got {reference!r}")
    candidates = plan.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        _fail(where, f"{key}.candidates", "must be a non-empty list of mappings, widest first")
    for index, candidate in enumerate(candidates):
        if not isinstance(candidate, Mapping):
            _fail(where, f"{key}.candidates[{index}]", f"must be a mapping, got {candidate!r}")
        if "batch_size" in candidate and not _positive_int(candidate["batch_size"]):
            _fail(
                where,
                f"{key}.candidates[{index}].batch_size",
                f"must be a positive integer, got {candidate['batch_size']!r}",
            )
    return {
        "min_epochs": float(min_epochs),
        "candidates": [dict(c) for c in candidates],
        "lr_scaling": scaling,
        "reference_batch": int(reference),
    }


def parse_model(model: Mapping[str, Any], where: str = "model") -> tuple[str, dict[str, Any]]:
    """``(builder, hyperparameters)``: the builder must be registered and every other key a
    parameter of its signature (a typo names the key and the builder's parameters)."""
    from cifar100_kedro.models.registry import get_builder

    if not isinstance(model, Mapping) or "builder" not in model:
        raise RecipeError(f"parameter '{where}.builder' is missing")
    try:
        builder = get_builder(model["builder"])
    except ValueError as exc:
        raise RecipeError(f"parameter '{where}.builder': {exc}") from None
    hyper = {k: v for k, v in model.items() if k != "builder"}
    signature = inspect.signature(builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values()):
        # ``num_classes`` and ``input_shape`` come from the data, not the recipe.
        accepted = [name for name in signature if name not in ("num_classes", "input_shape")]
        unknown = sorted(set(hyper) - set(accepted))
        if unknown:
            raise RecipeError(
                f"parameter '{where}.{unknown[0]}': builder {model['builder']!r} has no such "
                f"argument; its hyperparameters: {', '.join(accepted) or '(none)'}"
            )
    return model["builder"], hyper


def parse_recipe(
    namespace: str,
    model: Mapping[str, Any],
    train: Mapping[str, Any],
    run_settings: Mapping[str, Any] | None = None,
    task: str = "classification",
) -> Recipe:
    """The typed recipe of ``namespace`` (``run_settings`` = the ``training_run`` parameters)."""
    if task not in TASKS:
        raise RecipeError(f"{namespace}: task {task!r} is not one of {TASKS}")
    builder, hyper = parse_model(model, f"{namespace}.model")
    settings = parse_train(
        train, f"{namespace}.train", (run_settings or {}).get("max_epochs"), task
    )
    for index, candidate in enumerate((settings.budget_plan or {}).get("candidates", [])):
        # A candidate's other keys are the builder's hyperparameters: check them the same way.
        overrides = {k: v for k, v in candidate.items() if k != "batch_size"}
        parse_model({**model, **overrides}, f"{namespace}.train.budget_plan.candidates[{index}]")
    return Recipe(namespace, builder, hyper, settings, task)


def validate_train_params(train: Mapping[str, Any], where: str = "train") -> None:
    """Check a ``train`` recipe (``parse_train`` without keeping the result)."""
    parse_train(train, where)


def validate_model_params(model: Mapping[str, Any], where: str = "model") -> None:
    """Check a ``model`` recipe (``parse_model`` without keeping the result)."""
    parse_model(model, where)
