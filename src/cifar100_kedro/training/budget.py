"""What a recipe's ``time_budget_minutes`` buys: network, batch, epochs (or part of one).

A timed warm-up on a throw-away copy of the model measures seconds per step and per
validation pass; :func:`plan_epochs` turns them into epochs that fill the budget (whole
epochs, or one more epoch than fits whole, each shortened), or — when the budget is shorter
than one epoch — into the steps that fit (never zero: a run always returns a trained model,
and says it trained a partial epoch).

With a ``train.budget_plan`` the budget also chooses the network and the batch: the widest
candidate that buys ``min_epochs`` epochs is trained (the narrowest when none does).
Candidates are listed widest first and measured narrowest first, stopping at the first that
falls short: on a slow machine with a short budget only the cheap probes run. A candidate
sets builder hyperparameters (``width``, ``depth``) and
``batch_size``; the learning rate follows the batch (:func:`scaled_learning_rate`: linear, as
Goyal et al. 2017, "Accurate, Large Minibatch SGD", and Page's "How to Train Your ResNet"
part 2 (a fixed learning rate per example) do). The rule "the widest network that still
gets enough epochs" is machine-independent: a GPU buys those epochs with the widest
candidate in a minute, a 2-core CPU needs a narrower one.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from cifar100_kedro.training.recipe import Recipe

logger = logging.getLogger(__name__)

# Each budget_plan candidate is at least twice as costly per epoch as the next narrower one
# (a width halving is ~4× fewer FLOPs; measured: width 8 → 16 costs 1.9-2.1× per step on the
# 2-core CPU, at the same batch of 128).
WIDER_COSTS_AT_LEAST = 2.0


@dataclasses.dataclass(frozen=True)
class Timing:
    """What the warm-up measured for one candidate (seconds)."""

    per_step: float  # a training step at full size
    per_eval: float  # one validation pass
    startup: float  # compiling and tracing, which the real run pays again
    per_step_at: dict[int, float] = dataclasses.field(default_factory=dict)  # resized steps

    def step_seconds(self, size: int) -> float:
        """A training step at ``size`` pixels (0: full size)."""
        return self.per_step_at.get(size, self.per_step) if size else self.per_step


def _timed_steps(probe: keras.Model, train_ds: tf.data.Dataset, steps: int) -> float:
    """Seconds per step of ``steps`` training steps, timed between batch ends."""
    started = time.perf_counter()
    batch_ends: list[tuple[int, float]] = []
    mark = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_ends.append((batch, time.perf_counter()))
    )
    probe.fit(train_ds.take(steps), epochs=1, verbose=0, callbacks=[mark], shuffle=False)
    if len(batch_ends) >= 2:
        (first_batch, first_time), (last_batch, last_time) = batch_ends[0], batch_ends[-1]
        return (last_time - first_time) / max(1, min(last_batch, steps - 1) - first_batch)
    return (time.perf_counter() - started) / steps  # one call covered every step


def measure_seconds(
    model_factory: Callable[..., keras.Model],
    train_for: Callable[..., tf.data.Dataset],
    val_ds: tf.data.Dataset,
    steps_per_epoch: int,
    sizes: tuple[int, ...] = (),
) -> Timing:
    """Time a throw-away model: a training step (at full size, and at each of ``sizes`` when
    the model has a ``progressive_resize`` layer), a validation pass, and the start-up
    (compiling and tracing the training and test steps, which a real run pays once).

    ``train_for(iterations=...)`` gives the training batches (``TaskData.train_for``). The
    validation pass is timed on at most 5 batches and scaled to all of them.
    """
    probe = model_factory(total_steps=steps_per_epoch)
    train_ds = train_for(iterations=probe.optimizer.iterations)
    # Keras calls batch callbacks once per ``steps_per_execution`` steps: time whole calls.
    per_call = int(getattr(probe, "steps_per_execution", 1) or 1)
    warm_steps = min(steps_per_epoch, max(2, 10 // per_call) * per_call)
    started = time.perf_counter()
    probe.fit(train_ds.take(2 * per_call), epochs=1, verbose=0, shuffle=False)  # compile and trace
    first_call = time.perf_counter() - started
    # Time from the end of the first call: it also pays for starting the input iterator
    # (filling the shuffle buffer), which a real epoch pays once, not per step.
    per_step = _timed_steps(probe, train_ds, warm_steps)
    per_step_at = {}
    for size in sizes:
        probe.get_layer("progressive_resize").size.assign(size)
        per_step_at[size] = _timed_steps(probe, train_ds, warm_steps)
    started = time.perf_counter()
    probe.evaluate(val_ds.take(1), verbose=0)  # compile the test step outside the timing
    eval_compile = time.perf_counter() - started
    batches = int(val_ds.cardinality())
    timed = min(batches, 5) if batches > 0 else None
    started = time.perf_counter()
    probe.evaluate(val_ds.take(timed) if timed else val_ds, verbose=0)
    per_eval = (time.perf_counter() - started) * (batches / timed if timed else 1.0)
    del probe
    # The real run compiles and traces its own model again: that start-up comes out of the
    # budget (without it, runs overran their budget by 17-19 % on the 2-core CPU).
    startup = max(0.0, first_call - 2 * per_call * per_step) + eval_compile
    return Timing(per_step, per_eval, startup, per_step_at)


def plan_epochs(
    per_step: float,
    per_eval: float,
    steps_per_epoch: int,
    budget_minutes: float,
    startup: float = 0.0,
    step_seconds: Callable[[int, int], float] | None = None,
    max_epochs: int | None = None,
) -> tuple[int, int | None]:
    """``(epochs, steps)`` that fit ``budget_minutes`` after ``startup`` seconds: ``steps``
    per epoch when the epochs are shortened, None for whole epochs.

    The budget is filled, not rounded down to whole epochs: when it buys ``n`` whole epochs
    and part of another (and ``max_epochs`` allows ``n + 1``), it trains ``n + 1`` epochs of
    the ``steps`` that fit (each a fresh subset of the training images,
    ``resume.epoch_dataset``). Rounding down left up to half of a short budget unused (1.9
    epochs bought, 1 trained). A budget shorter than one epoch (training and validation) gives
    ``(1, k)``: ``k`` steps (at least 1).

    ``step_seconds(epoch, epochs)``: the seconds per step of each epoch when they differ
    (progressive resizing: the early epochs of a longer run are cheaper); its epochs stay
    whole (the resizing schedule is per epoch). ``max_epochs`` caps the epochs.
    """
    budget = budget_minutes * 60 - startup
    per_epoch = per_step * steps_per_epoch + per_eval
    if budget < per_epoch:
        steps = int((budget - per_eval) / max(per_step, 1e-9))
        return 1, min(steps_per_epoch, max(1, steps))
    if step_seconds is None:
        whole = int(budget / per_epoch)
        if max_epochs and whole >= max_epochs:
            return max_epochs, None
        filled = whole + 1  # shortened epochs that use the remainder too
        steps = int((budget - filled * per_eval) / (filled * max(per_step, 1e-9)))
        if filled * min(steps, steps_per_epoch) > whole * steps_per_epoch:
            return filled, min(steps, steps_per_epoch - 1)
        return whole, None

    def cost(epochs: int) -> float:
        return sum(step_seconds(e, epochs) * steps_per_epoch + per_eval for e in range(epochs))

    cheapest = min(step_seconds(e, 2) for e in range(2)) * steps_per_epoch + per_eval
    low, high = 1, max(1, int(budget / max(cheapest, 1e-9)) + 1)
    if max_epochs:
        high = min(high, max_epochs)
    while low < high:  # the most epochs whose cost fits (cost grows with the epochs)
        middle = (low + high + 1) // 2
        low, high = (middle, high) if cost(middle) <= budget else (low, middle - 1)
    return low, None


def scaled_learning_rate(learning_rate: float, batch: int, reference: int, rule: str) -> float:
    """The learning rate for ``batch`` given the recipe's for ``reference``.

    ``linear``: × batch / reference (Goyal et al. 2017; Page part 2); ``sqrt``: × √(batch /
    reference) (the adaptive-optimiser rule of Hoffer et al. 2017); ``none``: unchanged.
    """
    if rule == "linear":
        return learning_rate * batch / reference
    if rule == "sqrt":
        return learning_rate * math.sqrt(batch / reference)
    return learning_rate


def candidate_recipe(recipe: Recipe, index: int | None) -> Recipe:
    """``recipe`` with its ``budget_plan`` candidate ``index`` applied (None: unchanged)."""
    plan = recipe.train.budget_plan
    if plan is None or index is None:
        return recipe
    candidate = plan["candidates"][index]
    batch = int(candidate.get("batch_size", recipe.train.batch_size))
    optimizer = dict(recipe.train.optimizer)
    optimizer["learning_rate"] = scaled_learning_rate(
        float(optimizer.get("learning_rate", 1e-3)), batch, plan["reference_batch"],
        plan["lr_scaling"],
    )  # fmt: skip
    hyper = {
        **recipe.hyperparameters,
        **{k: v for k, v in candidate.items() if k != "batch_size"},
    }
    train = dataclasses.replace(recipe.train, batch_size=batch, optimizer=optimizer)
    return dataclasses.replace(recipe, hyperparameters=hyper, train=train)


def choose_candidate(epochs_bought: dict[int, float], min_epochs: float) -> int:
    """The widest (lowest index) candidate that buys ``min_epochs`` epochs, else the narrowest
    measured (highest index). ``epochs_bought``: candidate index → epochs the budget buys."""
    enough = [index for index, epochs in epochs_bought.items() if epochs >= min_epochs]
    return min(enough) if enough else max(epochs_bought)


def describe(choice: dict[str, Any]) -> str:
    """One log/summary line for a budget choice (see ``engine._budget_choice``)."""
    if choice.get("steps") is None:
        what = f"{choice['epochs']} epoch(s)"
    elif choice["epochs"] == 1:
        what = (
            f"a partial epoch: {choice['steps']} of {choice['steps_per_epoch']} steps "
            "(the budget is shorter than one epoch)"
        )
    else:
        what = (
            f"{choice['epochs']} shortened epochs of {choice['steps']} of "
            f"{choice['steps_per_epoch']} steps (filling the budget)"
        )
    network = f", candidate {choice['candidate']}" if choice.get("candidate") is not None else ""
    return (
        f"time budget {choice['budget_minutes']:g} min: {choice['seconds_per_step']:.3f}s/step, "
        f"{choice['seconds_per_epoch']:.1f}s/epoch incl. validation, "
        f"{choice.get('startup_seconds', 0.0):.1f}s start-up → {what}{network}"
    )
