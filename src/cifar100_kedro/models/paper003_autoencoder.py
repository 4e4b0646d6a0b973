"""Seed paper 003: Chakraborti & Moore, "Classifying CIFAR-100 Images": the tower
autoencoder (Section III-C) and the transfer architectures T_Arch1 / T_Arch2 (III-D, IV).

Three pure Keras builders, registered by name:

* ``chakraborti_autoencoder`` — encoder → 512-unit code → transposed-convolution decoder to
  the input's shape; trained (by ``pipelines/autoencoder``) on eq. (1): reconstruction MSE
  (eq. 2) + 5·10⁻³ × L1-norm of the code (+ the L2 kernel penalties).
* ``chakraborti_t_arch1`` — the same encoder, then the paper's five dense layers
  1024/512/512/256/256 and the 100-way output; every layer trains ("all layers retrained").
* ``chakraborti_t_arch2`` — the same network with the encoder frozen (only the added dense
  layers train).

Every encoder layer has the same, stable name in all three models (``encoder_*``, ``code``,
``code_lrelu``), so the training engine copies a pre-trained autoencoder's encoder into a
transfer model by layer name (``fit_model(..., pretrained=autoencoder)``). The encoder's
hyperparameters therefore travel as one mapping, ``encoder``, that the autoencoder and both
transfer recipes share (one YAML anchor in ``conf/base/parameters_autoencoder.yml``).

Where the paper's shapes do not fit together, and where it is silent, the least deviation is
taken and kept as a parameter:

* **Tower branches (III-C b).** As written the two branches cannot be concatenated: the
  3×3/stride-2 branch gives 16×16 and, after its pool, 8×8; the 5×5/stride-1 branch gives
  32×32 and 16×16 after its pool. The paper gives the pool *size* (2) but not the pool
  *strides* (a required argument of the TF1 ``max_pooling2d`` it used), so every stated number
  is kept and only the strides differ per branch: ``tower_pool_strides=(1, 2)`` ('same'
  padding), both branches 16×16 before the channel concatenation. The result is symmetric with
  the decoder: 32×32×64 → 16×16×256 → 8×8×256 in, 8×8×256 → 16×16×256 → 32×32×64 out.
* **Code → decoder (III-C c/d).** The code is a 512-unit dense layer, but the decoder starts
  with a transposed convolution, which needs a feature map. The code is reshaped, with no new
  layer, to ``(H/4, W/4, code_units / (H/4 · W/4))`` = 8×8×8: the one reshape from which the
  stated decoder strides (1, 2, 2, 1) reach exactly 32×32.
* **Decoder tower (III-C d).** "Two parallel transverse convolutional layers", each 128
  filters 3×3 stride 2: combined by channel concatenation, as the encoder's tower is.
* **Code activation.** Section III-D takes the code "just after it passes through the
  leaky-RELU activation function after the code layer": Dense(512) → LeakyReLU. The L1
  sparsity term acts on that tensor: Keras' ``ActivityRegularization(l1=5e-3)`` adds
  5·10⁻³ · Σ|code| per image, averaged over the batch (the L1-norm of each image's code).
* **Layer order.** "The output of each convolutional layer passes through a relu activation
  function, followed by batch normalization": conv → ReLU → BN, as written (in the tower:
  conv → max-pool → ReLU → BN, as written). L2 (``l2=0.001``, Section III) on every
  convolution, transposed convolution and dense layer.
* **Output layer (III-C f).** The 3-filter 3×3 stride-1 transposed convolution predicts the
  image (eq. 2 compares it with the [0, 1] pixels). It keeps the blanket ReLU
  (``output_activation="relu"``; ``"sigmoid"`` or ``"linear"`` as options) but no batch
  normalisation (``output_batch_norm=False``): a BN on the prediction itself would make each
  image's reconstruction depend on the rest of its batch in training.
* **Transfer head (III-D).** "Each of these dense layers has a leaky-RELU activation function
  and L2-regularization. A dropout layer with a dropout rate of 80% has been inserted between
  each of the dense layers": Dense → LeakyReLU → Dropout for each of the five added layers
  (so one dropout also sits between the fifth and the output layer; none between the code
  and the first added layer), as Arch1/Arch2 place theirs. "The final output layer has 100
  neurons and passes through a leaky-RELU activation layer. This is followed by a softmax":
  Dense(num_classes) → LeakyReLU → Softmax, as written (``output_leaky_relu=True``).
* ``dropout_rate`` 0.8 and ``leaky_relu_slope`` 0.2 as in ``paper003_chakraborti`` (same
  paper, same TF1 reading: 0.8 may be TF1's ``keep_prob``; 0.2 is ``tf.nn.leaky_relu``'s
  default).
* **T_Arch2 freezing.** Frozen layers include the encoder's batch normalisations, which then
  run in inference mode with the pre-trained moving statistics (Keras' transfer-learning
  behaviour for ``trainable=False``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras

from cifar100_kedro.models.registry import register_builder

# Section III-C.
DEFAULT_ENCODER: dict[str, Any] = {
    "stem_filters": 64,
    "tower_filters": 128,
    "bottleneck_filters": 256,
    "code_units": 512,
    "tower_pool_strides": (1, 2),
}
# Section III-D.
TRANSFER_DENSE_UNITS = (1024, 512, 512, 256, 256)
OUTPUT_ACTIVATIONS = ("relu", "sigmoid", "linear")
# The decoder's strides (1, 2, 2, 1) upsample by 4: the code is reshaped to side / 4.
DECODER_UPSAMPLING = 4


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _same_side(side: int, stride: int) -> int:
    """Output side of a 'same'-padded layer with ``stride``: ceil(side / stride)."""
    return -(-side // stride)


def encoder_settings(
    encoder: Mapping[str, Any] | None, input_shape: Sequence[int]
) -> dict[str, Any]:
    """The encoder hyperparameters (paper defaults + ``encoder``), validated against the input.

    Raises:
        ValueError: naming the ``encoder.<key>`` that is unknown or invalid, or the input
            shape the architecture cannot take.
    """
    encoder = dict(encoder or {})
    unknown = sorted(set(encoder) - set(DEFAULT_ENCODER))
    if unknown:
        raise ValueError(f"encoder: unknown keys {unknown}; known: {sorted(DEFAULT_ENCODER)}")
    settings = {**DEFAULT_ENCODER, **encoder}
    for key in ("stem_filters", "tower_filters", "bottleneck_filters", "code_units"):
        _positive_int(f"encoder.{key}", settings[key])
    strides = tuple(settings["tower_pool_strides"])
    if len(strides) != 2:
        raise ValueError(f"encoder.tower_pool_strides must hold 2 ints, got {strides!r}")
    for stride in strides:
        _positive_int("encoder.tower_pool_strides", stride)
    settings["tower_pool_strides"] = strides

    height, width = int(input_shape[0]), int(input_shape[1])
    if height % DECODER_UPSAMPLING or width % DECODER_UPSAMPLING:
        raise ValueError(
            f"input_shape {tuple(input_shape)}: height and width must be multiples of "
            f"{DECODER_UPSAMPLING} (the decoder upsamples the code by {DECODER_UPSAMPLING})"
        )
    branch_3x3 = _same_side(_same_side(height, 2), strides[0])  # conv stride 2, then the pool
    branch_5x5 = _same_side(height, strides[1])  # conv stride 1, then the pool
    if branch_3x3 != branch_5x5:
        raise ValueError(
            f"encoder.tower_pool_strides={strides}: the 3×3/stride-2 branch gives "
            f"{branch_3x3}×{branch_3x3} and the 5×5/stride-1 branch {branch_5x5}×{branch_5x5}; "
            "they must agree to be concatenated (the paper's shapes fit with (1, 2))"
        )
    return settings


def _regulariser(l2: float) -> keras.regularizers.Regularizer | None:
    # One instance per layer, so each layer's config serialises on its own.
    return keras.regularizers.L2(l2) if l2 else None


def _conv_relu_bn(x, layer: keras.layers.Layer, prefix: str, pool_strides: int | None = None):
    """conv → (max-pool) → ReLU → BN, the paper's order, with stable layer names."""
    x = layer(x)
    if pool_strides is not None:
        x = keras.layers.MaxPooling2D(
            2, strides=pool_strides, padding="same", name=f"{prefix}_pool"
        )(x)
    x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
    return keras.layers.BatchNormalization(name=f"{prefix}_bn")(x)


