"""The two search stages at node level on tiny data (paper 002's model 4 body, not MobileNet,
so each cross-validation fold trains in seconds): every fold through the K-fold core, trials
tables, resuming, stage 2's grid, the final recipe, and checks that fail before anything
trains."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cifar100_kedro.pipelines.hyperparameter_search import nodes
from cifar100_kedro.pipelines.hyperparameter_search.space import SearchSpaceError
from cifar100_kedro.training import kfold
from cifar100_kedro.training.recipe import RecipeError

MODEL = {"builder": "chavez_progressive", "stage": 4, "dense_units": [8, 4]}
TRAIN = {
    "label_mode": "fine",
    "epochs": 3,
    "batch_size": 20,
    "normalization": "rescale",
    "optimizer": {"name": "adam", "learning_rate": 1.0e-3},
    "verbose": 0,
    "callbacks": {
        "early_stopping": {"monitor": "val_loss", "patience": 3, "restore_best_weights": True},
        "model_checkpoint": {"monitor": "val_loss"},
        "backup_and_restore": True,
    },
}
RUN = {"max_epochs": 1}


class Interrupted(BaseException):
    """Stands for a killed process (KerasTuner only catches ``Exception``)."""


@pytest.fixture(scope="module")
def split() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    fine = np.repeat(np.arange(10), 6)
    return {
        "images": rng.integers(0, 256, (60, 32, 32, 3), dtype=np.uint8),
        "fine": fine,
        "coarse": fine // 5,
    }


def settings_for(directory, **stages) -> dict:
    settings = {
        "directory": str(directory),
        "seed": 3,
        "space": {
            "learning_rate": {"type": "choice", "values": [1.0e-2, 1.0e-3]},
            "dense_units_1": {"type": "choice", "values": [8, 16]},
            "dropout": {"type": "float", "min": 0.0, "max": 0.5, "step": 0.1},
        },
        "random_search": {"max_trials": 2, "folds": 2, "epochs": 20, "batch_size": 20},
        "grid_search": {"top_k": 3, "max_trials": None, "folds": 2, "epochs": 50, "batch_size": 10},
    }
    for stage, values in stages.items():
        settings[stage] = {**settings[stage], **values}
    return settings


@pytest.fixture
def fits(monkeypatch):
    """Records every fold the K-fold core trains; ``interrupt`` names a fold that 'kills' the
    run. The core's engine call is wrapped, so the search is seen to train through the core."""
    calls: list[str] = []
    state = {"interrupt": None}
    real_fit = kfold.fit_model

    def recording_fit(*args, architecture, **kwargs):
        calls.append(architecture)
        if architecture == state["interrupt"]:
            raise Interrupted(architecture)
        return real_fit(*args, architecture=architecture, **kwargs)

    monkeypatch.setattr(kfold, "fit_model", recording_fit)
    return calls, state


