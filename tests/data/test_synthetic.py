"""The synthetic CIFAR-format source: format, determinism, labels, learnability."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from cifar100_kedro.data.cifar_format import read_archive
from cifar100_kedro.data.labels import (
    COARSE_LABEL_NAMES,
    FINE_LABEL_NAMES,
    FINE_TO_COARSE,
    SUPERCLASSES,
)
from cifar100_kedro.data.synthetic import generate_split, write_synthetic_archive


def test_real_label_names_and_mapping():
    assert len(FINE_LABEL_NAMES) == 100 and len(COARSE_LABEL_NAMES) == 20
    assert FINE_LABEL_NAMES[:3] == ("apple", "aquarium_fish", "baby")
    # Spot checks against the official meta file's order and mapping.
    assert FINE_TO_COARSE[FINE_LABEL_NAMES.index("aquarium_fish")] == COARSE_LABEL_NAMES.index(
        "fish"
    )
    assert COARSE_LABEL_NAMES[FINE_TO_COARSE[FINE_LABEL_NAMES.index("maple_tree")]] == "trees"
    assert FINE_TO_COARSE[:10].tolist() == [4, 1, 14, 8, 0, 6, 7, 7, 18, 3]
    assert all(len(members) == 5 for members in SUPERCLASSES.values())


def test_archive_has_the_official_layout(tmp_path):
    path = write_synthetic_archive(tmp_path / "cifar-100-python.tar.gz", 3, 2, seed=1)
    contents = read_archive(path)
    train, test, meta = contents["train"], contents["test"], contents["meta"]
    assert set(train) == {b"data", b"fine_labels", b"coarse_labels", b"filenames", b"batch_label"}
    assert train[b"data"].dtype == np.uint8 and train[b"data"].shape == (300, 3072)
    assert test[b"data"].shape == (200, 3072)
    assert np.bincount(train[b"fine_labels"]).tolist() == [3] * 100
    assert [FINE_TO_COARSE[f] for f in train[b"fine_labels"]] == train[b"coarse_labels"]
    assert [n.decode() for n in meta[b"fine_label_names"]] == list(FINE_LABEL_NAMES)
    assert [n.decode() for n in meta[b"coarse_label_names"]] == list(COARSE_LABEL_NAMES)


def test_generation_is_deterministic_per_seed():
    a, b, c = generate_split(2, seed=5), generate_split(2, seed=5), generate_split(2, seed=6)
    assert np.array_equal(a[b"data"], b[b"data"]) and a[b"fine_labels"] == b[b"fine_labels"]
    assert not np.array_equal(a[b"data"], c[b"data"])


def test_learnable_and_superclasses_easier_than_classes():
    """k-NN on 8×8 thumbnails beats chance by far, and superclasses are easier than classes."""

    def features(split):
        images = split[b"data"].reshape(-1, 3, 32, 32).astype(np.float32) / 255
        return images.reshape(-1, 3, 8, 4, 8, 4).mean(axis=(3, 5)).reshape(len(images), -1)

    train, test = generate_split(10, seed=0), generate_split(3, seed=1)
    x_train, x_test = features(train), features(test)
    scores = {}
    for key in (b"fine_labels", b"coarse_labels"):
        clf = KNeighborsClassifier(n_neighbors=5).fit(x_train, train[key])
        scores[key] = clf.score(x_test, test[key])
    assert scores[b"fine_labels"] > 0.4  # chance is 0.01
    assert scores[b"coarse_labels"] > scores[b"fine_labels"]
