"""The autoencoder's training node and reports, and the engine's pre-trained weight copy
into the transfer models."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cifar100_kedro.models.paper003_autoencoder import encoder_layer_names
from cifar100_kedro.pipelines.autoencoder.nodes import (
    plot_reconstruction_loss,
    plot_reconstructions,
    train_autoencoder,
)
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.recipe import RecipeError

TINY_ENCODER = {"stem_filters": 4, "tower_filters": 4, "bottleneck_filters": 8, "code_units": 64}
AE_MODEL = {"builder": "chakraborti_autoencoder", "encoder": TINY_ENCODER}
AE_TRAIN = {
    "epochs": 1,
    "batch_size": 20,
    "normalization": "rescale",
    "optimizer": {"name": "adam", "learning_rate": 1e-3},
    "augmentation": [],
    "verbose": 0,
}
TRANSFER_TRAIN = {
    "label_mode": "fine",
    "epochs": 1,
    "batch_size": 20,
    "normalization": "rescale",
    "optimizer": {"name": "adam", "learning_rate": 1e-4},
    "loss": "categorical_crossentropy",
    "verbose": 0,
}


def striped_images(count: int, seed: int) -> dict[str, np.ndarray]:
    """Learnable images: coloured stripes of a class-dependent period, plus a little noise."""
    rng = np.random.default_rng(seed)
    fine = np.arange(count) % 10
    columns = np.arange(32)
    images = np.empty((count, 32, 32, 3), dtype=np.uint8)
    for index, label in enumerate(fine):
        stripes = (np.sin(columns * (label + 1) / 4.0) > 0).astype(np.float32)
        colour = rng.uniform(60, 255, size=3)
        picture = stripes[None, :, None] * colour[None, None, :] + rng.normal(
            0, 8, size=(32, 32, 3)
        )
        images[index] = np.clip(picture, 0, 255).astype(np.uint8)
    return {"images": images, "fine": fine.astype(np.int64), "coarse": (fine // 5).astype(np.int64)}


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="module")
def data() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    return striped_images(160, seed=0), striped_images(40, seed=1)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A tiny autoencoder trained for one epoch (a 50-epoch recipe under ``max_epochs: 1``),
    its history and summary, shared by several tests."""
    train, validation = data
    run = {"work_dir": str(tmp_path_factory.mktemp("state")), "max_epochs": 1}
    return train_autoencoder(
        train["images"],
        validation,
        None,
        AE_MODEL,
        {**AE_TRAIN, "epochs": 50},
        run,
        {},
        {"folder": None},
    )


def body_of(model: keras.Model) -> keras.Model:
    """The builder body nested in an engine-assembled model."""
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def test_training_returns_a_uint8_model_history_and_summary(trained, data):
    model, history, summary = trained
    assert model.inputs[0].dtype == "uint8"
    reconstruction = keras.ops.convert_to_numpy(model(data[1]["images"][:2], training=False))
    assert reconstruction.shape == (2, 32, 32, 3)
    assert list(history.columns) == [
        "epoch", "loss", "reconstruction_mse", "val_loss", "val_reconstruction_mse",
        "learning_rate", "seconds", "cpu_seconds",
    ]  # fmt: skip
    assert len(history) == 1 and history["val_reconstruction_mse"].notna().all()
    # The total loss adds the sparsity and L2 terms to the reconstruction MSE.
    assert history["loss"].iloc[0] > history["reconstruction_mse"].iloc[0]
    assert summary["pretraining_images"] == 160 and summary["validation_images"] == 40
    assert summary["pretraining_source"].startswith("train_split")
    assert summary["epochs_requested"] == summary["epochs_run"] == 1  # capped by max_epochs
    assert summary["task"] == "reconstruction" and summary["namespace"] == "autoencoder"
    assert summary["final"]["val_reconstruction_mse"] == history["val_reconstruction_mse"].iloc[-1]


def test_reconstruction_mse_falls_with_training(data, tmp_path):
    train, validation = data
    recipe = {**AE_TRAIN, "epochs": 5}
    _, history, _ = train_autoencoder(
        train["images"], validation, None, AE_MODEL, recipe, {"work_dir": str(tmp_path)}, {}
    )
    mse = history["reconstruction_mse"].to_numpy()
    assert mse[-1] < 0.7 * mse[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"augmentation": [{"name": "random_flip"}]}, r"autoencoder\.train\.augmentation"),
        ({"loss": "categorical_crossentropy"}, r"autoencoder\.train\.loss"),
        ({"batch_size": 1000}, r"autoencoder\.train\.batch_size"),
        ({"epochs": 0}, r"autoencoder\.train\.epochs"),
    ],
)
def test_bad_recipes_fail_before_training(data, tmp_path, change, message):
    train, validation = data
    with pytest.raises(RecipeError, match=message):
        train_autoencoder(
            train["images"],
            validation,
            None,
            AE_MODEL,
            {**AE_TRAIN, **change},
            {"work_dir": str(tmp_path)},
            {},
        )


