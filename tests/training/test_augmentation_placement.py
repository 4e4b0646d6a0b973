"""Augmentation placement: the recipe's Keras layers in the model or in the tf.data map."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cifar100_kedro.training.assembly import (
    assemble_model,
    augmentation_layers,
    preprocessing_layers,
)
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.inputs import dataset_augmenter, make_dataset
from tests.training._subprocess_checks import MODEL, RECIPE, _tiny_data

# Paper 001's recipe (shear, zoom, flip, width shift; nearest fill) and its centring.
KHANNA_AUGMENTATION = [
    {"name": "random_shear", "x_factor": 0.2, "y_factor": 0.0, "fill_mode": "nearest"},
    {"name": "random_zoom", "height_factor": 0.2, "fill_mode": "nearest"},
    {"name": "random_flip", "mode": "horizontal"},
    {
        "name": "random_translation",
        "height_factor": 0.0,
        "width_factor": 0.1,
        "fill_mode": "nearest",
    },
]
STATS = {"mean": [120.0, 110.0, 100.0], "std": [60.0, 55.0, 50.0]}


def _images(n=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def test_dataset_augmenter_is_the_models_transform_in_pixel_space():
    """Augment-then-normalise (tf.data map) equals normalise-then-augment (in the model),
    for the same random draws, up to rounding the augmented pixels to uint8."""
    images = _images()
    augment = dataset_augmenter(KHANNA_AUGMENTATION, seed=5)
    augmented = augment(images)
    assert augmented.dtype.name == "uint8" and tuple(augmented.shape) == images.shape
    assert np.mean(augmented.numpy() != images) > 0.5  # it really transformed the batch

    normalise = keras.Sequential(preprocessing_layers("standardize", STATS))
    in_model = keras.Sequential(augmentation_layers(KHANNA_AUGMENTATION, seed=5))(
        normalise(images), training=True
    )
    in_dataset = normalise(augmented)
    # Rounding to uint8 moves a pixel by at most 0.5 grey levels = 0.5 / std after scaling.
    np.testing.assert_allclose(in_dataset.numpy(), in_model.numpy(), atol=0.5 / 50 + 1e-4)


def test_dataset_augmentation_differs_per_epoch_and_flips_only_flip():
    images = _images(n=32)
    labels = np.arange(32) % 4
    flips = dataset_augmenter([{"name": "random_flip", "mode": "horizontal_and_vertical"}], seed=1)
    dataset = make_dataset(images, labels, 8, num_classes=4, augment=flips)
    epochs = [np.concatenate([x.numpy() for x, _ in dataset]) for _ in range(2)]
    assert not np.array_equal(epochs[0], epochs[1])  # fresh draws every epoch
    for image, out in zip(images, epochs[0]):
        candidates = [image, image[:, ::-1], image[::-1], image[::-1, ::-1]]
        assert any(
            np.array_equal(out, c) for c in candidates
        )  # exact: no interpolation, no rounding
    assert dataset_augmenter([], seed=1) is None


@pytest.mark.parametrize("placement", ["model", "dataset"])
def test_both_placements_train_and_save_the_same_inference_model(tmp_path, placement):
    recipe = {**RECIPE, "epochs": 2, "augmentation_placement": placement}
    model, history, summary = fit_model(
        _tiny_data(),
        _tiny_data(seed=1),
        None,
        MODEL,
        recipe,
        architecture="arch",
        work_dir=tmp_path / "work",
    )
    assert summary["augmentation_placement"] == placement
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    layer_names = [layer.name for layer in model.layers]
    assert ("augmentation" in layer_names) == (placement == "model")
    # Either way the saved model takes raw uint8 images and is deterministic at inference.
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    images = _tiny_data(seed=2)["images"][:4]
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5
    )
    assert reloaded.inputs[0].dtype == "uint8"


def test_model_placement_is_the_default(tmp_path):
    recipe = {**RECIPE, "epochs": 1}
    assert "augmentation_placement" not in recipe
    model, _, summary = fit_model(
        _tiny_data(),
        _tiny_data(seed=1),
        None,
        MODEL,
        recipe,
        architecture="arch",
        work_dir=tmp_path,
    )
    assert summary["augmentation_placement"] == "model"
    assert any(layer.name == "augmentation" for layer in model.layers)


def test_recipe_without_augmentation_reports_none(tmp_path):
    recipe = {**RECIPE, "epochs": 1, "augmentation": []}
    model, _, summary = fit_model(
        _tiny_data(),
        _tiny_data(seed=1),
        None,
        MODEL,
        recipe,
        architecture="arch",
        work_dir=tmp_path,
    )
    assert summary["augmentation_placement"] == "none"
    assert all(layer.name != "augmentation" for layer in model.layers)


def test_assemble_model_without_augmentation_has_no_augmentation_block():
    body = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)]
    )
    model = assemble_model(body, "rescale", None, None)
    assert [layer.name for layer in model.layers if layer.name == "augmentation"] == []
