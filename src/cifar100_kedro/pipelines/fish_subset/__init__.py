"""Paper 004: VGG16 transfer learning on a class subset (default: the fish superclass)."""

from cifar100_kedro.pipelines.fish_subset.pipeline import create_pipeline

__all__ = ["create_pipeline"]