def encode(x, settings: Mapping[str, Any], l2: float, leaky_relu_slope: float):
    """Section III-C (a)–(c) and the code layer: the layers the transfer models share.

    Layer names are stable (``encoder_stem_conv`` … ``code``, ``code_lrelu``): pre-trained
    weights are copied into a transfer model by these names.
    """
    conv = keras.layers.Conv2D
    x = _conv_relu_bn(
        x,
        conv(
            settings["stem_filters"],
            3,
            strides=1,
            padding="same",
            kernel_regularizer=_regulariser(l2),
            name="encoder_stem_conv",
        ),
        "encoder_stem",
    )
    pool_3x3, pool_5x5 = settings["tower_pool_strides"]
    branch_3x3 = _conv_relu_bn(
        x,
        conv(
            settings["tower_filters"],
            3,
            strides=2,
            padding="same",
            kernel_regularizer=_regulariser(l2),
            name="encoder_tower_3x3_conv",
        ),
        "encoder_tower_3x3",
        pool_strides=pool_3x3,
    )
    branch_5x5 = _conv_relu_bn(
        x,
        conv(
            settings["tower_filters"],
            5,
            strides=1,
            padding="same",
            kernel_regularizer=_regulariser(l2),
            name="encoder_tower_5x5_conv",
        ),
        "encoder_tower_5x5",
        pool_strides=pool_5x5,
    )
    x = keras.layers.Concatenate(axis=-1, name="encoder_tower_concat")([branch_3x3, branch_5x5])
    x = _conv_relu_bn(
        x,
        conv(
            settings["bottleneck_filters"],
            3,
            strides=2,
            padding="same",
            kernel_regularizer=_regulariser(l2),
            name="encoder_bottleneck_conv",
        ),
        "encoder_bottleneck",
    )
    x = keras.layers.Flatten(name="encoder_flatten")(x)
    x = keras.layers.Dense(
        settings["code_units"], kernel_regularizer=_regulariser(l2), name="code"
    )(x)
    return keras.layers.LeakyReLU(negative_slope=leaky_relu_slope, name="code_lrelu")(x)


