"""Seed paper 004: Corsino, Lacsao & Yee, "Deep Learning Technical Report" (2024): a frozen
ImageNet VGG16 with a small classifier head, on the five fine classes of CIFAR-100's "fish"
superclass (aquarium_fish, flatfish, ray, shark, trout).

The network is built from two named parts, so that the ``fish_subset`` pipeline can compute
the frozen part once per image and train only the head on those features (the same model,
far fewer FLOPs):

- :func:`build_vgg16_features` — ``resize`` (on the graph) → ``vgg16`` (frozen, no top);
- :func:`build_classifier_head` — ``flatten`` → ``dense`` 512 ReLU → ``dropout`` 0.5 →
  ``classifier`` softmax;
- :func:`compose` — the two parts as one model, what the ``vgg16_transfer`` builder returns.

Only the network lives here; the recipe (Adam, sparse categorical cross-entropy,
ReduceLROnPlateau(factor 0.5, patience 3), 20 epochs, x/255) belongs to ``conf/``.
"""

from __future__ import annotations

import os

import keras

from cifar100_kedro.models.registry import register_builder

# VGG16 without its top halves the side five times; Keras refuses inputs below 32×32.
MIN_IMAGE_SIZE = 32
FEATURES_NAME = "vgg16_features"
HEAD_NAME = "classifier_head"


def _check_weights(weights: str | os.PathLike | None) -> str | None:
    if weights is None or weights == "imagenet":
        return weights
    weights = os.fspath(weights)
    if not os.path.isfile(weights):
        raise ValueError(
            f"weights must be 'imagenet', null or an existing VGG16 (no top) weights file, "
            f"got {weights!r} (no such file)"
        )
    return weights


def _check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def build_vgg16_features(
    input_shape: tuple = (32, 32, 3),
    *,
    image_size: int = 224,
    weights: str | os.PathLike | None = "imagenet",
) -> keras.Model:
    """The frozen part: bilinear resize to ``image_size``² on the graph, then VGG16 (no top).

    The input is the engine-normalised float image (x/255 in the paper's recipe). The output
    is VGG16's last pooled feature map: 7×7×512 at 224, 1×1×512 at 32.

    Raises:
        ValueError: for a bad ``image_size`` or ``weights``, or when the ImageNet weights
            cannot be fetched (no internet, no Keras cache).
    """
    image_size = _check_positive_int("image_size", image_size, MIN_IMAGE_SIZE)
    weights = _check_weights(weights)
    try:
        backbone = keras.applications.VGG16(
            include_top=False, weights=weights, input_shape=(image_size, image_size, 3)
        )
    except Exception as exc:  # Keras raises a bare Exception for a failed download
        if weights != "imagenet":
            raise
        raise ValueError(
            "weights='imagenet': the ImageNet VGG16 weights could not be loaded "
            f"({exc}); without internet put Keras' vgg16_weights_tf_dim_ordering_tf_kernels_"
            "notop.h5 in ~/.keras/models/, or set weights to a local weights file or null"
        ) from exc
    # The paper freezes every layer (`layer.trainable = False`); VGG16 has no BatchNorm or
    # Dropout, so the frozen part computes the same function in training and inference.
    backbone.trainable = False
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = keras.layers.Resizing(image_size, image_size, interpolation="bilinear", name="resize")(
        inputs
    )
    outputs = backbone(x, training=False)
    return keras.Model(inputs, outputs, name=FEATURES_NAME)


def build_classifier_head(
    feature_shape: tuple,
    num_classes: int,
    *,
    dense_units: int = 512,
    dropout: float = 0.5,
    seed: int | None = None,
) -> keras.Model:
    """The trainable part: Flatten → Dense(``dense_units``, ReLU) → Dropout → Dense softmax.

    ``seed`` fixes the two kernel initialisers and the dropout masks, so the head starts and
    drops out the same whether it is trained inside the full network or on cached features.
    ``None`` leaves them to Keras' global seed.
    """
    _check_positive_int("num_classes", num_classes, 2)
    _check_positive_int("dense_units", dense_units)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    if seed is not None:
        _check_positive_int("seed", seed, 0)

    def initializer(offset: int):
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + offset)

    inputs = keras.Input(shape=tuple(feature_shape), dtype="float32", name="features")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(
        dense_units, activation="relu", kernel_initializer=initializer(0), name="dense"
    )(x)
    x = keras.layers.Dropout(dropout, seed=None if seed is None else seed + 2, name="dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", kernel_initializer=initializer(1), name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name=HEAD_NAME)


