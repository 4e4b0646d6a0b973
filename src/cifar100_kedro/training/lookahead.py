"""Lookahead (``train.lookahead``): k fast steps forward, one step back towards slow weights.

M. Zhang, J. Lucas, G. Hinton, J. Ba, "Lookahead Optimizer: k steps forward, 1 step back"
(NeurIPS 2019); K. Jordan's airbench (arXiv 2404.00498) trains with it. The optimiser moves
the model's ("fast") weights as usual; every ``steps`` optimiser steps the slow weights move
part of the way towards them and the fast weights restart from there::

    slow ← slow + alpha · (fast − slow);  fast ← slow

Only trainable weights take part (batch-norm statistics and frozen layers are left alone),
and the optimiser keeps its state (momentum), as in the paper and airbench.

Resume safety without saved state: every epoch ends with a final synchronisation (after it
fast = slow, so the slow weights are the model's weights) and every epoch begins by copying
the weights into the slow ones. The epoch-end state that :class:`.resume.TrainingState`
saves therefore holds all of it, and a resumed run trains what an uninterrupted one does.
The engine lists this callback first (before the recipe's callbacks and the state), so the
checkpoint, early stopping and the saved state all see synchronised weights; when Keras
knows the epoch's length, the final synchronisation happens after the epoch's last step,
before validation, so the logged ``val_*`` metrics are those of the saved weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras


class Lookahead(keras.callbacks.Callback):
    """Lookahead on the model's trainable weights, synchronised every ``steps`` optimiser steps.

    Steps are counted with ``optimizer.iterations`` from the epoch's start: with
    ``steps_per_execution`` > 1 Keras calls batch hooks once per execution, so a
    synchronisation falls on the first execution boundary at or after each multiple of
    ``steps`` (exactly on it when ``steps_per_execution`` divides ``steps``).
    """

    def __init__(self, steps: int = 5, alpha: float = 0.5) -> None:
        super().__init__()
        self.steps, self.alpha = int(steps), float(alpha)
        self._slow: list[Any] = []
        self._epoch_start = 0
        self._last_sync = 0  # steps into the epoch at the last synchronisation

    def _step_in_epoch(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) - self._epoch_start

    def _weights(self) -> list[keras.Variable]:
        return list(self.model.trainable_weights)

    def on_epoch_begin(self, epoch, logs=None):
        # A snapshot (not a view): the optimiser's in-place updates do not reach it.
        self._slow = [keras.ops.copy(w.value) for w in self._weights()]
        self._epoch_start = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self._last_sync = 0

    def on_train_batch_end(self, batch, logs=None):
        step = self._step_in_epoch()
        epoch_steps = self.params.get("steps") if self.params else None
        if step // self.steps > self._last_sync // self.steps or (
            epoch_steps and step >= epoch_steps
        ):
            self._synchronise(step)

    def on_epoch_end(self, epoch, logs=None):
        # Also after a partial epoch (stop_training) or one of unknown length.
        self._synchronise(self._step_in_epoch())

    def _synchronise(self, step: int) -> None:
        """slow ← slow + α(fast − slow); fast ← slow (nothing to do right after one)."""
        if step == self._last_sync or not self._slow:
            return
        for index, variable in enumerate(self._weights()):
            slow = self._slow[index]
            slow = slow + self.alpha * (keras.ops.cast(variable.value, slow.dtype) - slow)
            variable.assign(slow)
            self._slow[index] = slow
        self._last_sync = step


def make_lookahead(settings: Mapping[str, Any] | None) -> list[keras.callbacks.Callback]:
    """``[Lookahead(...)]`` for the recipe's parsed ``train.lookahead``; ``[]`` when off."""
    if not settings:
        return []
    return [Lookahead(steps=settings["steps"], alpha=settings["alpha"])]
