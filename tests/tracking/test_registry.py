"""MLflow model registry: a logged Keras model is registered under its name, with signature
and input example, and loads back through ``mlflow.pyfunc.load_model`` (a tmp SQLite store)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mlflow", reason="MLflow not installed: pip install -e '.[mlflow]'")


def tiny_model():
    import keras

    inputs = keras.Input((32, 32, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.RandomFlip("horizontal", seed=0)(x)  # training-only, as in the project
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(x))


def test_keras_model_is_registered_and_round_trips_through_pyfunc(tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    from cifar100_kedro.tracking import log_keras_model

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment = mlflow.create_experiment("t", artifact_location=str(tmp_path / "art"))
        model = tiny_model()
        with mlflow.start_run(experiment_id=experiment):
            info = log_keras_model(model, "toy_cnn")
        assert info.registered_model_version == 1
        versions = MlflowClient().search_model_versions("name = 'toy_cnn'")
        assert [int(v.version) for v in versions] == [1]

        loaded = mlflow.pyfunc.load_model("models:/toy_cnn/1")
        signature = loaded.metadata.signature
        assert signature.inputs.inputs[0].shape == (-1, 32, 32, 3)
        assert signature.inputs.inputs[0].type == np.dtype("uint8")
        local = mlflow.artifacts.download_artifacts("models:/toy_cnn/1", dst_path=str(tmp_path))
        example = mlflow.models.Model.load(local).load_input_example(local)
        if isinstance(example, dict):  # a named input ("image") is stored by its name
            (example,) = example.values()
        example = np.asarray(example)
        assert example.shape == (1, 32, 32, 3) and example.dtype == np.uint8

        images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        np.testing.assert_allclose(
            np.asarray(loaded.predict(images)), model.predict(images, verbose=0), rtol=1e-5
        )
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
