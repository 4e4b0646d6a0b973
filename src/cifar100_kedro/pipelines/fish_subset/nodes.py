"""Nodes of the fish_subset pipeline (paper 004): a class subset, relabelled, and a frozen
VGG16 whose features are computed once per image while only the head is trained.

Training the head on cached features is the same model as training the full network:
VGG16 is frozen and has no BatchNormalization or Dropout, and the recipe has no
augmentation, so every epoch would feed the head exactly the features computed here. The
head goes through the project's training engine like every other architecture; the full
network (``uint8 → x/255 → resize → VGG16 → head``) is assembled from the two trained parts
at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from cifar100_kedro.data.splits import split_train_validation
from cifar100_kedro.models.paper004_vgg_transfer import (
    FEATURES_NAME,
    HEAD_NAME,
    build_vgg16_features,
    compose,
)
from cifar100_kedro.training.assembly import assemble_model, count_params
from cifar100_kedro.training.device import parse_device
from cifar100_kedro.training.engine import fit_model

logger = logging.getLogger(__name__)

BUILDER = "vgg16_transfer"
HEAD_BUILDER = "vgg16_transfer_head"
# Hyperparameters of the vgg16_transfer builder that belong to the frozen part; the rest
# (dense_units, dropout, seed) configure the head.
FEATURE_HYPERPARAMETERS = ("image_size", "weights")


# ----------------------------------------------------------------------------- subset
def resolve_class_names(classes: str | Sequence[str], label_names: dict[str, Any]) -> list[int]:
    """Fine class indices for ``classes``: fine names and/or superclass names, in that order.

    A superclass name stands for its fine classes in the archive's label order (``fish`` →
    aquarium_fish, flatfish, ray, shark, trout, the paper's order).

    Raises:
        ValueError: naming ``subset.classes`` for an unknown or repeated name (listing the
            valid ones) or fewer than two classes.
    """
    where = "parameter 'fish_subset.subset.classes'"
    if isinstance(classes, str):
        classes = [classes]
    if (
        not isinstance(classes, Sequence)
        or not classes
        or not all(isinstance(c, str) for c in classes)
    ):
        raise ValueError(
            f"{where} must be a class or superclass name or a list of them, got {classes!r}"
        )
    fine_names = list(label_names["fine"])
    coarse_names = list(label_names.get("coarse", []))
    fine_to_coarse = np.asarray(label_names.get("fine_to_coarse", []), dtype=np.int64)
    indices: list[int] = []
    for name in classes:
        if name in fine_names:
            indices.append(fine_names.index(name))
        elif name in coarse_names and fine_to_coarse.size:
            indices.extend(np.flatnonzero(fine_to_coarse == coarse_names.index(name)).tolist())
        else:
            raise ValueError(
                f"{where}: unknown class {name!r}. "
                f"Valid fine class names: {', '.join(fine_names)}. "
                f"Valid superclass names: {', '.join(coarse_names) or '(none in this archive)'}"
            )
    repeated = sorted({fine_names[i] for i in indices if indices.count(i) > 1})
    if repeated:
        raise ValueError(f"{where}: class(es) {repeated} selected more than once")
    if len(indices) < 2:
        chosen = [fine_names[i] for i in indices]
        raise ValueError(f"{where}: a classifier needs at least two classes, got {chosen}")
    return indices


def _take_classes(
    split: dict[str, np.ndarray], indices: list[int], names: list[str], where: str
) -> dict[str, np.ndarray]:
    """The images of the selected fine classes, ``fine`` relabelled 0..n-1 in selection order."""
    relabel = np.full(max(int(split["fine"].max()), max(indices)) + 1, -1, dtype=np.int64)
    relabel[indices] = np.arange(len(indices))
    keep = relabel[split["fine"]] >= 0
    counts = np.bincount(relabel[split["fine"][keep]], minlength=len(indices))
    if (counts == 0).any():
        missing = [names[i] for i in np.flatnonzero(counts == 0)]
        raise ValueError(f"{where}: no images of the selected class(es) {missing}")
    subset = {name: array[keep] for name, array in split.items()}
    subset["source_fine"] = subset["fine"]  # the original CIFAR-100 fine label, for tracing
    subset["fine"] = relabel[subset["fine"]]
    return subset


def select_subset(
    train: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    label_names: dict[str, Any],
    subset: dict[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """The selected classes of the full training set and of the test set, relabelled 0..n-1.

    ``subset.classes`` lists fine names and/or superclass names (default: the five fish
    classes). Returns the training images (split into train/validation next), the test
    images (used only for the final evaluation) and the subset's label names:
    ``{"fine": [n names], "source_fine": [original indices]}``. No superclass names: the
    reports stay at the subset's own classes (for the fish subset every image is one
    superclass, so a superclass report would say nothing).
    """
    indices = resolve_class_names(subset.get("classes"), label_names)
    names = [label_names["fine"][i] for i in indices]
    train_subset = _take_classes(train, indices, names, "training set")
    test_subset = _take_classes(test, indices, names, "test set")
    logger.info(
        "fish_subset: %d classes (%s): %d training and %d test images",
        len(names),
        ", ".join(names),
        len(train_subset["fine"]),
        len(test_subset["fine"]),
    )
    return train_subset, test_subset, {"fine": names, "source_fine": indices}


# ----------------------------------------------------------------------------- features
def _check_recipe(
    model_params: dict[str, Any], train_params: dict[str, Any], train_images: int
) -> None:
    """What would otherwise only fail after the (long) feature pass."""
    if model_params.get("builder") != BUILDER:
        raise ValueError(
            f"parameter 'fish_subset.model.builder' must be {BUILDER!r} (the pipeline trains its "
            f"head on cached VGG16 features), got {model_params.get('builder')!r}"
        )
    if train_params.get("augmentation"):
        raise ValueError(
            "parameter 'fish_subset.train.augmentation' must be empty: the head is trained on "
            "VGG16 features computed once per image, which is the same model only without "
            "augmentation (the paper uses none)"
        )
    batch_size = train_params.get("batch_size")
    if isinstance(batch_size, int) and batch_size > train_images:
        raise ValueError(
            f"parameter 'fish_subset.train.batch_size'={batch_size} is larger than the "
            f"{train_images} training images of the subset"
        )


def extract_features(
    train: dict[str, np.ndarray],
    validation: dict[str, np.ndarray],
    normalization_stats: dict[str, Any],
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    feature_cache: dict[str, Any],
    device_settings: dict[str, Any],
) -> tuple[keras.Model, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """Run the frozen part once over the training and validation images.

    The extractor is ``uint8 → the recipe's normalisation (x/255) → resize → VGG16``, the
    exact layers the assembled model uses (it is returned and reused). The features replace
    ``images`` in copies of the splits (labels kept), ready for the training engine.
    """
    _check_recipe(model_params, train_params, len(train["images"]))
    batch_size = feature_cache.get("batch_size", 64)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            "parameter 'fish_subset.feature_cache.batch_size' must be a positive integer, "
            f"got {batch_size!r}"
        )
    input_shape = tuple(train["images"].shape[1:])
    # Seeded as the engine seeds before building, so a random (weights: null) VGG16 is the one
    # a full-network training run would draw.
    seed = train_params.get("seed")
    keras.utils.set_random_seed(
        int(seed if seed is not None else parse_device(device_settings).seed)
    )
    hyper = {k: model_params[k] for k in FEATURE_HYPERPARAMETERS if k in model_params}
    features = build_vgg16_features(input_shape, **hyper)
    extractor = assemble_model(
        features,
        train_params.get("normalization", "rescale"),
        normalization_stats,
        input_shape=input_shape,
        name="fish_subset_feature_extractor",
    )
    started = time.perf_counter()
    outputs = []
    for split_name, split in (("train", train), ("validation", validation)):
        outputs.append(
            {
                **{k: v for k, v in split.items() if k != "images"},
                "images": _predict_in_batches(extractor, split["images"], batch_size, split_name),
            }
        )
    seconds = time.perf_counter() - started
    summary = {
        "feature_shape": [int(d) for d in outputs[0]["images"].shape[1:]],
        "images": int(len(train["images"]) + len(validation["images"])),
        "seconds": round(seconds, 3),
        "image_size": int(hyper.get("image_size", 224)),
        "weights": None if hyper.get("weights") is None else str(hyper.get("weights")),
    }
    logger.info(
        "fish_subset: VGG16 features %s of %d images in %.1f s",
        summary["feature_shape"],
        summary["images"],
        seconds,
    )
    return extractor, outputs[0], outputs[1], summary


def _predict_in_batches(
    model: keras.Model, images: np.ndarray, batch_size: int, what: str
) -> np.ndarray:
    """``model`` over ``images`` in batches, as float32, logging progress about every 10%."""
    chunks, total = [], len(images)
    every = max(1, total // 10)
    started = time.perf_counter()
    next_log = every
    for start in range(0, total, batch_size):
        chunks.append(
            np.asarray(model.predict_on_batch(images[start : start + batch_size]), dtype=np.float32)
        )
        done = min(start + batch_size, total)
        if done >= next_log or done == total:
            elapsed = time.perf_counter() - started
            logger.info(
                "fish_subset: %s features %d/%d images, %.1f s, ETA %.0f s",
                what,
                done,
                total,
                elapsed,
                elapsed / done * (total - done),
            )
            next_log = done + every
    return np.concatenate(chunks) if chunks else np.zeros((0,), np.float32)


# ----------------------------------------------------------------------------- protocol
def split_for_protocol(
    training_images: dict[str, np.ndarray],
    test_split: dict[str, np.ndarray],
    split: dict[str, Any],
    protocol: str,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The subset's ``(train_split, validation_split)`` under ``fish_subset.protocol``.

    ``holdout`` (default): a stratified, seeded split of the subset's training images (the
    shared ``split`` parameters); the test images only for the final evaluation. ``paper``:
    as paper 004's appendix, every training image (2,500 for the fish) is fitted on and the
    test set is the validation data, so ReduceLROnPlateau watches the test set.
    """
    if protocol == "holdout":
        return split_train_validation(training_images, split)
    if protocol == "paper":
        return dict(training_images), dict(test_split)
    raise ValueError(
        f"parameter 'fish_subset.protocol' must be 'holdout' or 'paper', got {protocol!r}"
    )


