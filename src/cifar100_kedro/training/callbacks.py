"""Keras callbacks from the recipe's ``callbacks`` mapping, and the per-epoch recorder."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cifar100_kedro.training.recipe import RecipeError, resize_for_epoch

logger = logging.getLogger(__name__)


def history_row_maker(metrics: Sequence[str]):
    """``(epoch, logs, model, seconds) → row`` of the history table (:mod:`.resume` keeps it).

    Columns: ``epoch`` (1-based), the task's ``metrics`` (Keras log keys, in that order),
    ``learning_rate`` (at the epoch's end, after any ReduceLROnPlateau change) and
    ``seconds`` (the epoch's wall time); :class:`.resume.TrainingState` adds ``cpu_seconds``
    (the process's CPU time over the epoch).
    """

    def row(epoch: int, logs: Mapping[str, Any], model: keras.Model, seconds: float) -> dict:
        learning_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        return {
            "epoch": epoch + 1,
            **{k: float(logs[k]) for k in metrics if k in logs},
            "learning_rate": learning_rate,
            "seconds": seconds,
        }

    return row


class EpochLogger(keras.callbacks.Callback):
    """One log line per finished epoch: the task's metrics, its time and the ETA."""

    def __init__(self, epochs: int, namespace: str, metrics: Sequence[str]) -> None:
        super().__init__()
        self.epochs, self.namespace, self.metrics = epochs, namespace, tuple(metrics)
        self._started = 0.0
        self._durations: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self._started
        self._durations.append(seconds)
        eta = np.mean(self._durations) * (self.epochs - epoch - 1)
        values = "  ".join(f"{k} {float(logs.get(k, math.nan)):.4f}" for k in self.metrics)
        logger.info(
            "%s: epoch %d/%d  %s  %.1fs  ETA %s",
            self.namespace, epoch + 1, self.epochs, values,
            seconds, time.strftime("%H:%M:%S", time.gmtime(eta)),
        )  # fmt: skip


class ResizeSchedule(keras.callbacks.Callback):
    """Set the model's :class:`.layers.ProgressiveResize` size at each epoch's start.

    The size is a pure function of the epoch (``recipe.resize_for_epoch``), so an interrupted
    run resumed after epoch k trains exactly the sizes of an uninterrupted one.
    """

    def __init__(self, phases: Sequence[Mapping[str, Any]], epochs: int, namespace: str) -> None:
        super().__init__()
        self.phases, self.epochs, self.namespace = tuple(phases), epochs, namespace
        self._current = None

    def _layer(self):
        return self.model.get_layer("progressive_resize")

    def on_epoch_begin(self, epoch, logs=None):
        size = resize_for_epoch(self.phases, epoch, self.epochs)
        self._layer().size.assign(size)
        if size != self._current:
            logger.info(
                "%s: epoch %d trains on %s images",
                self.namespace, epoch + 1, f"{size}×{size}" if size else "full-size",
            )  # fmt: skip
            self._current = size

    def on_train_end(self, logs=None):
        self._layer().size.assign(0)  # a later fit of this model trains at full size


def make_callbacks(
    settings: Mapping[str, Any] | None, run_dir: Path, where: str
) -> list[keras.callbacks.Callback]:
    """Keras callbacks from the recipe's ``callbacks`` mapping (``true`` = Keras defaults).

    ``backup_and_restore`` is not built here: resuming is :mod:`.resume`'s job, the same for
    every task (``backup_and_restore: true`` switches it on).
    """
    callbacks: list[keras.callbacks.Callback] = []
    for name, options in (settings or {}).items():
        if options is False or options is None or name == "backup_and_restore":
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
                        str(run_dir / f"best{suffix}"), save_best_only=True, **options
                    )
                )
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"parameter '{where}.callbacks.{name}': {exc}") from None
    return callbacks


def monitored_metric(settings: Mapping[str, Any] | None, default: str = "val_loss") -> str:
    """The metric early stopping watches (what ``best_epoch`` in the summary refers to)."""
    early = (settings or {}).get("early_stopping")
    return early.get("monitor", default) if isinstance(early, Mapping) else default
