"""Model assembly: ``uint8 image → normalisation → augmentation → builder body``, compiled.

A saved model takes raw uint8 images (normalisation statistics of the training split are
in the graph), so there is no train/serve skew; augmentation layers are training-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from cifar100_kedro.training import layers as project_layers
from cifar100_kedro.training.recipe import AUGMENTATIONS, RecipeError

# The preprocessing layer names ``preprocessing_layers`` gives each ``normalization`` mode.
NORMALIZATION_LAYERS = {
    "rescale": "rescale",
    "standardize": "standardize",
    "center": "center",
    "to_float": "none",
}


def preprocessing_layers(
    normalization: str, stats: dict[str, Any] | None
) -> list[keras.layers.Layer]:
    """Cast and normalise uint8 images in the graph, as the recipe's ``normalization`` says.

    ``rescale``: x / 255 (papers 002, 003, 004); ``rescale_center``: x / 255, then minus the
    per-channel mean of the [0, 1] training split (paper 001: divided by 255, then
    ImageDataGenerator's featurewise centring); ``standardize``: per-channel (x - mean) / std
    from the training split; ``center``: x - mean on the 0-255 scale; ``none``: raw 0-255
    floats.
    """
    # Rescaling casts the uint8 input to the compute dtype.
    if normalization == "rescale":
        return [keras.layers.Rescaling(1.0 / 255, name="rescale")]
    if normalization == "rescale_center":
        if not stats or "mean" not in stats:
            raise RecipeError(
                "normalization 'rescale_center' needs the training split's statistics"
            )
        offset = [-float(m) / 255 for m in stats["mean"]]
        return [keras.layers.Rescaling(1.0 / 255, offset=offset, name="rescale_center")]
    cast = keras.layers.Rescaling(1.0, name="to_float")
    if normalization == "none":
        return [cast]
    if not stats or "mean" not in stats:
        raise RecipeError(f"normalization '{normalization}' needs the training split's statistics")
    mean = np.asarray(stats["mean"], dtype=np.float32)
    variance = (
        np.square(np.asarray(stats["std"], dtype=np.float32))
        if normalization == "standardize"
        else np.ones_like(mean)
    )
    return [
        cast,
        keras.layers.Normalization(
            mean=mean.tolist(), variance=variance.tolist(), name=normalization
        ),
    ]


def augmentation_layers(
    steps: Sequence[dict[str, Any]] | None, seed: int, where: str = "train"
) -> list[keras.layers.Layer]:
    """Keras preprocessing layers for the recipe's ``augmentation`` list (training only)."""
    layers = []
    for index, step in enumerate(steps or []):
        kwargs = {k: v for k, v in step.items() if k != "name"}
        class_name = AUGMENTATIONS[step["name"]]
        layer_cls = getattr(project_layers, class_name, None) or getattr(keras.layers, class_name)
        if step["name"] != "random_crop":
            kwargs.setdefault("seed", seed + index)
        try:
            layers.append(layer_cls(**kwargs, name=f"augment_{index}_{step['name']}"))
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"parameter '{where}.augmentation[{index}]': {exc}") from None
    return layers


def assemble_model(
    body: keras.Model,
    normalization: str,
    stats: dict[str, Any] | None,
    augmentation: Sequence[dict[str, Any]] | None = None,
    seed: int = 0,
    input_shape: tuple[int, int, int] = (32, 32, 3),
    name: str | None = None,
    input_dtype: str = "uint8",
    float32_outputs: bool = False,
    progressive_resize: bool = False,
) -> keras.Model:
    """``uint8 image → preprocessing → augmentation → [resize] → body`` as one saveable model.

    ``input_dtype`` is ``uint8`` for images; ``float32`` lets a body train on precomputed
    float inputs (e.g. cached backbone features, with ``normalization: none``).
    ``float32_outputs``: cast the outputs to float32 (under mixed precision, as the Keras
    guide advises for the softmax).
    """
    inputs = keras.Input(shape=input_shape, dtype=input_dtype, name="image")
    x = inputs
    for layer in preprocessing_layers(normalization, stats):
        x = layer(x)
    augment = augmentation_layers(augmentation, seed)
    if augment:
        x = keras.Sequential(augment, name="augmentation")(x)
    if progressive_resize:
        x = project_layers.ProgressiveResize(name="progressive_resize")(x)
    outputs = body(x)
    if float32_outputs:
        outputs = keras.layers.Activation("linear", dtype="float32", name="probabilities")(outputs)
    return keras.Model(inputs, outputs, name=name or body.name)


# Images a data-dependent layer is adapted on: airbench's whitening uses 5000.
ADAPT_SAMPLE = 5000


