"""Seed paper 002: Sergio Chavez Lazo, "Convolutional Neural Network (CNN) to classify
CIFAR100 images": models 1–6 of a progressive series, from a one-convolution CNN to
MobileNet transfer learning.

Only the network bodies live here; the recipe (50 epochs, batch 50, early stopping with
patience 3, sparse categorical cross-entropy, the model-5 flips) belongs to ``conf/`` and the
training engine. Model 7 is model 6 with hyperparameters chosen by random + grid search
(the values are not given in the paper's text): a recipe for stage 6, not a stage here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras

from cifar100_kedro.models.registry import register_builder

STAGES = (1, 2, 3, 4, 5, 6)
STAGE_NAMES = {
    1: "chavez_m1_simple_cnn",
    2: "chavez_m2_dense128",
    3: "chavez_m3_dense128_64",
    4: "chavez_m4_dropout",
    5: "chavez_m5_augmented",
    6: "chavez_m6_mobilenet",
}


def _validate(
    stage: int,
    filters: int,
    kernel_size: int,
    dense_units: Sequence[int],
    dropout: float,
    weights: str | os.PathLike | None,
    alpha: float,
) -> tuple[tuple[int, int], str | None]:
    """Check the hyperparameters; return ``dense_units`` as a tuple and ``weights`` as str."""
    if isinstance(stage, bool) or stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    for name, value in (("filters", filters), ("kernel_size", kernel_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    dense_units = tuple(dense_units)
    if len(dense_units) != 2 or any(
        isinstance(u, bool) or not isinstance(u, int) or u < 1 for u in dense_units
    ):
        raise ValueError(f"dense_units must be two positive ints, got {dense_units!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if not float(alpha) > 0.0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    if weights is not None and weights != "imagenet":
        weights = os.fspath(weights)
        if not os.path.isfile(weights):
            raise ValueError(
                f"weights must be 'imagenet', None or an existing weights file, got {weights!r}"
            )
    return dense_units, weights


@register_builder("chavez_progressive")
def build_chavez_progressive(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    stage: int = 1,
    filters: int = 10,
    kernel_size: int = 2,
    dense_units: Sequence[int] = (128, 64),
    dropout: float = 0.2,
    weights: str | os.PathLike | None = "imagenet",
    trainable_backbone: bool = False,
    alpha: float = 1.0,
) -> keras.Model:
    """Chavez Lazo's models 1–6 (Table 1); each stage contains the previous one's topology.

    Faithful to Section II / Table 1, ReLU in every layer ("ReLU is used in all the layers
    included") and a softmax output with one unit per class:

    * M1 — Conv2D(10 filters, kernel 2, ReLU) → MaxPooling2D → Flatten → Dense softmax.
    * M2 — M1 plus a hidden Dense(128, ReLU) before the output.
    * M3 — M2 plus a hidden Dense(64, ReLU).
    * M4 — M3 plus Dropout(0.2) in the dense stack ("dropout rate of 20% between each hidden
      layer").
    * M5 — M4's network unchanged: its addition, a random horizontal + vertical flip stage,
      is augmentation, which the training engine applies from the recipe (builders never
      augment). M5 differs from M4 only in its recipe and in the model name.
    * M6 — ``keras.applications.MobileNet`` (``include_top=False``, 32×32×3 input) as the
      feature extractor in place of the small convolution stem, followed by M4's head
      (Dense 128 → Dense 64 with dropout → softmax): "all MobileNet parameters were used
      except for the last layer (which was modified to include the architecture of the
      previous models and the final classification)".

    Ambiguities, resolved by least deviation and kept as parameters where they can be:

    * Padding and pool size of M1 — not given; Keras defaults (the paper's own tool): 'valid'
      convolution and a 2×2 pool (32 → 31 → 15, Flatten 15·15·10 = 2250).
    * Dropout placement in M4–M6 — "between each hidden layer" of a stack whose hidden
      Dense layers are 128 and 64: one Dropout after each hidden Dense layer (so one sits
      between Dense 128 and Dense 64 and one between Dense 64 and the output), the usual
      Keras pattern. Dropout carries no weights, so parameter counts are unaffected.
    * M6 pooling — the backbone ends in a 1×1×(1024·alpha) map at 32×32 input;
      GlobalAveragePooling2D keeps MobileNet's own pooling (only its classification layer
      is replaced) and equals Flatten exactly on a 1×1 map, while staying valid for larger
      inputs.
    * M6 backbone training — default ``trainable_backbone=False``: the paper reuses "all
      MobileNet parameters" through "transfer learning", i.e. ImageNet features with a new
      head, the standard Keras transfer-learning recipe; it never mentions fine-tuning, and it
      trained on CPU only. The frozen backbone runs with ``training=False`` so its
      BatchNormalization statistics stay ImageNet's. ``True`` fine-tunes everything. With
      ``weights=None`` a frozen backbone is a random projection — set
      ``trainable_backbone=True`` there.
    * M6 input range — MobileNet's ImageNet weights expect inputs in [-1, 1], but the paper
      fed x/255 in [0, 1]; this builder does not rescale: the range is whatever the recipe's
      normalisation (applied by the engine) produces.
    * M6 ``weights`` — ``"imagenet"`` (the paper; needs Keras' download or its cache),
      ``None`` (random init) or the path of a local weights file of the no-top MobileNet
      of the same ``alpha`` (``.weights.h5`` from ``save_weights`` or Keras' cached
      ``mobilenet_1_0_224_tf_no_top.h5``), for machines without internet. With
      ``"imagenet"`` at 32×32 Keras loads (and warns about) the 224×224 weights: the
      convolution weights do not depend on the resolution (the paper's Keras code got the same).

    Args:
        num_classes: Units of the softmax output layer (100 fine or 20 coarse labels).
        input_shape: ``(height, width, channels)`` of the already normalised float32 input.
        stage: Model number 1–6 of the paper's Table 1.
        filters: Filters of the M1–M5 convolution (paper: 10). Unused at stage 6.
        kernel_size: Kernel side of the M1–M5 convolution (paper: 2). Unused at stage 6.
        dense_units: Units of the hidden Dense layers added at stages 2 and 3.
        dropout: Dropout rate from stage 4 on, in [0, 1).
        weights: Stage 6 only: ``"imagenet"``, ``None`` or a weights file path.
        trainable_backbone: Stage 6 only: fine-tune MobileNet instead of freezing it.
        alpha: Stage 6 only: MobileNet width multiplier.

    Returns:
        The uncompiled ``keras.Model``, named after the stage (e.g. ``chavez_m4_dropout``).

    Raises:
        ValueError: naming the offending hyperparameter (``stage``, ``dropout``, …).
    """
    dense_units, weights = _validate(
        stage, filters, kernel_size, dense_units, dropout, weights, alpha
    )
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")

    if stage == 6:
        backbone = keras.applications.MobileNet(
            input_shape=tuple(input_shape),
            alpha=alpha,
            include_top=False,
            weights=weights,
        )
        backbone.trainable = bool(trainable_backbone)
        # A frozen backbone keeps BatchNormalization in inference mode even if it is
        # unfrozen later for fine-tuning (Keras transfer-learning guide).
        x = backbone(inputs, training=None if trainable_backbone else False)
        x = keras.layers.GlobalAveragePooling2D(name="backbone_pool")(x)
    else:
        # Minimum spatial size after the valid convolution and the 2×2 pool.
        if min(input_shape[0], input_shape[1]) - kernel_size + 1 < 2:
            raise ValueError(f"kernel_size={kernel_size} is too large for input {input_shape}")
        x = keras.layers.Conv2D(filters, kernel_size, activation="relu", name="conv")(inputs)
        x = keras.layers.MaxPooling2D(2, name="pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)

    # Stage 2 adds the first hidden layer, stage 3 the second; later stages keep both.
    num_hidden = min(stage - 1, 2)
    for index, units in enumerate(dense_units[:num_hidden], start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden{index}")(x)
        if stage >= 4:
            x = keras.layers.Dropout(dropout, name=f"hidden{index}_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=STAGE_NAMES[stage])
