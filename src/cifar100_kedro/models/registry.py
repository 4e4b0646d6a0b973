"""Name → builder registry for the model families.

A builder is a pure Keras function ``build(num_classes, input_shape=(32, 32, 3), **hyper)``
returning an *uncompiled* ``keras.Model`` whose input is a float32 image batch that the
training engine has already cast, normalised and (in training) augmented. Builders do no
I/O; recipes (optimiser, epochs, augmentation, normalisation) live in ``conf/``.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

Builder = Callable[..., keras.Model]

BUILDERS: dict[str, Builder] = {}


def register_builder(name: str) -> Callable[[Builder], Builder]:
    """Register ``fn`` under ``name`` so recipes can refer to it from conf."""

    def decorator(fn: Builder) -> Builder:
        if name in BUILDERS:
            raise ValueError(f"Model builder {name!r} is registered twice")
        BUILDERS[name] = fn
        return fn

    return decorator


def get_builder(name: str) -> Builder:
    """Return the builder called ``name`` or fail listing the known names."""
    # Importing the package registers every family module.
    import cifar100_kedro.models  # noqa: F401

    try:
        return BUILDERS[name]
    except KeyError:
        known = ", ".join(sorted(BUILDERS))
        raise ValueError(
            f"Unknown model builder {name!r} (parameter 'model.builder'); known builders: {known}"
        ) from None


def build_model(
    builder: str, num_classes: int, input_shape: tuple[int, int, int] = (32, 32, 3), **hyper
) -> keras.Model:
    """Build the named architecture; unknown hyperparameters fail with the builder's name."""
    fn = get_builder(builder)
    try:
        return fn(num_classes=num_classes, input_shape=tuple(input_shape), **hyper)
    except TypeError as exc:
        raise ValueError(f"Bad hyperparameters for model builder {builder!r}: {exc}") from None
