"""``DaskRunner``: each node (or group of nodes joined in memory) a Dask task once its inputs
exist, on a ``LocalCluster`` or an existing Dask cluster.

The pattern of Kedro's deployment docs (a ``DaskRunner`` that submits every node with its
upstream futures as arguments), on Kedro 1.7's ``AbstractRunner``, plus what a cluster run
needs: the checks of :mod:`.handoffs` before anything starts, Dask ``retries`` (and the
scheduler's ``allowed-failures`` for lost workers), worker resources for training nodes,
single-threaded TensorFlow per local worker, progress log lines and the dashboard address.

    kedro run --runner=cifar100_kedro.runners.DaskRunner
    kedro run --runner=cifar100_kedro.runners.DaskRunner --runner-params=address=tcp://host:8786
    kedro run --runner=cifar100_kedro.runners.DaskRunner --runner-params=n_workers=4,retries=1

See docs/scaling.md.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dask
from distributed import Client, Future, LocalCluster, wait
from kedro.pipeline import Pipeline
from kedro.runner import AbstractRunner

from cifar100_kedro.runners import handoffs
from cifar100_kedro.runners.worker import run_group

# Nodes that take the device settings train (or evaluate) with TensorFlow: the ones that get
# ``training_resources`` (a GPU each on GPU workers).
TRAINING_INPUT = "params:device"


def _executing(dask_worker) -> list[str]:
    """Run on a worker: the keys of the tasks it is executing now (not those queued on it)."""
    return [task.key for task in dask_worker.state.executing]


@contextmanager
def _quiet(logger_name: str):
    """Dask's INFO lines off while the runner runs (Kedro's logging puts the root at INFO)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class DaskRunner(AbstractRunner):
    """Run a Kedro pipeline on Dask distributed (``kedro run --runner=...DaskRunner``)."""

    def __init__(
        self,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        tf_threads: int | None = None,
        memory_limit: str | float | None = "auto",
        retries: int = 2,
        training_resources: dict[str, float] | None = None,
        dashboard_address: str | None = ":8787",
        progress_interval: float = 30.0,
        group_in_memory: bool = True,
        is_async: bool = False,
    ):
        """Instantiate the runner (``--runner-params`` keys are these arguments).

        Args:
            address: an existing scheduler (``tcp://host:8786``); None starts a LocalCluster.
            n_workers: LocalCluster worker processes; None: one per CPU core.
            threads_per_worker: LocalCluster threads per worker (1: one node at a time).
            tf_threads: TensorFlow's intra-op threads per LocalCluster worker; None: the
                cores divided by the workers (2 workers on 2 cores: 1 each).
            memory_limit: LocalCluster memory per worker (Dask's ``auto``: RAM / workers).
            retries: times a failed task is run again; also the times a task may be on a
                worker that dies (the LocalCluster scheduler's ``allowed-failures``).
            training_resources: Dask resources each TensorFlow node holds, e.g.
                ``{"GPU": 1}`` (``--runner-params=training_resources.GPU=1``) for workers
                started with ``--resources GPU=1``; other nodes run on any worker.
            dashboard_address: LocalCluster dashboard (``:0`` any free port, None none).
            progress_interval: seconds between "done / running / waiting" log lines.
            group_in_memory: nodes joined by in-memory datasets run as one task; False
                stops the run with those datasets' names instead.
            is_async: load and save each node's data with threads.
        """
        super().__init__(is_async=is_async)
        if retries < 0 or threads_per_worker < 1 or (n_workers is not None and n_workers < 1):
            raise ValueError(
                "DaskRunner: retries must be >= 0, threads_per_worker and n_workers >= 1; got "
                f"retries={retries}, threads_per_worker={threads_per_worker}, "
                f"n_workers={n_workers}"
            )
        self._address = address
        self._n_workers = n_workers
        self._threads_per_worker = threads_per_worker
        self._tf_threads = tf_threads
        self._memory_limit = memory_limit
        self._retries = retries
        self._training_resources = dict(training_resources or {})
        self._dashboard_address = dashboard_address
        self._progress_interval = progress_interval
        self._group_in_memory = group_in_memory

    def _get_executor(self, max_workers: int) -> None:
        return None  # Dask is the executor

    # ------------------------------------------------------------------ the cluster
    def _local_cluster(self) -> LocalCluster:
        """Worker processes (spawned: TensorFlow is not fork-safe) sized to the machine."""
        cores = os.cpu_count() or 1
        workers = self._n_workers or cores
        tf_threads = self._tf_threads or max(1, cores // workers)
        # TensorFlow reads these when it starts in the worker; device.intra_op_threads in
        # conf, when set, still wins (DeviceHooks applies it before TensorFlow starts).
        env = {
            "TF_NUM_INTRAOP_THREADS": str(tf_threads),
            "OMP_NUM_THREADS": str(tf_threads),
        }
        with dask.config.set({"distributed.scheduler.allowed-failures": self._retries}):
            return LocalCluster(
                n_workers=workers,
                threads_per_worker=self._threads_per_worker,
                processes=True,
                memory_limit=self._memory_limit,
                dashboard_address=self._dashboard_address,
                resources=self._training_resources or None,
                env=env,
            )

    def _client(self, stack: ExitStack) -> Client:
        if self._address:
            try:
                client = Client(self._address, timeout="30s")
            except OSError as error:
                raise ConnectionError(
                    f"DaskRunner: no Dask scheduler answers at {self._address!r} ({error}); "
                    "start one with `dask scheduler` (docs/scaling.md)"
                ) from None
            return stack.enter_context(client)
        cluster = stack.enter_context(self._local_cluster())
        return stack.enter_context(Client(cluster))

    # ------------------------------------------------------------------ the checks
    def _check_storage(self, client: Client, pipeline: Pipeline, catalog: Any) -> None:
        """Every worker reads a probe file in each local storage root of the run's datasets."""
        paths = handoffs.local_paths(
            {d for d in pipeline.datasets() if not handoffs.is_in_memory(d, catalog)}, catalog
        )
        roots = handoffs.storage_roots(paths) or {".": []}  # the cwd check needs one probe
        token, probes = uuid.uuid4().hex, {}
        for root in roots:
            folder = Path(root).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".dask-runner-probe-{token}"
            probe.write_text(token, encoding="utf-8")
            probes[root] = (str(probe), token)
        try:
            answers = client.run(handoffs.probe_problems, probes, os.getcwd())
        finally:
            for probe, _ in probes.values():
                Path(probe).unlink(missing_ok=True)
        lines = [
            f"  worker {worker}: {problem}"
            for worker, problems in sorted(answers.items())
            for problem in problems
        ]
        if lines:
            names = sorted(name for datasets in roots.values() for name in datasets)
            raise handoffs.HandoffError(
                "DaskRunner: workers cannot reach the local files of datasets "
                f"{names[:12]}{' …' if len(names) > 12 else ''}:\n" + "\n".join(lines)
                + "\nStart every worker in the project folder on storage they share, or point "
                "these datasets at shared storage (docs/scaling.md)"
            )

    def _groups(self, pipeline: Pipeline, catalog: Any) -> list[handoffs.NodeGroup]:
        memory = handoffs.memory_handoffs(pipeline, catalog)
        if memory and not self._group_in_memory:
            raise handoffs.HandoffError(
                f"DaskRunner: datasets {sorted(memory)} are handed between nodes in memory and "
                "cannot cross processes: declare them in the catalog with a file type, or run "
                "with --runner-params=group_in_memory=true"
            )
        persisted = {d for d in pipeline.datasets() if not handoffs.is_in_memory(d, catalog)}
        bad = handoffs.unpicklable(persisted, catalog)
        if bad:
            raise handoffs.HandoffError(
                "DaskRunner: these datasets cannot be sent to worker processes:\n"
                + "\n".join(f"  {name}: {why}" for name, why in bad.items())
            )
        groups = handoffs.group_nodes(pipeline, memory)
        for group in groups:
            if len(group.nodes) > 1:
                self._logger.info(
                    "One Dask task for nodes joined in memory: %s",
                    ", ".join(n.name for n in group.nodes),
                )
        return groups

    # ------------------------------------------------------------------ the run
    def _run(
        self,
        pipeline: Pipeline,
        catalog: Any,
        hook_manager: Any = None,
        run_id: str | None = None,
    ) -> None:
        """Check the hand-offs, submit every group with its upstream futures, log progress."""
        del hook_manager  # the driver's hooks stay here; workers register the project's own
        from kedro.framework.project import LOGGING, PACKAGE_NAME

        groups = self._groups(pipeline, catalog)
        with ExitStack() as stack:
            stack.enter_context(_quiet("distributed"))
            client = self._client(stack)
            self._check_storage(client, pipeline, catalog)
            self._logger.info(
                "Dask: %d workers, dashboard %s",
                len(client.scheduler_info().get("workers", {})), client.dashboard_link,
            )  # fmt: skip
            futures = self._submit(client, groups, pipeline, catalog, run_id, PACKAGE_NAME,
                                   dict(LOGGING.data) if LOGGING else None)  # fmt: skip
            self._wait(client, futures, catalog)

    def _submit(
        self, client, groups, pipeline, catalog, run_id, package_name, logging_config
    ) -> dict[Future, handoffs.NodeGroup]:
        free_outputs = {d for d in pipeline.outputs() if handoffs.is_in_memory(d, catalog)}
        by_name: dict[str, Future] = {}
        futures: dict[Future, handoffs.NodeGroup] = {}
        for group in groups:  # topological: upstream futures exist
            names = group.datasets | ({"parameters"} if "parameters" in catalog else set())
            datasets = {
                name: catalog.get(name, fallback_to_runtime_pattern=True) for name in names
            }
            trains = any(TRAINING_INPUT in n.inputs for n in group.nodes)
            future = client.submit(
                run_group, package_name, logging_config, group.nodes, datasets, run_id,
                self._is_async, sorted(free_outputs & group.datasets),
                *(by_name[name] for name in sorted(group.depends_on)),
                key=f"{group.name}-{uuid.uuid4().hex[:8]}", pure=False, retries=self._retries,
                resources=self._training_resources if trains and self._training_resources
                else None,
            )  # fmt: skip
            by_name[group.name] = future
            futures[future] = group
        return futures

    def _wait(self, client: Client, futures: dict[Future, handoffs.NodeGroup], catalog) -> None:
        """Collect results as tasks finish; every ``progress_interval`` s a progress line."""
        total = sum(len(g.nodes) for g in futures.values())
        pending, done_nodes, last_report = set(futures), 0, time.monotonic()
        while pending:
            try:
                finished, pending = wait(
                    pending, timeout=self._progress_interval, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                finished = set()
            for future in finished:
                group = futures[future]
                try:
                    returned = future.result()
                except BaseException:
                    client.cancel(list(pending))
                    self._logger.warning(
                        "DaskRunner: %s failed; %d of %d nodes had completed",
                        group.name, done_nodes, total,
                    )  # fmt: skip
                    raise
                for name, data in returned.items():
                    catalog.save(name, data)
                done_nodes += len(group.nodes)
                for node in group.nodes:
                    self._logger.info("Completed node: %s", node.name)
                self._logger.info("Completed %d out of %d nodes", done_nodes, total)
            if time.monotonic() - last_report >= self._progress_interval and pending:
                self._log_progress(client, futures, pending, done_nodes, total)
                last_report = time.monotonic()

    def _log_progress(self, client, futures, pending, done_nodes: int, total: int) -> None:
        executing = {key for keys in client.run(_executing).values() for key in keys}
        running = [futures[f] for f in pending if f.key in executing]
        running_nodes = sum(len(g.nodes) for g in running)
        self._logger.info(
            "Dask progress: %d nodes done, %d running (%s), %d waiting",
            done_nodes, running_nodes, ", ".join(sorted(g.name for g in running)) or "-",
            total - done_nodes - running_nodes,
        )  # fmt: skip


__all__ = ["DaskRunner"]