def encoder_layer_names(model: keras.Model) -> list[str]:
    """Names of ``model``'s encoder layers (the ones a pre-trained autoencoder provides)."""
    return [
        layer.name
        for layer in model.layers
        if layer.name.startswith("encoder_") or layer.name in ("code", "code_lrelu")
    ]


def _check_common(l2: float, leaky_relu_slope: float) -> None:
    if not float(l2) >= 0.0:
        raise ValueError(f"l2 must be >= 0, got {l2!r}")
    if not float(leaky_relu_slope) >= 0.0:
        raise ValueError(f"leaky_relu_slope must be >= 0, got {leaky_relu_slope!r}")


@register_builder("chakraborti_autoencoder")
def build_chakraborti_autoencoder(
    num_classes: int | None = None,
    input_shape: tuple = (32, 32, 3),
    *,
    encoder: Mapping[str, Any] | None = None,
    l2: float = 0.001,
    leaky_relu_slope: float = 0.2,
    sparsity_l1: float = 5e-3,
    output_activation: str = "relu",
    output_batch_norm: bool = False,
) -> keras.Model:
    """Chakraborti & Moore's tower autoencoder (Section III-C); see the module docstring for
    every shape choice.

    Args:
        num_classes: Ignored (an autoencoder has no classes; the builder contract passes it).
        input_shape: ``(height, width, channels)``; height and width multiples of 4.
        encoder: Encoder widths, shared with the transfer models: ``stem_filters`` (64),
            ``tower_filters`` (128, each branch), ``bottleneck_filters`` (256), ``code_units``
            (512), ``tower_pool_strides`` ((1, 2)). The decoder mirrors them (256, 2 × 128,
            64, then ``channels``).
        l2: L2 kernel factor of every (transposed) convolution and dense layer (0.001).
        leaky_relu_slope: Negative slope of the code's LeakyReLU (0.2).
        sparsity_l1: Factor of the code's L1-norm in the loss (paper: 5e-3; 0 turns it off).
        output_activation: ``relu`` (default), ``sigmoid`` or ``linear``.
        output_batch_norm: Batch-normalise the reconstruction too (default False).

    Returns:
        The uncompiled ``keras.Model`` mapping the normalised image to its reconstruction
        (same shape); the sparsity term is a model loss (``model.losses``).
    """
    settings = encoder_settings(encoder, input_shape)
    _check_common(l2, leaky_relu_slope)
    if not float(sparsity_l1) >= 0.0:
        raise ValueError(f"sparsity_l1 must be >= 0, got {sparsity_l1!r}")
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(
            f"output_activation must be one of {OUTPUT_ACTIVATIONS}, got {output_activation!r}"
        )
    height, width, channels = (int(v) for v in input_shape)
    side_h, side_w = height // DECODER_UPSAMPLING, width // DECODER_UPSAMPLING
    if settings["code_units"] % (side_h * side_w):
        raise ValueError(
            f"encoder.code_units={settings['code_units']} must be a multiple of "
            f"{side_h}×{side_w}={side_h * side_w} to be reshaped into the decoder's first "
            f"{side_h}×{side_w} feature map"
        )

    inputs = keras.Input(shape=(height, width, channels), dtype="float32", name="image")
    code = encode(inputs, settings, l2, leaky_relu_slope)
    code = keras.layers.ActivityRegularization(l1=float(sparsity_l1), name="code_sparsity")(code)

    tconv = keras.layers.Conv2DTranspose
    x = keras.layers.Reshape(
        (side_h, side_w, settings["code_units"] // (side_h * side_w)), name="decoder_reshape"
    )(code)
    x = _conv_relu_bn(
        x,
        tconv(
            settings["bottleneck_filters"],
            3,
            strides=1,
            padding="same",
            kernel_regularizer=_regulariser(l2),
            name="decoder_bottleneck_tconv",
        ),
        "decoder_bottleneck",
    )
    branches = [
        _conv_relu_bn(
            x,
            tconv(
                settings["tower_filters"],
                3,
                strides=2,
                padding="same",
                kernel_regularizer=_regulariser(l2),
                name=f"decoder_tower_{branch}_tconv",
            ),
            f"decoder_tower_{branch}",
        )
        for branch in ("a", "b")
    ]
    x = keras.layers.Concatenate(axis=-1, name="decoder_tower_concat")(branches)
    x = _conv_relu_bn(
        x,
        tconv(
            settings["stem_filters"],
            5,
            strides=2,
            padding="same",
            kernel_regularizer=_regulariser(l2),
            name="decoder_stem_tconv",
        ),
        "decoder_stem",
    )
    x = tconv(
        channels, 3, strides=1, padding="same", activation=output_activation,
        kernel_regularizer=_regulariser(l2), name="reconstruction",
    )(x)  # fmt: skip
    if output_batch_norm:
        x = keras.layers.BatchNormalization(name="reconstruction_bn")(x)
    return keras.Model(inputs, x, name="chakraborti_autoencoder")


def _build_transfer(
    name: str,
    num_classes: int,
    input_shape: tuple,
    encoder: Mapping[str, Any] | None,
    dense_units: Sequence[int],
    dropout_rate: float,
    l2: float,
    leaky_relu_slope: float,
    output_leaky_relu: bool,
    freeze_encoder: bool,
) -> keras.Model:
    settings = encoder_settings(encoder, input_shape)
    _check_common(l2, leaky_relu_slope)
    dense_units = tuple(dense_units)
    if not dense_units:
        raise ValueError("dense_units must hold at least one positive int, got ()")
    for units in dense_units:
        _positive_int("dense_units", units)
    if not 0.0 <= float(dropout_rate) < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate!r}")
    _positive_int("num_classes", num_classes)

    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = encode(inputs, settings, l2, leaky_relu_slope)
    for index, units in enumerate(dense_units, start=1):
        x = keras.layers.Dense(
            units, kernel_regularizer=_regulariser(l2), name=f"transfer_dense{index}"
        )(x)
        x = keras.layers.LeakyReLU(
            negative_slope=leaky_relu_slope, name=f"transfer_dense{index}_lrelu"
        )(x)
        x = keras.layers.Dropout(dropout_rate, name=f"transfer_dense{index}_dropout")(x)
    x = keras.layers.Dense(num_classes, kernel_regularizer=_regulariser(l2), name="output_dense")(x)
    if output_leaky_relu:
        x = keras.layers.LeakyReLU(negative_slope=leaky_relu_slope, name="output_lrelu")(x)
    outputs = keras.layers.Softmax(name="classifier")(x)
    model = keras.Model(inputs, outputs, name=name)
    if freeze_encoder:
        for layer_name in encoder_layer_names(model):
            model.get_layer(layer_name).trainable = False
    return model


