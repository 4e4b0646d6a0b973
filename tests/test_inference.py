"""The inference library: image sources (folder, .npz, CIFAR archive) with named skips and clear
errors, model resolution by namespace or path, input-shape checks, top-k tables."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cifar100_kedro import inference
from cifar100_kedro.inference import InferenceError, open_image_source
from tests.tiny_models import random_images, tiny_classifier


def _png(size=(40, 30), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


def test_folder_streams_good_files_and_names_every_skip(tmp_path):
    (tmp_path / "a.png").write_bytes(_png())
    (tmp_path / "b.JPG").write_bytes(b"\xff\xd8 truncated jpeg")
    (tmp_path / "c.png").write_bytes(_png((500, 90), "RGBA"))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"")
    source = open_image_source(tmp_path)
    assert source.kind == "folder" and len(source) == 4
    batches = list(source.batches(batch_size=2))
    assert [b.names for b in batches] == [["a.png"], ["c.png"]]
    assert all(b.images.shape[1:] == (32, 32, 3) and b.images.dtype == np.uint8 for b in batches)
    skipped = dict(s for b in batches for s in b.skipped)
    assert set(skipped) == {"b.JPG", "notes.txt"}
    assert "not a readable" in skipped["b.JPG"] and "extension" in skipped["notes.txt"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing", "no such file or folder"),
        (lambda p: p, "no PNG or JPEG images"),
        (lambda p: (p / "x.csv").write_text("a") and p / "x.csv", "not a folder, an .npz"),
        (lambda p: (p / "x.npz").write_bytes(b"junk") and p / "x.npz", "not a readable .npz"),
        (lambda p: (p / "x.tar.gz").write_bytes(b"junk") and p / "x.tar.gz", "not a CIFAR-100"),
    ],
    ids=["missing", "empty-folder", "other-file", "corrupt-npz", "corrupt-archive"],
)
def test_unusable_sources_are_clear_errors(tmp_path, make, message):
    with pytest.raises(InferenceError, match=message):
        open_image_source(make(tmp_path))


def test_npz_checks_dtype_and_resizes_other_sizes(tmp_path):
    np.savez(tmp_path / "f.npz", images=np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(InferenceError, match="must be uint8"):
        open_image_source(tmp_path / "f.npz")
    np.savez(tmp_path / "u.npz", pics=random_images(3, size=64))
    (batch,) = open_image_source(tmp_path / "u.npz").batches(8)
    assert batch.images.shape == (3, 32, 32, 3) and batch.names[0] == "u.npz[0]"


def test_cifar_archive_split_with_labels(tmp_path):
    from cifar100_kedro.data.synthetic import write_synthetic_archive

    archive = tmp_path / "cifar-100-python.tar.gz"
    write_synthetic_archive(archive, train_images_per_class=1, test_images_per_class=1, seed=0)
    source = open_image_source(archive, split="test")
    assert source.kind == "cifar_archive" and len(source) == 100
    batch = next(source.batches(64))
    assert batch.images.shape == (64, 32, 32, 3) and batch.labels.shape == (64,)


def test_resolve_model_by_namespace_or_path_and_clear_misses(tmp_path):
    (tmp_path / "toy" / "export").mkdir(parents=True)
    (tmp_path / "toy" / "model.keras").write_bytes(b"")
    assert inference.resolve_model("toy", tmp_path) == tmp_path / "toy" / "model.keras"
    with pytest.raises(InferenceError, match=r"'nosuch'.*Namespaces with a keras model: toy"):
        inference.resolve_model("nosuch", tmp_path)
    with pytest.raises(InferenceError, match="pipeline=export"):
        inference.resolve_model("toy", tmp_path, "onnx")
    with pytest.raises(InferenceError, match="no such model file"):
        inference.load_predictor_from_path(tmp_path / "gone.onnx")
    (tmp_path / "model.h5").write_bytes(b"")
    with pytest.raises(InferenceError, match="unknown model format .h5"):
        inference.load_predictor_from_path(tmp_path / "model.h5")
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(InferenceError, match="not a loadable .keras model"):
        inference.load_predictor_from_path(tmp_path / "bad.keras")


def test_model_with_another_input_shape_is_refused():
    import keras

    inputs = keras.Input((64, 64, 3), dtype="uint8")
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    with pytest.raises(InferenceError, match=r"takes inputs of shape \('N', 64, 64, 3\)"):
        inference.KerasPredictor(model, "big").check_input(32)
    inference.KerasPredictor(tiny_classifier(), "tiny").check_input(32)


def test_top_k_table_with_superclasses():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    names = ["a", "b", "c"]
    table = inference.top_k_table(probs, ["x", "y"], names, k=2, superclass_of=list("PQQ"))
    assert table["class"].tolist() == ["b", "c", "a", "c"]
    assert table["superclass"].tolist() == ["Q", "Q", "P", "Q"]
