"""The feature-caching path (VGG16 once per image, head trained on the features) gives the
same model as training the full network, on a tiny model.

Both paths go through the training engine with the same recipe and seed, so the shuffling
order is the same; the head's initialisers and dropout are seeded by the builder's ``seed``,
so the head starts and drops out identically although the full path builds VGG16 first. The
backbone is a local weights file with He-scaled random kernels (a stand-in for ImageNet: its
features, unlike Keras' default random VGG16's, are far from zero, so the head really
learns something from them).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cifar100_kedro.data.statistics import compute_normalization_stats
from cifar100_kedro.pipelines.fish_subset.nodes import (
    assemble_classifier,
    extract_features,
    train_head,
)
from cifar100_kedro.training.engine import fit_model

RECIPE = {
    "label_mode": "fine",
    "epochs": 4,
    "batch_size": 8,
    "normalization": "rescale",
    "optimizer": {"name": "adam", "learning_rate": 1.0e-3},
    "loss": "sparse_categorical_crossentropy",
    "augmentation": [],
    "seed": 42,
    "callbacks": {"reduce_lr_on_plateau": {"monitor": "val_loss", "factor": 0.5, "patience": 1}},
    "verbose": 0,
}


@pytest.fixture(scope="module")
def he_weights(tmp_path_factory) -> str:
    """VGG16 (no top) weights with He-normal kernels, saved as a local weights file."""
    keras.utils.set_random_seed(0)
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    rng = np.random.default_rng(1)
    for layer in vgg.layers:
        if isinstance(layer, keras.layers.Conv2D):
            fan_in = int(np.prod(layer.kernel.shape[:3]))
            layer.kernel.assign(
                rng.normal(0, np.sqrt(2 / fan_in), layer.kernel.shape).astype("float32")
            )
    path = tmp_path_factory.mktemp("weights") / "vgg16_he_notop.weights.h5"
    vgg.save_weights(path)
    return str(path)


def make_split(count: int, seed: int) -> dict[str, np.ndarray]:
    """Five classes told apart by brightness, with noise."""
    rng = np.random.default_rng(seed)
    fine = np.arange(count) % 5
    images = rng.integers(0, 128, (count, 32, 32, 3)) + 25 * fine[:, None, None, None]
    return {
        "images": images.astype(np.uint8),
        "fine": fine.astype(np.int64),
        "coarse": np.zeros(count, np.int64),
    }


MODEL = {"builder": "vgg16_transfer", "image_size": 48, "dense_units": 8, "dropout": 0.5, "seed": 3}


@pytest.fixture(scope="module")
def data():
    train, validation = make_split(30, 0), make_split(10, 1)
    return train, validation, compute_normalization_stats(train)


@pytest.fixture(scope="module")
def full_network(data, he_weights, tmp_path_factory):
    """The plain path: the engine trains the whole ``vgg16_transfer`` network on the images."""
    train, validation, stats = data
    keras.backend.clear_session()
    model, history, _ = fit_model(
        train,
        validation,
        stats,
        {**MODEL, "weights": he_weights},
        RECIPE,
        architecture="full",
        work_dir=tmp_path_factory.mktemp("full"),
    )
    return model, history


def train_cached(data, he_weights, work_dir, head_seed: int = 3):
    """The pipeline's path: features once, head through the engine, full model assembled."""
    train, validation, stats = data
    params = {**MODEL, "weights": he_weights, "seed": head_seed}
    extractor, train_features, validation_features, feature_summary = extract_features(
        train, validation, stats, params, RECIPE, {"batch_size": 7}, {}
    )
    head, history, head_summary = train_head(
        train_features, validation_features, params, RECIPE, {"work_dir": str(work_dir)}, {}
    )
    model, summary = assemble_classifier(
        extractor, head, stats, RECIPE, head_summary, feature_summary
    )
    return model, history, summary


def head_weights(model: keras.Model) -> list[np.ndarray]:
    return [
        w.numpy() for w in model.get_layer("vgg16_transfer").get_layer("classifier_head").weights
    ]


def test_cached_features_train_the_same_model_as_the_full_network(
    data, he_weights, full_network, tmp_path
):
    full, full_history = full_network
    cached, history, summary = train_cached(data, he_weights, tmp_path)

    # Same graph, same parameter counts.
    assert [layer.name for layer in cached.layers] == [layer.name for layer in full.layers]
    assert summary["trainable_params"] == sum(int(np.prod(w.shape)) for w in full.trainable_weights)
    assert summary["total_params"] == full.count_params()
    assert summary["feature_cache"]["feature_shape"] == [1, 1, 512]
    # Same frozen VGG16 (the local file), same trained head, same per-epoch history.
    full_vgg = full.get_layer("vgg16_transfer").get_layer("vgg16_features")
    cached_vgg = cached.get_layer("vgg16_transfer").get_layer("vgg16_features")
    for a, b in zip(full_vgg.weights, cached_vgg.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(head_weights(full), head_weights(cached)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    columns = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    np.testing.assert_allclose(
        history[columns].to_numpy(), full_history[columns].to_numpy(), rtol=1e-4, atol=1e-6
    )
    # The head learnt (loss went down), so equal weights are not just equal initial weights.
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    # Same predictions and accuracy on unseen images.
    validation = data[1]
    p_full = full.predict(validation["images"], verbose=0)
    p_cached = cached.predict(validation["images"], verbose=0)
    np.testing.assert_allclose(p_cached, p_full, rtol=1e-4, atol=1e-6)
    assert (p_cached.argmax(1) == p_full.argmax(1)).all()


def test_the_comparison_notices_a_different_head(data, he_weights, full_network, tmp_path):
    """Negative control: another head seed gives other weights, so the test above can fail."""
    full, _ = full_network
    cached, _, _ = train_cached(data, he_weights, tmp_path, head_seed=4)
    assert any(
        not np.allclose(a, b, rtol=1e-4, atol=1e-6)
        for a, b in zip(head_weights(full), head_weights(cached))
    )


def test_bad_recipes_are_refused_before_any_work():
    train = make_split(10, 0)
    recipe = {**RECIPE, "augmentation": [{"name": "random_flip", "mode": "horizontal"}]}
    params = {"builder": "vgg16_transfer", "image_size": 32, "weights": None}
    with pytest.raises(ValueError, match="fish_subset.train.augmentation"):
        extract_features(train, train, None, params, recipe, {"batch_size": 4}, {})
    with pytest.raises(ValueError, match="fish_subset.model.builder"):
        extract_features(
            train, train, None, {**params, "builder": "rana_elu_cnn"}, RECIPE, {"batch_size": 4}, {}
        )
    with pytest.raises(ValueError, match="'fish_subset.train.batch_size'=16 is larger than the 10"):
        extract_features(
            train, train, None, params, {**RECIPE, "batch_size": 16}, {"batch_size": 4}, {}
        )
