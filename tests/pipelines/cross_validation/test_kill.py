"""``kill -9`` of a real ``kedro run --pipelines=cross_validation`` while a fold trains, then the
documented resume (the same command with ``--only-missing-outputs``): the same fold records,
``fold_results.csv`` and reports as an uninterrupted run (``device.deterministic``).

K and the architectures are ``settings.CROSS_VALIDATION``, fixed when Kedro builds the
pipeline (see the pipeline's README), and the test env keeps the defaults' 6 models × 5 folds.
A subprocess cannot be monkeypatched, so the child is Kedro's own CLI entry point
(``kedro.framework.cli.main``, what ``kedro`` and ``python -m kedro`` run) after one line
sets the settings to two small models and K = 2, as editing ``settings.py`` would
(test_pipeline.py narrows them the same way in-process).
"""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest

from tests.kedro_processes import run_kedro

pytestmark = pytest.mark.slow

DIMENSIONS = {"folds": 2, "architectures": ("chavez_m1", "chavez_m2")}
LAUNCHER = (
    "import sys; from cifar100_kedro import settings; "
    f"settings.CROSS_VALIDATION = {DIMENSIONS!r}; "
    "from kedro.framework.cli import main; sys.argv[0] = 'kedro'; main()"
)
# Three epochs per fold, so a fold killed after its first epoch has a state to resume from.
COMMAND = [
    sys.executable, "-c", LAUNCHER, "run", "--env=test", "--pipelines=cross_validation",
    "--params=training_run.max_epochs=3,device.deterministic=true",
]  # fmt: skip
RECORDS = "data/07_model_output/cross_validation"
REPORTS = "data/08_reporting/cross_validation"
STATES = "data/06_models/_cross_validation"


def _records(project) -> dict[str, dict]:
    """Every fold record, without its (wall-clock) training time."""
    records = {}
    for path in sorted((project / RECORDS).glob("*/fold_*.json")):
        record = json.loads(path.read_text())
        record.pop("training_seconds")
        records[f"{path.parent.name}/{path.name}"] = record
    return records


def test_a_fold_killed_mid_training_resumes_to_the_uninterrupted_records(
    processed_project, tmp_path
):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    shutil.copytree(processed_project, reference)
    shutil.copytree(processed_project, killed)
    run_kedro(reference, COMMAND)

    # Killed a moment after chavez_m1's fold 1 saved its first epoch: fold 0 is recorded.
    run_kedro(killed, COMMAND, kill_when=lambda line: "chavez_m1_fold_1: epoch 1/3" in line)
    finished = killed / RECORDS / "chavez_m1" / "fold_0.json"
    assert finished.exists() and not (killed / RECORDS / "chavez_m1" / "fold_1.json").exists()
    assert list((killed / STATES / "chavez_m1" / "fold_1" / "backup").glob("state-*"))
    recorded_at = finished.stat().st_mtime_ns

    output = run_kedro(killed, [*COMMAND, "--only-missing-outputs"])
    assert "chavez_m1_fold_0: training" not in output  # its record is kept
    assert recorded_at == finished.stat().st_mtime_ns
    resumed = [line for line in output.splitlines() if "chavez_m1_fold_1: training" in line]
    assert len(resumed) == 1 and "(resuming after epoch " in resumed[0], resumed
    assert "chavez_m2_fold_1: training" in output  # never started before the kill
    assert not (killed / STATES / "chavez_m1" / "fold_1").exists()  # removed once scored

    assert _records(killed) == _records(reference)
    assert len(_records(killed)) == 4
    results, expected = (
        pd.read_csv(project / RECORDS / "fold_results.csv").drop(columns="training_seconds")
        for project in (killed, reference)
    )
    pd.testing.assert_frame_equal(results, expected, check_exact=True)
    for name in (
        "table_1_mean_scores.csv", "table_2_confidence_bounds.csv",
        "corrected_resampled_ttest.csv", "verdict.json",
    ):  # fmt: skip
        assert (killed / REPORTS / name).read_bytes() == (reference / REPORTS / name).read_bytes()
