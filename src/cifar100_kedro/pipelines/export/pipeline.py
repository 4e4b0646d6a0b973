"""The ``export`` pipeline: every trained classifier of the registry to SavedModel, ONNX and
LiteRT/TFLite, checked against its ``.keras`` model, in one table.

Per namespace: ``<ns>.model_if_present`` → ``export_model`` → ``<ns>.saved_model``,
``<ns>.onnx_model``, ``<ns>.tflite_model`` (data/06_models/<ns>/export/) →
``evaluate_exports`` → ``<ns>.export_report``; then ``export_table`` over all of them
(data/08_reporting/export/). A namespace without a trained model gets no rows.
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from cifar100_kedro import architectures
from cifar100_kedro.pipelines.export import nodes as n


def export_namespaces() -> tuple[str, ...]:
    """The registry's classifiers (the autoencoder reconstructs images: nothing to classify)."""
    registered = architectures.all_architectures()
    return tuple(a.namespace for a in registered if a.task == "classification")


def _bound(func, **constants):
    return update_wrapper(partial(func, **constants), func)


def create_namespace_pipeline(namespace: str) -> Pipeline:
    """Export and evaluation of one architecture."""
    nodes = [
        node(
            _bound(n.export_model, namespace=namespace),
            ["model_if_present", "params:export"],
            ["saved_model", "onnx_model", "tflite_model"],
            name="export_model",
        ),
        node(
            _bound(n.evaluate_exports, namespace=namespace),
            [
                "model_if_present",
                "saved_model",
                "onnx_model",
                "tflite_model",
                "test_split",
                "params:export",
            ],
            "export_report",
            name="evaluate_exports",
        ),
    ]
    return Pipeline(
        nodes,
        namespace=namespace,
        inputs={"test_split"},
        parameters={"params:export"},
        tags={"export"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    """One export block per classifier, then the table across them."""
    namespaces = export_namespaces()
    table = node(
        n.export_table,
        {ns: f"{ns}.export_report" for ns in namespaces},
        ["export_table", "export_table_markdown"],
        name="export_table",
        tags={"export"},
    )
    return sum((create_namespace_pipeline(ns) for ns in namespaces), Pipeline([table]))
