"""Subset selection and relabelling (fish_subset.select_subset), on a tiny labelled split."""

from __future__ import annotations

import numpy as np
import pytest

from cifar100_kedro.data.labels import COARSE_LABEL_NAMES, FINE_LABEL_NAMES, FINE_TO_COARSE
from cifar100_kedro.pipelines.fish_subset.nodes import resolve_class_names, select_subset

FISH = ["aquarium_fish", "flatfish", "ray", "shark", "trout"]
LABEL_NAMES = {
    "fine": list(FINE_LABEL_NAMES),
    "coarse": list(COARSE_LABEL_NAMES),
    "fine_to_coarse": FINE_TO_COARSE.tolist(),
}


def make_split(per_class: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``per_class`` images of each of the 100 classes, shuffled; pixel (0,0,0) = fine label."""
    rng = np.random.default_rng(seed)
    fine = np.repeat(np.arange(100), per_class)
    rng.shuffle(fine)
    images = rng.integers(0, 256, (len(fine), 32, 32, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = fine  # lets a test check that each image kept its own label
    return {"images": images, "fine": fine.astype(np.int64), "coarse": FINE_TO_COARSE[fine]}


def test_default_fish_classes_are_relabelled_in_the_papers_order():
    train, test = make_split(4), make_split(2, seed=1)
    sub_train, sub_test, names = select_subset(train, test, LABEL_NAMES, {"classes": FISH})

    assert names["fine"] == FISH
    # The paper's appendix: fine_class_names.index(...) for its five classes.
    assert names["source_fine"] == [FINE_LABEL_NAMES.index(c) for c in FISH] == [1, 32, 67, 73, 91]
    for subset, per_class in ((sub_train, 4), (sub_test, 2)):
        assert len(subset["fine"]) == 5 * per_class
        assert np.bincount(subset["fine"]).tolist() == [per_class] * 5
        # relabelled 0..4, traceable to the original labels, images carried with their label
        np.testing.assert_array_equal(
            np.asarray(names["source_fine"])[subset["fine"]], subset["source_fine"]
        )
        np.testing.assert_array_equal(subset["images"][:, 0, 0, 0], subset["source_fine"])
        assert set(subset["coarse"].tolist()) == {COARSE_LABEL_NAMES.index("fish")}
        assert subset["images"].dtype == np.uint8 and subset["fine"].dtype == np.int64


def test_superclass_name_equals_its_five_classes():
    assert resolve_class_names("fish", LABEL_NAMES) == resolve_class_names(FISH, LABEL_NAMES)


def test_any_list_order_defines_the_new_labels_and_superclasses_expand():
    indices = resolve_class_names(["trout", "people", "apple"], LABEL_NAMES)
    people = [FINE_LABEL_NAMES.index(c) for c in ("baby", "boy", "girl", "man", "woman")]
    assert indices == [FINE_LABEL_NAMES.index("trout"), *people, FINE_LABEL_NAMES.index("apple")]
    train, test = make_split(3), make_split(1)
    sub_train, _, names = select_subset(
        train, test, LABEL_NAMES, {"classes": ["trout", "people", "apple"]}
    )
    assert names["fine"] == ["trout", "baby", "boy", "girl", "man", "woman", "apple"]
    assert (
        sub_train["fine"][sub_train["source_fine"] == FINE_LABEL_NAMES.index("apple")].tolist()
        == [6] * 3
    )


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as error:
        resolve_class_names(["shark", "goldfish"], LABEL_NAMES)
    message = str(error.value)
    assert "fish_subset.subset.classes" in message and "'goldfish'" in message
    assert "aquarium_fish" in message and "willow_tree" in message  # valid fine names
    assert "vehicles_2" in message  # valid superclass names


@pytest.mark.parametrize(
    ("classes", "fragment"),
    [
        (["shark", "shark"], "more than once"),
        (["fish", "trout"], "more than once"),
        (["shark"], "at least two classes"),
        ([], "must be a class"),
        (None, "must be a class"),
        ([3, 4], "must be a class"),
    ],
)
def test_bad_selections_fail_naming_the_parameter(classes, fragment):
    with pytest.raises(ValueError, match=fragment) as error:
        resolve_class_names(classes, LABEL_NAMES)
    assert "fish_subset.subset.classes" in str(error.value)


def test_a_class_without_test_images_is_reported():
    train, test = make_split(2), make_split(1)
    test = {k: v[test["fine"] != FINE_LABEL_NAMES.index("ray")] for k, v in test.items()}
    with pytest.raises(
        ValueError, match=r"test set: no images of the selected class\(es\) \[.ray.\]"
    ):
        select_subset(train, test, LABEL_NAMES, {"classes": FISH})


def test_the_papers_protocol_fits_every_training_image_and_watches_the_test_set():
    import numpy as np

    from cifar100_kedro.pipelines.fish_subset.nodes import split_for_protocol

    labels = np.repeat(np.arange(5), 10)
    training = {"images": np.zeros((50, 4, 4, 3), np.uint8), "fine": labels}
    test = {"images": np.ones((10, 4, 4, 3), np.uint8), "fine": np.arange(10) % 5}
    fit_on, watched = split_for_protocol(training, test, {"validation_fraction": 0.2}, "paper")
    assert len(fit_on["fine"]) == 50 and (watched["images"] == 1).all()
    fit_on, watched = split_for_protocol(training, test, {"validation_fraction": 0.2}, "holdout")
    assert (len(fit_on["fine"]), len(watched["fine"])) == (40, 10) and (
        watched["images"] == 0
    ).all()
    with pytest.raises(ValueError, match="'fish_subset.protocol' must be 'holdout' or 'paper'"):
        split_for_protocol(training, test, {}, "papers")
