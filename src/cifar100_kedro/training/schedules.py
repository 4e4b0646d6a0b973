"""Learning-rate schedules the recipes name, including Keras 2's legacy ``decay``."""

from __future__ import annotations

from typing import Any

import keras

from cifar100_kedro.training.recipe import RecipeError


@keras.saving.register_keras_serializable(package="cifar100_kedro")
class LinearWarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from ``start`` to ``peak`` over ``warmup_steps``, then linear decay to
    ``end`` at ``total_steps`` (the triangular "one-cycle" shape of fast CIFAR training)."""

    def __init__(
        self, peak, total_steps, warmup_steps, start=0.0, end=0.0, name="LinearWarmupDecay"
    ):
        super().__init__()
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(max(1, warmup_steps))
        self.start = float(start)
        self.end = float(end)
        self.name = name

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = self.start + (self.peak - self.start) * step / self.warmup_steps
        decay_span = max(1, self.total_steps - self.warmup_steps)
        decay = self.peak + (self.end - self.peak) * (step - self.warmup_steps) / decay_span
        lr = keras.ops.where(step < self.warmup_steps, warm, decay)
        return keras.ops.maximum(lr, min(self.end, self.start))

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "start": self.start,
            "end": self.end,
            "name": self.name,
        }


def make_learning_rate(
    optimizer: dict[str, Any], schedule: dict[str, Any] | None, total_steps: int, where: str
):
    """The learning rate (float or schedule) for an optimiser recipe.

    ``optimizer.decay`` (Keras 2's per-iteration time decay, e.g. paper 000's
    ``RMSprop(lr=1e-4, decay=1e-6)``) becomes ``InverseTimeDecay(lr, 1, decay)``: the same
    ``lr / (1 + decay * iterations)`` Keras 2 applied.
    """
    lr = float(optimizer.get("learning_rate", 1e-3))
    decay = optimizer.get("decay")
    schedule = dict(schedule or {"name": "constant"})
    name = schedule.pop("name")
    if decay:
        if name != "constant":
            raise RecipeError(
                f"parameter '{where}.optimizer.decay' cannot be combined with a schedule"
            )
        return keras.optimizers.schedules.InverseTimeDecay(
            lr, decay_steps=1, decay_rate=float(decay)
        )
    if name == "constant":
        return lr
    if name == "inverse_time":
        return keras.optimizers.schedules.InverseTimeDecay(
            lr,
            decay_steps=schedule.get("decay_steps", 1),
            decay_rate=schedule.get("decay_rate", 1e-6),
        )
    if name == "cosine":
        warmup = int(schedule.get("warmup_fraction", 0.0) * total_steps)
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else lr,
            decay_steps=max(1, total_steps - warmup),
            alpha=schedule.get("alpha", 0.0),
            warmup_target=lr if warmup else None,
            warmup_steps=warmup,
        )
    # warmup_linear / one_cycle: linear up to the peak, then linear down to (near) zero.
    warmup = int(schedule.get("warmup_fraction", 0.25) * total_steps)
    return LinearWarmupDecay(
        peak=lr,
        total_steps=total_steps,
        warmup_steps=warmup,
        start=lr * schedule.get("start_factor", 0.0),
        end=lr * schedule.get("end_factor", 0.0),
    )
