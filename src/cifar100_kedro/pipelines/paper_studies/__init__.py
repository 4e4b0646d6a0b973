"""The papers' opt-in experiments: trained and reported like every architecture."""

from cifar100_kedro.pipelines.paper_studies.pipeline import create_pipeline

__all__ = ["create_pipeline"]