def adapt_data_dependent_layers(
    body: keras.Model,
    images: np.ndarray,
    normalization: str,
    stats: dict[str, Any] | None,
    sample: int = ADAPT_SAMPLE,
    chunk: int = 500,
) -> list[str]:
    """Adapt ``body``'s data-dependent layers on training images; return their names.

    A layer opts in with ``adapts_to_training_images = True`` and an ``adapt(inputs)``
    method (``layers.PatchWhitening``). It sees what it sees in the assembled model: the
    images normalised as the recipe says (the same :func:`preprocessing_layers`), then the
    body up to the layer; no augmentation (airbench adapts on plain images). The sample is
    ``sample`` evenly spaced images, the same for every build of a run, so a rebuilt model
    (the budget probe, a resumed run) starts from the same kernel.
    """
    targets = [
        layer
        for layer in body._flatten_layers(include_self=False, recursive=True)
        if getattr(layer, "adapts_to_training_images", False)
    ]
    if not targets:
        return []
    picked = np.linspace(0, len(images) - 1, min(sample, len(images))).round().astype(int)
    preprocess = preprocessing_layers(normalization, stats)
    for step in preprocess:
        # The statistic in float32 even under mixed precision (bfloat16 rounding would add
        # noise to the small eigenvalues that the whitening scales up).
        step.dtype_policy = "float32"
    for layer in targets:
        # The layer's own input, when a builder places it deeper than the body's input.
        upstream = None if layer.input is body.inputs[0] else keras.Model(body.inputs, layer.input)
        seen = []
        for start in range(0, len(picked), chunk):
            x = images[picked[start : start + chunk]]
            for step in preprocess:
                x = step(x)
            if upstream is not None:
                x = upstream(x, training=False)
            seen.append(keras.ops.convert_to_numpy(x))
        layer.adapt(np.concatenate(seen))
    return [layer.name for layer in targets]


def make_optimizer(
    optimizer: dict[str, Any], learning_rate, where: str
) -> keras.optimizers.Optimizer:
    """A Keras optimiser from ``{name, learning_rate, <keras arguments>}``."""
    kwargs = {k: v for k, v in optimizer.items() if k not in ("name", "learning_rate", "decay")}
    try:
        return keras.optimizers.get(
            {"class_name": optimizer["name"], "config": {"learning_rate": learning_rate, **kwargs}}
        )
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"parameter '{where}.optimizer': {exc}") from None


def count_params(weights) -> int:
    """The number of scalars in ``weights`` (e.g. ``model.trainable_weights``)."""
    return int(sum(np.prod(w.shape) for w in weights))


# ----------------------------------------------------------------------------- pretrained
def _leaf_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Name → layer of ``model``'s layers, looking inside nested models (an assembled model
    holds its builder body as one nested layer)."""
    leaves: dict[str, keras.layers.Layer] = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            leaves.update(_leaf_layers(layer))
        else:
            leaves.setdefault(layer.name, layer)
    return leaves


def check_pretrained_normalization(pretrained: keras.Model, normalization: str, where: str) -> None:
    """Refuse a recipe whose input normalisation differs from the pretrained model's (when the
    pretrained model was assembled by this engine, its top-level preprocessing layers tell)."""
    names = {layer.name for layer in pretrained.layers}
    found = next((mode for layer, mode in NORMALIZATION_LAYERS.items() if layer in names), None)
    if found is not None and found != normalization:
        raise RecipeError(
            f"parameter '{where}.normalization' is {normalization!r} but the pretrained model "
            f"{pretrained.name!r} was trained on {found!r} inputs: its weights expect the same "
            "normalisation"
        )


def copy_pretrained_weights(body: keras.Model, pretrained: keras.Model, where: str) -> list[str]:
    """Copy ``pretrained``'s weights into ``body``'s layers of the same name; return the names.

    Layers keep their ``trainable`` setting (a builder freezes what it means to freeze).

    Raises:
        RecipeError: no weighted layer of ``body`` has a namesake in ``pretrained``, or a
            namesake's weights have other shapes (the two were built with other widths).
    """
    source = _leaf_layers(pretrained)
    copied = []
    for name, layer in _leaf_layers(body).items():
        if not layer.weights or name not in source:
            continue
        theirs, ours = source[name].get_weights(), layer.get_weights()
        if [w.shape for w in theirs] != [w.shape for w in ours]:
            raise RecipeError(
                f"{where}: pretrained layer {name!r} of {pretrained.name!r} has weight shapes "
                f"{[w.shape for w in theirs]}, but {body.name!r} needs {[w.shape for w in ours]}; "
                "build both with the same hyperparameters"
            )
        layer.set_weights(theirs)
        copied.append(name)
    if not copied:
        raise RecipeError(
            f"{where}: no layer of {body.name!r} has a namesake with weights in the pretrained "
            f"model {pretrained.name!r}; nothing to copy"
        )
    return copied