def test_random_search_resumes_without_redoing_finished_trials_or_folds(split, tmp_path, fits):
    calls, state = fits
    settings = settings_for(tmp_path)

    # First run: killed during trial 1's second fold.
    state["interrupt"] = "random_search_trial_1_fold_1"
    with pytest.raises(Interrupted):
        nodes.run_random_search(split, MODEL, TRAIN, settings, RUN)
    assert calls == [
        "random_search_trial_0_fold_0",
        "random_search_trial_0_fold_1",
        "random_search_trial_1_fold_0",
        "random_search_trial_1_fold_1",
    ]
    # The core's record of each finished fold (0-based, fingerprinted) in the trial's folder.
    (record_path,) = tmp_path.glob("random_search_*/trial_1/fold_0.json")
    record = json.loads(record_path.read_text())
    assert record["fold"] == 0 and {"fingerprint", "accuracy", "loss"} <= set(record)
    assert not (record_path.parent / "fold_1.json").exists()

    # Rerun: trial 0 is not trained again, trial 1 keeps its finished fold.
    calls.clear()
    state["interrupt"] = None
    table, top = nodes.run_random_search(split, MODEL, TRAIN, settings, RUN)
    assert calls == ["random_search_trial_1_fold_1"]
    assert list(table["trial_id"]) == ["0", "1"]
    assert (table["status"] == "COMPLETED").all() and (table["stage"] == "random_search").all()
    folds = table[["fold_0_accuracy", "fold_1_accuracy"]].to_numpy()
    np.testing.assert_allclose(table["cv_accuracy"], folds.mean(axis=1))
    assert set(table.columns) >= {
        "learning_rate",
        "dense_units_1",
        "dropout",
        "cv_accuracy_std",
        "rank",
        "seconds",
    }
    assert (table["epochs"] == 1).all()  # the run's epoch cap applies to the search too
    first_scores = table.set_index("trial_id")["cv_accuracy"]

    # A longer search of the same settings only trains the new candidate.
    calls.clear()
    more = settings_for(tmp_path, random_search={"max_trials": 3})
    table, top = nodes.run_random_search(split, MODEL, TRAIN, more, RUN)
    assert calls == ["random_search_trial_2_fold_0", "random_search_trial_2_fold_1"]
    assert len(table) == 3
    assert table.set_index("trial_id")["cv_accuracy"][["0", "1"]].tolist() == first_scores.tolist()
    # The top candidates, best first, with typed values for stage 2.
    assert [t["cv_accuracy"] for t in top["top_trials"]] == sorted(
        table["cv_accuracy"], reverse=True
    )
    assert isinstance(top["top_trials"][0]["hyperparameters"]["dense_units_1"], int)
    json.dumps(top)  # JSON-ready

    # Changed settings start a new search instead of resuming a mismatched one.
    calls.clear()
    changed = settings_for(tmp_path, random_search={"max_trials": 1, "batch_size": 30})
    nodes.run_random_search(split, MODEL, TRAIN, changed, RUN)
    assert calls == ["random_search_trial_0_fold_0", "random_search_trial_0_fold_1"]


def test_grid_search_crosses_the_values_that_differ_and_returns_model_7s_recipe(
    split, tmp_path, fits
):
    calls, _ = fits
    settings = settings_for(tmp_path)
    top = {
        "space": settings["space"],
        "top_trials": [
            {
                "trial_id": "4",
                "cv_accuracy": 0.3,
                "cv_accuracy_std": 0.0,
                "hyperparameters": {"learning_rate": 1.0e-3, "dense_units_1": 16, "dropout": 0.2},
            },
            {
                "trial_id": "1",
                "cv_accuracy": 0.2,
                "cv_accuracy_std": 0.0,
                "hyperparameters": {"learning_rate": 1.0e-2, "dense_units_1": 16, "dropout": 0.2},
            },
        ],
    }
    table, recipe = nodes.run_grid_search(split, MODEL, TRAIN, settings, RUN, top)

    assert len(calls) == 4  # 2 combinations x 2 folds
    assert sorted(table["learning_rate"]) == [1.0e-3, 1.0e-2]
    assert (table["dense_units_1"] == 16).all() and (table["dropout"] == 0.2).all()
    assert (table["stage"] == "grid_search").all() and (table["batch_size"] == 10).all()
    assert recipe["grid"]["learning_rate"] == {"type": "choice", "values": [1.0e-3, 1.0e-2]}
    assert recipe["grid"]["dropout"] == {"type": "fixed", "value": 0.2}
    best = table.loc[table["cv_accuracy"].idxmax()]
    assert recipe["cv_accuracy"] == pytest.approx(best["cv_accuracy"])
    assert recipe["hyperparameters"]["learning_rate"] == best["learning_rate"]
    # Model 7's recipe: model 6's (here model 4's) with the winner's values and stage 2's
    # epochs and batch; its own callbacks kept (the search left out only the checkpoints).
    assert recipe["model"]["dense_units"] == [16, 4] and recipe["model"]["dropout"] == 0.2
    assert (
        recipe["train"]["optimizer"]["learning_rate"] == recipe["hyperparameters"]["learning_rate"]
    )
    assert recipe["train"]["epochs"] == 50 and recipe["train"]["batch_size"] == 10
    assert "model_checkpoint" in recipe["train"]["callbacks"]
    assert not list(tmp_path.rglob("best.keras"))
    json.dumps(recipe)


