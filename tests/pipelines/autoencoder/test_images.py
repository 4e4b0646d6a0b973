"""Choosing the unlabelled pre-training images: the training split, a folder, .npz files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from cifar100_kedro.pipelines.autoencoder.nodes import select_pretraining_images


@pytest.fixture
def train_split() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "images": rng.integers(0, 256, size=(12, 32, 32, 3), dtype=np.uint8),
        "fine": np.arange(12, dtype=np.int64),
        "coarse": np.zeros(12, dtype=np.int64),
    }


def test_default_is_the_training_splits_images(train_split):
    images = select_pretraining_images(train_split, {"folder": None, "npz": None})
    assert images is train_split["images"]
    assert select_pretraining_images(train_split, None) is train_split["images"]


def test_max_images_takes_a_seeded_subset(train_split):
    first = select_pretraining_images(train_split, {"max_images": 5, "seed": 3})
    again = select_pretraining_images(train_split, {"max_images": 5, "seed": 3})
    assert first.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(first, again)


class _Records(logging.Handler):
    """Collects log messages (caplog misses them once a KedroSession reconfigured logging)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_folder_images_of_any_size_are_resized_and_unreadable_files_skipped(tmp_path, train_split):
    folder = tmp_path / "unlabelled"
    (folder / "nested").mkdir(parents=True)
    Image.new("RGB", (64, 48), (255, 0, 0)).save(folder / "big.png")
    Image.new("L", (16, 16), 128).save(folder / "nested" / "small_grey.jpg")
    Image.new("RGBA", (32, 32), (0, 0, 255, 255)).save(folder / "exact.png")
    (folder / "broken.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    records, logger = _Records(), logging.getLogger("cifar100_kedro.pipelines.autoencoder.images")
    logger.addHandler(records)
    try:
        images = select_pretraining_images(train_split, {"folder": str(folder)})
    finally:
        logger.removeHandler(records)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    # Sorted by path: big.png, exact.png, nested/small_grey.jpg.
    np.testing.assert_array_equal(images[0, 0, 0], [255, 0, 0])
    np.testing.assert_array_equal(images[1, 0, 0], [0, 0, 255])
    assert abs(int(images[2, 0, 0, 0]) - 128) <= 2
    assert any("broken.png" in m and "skipped" in m for m in records.messages), records.messages


def test_npz_of_images_or_channel_major_rows(tmp_path, train_split):
    rng = np.random.default_rng(1)
    hwc = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "hwc.npz", images=hwc)
    rows = hwc.transpose(0, 3, 1, 2).reshape(3, -1)  # CIFAR / downsampled-ImageNet layout
    np.savez(tmp_path / "rows.npz", data=rows, labels=np.zeros(3))
    np.savez(
        tmp_path / "large.npz", pictures=rng.integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    )

    np.testing.assert_array_equal(
        select_pretraining_images(train_split, {"npz": str(tmp_path / "hwc.npz")}), hwc
    )
    np.testing.assert_array_equal(
        select_pretraining_images(train_split, {"npz": str(tmp_path / "rows.npz")}), hwc
    )
    both = select_pretraining_images(
        train_split, {"npz": [str(tmp_path / "hwc.npz"), str(tmp_path / "rows.npz")]}
    )
    assert both.shape == (6, 32, 32, 3)
    resized = select_pretraining_images(train_split, {"npz": str(tmp_path / "large.npz")})
    assert resized.shape == (2, 32, 32, 3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"folder": "/nonexistent/folder"}, r"pretraining_images\.folder'.*not an existing folder"),
        ({"npz": "/nonexistent/file.npz"}, r"pretraining_images\.npz'.*not an existing file"),
        ({"folder": "a", "npz": "b"}, "not both"),
        ({"max_images": 0}, r"pretraining_images\.max_images"),
        ({"path": "x"}, "unknown keys"),
    ],
)
def test_bad_options_name_the_parameter(train_split, options, message):
    with pytest.raises(ValueError, match=message):
        select_pretraining_images(train_split, options)


def test_unusable_files_name_the_file(tmp_path, train_split):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        select_pretraining_images(train_split, {"folder": str(tmp_path / "empty")})
    (tmp_path / "only_broken").mkdir()
    (tmp_path / "only_broken" / "a.jpg").write_bytes(b"\x00")
    with pytest.raises(ValueError, match="none of the 1 image files"):
        select_pretraining_images(train_split, {"folder": str(tmp_path / "only_broken")})
    np.savez(tmp_path / "floats.npz", images=np.zeros((2, 32, 32, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"floats\.npz holds float32"):
        select_pretraining_images(train_split, {"npz": str(tmp_path / "floats.npz")})
    np.savez(tmp_path / "grey.npz", images=np.zeros((2, 32, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"grey\.npz has shape \(2, 32, 32\)"):
        select_pretraining_images(train_split, {"npz": str(tmp_path / "grey.npz")})
    (tmp_path / "garbage.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"garbage\.npz is not a readable"):
        select_pretraining_images(train_split, {"npz": str(tmp_path / "garbage.npz")})
    np.savez(tmp_path / "two.npz", a=np.zeros(1), b=np.zeros(1))
    with pytest.raises(ValueError, match=r"npz_key'.*two\.npz has no 'images' or 'data'"):
        select_pretraining_images(train_split, {"npz": str(tmp_path / "two.npz")})
