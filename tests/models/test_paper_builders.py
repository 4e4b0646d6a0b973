"""Unit tests of the seed-paper builders (papers 000–003): shapes, parameter counts,
structure, learnability on tiny synthetic data, and hyperparameter validation."""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np
import pytest

from cifar100_kedro.models import BUILDERS, build_model
from cifar100_kedro.models.paper003_chakraborti import HYPERPARAMETER_SETS

PAPER_BUILDERS = (
    "rana_elu_cnn",
    "khanna_vgg_cnn",
    "khanna_baseline_cnn",
    "chavez_progressive",
    "chakraborti_arch1",
    "chakraborti_arch2",
)
KHANNA_TRAINABLE_PARAMS = 13_870_484  # stated three times in the paper
KHANNA_BASELINE_TRAINABLE_PARAMS = 643_492  # the 5-layer network, Section 3 and Fig. 8


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Same random init in every test, and no Keras global state leaking between tests."""
    # free_memory=False skips a full gc.collect() per test (seconds each on 2 cores).
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(1234)


def trainable_params(model: keras.Model) -> int:
    return int(sum(int(keras.ops.size(w)) for w in model.trainable_weights))


def layer_types(model: keras.Model) -> Counter:
    """Top-level layer class names of ``model`` (a nested backbone counts as one layer)."""
    return Counter(type(layer).__name__ for layer in model.layers)


def test_every_paper_builder_is_registered():
    assert set(PAPER_BUILDERS) <= set(BUILDERS)


SHAPE_CASES = [
    ("rana_elu_cnn", {}),
    ("rana_elu_cnn", {"padding": "same_valid"}),
    ("khanna_vgg_cnn", {}),
    ("khanna_baseline_cnn", {}),
    *[("chavez_progressive", {"stage": s, "weights": None}) for s in range(1, 6)],
    ("chavez_progressive", {"stage": 6, "weights": None, "trainable_backbone": True}),
    ("chakraborti_arch1", HYPERPARAMETER_SETS["hyp1"]),
    ("chakraborti_arch2", HYPERPARAMETER_SETS["hyp1"]),
]


@pytest.mark.parametrize("num_classes", [100, 20], ids=["fine", "coarse"])
@pytest.mark.parametrize(
    ("builder", "hyper"), SHAPE_CASES, ids=[f"{b}-{h}" for b, h in SHAPE_CASES]
)
def test_output_is_a_probability_row_per_image(builder, hyper, num_classes):
    model = build_model(builder, num_classes, **hyper)
    assert not model.compiled, "builders return uncompiled models"
    assert model.inputs[0].dtype == "float32"
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(model(images, training=False))
    assert probabilities.shape == (2, num_classes)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)


def test_khanna_has_the_papers_trainable_parameter_count():
    model = build_model("khanna_vgg_cnn", 100)
    assert trainable_params(model) == KHANNA_TRAINABLE_PARAMS
    assert model.count_params() == KHANNA_TRAINABLE_PARAMS  # no frozen weights at all


def test_rana_has_six_elu_convolutions_three_pools_and_three_dropouts():
    types = layer_types(build_model("rana_elu_cnn", 100))
    assert types["Conv2D"] == 6 and types["Activation"] == 6
    assert types["MaxPooling2D"] == 3 and types["Dropout"] == 3
    assert types["Dense"] == 1


def test_chavez_stages_1_to_5_each_contain_the_previous_stage():
    types = {s: layer_types(build_model("chavez_progressive", 100, stage=s)) for s in range(1, 6)}
    for stage in range(2, 6):
        assert not types[stage - 1] - types[stage], f"stage {stage} dropped a layer type"
    assert types[1]["Conv2D"] == 1 and types[1]["MaxPooling2D"] == 1 and types[1]["Dense"] == 1
    assert types[2]["Dense"] == types[1]["Dense"] + 1
    assert types[3]["Dense"] == types[2]["Dense"] + 1
    assert types[3]["Dropout"] == 0 and types[4]["Dropout"] == 2
    assert types[5] == types[4], "M5 only adds augmentation, which is the engine's job"


def test_chavez_stage_6_puts_the_stage_4_head_on_a_mobilenet_backbone():
    m4 = build_model("chavez_progressive", 100, stage=4)
    m6 = build_model("chavez_progressive", 100, stage=6, weights=None)
    backbones = [layer for layer in m6.layers if isinstance(layer, keras.Model)]
    assert len(backbones) == 1 and backbones[0].name.startswith("mobilenet")
    assert "Conv2D" not in layer_types(m6), "the small conv stem is replaced, not kept"

    def head(model):
        return [
            (type(layer).__name__, getattr(layer, "units", None), getattr(layer, "rate", None))
            for layer in model.layers
            if isinstance(layer, keras.layers.Dense | keras.layers.Dropout)
        ]

    assert head(m6) == head(m4)
    # Frozen by default: only the head trains (128·1024+128 + 64·128+64 + 100·64+100).
    assert trainable_params(m6) == 145_956


def test_chakraborti_arch2_doubles_the_convolutions_and_regularises_every_kernel():
    arch1 = build_model("chakraborti_arch1", 100)
    arch2 = build_model("chakraborti_arch2", 100)
    assert layer_types(arch1)["Conv2D"] == 4
    assert layer_types(arch2)["Conv2D"] == 2 * layer_types(arch1)["Conv2D"]
    for model in (arch1, arch2):
        types = layer_types(model)
        assert types["Dense"] == 4 and types["BatchNormalization"] == 2
        assert types["Dropout"] == 7 and types["LeakyReLU"] == 7
        kernels = [
            layer
            for layer in model.layers
            if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
        ]
        assert kernels
        for layer in kernels:
            assert isinstance(layer.kernel_regularizer, keras.regularizers.L2), layer.name
            assert layer.kernel_regularizer.l2 == pytest.approx(0.001), layer.name
        dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        assert all(layer.rate == pytest.approx(0.8) for layer in dropouts)


def _learnable_data(num_classes: int = 4, n: int = 64):
    """Images = a smooth random template per class (4×4 blocks of 8×8 pixels, which survive
    the builders' poolings) + pixel noise: separable, hence learnable in a few steps."""
    rng = np.random.default_rng(0)
    templates = np.kron(rng.normal(size=(num_classes, 4, 4, 3)), np.ones((1, 8, 8, 1)))
    labels = np.arange(n) % num_classes
    images = templates[labels] + 0.5 * rng.normal(size=(n, 32, 32, 3))
    return images.astype("float32"), labels.astype("int64")


SMALL_MODELS = [
    ("chavez_progressive", {"stage": 2}),
    ("khanna_vgg_cnn", {"filters": (8, 8, 16), "dense_units": (64, 64)}),
    # Dropout 0.2 (the keep_prob reading of the paper's "80%"): with rate 0.8 on all seven
    # dropout layers, 20 steps are far too few to show learning.
    (
        "chakraborti_arch1",
        {"conv_filters": (4, 4, 8, 8), "dense_units": (16, 16, 16), "dropout_rate": 0.2},
    ),
    ("rana_elu_cnn", {"filters": 8}),
]


@pytest.mark.parametrize(("builder", "hyper"), SMALL_MODELS, ids=[b for b, _ in SMALL_MODELS])
def test_a_few_training_steps_lower_the_loss(builder, hyper):
    images, labels = _learnable_data()
    model = build_model(builder, 4, **hyper)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    before = model.evaluate(images, labels, batch_size=64, verbose=0)
    model.fit(images, labels, batch_size=16, epochs=5, shuffle=True, verbose=0)  # 20 steps
    after = model.evaluate(images, labels, batch_size=64, verbose=0)
    assert np.isfinite(after) and after < 0.9 * before, (before, after)


@pytest.mark.parametrize(
    ("builder", "hyper", "parameter"),
    [
        ("chavez_progressive", {"stage": 0}, "stage"),
        ("chavez_progressive", {"stage": 7}, "stage"),
        ("chavez_progressive", {"stage": True}, "stage"),
        ("chavez_progressive", {"dropout": 1.0}, "dropout"),
        ("chavez_progressive", {"dense_units": (128,)}, "dense_units"),
        ("chavez_progressive", {"stage": 6, "weights": "/no/such/file.h5"}, "weights"),
        ("rana_elu_cnn", {"dropout_rates": (0.25, 0.5)}, "dropout_rates"),
        ("rana_elu_cnn", {"dropout_rates": (0.25, 0.25, -0.1)}, "dropout_rates"),
        ("rana_elu_cnn", {"filters": 0}, "filters"),
        ("rana_elu_cnn", {"padding": "valid"}, "padding"),
        ("khanna_vgg_cnn", {"input_dropout": 1.5}, "input_dropout"),
        ("khanna_vgg_cnn", {"hidden_dropout": -0.5}, "hidden_dropout"),
        ("khanna_vgg_cnn", {"filters": (128, 256)}, "filters"),
        ("chakraborti_arch1", {"dropout_rate": 1.0}, "dropout_rate"),
        ("chakraborti_arch1", {"conv_filters": (32, 64, 128)}, "conv_filters"),
        ("chakraborti_arch1", {"dense_units": (1024, 0, 256)}, "dense_units"),
        ("chakraborti_arch2", {"padding": "valid"}, "padding"),
        ("chakraborti_arch2", {"l2": -1.0}, "l2"),
    ],
)
def test_invalid_hyperparameters_raise_naming_the_parameter(builder, hyper, parameter):
    with pytest.raises(ValueError, match=parameter):
        build_model(builder, 100, **hyper)


def test_chakraborti_arch1_survives_valid_padding():
    # Arch1 with 'valid' padding ends on a 1×1 map (32→28→14→10→5→3→1): allowed.
    model = build_model("chakraborti_arch1", 100, padding="valid")
    assert model.output_shape == (None, 100)


def test_chavez_stage_6_loads_mobilenet_weights_from_a_local_file(tmp_path):
    source = keras.applications.MobileNet(input_shape=(32, 32, 3), include_top=False, weights=None)
    path = tmp_path / "mobilenet_no_top.weights.h5"
    source.save_weights(path)

    keras.utils.set_random_seed(999)  # a different init, so equality proves the load
    model = build_model("chavez_progressive", 100, stage=6, weights=path)
    (backbone,) = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert not backbone.trainable
    assert len(backbone.weights) == len(source.weights)
    for loaded, saved in zip(backbone.weights, source.weights, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(loaded), keras.ops.convert_to_numpy(saved)
        )


def test_khanna_baseline_has_the_papers_643492_parameters():
    model = build_model("khanna_baseline_cnn", num_classes=100)
    assert trainable_params(model) == KHANNA_BASELINE_TRAINABLE_PARAMS
    assert [layer.filters for layer in model.layers if hasattr(layer, "filters")] == [32, 64, 128]
    assert model.get_layer("fc1").units == 256


def test_the_registry_quotes_the_parameter_counts_the_builders_are_held_to():
    from cifar100_kedro.architectures import all_architectures

    quoted = {
        a.namespace: f.value
        for a in all_architectures()
        for f in a.reported
        if f.metric == "trainable_params"
    }
    assert quoted == {
        "khanna_vgg_cnn": KHANNA_TRAINABLE_PARAMS,
        "khanna_baseline_cnn": KHANNA_BASELINE_TRAINABLE_PARAMS,
    }
