"""data_processing nodes: validation errors, channel-major reshape, split, statistics."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from cifar100_kedro.data.labels import COARSE_LABEL_NAMES, FINE_LABEL_NAMES, FINE_TO_COARSE
from cifar100_kedro.data.synthetic import generate_split
from cifar100_kedro.pipelines.data_processing.nodes import (
    compute_normalization_stats,
    extract_arrays,
    split_train_validation,
    validate_archive,
)


@pytest.fixture(scope="module")
def archive():
    return {
        "path": "data/01_raw/cifar-100-python.tar.gz",
        "meta": {
            b"fine_label_names": [n.encode() for n in FINE_LABEL_NAMES],
            b"coarse_label_names": [n.encode() for n in COARSE_LABEL_NAMES],
        },
        "train": generate_split(5, seed=0),
        "test": generate_split(2, seed=1),
    }


def _broken(archive, split, key, value):
    bad = copy.deepcopy(archive)
    bad[split][key] = value
    return bad


def test_valid_archive_passes_unchanged(archive):
    assert validate_archive(archive) is archive


@pytest.mark.parametrize(
    ("split", "key", "value", "message"),
    [
        (
            "train",
            b"data",
            np.zeros((500, 3000), np.uint8),
            r"train: 'data' must have shape \(N, 3072\), found \(500, 3000\)",
        ),
        (
            "train",
            b"data",
            np.zeros((500, 3072), np.float32),
            "train: 'data' must be a uint8 numpy array, found float32",
        ),
        (
            "test",
            b"fine_labels",
            [100] * 200,
            r"test: 'fine_labels' must lie in \[0, 99\], found \[100, 100\]",
        ),
        ("test", b"coarse_labels", [-1] * 200, r"'coarse_labels' must lie in \[0, 19\]"),
        ("train", b"fine_labels", [0] * 3, "'fine_labels' has 3 entries for 500 images"),
    ],
)
def test_bad_arrays_are_named(archive, split, key, value, message):
    with pytest.raises(ValueError, match=message) as info:
        validate_archive(_broken(archive, split, key, value))
    assert "cifar-100-python.tar.gz" in str(info.value)


def test_missing_key_and_names(archive):
    bad = copy.deepcopy(archive)
    del bad["train"][b"coarse_labels"]
    with pytest.raises(ValueError, match="train: missing key 'coarse_labels'"):
        validate_archive(bad)
    bad = copy.deepcopy(archive)
    bad["meta"][b"coarse_label_names"] = [b"x"] * 19
    with pytest.raises(ValueError, match="'coarse_label_names' has 19 names, expected 20"):
        validate_archive(bad)


def test_reshape_is_channel_major(archive):
    raw = archive["train"][b"data"]
    train, test, names = extract_arrays(archive)
    image = train["images"][7]
    assert train["images"].shape == (500, 32, 32, 3) and train["images"].dtype == np.uint8
    # Row layout: 1024 red, 1024 green, 1024 blue values, each row-major over 32×32.
    assert (
        image[0, 0, 0] == raw[7, 0]
        and image[0, 0, 1] == raw[7, 1024]
        and image[0, 0, 2] == raw[7, 2048]
    )
    assert image[0, 1, 0] == raw[7, 1] and image[1, 0, 0] == raw[7, 32]
    assert test["images"].shape == (200, 32, 32, 3)
    assert names["fine"] == list(FINE_LABEL_NAMES) and names["coarse"] == list(COARSE_LABEL_NAMES)
    assert names["fine_to_coarse"] == FINE_TO_COARSE.tolist()


def test_split_is_stratified_seeded_and_disjoint(archive):
    train, _, _ = extract_arrays(archive)
    fit, val = split_train_validation(train, {"validation_fraction": 0.2, "seed": 3})
    assert len(fit["fine"]) == 400 and len(val["fine"]) == 100
    assert np.bincount(val["fine"], minlength=100).tolist() == [1] * 100  # 1 of 5 per class
    again, _ = split_train_validation(train, {"validation_fraction": 0.2, "seed": 3})
    assert np.array_equal(fit["images"], again["images"])
    other, _ = split_train_validation(train, {"validation_fraction": 0.2, "seed": 4})
    assert not np.array_equal(fit["fine"], other["fine"])
    # Images and labels stay paired: each image's class is recoverable from the originals.
    originals = {img.tobytes(): label for img, label in zip(train["images"], train["fine"])}
    assert all(originals[img.tobytes()] == label for img, label in zip(val["images"], val["fine"]))


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, "0.2"])
def test_split_fraction_outside_unit_interval(archive, fraction):
    train, _, _ = extract_arrays(archive)
    with pytest.raises(ValueError, match=r"'split.validation_fraction' must be in \(0, 1\)"):
        split_train_validation(train, {"validation_fraction": fraction})


def test_statistics_match_numpy(archive):
    train, _, _ = extract_arrays(archive)
    stats = compute_normalization_stats(train)
    pixels = train["images"].reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=0), rtol=1e-10)
    assert stats["num_images"] == 500