def test_combined_table_holds_both_stages():
    import pandas as pd

    table = nodes.combine_trials(
        pd.DataFrame({"stage": ["random_search"], "trial_id": ["0"], "cv_accuracy": [0.1]}),
        pd.DataFrame({"stage": ["grid_search"], "trial_id": ["0"], "cv_accuracy": [0.2]}),
    )
    assert list(table["stage"]) == ["random_search", "grid_search"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"space": {}}, SearchSpaceError, "is empty"),
        (
            {"space": {"dropuot": {"type": "boolean"}}},
            SearchSpaceError,
            "dropuot.*known: .*dropout",
        ),
        (
            {"random_search": {"max_trials": 2, "folds": 7, "epochs": 1, "batch_size": 20}},
            RecipeError,
            "random_search.folds",
        ),
        (
            {"random_search": {"max_trials": 0, "folds": 2, "epochs": 1, "batch_size": 20}},
            RecipeError,
            "max_trials",
        ),
        (
            {"grid_search": {"top_k": 0, "folds": 2, "epochs": 1, "batch_size": 20}},
            RecipeError,
            "grid_search.top_k",
        ),
        ({"subset_fraction": 0}, RecipeError, "subset_fraction"),
        ({"model_overrides": {"builder": "no_such_builder"}}, RecipeError, "no_such_builder"),
    ],
)
def test_bad_settings_fail_before_anything_trains(split, tmp_path, fits, change, error, message):
    calls, _ = fits
    settings = {**settings_for(tmp_path), **change}
    with pytest.raises(error, match=message):
        nodes.run_random_search(split, MODEL, TRAIN, settings, RUN)
    assert calls == []


def test_failed_candidates_are_recorded_and_a_search_with_none_finished_says_why(split, tmp_path):
    # Builder values are checked by the builder when a candidate is built: such a candidate
    # fails (KerasTuner records it), and a stage with no finished candidate stops the run.
    settings = settings_for(tmp_path)
    settings["space"] = {"dropout": {"type": "choice", "values": [1.5, 2.5]}}
    with pytest.raises(RuntimeError, match=r"no candidate finished.*dropout must be in \[0, 1\)"):
        nodes.run_random_search(split, MODEL, TRAIN, settings, RUN)
    trials = list(tmp_path.glob("random_search_*/trial_*/trial.json"))
    assert len(trials) == 2
    assert {json.loads(t.read_text())["status"] for t in trials} == {"FAILED"}


def test_the_winner_is_retrained_with_the_asked_labels(split, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = {
        "hyperparameters": {"dropout": 0.1},
        "cv_accuracy": 0.5,
        "model": {**MODEL, "dropout": 0.1},
        "train": {**TRAIN, "epochs": 50, "batch_size": 10},
    }
    model, history, summary = nodes.train_best_model(
        split,
        split,
        None,
        recipe,
        {"max_epochs": 1, "work_dir": str(tmp_path / "state")},
        architecture="chavez_m7_coarse",
        label_mode="coarse",
    )
    assert summary["label_mode"] == "coarse" and summary["num_classes"] == 2
    assert summary["namespace"] == "chavez_m7_coarse" and summary["epochs_run"] == 1
    assert summary["hyperparameters"] == {"dropout": 0.1} and summary["search_cv_accuracy"] == 0.5
    assert model.output_shape == (None, 2) and len(history) == 1
    with pytest.raises(SearchSpaceError, match="chavez_m7_recipe"):
        nodes.train_best_model(
            split, split, None, {"hyperparameters": {}}, {}, architecture="x", label_mode="fine"
        )
