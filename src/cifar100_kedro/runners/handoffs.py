"""What crosses between Dask tasks, checked before a run: pure functions over the pipeline.

A dataset that two nodes hand over in memory (a ``MemoryDataset``, or a name the catalog does
not declare) cannot cross processes. The producer and its consumers are then one task (the
same grouping kedro-airflow's ``--group-in-memory`` does), or, with grouping off, the run
stops with the datasets' names. Every persisted dataset must be picklable (it travels to the
worker) and, when it is a local file, reachable at the same path by every worker.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import PurePosixPath
from typing import Any

import cloudpickle
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node


class HandoffError(ValueError):
    """A dataset the pipeline passes between tasks cannot cross processes or machines."""


@dataclass
class NodeGroup:
    """Nodes that run as one Dask task (in topological order), and the groups it waits for."""

    name: str
    nodes: list[Node]
    depends_on: set[str] = field(default_factory=set)

    @property
    def inputs(self) -> set[str]:
        return set(Pipeline(self.nodes).inputs())

    @property
    def datasets(self) -> set[str]:
        return set(Pipeline(self.nodes).datasets())


def is_in_memory(name: str, catalog: Any) -> bool:
    """True for a dataset that lives only in a process's memory (undeclared, or ephemeral)."""
    if name not in catalog:
        return True
    return bool(getattr(catalog.get(name), "_EPHEMERAL", False))


def memory_handoffs(pipeline: Pipeline, catalog: Any) -> set[str]:
    """The datasets one node of ``pipeline`` produces and another consumes in memory."""
    produced = {name for node in pipeline.nodes for name in node.outputs}
    consumed = {name for node in pipeline.nodes for name in node.inputs}
    return {name for name in produced & consumed if is_in_memory(name, catalog)}


def group_nodes(pipeline: Pipeline, handoffs: set[str]) -> list[NodeGroup]:
    """One group per set of nodes joined by in-memory ``handoffs`` (else one node a group).

    Raises:
        HandoffError: grouping would make two groups wait for each other (a node outside a
            group sits between two of its nodes); the message names the datasets to persist.
    """
    parent = {node.name: node.name for node in pipeline.nodes}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    producer = {out: node.name for node in pipeline.nodes for out in node.outputs}
    for node in pipeline.nodes:
        for name in set(node.inputs) & handoffs:
            parent[root(node.name)] = root(producer[name])
    members: dict[str, list[Node]] = {}
    for node in pipeline.nodes:  # topological order, kept inside each group
        members.setdefault(root(node.name), []).append(node)
    groups = {key: NodeGroup(_group_name(nodes), nodes) for key, nodes in members.items()}
    for node, parents in pipeline.node_dependencies.items():
        for upstream in parents:
            if root(upstream.name) != root(node.name):
                groups[root(node.name)].depends_on.add(groups[root(upstream.name)].name)
    by_name = {group.name: group for group in groups.values()}
    try:
        # A group's first node can come before a node it waits for: order the groups.
        order = TopologicalSorter({g.name: g.depends_on for g in by_name.values()}).static_order()
        return [by_name[name] for name in order]
    except CycleError as error:
        raise HandoffError(
            f"DaskRunner: in-memory datasets {sorted(handoffs)} join nodes that wait for each "
            f"other through persisted datasets ({error.args[1]}); persist them in the catalog"
        ) from None


def _group_name(nodes: list[Node]) -> str:
    return nodes[0].name if len(nodes) == 1 else f"{nodes[0].name} (+{len(nodes) - 1} nodes)"


def unpicklable(names: set[str], catalog: Any) -> dict[str, str]:
    """``{dataset: why}`` for datasets that cannot be sent to another process."""
    problems = {}
    for name in sorted(names):
        try:
            cloudpickle.dumps(catalog.get(name))
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            problems[name] = f"{type(error).__name__}: {error}"
    return problems


def local_paths(names: set[str], catalog: Any) -> dict[str, str]:
    """``{dataset: path}`` for datasets stored in local files (``file`` protocol)."""
    paths = {}
    for name in sorted(names):
        dataset = catalog.get(name)
        filepath = getattr(dataset, "_filepath", None)
        if filepath is not None and getattr(dataset, "_protocol", "file") in ("file", "local"):
            paths[name] = str(filepath)
    return paths


def storage_roots(paths: dict[str, str]) -> dict[str, list[str]]:
    """``{root folder: datasets}``: the top folder of each relative path (``data``), the
    parent folder of each absolute one, where the runner puts a probe file for the workers."""
    roots: dict[str, list[str]] = {}
    for name, path in paths.items():
        posix = PurePosixPath(path)
        if posix.is_absolute():
            root = str(posix.parent)
        else:
            root = posix.parts[0] if len(posix.parts) > 1 else "."
        roots.setdefault(root, []).append(name)
    return roots


def probe_problems(probes: dict[str, tuple[str, str]], driver_cwd: str) -> list[str]:
    """Run on a worker: which probe files it cannot read at the driver's paths.

    Args:
        probes: ``{root folder: (absolute probe path as the driver sees it, token)}``.
        driver_cwd: the driver's working directory, the project folder (relative paths
            resolve from it).

    Returns:
        One line per problem (empty: this worker reaches every root).
    """
    problems = []
    cwd = os.getcwd()
    # Kedro makes the catalog's paths absolute, but relative paths in parameters (the
    # engine's training_run.work_dir) resolve against the working directory.
    if os.path.realpath(cwd) != os.path.realpath(driver_cwd):
        problems.append(
            f"its working directory is {cwd}, not the project folder {driver_cwd}, so "
            "relative paths (training_run.work_dir, relative catalog paths) resolve elsewhere"
        )
    for root, (probe, token) in sorted(probes.items()):
        try:
            with open(probe, encoding="utf-8") as handle:
                seen = handle.read()
        except OSError as error:
            problems.append(f"cannot read {probe} under '{root}': {error.strerror}")
            continue
        if seen != token:
            problems.append(f"{probe} under '{root}' is another file than the driver's")
    return problems
