"""Fixtures for the kedro-viz and notebook tests: one small run of the project, shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.viz.support import copy_project, kedro, viz_namespace


@pytest.fixture(scope="session")
def run_project(tmp_path_factory) -> Path:
    """A project copy after the data pipeline and one architecture's training and reports."""
    project = copy_project(tmp_path_factory.mktemp("viz") / "project")
    kedro(project, "run", "--env=test", "--pipelines=data_processing")
    kedro(project, "run", "--env=test", f"--namespaces={viz_namespace()}")
    return project


@pytest.fixture(scope="session")
def registered_pipelines(run_project: Path) -> dict:
    """``register_pipelines()`` of the project, as Kedro loads it for ``run_project``."""
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(run_project)
    from cifar100_kedro.pipeline_registry import register_pipelines

    return register_pipelines()
