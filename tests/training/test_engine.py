"""The training engine: recipe errors, schedules, resumption, determinism, distribution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from cifar100_kedro.training import resume
from cifar100_kedro.training.assembly import assemble_model
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.recipe import RecipeError, validate_model_params, validate_train_params
from cifar100_kedro.training.schedules import LinearWarmupDecay, make_learning_rate
from tests.training._subprocess_checks import MODEL, RECIPE, _tiny_data

ROOT = Path(__file__).resolve().parents[2]


def _recipe(**changes):
    recipe = json.loads(json.dumps(RECIPE))
    recipe.update(changes)
    return recipe


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"optimizer": {"name": "adamm"}},
            r"'arch.train.optimizer.name': unknown optimiser 'adamm'",
        ),
        ({"epochs": -3}, r"'arch.train.epochs': must be a positive integer, got -3"),
        ({"batch_size": 0}, r"'arch.train.batch_size'"),
        ({"callbacks": {"early_stop": {}}}, r"'arch.train.callbacks.early_stop': unknown callback"),
        (
            {"augmentation": [{"name": "random_flip"}, {"name": "mixup"}]},
            r"'arch.train.augmentation\[1\].name': unknown augmentation 'mixup'",
        ),
        ({"label_mode": "superfine"}, r"'arch.train.label_mode'"),
        ({"normalization": "zscore"}, r"'arch.train.normalization'"),
        ({"label_smoothing": 1.5}, r"'arch.train.label_smoothing'"),
        ({"schedule": {"name": "cyclic"}}, r"'arch.train.schedule.name'"),
        ({"augmentation_placement": "gpu"}, r"'arch.train.augmentation_placement': must be one of"),
    ],
)
def test_bad_recipe_names_the_key(changes, message):
    with pytest.raises(RecipeError, match=message):
        validate_train_params(_recipe(**changes), "arch.train")


def test_unknown_builder_lists_known_ones():
    with pytest.raises(
        RecipeError,
        match=r"'arch.model.builder': Unknown model builder 'resnet1000'.*khanna_vgg_cnn",
    ):
        validate_model_params({"builder": "resnet1000"}, "arch.model")


def test_batch_larger_than_data_fails_before_training(tmp_path):
    data = _tiny_data(n=8)
    with pytest.raises(
        RecipeError, match=r"'arch.train.batch_size'=16 is larger than the 8 training images"
    ):
        fit_model(data, data, None, MODEL, _recipe(), architecture="arch", work_dir=tmp_path)
    assert not (tmp_path / "backup").exists()


def test_bad_optimizer_argument_is_named(tmp_path):
    data = _tiny_data()
    with pytest.raises(RecipeError, match=r"'arch.train.optimizer'"):
        fit_model(
            data,
            data,
            None,
            MODEL,
            _recipe(optimizer={"name": "adam", "betta_1": 0.9}),
            architecture="arch",
            work_dir=tmp_path,
        )


def test_keras2_decay_is_inverse_time_per_iteration():
    lr = make_learning_rate(
        {"learning_rate": 1e-4, "decay": 1e-6}, None, total_steps=100, where="w"
    )
    assert isinstance(lr, keras.optimizers.schedules.InverseTimeDecay)
    for step in (0, 1, 781, 156_200):
        assert float(lr(step)) == pytest.approx(1e-4 / (1 + 1e-6 * step), rel=1e-6)


def test_warmup_linear_schedule_shape():
    lr = make_learning_rate(
        {"learning_rate": 0.4},
        {"name": "one_cycle", "warmup_fraction": 0.2},
        total_steps=100,
        where="w",
    )
    assert isinstance(lr, LinearWarmupDecay)
    values = [float(lr(s)) for s in (0, 10, 20, 60, 100)]
    assert (
        values[0] == pytest.approx(0.0)
        and values[1] == pytest.approx(0.2)
        and values[2] == pytest.approx(0.4)
    )
    assert values[3] == pytest.approx(0.2) and values[4] == pytest.approx(0.0, abs=1e-7)


def test_assembled_model_takes_uint8_and_normalises_in_graph():
    body = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D()])
    stats = {"mean": [10.0, 20.0, 30.0], "std": [2.0, 4.0, 5.0]}
    model = assemble_model(body, "standardize", stats)
    images = np.full((1, 32, 32, 3), [12, 24, 35], dtype=np.uint8)
    assert model.inputs[0].dtype == "uint8"
    np.testing.assert_allclose(model.predict(images, verbose=0)[0], [1.0, 1.0, 1.0], rtol=1e-5)
    centred = assemble_model(body, "center", stats)
    np.testing.assert_allclose(centred.predict(images, verbose=0)[0], [2.0, 4.0, 5.0], rtol=1e-5)


def test_training_lowers_loss_and_reports_history(tmp_path):
    data = _tiny_data()
    model, history, summary = fit_model(
        data,
        _tiny_data(seed=1),
        None,
        MODEL,
        _recipe(epochs=3),
        architecture="arch",
        work_dir=tmp_path,
    )
    assert list(history["epoch"]) == [1, 2, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"} <= set(
        history.columns
    )
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    assert (
        summary["epochs_run"] == 3
        and summary["num_classes"] == 4
        and summary["label_mode"] == "fine"
    )
    assert summary["trainable_params"] > 0 and 1 <= summary["best_epoch"] <= 3
    assert model.predict(data["images"][:2], verbose=0).shape == (2, 4)


def test_coarse_labels_and_one_hot_label_smoothing(tmp_path):
    data = _tiny_data()
    recipe = _recipe(
        label_mode="coarse", loss="categorical_crossentropy", label_smoothing=0.1, epochs=1
    )
    model, _, summary = fit_model(
        data, data, None, MODEL, recipe, architecture="arch", work_dir=tmp_path
    )
    assert summary["num_classes"] == 2 and model.output_shape == (None, 2)


def test_steps_per_execution_runs_every_batch_and_keeps_the_time_budget_working(tmp_path):
    data = _tiny_data(n=80)  # 5 batches of 16: not a multiple of 4 steps per call
    model, history, _ = fit_model(
        data,
        data,
        None,
        MODEL,
        _recipe(epochs=2, steps_per_execution=4),
        architecture="arch",
        work_dir=tmp_path / "a",
    )
    assert int(model.optimizer.iterations) == 10 and list(history["epoch"]) == [1, 2]
    # The budget probe times whole calls (batch callbacks come once per 4 steps).
    budgeted = _recipe(epochs=3, steps_per_execution=4, time_budget_minutes=5)
    _, _, summary = fit_model(
        data, data, None, MODEL, budgeted, architecture="arch", work_dir=tmp_path / "b"
    )
    assert summary["epochs_requested"] == 3
    with pytest.raises(
        RecipeError, match=r"'arch.train.steps_per_execution': must be a positive integer, got 0"
    ):
        validate_train_params(_recipe(steps_per_execution=0), "arch.train")


class _Interrupt(keras.callbacks.Callback):
    """Stands in for Ctrl-C / a killed process after a given epoch."""

    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after_epoch:
            raise KeyboardInterrupt


class _EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.started = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started.append(epoch + 1)


def test_interrupted_run_resumes_from_last_epoch(tmp_path):
    data, val = _tiny_data(), _tiny_data(seed=1)
    recipe = _recipe(epochs=4, callbacks={"backup_and_restore": True, "model_checkpoint": True})
    with pytest.raises(KeyboardInterrupt):
        fit_model(
            data,
            val,
            None,
            MODEL,
            recipe,
            architecture="arch",
            work_dir=tmp_path,
            extra_callbacks=[_Interrupt(after_epoch=2)],
        )
    assert (tmp_path / "backup").exists()
    counter = _EpochCounter()
    _, history, summary = fit_model(
        data,
        val,
        None,
        MODEL,
        recipe,
        architecture="arch",
        work_dir=tmp_path,
        extra_callbacks=[counter],
    )
    assert counter.started == [3, 4]  # only the missing epochs ran
    assert list(history["epoch"]) == [1, 2, 3, 4]  # with the whole history
    assert summary["epochs_run"] == 4 and summary["resumed"]
    assert (tmp_path / "best.weights.h5").exists()
    # The finished state stays until the outputs are saved: a run killed in between gets
    # the same model back without training again.
    rerun_counter = _EpochCounter()
    _, rerun_history, _ = fit_model(
        data, val, None, MODEL, recipe, architecture="arch", work_dir=tmp_path,
        extra_callbacks=[rerun_counter],
    )  # fmt: skip
    assert rerun_counter.started == []
    pd.testing.assert_frame_equal(rerun_history, history)
    # The project hook removes it once the training summary is saved.
    assert resume.clear_if_finished(tmp_path / "backup") and not (tmp_path / "backup").exists()


def test_a_finished_run_is_not_resumed(tmp_path):
    data = _tiny_data()
    fit_model(
        data,
        data,
        None,
        MODEL,
        _recipe(epochs=1, callbacks={"backup_and_restore": True}),
        architecture="arch",
        work_dir=tmp_path,
    )
    counter = _EpochCounter()
    fit_model(
        data,
        data,
        None,
        MODEL,
        _recipe(epochs=2, callbacks={"backup_and_restore": True}),
        architecture="arch",
        work_dir=tmp_path,
        extra_callbacks=[counter],
    )
    assert counter.started == [1, 2]


def _run_check(name: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.training._subprocess_checks", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_deterministic_mode_gives_identical_weights_twice():
    outcome = _run_check("deterministic")
    for placement in ("model", "dataset"):
        assert outcome[placement]["placement"] == placement
        assert outcome[placement]["identical"] and outcome[placement]["arrays"] > 0


def test_mirrored_strategy_on_two_logical_cpus():
    outcome = _run_check("mirrored")
    assert outcome == {
        "replicas": 2,
        "strategy": "MirroredStrategy",
        "epochs": 2,
        "finite_loss": True,
        "placement": "dataset",
    }
