"""PatchWhitening (training/layers.py) and resnet9_fast's ``stem: whitening``: the whitening
property, the engine's data-dependent initialisation, training and the .keras round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cifar100_kedro.models import build_model
from cifar100_kedro.training.assembly import (
    adapt_data_dependent_layers,
    assemble_model,
    preprocessing_layers,
)
from cifar100_kedro.training.device import runtime
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.layers import PatchWhitening, whitening_kernel
from tests.training._subprocess_checks import _tiny_data

STATS = {"mean": [80.0] * 3, "std": [60.0] * 3}


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    runtime({})
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    yield
    keras.backend.clear_session()


def _correlated_images(n: int = 64, size: int = 16, seed: int = 0) -> np.ndarray:
    """Random images whose neighbouring pixels and channels are strongly correlated."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n, size + 1, size + 1, 3))
    smooth = noise[:, :-1, :-1] + noise[:, 1:, 1:] + 0.5 * noise[:, :-1, 1:]
    mixing = np.array([[1.0, 0.6, 0.3], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    return (smooth @ mixing + 0.3).astype("float32")


def test_adapted_layer_whitens_two_by_two_patches():
    images = _correlated_images()
    patches = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(1, 2))
    flat = np.moveaxis(patches, 3, -1).reshape(-1, 12).astype(np.float64)
    before = flat.T @ flat / len(flat)
    assert np.abs(before - np.diag(np.diag(before))).max() > 0.5  # far from white
    layer = PatchWhitening()
    layer.adapt(images)
    out = keras.ops.convert_to_numpy(layer(images)).astype(np.float64)
    assert out.shape == (64, 15, 15, 24)
    white = out[..., :12].reshape(-1, 12)
    # Second moment λ/(λ + eps) ≈ identity for these eigenvalues (≫ eps = 5e-4).
    np.testing.assert_allclose(white.T @ white / len(white), np.eye(12), atol=5e-3)
    np.testing.assert_allclose(out[..., 12:], -out[..., :12], atol=1e-6)  # and the negatives
    assert not layer.kernel.trainable and layer.bias.trainable
    assert [w.name for w in layer.trainable_weights] == ["bias"]


def test_whitening_stem_builds_the_airbench_layout():
    model = build_model("resnet9_fast", num_classes=10, width=8, stem="whitening")
    stem = model.get_layer("stem_whitening")
    assert isinstance(stem, PatchWhitening)
    assert stem.output.shape[1:] == (31, 31, 24)
    assert model.get_layer("stage1_conv").input.shape[-1] == 24
    sizes = [model.get_layer(f"stage{s}_pool").output.shape[1] for s in (1, 2, 3)]
    assert sizes == [15, 7, 3]
    assert "prep_conv" not in [layer.name for layer in model.layers]
    # The default stem is still Page's prep conv.
    default = build_model("resnet9_fast", num_classes=10, width=8)
    assert default.get_layer("prep_conv").filters == 8


@pytest.mark.parametrize(
    ("hyper", "message"),
    [
        ({"stem": "pca"}, r"'stem' must be one of \('conv', 'whitening'\), got 'pca'"),
        ({"stem": "whitening", "input_shape": (8, 8, 3)}, r"at least 9×9"),
    ],
)
def test_bad_stem_names_the_parameter(hyper, message):
    with pytest.raises(ValueError, match=message):
        build_model("resnet9_fast", num_classes=10, **hyper)
    build_model("resnet9_fast", num_classes=10, width=8, input_shape=(8, 8, 3))  # conv: fine


def test_engine_adapts_the_stem_on_normalised_images_and_trains(tmp_path):
    train, validation = _tiny_data(n=96), _tiny_data(n=32, seed=1)
    model_params = {"builder": "resnet9_fast", "width": 8, "stem": "whitening"}
    train_params = {
        "epochs": 1, "batch_size": 32, "normalization": "standardize", "verbose": 0,
        "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
        "lookahead": {"steps": 2, "alpha": 0.5},  # the two options together
    }  # fmt: skip
    model, history, _ = fit_model(
        train, validation, STATS, model_params, train_params,
        architecture="resnet9_fast", work_dir=tmp_path,
    )  # fmt: skip
    assert len(history) == 1 and np.isfinite(history["loss"]).all()
    stem = model.get_layer("resnet9_fast").get_layer("stem_whitening")
    normalised = train["images"]
    for layer in preprocessing_layers("standardize", STATS):
        normalised = layer(normalised)
    expected = whitening_kernel(keras.ops.convert_to_numpy(normalised), 2, 5e-4)
    # Frozen through training: still the kernel of the (whole, < 5000 images) training split.
    np.testing.assert_allclose(stem.kernel.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_only_opted_in_layers_are_adapted():
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Normalization(mean=0.0, variance=1.0, name="keras_norm")(inputs)
    body = keras.Model(inputs, PatchWhitening(name="white")(x))
    images = np.random.default_rng(0).integers(0, 256, (20, 12, 12, 3), dtype=np.uint8)
    assert adapt_data_dependent_layers(body, images, "rescale", None) == ["white"]
    # Keras' Normalization has an adapt too; it keeps its given statistics.
    np.testing.assert_allclose(body.get_layer("keras_norm").mean.numpy(), 0.0)


def test_assembled_whitening_model_round_trips_through_keras_format(tmp_path):
    body = build_model("resnet9_fast", num_classes=5, width=8, stem="whitening")
    images = np.random.default_rng(1).integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)
    adapt_data_dependent_layers(body, images, "standardize", STATS)
    model = assemble_model(body, "standardize", STATS)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)  # safe mode: the layer is registered
    np.testing.assert_allclose(
        reloaded.predict(images[:4], verbose=0), model.predict(images[:4], verbose=0), atol=1e-5
    )
    kernel = reloaded.get_layer("resnet9_fast").get_layer("stem_whitening").kernel
    np.testing.assert_array_equal(kernel.numpy(), body.get_layer("stem_whitening").kernel.numpy())
    assert not kernel.trainable
