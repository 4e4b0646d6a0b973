"""The project's Kedro datasets: NumpyDataset and CIFAR100ArchiveDataset (all sources)."""

from __future__ import annotations

import hashlib
import http.server
import threading

import numpy as np
import pytest
from kedro.io.core import DatasetError

from cifar100_kedro.data.synthetic import write_synthetic_archive
from cifar100_kedro.datasets import CIFAR100ArchiveDataset, NumpyDataset


def test_numpy_dataset_round_trip_without_pickle(tmp_path):
    dataset = NumpyDataset(str(tmp_path / "sub" / "arrays.npz"))
    arrays = {"images": np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3), "fine": np.array([1, 2])}
    dataset.save(arrays)
    loaded = dataset.load()
    assert loaded.keys() == arrays.keys()
    assert all(
        np.array_equal(loaded[k], arrays[k]) and loaded[k].dtype == arrays[k].dtype for k in arrays
    )
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["arrays.npz"]


def test_numpy_dataset_refuses_object_arrays(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DatasetError, match="objects.npz: not a readable .npz"):
        NumpyDataset(str(path)).load()


def test_a_missing_npz_names_the_file_and_the_pipeline_that_writes_the_splits(tmp_path):
    expected = r"train\.npz: file not found.*--pipeline=data_processing"
    with pytest.raises(DatasetError, match=expected):
        NumpyDataset(str(tmp_path / "train.npz")).load()


def test_numpy_dataset_rejects_non_dict(tmp_path):
    with pytest.raises(DatasetError, match="dict of numpy arrays"):
        NumpyDataset(str(tmp_path / "x.npz")).save([1, 2])


def test_synthetic_source_generates_once_and_regenerates_on_change(tmp_path):
    path = tmp_path / "cifar-100-python.tar.gz"
    dataset = CIFAR100ArchiveDataset(
        str(path),
        source="synthetic",
        synthetic={"train_images_per_class": 2, "test_images_per_class": 1},
    )
    first = dataset.load()
    assert first["train"][b"data"].shape == (200, 3072) and first["path"] == str(path)
    stamp = path.stat().st_mtime_ns
    dataset.load()
    assert path.stat().st_mtime_ns == stamp  # reused
    bigger = CIFAR100ArchiveDataset(
        str(path),
        source="synthetic",
        synthetic={"train_images_per_class": 3, "test_images_per_class": 1},
    )
    assert bigger.load()["train"][b"data"].shape == (300, 3072)


def test_local_source_checks_md5_when_given(tmp_path):
    path = write_synthetic_archive(tmp_path / "mirror.tar.gz", 1, 1)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    assert CIFAR100ArchiveDataset(str(path), source="local", md5=md5).load()["test"][
        b"data"
    ].shape == (100, 3072)
    with pytest.raises(DatasetError, match="mirror.tar.gz: md5 is"):
        CIFAR100ArchiveDataset(str(path), source="local", md5="f" * 32).load()


def test_local_source_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="nothere.tar.gz: local CIFAR-100 archive not found"):
        CIFAR100ArchiveDataset(str(tmp_path / "nothere.tar.gz"), source="local").load()


def test_unknown_source_is_rejected():
    with pytest.raises(DatasetError, match="unknown source 'ftp'"):
        CIFAR100ArchiveDataset("x.tar.gz", source="ftp")


def test_download_source_serves_a_generated_archive_from_localhost(tmp_path):
    served = write_synthetic_archive(tmp_path / "served" / "cifar-100-python.tar.gz", 1, 1)
    blob = served.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/cifar-100-python.tar.gz"
        target = tmp_path / "raw" / "cifar-100-python.tar.gz"
        dataset = CIFAR100ArchiveDataset(
            str(target), source="download", url=url, md5=hashlib.md5(blob).hexdigest()
        )
        assert dataset.load()["train"][b"data"].shape == (100, 3072)
        assert target.read_bytes() == blob
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_keras_model_dataset_round_trips_a_model_with_shear_augmentation(tmp_path):
    """Keras' own RandomShear cannot be reloaded (3.15); the project's layer can."""
    import keras

    from cifar100_kedro.datasets import KerasModelDataset
    from cifar100_kedro.training.assembly import assemble_model

    body = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model = assemble_model(
        body, "rescale", None, [{"name": "random_shear", "x_factor": 0.2, "y_factor": 0.0}]
    )
    images = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    dataset = KerasModelDataset(filepath=str(tmp_path / "model.keras"))
    dataset.save(model)
    loaded = dataset.load()
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5
    )
    shear = loaded.get_layer("augmentation").layers[0]
    assert type(shear).__name__ == "SymmetricRandomShear" and shear.get_config()["x_factor"] == 0.2


def test_markdown_dataset_round_trips_and_previews_tables_as_html(tmp_path) -> None:
    from cifar100_kedro.datasets import MarkdownDataset

    page = "# Paper 000\n\n| metric | paper | ours |\n|---|---|---|\n| accuracy | 67.66 | 12.5 |\n"
    dataset = MarkdownDataset(filepath=str(tmp_path / "paper_000.md"))
    dataset.save(page)
    assert dataset.load() == page
    html = dataset.preview()
    assert "<h1>Paper 000</h1>" in html
    assert "<table>" in html and "<td>67.66</td>" in html
    # kedro-viz picks the preview kind from the return annotation's name, as here.
    import inspect

    annotation = inspect.signature(MarkdownDataset.preview).return_annotation
    assert getattr(annotation, "__name__", str(annotation)) == "HTMLPreview"
