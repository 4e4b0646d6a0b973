"""The training engine shared by every pipeline.

``fit_model`` turns a recipe into a trained model:

- input: tf.data from the uint8 arrays (shuffle, batch, prefetch); labels stay integers
  unless the recipe's loss needs one-hot (categorical cross-entropy, label smoothing);
- model: ``uint8 image → Normalization (train-split statistics) → augmentation (Keras
  preprocessing layers, active in training only) → builder body``, so a saved model takes
  raw images and there is no train/serve skew;
- augmentation placement (``train.augmentation_placement``): the same Keras layers run
  inside the model (``model``, the default: on the accelerator, fused with the training
  step) or in a parallel ``tf.data`` map on the input threads (``dataset``: asynchronous,
  overlapped with the step; Keras' preprocessing guide suggests it for CPU training, but on
  this project's 2-core benchmark machine the two tie: benchmarks/training_throughput.py).
  The saved model is the same either way (augmentation is a training-only no-op at
  inference);
- optimiser, learning-rate schedule and callbacks from the recipe, built inside the
  configured ``tf.distribute`` strategy, with XLA when the device settings ask for it;
- resumable: BackupAndRestore keeps the last finished epoch under the work folder, and the
  per-epoch history is appended to a CSV there, so an interrupted run continues where it
  stopped with its whole history.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from cifar100_kedro.models.registry import build_model
from cifar100_kedro.training import device
from cifar100_kedro.training import layers as project_layers
from cifar100_kedro.training.recipe import (
    AUGMENTATION_PLACEMENTS,
    AUGMENTATIONS,
    RecipeError,
    validate_train_params,
)
from cifar100_kedro.training.schedules import make_learning_rate

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")


# ----------------------------------------------------------------------------- input
def labels_for(split: dict[str, np.ndarray], label_mode: str) -> np.ndarray:
    """The integer labels of ``split`` for ``label_mode`` (``fine`` or ``coarse``)."""
    return split[label_mode]


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    num_classes: int,
    one_hot: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    augment: Callable[[tf.Tensor], tf.Tensor] | None = None,
) -> tf.data.Dataset:
    """A batched, prefetched tf.data pipeline over uint8 images and integer labels.

    ``augment``: a batch → batch function (:func:`dataset_augmenter`) mapped over the
    batches on the input pipeline's threads, in parallel and overlapped with training.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment is not None:
        # Per batch, not per image: one call of each layer per batch is what makes it cheap.
        # (With device.deterministic, TensorFlow runs this stateful map sequentially.)
        dataset = dataset.map(lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    if one_hot:
        dataset = dataset.map(
            lambda x, y: (x, tf.one_hot(y, num_classes)), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def augmentation_placement(train_params: dict[str, Any]) -> str:
    """Where a recipe's augmentation layers run: ``model`` (the default) or ``dataset``."""
    return train_params.get("augmentation_placement", AUGMENTATION_PLACEMENTS[0])


def dataset_augmenter(
    steps: list[dict[str, Any]] | None, seed: int, where: str = "train"
) -> Callable[[tf.Tensor], tf.Tensor] | None:
    """The recipe's augmentation as a uint8 batch → uint8 batch function for ``make_dataset``.

    The layers see raw 0-255 pixels, as the papers' ImageDataGenerator did; the model then
    normalises. With flips, crops and nearest/reflect/wrap fills (every recipe here),
    augmenting before or after the per-channel affine normalisation is the same transform, up
    to rounding the interpolated pixels back to uint8 (< 0.5 grey levels) so the model keeps
    its uint8 input. Constant fills differ (black here, the mean colour in the model).
    """
    layers = augmentation_layers(steps, seed, where)
    if not layers:
        return None
    pipeline = keras.Sequential(layers, name="augmentation")

    def augment(images: tf.Tensor) -> tf.Tensor:
        augmented = pipeline(tf.cast(images, tf.float32), training=True)
        if images.dtype == tf.uint8:
            return tf.cast(tf.clip_by_value(tf.round(augmented), 0.0, 255.0), tf.uint8)
        return tf.cast(augmented, images.dtype)

    return augment


# ----------------------------------------------------------------------------- model
def preprocessing_layers(normalization: str, stats: dict[str, Any] | None) -> list[keras.layers.Layer]:
    """Cast and normalise uint8 images in the graph, as the recipe's ``normalization`` says.

    ``standardize``: per-channel (x - mean) / std from the training split; ``center``:
    x - mean (Keras' featurewise centring, paper 001); ``rescale``: x / 255 (papers 002, 004);
    ``none``: raw 0-255 floats.
    """
    # Rescaling casts the uint8 input to the compute dtype.
    if normalization == "rescale":
        return [keras.layers.Rescaling(1.0 / 255, name="rescale")]
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
    return [cast, keras.layers.Normalization(mean=mean.tolist(), variance=variance.tolist(), name=normalization)]


def augmentation_layers(steps: list[dict[str, Any]] | None, seed: int, where: str = "train") -> list[keras.layers.Layer]:
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
    augmentation: list[dict[str, Any]] | None = None,
    seed: int = 0,
    input_shape: tuple[int, int, int] = (32, 32, 3),
    name: str | None = None,
    input_dtype: str = "uint8",
) -> keras.Model:
    """``uint8 image → preprocessing → augmentation → body`` as one saveable model.

    ``input_dtype`` is ``uint8`` for images; ``float32`` lets a body train on precomputed
    float inputs (e.g. cached backbone features, with ``normalization: none``).
    """
    inputs = keras.Input(shape=input_shape, dtype=input_dtype, name="image")
    x = inputs
    for layer in preprocessing_layers(normalization, stats):
        x = layer(x)
    augment = augmentation_layers(augmentation, seed)
    if augment:
        x = keras.Sequential(augment, name="augmentation")(x)
    outputs = body(x)
    if device.current().precision != "float32":
        # Softmax outputs in float32 under mixed precision, as the Keras guide advises.
        outputs = keras.layers.Activation("linear", dtype="float32", name="probabilities")(outputs)
    return keras.Model(inputs, outputs, name=name or body.name)


def make_optimizer(optimizer: dict[str, Any], learning_rate, where: str) -> keras.optimizers.Optimizer:
    """A Keras optimiser from ``{name, learning_rate, <keras arguments>}``."""
    kwargs = {k: v for k, v in optimizer.items() if k not in ("name", "learning_rate", "decay")}
    try:
        return keras.optimizers.get({"class_name": optimizer["name"], "config": {"learning_rate": learning_rate, **kwargs}})
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"parameter '{where}.optimizer': {exc}") from None


