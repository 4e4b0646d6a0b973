"""The fish_subset pipeline: ``kedro run --pipelines=fish_subset``.

data_processing (reused as is) → subset of classes, relabelled → stratified train/validation
split of the subset's training images (reused node) → VGG16 features once per image → head
trained by the shared engine → full model assembled → the reporting pipeline's per-model
reports, all under the ``fish_subset`` namespace. Opt-in: not part of the default run.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from cifar100_kedro.data.statistics import compute_normalization_stats
from cifar100_kedro.pipelines import data_processing
from cifar100_kedro.pipelines.fish_subset.nodes import (
    assemble_classifier,
    extract_features,
    select_subset,
    split_for_protocol,
    train_head,
)
from cifar100_kedro.pipelines.reporting import create_evaluation_pipeline

NAMESPACE = "fish_subset"


def create_subset_training_pipeline() -> Pipeline:
    """``fish_subset.*`` model input, features, head and assembled model (no reports)."""
    template = Pipeline(
        [
            node(
                select_subset,
                ["source_train", "source_test", "source_label_names", "params:subset"],
                ["training_images", "test_split", "label_names"],
                name="select_subset",
            ),
            node(
                split_for_protocol,
                ["training_images", "test_split", "params:split", "params:protocol"],
                ["train_split", "validation_split"],
                name="split_train_validation",
            ),
            node(
                compute_normalization_stats,
                "train_split",
                "normalization_stats",
                name="compute_normalization_stats",
            ),
            node(
                extract_features,
                [
                    "train_split",
                    "validation_split",
                    "normalization_stats",
                    "params:model",
                    "params:train",
                    "params:feature_cache",
                    "params:device",
                ],
                ["feature_extractor", "train_features", "validation_features", "feature_summary"],
                name="extract_features",
            ),
            node(
                train_head,
                [
                    "train_features",
                    "validation_features",
                    "params:model",
                    "params:train",
                    "params:training_run",
                    "params:device",
                    "params:protocol",
                ],
                ["head_model", "history", "head_training_summary"],
                name="train_head",
                tags=["training"],
            ),
            node(
                assemble_classifier,
                [
                    "feature_extractor",
                    "head_model",
                    "normalization_stats",
                    "params:train",
                    "head_training_summary",
                    "feature_summary",
                ],
                ["model", "training_summary"],
                name="assemble_classifier",
            ),
        ]
    )
    return Pipeline(
        template,
        namespace=NAMESPACE,
        # The full training set (the subset is split here) and test set of data_processing.
        inputs={
            "source_train": "train_full",
            "source_test": "test_split",
            "source_label_names": "label_names",
        },
        parameters={"params:split", "params:training_run", "params:device"},
        tags={NAMESPACE},
    )


def create_pipeline(**kwargs) -> Pipeline:
    """data_processing + the subset model + its reports (``data/08_reporting/fish_subset/``)."""
    reports = create_evaluation_pipeline(
        NAMESPACE,
        test_split=f"{NAMESPACE}.test_split",
        label_names=f"{NAMESPACE}.label_names",
        coarse=False,
    )
    return data_processing.create_pipeline() + create_subset_training_pipeline() + reports
