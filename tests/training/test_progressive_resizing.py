"""Progressive resizing (``train.progressive_resizing``): schedule, layer, budget, resume."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cifar100_kedro.training import budget
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.layers import ProgressiveResize
from cifar100_kedro.training.recipe import RecipeError, parse_recipe, resize_for_epoch
from tests.tiny_models import tiny_split
from tests.training.test_engine import _Interrupt

MODEL = {"builder": "resnet9_fast", "width": 4}
PHASES = [{"size": 8, "until": 0.4}, {"size": 12, "until": 0.7}]
TRAIN = {
    "epochs": 5, "batch_size": 8, "verbose": 0, "normalization": "rescale",
    "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9},
    "schedule": {"name": "one_cycle", "warmup_fraction": 0.2},
    "augmentation": [{"name": "random_crop_translate", "pad": 2}],
    "progressive_resizing": PHASES,
}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def test_the_schedule_ends_at_full_size_and_a_one_epoch_run_never_resizes():
    phases = parse_recipe("r", MODEL, TRAIN).train.progressive_resizing
    assert [resize_for_epoch(phases, e, 10) for e in range(10)] == [8] * 4 + [12] * 3 + [0] * 3
    assert [resize_for_epoch(phases, e, 2) for e in range(2)] == [8, 0]
    assert resize_for_epoch(phases, 0, 1) == 0


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ({"size": 8}, r"progressive_resizing': must be a list"),
        ([{"size": 4, "until": 0.5}], r"progressive_resizing\[0\].size': must be an integer of"),
        ([{"size": 12, "until": 0.5}, {"size": 8, "until": 0.7}], r"\[1\].size'"),
        ([{"size": 8, "until": 0.5}, {"size": 12, "until": 0.4}], r"\[1\].until'"),
        ([{"size": 8, "until": 1.0}], r"\[0\].until'"),
        ([{"size": 8, "epochs": 2}], r"exactly 'size' and 'until'"),
    ],
)
def test_a_bad_schedule_names_the_key(phases, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe("r", MODEL, {**TRAIN, "progressive_resizing": phases})


def test_the_layer_downscales_only_in_training_and_round_trips(tmp_path):
    layer = ProgressiveResize(name="progressive_resize")
    images = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    assert layer(images, training=True).shape == (2, 16, 16, 3)  # size 0: full size
    layer.size.assign(8)
    assert tuple(layer(images, training=True).shape) == (2, 8, 8, 3)
    np.testing.assert_array_equal(layer(images, training=False), images)
    layer.size.assign(32)  # larger than the image: unchanged
    np.testing.assert_array_equal(layer(images, training=True), images)
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, ProgressiveResize(name="progressive_resize")(inputs))
    model.save(tmp_path / "m.keras")
    assert isinstance(
        keras.saving.load_model(tmp_path / "m.keras").get_layer("progressive_resize"),
        ProgressiveResize,
    )


class _SizeRecorder(keras.callbacks.Callback):
    """Records the size the resize layer has while each epoch trains."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.sizes.append(int(self.model.get_layer("progressive_resize").size.numpy()))


def test_training_follows_the_schedule_and_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    train, val = tiny_split(32, 0), tiny_split(8, 1)
    recipe = {**TRAIN, "callbacks": {"backup_and_restore": True}}
    recorder = _SizeRecorder()
    whole, _, _ = fit_model(
        train, val, None, MODEL, recipe, architecture="whole", work_dir=tmp_path / "whole",
        extra_callbacks=[recorder], device_settings={"deterministic": True, "seed": 3},
    )  # fmt: skip
    assert recorder.sizes == [8, 8, 12, 12, 0]  # epochs 1-2 at 8×8, 3-4 at 12×12, then 16×16
    assert int(whole.get_layer("progressive_resize").size.numpy()) == 0  # inference-ready
    with pytest.raises(KeyboardInterrupt):
        fit_model(
            train, val, None, MODEL, recipe, architecture="cut", work_dir=tmp_path / "cut",
            extra_callbacks=[_Interrupt(after_epoch=2)],
            device_settings={"deterministic": True, "seed": 3},
        )  # fmt: skip
    resumed_sizes = _SizeRecorder()
    resumed, _, summary = fit_model(
        train, val, None, MODEL, recipe, architecture="cut", work_dir=tmp_path / "cut",
        extra_callbacks=[resumed_sizes], device_settings={"deterministic": True, "seed": 3},
    )  # fmt: skip
    assert summary["resumed"] and resumed_sizes.sizes == [12, 12, 0]
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_xla_is_refused_by_name(tmp_path):
    with pytest.raises(RecipeError, match=r"'x.train.progressive_resizing'.*device.xla"):
        fit_model(
            tiny_split(16, 0), tiny_split(8, 1), None, MODEL, TRAIN, architecture="x",
            work_dir=tmp_path, device_settings={"xla": True},
        )  # fmt: skip


def test_the_budget_counts_cheaper_resized_epochs():
    # Full-size steps 1 s, 8-pixel steps 0.25 s, 12-pixel 0.5 s; 10 steps + 1 s validation.
    timing = budget.Timing(per_step=1.0, per_eval=1.0, startup=0.0, per_step_at={8: 0.25, 12: 0.5})
    phases = parse_recipe("r", MODEL, TRAIN).train.progressive_resizing

    def seconds(epoch: int, epochs: int) -> float:
        return timing.step_seconds(resize_for_epoch(phases, epoch, epochs))

    # Without resizing 110 s buy 10 epochs of 11 s; with it, 16 epochs cost 7×3.5 + 4×6 + 5×11
    # = 103.5 s and 17 cost 7×3.5 + 5×6 + 5×11 = 109.5 s.
    assert budget.plan_epochs(1.0, 1.0, 10, 110 / 60) == (10, None)
    assert budget.plan_epochs(1.0, 1.0, 10, 110 / 60, step_seconds=seconds) == (17, None)
    assert budget.plan_epochs(1.0, 1.0, 10, 110 / 60, step_seconds=seconds, max_epochs=12) == (
        12,
        None,
    )


def test_a_budget_run_with_resizing_measures_each_size(tmp_path):
    train = {**TRAIN, "epochs": 3, "time_budget_minutes": 0.3}
    _, _, summary = fit_model(
        tiny_split(32, 0), tiny_split(8, 1), None, MODEL, train, architecture="b", work_dir=tmp_path
    )
    assert set(summary["budget"]["seconds_per_step_resized"]) == {"8", "12"}
    assert summary["budget"]["warmup_seconds"] > 0
