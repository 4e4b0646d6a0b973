"""Epochs for a recipe's ``time_budget_minutes``, from a timed warm-up on a throw-away copy."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)


def epochs_for_budget(
    model_factory: Callable[..., keras.Model],
    train_for: Callable[..., tf.data.Dataset],
    val_ds: tf.data.Dataset,
    steps_per_epoch: int,
    budget_minutes: float,
) -> int:
    """Epochs (at least 1) whose training and validation fit ``budget_minutes``.

    ``train_for(iterations=...)`` gives the training batches (``TaskData.train_for``).
    """
    probe = model_factory(total_steps=steps_per_epoch)
    train_ds = train_for(iterations=probe.optimizer.iterations)
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
    )  # fmt: skip
    del probe
    return epochs
