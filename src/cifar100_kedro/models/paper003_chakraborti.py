"""Seed paper 003: Chakraborti & Moore, "Classifying CIFAR-100 Images" (University of
Nebraska-Lincoln): Convolutional Architectures 1 and 2 (Section III A/B).

Only the network bodies live here; the recipe (Adam 1e-4, batch 50, 50 epochs, no early
stopping, [0, 1] scaling) belongs to ``conf/`` and the training engine. The paper's
autoencoder and transfer architectures (III C/D) are not built here.

The paper's three width settings, as ``conv_filters`` / ``dense_units``:

* Hyp1 (default): ``(32, 64, 128, 128)`` / ``(1024, 512, 256)``
* Hyp2: ``(64, 128, 256, 256)`` / ``(2048, 1024, 512)``
* Hyp3: ``(128, 256, 512, 512)`` / ``(4096, 2048, 512)`` (the paper's best, with Arch2)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from cifar100_kedro.models.registry import register_builder

HYPERPARAMETER_SETS = {
    "hyp1": {"conv_filters": (32, 64, 128, 128), "dense_units": (1024, 512, 256)},
    "hyp2": {"conv_filters": (64, 128, 256, 256), "dense_units": (2048, 1024, 512)},
    "hyp3": {"conv_filters": (128, 256, 512, 512), "dense_units": (4096, 2048, 512)},
}
# Blocks (a), (b) use 5×5 kernels and pool; blocks (c), (d) use 3×3 kernels and do not.
BLOCKS = (("a", 5, True), ("b", 5, True), ("c", 3, False), ("d", 3, False))

_SHARED_DOC = """

    Faithful to Section III: every block's convolution(s) → LeakyReLU; blocks (a), (b) use a
    5×5 kernel then MaxPooling (pool 2) → BatchNormalization → Dropout; blocks (c), (d) use a
    3×3 kernel then Dropout; Flatten → three Dense layers, each LeakyReLU then Dropout →
    Dense ``num_classes`` softmax. L2 kernel regularisation (scale 0.001) on every
    convolution and every dense layer, the output layer included ("All convolutional layers
    and dense layers ... use L2 kernel regularization"). Arch2 doubles each block's
    convolution with "an exactly identical convolutional layer" placed directly before the
    LeakyReLU, so the two convolutions of a block have no activation between them.

    Ambiguities, resolved by least deviation and kept as parameters:

    * ``dropout_rate`` — the paper says "80% dropout rate" everywhere. Built as written
      (Keras rate 0.8 = drop 80%), but the paper is TensorFlow-1 code ("we reset the
      TensorFlow graph"), where ``tf.nn.dropout``'s argument was ``keep_prob``: 0.8 may well
      mean keep 80%, i.e. ``dropout_rate=0.2``. Rate 0.8 on all seven Dropout layers
      trains very slowly (a tiny Arch1 barely moves in 20 Adam steps where rate 0.2 halves
      its loss), so a recipe may well want to compare both readings.
    * ``l2`` — Keras ``L2(0.001)`` adds 0.001·Σw². TF1's ``l2_regularizer(scale=0.001)``
      (the "regularization scale" wording) adds 0.001·Σw²/2, i.e. Keras ``l2=0.0005``; the
      paper's number is kept as the default.
    * ``leaky_relu_slope`` — not given. Default 0.2, TensorFlow's ``tf.nn.leaky_relu``
      default that TF1 code gets, rather than Keras' ``LeakyReLU`` default 0.3.
    * ``padding`` — not given. Default "same": with 'valid', Arch2 shrinks 32×32 to zero
      (32→28→24→12→8→4→2→0 after block (c)); Arch1 survives 'valid' (…→3→1, 1×1 before
      Flatten) and 'same' keeps both architectures comparable (Flatten 8·8·filters). An
      input too small for the chosen padding raises a ValueError naming ``padding``.
    * Pooling stride 2 (Keras default = pool size); BatchNormalization with Keras defaults
      (momentum 0.99, epsilon 1e-3, equal to TF1's ``tf.layers.batch_normalization``).

    Args:
        num_classes: Units of the softmax output layer (100 fine or 20 coarse labels).
        input_shape: ``(height, width, channels)`` of the already normalised float32 input.
        conv_filters: Filters of blocks (a)–(d) (4 positive ints; Hyp1 default).
        dense_units: Units of the three hidden Dense layers (3 positive ints; Hyp1 default).
        dropout_rate: Rate of every Dropout layer, in [0, 1) (paper: "80%").
        l2: L2 kernel regularisation factor, ≥ 0 (paper: 0.001).
        padding: "same" (default) or "valid" for every convolution.
        leaky_relu_slope: Negative slope of every LeakyReLU, ≥ 0 (default 0.2).

    Returns:
        The uncompiled ``keras.Model``.
"""


def _check(
    conv_filters: Sequence[int],
    dense_units: Sequence[int],
    dropout_rate: float,
    l2: float,
    padding: str,
    leaky_relu_slope: float,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validate the hyperparameters, naming the offending one; return the tuples."""
    conv_filters, dense_units = tuple(conv_filters), tuple(dense_units)
    checks = (("conv_filters", conv_filters, 4), ("dense_units", dense_units, 3))
    for name, values, length in checks:
        if len(values) != length:
            raise ValueError(f"{name} must hold {length} values, got {values!r}")
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
            raise ValueError(f"{name} must be positive ints, got {values!r}")
    if not 0.0 <= float(dropout_rate) < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate!r}")
    if not float(l2) >= 0.0:
        raise ValueError(f"l2 must be >= 0, got {l2!r}")
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    if not float(leaky_relu_slope) >= 0.0:
        raise ValueError(f"leaky_relu_slope must be >= 0, got {leaky_relu_slope!r}")
    return conv_filters, dense_units


def _final_side(side: int, convs_per_block: int, padding: str) -> int:
    """Spatial side before Flatten, to reject inputs the padding would collapse."""
    for _, kernel, pools in BLOCKS:
        if padding == "valid":
            side -= convs_per_block * (kernel - 1)
            if side < 1:
                return side
        if pools:
            side //= 2
    return side


def _build(
    convs_per_block: int,
    name: str,
    num_classes: int,
    input_shape: tuple,
    conv_filters: Sequence[int],
    dense_units: Sequence[int],
    dropout_rate: float,
    l2: float,
    padding: str,
    leaky_relu_slope: float,
) -> keras.Model:
    conv_filters, dense_units = _check(
        conv_filters, dense_units, dropout_rate, l2, padding, leaky_relu_slope
    )
    if _final_side(min(input_shape[0], input_shape[1]), convs_per_block, padding) < 1:
        raise ValueError(
            f"padding={padding!r} shrinks an input of {tuple(input_shape)} to zero spatial "
            f"size in {name}; use padding='same'"
        )

    def regulariser() -> keras.regularizers.Regularizer:
        # One instance per layer so each layer's config serialises independently.
        return keras.regularizers.L2(l2)

    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = inputs
    for (block, kernel, pools), filters in zip(BLOCKS, conv_filters, strict=True):
        for conv in range(1, convs_per_block + 1):
            x = keras.layers.Conv2D(
                filters,
                kernel,
                padding=padding,
                kernel_regularizer=regulariser(),
                name=f"block_{block}_conv{conv}",
            )(x)
        x = keras.layers.LeakyReLU(negative_slope=leaky_relu_slope, name=f"block_{block}_lrelu")(x)
        if pools:
            x = keras.layers.MaxPooling2D(2, name=f"block_{block}_pool")(x)
            x = keras.layers.BatchNormalization(name=f"block_{block}_bn")(x)
        x = keras.layers.Dropout(dropout_rate, name=f"block_{block}_dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for index, units in enumerate(dense_units, start=1):
        x = keras.layers.Dense(units, kernel_regularizer=regulariser(), name=f"dense{index}")(x)
        x = keras.layers.LeakyReLU(negative_slope=leaky_relu_slope, name=f"dense{index}_lrelu")(x)
        x = keras.layers.Dropout(dropout_rate, name=f"dense{index}_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=regulariser(), name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name=name)


@register_builder("chakraborti_arch1")
def build_chakraborti_arch1(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    conv_filters: Sequence[int] = (32, 64, 128, 128),
    dense_units: Sequence[int] = (1024, 512, 256),
    dropout_rate: float = 0.8,
    l2: float = 0.001,
    padding: str = "same",
    leaky_relu_slope: float = 0.2,
) -> keras.Model:
    """Chakraborti & Moore's Convolutional Architecture 1 (Section III-A): one convolution
    per block."""
    return _build(
        1, "chakraborti_arch1", num_classes, input_shape, conv_filters, dense_units,
        dropout_rate, l2, padding, leaky_relu_slope,
    )  # fmt: skip


@register_builder("chakraborti_arch2")
def build_chakraborti_arch2(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    conv_filters: Sequence[int] = (32, 64, 128, 128),
    dense_units: Sequence[int] = (1024, 512, 256),
    dropout_rate: float = 0.8,
    l2: float = 0.001,
    padding: str = "same",
    leaky_relu_slope: float = 0.2,
) -> keras.Model:
    """Chakraborti & Moore's Convolutional Architecture 2 (Section III-B): Arch1 made deeper
    with two identical stacked convolutions per block."""
    return _build(
        2, "chakraborti_arch2", num_classes, input_shape, conv_filters, dense_units,
        dropout_rate, l2, padding, leaky_relu_slope,
    )  # fmt: skip


# Both builders document the same faithful parts and ambiguity choices (docstrings are
# None under ``python -OO``).
for _builder in (build_chakraborti_arch1, build_chakraborti_arch2):
    if _builder.__doc__ is not None:
        _builder.__doc__ += _SHARED_DOC
