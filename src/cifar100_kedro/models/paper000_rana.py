"""Seed paper 000: Rana & Vanzara, "Image Classification on CIFAR-100 using Convolutional
Neural Network" (University of Windsor): a six-convolution ELU network.

Only the network body lives here; the recipe (RMSprop 1e-4 with decay 1e-6, batch 64,
ImageDataGenerator augmentation, epochs) belongs to ``conf/`` and the training engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from cifar100_kedro.models.registry import register_builder

# "same_valid" is the per-pair padding of the Keras ``cifar10_cnn`` example that the paper's
# recipe comes from (first conv of a pair 'same', second 'valid').
PADDING_MODES = ("same", "valid", "same_valid")
NUM_GROUPS = 3


def _pair_paddings(padding: str) -> tuple[str, str]:
    """Padding of the (first, second) convolution of every group for a ``padding`` mode."""
    if padding == "same_valid":
        return "same", "valid"
    return padding, padding


def _final_spatial_size(size: int, padding: str, kernel: int = 3) -> int:
    """Spatial side left after the three conv-conv-pool groups (to reject collapsing inputs)."""
    for _ in range(NUM_GROUPS):
        for pad in _pair_paddings(padding):
            if pad == "valid":
                size -= kernel - 1
        size //= 2
    return size


@register_builder("rana_elu_cnn")
def build_rana_elu_cnn(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    filters: int = 256,
    padding: str = "same",
    dropout_rates: Sequence[float] = (0.25, 0.25, 0.5),
) -> keras.Model:
    """Rana & Vanzara's CNN: 3 × [Conv 3×3 → ELU → Conv 3×3 → ELU → MaxPool 2×2], Flatten,
    Dense ``num_classes`` softmax, with three Dropout layers.

    Faithful to Section III-D: six ``Conv2D`` layers with 256 filters and a (3, 3) kernel,
    each followed by its own 'elu' activation layer; one (2, 2) max-pooling layer after every
    two convolutions (three groups); then Flatten and a single Dense layer with one unit per
    class and softmax (the paper's "two fully connected layers" are Flatten + Dense); three
    Dropout layers, one of them "after flattening the data".

    Ambiguities, resolved by least deviation and kept as parameters:

    * ``padding`` — the paper gives none. Keras' default 'valid' on all six convolutions
      shrinks 32×32 to nothing (32→28→14→10→5→1→0), so the network as written could not
      have run with it; default ``"same"`` (32→16→8→4, Flatten 4·4·filters). ``"same_valid"``
      reproduces the Keras ``cifar10_cnn`` example (first conv of a pair 'same', second
      'valid'; 32→15→6→2), the likely template of the paper's code. ``"valid"`` is accepted
      only where the input is large enough; otherwise a ValueError names ``padding``.
    * Where the three dropouts sit — the paper only places one after Flatten. The other two
      follow the max-pooling of groups 1 and 2, as in the ``cifar10_cnn`` example whose
      RMSprop(1e-4, decay 1e-6) recipe the paper uses; rates default to that example's
      0.25 / 0.25 / 0.5 (``dropout_rates``: after pool 1, after pool 2, after Flatten).

    Args:
        num_classes: Units of the softmax output layer (100 fine or 20 coarse labels).
        input_shape: ``(height, width, channels)`` of the already normalised float32 input.
        filters: Filters of every one of the six convolutions (paper: 256).
        padding: ``"same"`` (default), ``"same_valid"`` or ``"valid"``; see above.
        dropout_rates: Three rates in [0, 1): after pool 1, after pool 2, after Flatten.

    Returns:
        The uncompiled ``keras.Model`` named ``rana_elu_cnn``.
    """
    if padding not in PADDING_MODES:
        raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
    if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
        raise ValueError(f"filters must be a positive int, got {filters!r}")
    dropout_rates = tuple(dropout_rates)
    if len(dropout_rates) != NUM_GROUPS:
        raise ValueError(f"dropout_rates must hold 3 rates, got {len(dropout_rates)}")
    for rate in dropout_rates:
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"dropout_rates must each be in [0, 1), got {dropout_rates!r}")
    side = min(input_shape[0], input_shape[1])
    if _final_spatial_size(side, padding) < 1:
        raise ValueError(
            f"padding={padding!r} shrinks an input of {tuple(input_shape)} to zero spatial size "
            "after three conv-conv-pool groups; use padding='same' or 'same_valid'"
        )

    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = inputs
    first_pad, second_pad = _pair_paddings(padding)
    for group in range(1, NUM_GROUPS + 1):
        # The paper lists activation layers separately from the convolutions ("6 activation
        # layers, one each after the convolution layer"), so they are separate layers here.
        x = keras.layers.Conv2D(filters, 3, padding=first_pad, name=f"group{group}_conv1")(x)
        x = keras.layers.Activation("elu", name=f"group{group}_elu1")(x)
        x = keras.layers.Conv2D(filters, 3, padding=second_pad, name=f"group{group}_conv2")(x)
        x = keras.layers.Activation("elu", name=f"group{group}_elu2")(x)
        x = keras.layers.MaxPooling2D(2, name=f"group{group}_pool")(x)
        if group < NUM_GROUPS:
            x = keras.layers.Dropout(dropout_rates[group - 1], name=f"group{group}_dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout_rates[2], name="flatten_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="rana_elu_cnn")