# ----------------------------------------------------------------------------- callbacks
class EpochRecorder(keras.callbacks.Callback):
    """Appends each finished epoch to a CSV (kept across resumes) and logs time and ETA."""

    def __init__(
        self, path: Path, epochs: int, architecture: str, metrics: tuple[str, ...] = HISTORY_COLUMNS[1:5]
    ) -> None:
        super().__init__()
        self.path, self.epochs, self.architecture = path, epochs, architecture
        self.metrics = tuple(metrics)  # the Keras log keys recorded, in this order
        self._started = 0.0
        self._durations: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self._started
        self._durations.append(seconds)
        lr = self.model.optimizer.learning_rate
        row = {
            "epoch": epoch + 1,
            **{k: float(logs[k]) for k in self.metrics if k in logs},
            "learning_rate": float(keras.ops.convert_to_numpy(lr)),
            "seconds": seconds,
        }
        frame = pd.DataFrame([row])
        frame.to_csv(self.path, mode="a", header=not self.path.exists(), index=False)
        eta = np.mean(self._durations) * (self.epochs - epoch - 1)
        values = "  ".join(f"{k} {row.get(k, math.nan):.4f}" for k in self.metrics)
        logger.info(
            "%s: epoch %d/%d  %s  %.1fs  ETA %s",
            self.architecture, epoch + 1, self.epochs, values,
            seconds, time.strftime("%H:%M:%S", time.gmtime(eta)),
        )


def make_callbacks(settings: dict[str, Any] | None, work_dir: Path, where: str) -> list[keras.callbacks.Callback]:
    """Keras callbacks from the recipe's ``callbacks`` mapping (``true`` = Keras defaults)."""
    callbacks: list[keras.callbacks.Callback] = []
    for name, options in (settings or {}).items():
        if options is False or options is None:
            continue
        options = {} if options is True else dict(options)
        try:
            if name == "early_stopping":
                callbacks.append(keras.callbacks.EarlyStopping(**options))
            elif name == "reduce_lr_on_plateau":
                callbacks.append(keras.callbacks.ReduceLROnPlateau(**options))
            elif name == "terminate_on_nan":
                callbacks.append(keras.callbacks.TerminateOnNaN())
            elif name == "model_checkpoint":
                options.setdefault("monitor", "val_loss")
                # Weights only: the best epoch survives a crash without a second copy of the
                # optimiser state (paper 003's widest models are 150M parameters).
                options.setdefault("save_weights_only", True)
                suffix = ".weights.h5" if options["save_weights_only"] else ".keras"
                callbacks.append(
                    keras.callbacks.ModelCheckpoint(
                        str(work_dir / f"best{suffix}"), save_best_only=True, **options
                    )
                )
            elif name == "backup_and_restore":
                callbacks.append(keras.callbacks.BackupAndRestore(str(work_dir / "backup"), **options))
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"parameter '{where}.callbacks.{name}': {exc}") from None
    return callbacks


