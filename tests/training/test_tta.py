"""Horizontal-flip test-time augmentation: what is averaged, its symmetry, and bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cifar100_kedro.training.tta import predict_probabilities, predict_with_flip_tta


class RecordingModel:
    """A stand-in with Keras' ``predict``: 'probabilities' that depend on where the bright
    pixel is, and a record of the batch sizes asked for."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def predict(self, images, batch_size, verbose=0):
        self.batch_sizes.append(batch_size)
        left = images[:, :, : images.shape[2] // 2].sum(axis=(1, 2, 3)).astype(np.float64)
        right = images[:, :, images.shape[2] // 2 :].sum(axis=(1, 2, 3)).astype(np.float64)
        total = left + right + 1e-9
        return np.stack([left / total, right / total], axis=1)


def test_averages_the_image_and_its_left_right_mirror():
    images = np.zeros((2, 4, 6, 3), dtype=np.uint8)
    images[0, :, 0] = 255  # bright left column: plain → (1, 0), mirror → (0, 1)
    images[1, 0, 1] = 255  # one bright left pixel
    images[1, :, 5] = 10  # dim right column
    model = RecordingModel()
    result = predict_with_flip_tta(model, images, batch_size=8)
    plain = model.predict(images, 8)
    mirrored = model.predict(images[:, :, ::-1], 8)
    np.testing.assert_allclose(result, (plain + mirrored) / 2, rtol=1e-6)
    np.testing.assert_allclose(result[0], [0.5, 0.5], rtol=1e-6)
    assert result.dtype == np.float32
    assert model.batch_sizes[:2] == [8, 8]


def test_flip_axis_is_the_width_not_the_height():
    images = np.zeros((1, 4, 6, 3), dtype=np.uint8)
    images[0, 0, :] = 255  # bright top row: a vertical flip would move it, a horizontal one not
    images[0, :, 0] = 255
    model = RecordingModel()
    # Horizontal mirror swaps left/right mass: the average is symmetric (left = right).
    result = predict_with_flip_tta(model, images, batch_size=1)
    assert result[0, 0] == pytest.approx(result[0, 1])


def test_with_a_keras_model_probabilities_and_mirror_invariance():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(0).integers(0, 256, size=(7, 8, 8, 3), dtype=np.uint8)

    result = predict_with_flip_tta(model, images, batch_size=3)
    assert result.shape == (7, 5)
    np.testing.assert_allclose(result.sum(axis=1), 1.0, rtol=1e-5)
    # TTA of the mirrored images equals TTA of the originals, while plain predictions differ.
    mirrored = images[:, :, ::-1]
    np.testing.assert_allclose(
        predict_with_flip_tta(model, mirrored, batch_size=3), result, atol=1e-6
    )
    assert not np.allclose(
        model.predict(mirrored, verbose=0), model.predict(images, verbose=0), atol=1e-4
    )
    # A left-right symmetric image gets its plain prediction back.
    symmetric = np.concatenate([images[:, :, :4], images[:, :, :4][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(
        predict_with_flip_tta(model, symmetric, batch_size=3),
        model.predict(symmetric, verbose=0),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    ("images", "batch_size", "message"),
    [
        (np.zeros((4, 32, 32), dtype=np.uint8), 8, "N×height×width×channels"),
        (np.zeros((0, 32, 32, 3), dtype=np.uint8), 8, "empty"),
        (np.zeros((2, 32, 32, 3), dtype=np.uint8), 0, "'batch_size'"),
        (np.zeros((2, 32, 32, 3), dtype=np.uint8), 2.5, "'batch_size'"),
    ],
)
def test_bad_input_is_refused_before_predicting(images, batch_size, message):
    model = RecordingModel()
    with pytest.raises(ValueError, match=message):
        predict_with_flip_tta(model, images, batch_size=batch_size)
    assert model.batch_sizes == []


def test_the_recipe_tta_flag_chooses_the_flip_average_or_the_plain_pass():
    images = np.zeros((1, 4, 6, 3), dtype=np.uint8)
    images[0, :, 0] = 255  # all mass on the left: plain → (1, 0), flip-averaged → (½, ½)
    np.testing.assert_allclose(
        predict_probabilities(RecordingModel(), images, tta=False, batch_size=4)[0], [1, 0]
    )
    np.testing.assert_allclose(
        predict_probabilities(RecordingModel(), images, tta=True, batch_size=4)[0], [0.5, 0.5]
    )