def test_reconstruction_grid_shows_inputs_over_reconstructions(trained, data):
    figure = plot_reconstructions(trained[0], data[1], {"num_examples": 5, "seed": 0})
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 10
    assert (
        figure.axes[0].get_ylabel() == "input" and figure.axes[5].get_ylabel() == "reconstruction"
    )
    assert figure.axes[5].get_title().startswith("MSE ")
    with pytest.raises(ValueError, match=r"autoencoder\.report\.num_examples"):
        plot_reconstructions(trained[0], data[1], {"num_examples": 0})


def test_loss_curve_has_train_and_validation_lines():
    history = pd.DataFrame(
        {"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.5], "reconstruction_mse": [0.3, 0.2, 0.1],
         "val_loss": [3.1, 2.2, 1.9], "val_reconstruction_mse": [0.31, 0.22, 0.15]}
    )  # fmt: skip
    figure = plot_reconstruction_loss(history)
    assert len(figure.axes) == 2
    for axis in figure.axes:
        assert [line.get_label() for line in axis.get_lines()] == ["train", "validation"]
    np.testing.assert_allclose(figure.axes[1].get_lines()[1].get_ydata(), [0.31, 0.22, 0.15])


# ----------------------------------------------------------------------------- transfer
def transfer_params(builder: str) -> dict:
    return {"builder": builder, "encoder": TINY_ENCODER, "dense_units": [16, 8]}


def test_t_arch2_trains_its_head_on_the_frozen_encoder(trained, data, tmp_path):
    autoencoder = trained[0]
    train, validation = data
    model, _, summary = fit_model(
        train, validation, None, transfer_params("chakraborti_t_arch2"), TRANSFER_TRAIN,
        architecture="chakraborti_t_arch2", work_dir=tmp_path, pretrained=autoencoder,
    )  # fmt: skip
    assert summary["pretrained_from"] == "autoencoder" and summary["pretrained_layers"] == 9
    body, source = body_of(model), body_of(autoencoder)
    for name in encoder_layer_names(body):
        for ours, theirs in zip(
            body.get_layer(name).get_weights(), source.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)  # frozen: still the autoencoder's
    assert summary["trainable_params"] < summary["total_params"]


def test_t_arch1_starts_from_the_pretrained_encoder_and_retrains_it(trained, data, tmp_path):
    autoencoder = trained[0]
    train, validation = data
    model, _, summary = fit_model(
        train, validation, None, transfer_params("chakraborti_t_arch1"), TRANSFER_TRAIN,
        architecture="t_arch1", work_dir=tmp_path, pretrained=autoencoder,
    )  # fmt: skip
    assert summary["pretrained_layers"] == 9
    kernel = body_of(model).get_layer("encoder_stem_conv").get_weights()[0]
    pretrained_kernel = body_of(autoencoder).get_layer("encoder_stem_conv").get_weights()[0]
    assert not np.array_equal(kernel, pretrained_kernel)  # retrained ...
    assert np.abs(kernel - pretrained_kernel).max() < 0.05  # ... from the copied weights


def test_mismatched_pretrained_models_fail_clearly(trained, data, tmp_path):
    autoencoder = trained[0]
    train, validation = data
    with pytest.raises(
        RecipeError, match=r"parameter 't\.train\.normalization' is 'standardize'.*'rescale'"
    ):
        fit_model(
            train, validation, {"mean": [0, 0, 0], "std": [1, 1, 1]},
            transfer_params("chakraborti_t_arch1"),
            {**TRANSFER_TRAIN, "normalization": "standardize"},
            architecture="t", work_dir=tmp_path, pretrained=autoencoder,
        )  # fmt: skip
    wider = transfer_params("chakraborti_t_arch1") | {
        "encoder": {**TINY_ENCODER, "stem_filters": 8}
    }
    with pytest.raises(
        RecipeError, match="pretrained layer 'encoder_stem_conv'.*same hyperparameters"
    ):
        fit_model(
            train,
            validation,
            None,
            wider,
            TRANSFER_TRAIN,
            architecture="t",
            work_dir=tmp_path,
            pretrained=autoencoder,
        )
    unrelated = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(2, name="something_else")], name="unrelated"
    )
    with pytest.raises(RecipeError, match="no layer of 'chakraborti_t_arch1' has a namesake"):
        fit_model(
            train, validation, None, transfer_params("chakraborti_t_arch1"), TRANSFER_TRAIN,
            architecture="t", work_dir=tmp_path, pretrained=unrelated,
        )  # fmt: skip
