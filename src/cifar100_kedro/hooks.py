"""Project hooks: TensorFlow device settings and recipe checks, once per run."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl

from cifar100_kedro.training.recipe import validate_model_params, validate_train_params

logger = logging.getLogger(__name__)


def _uses_keras(dataset: str) -> bool:
    return dataset.endswith((".model", ".train", "params:device"))


class DeviceHooks:
    """Applies the ``device`` parameters before the pipeline runs and checks every recipe
    the pipeline will use, so a bad parameter fails before any training starts."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        params = catalog.load("parameters") if "parameters" in catalog else {}
        # Only runs that build or load Keras models pay for importing TensorFlow
        # (data_processing alone stays light).
        if any(_uses_keras(name) for name in pipeline.datasets()):
            from cifar100_kedro.training.device import configure_device

            configure_device(params.get("device"))
        # Every `params:<namespace>.train` / `.model` the pipeline consumes.
        for dataset in sorted(pipeline.inputs()):
            if not dataset.startswith("params:"):
                continue
            name = dataset[len("params:"):]
            value = catalog.load(dataset)
            if name.endswith(".train") or name == "train":
                validate_train_params(value, name)
            elif name.endswith(".model") or name == "model":
                validate_model_params(value, name)
