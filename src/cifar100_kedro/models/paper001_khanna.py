"""Seed paper 001: Chetna Khanna, "CIFAR-100: Object Recognition" (Northeastern University):
a VGG-style 9-layer CNN with 13,870,484 trainable parameters.

Only the network body lives here; the recipe (Adam 1e-4, batch 64, early stopping with
patience 20, ImageDataGenerator augmentation) belongs to ``conf/`` and the training engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from cifar100_kedro.models.registry import register_builder

NUM_STACKS = 3
NUM_HIDDEN_DENSE = 2


def _positive_ints(name: str, values: Sequence[int], length: int) -> tuple[int, ...]:
    values = tuple(values)
    if len(values) != length:
        raise ValueError(f"{name} must hold {length} values, got {len(values)}: {values!r}")
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{name} must be positive ints, got {values!r}")
    return values


def _rate(name: str, value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


@register_builder("khanna_vgg_cnn")
def build_khanna_vgg_cnn(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    filters: Sequence[int] = (128, 256, 512),
    dense_units: Sequence[int] = (1000, 1000),
    input_dropout: float = 0.2,
    hidden_dropout: float = 0.5,
) -> keras.Model:
    """Khanna's network: INPUT → [[CONV → RELU] × 2 → MAXPOOL] × 3 → [FC → RELU] × 2 → FC.

    Faithful to Section 3: 3×3 convolutions with zero ('same') padding, 128 / 256 / 512
    filters in the three stacks, ReLU after every convolution, 2×2 max pooling with stride 2,
    Flatten, two fully connected ReLU layers of 1000 units and a softmax output layer with
    one unit per class. At 32×32×3 input and 100 classes this has exactly the paper's
    13,870,484 trainable parameters (4,576,384 convolutional + 9,294,100 dense).

    Ambiguity, resolved by least deviation and kept as parameters: the paper says dropout
    "has been used in all the hidden layers with values 0.2 in the input layer and 0.5 in the
    hidden layers" without placing it. Read as the dense classifier's layers: Dropout
    ``input_dropout`` (0.2) on the flattened features entering the dense stack, and Dropout
    ``hidden_dropout`` (0.5) after each hidden FC layer. (The other reading, dropout on the
    raw image before the first convolution, would be unusual for a VGG stack and the paper's
    own justification — "lesser number of parameters" — only makes sense for the dense
    stack.) Dropout has no weights, so the parameter count does not depend on this choice.

    Args:
        num_classes: Units of the softmax output layer (100 fine or 20 coarse labels).
        input_shape: ``(height, width, channels)`` of the already normalised float32 input.
        filters: Filters of the two convolutions in each of the three stacks.
        dense_units: Units of the two hidden fully connected layers.
        input_dropout: Dropout rate on the flattened features (input of the dense stack).
        hidden_dropout: Dropout rate after each hidden fully connected layer.

    Returns:
        The uncompiled ``keras.Model`` named ``khanna_vgg_cnn``.
    """
    filters = _positive_ints("filters", filters, NUM_STACKS)
    dense_units = _positive_ints("dense_units", dense_units, NUM_HIDDEN_DENSE)
    input_dropout = _rate("input_dropout", input_dropout)
    hidden_dropout = _rate("hidden_dropout", hidden_dropout)
    if min(input_shape[0], input_shape[1]) < 2**NUM_STACKS:
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small for three 2×2 poolings (need ≥ 8)"
        )

    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = inputs
    for stack, stack_filters in enumerate(filters, start=1):
        for conv in (1, 2):
            x = keras.layers.Conv2D(
                stack_filters,
                3,
                padding="same",
                activation="relu",
                name=f"stack{stack}_conv{conv}",
            )(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"stack{stack}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(input_dropout, name="dense_input_dropout")(x)
    for index, units in enumerate(dense_units, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"fc{index}")(x)
        x = keras.layers.Dropout(hidden_dropout, name=f"fc{index}_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="khanna_vgg_cnn")


@register_builder("khanna_baseline_cnn")
def build_khanna_baseline_cnn(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    filters: Sequence[int] = (32, 64, 128),
    dense_units: int = 256,
    dropout: float = 0.0,
) -> keras.Model:
    """Khanna's first, 5-layer network (Section 3 and Fig. 8): [CONV → RELU → MAXPOOL] × 3 →
    FC 256 → RELU → FC softmax.

    The paper gives "32, 64 and 128 filters in convolutional layers and 256 units in the first
    fully connected layer" and 643,492 trainable parameters. 3×3 'same' convolutions with a
    2×2 max-pool after each (the final network's layers) reach exactly that at 32×32×3 and 100
    classes: 93,248 convolutional + 524,544 + 25,700 dense. Dropout is not stated for this
    network: ``dropout`` (default 0, none) after the hidden FC layer.

    Args:
        num_classes: Units of the softmax output layer.
        input_shape: ``(height, width, channels)`` of the already normalised float32 input.
        filters: Filters of the three convolutions.
        dense_units: Units of the hidden fully connected layer.
        dropout: Dropout rate after the hidden fully connected layer.

    Returns:
        The uncompiled ``keras.Model`` named ``khanna_baseline_cnn``.
    """
    filters = _positive_ints("filters", filters, NUM_STACKS)
    (dense_units,) = _positive_ints("dense_units", (dense_units,), 1)
    dropout = _rate("dropout", dropout)
    if min(input_shape[0], input_shape[1]) < 2**NUM_STACKS:
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small for three 2×2 poolings (need ≥ 8)"
        )
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = inputs
    for index, layer_filters in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            layer_filters, 3, padding="same", activation="relu", name=f"conv{index}"
        )(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"pool{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(dropout, name="fc1_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="khanna_baseline_cnn")
