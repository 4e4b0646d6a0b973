"""``kill -9`` of a real ``kedro run --pipelines=hyperparameter_search`` while a candidate's fold
trains, then the same command again (the search's documented resume): the candidate keeps its
finished fold, the running fold resumes from its saved epoch, and the fold records, the trials
table and the top candidates equal an uninterrupted run's (``device.deterministic``).

Only the first stage runs (``--to-nodes``), with one candidate of two epochs per fold: the
test env's MobileNet takes about 3 s per epoch here.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.kedro_processes import KEDRO, run_kedro

pytestmark = pytest.mark.slow

# One candidate; two epochs per fold, so the killed fold has a saved epoch to resume from.
PARAMS = (
    "hyperparameter_search.random_search.max_trials=1,training_run.max_epochs=2,"
    "device.deterministic=true"
)
COMMAND = [
    *KEDRO, "run", "--env=test", "--pipelines=hyperparameter_search",
    "--to-nodes=hyperparameter_search.random_search",
    f"--params={PARAMS}",
]  # fmt: skip
SEARCH = "data/06_models/hyperparameter_search"
TRIALS = "data/08_reporting/hyperparameter_search/random_search_trials.csv"
TOP = "data/07_model_output/hyperparameter_search/random_search_top.json"


def _fold_records(project) -> dict[str, dict]:
    """Every fold record of every trial, without its (wall-clock) training time."""
    records = {}
    for path in sorted((project / SEARCH).glob("random_search_*/trial_*/fold_*.json")):
        record = json.loads(path.read_text())
        record.pop("training_seconds")
        records[f"{path.parent.parent.name}/{path.parent.name}/{path.name}"] = record
    return records


def test_a_candidate_killed_mid_fold_resumes_to_the_uninterrupted_records(
    processed_project, tmp_path
):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    shutil.copytree(processed_project, reference)
    shutil.copytree(processed_project, killed)
    run_kedro(reference, COMMAND)

    # Killed a moment after the candidate's fold 1 saved its first epoch (fold 0 recorded).
    run_kedro(
        killed, COMMAND, kill_when=lambda line: "random_search_trial_0_fold_1: epoch 1/2" in line
    )
    assert [name.split("/", 1)[1] for name in _fold_records(killed)] == ["trial_0/fold_0.json"]
    assert not (killed / TRIALS).exists()

    output = run_kedro(killed, COMMAND)
    assert "random_search_trial_0_fold_0: done before" in output
    assert "random_search_trial_0_fold_0: training" not in output
    resumed = [line for line in output.splitlines() if "trial_0_fold_1: training" in line]
    assert len(resumed) == 1 and "(resuming after epoch " in resumed[0], resumed

    assert _fold_records(killed) == _fold_records(reference)
    assert len(_fold_records(killed)) == 2
    trials, expected = (
        pd.read_csv(project / TRIALS).drop(columns="seconds") for project in (killed, reference)
    )
    pd.testing.assert_frame_equal(trials, expected, check_exact=True)
    assert json.loads((killed / TOP).read_text()) == json.loads((reference / TOP).read_text())
