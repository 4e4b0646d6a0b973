"""Beyond the papers: ``resnet9_fast``, the project's recommended CIFAR-100 model.

A small residual CNN from the published fast-training line on CIFAR:

* D. C. Page, "How to Train Your ResNet" (Myrtle.ai blog series, 2018), part 4
  "Architecture" (the 9-layer ResNet of the DAWNBench entry: 94 % on CIFAR-10 in 24 epochs,
  79 s on one V100) and part 8 "Bag of tricks" (label smoothing, horizontal-flip test-time
  augmentation; 94 % in 26 s). https://myrtle.ai/learn/how-to-train-your-resnet/
* K. Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU" (airbench, arXiv 2404.00498,
  2024): the same stage layout (conv → max-pool → batch norm → activation), flip + 2-4 pixel
  translate augmentation, label smoothing 0.2, Nesterov SGD with a warm-up + linear-decay
  schedule, flip TTA.

Only the network body lives here; the recipe (Nesterov SGD, one-cycle schedule, label
smoothing, flip + translate augmentation, flip TTA, epochs or time budget) is
``conf/base/parameters_resnet_fast.yml``, run by the shared engine.
"""

from __future__ import annotations

import keras

from cifar100_kedro.models.registry import register_builder
from cifar100_kedro.training.layers import PatchWhitening

# PyTorch's default Conv2d/Linear initialisation (kaiming_uniform with a=√5, i.e.
# U(±1/√fan_in)), which the cited PyTorch code uses; Keras' default would be Glorot.
TORCH_DEFAULT_INIT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"},
}
POOLINGS = ("max", "avg")
ACTIVATIONS = ("relu", "gelu", "elu", "silu")
STEMS = ("conv", "whitening")  # the first is the default (Page's prep conv)


def _check(
    width: int,
    depth: int,
    logit_scale: float,
    pooling: str,
    activation: str,
    batchnorm_momentum: float,
    batchnorm_epsilon: float,
    input_shape: tuple,
    stem: str,
) -> None:
    """Fail before building with a message naming the bad hyperparameter."""
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"resnet9_fast: 'width' must be a positive integer, got {width!r}")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"resnet9_fast: 'depth' must be a positive integer, got {depth!r}")
    if not isinstance(logit_scale, (int, float)) or logit_scale <= 0:
        raise ValueError(
            f"resnet9_fast: 'logit_scale' must be a positive number, got {logit_scale!r}"
        )
    if pooling not in POOLINGS:
        raise ValueError(f"resnet9_fast: 'pooling' must be one of {POOLINGS}, got {pooling!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"resnet9_fast: 'activation' must be one of {ACTIVATIONS}, got {activation!r}"
        )
    if not 0 <= batchnorm_momentum < 1:
        raise ValueError(
            f"resnet9_fast: 'batchnorm_momentum' must be in [0, 1), got {batchnorm_momentum!r}"
        )
    if batchnorm_epsilon <= 0:
        raise ValueError(
            f"resnet9_fast: 'batchnorm_epsilon' must be positive, got {batchnorm_epsilon!r}"
        )
    if stem not in STEMS:
        raise ValueError(f"resnet9_fast: 'stem' must be one of {STEMS}, got {stem!r}")
    # The whitening stem's 2×2 'valid' conv loses a pixel before the pools.
    smallest = 9 if stem == "whitening" else 8
    height, width_px = input_shape[0], input_shape[1]
    if height < smallest or width_px < smallest:
        raise ValueError(
            f"resnet9_fast: input_shape {tuple(input_shape)} is too small: "
            f"three 2×2 max-pools after the {stem!r} stem need at least "
            f"{smallest}×{smallest} pixels"
        )


def _conv_bn(x, filters: int, pool: bool, label: str, hp: dict):
    """3×3 conv (no bias) → [2×2 max-pool] → batch norm → activation."""
    x = keras.layers.Conv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer=TORCH_DEFAULT_INIT,
        name=f"{label}_conv",
    )(x)
    if pool:
        # Pooling before BN/activation (part 8, airbench): same result for the max-pool of a
        # monotone per-channel map, four times less BN/activation work.
        x = keras.layers.MaxPooling2D(2, name=f"{label}_pool")(x)
    x = keras.layers.BatchNormalization(
        momentum=hp["batchnorm_momentum"], epsilon=hp["batchnorm_epsilon"], name=f"{label}_bn"
    )(x)
    return keras.layers.Activation(hp["activation"], name=f"{label}_act")(x)


def _residual(x, filters: int, label: str, hp: dict):
    """Identity shortcut around two conv-BN-activation layers (Page's ``Residual``)."""
    y = _conv_bn(x, filters, False, f"{label}_a", hp)
    y = _conv_bn(y, filters, False, f"{label}_b", hp)
    return keras.layers.Add(name=f"{label}_add")([x, y])


def _stem(x, stem: str, width: int, hp: dict):
    """Page's prep layer (conv-BN-activation, ``width`` channels, same size), or airbench's
    frozen patch-whitening conv (2×2 'valid', 24 channels for RGB) and the activation."""
    if stem == "conv":
        return _conv_bn(x, width, False, "prep", hp)
    # No batch norm after it, as in airbench: the whitened channels have unit second moment.
    x = PatchWhitening(name="stem_whitening")(x)
    return keras.layers.Activation(hp["activation"], name="stem_act")(x)


