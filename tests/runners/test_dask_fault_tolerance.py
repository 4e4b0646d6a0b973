"""A Dask worker process killed (SIGKILL) in the middle of a training node: the task runs
again on a worker, the engine resumes from the last finished epoch, the run completes, and
its outputs equal an uninterrupted sequential run's (``device.deterministic``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import keras
import numpy as np
import pandas as pd
import pytest

from tests.conftest import copy_project, run_session

pytestmark = pytest.mark.slow

NAMESPACE = "chavez_m5"  # flips in the model, early stopping with best weights, Adam
EPOCHS = 5
PARAMS = {"training_run": {"max_epochs": EPOCHS}, "device": {"deterministic": True}}
TIMINGS = ["seconds", "cpu_seconds"]
COMMAND = [
    sys.executable, "-m", "kedro", "run", "--env=test", "--pipelines=training",
    f"--namespaces={NAMESPACE}",
    f"--params=training_run.max_epochs={EPOCHS},device.deterministic=true",
    "--runner=cifar100_kedro.runners.DaskRunner",
    "--runner-params=n_workers=2,retries=2,dashboard_address=:0,progress_interval=2",
]  # fmt: skip


def _dask_run_killing_the_trainer(project) -> str:
    """Run COMMAND; SIGKILL the worker process of the training node once epoch 1 is logged
    (its state is saved before the line); return the whole output of the run."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "COLUMNS": "400"}  # fmt: skip
    process = subprocess.Popen(
        COMMAND, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    watchdog = threading.Timer(240, lambda: os.killpg(process.pid, signal.SIGKILL))
    watchdog.start()
    lines, trainer, killed = [], None, None
    try:
        for line in process.stdout:
            lines.append(line)
            started = re.search(rf"{NAMESPACE}\.train: on Dask worker \S+ \(pid (\d+)\)", line)
            if started:
                trainer = int(started.group(1))
            if killed is None and trainer and f"{NAMESPACE}: epoch 1/{EPOCHS}" in line:
                os.kill(trainer, signal.SIGKILL)
                killed = trainer
        process.wait(timeout=60)
    finally:
        watchdog.cancel()
    output = "".join(lines)
    assert killed is not None, output[-3000:]
    assert process.returncode == 0, output[-3000:]
    return output


def test_a_killed_worker_is_replaced_and_the_training_resumes_to_the_same_model(tmp_path):
    reference = copy_project(tmp_path / "sequential")
    run_session(reference, ["data_processing"])
    run_session(reference, ["training"], runtime_params=PARAMS, namespaces=[NAMESPACE])

    project = copy_project(tmp_path / "dask")
    run_session(project, ["data_processing"])
    output = _dask_run_killing_the_trainer(project)

    # The task ran again, in a new process, and continued after a finished epoch.
    pids = set(re.findall(rf"{NAMESPACE}\.train: on Dask worker \S+ \(pid (\d+)\)", output))
    assert len(pids) == 2, output[-3000:]
    restored = re.findall(r"restored the training state after epoch (\d+)", output)
    restored = [int(epoch) for epoch in restored]
    assert restored and 1 <= restored[0] < EPOCHS, output[-3000:]

    # Every epoch once, with the values of the uninterrupted run; the same final weights up to
    # float32 rounding (the reference trains in this process with TensorFlow's default thread
    # pool, the Dask workers with one thread each: one run measured differed by 1.5e-7).
    history = pd.read_csv(project / f"data/07_model_output/{NAMESPACE}/history.csv")
    expected = pd.read_csv(reference / f"data/07_model_output/{NAMESPACE}/history.csv")
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    pd.testing.assert_frame_equal(history.drop(columns=TIMINGS), expected.drop(columns=TIMINGS))
    models = [
        keras.models.load_model(p / f"data/06_models/{NAMESPACE}/model.keras", compile=False)
        for p in (project, reference)
    ]
    assert all(
        np.allclose(a, b, rtol=0, atol=1e-5)
        for a, b in zip(models[0].get_weights(), models[1].get_weights(), strict=True)
    )
    # Nothing half-written left behind: no temporary files, the finished state removed.
    leftovers = [p for p in (project / "data").rglob("*") if ".tmp" in p.name or "tmp" in p.suffix]
    assert leftovers == []
    assert not (project / f"data/06_models/_training_state/{NAMESPACE}/backup").exists()
