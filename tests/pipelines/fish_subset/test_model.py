"""The paper 004 builders (``vgg16_transfer`` and its head): structure, parameter counts,
frozen backbone, weights options."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cifar100_kedro.models import BUILDERS, build_model


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()


def trainable(model: keras.Model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def test_builders_are_registered():
    assert {"vgg16_transfer", "vgg16_transfer_head"} <= set(BUILDERS)


def test_paper_architecture_at_224():
    """Frozen VGG16 (14,714,688) + Flatten(7·7·512) → Dense 512 → Dropout 0.5 → Dense 5."""
    model = build_model("vgg16_transfer", num_classes=5, input_shape=(32, 32, 3), weights=None)
    features, head = model.get_layer("vgg16_features"), model.get_layer("classifier_head")
    assert features.output_shape == (None, 7, 7, 512)
    assert features.get_layer("resize").output.shape == (None, 224, 224, 3)
    assert [type(layer).__name__ for layer in head.layers] == [
        "InputLayer",
        "Flatten",
        "Dense",
        "Dropout",
        "Dense",
    ]
    assert (
        head.get_layer("dense").units == 512
        and head.get_layer("dense").activation.__name__ == "relu"
    )
    assert head.get_layer("dropout").rate == 0.5
    assert head.get_layer("classifier").activation.__name__ == "softmax"
    assert trainable(model) == 7 * 7 * 512 * 512 + 512 + 512 * 5 + 5 == 12_848_133
    assert model.count_params() - trainable(model) == 14_714_688  # VGG16 without its top
    assert model.output_shape == (None, 5)


def test_32_input_skips_the_upsampling_and_keeps_the_head():
    model = build_model(
        "vgg16_transfer", 5, (32, 32, 3), weights=None, image_size=32, dense_units=16
    )
    assert model.get_layer("vgg16_features").output_shape == (None, 1, 1, 512)
    head = build_model("vgg16_transfer_head", 5, (1, 1, 512), dense_units=16)
    assert trainable(model) == trainable(head) == 512 * 16 + 16 + 16 * 5 + 5


def test_head_seed_fixes_initial_weights():
    first = build_model("vgg16_transfer_head", 5, (1, 1, 512), dense_units=8, seed=7)
    keras.utils.set_random_seed(99)  # a different global state must not matter
    second = build_model("vgg16_transfer_head", 5, (1, 1, 512), dense_units=8, seed=7)
    other = build_model("vgg16_transfer_head", 5, (1, 1, 512), dense_units=8, seed=8)
    for a, b, c in zip(first.weights, second.weights, other.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(
        first.get_layer("dense").kernel.numpy(), other.get_layer("dense").kernel.numpy()
    )


def test_local_weights_file_is_loaded(tmp_path):
    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    source.save_weights(path)
    keras.utils.set_random_seed(4321)
    model = build_model("vgg16_transfer", 5, (32, 32, 3), weights=str(path), image_size=32)
    loaded = model.get_layer("vgg16_features").get_layer("vgg16")
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not loaded.trainable


@pytest.mark.parametrize(
    ("hyper", "fragment"),
    [
        ({"weights": "/no/such/vgg16.h5"}, "no such file"),
        ({"weights": None, "image_size": 16}, "image_size must be an integer >= 32"),
        (
            {"weights": None, "image_size": 32, "dropout": 1.0},
            r"dropout must be a number in \[0, 1\)",
        ),
        ({"weights": None, "image_size": 32, "dense_units": 0}, "dense_units"),
    ],
)
def test_bad_hyperparameters_are_named(hyper, fragment):
    with pytest.raises(ValueError, match=fragment):
        build_model("vgg16_transfer", 5, (32, 32, 3), **hyper)
