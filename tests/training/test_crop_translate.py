"""RandomCropTranslate (training/layers.py): the XLA-compilable random translate/crop."""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from cifar100_kedro.models import build_model
from cifar100_kedro.training.assembly import assemble_model, augmentation_layers
from cifar100_kedro.training.device import runtime
from cifar100_kedro.training.inputs import dataset_augmenter
from cifar100_kedro.training.layers import RandomCropTranslate
from cifar100_kedro.training.recipe import RecipeError

STATS = {"mean": [120.0] * 3, "std": [60.0] * 3}
CROP = {"name": "random_crop_translate", "pad": 4, "fill_mode": "reflect"}


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # The engine's default device settings: float32, op determinism off (an earlier test in
    # this process may have left a deterministic run's switch on, which turns XLA off).
    runtime({})
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def _windows(image: np.ndarray, pad: int, mode: str) -> list[np.ndarray]:
    """Every (2·pad+1)² integer-offset window of the padded image."""
    padded = np.pad(image, [(pad, pad), (pad, pad), (0, 0)], mode=mode)
    h, w = image.shape[:2]
    return [padded[i : i + h, j : j + w] for i in range(2 * pad + 1) for j in range(2 * pad + 1)]


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "constant"])
def test_each_image_is_one_window_of_its_padded_self(mode):
    images = np.random.default_rng(0).uniform(0, 255, size=(16, 10, 12, 3)).astype("float32")
    layer = RandomCropTranslate(pad=3, fill_mode=mode, seed=5)
    out = keras.ops.convert_to_numpy(layer(images, training=True))
    assert out.shape == images.shape
    offsets = set()
    for image, shifted in zip(images, out, strict=True):
        matches = [k for k, w in enumerate(_windows(image, 3, mode)) if np.array_equal(w, shifted)]
        assert matches, "output is not an integer shift of the padded input"
        offsets.add(matches[0])
    assert len(offsets) > 4  # a per-image offset, not one shift for the batch
    # Inference: the identity.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)


def test_bad_arguments_name_the_argument_and_the_recipe_step():
    with pytest.raises(ValueError, match="'pad'"):
        RandomCropTranslate(pad=0)
    with pytest.raises(ValueError, match="'fill_mode'"):
        RandomCropTranslate(fill_mode="wrap")
    with pytest.raises(RecipeError, match=r"train.augmentation\[1\]"):
        augmentation_layers([{"name": "random_flip"}, {**CROP, "pad": -1}], seed=0)
    with pytest.raises(ValueError, match="larger than 4 pixels"):
        RandomCropTranslate(pad=4)(np.zeros((1, 4, 4, 3), "float32"))


def _resnet_recipe_model(augmentation: list[dict]) -> keras.Model:
    body = build_model("resnet9_fast", num_classes=10, width=4)
    return assemble_model(
        body, "standardize", STATS, [{"name": "random_flip", "mode": "horizontal"}, *augmentation]
    )


def test_the_whole_training_forward_pass_compiles_under_xla():
    model = _resnet_recipe_model([CROP])
    images = tf.constant(np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3)), tf.uint8)
    forward = tf.function(lambda x: model(x, training=True), jit_compile=True)
    # Raises if any op of the graph (flip, crop, body) cannot be compiled by XLA.
    hlo = forward.experimental_get_compiler_ir(images)(stage="hlo")
    assert "ENTRY" in hlo


def test_xla_stays_on_for_the_train_step_with_the_crop_but_not_with_random_translation():
    translate = {"name": "random_translation", "height_factor": 0.125, "width_factor": 0.125}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = _resnet_recipe_model([translate])
        old.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
        new = _resnet_recipe_model([CROP])
        new.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
    # Keras silently (a warning) turns XLA off for a model holding RandomTranslation.
    assert old.jit_compile is False
    assert new.jit_compile is True
    assert sum("doesn't support `jit_compile=True`" in str(w.message) for w in caught) == 1
    images = np.random.default_rng(2).integers(0, 256, (16, 32, 32, 3)).astype(np.uint8)
    labels = np.arange(16) % 10
    history = new.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_saved_model_reloads_in_safe_mode_and_predicts_the_same(tmp_path):
    model = _resnet_recipe_model([{**CROP, "pad": 2, "fill_mode": "symmetric"}])
    images = np.random.default_rng(3).integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")  # safe mode
    crop = reloaded.get_layer("augmentation").layers[1]
    assert isinstance(crop, RandomCropTranslate)
    assert (crop.pad, crop.fill_mode) == (2, "symmetric")
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5
    )


def test_dataset_placement_keeps_uint8_and_exposes_its_random_state():
    augment = dataset_augmenter([CROP], seed=0)
    images = tf.constant(np.random.default_rng(4).integers(0, 256, (6, 32, 32, 3)), tf.uint8)
    out = augment(images)
    assert out.dtype == tf.uint8 and out.shape == images.shape
    assert len(augment.seed_generators) == 1  # what the resumable input saves and restores


def test_the_conf_resnet9_fast_recipe_trains_under_xla_through_the_engine(tmp_path):
    import yaml

    from cifar100_kedro.training.engine import fit_model

    conf = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_resnet_fast.yml"
    recipe = yaml.safe_load(conf.read_text())["resnet9_fast"]
    train = {**recipe["train"], "epochs": 1, "batch_size": 16, "verbose": 0, "callbacks": {}}
    rng = np.random.default_rng(5)
    split = {
        "images": rng.integers(0, 256, (32, 32, 32, 3)).astype(np.uint8),
        "fine": np.arange(32) % 4,
        "coarse": np.arange(32) % 2,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, history, _ = fit_model(
            split, split, STATS, {**recipe["model"], "width": 4}, train,
            architecture="resnet9_fast", work_dir=tmp_path, device_settings={"xla": True},
        )  # fmt: skip
    assert model.jit_compile is True
    assert not [w for w in caught if "jit_compile" in str(w.message)]
    assert np.isfinite(history["loss"]).all()
