"""``kedro run --pipeline=cross_validation``: paper 003's K-fold comparison, folds in the graph.

``assign_cross_validation_folds`` → ``<namespace>.fold_<k>`` (one node per architecture and
fold, in the architecture's namespace; each writes ``<namespace>.cv_fold_<k>``) →
``collect_cross_validation_folds`` → Tables I and II, heatmap, corrected test, verdict →
``check_cross_validation_results``. The pipeline includes data_processing (and the autoencoder's
pre-training when a transfer model is in the set), so it runs on a fresh clone.

Kedro builds pipelines before it reads conf, so the dimensions are code, in one place:
``settings.CROSS_VALIDATION`` (``folds`` = K; ``architectures``: ``None`` = the registry's
``cross_validation_defaults()``, or registered namespaces).
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from cifar100_kedro import architectures
from cifar100_kedro import settings as project_settings
from cifar100_kedro.architectures import Architecture
from cifar100_kedro.pipelines.autoencoder.pipeline import MODEL_DATASET, create_pretraining_pipeline
from cifar100_kedro.pipelines.cross_validation import nodes
from cifar100_kedro.pipelines.data_processing.pipeline import (
    create_pipeline as create_data_processing_pipeline,
)

SHARED_INPUTS = {"train_split", "validation_split", "cross_validation_folds"}
SHARED_PARAMETERS = {"params:cross_validation", "params:training_run", "params:device"}
RESULTS = "cross_validation_fold_results"
_REPORTS = {  # node name → (function, output)
    "make_cross_validation_table_2": (nodes.make_table_2, "cross_validation_table_2"),
    "plot_cross_validation_table_2": (nodes.plot_table_2, "cross_validation_table_2_heatmap"),
    "make_cross_validation_corrected_ttest": (
        nodes.make_corrected_ttest, "cross_validation_corrected_ttest",
    ),
    "make_cross_validation_verdict": (nodes.make_verdict, "cross_validation_verdict"),
}  # fmt: skip


def dimensions() -> tuple[tuple[Architecture, ...], int]:
    """``(architectures, K)`` from ``settings.CROSS_VALIDATION``, checked."""
    spec = project_settings.CROSS_VALIDATION
    folds, names = spec.get("folds"), spec.get("architectures")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"settings.CROSS_VALIDATION['folds'] must be an integer >= 2: {folds!r}")
    if names is None:
        return architectures.cross_validation_defaults(), folds
    if isinstance(names, str) or not names or len(set(names)) != len(names):
        raise ValueError(
            "settings.CROSS_VALIDATION['architectures'] must be None or distinct registered "
            f"namespaces, got {names!r}"
        )
    return tuple(architectures.get(name) for name in names), folds


def record(namespace: str, fold: int) -> str:
    """The dataset of ``namespace``'s fold ``fold`` (factory ``{namespace}.cv_fold_{k}``)."""
    return f"{namespace}.cv_fold_{fold}"


def create_fold_template(architecture: Architecture, folds: int) -> Pipeline:
    """``<namespace>.fold_<k>`` → ``<namespace>.cv_fold_<k>`` for k = 0 … K−1."""
    extra = dict(architecture.extra_inputs)
    inputs = {name: name for name in SHARED_INPUTS} | {
        "model_params": "params:model",
        "train_params": "params:train",
        "cv_params": "params:cross_validation",
        "run_settings": "params:training_run",
        "device_settings": "params:device",
    }
    fold_nodes = [
        node(
            update_wrapper(
                partial(
                    nodes.cross_validate_fold, namespace=architecture.namespace, fold=k, folds=folds
                ),
                nodes.cross_validate_fold,
            ),
            inputs=inputs | {argument: argument for argument in extra},
            outputs=f"cv_fold_{k}",
            name=f"fold_{k}",
            tags=["training", "cross_validation"],
        )
        for k in range(folds)
    ]
    return Pipeline(
        fold_nodes,
        namespace=architecture.namespace,
        inputs={name: name for name in SHARED_INPUTS} | extra,
        parameters=SHARED_PARAMETERS,
    )


def _record_inputs(chosen: tuple[Architecture, ...], folds: int) -> dict[str, str]:
    """What the collect and check nodes read: settings, each recipe and each fold record."""
    inputs = {"cv_params": "params:cross_validation", "run_settings": "params:training_run"}
    for arch in chosen:
        namespace = arch.namespace
        inputs[f"{namespace}.model"] = f"params:{namespace}.model"
        inputs[f"{namespace}.train"] = f"params:{namespace}.train"
        inputs.update({record(namespace, k): record(namespace, k) for k in range(folds)})
    return inputs


def create_cross_validation_pipeline(chosen: tuple[Architecture, ...], folds: int) -> Pipeline:
    """The folds, one node per (architecture, fold), and the comparison of ``chosen``."""
    records = _record_inputs(chosen, folds)
    comparison = Pipeline(
        [
            node(
                update_wrapper(
                    partial(nodes.assign_cross_validation_folds, folds=folds),
                    nodes.assign_cross_validation_folds,
                ),
                ["train_split", "validation_split", "params:cross_validation"],
                "cross_validation_folds",
                name="assign_cross_validation_folds",
            ),
            node(
                nodes.collect_cross_validation_folds,
                records,
                RESULTS,
                name="collect_cross_validation_folds",
            ),
            node(
                nodes.make_table_1,
                RESULTS,
                "cross_validation_table_1",
                name="make_cross_validation_table_1",
            ),
            *(
                node(function, [RESULTS, "params:cross_validation"], output, name=name)
                for name, (function, output) in _REPORTS.items()
            ),
            node(
                nodes.check_cross_validation_results,
                records | {"fold_results": RESULTS},
                None,
                name="check_cross_validation_results",
            ),
        ],
        tags=["cross_validation"],
    )
    return comparison + sum((create_fold_template(arch, folds) for arch in chosen), Pipeline([]))


def create_pipeline(**kwargs) -> Pipeline:
    """data_processing (+ the autoencoder for transfer models) + the K-fold comparison."""
    chosen, folds = dimensions()
    pipeline = create_data_processing_pipeline() + create_cross_validation_pipeline(chosen, folds)
    if any(MODEL_DATASET in arch.extra_inputs.values() for arch in chosen):
        pipeline += create_pretraining_pipeline()
    return pipeline
