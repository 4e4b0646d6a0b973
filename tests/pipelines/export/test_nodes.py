"""Export: a tiny model (augmentation, captured normalisation statistics, a project layer) to
SavedModel, ONNX and LiteRT; each agrees with the .keras model; failures are rows, not crashes;
artifacts are written whole or not at all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cifar100_kedro.datasets import ExportedModelDataset, ExportResult
from cifar100_kedro.inference import MODEL_FILES
from cifar100_kedro.pipelines.export import nodes as n
from cifar100_kedro.training.engine import fit_model
from tests.tiny_models import random_images, tiny_classifier, tiny_split

pytest.importorskip("tf2onnx", reason="the export extra: pip install -e '.[export]'")
pytest.importorskip("onnxruntime", reason="the export extra: pip install -e '.[export]'")

EXPORT = {
    "architectures": None,
    "formats": ["saved_model", "onnx", "tflite"],
    "evaluation": {"images": None, "batch_size": 16},
    "speed": {"single_image_runs": 2, "batch_size": 8, "batch_runs": 1, "warmup": 1},
}


def _datasets(folder):
    return {
        fmt: ExportedModelDataset(str(folder / MODEL_FILES[fmt]), fmt)
        for fmt in ("saved_model", "onnx", "tflite")
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    model = tiny_classifier()
    datasets = _datasets(folder)
    for result in n.export_model(model, EXPORT, "toy"):
        datasets[result.format].save(result)
    return model, folder, {fmt: ds.load() for fmt, ds in datasets.items()}


def test_every_format_is_written_where_predict_finds_it(exported):
    _, folder, loaded = exported
    assert (folder / "export" / "saved_model" / "1" / "saved_model.pb").is_file()
    assert (folder / "export" / "model.onnx").is_file()
    assert (folder / "export" / "model.tflite").is_file()
    assert all(result.ok for result in loaded.values())
    assert not list(folder.rglob("*.partial-*")) and not list(folder.rglob("*.unavailable.txt"))


def test_every_export_agrees_with_the_keras_model(exported):
    model, _, loaded = exported
    split = {"images": random_images(24, seed=1)}
    table = n.evaluate_exports(
        model, loaded["saved_model"], loaded["onnx"], loaded["tflite"], split, EXPORT, "toy"
    )
    assert table["format"].tolist() == ["keras", "saved_model", "onnx", "tflite"]
    exports = table.iloc[1:]
    assert (exports["status"] == "ok").all(), table["note"].tolist()
    assert (exports["agreement"] == 1.0).all()
    assert (exports["max_abs_probability_difference"] < 1e-4).all()
    assert (exports["size_mb"] > 0).all() and (table["batch_images_per_s"] > 0).all()
    assert list(table.columns) == n.REPORT_COLUMNS


def test_a_failed_conversion_is_a_row_that_says_why(tmp_path, monkeypatch):
    def broken(*args):
        raise ValueError("'tf.ImageProjectiveTransformV3' op is neither a custom op nor a flex op")

    monkeypatch.setattr(n.converters, "to_tflite", broken)
    model = tiny_classifier()
    saved, onnx, tflite = n.export_model(model, {**EXPORT, "formats": ["tflite"]}, "toy")
    assert saved.reason == onnx.reason == "not in export.formats"
    assert tflite.artifact is None and "ImageProjectiveTransformV3" in tflite.reason
    datasets = _datasets(tmp_path)
    for result in (saved, onnx, tflite):
        datasets[result.format].save(result)
    loaded = {fmt: ds.load() for fmt, ds in datasets.items()}
    table = n.evaluate_exports(model, *loaded.values(), {"images": random_images(4)}, EXPORT, "toy")
    assert table["status"].tolist() == ["reference", "not exported", "not exported", "not exported"]
    assert "ImageProjectiveTransformV3" in table["note"].iloc[3]


def test_a_missing_converter_package_names_the_extra(monkeypatch):
    def without_tf2onnx(*args):
        raise ModuleNotFoundError("No module named 'tf2onnx'", name="tf2onnx")

    monkeypatch.setattr(n.converters, "to_onnx", without_tf2onnx)
    _, onnx, _ = n.export_model(tiny_classifier(), {**EXPORT, "formats": ["onnx"]}, "toy")
    assert onnx.artifact is None
    assert onnx.reason == 'tf2onnx is not installed: pip install -e ".[export]"'


def test_failed_save_replaces_a_stale_artifact_with_the_reason(tmp_path):
    dataset = ExportedModelDataset(str(tmp_path / "model.onnx"), "onnx")
    dataset.save(ExportResult("onnx", artifact=b"old model"))
    dataset.save(ExportResult("onnx", reason="tf2onnx: unsupported ops: X"))
    assert not (tmp_path / "model.onnx").exists()
    assert dataset.load().reason == "tf2onnx: unsupported ops: X"


def test_exporting_some_architectures_or_formats_keeps_the_others_exports(tmp_path):
    datasets = _datasets(tmp_path)
    datasets["onnx"].save(ExportResult("onnx", artifact=b"earlier model"))
    datasets["tflite"].save(ExportResult("tflite", reason="earlier failure"))
    for result in n.export_model(tiny_classifier(), {**EXPORT, "architectures": ["other"]}, "toy"):
        assert result.skipped and result.reason == "not in export.architectures"
        datasets[result.format].save(result)
    assert (tmp_path / MODEL_FILES["onnx"]).read_bytes() == b"earlier model"
    assert datasets["tflite"].load().reason == "earlier failure"
    assert datasets["saved_model"].load().reason == "never exported"
    model = tiny_classifier()
    for result in n.export_model(model, {**EXPORT, "formats": ["tflite"]}, "toy"):
        datasets[result.format].save(result)
    assert (tmp_path / MODEL_FILES["onnx"]).read_bytes() == b"earlier model"
    loaded = [datasets[fmt].load() for fmt in ("saved_model", "onnx", "tflite")]
    table = n.evaluate_exports(
        model, *loaded, {"images": random_images(4)}, {**EXPORT, "formats": ["tflite"]}, "toy"
    )
    assert table["status"].tolist() == ["reference", "not exported", "not exported", "ok"]
    assert table["note"].iloc[2] == "not in export.formats"


def test_untrained_architecture_has_no_rows_and_the_table_lists_it():
    results = n.export_model(None, EXPORT, "ghost")
    assert all(r.reason == "not trained" for r in results)
    empty = n.evaluate_exports(None, *results, {"images": random_images(2)}, EXPORT, "ghost")
    row = pd.DataFrame([{"namespace": "toy", "format": "onnx", "status": "ok", "agreement": 1.0}])
    table, markdown = n.export_table(ghost=empty, toy=row.reindex(columns=n.REPORT_COLUMNS))
    assert table["namespace"].tolist() == ["toy"]
    assert "| toy | onnx | ok | 100.00 % |" in markdown and "ghost" in markdown


def test_pipeline_has_one_block_per_classifier_and_one_table():
    from cifar100_kedro.pipelines.export import create_pipeline
    from cifar100_kedro.pipelines.export.pipeline import export_namespaces

    pipeline = create_pipeline()
    assert "autoencoder" not in export_namespaces() and "resnet9_fast" in export_namespaces()
    assert {"resnet9_fast.model_if_present", "test_split", "params:export"} <= pipeline.inputs()
    assert {"export_table", "export_table_markdown"} <= pipeline.outputs()
    assert np.all([node.name for node in pipeline.nodes])


def test_resnet9_fast_with_its_whitening_stem_exports_to_every_format(tmp_path):
    # The conf recipe's first layer is a project layer (PatchWhitening) fit to the data.
    model, _, _ = fit_model(
        tiny_split(32, 0), tiny_split(8, 1), None,
        {"builder": "resnet9_fast", "width": 4, "stem": "whitening"},
        {"epochs": 1, "batch_size": 8, "verbose": 0, "normalization": "rescale",
         "optimizer": {"name": "sgd", "learning_rate": 0.1}},
        architecture="whitened", work_dir=tmp_path / "run",
    )  # fmt: skip
    datasets = _datasets(tmp_path)
    for result in n.export_model(model, EXPORT, "whitened"):
        datasets[result.format].save(result)
    loaded = {fmt: ds.load() for fmt, ds in datasets.items()}
    table = n.evaluate_exports(
        model, *loaded.values(), {"images": random_images(24, seed=1, size=16)}, EXPORT, "w"
    )
    exports = table.iloc[1:]
    assert (exports["status"] == "ok").all(), table["note"].tolist()
    assert (exports["agreement"] == 1.0).all()
    assert (exports["max_abs_probability_difference"] < 1e-4).all()
