"""The data_processing pipeline: raw archive → model input."""

from kedro.pipeline import Pipeline, node

from cifar100_kedro.pipelines.data_processing.nodes import (
    compute_normalization_stats,
    extract_arrays,
    split_train_validation,
    validate_archive,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Validate the archive, build uint8 arrays, split train/validation, compute statistics."""
    return Pipeline(
        [
            node(
                validate_archive, "cifar100_archive", "validated_archive", name="validate_archive"
            ),
            node(
                extract_arrays,
                "validated_archive",
                ["train_full", "test_split", "label_names"],
                name="extract_arrays",
            ),
            node(
                split_train_validation,
                ["train_full", "params:split"],
                ["train_split", "validation_split"],
                name="split_train_validation",
            ),
            node(
                compute_normalization_stats,
                "train_split",
                "normalization_stats",
                name="compute_normalization_stats",
            ),
        ]
    )
