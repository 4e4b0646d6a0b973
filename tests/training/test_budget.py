"""What a time budget buys (training/budget.py): epochs, a partial epoch, network and batch."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from cifar100_kedro.training import budget, engine
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.recipe import RecipeError, parse_recipe
from tests.tiny_models import tiny_split
from tests.training.test_engine import _Interrupt

MODEL = {"builder": "resnet9_fast", "width": 4}
TRAIN = {
    "epochs": None, "batch_size": 8, "verbose": 0, "normalization": "rescale",
    "optimizer": {"name": "sgd", "learning_rate": 0.4, "momentum": 0.9},
    "schedule": {"name": "one_cycle", "warmup_fraction": 0.2},
    "augmentation": [{"name": "random_crop_translate", "pad": 2}],
}  # fmt: skip
PLAN = {
    "min_epochs": 4,
    "lr_scaling": "linear",
    "reference_batch": 8,
    "candidates": [{"width": 8, "batch_size": 16}, {"width": 4, "depth": 1, "batch_size": 4}],
}


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def test_whole_epochs_when_the_budget_fits_them():
    # 10 steps of 1 s + 5 s validation = 15 s per epoch; 1 minute buys 4 epochs.
    assert budget.plan_epochs(1.0, 5.0, 10, 1.0) == (4, None)
    # The real run's own compile/trace (measured by the warm-up) comes out of the budget.
    assert budget.plan_epochs(1.0, 5.0, 10, 1.0, startup=15.0) == (3, None)


def test_the_remainder_of_a_budget_buys_one_more_shortened_epoch():
    # 100 steps of 1 s + 5 s validation = 105 s per epoch: 4 minutes buy 2 whole epochs and
    # 30 s more; 3 epochs of 75 steps (225 steps, not 200) fill them.
    assert budget.plan_epochs(1.0, 5.0, 100, 4.0) == (3, 75)
    assert budget.plan_epochs(1.0, 5.0, 100, 4.0, max_epochs=2) == (2, None)  # the cap holds
    # A remainder too small to pay another validation pass keeps the whole epochs.
    assert budget.plan_epochs(1.0, 50.0, 100, 5.0) == (2, None)


def test_a_budget_shorter_than_an_epoch_buys_the_steps_that_fit_never_zero():
    assert budget.plan_epochs(1.0, 5.0, 100, 0.5) == (1, 25)  # 30 s - 5 s validation = 25 steps
    assert budget.plan_epochs(1.0, 5.0, 100, 1e-6) == (1, 1)


def test_learning_rate_rules():
    assert budget.scaled_learning_rate(0.4, 128, 512, "linear") == pytest.approx(0.1)
    assert budget.scaled_learning_rate(0.4, 128, 512, "sqrt") == pytest.approx(0.2)
    assert budget.scaled_learning_rate(0.4, 128, 512, "none") == 0.4


def test_the_widest_candidate_that_buys_enough_epochs_is_chosen():
    assert budget.choose_candidate({2: 30.0, 1: 9.0, 0: 2.0}, min_epochs=8) == 1
    assert budget.choose_candidate({1: 3.0}, min_epochs=8) == 1  # none does: the narrowest
    assert budget.choose_candidate({1: 30.0, 0: 12.0}, min_epochs=8) == 0


def test_a_candidate_sets_width_batch_and_the_scaled_learning_rate():
    recipe = parse_recipe("r", MODEL, {**TRAIN, "time_budget_minutes": 1, "budget_plan": PLAN})
    wide = budget.candidate_recipe(recipe, 0)
    assert wide.hyperparameters["width"] == 8 and wide.train.batch_size == 16
    assert wide.train.optimizer["learning_rate"] == pytest.approx(0.8)
    assert budget.candidate_recipe(recipe, None) is recipe


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({**PLAN, "min_epoch": 3}, r"'r.train.budget_plan.min_epoch': unknown key"),
        ({**PLAN, "lr_scaling": "cubic"}, r"'r.train.budget_plan.lr_scaling'"),
        ({**PLAN, "candidates": []}, r"'r.train.budget_plan.candidates'"),
        ({**PLAN, "candidates": [{"batch_size": 0}]}, r"candidates\[0\].batch_size"),
        ({**PLAN, "candidates": [{"widht": 8}]}, r"candidates\[0\].widht': builder"),
    ],
)
def test_a_bad_plan_names_the_key_before_training(plan, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe("r", MODEL, {**TRAIN, "time_budget_minutes": 1, "budget_plan": plan})


def test_a_tiny_budget_trains_part_of_one_epoch_and_says_so(tmp_path, caplog):
    with (
        caplog.at_level(logging.INFO, logger="cifar100_kedro.training.engine"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        model, history, summary = fit_model(
            tiny_split(40, 0), tiny_split(8, 1), None, MODEL,
            {**TRAIN, "time_budget_minutes": 1e-6}, architecture="tiny_budget", work_dir=tmp_path,
        )  # fmt: skip
    # The warm-up's timed steps ask Keras for no shuffle a dataset cannot take (no warning).
    assert not [w for w in caught if "shuffle" in str(w.message)], [str(w.message) for w in caught]
    assert len(history) == 1
    assert summary["budget"]["steps"] == 1 and summary["budget"]["steps_per_epoch"] == 5
    assert summary["partial_epoch"] == pytest.approx(0.2)
    assert "partial epoch: 1 of 5 steps" in summary["budget"]["description"]
    assert "partial epoch" in caplog.text
    # The warm-up and one validation pass alone exceed it: the log says the run will overrun.
    assert "shorter than the warm-up, start-up and one validation pass" in caplog.text
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 1


# Measured for real: a tiny min_epochs probes both candidates and takes the wide one.
def test_the_plan_chooses_the_network_and_batch_the_engine_trains(tmp_path):
    min_epochs, chosen, probes = 1e-9, 0, 2
    plan = {**PLAN, "min_epochs": min_epochs}
    # A budget the warm-up cannot use up even on a busy machine (it counts against it);
    # epochs=1 keeps the run short.
    train = {**TRAIN, "time_budget_minutes": 2.0, "epochs": 1, "budget_plan": plan}
    model, _, summary = fit_model(
        tiny_split(32, 0),
        tiny_split(8, 1),
        None,
        MODEL,
        train,
        architecture="plan",
        work_dir=tmp_path,
    )
    expected = PLAN["candidates"][chosen]
    assert summary["budget"]["candidate"] == chosen
    assert len(summary["budget"]["epochs_bought"]) == probes
    assert summary["batch_size"] == expected["batch_size"]
    prep = model.get_layer("resnet9_fast").get_layer("prep_conv")
    assert prep.filters == expected["width"]


# With a fixed measurement per candidate (told apart by their steps per epoch: 32 images
# in batches of 16 or 4), 121.5 s buy the narrow one 121.5 / (8·1 + 1) = 13.5 epochs and
# the wide one 121.5 / (2·10 + 2) = 5.5 (a second or two of set-up changes neither's
# whole epochs). The wide one is probed only when the narrow one buys twice what is
# needed; what is needed is min_epochs, or the epoch cap when lower.
@pytest.mark.parametrize(
    ("min_epochs", "cap", "chosen", "probes", "epochs"),
    [
        (4, None, 0, 2, 5),  # both buy 4: the wide one (a sixth epoch of 1 step: not worth it)
        (8, None, 1, 1, 13),  # 13.3 < 2 × 8: the wide one is not probed
        (8, 2, 0, 2, 2),  # capped at 2 epochs, which the wide one buys
    ],
)
def test_the_plan_needs_min_epochs_or_the_epoch_cap(
    tmp_path, monkeypatch, min_epochs, cap, chosen, probes, epochs
):
    timings = {
        8: budget.Timing(per_step=1.0, per_eval=1.0, startup=0.0),
        2: budget.Timing(per_step=10.0, per_eval=2.0, startup=0.0),
    }
    measured = []

    def fixed_timing(factory, train_for, validation, steps_per_epoch, sizes):
        measured.append(steps_per_epoch)
        return timings[steps_per_epoch]

    monkeypatch.setattr(engine, "measure_seconds", fixed_timing)
    plan = {**PLAN, "min_epochs": min_epochs}
    train = {**TRAIN, "time_budget_minutes": 2.025, "epochs": cap, "budget_plan": plan}
    _, history, summary = fit_model(
        tiny_split(32, 0), tiny_split(8, 1), None, MODEL, train, architecture="plan",
        work_dir=tmp_path,
    )  # fmt: skip
    assert summary["budget"]["candidate"] == chosen
    assert len(measured) == probes == len(summary["budget"]["epochs_bought"])
    assert summary["budget"]["epochs"] == epochs == len(history)


def test_shortened_epochs_fill_the_budget_and_resume_to_the_same_model(tmp_path, monkeypatch):
    # A fixed measurement (1 s per step and per validation pass) makes the plan exact: 17 s
    # buy 2 whole epochs of 5 steps and part of a third, so 3 epochs of 4 steps are trained.
    timing = budget.Timing(per_step=1.0, per_eval=1.0, startup=0.0)
    monkeypatch.setattr(engine, "measure_seconds", lambda *args, **kwargs: timing)
    train = {
        **TRAIN, "time_budget_minutes": 17 / 60, "callbacks": {"backup_and_restore": True}
    }  # fmt: skip
    data, val = tiny_split(40, 0), tiny_split(8, 1)
    device = {"deterministic": True, "seed": 3}
    whole, history, summary = fit_model(
        data, val, None, MODEL, train, architecture="filled", work_dir=tmp_path / "whole",
        device_settings=device,
    )  # fmt: skip
    assert (summary["budget"]["epochs"], summary["budget"]["steps"]) == (3, 4)
    assert "3 shortened epochs of 4 of 5 steps" in summary["budget"]["description"]
    assert len(history) == 3 and summary["partial_epoch"] == pytest.approx(0.8)
    assert int(keras.ops.convert_to_numpy(whole.optimizer.iterations)) == 12
    with pytest.raises(KeyboardInterrupt):
        fit_model(
            data, val, None, MODEL, train, architecture="filled", work_dir=tmp_path / "cut",
            device_settings=device, extra_callbacks=[_Interrupt(after_epoch=2)],
        )  # fmt: skip
    resumed, _, resumed_summary = fit_model(
        data, val, None, MODEL, train, architecture="filled", work_dir=tmp_path / "cut",
        device_settings=device,
    )  # fmt: skip
    assert resumed_summary["resumed"]
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_resumed_run_keeps_its_plan_and_a_new_run_measures_again(tmp_path, monkeypatch):
    # Interrupted on a fast machine, resumed on a slow one: the resumed run trains the plan
    # the first attempt chose (3 shortened epochs of 4 steps, as above). Once its outputs are
    # saved (the hook clears the finished state), the same command measures the machine it
    # runs on: 2 s per step and per validation pass buy 17 s less.
    from cifar100_kedro.training.resume import clear_if_finished

    measured = [budget.Timing(per_step=1.0, per_eval=1.0, startup=0.0)]
    monkeypatch.setattr(engine, "measure_seconds", lambda *args, **kwargs: measured[0])
    train = {
        **TRAIN, "time_budget_minutes": 17 / 60, "callbacks": {"backup_and_restore": True}
    }  # fmt: skip
    data, val = tiny_split(40, 0), tiny_split(8, 1)

    def run(**kwargs):
        return fit_model(
            data, val, None, MODEL, train, architecture="moved", work_dir=tmp_path, **kwargs
        )[2]

    with pytest.raises(KeyboardInterrupt):
        run(extra_callbacks=[_Interrupt(after_epoch=1)])
    measured[0] = budget.Timing(per_step=2.0, per_eval=2.0, startup=0.0)
    resumed = run()
    assert resumed["resumed"]
    assert (resumed["budget"]["epochs"], resumed["budget"]["steps"]) == (3, 4)
    assert clear_if_finished(Path(resumed["run_folder"]) / "backup")
    again = run()
    assert not again["resumed"]
    assert (again["budget"]["epochs"], again["budget"]["steps"]) == (2, 3)


def test_a_shortened_epoch_is_the_start_of_its_own_epoch_order():
    import tensorflow as tf

    from cifar100_kedro.training.resume import epoch_dataset

    images = np.zeros((40, 2, 2, 3), np.uint8)
    labels = np.arange(40)
    iterations = tf.Variable(0, dtype=tf.int64)

    def labels_of(epoch_steps, at_step):
        iterations.assign(at_step)
        stream = epoch_dataset(
            images, labels, 8, seed=1, iterations=iterations, epoch_steps=epoch_steps
        )
        return np.concatenate([y.numpy() for _, y in stream])

    for epoch in (0, 1):
        short = labels_of(3, 3 * epoch)  # 3 of the 5 batches of epoch `epoch`
        assert len(short) == 24 and len(set(short)) == 24  # no image twice in an epoch
        assert list(short) == list(labels_of(None, 5 * epoch)[:24])
    assert set(labels_of(3, 0)) != set(labels_of(3, 3))  # each epoch a different subset
    with pytest.raises(ValueError, match="epoch_steps=6: an epoch has 1 to 5 steps"):
        epoch_dataset(images, labels, 8, seed=1, iterations=iterations, epoch_steps=6)


# On a fake clock the narrow candidate's probe takes 2 s and the wide one's 16 s (twice the
# cost per image, four times the batch: 8 x), and the next probe is paid for, at that
# estimate, before it is made. Each needs 1 epoch (min_epochs), so the narrow one (8 steps
# of 1 s + 1 s = 9 s an epoch) must buy 2 after the wide probe. 30 s: (30 - 2 - 16) / 9 =
# 1.3, so the wide one is not probed and the narrow one gets 28 s. (Taking the next probe to
# be as long as the last, 26 / 9 = 2.9 probed it, and 12 s were left.) 60 s: both are
# probed; the 42 s left buy the wide one (2 steps of 10 s + 2 s) 1.9 epochs, enough.
@pytest.mark.parametrize(
    ("minutes", "chosen", "probes", "warmup"), [(30 / 60, 1, 1, 2.0), (60 / 60, 0, 2, 18.0)]
)
def test_the_probes_count_against_the_budget_they_plan(
    monkeypatch, minutes, chosen, probes, warmup
):
    from types import SimpleNamespace

    clock = [0.0]
    timings = {
        8: budget.Timing(per_step=1.0, per_eval=1.0, startup=0.0),
        2: budget.Timing(per_step=10.0, per_eval=2.0, startup=0.0),
    }
    probe_seconds = {8: 2.0, 2: 16.0}

    def slow_probe(factory, train_for, validation, steps_per_epoch, sizes):
        clock[0] += probe_seconds[steps_per_epoch]
        return timings[steps_per_epoch]

    monkeypatch.setattr(engine, "measure_seconds", slow_probe)
    monkeypatch.setattr(engine, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    plan = {**PLAN, "min_epochs": 1}
    train = {**TRAIN, "time_budget_minutes": minutes, "budget_plan": plan}
    recipe = parse_recipe("r", MODEL, train)

    def setup(variant):
        steps = 32 // variant.train.batch_size
        return SimpleNamespace(steps_per_epoch=steps, train_for=None, validation=None), None

    choice = engine._budget_choice(recipe, setup, minutes)
    assert choice["candidate"] == chosen
    assert len(choice["epochs_bought"]) == probes
    assert choice["warmup_seconds"] == pytest.approx(warmup)
