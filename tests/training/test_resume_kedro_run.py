"""``kill -9`` of a real ``kedro run`` during training and during the model write, then the
same command again: the same history and the same weights as an uninterrupted run.

The issue that asked for this measured the old resume (Keras' BackupAndRestore) training
another model: epoch 3 started with epoch 1's data order and augmentation draws.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from tests.conftest import copy_project, run_session

pytestmark = pytest.mark.slow

NAMESPACE = "chavez_m5"  # flips in the model, early stopping with best weights, Adam
COMMAND = [
    sys.executable, "-m", "kedro", "run", "--env=test", "--pipelines=training",
    f"--namespaces={NAMESPACE}",
    "--params=training_run.max_epochs=4,device.deterministic=true",
]  # fmt: skip


def _project(tmp_path, name):
    project = copy_project(tmp_path / name)
    run_session(project, ["data_processing"])
    return project


def _run(project, kill_when=None, timeout=300):
    """Run the command; with ``kill_when(line)``, SIGKILL its process group at that line."""
    # A wide console: rich would wrap the log lines the test looks for.
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "COLUMNS": "400",
    }
    process = subprocess.Popen(
        COMMAND, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines, deadline = [], time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if kill_when is not None and kill_when(line):
            os.killpg(process.pid, signal.SIGKILL)
            break
        assert time.monotonic() < deadline, "".join(lines[-40:])
    process.wait(timeout=60)
    output = "".join(lines)
    if kill_when is None:
        assert process.returncode == 0, output[-4000:]
    else:
        assert process.returncode == -signal.SIGKILL, output[-4000:]
    return output


def _outputs(project):
    import keras

    import cifar100_kedro.training.layers  # noqa: F401  (the model's custom layers)

    history = pd.read_csv(project / f"data/07_model_output/{NAMESPACE}/history.csv")
    model = keras.models.load_model(project / f"data/06_models/{NAMESPACE}/model.keras")
    return history.drop(columns=["seconds", "cpu_seconds"]), model.get_weights()


def test_kill_during_training_then_rerun_trains_the_uninterrupted_model(tmp_path):
    reference, killed = _project(tmp_path, "reference"), _project(tmp_path, "killed")
    _run(reference)
    # Killed a moment into epoch 3 (epoch 2's state is saved), then again while the next run
    # writes its model file (the training is finished: nothing is trained again).
    _run(killed, kill_when=lambda line: "epoch 2/4" in line)
    output = _run(killed, kill_when=lambda line: "Saving data to" in line and ".model" in line)
    assert "resuming after epoch 2" in output
    output = _run(killed)
    assert "epoch 1/4" not in output and "epoch 3/4" not in output  # the finished state served
    expected_history, expected_weights = _outputs(reference)
    history, weights = _outputs(killed)
    pd.testing.assert_frame_equal(history, expected_history, rtol=1e-6)
    assert len(weights) == len(expected_weights)
    for ours, theirs in zip(weights, expected_weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # The finished state is gone once the outputs are saved.
    assert not (killed / f"data/06_models/_training_state/{NAMESPACE}/backup").exists()
