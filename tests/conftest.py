"""Shared test fixtures: offline, telemetry off, temporary copies of the Kedro project."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def copy_project(target: Path) -> Path:
    """A runnable copy of the project's conf and metadata in ``target`` (data/ starts empty)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PROJECT_ROOT / "conf", target / "conf", dirs_exist_ok=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")
    (target / "data").mkdir(exist_ok=True)
    # bootstrap_project wants a source folder; the package itself is the installed one.
    (target / "src").mkdir(exist_ok=True)
    return target


def run_session(project: Path, pipeline_names: list[str], env: str = "test", **kwargs):
    """Run pipelines through a KedroSession on ``project`` and return the run's outputs."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    cwd = os.getcwd()
    os.chdir(project)  # relative data/ paths in the catalog resolve against the project
    try:
        with KedroSession.create(
            project_path=project, env=env, runtime_params=kwargs.pop("runtime_params", None)
        ) as session:
            return session.run(pipeline_names=pipeline_names, **kwargs)
    finally:
        os.chdir(cwd)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A fresh copy of the project (conf + pyproject) in a temporary folder."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def processed_project(tmp_path_factory) -> Path:
    """A project copy on which the test env's data_processing has run once (shared, read-only)."""
    project = copy_project(tmp_path_factory.mktemp("processed") / "project")
    run_session(project, ["data_processing"])
    return project
