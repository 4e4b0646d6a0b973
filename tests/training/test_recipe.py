"""The one recipe parser: defaults, the epoch cap, key checks against the builder."""

from __future__ import annotations

import pytest

from cifar100_kedro.training.recipe import (
    NORMALIZATIONS,
    RecipeError,
    TrainSettings,
    parse_recipe,
    parse_train,
)

TRAIN = {"epochs": 10, "batch_size": 8, "optimizer": {"name": "adam"}}


def test_defaults_are_filled_once():
    settings = parse_train(TRAIN, "arch.train")
    assert isinstance(settings, TrainSettings)
    assert settings.normalization == NORMALIZATIONS[0] == "rescale"
    assert (settings.label_mode, settings.loss, settings.augmentation_placement) == (
        "fine", "sparse_categorical_crossentropy", "model",
    )  # fmt: skip
    assert settings.schedule == {"name": "constant"} and settings.augmentation == ()
    assert not settings.one_hot and parse_train({**TRAIN, "label_smoothing": 0.1}).one_hot


def test_the_run_cap_is_applied_by_the_parser():
    assert parse_train(TRAIN, "a.train", max_epochs=3).epochs == 3
    assert parse_train(TRAIN, "a.train", max_epochs=30).epochs == 10
    # With a time budget and no epochs, the cap is the upper bound the budget works under.
    budget = {**TRAIN, "epochs": None, "time_budget_minutes": 5}
    assert parse_train(budget, "a.train", max_epochs=2).epochs == 2
    assert parse_train(budget, "a.train").epochs is None
    with pytest.raises(RecipeError, match=r"'training_run.max_epochs'"):
        parse_train(TRAIN, "a.train", max_epochs=0)


def test_a_misspelt_train_key_fails_naming_it():
    with pytest.raises(RecipeError, match=r"'arch.train.batchsize': unknown key"):
        parse_train({**TRAIN, "batchsize": 4}, "arch.train")


def test_a_misspelt_model_hyperparameter_fails_naming_the_key_and_the_builders_arguments():
    with pytest.raises(
        RecipeError,
        match=r"'arch.model.stag': builder 'chavez_progressive' has no such argument; "
        r"its hyperparameters: .*stage",
    ):
        parse_recipe("arch", {"builder": "chavez_progressive", "stag": 2}, TRAIN)
    recipe = parse_recipe(
        "arch", {"builder": "chavez_progressive", "stage": 2}, TRAIN, {"max_epochs": 1}
    )
    assert recipe.builder == "chavez_progressive" and recipe.hyperparameters == {"stage": 2}
    assert recipe.train.epochs == 1


def test_reconstruction_recipes_refuse_label_keys():
    with pytest.raises(
        RecipeError, match=r"'autoencoder.train.label_mode': a reconstruction recipe has no labels"
    ):
        parse_recipe(
            "autoencoder",
            {"builder": "chakraborti_autoencoder"},
            {**TRAIN, "label_mode": "fine"},
            task="reconstruction",
        )


def test_the_fingerprint_follows_what_changes_the_model():
    model = {"builder": "chavez_progressive", "stage": 2}
    first = parse_recipe("arch", model, TRAIN).fingerprint()
    assert parse_recipe("arch", model, dict(TRAIN)).fingerprint() == first
    assert parse_recipe("arch", model, {**TRAIN, "batch_size": 4}).fingerprint() != first
    assert parse_recipe("arch", {**model, "stage": 3}, TRAIN).fingerprint() != first