# ----------------------------------------------------------------------------- head
def train_head(
    train_features: dict[str, np.ndarray],
    validation_features: dict[str, np.ndarray],
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    run_settings: dict[str, Any],
    device_settings: dict[str, Any],
    protocol: str = "holdout",
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Train the head (``vgg16_transfer_head``) on the features through the training engine.

    The recipe is the paper's (optimiser, loss, ReduceLROnPlateau, epochs, batch size)
    with ``normalization: none``: the features are already what the head sees in the full
    network.
    """
    head_params = {
        "builder": HEAD_BUILDER,
        **{
            k: v
            for k, v in model_params.items()
            if k != "builder" and k not in FEATURE_HYPERPARAMETERS
        },
    }
    head_train = {**train_params, "normalization": "none"}
    return fit_model(
        train_features, validation_features, None, head_params, head_train,
        architecture="fish_subset", run_settings=run_settings, device_settings=device_settings,
        protocol=protocol,
    )  # fmt: skip


def assemble_classifier(
    feature_extractor: keras.Model,
    trained_head: keras.Model,
    normalization_stats: dict[str, Any],
    train_params: dict[str, Any],
    head_summary: dict[str, Any],
    feature_summary: dict[str, Any],
) -> tuple[keras.Model, dict[str, Any]]:
    """The full model from the trained parts, built as the engine builds every model.

    ``uint8 image → normalisation → vgg16_transfer (vgg16_features → classifier_head)``:
    the same graph a full-network run of the ``vgg16_transfer`` recipe saves, with the VGG16
    of the feature pass and the trained head. Also returns the training summary of the
    whole model (parameters of the full network; feature and head times).
    """
    features = feature_extractor.get_layer(FEATURES_NAME)
    head = trained_head.get_layer(HEAD_NAME)
    input_shape = tuple(feature_extractor.input_shape[1:])
    model = assemble_model(
        compose(features, head),
        train_params.get("normalization", "rescale"),
        normalization_stats,
        input_shape=input_shape,
        name="fish_subset",
    )
    # The trained head's optimiser (Adam with its state), so the saved model is compiled as a
    # full-network run's would be.
    model.compile(optimizer=trained_head.optimizer, loss=trained_head.loss, metrics=["accuracy"])
    head_seconds = float(head_summary.get("training_seconds", 0.0))
    summary = {
        **head_summary,
        "builder": BUILDER,
        "trainable_params": count_params(model.trainable_weights),
        "total_params": int(model.count_params()),
        "head_training_seconds": head_seconds,
        "training_seconds": head_seconds + float(feature_summary["seconds"]),
        "feature_cache": feature_summary,
    }
    return model, summary
