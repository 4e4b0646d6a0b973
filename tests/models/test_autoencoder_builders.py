"""Paper 003's tower autoencoder and transfer builders (models/paper003_autoencoder.py):
shapes as Section III-C/D state them, shared encoder layer names, freezing, the sparsity
term, and hyperparameter validation."""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np
import pytest

from cifar100_kedro.models import BUILDERS, build_model
from cifar100_kedro.models.paper003_autoencoder import TRANSFER_DENSE_UNITS, encoder_layer_names

TINY_ENCODER = {"stem_filters": 4, "tower_filters": 4, "bottleneck_filters": 8, "code_units": 64}


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(1234)


def layer_types(model: keras.Model) -> Counter:
    return Counter(type(layer).__name__ for layer in model.layers)


def output_shape(model: keras.Model, name: str) -> tuple:
    return tuple(model.get_layer(name).output.shape[1:])


def weight_count(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


@pytest.fixture(scope="module")
def paper_autoencoder() -> keras.Model:
    return build_model("chakraborti_autoencoder", 0)


def test_the_three_builders_are_registered():
    assert {"chakraborti_autoencoder", "chakraborti_t_arch1", "chakraborti_t_arch2"} <= set(
        BUILDERS
    )


def test_autoencoder_follows_section_3c_shapes(paper_autoencoder):
    ae = paper_autoencoder
    assert not ae.compiled
    assert tuple(ae.output.shape[1:]) == (32, 32, 3)
    # (a) 64 filters 3×3 stride 1; (b) two 128-filter branches, concatenated; (c) 256, stride 2.
    assert output_shape(ae, "encoder_stem_bn") == (32, 32, 64)
    assert ae.get_layer("encoder_tower_3x3_conv").kernel_size == (3, 3)
    assert ae.get_layer("encoder_tower_3x3_conv").strides == (2, 2)
    assert ae.get_layer("encoder_tower_5x5_conv").kernel_size == (5, 5)
    assert ae.get_layer("encoder_tower_5x5_conv").strides == (1, 1)
    assert ae.get_layer("encoder_tower_3x3_pool").pool_size == (2, 2)
    assert ae.get_layer("encoder_tower_5x5_pool").pool_size == (2, 2)
    assert output_shape(ae, "encoder_tower_concat") == (16, 16, 256)
    assert output_shape(ae, "encoder_bottleneck_bn") == (8, 8, 256)
    assert output_shape(ae, "code") == (512,)
    # (d)-(f): 256 stride 1, two parallel 128 stride 2, 64 5×5 stride 2, 3 filters 3×3 stride 1.
    assert output_shape(ae, "decoder_reshape") == (8, 8, 8)
    assert output_shape(ae, "decoder_bottleneck_bn") == (8, 8, 256)
    assert output_shape(ae, "decoder_tower_concat") == (16, 16, 256)
    stem = ae.get_layer("decoder_stem_tconv")
    assert (stem.filters, stem.kernel_size, stem.strides) == (64, (5, 5), (2, 2))
    out = ae.get_layer("reconstruction")
    assert (out.filters, out.kernel_size, out.strides) == (3, (3, 3), (1, 1))
    types = layer_types(ae)
    assert types["Conv2D"] == 4 and types["Conv2DTranspose"] == 5
    assert types["BatchNormalization"] == 8 and types["ReLU"] == 8
    assert types["Dense"] == 1 and types["Concatenate"] == 2


def test_autoencoder_parameter_count_matches_the_layer_arithmetic(paper_autoencoder):
    conv = lambda k, cin, cout: k * k * cin * cout + cout
    bn = lambda c: 4 * c
    expected = (
        conv(3, 3, 64) + bn(64)
        + conv(3, 64, 128) + conv(5, 64, 128) + 2 * bn(128)
        + conv(3, 256, 256) + bn(256)
        + 8 * 8 * 256 * 512 + 512  # the code layer
        + conv(3, 8, 256) + bn(256)
        + 2 * conv(3, 256, 128) + 2 * bn(128)
        + conv(5, 256, 64) + bn(64)
        + conv(3, 64, 3)
    )  # fmt: skip
    assert paper_autoencoder.count_params() == expected


def test_every_kernel_is_l2_regularised(paper_autoencoder):
    kinds = (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense)
    kernels = [layer for layer in paper_autoencoder.layers if isinstance(layer, kinds)]
    assert len(kernels) == 10  # 4 convolutions, 5 transposed convolutions, the code layer
    for layer in kernels:
        assert isinstance(layer.kernel_regularizer, keras.regularizers.L2), layer.name
        assert layer.kernel_regularizer.l2 == pytest.approx(0.001)


def test_sparsity_loss_is_5e3_times_the_l1_norm_of_each_code():
    ae = build_model("chakraborti_autoencoder", 0, encoder=TINY_ENCODER, l2=0.0)
    images = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype("float32")
    code_model = keras.Model(ae.input, ae.get_layer("code_lrelu").output)
    codes = keras.ops.convert_to_numpy(code_model(images, training=False))
    ae(images, training=False)
    sparsity = float(sum(keras.ops.convert_to_numpy(loss) for loss in ae.losses))
    assert sparsity == pytest.approx(5e-3 * np.abs(codes).sum(axis=1).mean(), rel=1e-4)
    assert sparsity > 0


def test_transfer_models_follow_section_3d():
    model = build_model("chakraborti_t_arch1", 100)
    dense = [model.get_layer(f"transfer_dense{i}").units for i in range(1, 6)]
    assert tuple(dense) == TRANSFER_DENSE_UNITS == (1024, 512, 512, 256, 256)
    types = layer_types(model)
    assert types["Dropout"] == 5 and all(
        layer.rate == pytest.approx(0.8)
        for layer in model.layers
        if isinstance(layer, keras.layers.Dropout)
    )
    # Code → LeakyReLU feeds the first added layer; the output is Dense → LeakyReLU → softmax.
    assert model.get_layer("transfer_dense1").input.shape[-1] == 512
    assert [type(l).__name__ for l in model.layers[-3:]] == ["Dense", "LeakyReLU", "Softmax"]
    assert model.get_layer("output_dense").units == 100
    probabilities = keras.ops.convert_to_numpy(
        model(np.zeros((2, 32, 32, 3), "float32"), training=False)
    )
    assert probabilities.shape == (2, 100)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)