_TRANSFER_ARGS = """

    Args:
        num_classes: Units of the output layer (100 fine or 20 coarse labels).
        input_shape: ``(height, width, channels)`` of the normalised float32 input.
        encoder: The autoencoder's encoder widths (must equal the pre-trained autoencoder's,
            or the engine's weight copy fails naming the layer).
        dense_units: The added dense layers (paper: 1024, 512, 512, 256, 256).
        dropout_rate: Rate of the Dropout after each added layer, in [0, 1) (paper: "80%").
        l2: L2 kernel factor of every layer (0.001).
        leaky_relu_slope: Negative slope of every LeakyReLU (0.2).
        output_leaky_relu: LeakyReLU between the output layer and the softmax, as written.
        freeze_encoder: Make the encoder layers non-trainable.

    Returns:
        The uncompiled ``keras.Model``; train it with the autoencoder's weights
        (``fit_model(..., pretrained=autoencoder)``): without them the encoder is random.
"""


@register_builder("chakraborti_t_arch1")
def build_chakraborti_t_arch1(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    encoder: Mapping[str, Any] | None = None,
    dense_units: Sequence[int] = TRANSFER_DENSE_UNITS,
    dropout_rate: float = 0.8,
    l2: float = 0.001,
    leaky_relu_slope: float = 0.2,
    output_leaky_relu: bool = True,
    freeze_encoder: bool = False,
) -> keras.Model:
    """T_Arch1 (Sections III-D, IV): the pre-trained encoder and the five added dense layers,
    all retrained."""
    return _build_transfer(
        "chakraborti_t_arch1", num_classes, input_shape, encoder, dense_units,
        dropout_rate, l2, leaky_relu_slope, output_leaky_relu, freeze_encoder,
    )  # fmt: skip


@register_builder("chakraborti_t_arch2")
def build_chakraborti_t_arch2(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    encoder: Mapping[str, Any] | None = None,
    dense_units: Sequence[int] = TRANSFER_DENSE_UNITS,
    dropout_rate: float = 0.8,
    l2: float = 0.001,
    leaky_relu_slope: float = 0.2,
    output_leaky_relu: bool = True,
    freeze_encoder: bool = True,
) -> keras.Model:
    """T_Arch2 (Sections III-D, IV): T_Arch1 with the encoder frozen, so only the added
    dense layers (and the output layer) train."""
    return _build_transfer(
        "chakraborti_t_arch2", num_classes, input_shape, encoder, dense_units,
        dropout_rate, l2, leaky_relu_slope, output_leaky_relu, freeze_encoder,
    )  # fmt: skip


for _builder in (build_chakraborti_t_arch1, build_chakraborti_t_arch2):
    if _builder.__doc__ is not None:  # None under python -OO
        _builder.__doc__ += _TRANSFER_ARGS
