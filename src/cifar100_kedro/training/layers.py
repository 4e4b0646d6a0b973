"""Keras objects of the project that saved models refer to (registered for loading)."""

from __future__ import annotations

import keras
import numpy as np


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


# ``keras.ops.pad`` modes: "reflect" mirrors without repeating the edge pixel (numpy's and
# PyTorch's reflect, what Page's and airbench's crops pad with), "symmetric" repeats it,
# "constant" fills with ``fill_value``.
CROP_FILL_MODES = ("reflect", "symmetric", "constant")


@keras.saving.register_keras_serializable(package="cifar100_kedro")
class RandomCropTranslate(keras.layers.Layer):
    """Random translation by up to ``pad`` pixels that XLA can compile (training only).

    Pads each image by ``pad`` pixels on every side, then takes a random window of the
    original size per image, at integer offsets: the "random crop of the padded image" of the
    fast-CIFAR recipes (Page, *How to Train Your ResNet*, 2018: 4-pixel reflect padding;
    Jordan, airbench, arXiv 2404.00498: 2-pixel reflect-padded translate). Keras'
    ``RandomTranslation`` and ``RandomCrop`` declare ``supports_jit = False`` (they go through
    ``ImageProjectiveTransformV3``), which makes Keras drop ``jit_compile`` for the whole
    training step; this layer is built only from pad, ``randint`` and two
    ``take_along_axis`` gathers, which XLA compiles. At inference it is the identity.
    """

    def __init__(
        self,
        pad: int = 4,
        fill_mode: str = "reflect",
        fill_value: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(pad, int) or isinstance(pad, bool) or pad < 1:
            raise ValueError(f"'pad' must be a positive integer, got {pad!r}")
        if fill_mode not in CROP_FILL_MODES:
            raise ValueError(f"'fill_mode' must be one of {CROP_FILL_MODES}, got {fill_mode!r}")
        self.pad, self.fill_mode, self.fill_value, self.seed = pad, fill_mode, fill_value, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        # Reflection needs a border narrower than the image (a downscaled image included).
        if self.fill_mode == "reflect" and min(height or 1e9, width or 1e9) <= self.pad:
            raise ValueError(
                f"'pad'={self.pad} needs images larger than {self.pad} pixels with "
                f"fill_mode 'reflect', got {height}×{width}"
            )

    def call(self, inputs, training=True):
        if not training:
            return inputs
        ops, pad = keras.ops, self.pad
        height, width = inputs.shape[1], inputs.shape[2]
        padded = ops.pad(
            inputs,
            [[0, 0], [pad, pad], [pad, pad], [0, 0]],
            mode=self.fill_mode,
            constant_values=self.fill_value if self.fill_mode == "constant" else None,
        )
        offsets = keras.random.randint(
            (ops.shape(inputs)[0], 2), 0, 2 * pad + 1, dtype="int32", seed=self.seed_generator
        )
        rows = offsets[:, :1] + ops.arange(height, dtype="int32")[None, :]  # (batch, height)
        cols = offsets[:, 1:] + ops.arange(width, dtype="int32")[None, :]  # (batch, width)
        cropped = ops.take_along_axis(padded, rows[:, :, None, None], axis=1)
        return ops.take_along_axis(cropped, cols[:, None, :, None], axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "pad": self.pad,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="cifar100_kedro")
class ProgressiveResize(keras.layers.Layer):
    """Downscale training batches to ``size``×``size`` (a variable the engine sets per epoch).

    Progressive resizing (J. Howard, fast.ai DAWNBench 2018; FFCV's ResNet recipes, Leclerc
    et al. 2023): early epochs train on smaller images, which costs about (size/32)² of the
    convolution work, and the last epochs train at full size so that batch-norm statistics
    and filters match the test images. The size is a non-trainable variable that
    :class:`cifar100_kedro.training.callbacks.ResizeSchedule` assigns at each epoch's start
    (a pure function of the epoch, so a resumed run trains exactly the same sizes); the
    compiled training step reads it, so no retracing happens when it changes. A size equal to
    the input's (or larger) is the identity, and inference always is. The spatial size is
    dynamic inside the step, so XLA cannot compile it (the engine refuses ``device.xla``
    with it).
    """

    def __init__(self, method: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.method = method
        self.size = self.add_variable(
            shape=(), dtype="int32", initializer="zeros", trainable=False, name="size"
        )

    def call(self, inputs, training=False):
        if not training:
            return inputs
        import tensorflow as tf

        full = tf.shape(inputs)[1]
        size = tf.cast(self.size, tf.int32)
        return tf.cond(
            tf.logical_and(size > 0, size < full),
            lambda: tf.cast(
                tf.image.resize(inputs, tf.stack([size, size]), self.method, antialias=True),
                inputs.dtype,
            ),
            lambda: inputs,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "method": self.method}


@keras.saving.register_keras_serializable(package="cifar100_kedro")
class PatchWhitening(keras.layers.Layer):
    """A frozen 2×2 'valid' convolution that whitens image patches (data-dependent init).

    K. Jordan's airbench (arXiv 2404.00498, section 3.2, ``init_whiten``), after D. C. Page's
    "fixed whitening first layer" (How to Train Your ResNet, part 8): the kernel holds the
    eigenvectors ``v_i`` of the second-moment matrix of the training images' 2×2 patches,
    each divided by ``sqrt(λ_i + epsilon)``, largest eigenvalue first, then the same filters
    negated (``2 · 2·2·C`` outputs: 24 for RGB), so that a following ReLU/GELU keeps both
    signs. The kernel is not trainable (airbench freezes it); the bias is, and starts at zero.

    :meth:`adapt` sets the kernel from images as the layer sees them (normalised); the
    engine calls it once per model build (``training/assembly.py``,
    :func:`adapt_data_dependent_layers`). A loaded model keeps its saved kernel.
    """

    # The engine adapts layers that say so (Keras' own preprocessing layers also have an
    # ``adapt``, which must not be called on the training images behind the builder's back).
    adapts_to_training_images = True
    PATCH = 2

    def __init__(self, epsilon: float = 5e-4, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or epsilon <= 0:
            raise ValueError(f"'epsilon' must be a positive number, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        patch_dims = self.PATCH * self.PATCH * channels
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.PATCH, self.PATCH, channels, 2 * patch_dims),
            # Until adapted: random frozen filters (a loaded model overwrites them).
            initializer="glorot_uniform",
            trainable=False,
        )
        self.bias = self.add_weight(name="bias", shape=(2 * patch_dims,), initializer="zeros")

    def call(self, inputs):
        outputs = keras.ops.conv(inputs, self.kernel, strides=1, padding="valid")
        return outputs + self.bias

    def compute_output_shape(self, input_shape):
        def shrink(size):
            return None if size is None else size - self.PATCH + 1

        channels = 2 * self.PATCH * self.PATCH * input_shape[-1]
        return (input_shape[0], shrink(input_shape[1]), shrink(input_shape[2]), channels)

    def adapt(self, images) -> None:
        """Set the kernel from ``images`` (N×H×W×C, as this layer receives them)."""
        images = np.asarray(images)
        if images.ndim != 4 or min(images.shape[1:3]) < self.PATCH:
            raise ValueError(
                f"PatchWhitening.adapt needs N×H×W×C images of at least 2×2, got {images.shape}"
            )
        if not self.built:
            self.build(images.shape)
        self.kernel.assign(whitening_kernel(images, self.PATCH, self.epsilon))

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def image_patches(images: np.ndarray, size: int) -> np.ndarray:
    """Every ``size``×``size`` patch (stride 1) of N×H×W×C images, flattened in the order of a
    Keras conv kernel's first three axes (row, column, channel): (patches, size·size·C)."""
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(1, 2))
    # (N, H', W', C, size, size) → (N, H', W', size, size, C)
    windows = np.moveaxis(windows, 3, -1)
    return windows.reshape(-1, size * size * images.shape[-1])


def whitening_kernel(images: np.ndarray, size: int, epsilon: float, chunk: int = 256) -> np.ndarray:
    """airbench's ``init_whiten`` as a Keras kernel (size, size, C, 2·size·size·C): the
    eigenvectors of the patches' (uncentred) second moment over sqrt(eigenvalue + eps), largest
    first, then their negatives."""
    dims = size * size * images.shape[-1]
    moment, count = np.zeros((dims, dims)), 0
    # In chunks: 5000 CIFAR images have 4.8 M patches (0.5 GB as one float64 array).
    for start in range(0, len(images), chunk):
        patches = image_patches(np.asarray(images[start : start + chunk], np.float64), size)
        moment += patches.T @ patches
        count += len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(moment / count)  # ascending
    order = np.argsort(eigenvalues)[::-1]
    scaled = eigenvectors[:, order] / np.sqrt(eigenvalues[order] + epsilon)
    kernel = np.concatenate([scaled, -scaled], axis=1)
    return kernel.reshape(size, size, images.shape[-1], -1).astype(np.float32)