# ----------------------------------------------------------------------------- fit
def _best_epoch(history: pd.DataFrame, monitor: str) -> int:
    if monitor not in history or history[monitor].isna().all():
        return int(history["epoch"].iloc[-1])
    values = history[monitor]
    index = values.idxmax() if "acc" in monitor else values.idxmin()
    return int(history.loc[index, "epoch"])


def count_params(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


# ----------------------------------------------------------------------------- pretrained weights
# The preprocessing layer names ``assemble_model`` gives each ``normalization`` mode.
_NORMALIZATION_LAYERS = {"rescale": "rescale", "standardize": "standardize", "center": "center", "to_float": "none"}


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
    found = next((mode for layer, mode in _NORMALIZATION_LAYERS.items() if layer in names), None)
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


def _epochs_for_budget(
    model_factory, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset, steps_per_epoch: int, budget_minutes: float
) -> int:
    """Epochs that fit ``budget_minutes``, from a timed warm-up on a throw-away copy."""
    probe = model_factory(total_steps=steps_per_epoch)
    # Keras calls batch callbacks once per ``steps_per_execution`` steps: time whole calls.
    per_call = int(getattr(probe, "steps_per_execution", 1) or 1)
    warm_steps = min(steps_per_epoch, max(2, 10 // per_call) * per_call)
    probe.fit(train_ds.take(2 * per_call), epochs=1, verbose=0, shuffle=False)  # compile and trace
    # Time from the end of the first call: it also pays for starting the input iterator
    # (filling the shuffle buffer), which a real epoch pays once, not per step.
    batch_ends: list[tuple[int, float]] = []
    mark = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_ends.append((batch, time.perf_counter()))
    )
    started = time.perf_counter()
    probe.fit(train_ds.take(warm_steps), epochs=1, verbose=0, callbacks=[mark])
    if len(batch_ends) >= 2:
        (first_batch, first_time), (last_batch, last_time) = batch_ends[0], batch_ends[-1]
        per_step = (last_time - first_time) / max(1, min(last_batch, warm_steps - 1) - first_batch)
    else:  # one call covered every warm-up step
        per_step = (time.perf_counter() - started) / warm_steps
    probe.evaluate(val_ds.take(1), verbose=0)  # compile the test step outside the timing
    started = time.perf_counter()
    probe.evaluate(val_ds, verbose=0)
    per_eval = time.perf_counter() - started
    per_epoch = per_step * steps_per_epoch + per_eval
    epochs = max(1, int(budget_minutes * 60 / per_epoch))
    logger.info(
        "time budget %.1f min: %.3fs/step, %.1fs/epoch incl. validation → %d epochs",
        budget_minutes, per_step, per_epoch, epochs,
    )
    del probe
    return epochs


def fit_model(
    train: dict[str, np.ndarray],
    validation: dict[str, np.ndarray],
    normalization_stats: dict[str, Any] | None,
    model_params: dict[str, Any],
    train_params: dict[str, Any],
    *,
    architecture: str,
    work_dir: str | Path,
    pretrained: keras.Model | None = None,
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Build and train one architecture; return the model, its history and a summary.

    ``extra_callbacks``: more Keras callbacks, run after the recipe's (e.g. tracking).

    ``pretrained``: a trained model whose weights are copied into the builder body's layers
    of the same name before training (e.g. paper 003's autoencoder into its transfer models).
    """
    where = f"{architecture}.train"
    validate_train_params(train_params, where)
    if pretrained is not None:
        check_pretrained_normalization(pretrained, train_params.get("normalization", "standardize"), where)
    label_mode = train_params.get("label_mode", "fine")
    batch_size = train_params["batch_size"]
    y_train, y_val = labels_for(train, label_mode), labels_for(validation, label_mode)
    if batch_size > len(y_train):
        raise RecipeError(
            f"parameter '{where}.batch_size'={batch_size} is larger than the {len(y_train)} training images"
        )
    num_classes = int(train_params.get("num_classes") or max(y_train.max(), y_val.max()) + 1)
    loss_name = train_params.get("loss", "sparse_categorical_crossentropy")
    smoothing = float(train_params.get("label_smoothing", 0.0))
    one_hot = loss_name == "categorical_crossentropy" or smoothing > 0
    seed = int(train_params.get("seed", device.current().seed))
    keras.utils.set_random_seed(seed)

    work_dir = Path(work_dir)
    resuming = (work_dir / "backup").exists() and any((work_dir / "backup").iterdir())
    if not resuming and work_dir.exists():
        shutil.rmtree(work_dir)  # a finished or abandoned earlier run: start clean
    work_dir.mkdir(parents=True, exist_ok=True)
    history_path = work_dir / "history.csv"

    placement = augmentation_placement(train_params)
    augmentation = train_params.get("augmentation")
    train_ds = make_dataset(
        train["images"], y_train, batch_size, num_classes=num_classes, one_hot=one_hot, shuffle=True, seed=seed,
        augment=dataset_augmenter(augmentation, seed, where) if placement == "dataset" else None,
    )
    val_ds = make_dataset(validation["images"], y_val, batch_size, num_classes=num_classes, one_hot=one_hot)
    steps_per_epoch = math.ceil(len(y_train) / batch_size)
    input_shape = tuple(train["images"].shape[1:])
    # uint8 images as always; float arrays (cached features) keep a float32 model input.
    input_dtype = "float32" if np.issubdtype(train["images"].dtype, np.floating) else "uint8"
    hyper = {k: v for k, v in model_params.items() if k != "builder"}
    strategy = device.get_strategy()

    copied_layers: list[str] = []

    def model_factory(total_steps: int) -> keras.Model:
        with strategy.scope():
            body = build_model(model_params["builder"], num_classes=num_classes, input_shape=input_shape, **hyper)
            if pretrained is not None:
                copied_layers[:] = copy_pretrained_weights(body, pretrained, where)
            model = assemble_model(
                body, train_params.get("normalization", "standardize"), normalization_stats,
                augmentation if placement == "model" else None, seed=seed, input_shape=input_shape, name=architecture,
                input_dtype=input_dtype,
            )
            lr = make_learning_rate(train_params["optimizer"], train_params.get("schedule"), total_steps, where)
            if one_hot:
                loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
                top5 = keras.metrics.TopKCategoricalAccuracy(k=min(5, num_classes), name="top5_accuracy")
            else:
                loss = keras.losses.SparseCategoricalCrossentropy()
                top5 = keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, num_classes), name="top5_accuracy")
            model.compile(
                optimizer=make_optimizer(train_params["optimizer"], lr, where),
                loss=loss,
                metrics=["accuracy", top5],
                jit_compile=device.current().xla,
                # Several steps per call of the compiled function: same updates, less Python
                # overhead per step, which dominates for the tiniest models (paper 002).
                steps_per_execution=int(train_params.get("steps_per_execution", 1)),
            )
        return model

    epochs = train_params.get("epochs")
    if train_params.get("time_budget_minutes"):
        budget_epochs = _epochs_for_budget(model_factory, train_ds, val_ds, steps_per_epoch, train_params["time_budget_minutes"])
        # ``epochs`` (when also given, e.g. capped by training_run.max_epochs) stays an upper bound.
        epochs = min(int(epochs), budget_epochs) if epochs else budget_epochs
        keras.utils.set_random_seed(seed)
    model = model_factory(total_steps=steps_per_epoch * epochs)
    callbacks = make_callbacks(train_params.get("callbacks"), work_dir, where)
    callbacks.append(EpochRecorder(history_path, epochs, architecture))
    callbacks.extend(extra_callbacks or [])
    logger.info(
        "%s: training %s: %d images, %d classes (%s), batch %d, %d epochs, %s parameters%s%s",
        architecture, model_params["builder"], len(y_train), num_classes, label_mode, batch_size,
        epochs, f"{model.count_params():,}", f", augmentation in the {placement}" if augmentation else "",
        " (resuming)" if resuming else "",
    )
    started = time.perf_counter()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=callbacks,
        shuffle=False,  # tf.data already reshuffles every epoch
        verbose=int(train_params.get("verbose", 2)),
    )
    seconds = time.perf_counter() - started
    history = pd.read_csv(history_path) if history_path.exists() else pd.DataFrame(columns=HISTORY_COLUMNS)
    history = history.drop_duplicates("epoch", keep="last").reset_index(drop=True)
    monitor = ((train_params.get("callbacks") or {}).get("early_stopping") or {})
    monitor = monitor.get("monitor", "val_loss") if isinstance(monitor, dict) else "val_loss"
    summary = {
        "architecture": architecture,
        "builder": model_params["builder"],
        "label_mode": label_mode,
        "num_classes": num_classes,
        "epochs_requested": int(epochs),
        "epochs_run": int(len(history)),
        "best_epoch": _best_epoch(history, monitor) if len(history) else 0,
        # Epoch times from the history, so a resumed run counts the time before the interruption.
        "training_seconds": float(history["seconds"].sum()) if len(history) else seconds,
        "trainable_params": count_params(model.trainable_weights),
        "total_params": int(model.count_params()),
        "batch_size": batch_size,
        # Evaluation mode the recipe asks for: the reporting pipeline reads it.
        "tta": bool(train_params.get("tta", False)),
        "augmentation_placement": placement if augmentation else "none",
        "train_images": int(len(y_train)),
        "images_per_second": float(len(y_train) * len(history) / max(history["seconds"].sum(), 1e-9)) if len(history) else 0.0,
    }
    if pretrained is not None:
        summary["pretrained_from"] = pretrained.name
        summary["pretrained_layers"] = len(copied_layers)
    return model, history, summary
