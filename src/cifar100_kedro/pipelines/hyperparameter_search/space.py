"""The search space from conf: checks, KerasTuner hyperparameters, and candidate recipes.

A space is a mapping ``name → spec`` in ``hyperparameter_search.space``. A name is either a
recipe hyperparameter (:data:`RECIPE_HYPERPARAMETERS`, e.g. ``learning_rate``), a keyword
argument of the base model's builder (e.g. ``dropout``, ``trainable_backbone``), or one element
of a list-valued builder argument, numbered from 1 (``dense_units_1`` = ``dense_units[0]``).
Specs:

* ``{type: choice, values: [...]}`` — one of the listed values (numbers, strings or booleans);
* ``{type: int, min, max, step: 1, sampling: linear}`` / ``{type: float, min, max, step: null,
  sampling: linear|log}`` — a range (KerasTuner's ``Int`` / ``Float``);
* ``{type: boolean}`` — true or false;
* ``{type: fixed, value}`` — not searched, but recorded with every trial.

Everything here is pure Python (KerasTuner is imported only where its objects are built), so
the checks run in milliseconds before any training.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from cifar100_kedro.training.recipe import RecipeError, validate_train_params

# Recipe hyperparameters: name → path of keys inside the ``train`` recipe.
RECIPE_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "learning_rate": ("optimizer", "learning_rate"),
    "optimizer": ("optimizer", "name"),
    "weight_decay": ("optimizer", "weight_decay"),
    "label_smoothing": ("label_smoothing",),
}
# Set per search stage (random_search / grid_search settings), never searched.
STAGE_KEYS = ("epochs", "batch_size")
SPEC_TYPES = ("choice", "int", "float", "boolean", "fixed")
_SPEC_KEYS = {
    "choice": {"type", "values", "default"},
    "int": {"type", "min", "max", "step", "sampling", "default"},
    "float": {"type", "min", "max", "step", "sampling", "default"},
    "boolean": {"type", "default"},
    "fixed": {"type", "value"},
}
# Builder arguments that are not hyperparameters of the network.
_NOT_HYPERPARAMETERS = ("num_classes", "input_shape")

SPACE_KEY = "hyperparameter_search.space"


class SearchSpaceError(RecipeError):
    """The search space in conf is empty or names/defines a hyperparameter badly."""


# ----------------------------------------------------------------------------- known names
def builder_arguments(model_params: Mapping[str, Any]) -> dict[str, Any]:
    """The builder's tunable keyword arguments with their base values (recipe, else default)."""
    from cifar100_kedro.models.registry import get_builder

    builder = get_builder(model_params["builder"])
    arguments = {}
    for name, parameter in inspect.signature(builder).parameters.items():
        if name in _NOT_HYPERPARAMETERS or parameter.kind in (
            inspect.Parameter.VAR_KEYWORD,
            inspect.Parameter.VAR_POSITIONAL,
        ):
            continue
        default = None if parameter.default is inspect.Parameter.empty else parameter.default
        arguments[name] = model_params.get(name, default)
    return arguments


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def known_hyperparameters(model_params: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Every name a space may use → where it goes: ``("train", *path)``, ``("model", arg)``
    or ``("model", arg, index)`` for one element of a list-valued builder argument."""
    known: dict[str, tuple[Any, ...]] = {
        name: ("train", *path) for name, path in RECIPE_HYPERPARAMETERS.items()
    }
    for name, value in builder_arguments(model_params).items():
        if _is_list(value):
            for index in range(len(value)):
                known[f"{name}_{index + 1}"] = ("model", name, index)
        else:
            known[name] = ("model", name)
    return known


# ----------------------------------------------------------------------------- checks
def _fail(name: str, message: str) -> None:
    raise SearchSpaceError(f"parameter '{SPACE_KEY}.{name}': {message}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _normalise_choice(name: str, values: Any) -> list[Any]:
    """Choice values of one type: all numbers (floats if any is a float), strings or bools."""
    if not isinstance(values, list) or not values:
        _fail(name, f"'values' must be a non-empty list, got {values!r}")
    if all(isinstance(v, bool) for v in values):
        return list(values)
    if all(_is_number(v) for v in values):
        return (
            [float(v) for v in values]
            if any(isinstance(v, float) for v in values)
            else list(values)
        )
    if all(isinstance(v, str) for v in values):
        return list(values)
    _fail(
        name,
        f"choice values must all be numbers, all strings or all booleans, got {values!r} "
        "(YAML reads 1e-3 as a string: write 1.0e-3)",
    )
    return []


def _check_spec(name: str, spec: Any) -> dict[str, Any]:
    """One spec, checked and normalised (choice values of one type)."""
    if not isinstance(spec, Mapping) or spec.get("type") not in SPEC_TYPES:
        _fail(name, f"must be a mapping with 'type' one of {SPEC_TYPES}, got {spec!r}")
    spec = dict(spec)
    kind = spec["type"]
    unknown = set(spec) - _SPEC_KEYS[kind]
    if unknown:
        _fail(
            name,
            f"unknown key(s) {sorted(unknown)} for type '{kind}'; "
            f"allowed: {sorted(_SPEC_KEYS[kind])}",
        )
    if kind == "choice":
        spec["values"] = _normalise_choice(name, spec.get("values"))
        if "default" in spec and spec["default"] not in spec["values"]:
            _fail(name, f"default {spec['default']!r} is not one of the values {spec['values']}")
    elif kind in ("int", "float"):
        low, high = spec.get("min"), spec.get("max")
        if not _is_number(low) or not _is_number(high) or low > high:
            _fail(name, f"needs numbers 'min' <= 'max', got min={low!r}, max={high!r}")
        if kind == "int" and not (isinstance(low, int) and isinstance(high, int)):
            _fail(name, f"type 'int' needs integer 'min' and 'max', got {low!r}, {high!r}")
        step = spec.get("step")
        if step is not None and (not _is_number(step) or step <= 0):
            _fail(name, f"'step' must be a positive number or null, got {step!r}")
        sampling = spec.get("sampling", "linear")
        if sampling not in ("linear", "log", "reverse_log"):
            _fail(name, f"'sampling' must be linear, log or reverse_log, got {sampling!r}")
        if sampling != "linear" and low <= 0:
            _fail(name, f"sampling '{sampling}' needs min > 0, got {low!r}")
        if sampling != "linear" and step is not None and step <= 1:
            _fail(
                name,
                f"sampling '{sampling}' multiplies by 'step', "
                f"so it needs step > 1 or null, got {step!r}",
            )
    elif kind == "boolean":
        if not isinstance(spec.get("default", False), bool):
            _fail(name, f"'default' must be true or false, got {spec['default']!r}")
    elif "value" not in spec:
        _fail(name, "type 'fixed' needs a 'value'")
    return spec


def candidate_values(spec: Mapping[str, Any]) -> list[Any]:
    """Values that stand for a spec in the recipe checks (every choice, a range's ends)."""
    kind = spec["type"]
    if kind == "choice":
        return list(spec["values"])
    if kind in ("int", "float"):
        return [spec["min"], spec["max"]]
    if kind == "boolean":
        return [False, True]
    return [spec["value"]]


def validate_space(
    space: Any, model_params: Mapping[str, Any], train_params: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Check the space; return it normalised. Fails on an empty space, an unknown name
    (listing the known ones), a bad spec, or a value that makes the recipe invalid."""
    if not isinstance(space, Mapping) or not space:
        raise SearchSpaceError(
            f"parameter '{SPACE_KEY}' is empty: list at least one hyperparameter to search, e.g. "
            "learning_rate: {type: choice, values: [1.0e-2, 1.0e-3, 1.0e-4]}"
        )
    known = known_hyperparameters(model_params)
    checked: dict[str, dict[str, Any]] = {}
    for name, spec in space.items():
        if name in STAGE_KEYS:
            _fail(name, "is set per stage (random_search / grid_search settings), not searched")
        if name not in known:
            lists = [
                arg for arg, value in builder_arguments(model_params).items() if _is_list(value)
            ]
            hint = (
                "; list arguments are searched element by element "
                f"({', '.join(f'{a}_1' for a in lists)}, ...)"
                if name in lists
                else ""
            )
            _fail(
                name,
                f"unknown hyperparameter for builder '{model_params['builder']}'{hint}; "
                f"known: {', '.join(sorted(known))}",
            )
        checked[name] = _check_spec(name, spec)
        # A recipe value must give a valid recipe (optimiser names, positive learning rate, ...).
        if known[name][0] == "train":
            for value in candidate_values(checked[name]):
                _, train = apply_hyperparameters(model_params, train_params, {name: value}, known)
                try:
                    validate_train_params(train, f"{SPACE_KEY}.{name}")
                except RecipeError as exc:
                    _fail(name, f"value {value!r} makes an invalid recipe: {exc}")
    return checked


# ----------------------------------------------------------------------------- recipes
def apply_hyperparameters(
    model_params: Mapping[str, Any],
    train_params: Mapping[str, Any],
    values: Mapping[str, Any],
    known: Mapping[str, tuple[Any, ...]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The base recipe with ``values`` put in place (copies; the inputs stay untouched)."""
    known = known or known_hyperparameters(model_params)
    model, train = copy.deepcopy(dict(model_params)), copy.deepcopy(dict(train_params))
    base_arguments = builder_arguments(model_params)
    for name, value in values.items():
        target = known[name]
        if target[0] == "train":
            node = train
            for key in target[1:-1]:
                node[key] = dict(node.get(key) or {})
                node = node[key]
            node[target[-1]] = value
        elif len(target) == 2:
            model[target[1]] = value
        else:
            _, argument, index = target
            items = list(model.get(argument, base_arguments[argument]))
            items[index] = value
            model[argument] = items
    return model, train


# ----------------------------------------------------------------------------- KerasTuner
def tuner_hyperparameters(space: Mapping[str, Mapping[str, Any]]):
    """A ``keras_tuner.HyperParameters`` holding the (checked) space, in conf order."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    for name, spec in space.items():
        kind = spec["type"]
        if kind == "choice":
            values = spec["values"]
            if len(values) == 1:
                hp.Fixed(name, values[0])
            elif all(isinstance(v, bool) for v in values):
                # KerasTuner's Choice would turn booleans into 0/1 (bool is an int).
                hp.Boolean(name, default=spec.get("default", values[0]))
            else:
                hp.Choice(name, values, default=spec.get("default"))
        elif kind == "int":
            hp.Int(
                name,
                spec["min"],
                spec["max"],
                step=spec.get("step") or 1,
                sampling=spec.get("sampling", "linear"),
                default=spec.get("default"),
            )
        elif kind == "float":
            hp.Float(
                name,
                spec["min"],
                spec["max"],
                step=spec.get("step"),
                sampling=spec.get("sampling", "linear"),
                default=spec.get("default"),
            )
        elif kind == "boolean":
            hp.Boolean(name, default=spec.get("default", False))
        else:
            hp.Fixed(name, spec["value"])
    return hp


def grid_space(
    top_trials: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Paper 002's second stage: the hyperparameters whose values differ among the top trials
    become a grid (the distinct values seen, best trial's first); the others are fixed to the
    value the top trials share. ``top_trials`` are best first, each with ``hyperparameters``."""
    if not top_trials:
        raise SearchSpaceError("the grid search needs at least one finished random-search trial")
    space: dict[str, dict[str, Any]] = {}
    for name in names:
        seen: list[Any] = []
        for trial in top_trials:
            value = trial["hyperparameters"][name]
            # 1 == True in Python: compare type as well, so booleans and numbers never merge.
            if not any(value == s and type(value) is type(s) for s in seen):
                seen.append(value)
        space[name] = (
            {"type": "choice", "values": seen}
            if len(seen) > 1
            else {"type": "fixed", "value": seen[0]}
        )
    return space
