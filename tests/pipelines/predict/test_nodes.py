"""Predict: a folder with good and bad files through a namespace's .keras model and an
exported ONNX path; a model of another input shape and an all-bad folder are clear errors."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image

from cifar100_kedro.inference import InferenceError, open_image_source
from cifar100_kedro.pipelines.predict import nodes as n
from tests.pipelines.reporting.fakes import make_label_names
from tests.tiny_models import tiny_classifier

PREDICT = {"format": "keras", "top_k": 3, "batch_size": 2, "image_size": 32}


def _jpeg(size) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    (folder / "toy").mkdir()
    tiny_classifier().save(folder / "toy" / "model.keras")
    return folder


@pytest.fixture
def mixed_folder(tmp_path):
    (tmp_path / "cat.jpg").write_bytes(_jpeg((300, 200)))
    (tmp_path / "dog.jpeg").write_bytes(_jpeg((20, 90)))
    (tmp_path / "tiny.jpg").write_bytes(_jpeg((32, 32)))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "readme.md").write_text("no image")
    return tmp_path


def test_folder_with_good_and_bad_files(models, mixed_folder, caplog):
    caplog.set_level(logging.INFO)
    params = {**PREDICT, "model": "toy", "models_folder": str(models)}
    table, summary = n.predict_images(open_image_source(mixed_folder), make_label_names(), params)
    assert table["image"].unique().tolist() == ["cat.jpg", "dog.jpeg", "tiny.jpg"]
    assert table.groupby("image")["rank"].apply(list).tolist() == [[1, 2, 3]] * 3
    assert {"superclass", "probability", "class"} <= set(table.columns)
    assert summary["images_predicted"] == 3 and summary["images_skipped"] == 2
    assert {s["file"] for s in summary["skipped"]} == {"broken.png", "readme.md"}
    assert "skipping 'broken.png'" in caplog.text and "3/5 images predicted" in caplog.text


def test_an_exported_model_by_path_gives_the_same_table(models, mixed_folder):
    pytest.importorskip("tf2onnx")
    from cifar100_kedro.datasets import ExportedModelDataset
    from cifar100_kedro.pipelines.export.nodes import export_model

    _, onnx, _ = export_model(tiny_classifier(), {"formats": ["onnx"]}, "toy")
    path = models / "toy" / "export" / "model.onnx"
    ExportedModelDataset(str(path), "onnx").save(onnx)
    labels = make_label_names()
    keras_table, _ = n.predict_images(
        open_image_source(mixed_folder), labels,
        {**PREDICT, "model": "toy", "models_folder": str(models)},
    )  # fmt: skip
    onnx_table, summary = n.predict_images(
        open_image_source(mixed_folder), labels, {**PREDICT, "model": str(path)}
    )
    assert summary["format"] == "onnx"
    assert onnx_table["class"].tolist() == keras_table["class"].tolist()
    np.testing.assert_allclose(onnx_table["probability"], keras_table["probability"], atol=1e-5)


def test_model_with_another_input_shape_is_a_clear_error(tmp_path, mixed_folder):
    import keras

    inputs = keras.Input((64, 64, 3), dtype="uint8")
    out = keras.layers.Dense(6, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, out).save(tmp_path / "big.keras")
    with pytest.raises(InferenceError, match=r"takes inputs of shape \('N', 64, 64, 3\)"):
        n.predict_images(
            open_image_source(mixed_folder), make_label_names(),
            {**PREDICT, "model": str(tmp_path / "big.keras")},
        )  # fmt: skip


def test_folder_of_unreadable_images_writes_nothing(models, tmp_path):
    (tmp_path / "a.png").write_bytes(b"garbage")
    with pytest.raises(InferenceError, match=r"none of its 1 image\(s\) could be read"):
        n.predict_images(
            open_image_source(tmp_path), make_label_names(),
            {**PREDICT, "model": "toy", "models_folder": str(models)},
        )  # fmt: skip


def test_model_for_other_labels_is_a_clear_error(models, mixed_folder):
    with pytest.raises(InferenceError, match="predicts 6 classes"):
        n.predict_images(
            open_image_source(mixed_folder), make_label_names(10),
            {**PREDICT, "model": "toy", "models_folder": str(models)},
        )  # fmt: skip
