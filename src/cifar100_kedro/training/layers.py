"""Keras objects of the project that saved models refer to (registered for loading)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="cifar100_kedro")
class SymmetricRandomShear(keras.layers.RandomShear):
    """``keras.layers.RandomShear`` that survives a save/load round trip.

    Keras 3.15's ``RandomShear.get_config`` stores a symmetric factor ``f`` as ``(-f, f)``,
    which its own constructor then rejects, so a saved model with shear augmentation cannot
    be loaded. This subclass stores the factor as given.
    """

    def __init__(self, x_factor=0.0, y_factor=0.0, **kwargs):
        super().__init__(x_factor=x_factor, y_factor=y_factor, **kwargs)
        self._factors = {"x_factor": x_factor, "y_factor": y_factor}

    def get_config(self):
        return {**super().get_config(), **self._factors}
