"""The search space from conf: checks, names → recipe keys, KerasTuner objects, stage 2's grid."""

from __future__ import annotations

import pytest

from cifar100_kedro.pipelines.hyperparameter_search.space import (
    SearchSpaceError,
    apply_hyperparameters,
    grid_space,
    known_hyperparameters,
    tuner_hyperparameters,
    validate_space,
)

MODEL = {"builder": "chavez_progressive", "stage": 6, "weights": None}
TRAIN = {
    "label_mode": "fine",
    "epochs": 50,
    "batch_size": 50,
    "normalization": "rescale",
    "optimizer": {"name": "adam", "learning_rate": 1.0e-3},
}


def test_empty_space_fails_with_the_parameter_name():
    for empty in ({}, None):
        with pytest.raises(SearchSpaceError, match=r"hyperparameter_search\.space' is empty"):
            validate_space(empty, MODEL, TRAIN)


def test_unknown_name_fails_listing_the_known_ones():
    with pytest.raises(SearchSpaceError) as error:
        validate_space({"learning_rat": {"type": "boolean"}}, MODEL, TRAIN)
    message = str(error.value)
    assert "hyperparameter_search.space.learning_rat" in message
    assert "unknown hyperparameter" in message
    for known in (
        "learning_rate",
        "optimizer",
        "dropout",
        "trainable_backbone",
        "dense_units_1",
        "dense_units_2",
    ):
        assert known in message


def test_list_argument_is_searched_element_by_element():
    with pytest.raises(SearchSpaceError, match="dense_units_1"):
        validate_space({"dense_units": {"type": "choice", "values": [64]}}, MODEL, TRAIN)


def test_stage_keys_are_not_searchable():
    with pytest.raises(SearchSpaceError, match="set per stage"):
        validate_space({"batch_size": {"type": "choice", "values": [50, 250]}}, MODEL, TRAIN)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "choise", "values": [1]}, "'type' one of"),
        ({"type": "choice", "values": []}, "non-empty list"),
        ({"type": "choice", "values": ["1e-3", 0.01]}, "YAML reads 1e-3 as a string"),
        ({"type": "float", "min": 0.5, "max": 0.1}, "min.*<=.*max"),
        ({"type": "float", "min": 0.0, "max": 0.5, "stepp": 0.1}, "unknown key"),
        ({"type": "int", "min": 0.5, "max": 2}, "integer 'min' and 'max'"),
        ({"type": "fixed"}, "needs a 'value'"),
    ],
)
def test_bad_specs_fail_naming_the_hyperparameter(spec, message):
    with pytest.raises(SearchSpaceError, match=message) as error:
        validate_space({"dropout": spec}, MODEL, TRAIN)
    assert "hyperparameter_search.space.dropout" in str(error.value)


def test_recipe_values_are_checked_like_any_recipe():
    with pytest.raises(SearchSpaceError, match="'adamm'"):
        validate_space({"optimizer": {"type": "choice", "values": ["adam", "adamm"]}}, MODEL, TRAIN)
    with pytest.raises(SearchSpaceError, match="learning_rate"):
        validate_space({"learning_rate": {"type": "choice", "values": [0.01, -1.0]}}, MODEL, TRAIN)


def test_choice_numbers_become_one_type():
    space = validate_space({"dropout": {"type": "choice", "values": [0, 0.2]}}, MODEL, TRAIN)
    assert space["dropout"]["values"] == [0.0, 0.2]
    assert all(isinstance(v, float) for v in space["dropout"]["values"])


def test_hyperparameters_land_in_the_recipe_without_touching_the_base():
    model, train = apply_hyperparameters(
        MODEL,
        TRAIN,
        {
            "learning_rate": 0.01,
            "optimizer": "sgd",
            "dense_units_2": 32,
            "dropout": 0.3,
            "trainable_backbone": True,
        },
    )
    assert train["optimizer"] == {"name": "sgd", "learning_rate": 0.01}
    assert model["dense_units"] == [128, 32]  # the builder's default for the other element
    assert model["dropout"] == 0.3 and model["trainable_backbone"] is True
    assert TRAIN["optimizer"] == {"name": "adam", "learning_rate": 1.0e-3}
    assert "dense_units" not in MODEL
    assert known_hyperparameters(MODEL)["dense_units_1"] == ("model", "dense_units", 0)


def test_tuner_space_keeps_booleans_boolean():
    hp = tuner_hyperparameters(
        {
            "trainable_backbone": {"type": "choice", "values": [True, False]},
            "learning_rate": {"type": "choice", "values": [1.0e-2, 1.0e-3]},
            "dropout": {"type": "float", "min": 0.0, "max": 0.5, "step": 0.1},
            "dense_units_1": {"type": "fixed", "value": 128},
        }
    )
    values = {p.name: p for p in hp.space}
    assert type(values["trainable_backbone"]).__name__ == "Boolean"
    assert list(values["learning_rate"].values) == [1.0e-2, 1.0e-3]
    assert hp.values["dense_units_1"] == 128


def test_grid_is_the_values_that_differ_among_the_top_trials():
    top = [
        {
            "hyperparameters": {
                "learning_rate": 1e-3,
                "dropout": 0.2,
                "optimizer": "adam",
                "trainable_backbone": True,
            }
        },
        {
            "hyperparameters": {
                "learning_rate": 1e-2,
                "dropout": 0.2,
                "optimizer": "adam",
                "trainable_backbone": False,
            }
        },
        {
            "hyperparameters": {
                "learning_rate": 1e-3,
                "dropout": 0.2,
                "optimizer": "sgd",
                "trainable_backbone": True,
            }
        },
    ]
    grid = grid_space(top, ["learning_rate", "dropout", "optimizer", "trainable_backbone"])
    assert grid == {
        "learning_rate": {"type": "choice", "values": [1e-3, 1e-2]},  # best trial's value first
        "dropout": {"type": "fixed", "value": 0.2},
        "optimizer": {"type": "choice", "values": ["adam", "sgd"]},
        "trainable_backbone": {"type": "choice", "values": [True, False]},
    }
    with pytest.raises(SearchSpaceError, match="at least one finished"):
        grid_space([], ["learning_rate"])
