"""``kedro run --pipeline=paper_studies``: the papers' extra experiments, opt-in.

Every registered architecture that the training pipeline produces but the default run
leaves out (``default_run=False`` in ``architectures.py``: paper 000 under the paper's own
protocol, paper 001's 5-layer baseline and its learning-rate / optimiser study), each a
namespace trained by the training pipeline's template and reported by the reporting
pipeline's per-architecture template, after data_processing. They are not in the
cross-architecture comparison (each changes one thing of a compared model; their own reports
and the papers' figures sit in their folders).
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from cifar100_kedro import architectures
from cifar100_kedro.pipelines import data_processing
from cifar100_kedro.pipelines.reporting.pipeline import create_evaluation_pipeline
from cifar100_kedro.pipelines.training.pipeline import create_training_template


def studies() -> tuple[architectures.Architecture, ...]:
    """The opt-in experiments, in registry order."""
    return tuple(a for a in architectures.produced_by("training") if not a.default_run)


def create_pipeline(**kwargs) -> Pipeline:
    """data_processing, then each study namespace trained and reported."""
    pipeline = data_processing.create_pipeline()
    for study in studies():
        pipeline += create_training_template(study.namespace, study.extra_inputs, study.protocol)
        pipeline += create_evaluation_pipeline(study.namespace)
    return pipeline
