"""``kill -9`` of a real ``kedro run --pipelines=reporting`` while it saves its reports, then the
same command again: the same metrics, predictions, tables and figures (byte for byte) as an
uninterrupted run on the same trained model."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_session
from tests.kedro_processes import KEDRO, run_kedro

pytestmark = pytest.mark.slow

NAMESPACE = "chavez_m1"
COMMAND = [*KEDRO, "run", "--env=test", "--pipelines=reporting", f"--namespaces={NAMESPACE}"]
OUTPUTS = (f"data/08_reporting/{NAMESPACE}", f"data/07_model_output/{NAMESPACE}")


def _files(project) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for folder in OUTPUTS
        for path in sorted((project / folder).rglob("*"))
        if path.is_file()
    }


def _saving(dataset: str | None = None):
    """``kill_when``: Kedro's "Saving data to" line of ``dataset`` (None: of any report)."""
    prefix = f"Saving data to {NAMESPACE}.{dataset or ''}"
    return lambda line: prefix in line and (dataset is None or f"{prefix} " in line)


def test_reports_killed_while_saving_are_the_uninterrupted_ones_after_a_rerun(
    processed_project, tmp_path
):
    trained = tmp_path / "trained"
    shutil.copytree(processed_project, trained)
    run_session(trained, ["training"], namespaces=[NAMESPACE])  # one model for both copies
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    shutil.copytree(trained, reference)
    shutil.copytree(trained, killed)
    run_kedro(reference, COMMAND)
    expected = _files(reference)
    assert f"data/08_reporting/{NAMESPACE}/metrics.json" in expected

    # At the first report Kedro saves, then again while it saves the metrics.
    for kill_when in (_saving(), _saving("metrics")):
        run_kedro(killed, COMMAND, kill_when=kill_when)
        assert set(_files(killed)) < set(expected)  # killed before it had written everything
    run_kedro(killed, COMMAND)

    files = _files(killed)
    assert set(files) == set(expected)
    metrics = f"data/08_reporting/{NAMESPACE}/metrics.json"
    assert json.loads(files[metrics]) == json.loads(expected[metrics])
    assert [name for name in files if files[name] != expected[name]] == []
