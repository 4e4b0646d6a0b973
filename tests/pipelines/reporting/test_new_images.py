"""New images: folder dataset, decoding of any size, unreadable files, top-k bar charts."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image

from cifar100_kedro.pipelines.reporting import new_images as ni
from tests.pipelines.reporting.fakes import FakeModel, make_summary


def _encode(size, fmt, mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=(200, 30, 30) if mode == "RGB" else None).save(buffer, format=fmt)
    return buffer.getvalue()


def test_folder_dataset_missing_folder_is_empty(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    assert ni.ImageFolderDataset(str(tmp_path / "nope")).load() == {}
    assert "does not exist" in caplog.text


def test_folder_dataset_reads_images_only(tmp_path, caplog):
    (tmp_path / "b.PNG").write_bytes(_encode((50, 40), "PNG"))
    (tmp_path / "a.jpeg").write_bytes(_encode((300, 200), "JPEG"))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".gitkeep").write_text("")
    files = ni.ImageFolderDataset(str(tmp_path)).load()
    assert list(files) == ["a.jpeg", "b.PNG"]
    assert "notes.txt" in caplog.text


@pytest.mark.parametrize(
    "size, fmt, mode",
    [((300, 200), "JPEG", "RGB"), ((7, 90), "PNG", "RGBA"), ((32, 32), "PNG", "L")],
)
def test_decode_any_size_to_32(size, fmt, mode):
    image = ni.decode_image(_encode(size, fmt, mode), 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8


def test_decode_rejects_other_formats():
    with pytest.raises(ValueError, match="GIF"):
        ni.decode_image(_encode((10, 10), "GIF", "L"))
    with pytest.raises(ValueError, match="not a readable"):
        ni.decode_image(b"definitely not an image")


def test_unreadable_file_is_reported_by_name_and_skipped(caplog):
    files = {"good.png": _encode((64, 64), "PNG"), "broken.jpg": b"\xff\xd8 truncated"}
    names, images = ni.decode_new_images(files, who="toy")
    assert names == ["good.png"] and images.shape == (1, 32, 32, 3)
    assert "broken.jpg" in caplog.text and "toy: skipping" in caplog.text


def test_top_k_table():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    table = ni.top_k_table(probs, ["x.png", "y.png"], ["a", "b", "c"], k=2)
    assert table["class"].tolist() == ["b", "c", "a", "c"]
    assert table["rank"].tolist() == [1, 2, 1, 2]
    assert table["probability"].tolist() == pytest.approx([0.6, 0.3, 0.5, 0.3])
    with pytest.raises(ValueError, match=r"\(2, 3\).*4 class names"):
        ni.top_k_table(probs, ["x.png", "y.png"], ["a", "b", "c", "d"])


def test_predict_new_images_figures(label_names, reporting):
    files = {"cat.jpg": _encode((120, 80), "JPEG"), "dog.png": _encode((16, 16), "PNG")}
    figures, table = ni.predict_new_images(
        FakeModel(6), files, label_names, make_summary(), reporting
    )
    assert sorted(figures) == ["cat.jpg.png", "dog.png.png"]
    fig = figures["cat.jpg.png"]
    bars_ax = fig.axes[2]
    assert len(bars_ax.patches) == 3  # top-3 from the test parameters
    assert "probability" in bars_ax.get_xlabel()
    assert "toy_cnn" in fig._suptitle.get_text() and "cat.jpg" in fig._suptitle.get_text()
    assert len(table) == 6 and set(table["image"]) == {"cat.jpg", "dog.png"}


def test_predict_new_images_empty_folder_skips(label_names, reporting, caplog):
    caplog.set_level(logging.INFO)
    model = FakeModel(6)
    figures, table = ni.predict_new_images(model, {}, label_names, make_summary(), reporting)
    assert figures == {} and table.empty and list(table.columns) == ni.TOP_K_COLUMNS
    assert model.calls == 0 and "skipping" in caplog.text
