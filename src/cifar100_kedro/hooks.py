"""Project hooks: TensorFlow process settings and every recipe parsed, once per run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from cifar100_kedro import architectures, seed_axis
from cifar100_kedro.training.recipe import parse_recipe

logger = logging.getLogger(__name__)


def _uses_keras(dataset: str) -> bool:
    return dataset.endswith((".model", ".train", "params:device"))


class SeedAxisHooks:
    """Once the run's context exists: read ``training_run.seeds`` (and ``seed_architectures``)
    with ``--env`` and ``--params`` merged, check them, and set the seed axis the training and
    reporting pipelines are built with (:mod:`cifar100_kedro.seed_axis`).

    Kedro builds pipelines on their first use, which comes after this hook in ``kedro run``,
    ``kedro viz`` and ``%reload_kedro``. A process that already built them with another axis
    (a second session in a notebook or a test) has them rebuilt.
    """

    @hook_impl
    def after_context_created(self, context) -> None:
        axis = seed_axis.parse_seed_axis(
            context.params.get("training_run"),
            known=[a.namespace for a in architectures.seedable()],
        )
        if seed_axis.configure(axis):
            from kedro.framework.project import PACKAGE_NAME, pipelines

            pipelines.configure(f"{PACKAGE_NAME}.pipeline_registry")
        if axis.seeds:
            logger.info(
                "Seeds %s for %s", list(axis.seeds),
                "every compared architecture" if axis.architectures is None
                else ", ".join(axis.architectures),
            )  # fmt: skip


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


class TrainingStateHooks:
    """Deletes a finished training's resume state once its outputs are saved.

    The engine keeps the state of a finished training, so that a run killed between the end
    of training and the saving of its outputs returns the same model on the next run without
    training again. A training node saves its ``…training_summary`` last (after the model and
    the history); once that is saved the state has done its job, and for the widest models it
    is gigabytes (weights and optimiser moments).
    """

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        if not dataset_name.endswith("training_summary") or not isinstance(data, dict):
            return
        folder = data.get("run_folder")
        if folder:
            from cifar100_kedro.training.resume import clear_if_finished

            if clear_if_finished(Path(folder) / "backup"):
                logger.info("%s saved: its finished training state is removed", dataset_name)
