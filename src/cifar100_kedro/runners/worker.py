"""What a Dask worker process runs for one task: a group of nodes, with the project's hooks.

Kedro's hooks live in the driver's plugin manager, which cannot be pickled. Each worker
process configures the project once (settings, logging) and registers the project's own
hooks (``settings.HOOKS``), as Kedro's ``ParallelRunner`` does for its processes; plugin
hooks installed by entry points (kedro-viz, kedro-mlflow) stay in the driver. Before its
nodes, a task calls ``before_pipeline_run`` with the one-task pipeline: in this project that
is ``DeviceHooks``, which applies the ``device`` parameters to the process before anything
loads TensorFlow, seeds every generator with ``device.seed`` and parses the task's recipes,
exactly what the sequential runner does once for the whole run. Node and dataset hooks
(``TrainingStateHooks`` and the like) then run around each node in the worker.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner.task import Task

logger = logging.getLogger(__name__)

_CONFIGURED: set[str] = set()  # projects this process has configured


def _hook_manager(package_name: str | None, logging_config: dict[str, Any] | None):
    """The project's hooks in this process (settings and logging configured once); no hooks
    for a pipeline run outside a project (``package_name`` None)."""
    from kedro.framework.hooks.manager import _create_hook_manager, _register_hooks
    from kedro.framework.project import configure_logging, configure_project, settings

    if package_name is None:
        return _create_hook_manager()
    if package_name not in _CONFIGURED:
        configure_project(package_name)
        if logging_config:
            configure_logging(logging_config)
        # Kedro's logging config puts the root logger at INFO: Dask's own lines would drown
        # the project's.
        logging.getLogger("distributed").setLevel(logging.WARNING)
        _CONFIGURED.add(package_name)
    manager = _create_hook_manager()
    _register_hooks(manager, settings.HOOKS)
    return manager


def run_group(
    package_name: str | None,
    logging_config: dict[str, Any] | None,
    nodes: list[Node],
    datasets: dict[str, Any],
    run_id: str | None,
    is_async: bool,
    returned: list[str],
    *upstream: Any,
) -> dict[str, Any]:
    """Run ``nodes`` in order on a catalog of ``datasets``; return the ``returned`` data.

    Args:
        package_name, logging_config: the project to configure in this process.
        nodes: the group's nodes, in topological order.
        datasets: every dataset the nodes touch (in-memory hand-offs inside the group
            included), plus ``parameters`` when the driver's catalog has it.
        run_id: the Kedro run's id, for the hooks.
        is_async: load and save with threads (``--async``).
        returned: in-memory pipeline outputs that go back to the driver.
        upstream: the results of the tasks this one waits for (only their order matters).
    """
    del upstream
    from distributed import get_worker

    hook_manager = _hook_manager(package_name, logging_config)
    catalog = DataCatalog(datasets=datasets)
    pipeline = Pipeline(nodes)
    logger.info(
        "%s: on Dask worker %s (pid %d)",
        ", ".join(n.name for n in nodes), get_worker().address, os.getpid(),
    )  # fmt: skip
    run_params = {"run_id": run_id, "runner": "DaskRunner worker", "node_names": []}
    hook_manager.hook.before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)
    for node in pipeline.nodes:
        Task(node=node, catalog=catalog, hook_manager=hook_manager, is_async=is_async,
             run_id=run_id).execute()  # fmt: skip
    return {name: catalog.load(name) for name in returned}