@register_builder("resnet9_fast")
def build_resnet9_fast(
    num_classes: int,
    input_shape: tuple[int, int, int] = (32, 32, 3),
    width: int = 64,
    depth: int = 1,
    logit_scale: float = 0.125,
    pooling: str = "max",
    activation: str = "relu",
    batchnorm_momentum: float = 0.9,
    batchnorm_epsilon: float = 1e-5,
    stem: str = "conv",
) -> keras.Model:
    """The ResNet-9 of Page's "How to Train Your ResNet" (part 4), widths and depth as parameters.

    Layout (``width`` = w, ``depth`` = d; defaults w=64, d=1 give exactly Page's ResNet-9,
    6.57 M parameters with 100 classes)::

        prep    conv(w)                              32×32
        stage1  conv(2w) → pool, + d residual blocks  16×16
        stage2  conv(4w) → pool, + d−1 residual blocks 8×8
        stage3  conv(8w) → pool, + d residual blocks   4×4
        head    global max-pool → Dense(num_classes, no bias) → × logit_scale → softmax

    With ``stem="whitening"`` the prep layer is airbench's frozen 2×2 patch-whitening conv
    (:class:`~cifar100_kedro.training.layers.PatchWhitening`, 24 channels, 'valid') and the
    activation: maps 31×31 → 15×15 → 7×7 → 3×3 (global pooling takes any size).

    Every conv is 3×3, ``same`` padding, no bias, followed by batch norm and ReLU; a residual
    block is ``x + (conv-BN-ReLU → conv-BN-ReLU)(x)``. Nine weight layers at d=1; each extra
    unit of depth adds three residual blocks (six convs).

    Choices where the sources leave room (least deviation, all parameters):

    * ``logit_scale`` 0.125: Page multiplies the logits by 0.125 before the softmax (part 4).
    * ``pooling`` "max": Page's final ``MaxPool2d(4)`` over the 4×4 map; "avg" is the common
      alternative.
    * ``activation`` "relu" (part 4); "gelu" is airbench's. Part 8's CELU(α=0.3) has no
      built-in Keras layer (a Lambda would not load in Keras' safe mode), so it is not offered.
    * Batch norm as PyTorch's defaults that the sources run: momentum 0.1 in PyTorch's
      convention = Keras ``momentum=0.9``; ``epsilon=1e-5`` (Keras' defaults are 0.99, 1e-3).
    * Max-pool placed before BN/activation (part 8 and airbench order), not after.
    * Initialisation: PyTorch's default (U(±1/√fan_in)), as in the sources' code.
    * ``stem`` "conv": Page's prep conv. "whitening" is airbench's patch-whitening first
      layer (also part 8's "fixed whitening first layer"); the engine sets its kernel from
      the training images (``training/assembly.py``). Lookahead (airbench) and weight EMA
      are recipe options of the engine (``train.lookahead``, the optimiser's ``use_ema``),
      not part of the network. Not reproduced: part 8's frozen BN scales and ghost batch
      norm, airbench's alternating (derandomised) flip.

    Args:
        num_classes: Units of the output layer (100 fine or 20 coarse labels).
        input_shape: ``(height, width, channels)`` of the already normalised float32 input
            (at least 8×8; 9×9 with the whitening stem).
        width: Channels of the prep layer; the stages have 2×, 4× and 8× as many.
        depth: Residual blocks after stages 1 and 3 (``depth − 1`` after stage 2).
        logit_scale: Positive factor on the logits before the softmax.
        pooling: Global pooling of the last feature map, "max" or "avg".
        activation: "relu" (default), "gelu", "elu" or "silu".
        batchnorm_momentum: Keras batch-norm momentum in [0, 1).
        batchnorm_epsilon: Batch-norm epsilon, > 0.
        stem: "conv" (Page's prep conv, default) or "whitening" (airbench's frozen 2×2
            patch-whitening conv, adapted to the training images by the engine).

    Returns:
        The uncompiled ``keras.Model`` (softmax probabilities).
    """
    _check(
        width,
        depth,
        logit_scale,
        pooling,
        activation,
        batchnorm_momentum,
        batchnorm_epsilon,
        input_shape,
        stem,
    )
    hp = {
        "activation": activation,
        "batchnorm_momentum": batchnorm_momentum,
        "batchnorm_epsilon": batchnorm_epsilon,
    }
    inputs = keras.Input(shape=tuple(input_shape), name="normalized_image")
    x = _stem(inputs, stem, width, hp)
    for stage, blocks in enumerate((depth, depth - 1, depth), start=1):
        filters = width * 2**stage
        x = _conv_bn(x, filters, True, f"stage{stage}", hp)
        for block in range(blocks):
            x = _residual(x, filters, f"stage{stage}_res{block + 1}", hp)
    pool = (
        keras.layers.GlobalMaxPooling2D if pooling == "max" else keras.layers.GlobalAveragePooling2D
    )
    x = pool(name="global_pool")(x)
    x = keras.layers.Dense(
        num_classes, use_bias=False, kernel_initializer=TORCH_DEFAULT_INIT, name="logits"
    )(x)
    x = keras.layers.Rescaling(float(logit_scale), name="logit_scale")(x)
    outputs = keras.layers.Activation("softmax", name="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="resnet9_fast")