@pytest.mark.parametrize("builder", ["chakraborti_t_arch1", "chakraborti_t_arch2"])
def test_transfer_encoder_layers_match_the_autoencoders_by_name_and_shape(builder):
    ae = build_model("chakraborti_autoencoder", 0, encoder=TINY_ENCODER)
    transfer = build_model(builder, 20, encoder=TINY_ENCODER, dense_units=[8, 8])
    names = encoder_layer_names(transfer)
    assert names == encoder_layer_names(ae)
    weighted = [n for n in names if transfer.get_layer(n).weights]
    assert len(weighted) == 9  # 4 convolutions, 4 batch norms, the code layer
    for name in weighted:
        assert [w.shape for w in transfer.get_layer(name).weights] == [
            w.shape for w in ae.get_layer(name).weights
        ]


def test_t_arch2_freezes_exactly_the_encoder():
    arch1 = build_model("chakraborti_t_arch1", 100, encoder=TINY_ENCODER)
    arch2 = build_model("chakraborti_t_arch2", 100, encoder=TINY_ENCODER)
    assert arch1.count_params() == arch2.count_params()
    encoder = set(encoder_layer_names(arch2))
    frozen = {layer.name for layer in arch2.layers if not layer.trainable}
    assert frozen == encoder
    head = [layer for layer in arch2.layers if layer.name not in encoder]
    assert weight_count(arch2.trainable_weights) == weight_count(
        w for layer in head for w in layer.trainable_weights
    )
    # T_Arch1 trains everything but the batch norms' moving statistics.
    assert weight_count(arch1.non_trainable_weights) == weight_count(
        w
        for layer in arch1.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.non_trainable_weights
    )


@pytest.mark.parametrize(
    ("builder", "hyper", "message"),
    [
        (
            "chakraborti_autoencoder",
            {"encoder": {"tower_pool_strides": [2, 2]}},
            "tower_pool_strides",
        ),
        ("chakraborti_autoencoder", {"encoder": {"code_units": 100}}, "code_units"),
        ("chakraborti_autoencoder", {"encoder": {"filters": 3}}, "unknown keys"),
        ("chakraborti_autoencoder", {"encoder": {"stem_filters": 0}}, "stem_filters"),
        ("chakraborti_autoencoder", {"output_activation": "tanh"}, "output_activation"),
        ("chakraborti_autoencoder", {"sparsity_l1": -1.0}, "sparsity_l1"),
        ("chakraborti_t_arch1", {"dropout_rate": 1.0}, "dropout_rate"),
        ("chakraborti_t_arch1", {"dense_units": []}, "dense_units"),
        ("chakraborti_t_arch2", {"l2": -0.1}, "l2"),
    ],
)
def test_bad_hyperparameters_name_the_parameter(builder, hyper, message):
    with pytest.raises(ValueError, match=message):
        build_model(builder, 100, **hyper)


def test_input_sides_must_allow_the_decoders_upsampling():
    with pytest.raises(ValueError, match="multiples of 4"):
        build_model("chakraborti_autoencoder", 0, input_shape=(30, 30, 3), encoder=TINY_ENCODER)
    ae = build_model(
        "chakraborti_autoencoder",
        0,
        input_shape=(16, 16, 3),
        encoder={**TINY_ENCODER, "code_units": 16},
    )
    assert tuple(ae.output.shape[1:]) == (16, 16, 3)