def compose(features: keras.Model, head: keras.Model, name: str = "vgg16_transfer") -> keras.Model:
    """``features`` then ``head`` as one model (the paper's Sequential, in two named parts)."""
    inputs = keras.Input(shape=features.input_shape[1:], dtype="float32", name="image")
    return keras.Model(inputs, head(features(inputs)), name=name)


@register_builder("vgg16_transfer")
def build_vgg16_transfer(
    num_classes: int,
    input_shape: tuple = (32, 32, 3),
    *,
    image_size: int = 224,
    weights: str | os.PathLike | None = "imagenet",
    dense_units: int = 512,
    dropout: float = 0.5,
    seed: int | None = None,
) -> keras.Model:
    """Paper 004's model: frozen VGG16 (no top) on the resized image, then a new dense head.

    As the appendix builds it: ``VGG16(weights='imagenet', include_top=False,
    input_shape=(224, 224, 3))`` with every layer frozen, then ``Flatten → Dense(512, relu) →
    Dropout(0.5) → Dense(n, softmax)``. At 224 and 5 classes: 12,848,133 trainable and
    14,714,688 frozen parameters.

    Ambiguities, resolved by least deviation and kept as parameters:

    * Resizing — the appendix resizes the x/255 arrays to 224×224 with ``cv2.resize``
      (bilinear) before training; here a ``Resizing`` layer does the same bilinear resize on
      the graph (``image_size``, 224 by default; 32 skips the upsampling), so the saved model
      takes the 32×32 images and no 224×224 copy of the data set is held in memory.
    * Input range — ImageNet VGG16 expects caffe-style BGR mean-subtracted 0–255 inputs, but
      the paper feeds x/255 without ``preprocess_input``; the recipe keeps x/255
      (``normalization: rescale``), as the paper did. This builder does not rescale.
    * ``weights`` — ``"imagenet"`` (the paper; needs Keras' download or its cache), ``None``
      (random init: a frozen random projection, for offline tests and demos) or the path of a
      local VGG16 no-top weights file.
    * ``seed`` — not in the paper; seeds the head's initialisers and dropout so the full
      network and the feature-caching path of the ``fish_subset`` pipeline give the same model.

    Args:
        num_classes: Units of the softmax output (5 for the fish superclass).
        input_shape: ``(height, width, channels)`` of the normalised float32 input.
        image_size: Side the image is resized to before VGG16 (>= 32).
        weights: ``"imagenet"``, ``None`` or a weights file path.
        dense_units: Units of the hidden Dense layer (paper: 512).
        dropout: Dropout rate after it, in [0, 1) (paper: 0.5).
        seed: Seed of the head's initialisers and dropout, or ``None``.

    Returns:
        The uncompiled model ``vgg16_transfer``, made of ``vgg16_features`` and
        ``classifier_head``.
    """
    features = build_vgg16_features(input_shape, image_size=image_size, weights=weights)
    head = build_classifier_head(
        features.output_shape[1:], num_classes, dense_units=dense_units, dropout=dropout, seed=seed
    )
    return compose(features, head)


@register_builder("vgg16_transfer_head")
def build_vgg16_transfer_head(
    num_classes: int,
    input_shape: tuple = (7, 7, 512),
    *,
    dense_units: int = 512,
    dropout: float = 0.5,
    seed: int | None = None,
) -> keras.Model:
    """``vgg16_transfer``'s head alone, for training on cached VGG16 features.

    ``input_shape`` is the feature map's shape (7×7×512 for 224 inputs, 1×1×512 for 32).
    """
    return build_classifier_head(
        input_shape, num_classes, dense_units=dense_units, dropout=dropout, seed=seed
    )
