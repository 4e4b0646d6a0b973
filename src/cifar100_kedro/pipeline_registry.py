"""Project pipelines.

Each pipeline users run by name is its own package under ``pipelines/`` (Kedro 1.5+ imports
``cifar100_kedro.pipelines.<name>`` for ``kedro run --pipeline=<name>``).
"""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# The default run: data, autoencoder pre-training (paper 003 transfer models), every
# architecture, reports. Heavier, opt-in pipelines
# (fish_subset, cross_validation, hyperparameter_search, ...) run by name.
DEFAULT_PIPELINES = ("data_processing", "autoencoder", "training", "reporting")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipelines[name] for name in DEFAULT_PIPELINES if name in pipelines), Pipeline([])
    )
    return pipelines
