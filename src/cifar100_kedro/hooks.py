"""Project hooks: TensorFlow process settings and every recipe parsed, once per run."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl

from cifar100_kedro import architectures
from cifar100_kedro.training.recipe import parse_recipe

logger = logging.getLogger(__name__)


def _uses_keras(dataset: str) -> bool:
    return dataset.endswith((".model", ".train", "params:device"))


class DeviceHooks:
    """Before the pipeline runs: apply the ``device`` parameters to the process (thread pools
    and device visibility can only be set before TensorFlow starts) and parse every recipe
    the pipeline will train, so a bad parameter fails before any training starts.

    Nodes still get ``params:device`` as an input and hand it to the engine: the hook only
    makes sure the process is configured before the first node touches TensorFlow.
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        params = catalog.load("parameters") if "parameters" in catalog else {}
        # Only runs that build or load Keras models pay for importing TensorFlow
        # (data_processing alone stays light).
        if any(_uses_keras(name) for name in pipeline.datasets()):
            from cifar100_kedro.training.device import configure_device

            configure_device(params.get("device"))
        namespaces = {
            name[len("params:") :].rsplit(".", 1)[0]
            for name in pipeline.inputs()
            if name.startswith("params:") and name.endswith((".train", ".model"))
        }
        for namespace in sorted(namespaces):
            recipe = params.get(namespace) or {}
            try:
                task = architectures.get(namespace).task
            except KeyError:
                task = "classification"
            parse_recipe(
                namespace,
                recipe.get("model"),
                recipe.get("train"),
                params.get("training_run"),
                task,
            )
